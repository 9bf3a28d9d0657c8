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

    pub(crate) fn as_raw(&self) -> *mut bindings::user_namespace {
        self.0.get()
    }

    /// `uid` as seen in this namespace, or the overflow uid (`from_kuid_munged()`).
    pub(crate) fn uid_munged(&self, uid: Kuid) -> u32 {
        // SAFETY: `self` is live; the function only reads the id map.
        unsafe { bindings::from_kuid_munged(self.as_raw(), uid.0) }
    }

    /// `gid` as seen in this namespace, or the overflow gid (`from_kgid_munged()`).
    pub(crate) fn gid_munged(&self, gid: Kgid) -> u32 {
        // SAFETY: As in `uid_munged`.
        unsafe { bindings::from_kgid_munged(self.as_raw(), gid.0) }
    }

    /// `uid` as seen in this namespace, or `u32::MAX` (-1) if unmapped (`from_kuid()`).
    pub(crate) fn uid(&self, uid: Kuid) -> u32 {
        // SAFETY: `self` is live; the function only reads the id map.
        unsafe { bindings::from_kuid(self.as_raw(), uid.0) }
    }

    /// `gid` as seen in this namespace, or `u32::MAX` (-1) if unmapped (`from_kgid()`).
    pub(crate) fn gid(&self, gid: Kgid) -> u32 {
        // SAFETY: As in `uid`.
        unsafe { bindings::from_kgid(self.as_raw(), gid.0) }
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

impl Kuid {
    /// The raw `kuid_t`.
    pub(crate) fn raw(self) -> bindings::kuid_t {
        self.0
    }
}

impl PartialEq for Kgid {
    fn eq(&self, other: &Self) -> bool {
        self.0.val == other.0.val
    }
}

impl Kgid {
    /// The raw `kgid_t`.
    pub(crate) fn raw(self) -> bindings::kgid_t {
        self.0
    }
}

/// A counted reference on a user namespace (`get_user_ns()`/`put_user_ns()`).
///
/// # Invariants
///
/// `0` holds one reference on a live user namespace.
pub(crate) struct UserNamespaceRef(core::ptr::NonNull<bindings::user_namespace>);

// SAFETY: A reference may be used and dropped on any thread.
unsafe impl Send for UserNamespaceRef {}
// SAFETY: Only shared, read-only access is given out.
unsafe impl Sync for UserNamespaceRef {}

impl UserNamespaceRef {
    /// Takes a reference on `ns`.
    pub(crate) fn new(ns: &UserNamespace) -> Self {
        // SAFETY: `ns` is live; `get_user_ns()` takes a reference and returns `ns`.
        unsafe { local::rust_fuse_get_user_ns(ns.as_raw()) };
        // INVARIANT: We took one reference on `ns` above.
        Self(core::ptr::NonNull::from(ns).cast())
    }
}

impl core::ops::Deref for UserNamespaceRef {
    type Target = UserNamespace;

    fn deref(&self) -> &UserNamespace {
        // SAFETY: We hold a reference (type invariant), so the namespace lives as long as `self`.
        unsafe { UserNamespace::from_raw(self.0.as_ptr()) }
    }
}

impl Drop for UserNamespaceRef {
    fn drop(&mut self) {
        // SAFETY: We own one reference (type invariant).
        unsafe { local::rust_fuse_put_user_ns(self.0.as_ptr()) };
    }
}
