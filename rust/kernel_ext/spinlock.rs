// SPDX-License-Identifier: GPL-2.0

//! A spin lock whose lock and unlock are one call each into the kernel's out-of-line
//! `_raw_spin_lock()` and `_raw_spin_unlock()`.
//!
//! C headers: [`include/linux/spinlock.h`](srctree/include/linux/spinlock.h),
//! [`include/linux/spinlock_api_smp.h`](srctree/include/linux/spinlock_api_smp.h)
//!
//! 6.12's [`kernel::sync::SpinLock`] takes two calls before it gets there: its backend's
//! `lock()`, compiled into the `kernel` crate and not inlined into modules, and the C helper
//! `rust_helper_spin_lock()`; the same again to unlock. For a lock taken on every operation
//! of a hot path, those calls cost as much as the lock itself. This backend is inlined into
//! its callers and calls the kernel's functions itself, where the configuration has them out
//! of line (SMP, `UNINLINE_SPIN_UNLOCK`, no `INLINE_SPIN_LOCK`, no PREEMPT_RT); elsewhere it
//! uses the helpers, as upstream's. The lock is the same `spinlock_t`, with the same lockdep
//! class and name, and [`SpinLock`] the same [`Lock`] type (guards, `LockedBy`) as
//! upstream's.
//!
//! # Examples
//!
//! ```ignore
//! let counter = KBox::pin_init(new_spinlock!(0u32), GFP_KERNEL)?;
//! *counter.lock() += 1;
//! ```

use kernel::{
    bindings,
    sync::lock::{Backend, Guard, Lock},
};

/// A spin lock ([`DirectSpinLockBackend`]); create one with [`new_spinlock!`].
pub(crate) type SpinLock<T> = Lock<T, DirectSpinLockBackend>;

/// A held [`SpinLock`].
pub(crate) type SpinLockGuard<'a, T> = Guard<'a, T, DirectSpinLockBackend>;

/// Creates a [`SpinLock`] initialiser with the given name (or the source location) and a
/// new lock class, as upstream's `new_spinlock!`.
macro_rules! new_spinlock {
    ($inner:expr $(, $name:literal)? $(,)?) => {
        $crate::kernel_ext::spinlock::SpinLock::new(
            $inner,
            ::kernel::optional_name!($($name)?),
            ::kernel::static_lock_class!(),
        )
    };
}
pub(crate) use new_spinlock;

/// The backend of [`SpinLock`]: a `spinlock_t`, locked with `spin_lock()` and unlocked
/// with `spin_unlock()`, each reaching the kernel's out-of-line function in one call.
pub(crate) struct DirectSpinLockBackend;

/// `spin_lock()` and `spin_unlock()` as the kernel's out-of-line functions, which take the
/// raw lock inside the `spinlock_t`.
#[cfg(all(
    CONFIG_SMP,
    CONFIG_UNINLINE_SPIN_UNLOCK,
    not(CONFIG_INLINE_SPIN_LOCK),
    not(CONFIG_PREEMPT_RT)
))]
mod imp {
    pub(super) use kernel::bindings::{_raw_spin_lock as lock, _raw_spin_unlock as unlock};
    /// What the functions take. CAST: Without PREEMPT_RT, `spinlock_t` is a union whose
    /// member `rlock`, at its start (`static_assert` in `helpers.c`), is this raw lock
    /// (`spin_lock()` is `raw_spin_lock(&lock->rlock)`); bindgen sees the union as a blob.
    pub(super) type Raw = kernel::bindings::raw_spinlock_t;
}

/// `spin_lock()` and `spin_unlock()` through the `kernel` crate's helpers.
#[cfg(not(all(
    CONFIG_SMP,
    CONFIG_UNINLINE_SPIN_UNLOCK,
    not(CONFIG_INLINE_SPIN_LOCK),
    not(CONFIG_PREEMPT_RT)
)))]
mod imp {
    pub(super) use kernel::bindings::{spin_lock as lock, spin_unlock as unlock};
    /// What the functions take: the lock itself.
    pub(super) type Raw = kernel::bindings::spinlock_t;
}

// SAFETY: `lock` and `unlock` are `spin_lock()` and `spin_unlock()` (module `imp`), so the
// lock is held exactly between them (`relock` is the default, `lock` again), and `init` is
// `spin_lock_init()`'s `__spin_lock_init()`.
unsafe impl Backend for DirectSpinLockBackend {
    type State = bindings::spinlock_t;
    type GuardState = ();

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const kernel::ffi::c_char,
        key: *mut bindings::lock_class_key,
    ) {
        // SAFETY: The caller passes a `spinlock_t` valid for writes, and a name and key
        // valid for reads for ever.
        unsafe { bindings::__spin_lock_init(ptr, name, key) }
    }

    #[inline(always)]
    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: The caller passes an initialised lock, which stays valid while held; `Raw`
        // is what `imp::lock` takes of it.
        unsafe { imp::lock(ptr.cast::<imp::Raw>()) }
    }

    #[inline(always)]
    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: The caller holds the lock, taken by `lock` above.
        unsafe { imp::unlock(ptr.cast::<imp::Raw>()) }
    }
}
