// SPDX-License-Identifier: GPL-2.0

//! The module's own `struct module` (`THIS_MODULE`), for the `owner` fields of C tables.
//!
//! Operation tables (`file_operations`, `file_system_type`) carry an `owner` so that the VFS
//! pins the module while a file is open or a mount is alive. They are `static`s built in
//! `static` initializers, where [`this_module!`] gives the pointer.

use kernel::{bindings, types::Opaque};

// `struct module` holds an empty arch struct on x86, which the lint flags; only its address is
// used.
#[allow(improper_ctypes)]
extern "C" {
    /// The module's `struct module`, filled in by the module loader.
    #[allow(non_upper_case_globals)]
    pub(crate) static __this_module: Opaque<bindings::module>;
}

/// Evaluates to `THIS_MODULE`: a `*mut bindings::module` usable in `static` initializers.
macro_rules! this_module {
    () => {
        // SAFETY: `__this_module` is defined by the module loader for every module; taking its
        // address reads nothing.
        unsafe { $crate::kernel_ext::module::__this_module.get() }
    };
}
pub(crate) use this_module;

/// The module's `uint` parameters (`/sys/module/<module>/parameters/`), declared with
/// `module_param()` in `helpers.c` because that is a C macro; each read gives the value of the
/// moment, as an administrator may change it at any time.
#[derive(Clone, Copy)]
pub(crate) enum UintParam {
    /// `default_request_timeout`.
    DefaultRequestTimeout,
    /// `max_request_timeout`.
    MaxRequestTimeout,
}

impl UintParam {
    /// The current value.
    pub(crate) fn get(self) -> u32 {
        // SAFETY: The helpers only read a module-static variable (`READ_ONCE()`).
        unsafe {
            match self {
                Self::DefaultRequestTimeout => crate::bindings::rust_fuse_default_request_timeout(),
                Self::MaxRequestTimeout => crate::bindings::rust_fuse_max_request_timeout(),
            }
        }
    }
}
