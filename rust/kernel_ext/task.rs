// SPDX-License-Identifier: GPL-2.0

//! The current task's identity as a file system sees it, and the jiffies clock.

use super::cred::{Kgid, Kuid, UserNamespace};
use crate::bindings as local;
use core::ptr::NonNull;
use kernel::bindings;

/// What to make of an id that has no mapping in the namespace asked about.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unmapped {
    /// `None` (`from_kuid()`).
    Fail,
    /// The overflow id, 65534 by default (`from_kuid_munged()`).
    Overflow,
}

/// The id as `from_kuid()`/`from_kgid()` return it: `None` for their `(uid_t)-1`.
fn mapped(id: u32) -> Option<u32> {
    (id != u32::MAX).then_some(id)
}

/// The current task's fs uid as seen in `ns`; `None` if unmapped and `unmapped` is `Fail`.
pub(crate) fn current_fsuid(ns: &UserNamespace, unmapped: Unmapped) -> Option<u32> {
    // SAFETY: `ns` is live; the helper only reads the current task's credentials.
    mapped(unsafe { local::rust_fuse_current_fsuid(ns.as_raw(), unmapped == Unmapped::Overflow) })
}

/// The current task's fs gid as seen in `ns`; `None` if unmapped and `unmapped` is `Fail`.
pub(crate) fn current_fsgid(ns: &UserNamespace, unmapped: Unmapped) -> Option<u32> {
    // SAFETY: As in `current_fsuid`.
    mapped(unsafe { local::rust_fuse_current_fsgid(ns.as_raw(), unmapped == Unmapped::Overflow) })
}

/// A scope in which the current task's allocations do not reclaim through file systems
/// (`memalloc_nofs_save()`): as if every allocation had `GFP_NOFS`, for code that holds
/// what a file system's reclaim could wait for. Ends when dropped.
///
/// # Invariants
///
/// `0` is what `memalloc_nofs_save()` returned on the current task, not restored yet;
/// scopes end in the reverse order of their start, since the guard cannot leave the task.
pub(crate) struct NoFsScope(u32, core::marker::PhantomData<*mut ()>);

impl NoFsScope {
    /// Starts a scope.
    pub(crate) fn new() -> Self {
        // SAFETY: Only sets a flag of the current task.
        Self(
            unsafe { local::rust_fuse_memalloc_nofs_save() },
            core::marker::PhantomData,
        )
    }
}

impl Drop for NoFsScope {
    fn drop(&mut self) {
        // SAFETY: The saved flags of this scope (type invariant).
        unsafe { local::rust_fuse_memalloc_nofs_restore(self.0) };
    }
}

/// Maps `uid` of namespace `ns` to a kernel uid (`make_kuid()`), invalid if unmapped.
pub(crate) fn make_kuid(ns: &UserNamespace, uid: u32) -> Kuid {
    // SAFETY: `ns` is live; `make_kuid()` only reads its id map.
    Kuid(unsafe { local::rust_fuse_make_kuid(ns.as_raw(), uid) })
}

/// Maps `gid` of namespace `ns` to a kernel gid (`make_kgid()`), invalid if unmapped.
pub(crate) fn make_kgid(ns: &UserNamespace, gid: u32) -> Kgid {
    // SAFETY: As in `make_kuid`.
    Kgid(unsafe { local::rust_fuse_make_kgid(ns.as_raw(), gid) })
}

/// A reference on a pid namespace (`struct pid_namespace`), taken from the current task.
///
/// # Invariants
///
/// `0` holds one reference on a live pid namespace.
pub(crate) struct PidNamespace(NonNull<bindings::pid_namespace>);

// SAFETY: A pid namespace reference may be used and dropped on any thread.
unsafe impl Send for PidNamespace {}
// SAFETY: The methods only read the namespace.
unsafe impl Sync for PidNamespace {}

impl PidNamespace {
    /// The current task's active pid namespace (`task_active_pid_ns(current)`); `None` only
    /// for an exiting task.
    pub(crate) fn current() -> Option<Self> {
        // SAFETY: The helper takes a reference on the current task's active pid namespace, or
        // returns NULL if it has none.
        let ns = unsafe { local::rust_fuse_get_current_pid_ns() };
        // INVARIANT: A non-NULL result carries one reference.
        NonNull::new(ns).map(Self)
    }

    /// The current task's pid as seen in this namespace, or 0 if it is not visible there.
    pub(crate) fn current_pid(&self) -> u32 {
        // SAFETY: `self.0` is live by the type invariant.
        let pid = unsafe { local::rust_fuse_current_pid(self.0.as_ptr()) };
        pid as u32
    }
}

