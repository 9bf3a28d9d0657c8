// SPDX-License-Identifier: GPL-2.0

//! The FUSE logic, written against [`crate::kernel_ext`] only.
//!
//! One module per concern, named as a reader of the C `fs/fuse` would look for it:
//! [`proto`] (protocol), [`request`] and [`conn`] (the request engine), [`dev`]
//! (`/dev/fuse`), [`init`] (FUSE_INIT), [`mount_opts`] (mount options), [`fs`] (the `fuse`
//! file system type), [`inode`], [`dir`], [`readdir`], [`namei`], [`setattr`], [`file`],
//! [`write`], [`xattr`], [`lock`] and [`poll`] (the VFS side); [`timeout`] (request
//! timeouts).

pub(crate) mod conn;
pub(crate) mod dev;
pub(crate) mod dir;
pub(crate) mod file;
pub(crate) mod fs;
pub(crate) mod init;
pub(crate) mod inode;
pub(crate) mod ioctl;
pub(crate) mod lock;
pub(crate) mod mount_opts;
pub(crate) mod namei;
pub(crate) mod notify;
pub(crate) mod poll;
pub(crate) mod proto;
pub(crate) mod readdir;
pub(crate) mod request;
pub(crate) mod setattr;
pub(crate) mod timeout;
pub(crate) mod write;
pub(crate) mod writeback;
pub(crate) mod xattr;

use crate::kernel_ext::{fs_type::FsRegistration, miscdevice::MiscRegistration};
use kernel::prelude::*;

/// Everything the module registers with the kernel; dropping it unregisters all of it.
///
/// Fields drop in declaration order: the file system type first, then the device, as the C
/// module's exit does.
pub(crate) struct Registrations {
    _fs: FsRegistration,
    _dev: MiscRegistration,
}

impl Registrations {
    /// Registers the `fuse` file system type and the `/dev/fuse` misc device (minor 229).
    ///
    /// If either is taken (typically because the C `fuse.ko` is loaded), fails with its error
    /// and leaves nothing registered.
    pub(crate) fn register() -> Result<Self> {
        let fs = fs::FUSE_FS_TYPE.register().inspect_err(|e| {
            pr_err!(
                "cannot register the file system type \"fuse\" ({:?}): is the C fuse module loaded?\n",
                e
            )
        })?;
        let dev = dev::FUSE_MISC_DEVICE.register().inspect_err(|e| {
            pr_err!(
                "cannot register /dev/fuse (misc minor {}) ({:?}): is the C fuse module loaded?\n",
                proto::FUSE_MINOR,
                e
            )
        })?;
        Ok(Self { _fs: fs, _dev: dev })
    }
}
