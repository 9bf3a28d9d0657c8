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

    /// Whether `uid` can be represented in this namespace (`kuid_has_mapping()`).
    pub(crate) fn has_kuid(&self, uid: Kuid) -> bool {
        // SAFETY: `self` is a live user namespace by the type invariant; the helper only reads
        // its id map.
        unsafe { local::rust_fuse_kuid_has_mapping(self.as_raw(), uid.0) }
    }

    /// Whether `gid` can be represented in this namespace (`kgid_has_mapping()`).
    pub(crate) fn has_kgid(&self, gid: Kgid) -> bool {
        // SAFETY: As in `has_kuid`.
        unsafe { local::rust_fuse_kgid_has_mapping(self.as_raw(), gid.0) }
    }
}

impl PartialEq for UserNamespace {
    fn eq(&self, other: &Self) -> bool {
        core::ptr::eq(self, other)
    }
}

/// A kernel user id (`kuid_t`): a uid mapped into the initial user namespace.
#[derive(Clone, Copy)]
pub(crate) struct Kuid(pub(super) bindings::kuid_t);

/// A kernel group id (`kgid_t`): a gid mapped into the initial user namespace.
#[derive(Clone, Copy)]
pub(crate) struct Kgid(pub(super) bindings::kgid_t);
