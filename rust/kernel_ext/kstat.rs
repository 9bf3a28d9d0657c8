// SPDX-License-Identifier: GPL-2.0

//! The results of `stat(2)` (`struct kstat`) and `statfs(2)` (`struct kstatfs`).

use super::{fs_type::FileSystem, inode::Inode};
use crate::bindings as local;
use kernel::{bindings, types::Opaque};

/// The result buffer of a `getattr` call.
///
/// # Invariants
///
/// Instances are only handed out as unique references to a live `kstat` during the call.
#[repr(transparent)]
pub(crate) struct Kstat(Opaque<bindings::kstat>);

/// File attributes to report through [`Kstat::set`].
pub(crate) struct StatAttrs {
    /// Device of the super block.
    pub(crate) dev: u32,
    /// Inode number.
    pub(crate) ino: u64,
    /// Mode (type and permissions).
    pub(crate) mode: u16,
    /// Link count.
    pub(crate) nlink: u32,
    /// Owner (a kernel uid).
    pub(crate) uid: bindings::kuid_t,
    /// Group (a kernel gid).
    pub(crate) gid: bindings::kgid_t,
    /// Device number of a special file.
    pub(crate) rdev: u32,
    /// Size in bytes.
    pub(crate) size: i64,
    /// 512-byte blocks.
    pub(crate) blocks: u64,
    /// Preferred I/O size.
    pub(crate) blksize: u32,
    /// Access, modification and change times (seconds, nanoseconds).
    pub(crate) times: [(i64, u32); 3],
}

impl Kstat {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must be a live `kstat` used only by the caller during `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::kstat) -> &'a mut Self {
        // SAFETY: Transparent wrapper; the caller guarantees validity and uniqueness.
        unsafe { &mut *ptr.cast::<Self>() }
    }

    /// Reports only the device (a `statx()` that asked for nothing).
    pub(crate) fn set_dev_only(&mut self, dev: u32) {
        // SAFETY: The buffer is ours for the call (type invariant).
        let st = unsafe { &mut *self.0.get() };
        st.result_mask = 0;
        st.dev = dev;
    }

    /// Fills the fields from the inode's cached attributes (`generic_fillattr()`).
    pub(crate) fn fill_generic<T: FileSystem>(&mut self, inode: &Inode<T>, request_mask: u32) {
        // SAFETY: The buffer is ours; the inode is live; `nop_mnt_idmap` is the identity.
        unsafe {
            bindings::generic_fillattr(
                core::ptr::addr_of_mut!(bindings::nop_mnt_idmap),
                request_mask,
                inode.as_raw(),
                self.0.get(),
            )
        };
    }

    /// Reports the birth time (`STATX_BTIME`).
    pub(crate) fn set_btime(&mut self, sec: i64, nsec: u32) {
        // SAFETY: The buffer is ours for the call (type invariant).
        let st = unsafe { &mut *self.0.get() };
        st.btime = bindings::timespec64 {
            tv_sec: sec,
            tv_nsec: nsec as _,
        };
        st.result_mask |= bindings::STATX_BTIME;
    }

    /// Sets which fields are reported (`STATX_*`).
    pub(crate) fn set_result_mask(&mut self, mask: u32) {
        // SAFETY: The buffer is ours for the call (type invariant).
        unsafe { (*self.0.get()).result_mask = mask };
    }

    /// Overrides the mode and inode number.
    pub(crate) fn set_mode_ino(&mut self, mode: u16, ino: u64) {
        // SAFETY: The buffer is ours for the call (type invariant).
        let st = unsafe { &mut *self.0.get() };
        st.mode = mode;
        st.ino = ino;
    }

    /// Fills the basic fields (`STATX_BASIC_STATS`).
    pub(crate) fn set(&mut self, a: &StatAttrs) {
        // SAFETY: The buffer is ours for the call (type invariant).
        let st = unsafe { &mut *self.0.get() };
        st.dev = a.dev;
        st.ino = a.ino;
        st.mode = a.mode;
        st.nlink = a.nlink;
        st.uid = a.uid;
        st.gid = a.gid;
        st.rdev = a.rdev;
        st.size = a.size;
        st.blocks = a.blocks;
        st.blksize = a.blksize;
        let ts = |(s, n): (i64, u32)| bindings::timespec64 {
            tv_sec: s,
            tv_nsec: n as _,
        };
        st.atime = ts(a.times[0]);
        st.mtime = ts(a.times[1]);
        st.ctime = ts(a.times[2]);
        st.result_mask |= bindings::STATX_BASIC_STATS;
    }
}

/// The result buffer of a `statfs` call.
///
/// # Invariants
///
/// Instances are only handed out as unique references to a live `kstatfs` during the call.
#[repr(transparent)]
pub(crate) struct Kstatfs(Opaque<local::kstatfs>);

/// File system statistics to report through [`Kstatfs::set`].
#[derive(Default)]
pub(crate) struct StatfsAttrs {
    /// `f_type` (the magic number).
    pub(crate) fs_type: u32,
    /// Total blocks.
    pub(crate) blocks: u64,
    /// Free blocks.
    pub(crate) bfree: u64,
    /// Blocks available to unprivileged users.
    pub(crate) bavail: u64,
    /// Total inodes.
    pub(crate) files: u64,
    /// Free inodes.
    pub(crate) ffree: u64,
    /// Block size.
    pub(crate) bsize: u32,
    /// Maximum name length.
    pub(crate) namelen: u32,
    /// Fragment size.
    pub(crate) frsize: u32,
}

impl Kstatfs {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must be a live `kstatfs` used only by the caller during `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut local::kstatfs) -> &'a mut Self {
        // SAFETY: Transparent wrapper; the caller guarantees validity and uniqueness.
        unsafe { &mut *ptr.cast::<Self>() }
    }

    /// Fills the statistics.
    pub(crate) fn set(&mut self, a: &StatfsAttrs) {
        // SAFETY: The buffer is ours for the call (type invariant).
        let st = unsafe { &mut *self.0.get() };
        st.f_type = a.fs_type as _;
        st.f_blocks = a.blocks;
        st.f_bfree = a.bfree;
        st.f_bavail = a.bavail;
        st.f_files = a.files;
        st.f_ffree = a.ffree;
        st.f_bsize = a.bsize as _;
        st.f_namelen = a.namelen as _;
        st.f_frsize = a.frsize as _;
    }
}
