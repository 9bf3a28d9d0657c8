// SPDX-License-Identifier: GPL-2.0

//! rust_fuse: the kernel side of FUSE, in Rust.
//!
//! A drop-in for the C `fs/fuse` (fuse.ko) of Linux 6.12: the `fuse` file system type and the
//! `/dev/fuse` device. The crate has two layers that are kept apart:
//!
//! - [`kernel_ext`]: safe abstractions over the kernel pieces that 6.12's `kernel` crate lacks
//!   (file system types and mount contexts, misc devices, files). They own every `unsafe` block.
//! - [`fuse`]: the FUSE logic, written against those abstractions only.
//!
//! [`bindings`] holds the module-local bindgen output that both layers' C interaction goes
//! through; only [`kernel_ext`] uses it for anything but constants.

#![allow(clippy::ptr_as_ptr, clippy::ref_as_ptr, clippy::as_underscore)]
// `pin_init!` of the connection (many fields) needs deeper macro recursion.
#![recursion_limit = "256"]

mod bindings;
mod fuse;
mod kernel_ext;

use kernel::prelude::*;

module! {
    type: RustFuse,
    name: "rust_fuse",
    author: "rust_fuse developers",
    description: "Filesystem in Userspace, in Rust",
    license: "GPL",
    alias: ["devname:fuse", "char-major-10-229", "fs-fuse"],
}

/// The module: what it has registered, unregistered again when it is dropped.
struct RustFuse {
    _registrations: fuse::Registrations,
}

impl kernel::Module for RustFuse {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!(
            "init (API version {}.{})\n",
            fuse::proto::KERNEL_VERSION,
            fuse::proto::KERNEL_MINOR_VERSION
        );
        Ok(RustFuse {
            _registrations: fuse::Registrations::register()?,
        })
    }
}
