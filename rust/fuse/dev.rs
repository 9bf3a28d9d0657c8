// SPDX-License-Identifier: GPL-2.0

//! The FUSE device, `/dev/fuse` (the C module's `dev.c`).
//!
//! A daemon opens `/dev/fuse` and passes the file to mount(2) as `fd=N`; the mount attaches the
//! file to a new connection, and from then on the daemon reads requests from it and writes
//! replies to it. A file that no mount has attached behaves as on the C module: reads, writes
//! and the connection ioctls fail with `EPERM`, poll reports `EPOLLERR`.
//!
//! Attaching (mount, `FUSE_DEV_IOC_CLONE`) comes with the request engine; until then every
//! file stays unattached.

use super::proto;
use crate::kernel_ext::{
    file::{file_operations_table, File, FileOperations, FileOperationsTable, IovIter, PollTable},
    miscdevice::MiscDevice,
};
use kernel::{
    c_str,
    prelude::*,
    sync::{Arc, ArcBorrow},
    uaccess::UserSlice,
};

/// The operations of `/dev/fuse` files.
pub(crate) struct FuseDev;

/// One open `/dev/fuse` file.
pub(crate) struct DevFile {}

impl DevFile {
    /// The connection this file is attached to; `EPERM` if none (C's `fuse_get_dev()` test).
    fn attached(&self) -> Result {
        Err(EPERM)
    }
}

/// The C operation table of `/dev/fuse` files; its address identifies them.
pub(crate) static FUSE_DEV_FOPS: FileOperationsTable<FuseDev> = file_operations_table!(FuseDev);

/// The misc device `fuse` (char 10:229).
pub(crate) static FUSE_MISC_DEVICE: MiscDevice =
    MiscDevice::new(proto::FUSE_MINOR, c_str!("fuse"), &FUSE_DEV_FOPS);

#[vtable]
impl FileOperations for FuseDev {
    type Data = Arc<DevFile>;

    fn open(_file: &File) -> Result<Arc<DevFile>> {
        Ok(Arc::new(DevFile {}, GFP_KERNEL)?)
    }

    fn read_iter(dev: ArcBorrow<'_, DevFile>, _file: &File, _to: &mut IovIter) -> Result<usize> {
        dev.attached()?;
        Err(EPERM)
    }

    fn write_iter(dev: ArcBorrow<'_, DevFile>, _file: &File, _from: &mut IovIter) -> Result<usize> {
        dev.attached()?;
        Err(EPERM)
    }

    fn poll(dev: ArcBorrow<'_, DevFile>, _file: &File, _table: Option<&PollTable>) -> u32 {
        match dev.attached() {
            Ok(()) => 0,
            Err(_) => proto::poll::ERR,
        }
    }

    fn ioctl(dev: ArcBorrow<'_, DevFile>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            proto::DEV_IOC_CLONE => clone(file, arg),
            proto::DEV_IOC_BACKING_OPEN | proto::DEV_IOC_BACKING_CLOSE => {
                dev.attached()?;
                Err(EPERM)
            }
            _ => Err(ENOTTY),
        }
    }
}

/// `FUSE_DEV_IOC_CLONE`: attach `file` to the connection of the `/dev/fuse` file whose
/// descriptor `arg` points to (libfuse's `clone_fd`).
fn clone(_file: &File, arg: usize) -> Result<isize> {
    let oldfd = UserSlice::new(arg, core::mem::size_of::<u32>())
        .reader()
        .read::<u32>()?;
    let old = File::fget(oldfd).ok_or(EINVAL)?;
    let old_dev = old.data(&FUSE_DEV_FOPS).ok_or(EINVAL)?;
    // Only a file that a mount attached can be cloned.
    old_dev.attached().map_err(|_| EINVAL)?;
    Err(EINVAL)
}
