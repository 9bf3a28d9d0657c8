// SPDX-License-Identifier: GPL-2.0

//! Wait queues (`wait_queue_head_t`) with the waits that FUSE needs.
//!
//! 6.12's [`kernel::sync::CondVar`] waits only with a lock guard and has no killable or
//! exclusive waits. A [`WaitQueue`] waits for a condition closure, as C's `wait_event_*()`
//! macros do: the closure runs after the task state is set, so a wake-up between the test and
//! `schedule()` is never lost. The closure may take spinlocks but must not sleep.

use super::file::{File, PollTable};
use crate::bindings as local;
use core::{mem::MaybeUninit, ptr};
use kernel::{
    bindings, error::code::ERESTARTSYS, init::PinInit, prelude::*, str::CStr, sync::LockClassKey,
    types::Opaque,
};

/// How a wait may be cut short.
#[derive(Clone, Copy)]
pub(crate) enum WaitMode {
    /// Any signal ends the wait with `ERESTARTSYS` (`TASK_INTERRUPTIBLE`).
    Interruptible,
    /// Only a fatal signal ends the wait with `ERESTARTSYS` (`TASK_KILLABLE`).
    Killable,
    /// As [`WaitMode::Killable`], and a task that is exiting because a signal killed it does
    /// not wait at all (`ERESTARTSYS` at once): its fatal signal was taken when it began to
    /// exit, so a `TASK_KILLABLE` sleep of its exit path (closing its files) would last.
    KillableOrExiting,
}

impl WaitMode {
    fn state(self) -> i32 {
        match self {
            WaitMode::Interruptible => bindings::TASK_INTERRUPTIBLE as i32,
            WaitMode::Killable | WaitMode::KillableOrExiting => bindings::TASK_KILLABLE as i32,
        }
    }
}

/// A wait queue head.
///
/// # Invariants
///
/// `wq` is initialised (`__init_waitqueue_head()`) and pinned.
#[pin_data]
pub(crate) struct WaitQueue {
    #[pin]
    wq: Opaque<bindings::wait_queue_head>,
}

// SAFETY: A wait queue head is designed for use from any thread; its lock serialises access.
unsafe impl Send for WaitQueue {}
// SAFETY: See the `Send` impl.
unsafe impl Sync for WaitQueue {}