impl PidNamespace {
    /// The current task's thread group id as seen in this namespace (0 if not visible).
    pub(crate) fn current_tgid(&self) -> i32 {
        // SAFETY: `self.0` is live by the type invariant.
        unsafe { local::rust_fuse_current_tgid(self.0.as_ptr()) }
    }

    /// The pid `nr` of this namespace as seen in the initial one (0 if there is no such
    /// process).
    pub(crate) fn to_init_ns(&self, nr: i32) -> i32 {
        // SAFETY: `self.0` is live by the type invariant; the helper looks up under RCU.
        unsafe { local::rust_fuse_pid_to_init_ns(nr, self.0.as_ptr()) }
    }
}

impl Drop for PidNamespace {
    fn drop(&mut self) {
        // SAFETY: We own one reference (type invariant).
        unsafe { local::rust_fuse_put_pid_ns(self.0.as_ptr()) };
    }
}

/// The 64-bit jiffies counter (`get_jiffies_64()`).
pub(crate) fn jiffies64() -> u64 {
    // SAFETY: Reads a global counter.
    unsafe { local::rust_fuse_get_jiffies_64() }
}

/// Converts a duration to jiffies, rounding up (`timespec64_to_jiffies()`).
pub(crate) fn duration_to_jiffies(sec: u64, nsec: u32) -> u64 {
    let ts = bindings::timespec64 {
        tv_sec: sec.min(i64::MAX as u64) as i64,
        tv_nsec: nsec as _,
    };
    // SAFETY: `ts` is a valid local.
    unsafe { bindings::timespec64_to_jiffies(&ts) as u64 }
}

/// Whether the current task may act as `CAP_SYS_ADMIN` in the initial namespace.
pub(crate) fn capable_sys_admin() -> bool {
    // SAFETY: `capable()` may be called from any process context.
    unsafe { bindings::capable(bindings::CAP_SYS_ADMIN as i32) }
}

/// The default cap on `max_background` and `congestion_threshold` for daemons without
/// `CAP_SYS_ADMIN` (the C module's `sanitize_global_limit()` of an unset limit: 1/2^13 of
/// memory at 392 bytes per request, below 2^16).
pub(crate) fn default_user_bg_limit() -> u32 {
    // SAFETY: Reads a global counter.
    let pages = unsafe { local::rust_fuse_totalram_pages() } as u64;
    let limit = ((pages << kernel::page::PAGE_SHIFT) >> 13) / 392;
    limit.min((1 << 16) - 1) as u32
}

/// Whether every uid of the current task (real, effective, saved) is `uid` and every gid is
/// `gid` (the C FUSE's `fuse_permissible_uidgid()`).
pub(crate) fn current_ids_are(uid: Kuid, gid: Kgid) -> bool {
    // SAFETY: The current task's credentials stay valid while it runs this function.
    let c = unsafe { &*local::rust_fuse_current_cred() };
    let (u, g) = (uid.raw().val, gid.raw().val);
    c.uid.val == u
        && c.euid.val == u
        && c.suid.val == u
        && c.gid.val == g
        && c.egid.val == g
        && c.sgid.val == g
}

/// Whether the current task is in `ns` or one of its descendants (`current_in_userns()`).
pub(crate) fn current_in_userns(ns: &UserNamespace) -> bool {
    // SAFETY: `ns` is live; the function only walks namespace parents.
    unsafe { bindings::current_in_userns(ns.as_raw()) }
}

/// A random number (`get_random_u32()`).
pub(crate) fn random_u32() -> u32 {
    // SAFETY: May be called from any context.
    unsafe { bindings::get_random_u32() }
}

/// The current task's file-creation mask (`current_umask()`).
pub(crate) fn current_umask() -> u32 {
    // SAFETY: Reads the current task's `fs_struct`.
    unsafe { bindings::current_umask() as u32 }
}

/// Whether the current task may keep set-id bits when writing (`capable(CAP_FSETID)`).
pub(crate) fn capable_fsetid() -> bool {
    // SAFETY: `capable()` checks the current task's credentials.
    unsafe { bindings::capable(bindings::CAP_FSETID as i32) }
}

/// The current task's file table, as a lock owner (`current->files`).
pub(crate) fn current_files() -> usize {
    // SAFETY: Reads a pointer field of the current task.
    unsafe { local::rust_fuse_current_files() as usize }
}

/// The current task's fs gid (`current_fsgid()`).
pub(crate) fn current_fsgid_kgid() -> Kgid {
    // SAFETY: Reads the current task's credentials.
    Kgid(unsafe { local::rust_fuse_current_fsgid_raw() })
}

/// Whether the current task is in group `gid` (`in_group_p()`).
pub(crate) fn in_group(gid: Kgid) -> bool {
    // SAFETY: Reads the current task's credentials.
    unsafe { bindings::in_group_p(gid.0) != 0 }
}
