// SPDX-License-Identifier: GPL-2.0

//! The `fuse` file system type (the C module's `fuse_fs_type`, `fuse_get_tree()`).
//!
//! Mount options are parsed and checked as the C module does them, and a mount with a bad or
//! missing option, or an `fd` that is not an unattached `/dev/fuse` file of the mounter's user
//! namespace, fails with `EINVAL` where the C module fails. A mount that passes those checks
//! fails with `ENOSYS` and a kernel log message until FUSE_INIT and the request engine land.

use super::{dev::FUSE_DEV_FOPS, mount_opts};
use crate::kernel_ext::{
    error::enosys,
    file::File,
    fs_context::{FsContext, FsParameter, Params},
    fs_type::{fs_type, FileSystem, FsType},
};
use kernel::{bindings, c_str, prelude::*, str::CStr};

/// The `fuse` file system type.
pub(crate) struct FuseFs;

/// The C description of the `fuse` type.
pub(crate) static FUSE_FS_TYPE: FsType<FuseFs> = fs_type!(FuseFs);

impl FileSystem for FuseFs {
    type Context = mount_opts::MountOptions;

    const NAME: &'static CStr = c_str!("fuse");
    // The C module also sets FS_ALLOW_IDMAP; it comes with idmapped-mount support.
    const FLAGS: u32 = bindings::FS_HAS_SUBTYPE | bindings::FS_USERNS_MOUNT;
    const PARAMS: Params = mount_opts::PARAMS;

    fn init_context(_fc: &FsContext) -> Result<Self::Context> {
        Ok(mount_opts::MountOptions::new(false))
    }

    fn parse_param(fc: &FsContext, opts: &mut Self::Context, param: &FsParameter) -> Result {
        opts.parse(fc, param)
    }

    fn get_tree(fc: &FsContext, opts: &mut Self::Context) -> Result {
        // A `fuse` mount needs a `/dev/fuse` file (no message, as in C).
        let file = opts.fd.and_then(File::fget).ok_or(EINVAL)?;

        // The checks of the C module's `fuse_fill_super()`: every option present, `fd` a
        // `/dev/fuse` file, opened in the user namespace that mounts.
        if !opts.complete() || !file.uses(&FUSE_DEV_FOPS) || *file.cred_user_ns() != *fc.user_ns() {
            return Err(EINVAL);
        }

        let msg = c_str!(
            "mounting is not implemented yet in rust_fuse (it needs FUSE_INIT and the request engine)"
        );
        fc.error(msg);
        if fc.has_user_log() {
            // `error()` went to the user's log only: the kernel log gets it too.
            pr_err!("{}\n", msg);
        }
        Err(enosys())
    }
}