impl WaitQueue {
    /// Initialises a wait queue with a lockdep class for its lock.
    pub(crate) fn new(name: &'static CStr, key: &'static LockClassKey) -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `__init_waitqueue_head()` initialises the pinned, not yet used head.
            wq <- unsafe {
                Opaque::ffi_init(|slot: *mut bindings::wait_queue_head| {
                    bindings::__init_waitqueue_head(slot, name.as_char_ptr(), lock_class_ptr(key))
                })
            },
        })
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::wait_queue_head {
        self.wq.get()
    }

    /// Sleeps until `cond` returns `Some`, and returns its value.
    ///
    /// Fails with `ERESTARTSYS` if a signal allowed by `mode` arrives first. With `exclusive`,
    /// a [`WaitQueue::wake_one`] wakes only one exclusive waiter (the C `_exclusive` waits).
    pub(crate) fn wait<T>(
        &self,
        mode: WaitMode,
        exclusive: bool,
        mut cond: impl FnMut() -> Option<T>,
    ) -> Result<T> {
        if let Some(v) = cond() {
            return Ok(v);
        }
        if matches!(mode, WaitMode::KillableOrExiting) && exiting_on_signal() {
            return Err(ERESTARTSYS);
        }
        let mut entry = MaybeUninit::<bindings::wait_queue_entry>::zeroed();
        let entry = entry.as_mut_ptr();
        let flags = if exclusive {
            bindings::WQ_FLAG_EXCLUSIVE as i32
        } else {
            0
        };
        // SAFETY: `entry` is a local wait entry that outlives its use in this function.
        unsafe { bindings::init_wait_entry(entry, flags) };
        let result = loop {
            // SAFETY: `self` is an initialised wait queue (type invariant) and `entry` was
            // initialised above; `finish_wait()` below removes it before it goes out of scope.
            let err =
                unsafe { bindings::prepare_to_wait_event(self.as_raw(), entry, mode.state()) };
            if let Some(v) = cond() {
                break Ok(v);
            }
            if err != 0 {
                break Err(ERESTARTSYS);
            }
            // SAFETY: Called in process context with the task state set by
            // `prepare_to_wait_event()`.
            unsafe { bindings::schedule() };
        };
        // SAFETY: `entry` was queued on this wait queue by `prepare_to_wait_event()`.
        unsafe { bindings::finish_wait(self.as_raw(), entry) };
        result
    }

    /// Wakes every waiter (`wake_up_all()`).
    pub(crate) fn wake_all(&self) {
        // SAFETY: `self` is an initialised wait queue.
        unsafe { bindings::__wake_up(self.as_raw(), bindings::TASK_NORMAL, 0, ptr::null_mut()) };
    }

    /// Wakes every waiter if there may be one (`wq_has_sleeper()`, then `wake_up_all()`):
    /// for queues that are usually empty when their condition changes. The caller has made
    /// the condition true before; the full barrier here pairs with the one a waiter passes
    /// between queueing itself and testing the condition, so that either the waiter sees
    /// the condition or this sees the waiter.
    pub(crate) fn wake_all_sleepers(&self) {
        if self.has_sleeper() {
            self.wake_all();
        }
    }

    /// Whether a task may be waiting: a full barrier, then a look at the list
    /// (`wq_has_sleeper()`).
    fn has_sleeper(&self) -> bool {
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        let wq = self.as_raw();
        // SAFETY: `wq` is an initialised wait queue (type invariant); `head.next` is read
        // without its lock, as `waitqueue_active()` reads it (`READ_ONCE()`): the value may
        // be stale but is a valid pointer, and is only compared.
        let (head, next) = unsafe {
            let head = ptr::addr_of_mut!((*wq).head);
            (head, ptr::read_volatile(ptr::addr_of!((*head).next)))
        };
        next != head
    }

    /// Wakes every non-exclusive waiter and one exclusive waiter (`wake_up()`).
    pub(crate) fn wake_one(&self) {
        // SAFETY: `self` is an initialised wait queue.
        unsafe { bindings::__wake_up(self.as_raw(), bindings::TASK_NORMAL, 1, ptr::null_mut()) };
    }

    /// Registers a `poll(2)` caller on this queue (`poll_wait()`).
    pub(crate) fn poll_wait(&self, file: &File, table: Option<&PollTable>) {
        let table = table.map_or(ptr::null_mut(), |t| t.as_raw());
        // SAFETY: `file` is live; the poll table is NULL or live for the `poll` call; the wait
        // queue outlives the poll registration because the file holds the connection.
        unsafe { local::rust_fuse_poll_wait(file.as_raw(), self.as_raw(), table) };
    }
}

/// The C lock class key of `key` (6.12's `LockClassKey::as_ptr()` is crate-private).
pub(crate) fn lock_class_ptr(key: &'static LockClassKey) -> *mut bindings::lock_class_key {
    // `LockClassKey` is a transparent wrapper around `Opaque<lock_class_key>`.
    ptr::from_ref(key).cast_mut().cast()
}

/// Whether the current task is exiting because a signal killed it (`PF_EXITING`, and a
/// group exit code that is a signal's): it has no signal pending any more.
pub(crate) fn exiting_on_signal() -> bool {
    // SAFETY: Reads the current task's flags and its signal struct, which lives as long as
    // the task.
    unsafe { local::rust_fuse_exiting_on_signal() }
}

/// Whether the current task has a fatal signal pending (`fatal_signal_pending(current)`).
pub(crate) fn fatal_signal_pending() -> bool {
    // SAFETY: Reads the current task's signal state only.
    unsafe { local::rust_fuse_fatal_signal_pending() }
}

/// Declares a static lock class key and name for one [`WaitQueue`].
macro_rules! wait_queue {
    ($name:literal) => {{
        $crate::kernel_ext::wait::WaitQueue::new(
            kernel::c_str!($name),
            kernel::static_lock_class!(),
        )
    }};
}
pub(crate) use wait_queue;
