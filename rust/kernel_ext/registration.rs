// SPDX-License-Identifier: GPL-2.0

//! A guard that keeps a `static` C object to one registration at a time.
//!
//! Registering a `file_system_type` or a `miscdevice` twice would corrupt the kernel's lists,
//! and the objects are `static`s reachable from anywhere in the crate; each carries a
//! [`RegistrationFlag`] that turns a second registration into `EBUSY`.

use core::sync::atomic::{AtomicBool, Ordering};
use kernel::prelude::*;

/// Whether a `static` C object is registered.
pub(crate) struct RegistrationFlag(AtomicBool);

impl RegistrationFlag {
    /// A flag for an object that is not registered.
    pub(crate) const fn new() -> Self {
        Self(AtomicBool::new(false))
    }

    /// Runs `register` unless the object is registered already (then `EBUSY`); the object
    /// counts as registered if `register` succeeds.
    pub(crate) fn register(&self, register: impl FnOnce() -> Result) -> Result {
        if self.0.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        register().inspect_err(|_| self.0.store(false, Ordering::Release))
    }

    /// Records that the object has been unregistered.
    pub(crate) fn unregistered(&self) {
        self.0.store(false, Ordering::Release);
    }
}
