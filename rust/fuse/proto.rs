// SPDX-License-Identifier: GPL-2.0

//! The FUSE protocol (`include/uapi/linux/fuse.h`): versions and constants.

use crate::bindings;

/// The protocol's major version (`FUSE_KERNEL_VERSION`).
pub(crate) const KERNEL_VERSION: u32 = bindings::FUSE_KERNEL_VERSION;

/// The protocol's minor version that this module speaks (`FUSE_KERNEL_MINOR_VERSION`).
pub(crate) const KERNEL_MINOR_VERSION: u32 = bindings::FUSE_KERNEL_MINOR_VERSION;

/// The misc device minor of `/dev/fuse` (`FUSE_MINOR`).
pub(crate) const FUSE_MINOR: u32 = bindings::FUSE_MINOR;

/// `ioctl(FUSE_DEV_IOC_CLONE, &fd)`: attach this `/dev/fuse` file to `fd`'s connection.
pub(crate) const DEV_IOC_CLONE: u32 = bindings::FUSE_DEV_IOC_CLONE;

/// `ioctl(FUSE_DEV_IOC_BACKING_OPEN, &map)`: register a passthrough backing file.
pub(crate) const DEV_IOC_BACKING_OPEN: u32 = bindings::FUSE_DEV_IOC_BACKING_OPEN;

/// `ioctl(FUSE_DEV_IOC_BACKING_CLOSE, &id)`: drop a passthrough backing file.
pub(crate) const DEV_IOC_BACKING_CLOSE: u32 = bindings::FUSE_DEV_IOC_BACKING_CLOSE;

/// `poll(2)` mask bits.
pub(crate) mod poll {
    use crate::bindings;

    /// An error condition (`EPOLLERR`).
    pub(crate) const ERR: u32 = bindings::EPOLLERR;
}
