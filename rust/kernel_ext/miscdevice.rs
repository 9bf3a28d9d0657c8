// SPDX-License-Identifier: GPL-2.0

//! Misc character devices (`struct miscdevice`, major 10) with a fixed minor.
//!
//! A [`MiscDevice`] is a `static` (as in C), so the VFS can keep pointers into it; registering
//! it returns a [`MiscRegistration`] that deregisters it when dropped.

use super::{
    file::{FileOperations, FileOperationsTable},
    registration::RegistrationFlag,
};
use crate::bindings as local;
use core::mem::MaybeUninit;
use kernel::{error::to_result, prelude::*, str::CStr, types::Opaque};

/// A misc device: a name, a fixed minor and the file operations of its files.
pub(crate) struct MiscDevice {
    dev: Opaque<local::miscdevice>,
    registered: RegistrationFlag,
}

// SAFETY: The C structure is only touched by `misc_register()`/`misc_deregister()`, which the
// `registered` flag keeps to one registration at a time, and by the misc core under its lock.
unsafe impl Sync for MiscDevice {}

impl MiscDevice {
    /// Describes a misc device `name` (the `/dev` node's name) at `minor`, whose files use
    /// `fops`.
    pub(crate) const fn new<T: FileOperations>(
        minor: u32,
        name: &'static CStr,
        fops: &'static FileOperationsTable<T>,
    ) -> Self {
        // SAFETY: All-zero is a valid `miscdevice` (no parent, no groups, empty list head that
        // `misc_register()` initialises).
        let mut dev: local::miscdevice = unsafe { MaybeUninit::zeroed().assume_init() };
        dev.minor = minor as i32;
        dev.name = name.as_char_ptr();
        dev.fops = fops.as_raw();
        Self {
            dev: Opaque::new(dev),
            registered: RegistrationFlag::new(),
        }
    }

    /// Registers the device: `/dev/<name>` appears as char 10:`minor`.
    ///
    /// Fails with `EBUSY` if the minor or the name is taken (e.g. by another module).
    pub(crate) fn register(&'static self) -> Result<MiscRegistration> {
        self.registered.register(|| {
            // SAFETY: `dev` is a static, fully initialised `miscdevice` that is not registered
            // (the flag); it stays valid until `misc_deregister()` in `MiscRegistration::drop`.
            to_result(unsafe { local::misc_register(self.dev.get()) })
        })?;
        Ok(MiscRegistration { dev: self })
    }
}

/// A registered [`MiscDevice`]; dropping it deregisters the device.
pub(crate) struct MiscRegistration {
    dev: &'static MiscDevice,
}

impl Drop for MiscRegistration {
    fn drop(&mut self) {
        // SAFETY: The device was registered by `register()` and is deregistered only here.
        unsafe { local::misc_deregister(self.dev.dev.get()) };
        self.dev.registered.unregistered();
    }
}
