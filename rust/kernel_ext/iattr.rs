// SPDX-License-Identifier: GPL-2.0

//! Attribute changes (`struct iattr`) of a `setattr` call.

use super::{
    cred::{Kgid, Kuid},
    dentry::Dentry,
    file::File,
    fs_type::FileSystem,
};
use core::ptr;
use kernel::{bindings, prelude::*, types::Opaque};

/// The attribute change of one `setattr` call: which attributes (`ATTR_*` bits) and their new
/// values.
///
/// # Invariants
///
/// Instances are only handed out as unique references to the live `iattr` of a `setattr`
/// call, for the call.
#[repr(transparent)]
pub(crate) struct Iattr(Opaque<bindings::iattr>);

impl Iattr {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must be the live `iattr` of a `setattr` call, used by nothing else during `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::iattr) -> &'a mut Iattr {
        // SAFETY: Transparent wrapper; the caller guarantees validity and uniqueness.
        unsafe { &mut *ptr.cast::<Iattr>() }
    }

    fn raw(&self) -> &bindings::iattr {
        // SAFETY: The iattr is live and ours for the call (type invariant).
        unsafe { &*self.0.get() }
    }

    fn raw_mut(&mut self) -> &mut bindings::iattr {
        // SAFETY: The iattr is live and ours for the call (type invariant).
        unsafe { &mut *self.0.get() }
    }

    /// The `ATTR_*` bits of the attributes to change.
    pub(crate) fn valid(&self) -> u32 {
        self.raw().ia_valid
    }

    /// Replaces the `ATTR_*` bits.
    pub(crate) fn set_valid(&mut self, valid: u32) {
        self.raw_mut().ia_valid = valid;
    }

    /// The new mode (`ATTR_MODE`).
    pub(crate) fn mode(&self) -> u16 {
        self.raw().ia_mode
    }

    /// Sets the new mode.
    pub(crate) fn set_mode(&mut self, mode: u16) {
        self.raw_mut().ia_mode = mode;
    }

    /// The new owner as a kernel uid (`ATTR_UID`; no idmapped mounts, so `ia_vfsuid` is the
    /// kernel uid).
    pub(crate) fn kuid(&self) -> Kuid {
        // SAFETY: Both union members are the same 32-bit value for non-idmapped mounts.
        Kuid(unsafe { self.raw().__bindgen_anon_1.ia_uid })
    }

    /// The new group as a kernel gid (`ATTR_GID`).
    pub(crate) fn kgid(&self) -> Kgid {
        // SAFETY: As for `kuid`.
        Kgid(unsafe { self.raw().__bindgen_anon_2.ia_gid })
    }

    /// The new size (`ATTR_SIZE`).
    pub(crate) fn size(&self) -> i64 {
        self.raw().ia_size
    }

    /// The new access time (`ATTR_ATIME`), seconds and nanoseconds.
    pub(crate) fn atime(&self) -> (i64, u32) {
        let t = &self.raw().ia_atime;
        (t.tv_sec, t.tv_nsec as u32)
    }

    /// The new modification time (`ATTR_MTIME`).
    pub(crate) fn mtime(&self) -> (i64, u32) {
        let t = &self.raw().ia_mtime;
        (t.tv_sec, t.tv_nsec as u32)
    }

    /// The new change time (`ATTR_CTIME`).
    pub(crate) fn ctime(&self) -> (i64, u32) {
        let t = &self.raw().ia_ctime;
        (t.tv_sec, t.tv_nsec as u32)
    }

    /// The open file of an `ftruncate()` (`ATTR_FILE`).
    pub(crate) fn file(&self) -> Option<&File> {
        if self.valid() & bindings::ATTR_FILE == 0 {
            return None;
        }
        let f = self.raw().ia_file;
        // SAFETY: With `ATTR_FILE`, `ia_file` is the caller's open file, live for the call.
        (!f.is_null()).then(|| unsafe { File::from_raw(f) })
    }

    /// Checks the change against the inode's owner, mode and limits, and clears the
    /// set-group-id bit where the VFS rules say so (`setattr_prepare()`).
    pub(crate) fn prepare<T: FileSystem>(&mut self, dentry: &Dentry<T>) -> Result {
        // SAFETY: The dentry is live and the iattr ours; `nop_mnt_idmap` is the identity.
        kernel::error::to_result(unsafe {
            bindings::setattr_prepare(
                ptr::addr_of_mut!(bindings::nop_mnt_idmap),
                dentry.as_raw(),
                self.0.get(),
            )
        })
    }
}
