// SPDX-License-Identifier: GPL-2.0

//! Delayed work items (`struct delayed_work`) on the system workqueue, embedded in the
//! object they work on.
//!
//! C headers: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

use crate::bindings as local;
use core::marker::PhantomData;
use kernel::{bindings, prelude::*, types::Opaque};

/// An object with a [`DelayedWork`] field, whose work runs [`HasDelayedWork::run`].
///
/// # Safety
///
/// `OFFSET` is the byte offset of a `DelayedWork<Self>` field in `Self`.
pub(crate) unsafe trait HasDelayedWork: Sync + Sized {
    /// The offset of the [`DelayedWork`] field (`core::mem::offset_of!`).
    const OFFSET: usize;

    /// The work, in process context on the system workqueue.
    fn run(&self);
}

/// A delayed work item of a `T` (`struct delayed_work`), cancelled and waited for when
/// dropped: declare it first in `T`, so that the work never runs while other fields of `T`
/// are being dropped.
///
/// # Invariants
///
/// `dw` is initialised with [`work_fn::<T>`] as its function, and is a field of a `T` at
/// `T::OFFSET`, pinned.
#[pin_data(PinnedDrop)]
pub(crate) struct DelayedWork<T: HasDelayedWork> {
    #[pin]
    dw: Opaque<bindings::delayed_work>,
    _p: PhantomData<T>,
}

// SAFETY: The work item is designed for use from any thread; the workqueue serialises it.
unsafe impl<T: HasDelayedWork> Send for DelayedWork<T> {}
// SAFETY: See the `Send` impl; `T` is `Sync`, as its work runs on another thread.
unsafe impl<T: HasDelayedWork> Sync for DelayedWork<T> {}

/// The C work function of `T`: finds the `T` around the work item and runs its work.
///
/// # Safety
///
/// `work` is the `work_struct` of a `DelayedWork<T>`'s `delayed_work`, which is a field of a
/// live `T` (it is cancelled before the `T` goes).
unsafe extern "C" fn work_fn<T: HasDelayedWork>(work: *mut bindings::work_struct) {
    // SAFETY: `work` is the first field of the `delayed_work`, itself the first field of the
    // transparent `Opaque` at the start of `DelayedWork<T>`, which is at `T::OFFSET` in a
    // live `T` (caller's guarantee and the trait's contract).
    let owner = unsafe { &*work.cast::<u8>().sub(T::OFFSET).cast::<T>() };
    owner.run();
}

impl<T: HasDelayedWork> DelayedWork<T> {
    /// A work item that runs `T::run` when due.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `INIT_DELAYED_WORK()` initialises the pinned, unused slot.
            dw <- unsafe {
                Opaque::ffi_init(|slot: *mut bindings::delayed_work| {
                    local::rust_fuse_init_delayed_work(slot, Some(work_fn::<T>))
                })
            },
            _p: PhantomData,
        })
    }

    /// Runs the work after `delay` jiffies, unless it is queued already
    /// (`queue_delayed_work(system_wq, ...)`).
    pub(crate) fn schedule(&self, delay: u64) {
        // SAFETY: The work item is initialised and pinned (type invariant).
        unsafe { local::rust_fuse_queue_delayed_work(self.dw.get(), delay as _) };
    }
}

#[pinned_drop]
impl<T: HasDelayedWork> PinnedDrop for DelayedWork<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: The work item is initialised; this waits until it is neither queued nor
        // running, even if it queues itself again.
        unsafe { bindings::cancel_delayed_work_sync(self.dw.get()) };
    }
}
