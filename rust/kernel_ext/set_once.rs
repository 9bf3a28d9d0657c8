// SPDX-License-Identifier: GPL-2.0

//! A cell that is set at most once and then read without a lock (upstream's
//! `kernel::sync::SetOnce`, which 6.12 lacks; the same method names, so that moving to it
//! is a rename).

use core::{
    cell::UnsafeCell,
    mem::MaybeUninit,
    sync::atomic::{AtomicU8, Ordering},
};
use kernel::init::Init;

const EMPTY: u8 = 0;
const WRITING: u8 = 1;
const SET: u8 = 2;

/// A value set at most once; readers see it, once set, with a single atomic load.
///
/// # Invariants
///
/// `value` is initialised exactly when `state` is `SET`, and never written again after that.
///
/// # Examples
///
/// ```ignore
/// let cell = SetOnce::new();
/// assert!(cell.as_ref().is_none());
/// assert!(cell.populate(42));
/// assert!(!cell.populate(7));
/// assert_eq!(cell.as_ref(), Some(&42));
/// ```
pub(crate) struct SetOnce<T> {
    state: AtomicU8,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: The value is written by one thread at a time (the one that won the exchange to
// `WRITING`; after a failed `populate_with` the slot is empty again and may be won anew),
// and once, before `SET` is published with release ordering; afterwards it is only shared,
// so `T` must be `Sync` to be read from several threads and `Send` to be set and dropped on
// any.
unsafe impl<T: Send + Sync> Sync for SetOnce<T> {}
// SAFETY: Moving the cell moves the value.
unsafe impl<T: Send> Send for SetOnce<T> {}

impl<T> SetOnce<T> {
    /// An empty cell.
    pub(crate) const fn new() -> Self {
        Self {
            state: AtomicU8::new(EMPTY),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// The value, if it is set.
    pub(crate) fn as_ref(&self) -> Option<&T> {
        if self.state.load(Ordering::Acquire) == SET {
            // SAFETY: `SET` means initialised and never written again (type invariant); the
            // acquire load pairs with the release store in `populate`.
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }

    /// Sets the value if the cell is empty; returns whether it did (else `value` is dropped).
    pub(crate) fn populate(&self, value: T) -> bool {
        if self
            .state
            .compare_exchange(EMPTY, WRITING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        // SAFETY: Winning the exchange makes this the only writer, and readers do not look
        // at the value before `SET`.
        unsafe { (*self.value.get()).write(value) };
        // INVARIANT: The value was just initialised.
        self.state.store(SET, Ordering::Release);
        true
    }

    /// Sets the value in place with `init` if the cell is empty, without building it
    /// elsewhere and moving it in; returns whether it did. If `init` fails, the cell stays
    /// empty and its error is returned. (Upstream's cell has no such method.)
    pub(crate) fn populate_with<E>(&self, init: impl Init<T, E>) -> Result<bool, E> {
        if self
            .state
            .compare_exchange(EMPTY, WRITING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Ok(false);
        }
        // SAFETY: Winning the exchange makes this the only writer, and readers do not look
        // at the value before `SET`: the slot is valid for writes and holds no value. On
        // `Err` the slot is not touched again, but left empty (as uninitialised storage,
        // which a later winner of the exchange writes afresh).
        match unsafe { init.__init(self.value.get().cast::<T>()) } {
            Ok(()) => {
                // INVARIANT: `init` succeeded, so the value is initialised.
                self.state.store(SET, Ordering::Release);
                Ok(true)
            }
            Err(e) => {
                // A failed `init` left nothing to drop.
                self.state.store(EMPTY, Ordering::Release);
                Err(e)
            }
        }
    }
}

impl<T> Drop for SetOnce<T> {
    fn drop(&mut self) {
        if *self.state.get_mut() == SET {
            // SAFETY: `SET` means initialised (type invariant); `&mut self` excludes readers.
            unsafe { self.value.get_mut().assume_init_drop() };
        }
    }
}
