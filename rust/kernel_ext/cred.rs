// SPDX-License-Identifier: GPL-2.0

//! User namespaces and the kernel's user and group ids (`kuid_t`, `kgid_t`).

use crate::bindings as local;
use kernel::{bindings, types::Opaque};

/// A user namespace (`struct user_namespace`).
///
/// # Invariants
///
/// Instances are only handed out as references to live user namespaces that outlive them.
#[repr(transparent)]
pub(crate) struct UserNamespace(Opaque<bindings::user_namespace>);

// SAFETY: A user namespace is reference counted and immutable once set up; every method here
// only reads it or calls functions that may be called from any thread.
unsafe impl Sync for UserNamespace {}
// SAFETY: See the `Sync` impl.
unsafe impl Send for UserNamespace {}

impl UserNamespace {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live user namespace that outlives `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *const bindings::user_namespace) -> &'a Self {
        // SAFETY: `Self` is a transparent wrapper; the caller guarantees validity for `'a`.
        unsafe { &*ptr.cast::<Self>() }
    }

    fn as_raw(&self) -> *mut bindings::user_namespace {
        self.0.get()
    }

    /// Maps `uid` as seen in this namespace to a kernel uid that this namespace can represent.
    ///
    /// Returns `None` when `uid` has no mapping, as `make_kuid()` + `kuid_has_mapping()`.
    pub(crate) fn kuid(&self, uid: u32) -> Option<Kuid> {
        // SAFETY: `self` is a live user namespace by the type invariant.
        let kuid = unsafe { local::rust_fuse_make_kuid(self.as_raw(), uid) };
        // SAFETY: As above; the helpers only read the namespace's id map.
        let ok = unsafe {
            local::rust_fuse_uid_valid(kuid)
                && local::rust_fuse_kuid_has_mapping(self.as_raw(), kuid)
        };
        ok.then_some(Kuid(kuid))
    }

    /// Maps `gid` as seen in this namespace to a kernel gid, as [`Self::kuid`] does for uids.
    pub(crate) fn kgid(&self, gid: u32) -> Option<Kgid> {
        // SAFETY: `self` is a live user namespace by the type invariant.
        let kgid = unsafe { local::rust_fuse_make_kgid(self.as_raw(), gid) };
        // SAFETY: As above; the helpers only read the namespace's id map.
        let ok = unsafe {
            local::rust_fuse_gid_valid(kgid)
                && local::rust_fuse_kgid_has_mapping(self.as_raw(), kgid)
        };
        ok.then_some(Kgid(kgid))
    }
}

impl PartialEq for UserNamespace {
    fn eq(&self, other: &Self) -> bool {
        core::ptr::eq(self, other)
    }
}

/// A kernel user id (`kuid_t`): a uid mapped into the initial user namespace.
#[derive(Clone, Copy)]
pub(crate) struct Kuid(#[allow(dead_code)] bindings::kuid_t);

/// A kernel group id (`kgid_t`): a gid mapped into the initial user namespace.
#[derive(Clone, Copy)]
pub(crate) struct Kgid(#[allow(dead_code)] bindings::kgid_t);
