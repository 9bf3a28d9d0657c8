// SPDX-License-Identifier: GPL-2.0

//! Mount options of the `fuse` file system type (the C module's `fuse_parse_param()`).
//!
//! Each option fails exactly where the C module fails, with `EINVAL` and the same message in
//! the mount context's log.

use crate::kernel_ext::{
    cred::{Kgid, Kuid},
    file::File,
    fs_context::{FsContext, FsParameter, ParamSpec, ParamString, ParamTable, Params},
};
use kernel::{bindings, c_str, prelude::*, types::ARef};

const OPT_SOURCE: u8 = 0;
const OPT_SUBTYPE: u8 = 1;
const OPT_FD: u8 = 2;
const OPT_ROOTMODE: u8 = 3;
const OPT_USER_ID: u8 = 4;
const OPT_GROUP_ID: u8 = 5;
const OPT_DEFAULT_PERMISSIONS: u8 = 6;
const OPT_ALLOW_OTHER: u8 = 7;
const OPT_MAX_READ: u8 = 8;
const OPT_BLKSIZE: u8 = 9;

const TABLE: ParamTable<10> = ParamTable::new([
    ParamSpec::string(c_str!("source"), OPT_SOURCE),
    ParamSpec::u32(c_str!("fd"), OPT_FD),
    ParamSpec::u32_octal(c_str!("rootmode"), OPT_ROOTMODE),
    ParamSpec::uid(c_str!("user_id"), OPT_USER_ID),
    ParamSpec::gid(c_str!("group_id"), OPT_GROUP_ID),
    ParamSpec::flag(c_str!("default_permissions"), OPT_DEFAULT_PERMISSIONS),
    ParamSpec::flag(c_str!("allow_other"), OPT_ALLOW_OTHER),
    ParamSpec::u32(c_str!("max_read"), OPT_MAX_READ),
    ParamSpec::u32(c_str!("blksize"), OPT_BLKSIZE),
    ParamSpec::string(c_str!("subtype"), OPT_SUBTYPE),
]);

/// The parameter table of the `fuse` type (the C module's `fuse_fs_parameters`).
pub(crate) const PARAMS: Params = TABLE.params();

/// The default block size of `fuseblk` mounts (`FUSE_DEFAULT_BLKSIZE`).
const DEFAULT_BLKSIZE: u32 = 512;

/// The options of one mount attempt (the C module's `struct fuse_fs_context`).
pub(crate) struct MountOptions {
    /// The `/dev/fuse` descriptor (`fd=`).
    pub(crate) fd: Option<u32>,
    /// The root's file mode, type bits included (`rootmode=`, octal).
    pub(crate) rootmode: Option<u32>,
    /// The owner of the mount (`user_id=`).
    pub(crate) user_id: Option<Kuid>,
    /// The group of the mount (`group_id=`).
    pub(crate) group_id: Option<Kgid>,
    /// The kernel checks permissions from the file modes (`default_permissions`).
    pub(crate) default_permissions: bool,
    /// Users other than the owner may access the mount (`allow_other`).
    pub(crate) allow_other: bool,
    /// The largest READ request (`max_read=`); `u32::MAX` when not limited.
    pub(crate) max_read: u32,
    /// The block size of a `fuseblk` mount (`blksize=`).
    pub(crate) blksize: u32,
    /// Whether this is a `fuseblk` mount (only those take `blksize=`).
    pub(crate) is_bdev: bool,
    /// The subtype (`fuse.<subtype>` in `/proc/mounts`).
    pub(crate) subtype: Option<ParamString>,
    /// The `/dev/fuse` file of `fd`, held while the mount is being set up.
    pub(crate) file: Option<ARef<File>>,
}

impl MountOptions {
    /// The options before any is parsed (the C module's `fuse_init_fs_context()`).
    pub(crate) fn new(is_bdev: bool) -> Self {
        Self {
            fd: None,
            rootmode: None,
            user_id: None,
            group_id: None,
            default_permissions: false,
            allow_other: false,
            max_read: u32::MAX,
            blksize: DEFAULT_BLKSIZE,
            is_bdev,
            subtype: None,
            file: None,
        }
    }

    /// Applies one parameter.
    pub(crate) fn parse(&mut self, fc: &FsContext, param: &FsParameter) -> Result {
        if fc.is_reconfigure() {
            // Options coming from mount(MS_REMOUNT) are ignored for backward compatibility.
            if fc.is_old_api() {
                return Ok(());
            }
            return Err(fc.invalid(c_str!("No changes allowed in reconfigure")));
        }

        let result = fc.parse(PARAMS, param)?;
        match u8::try_from(result.opt()).map_err(|_| EINVAL)? {
            OPT_SOURCE => {
                if fc.has_source() {
                    return Err(fc.invalid(c_str!("Multiple sources specified")));
                }
                if let Some(source) = param.take_string() {
                    fc.set_source(source);
                }
            }
            OPT_SUBTYPE => {
                if self.subtype.is_some() {
                    return Err(fc.invalid(c_str!("Multiple subtypes specified")));
                }
                self.subtype = param.take_string();
            }
            OPT_FD => self.fd = Some(result.uint_32()),
            OPT_ROOTMODE => {
                let mode = result.uint_32();
                if !valid_file_type(mode) {
                    return Err(fc.invalid(c_str!("Invalid rootmode")));
                }
                self.rootmode = Some(mode);
            }
            OPT_USER_ID => {
                // The uid must be representable in the file system's idmapping.
                let uid = result.uid();
                if !fc.user_ns().has_kuid(uid) {
                    return Err(fc.invalid(c_str!("Invalid user_id")));
                }
                self.user_id = Some(uid);
            }
            OPT_GROUP_ID => {
                let gid = result.gid();
                if !fc.user_ns().has_kgid(gid) {
                    return Err(fc.invalid(c_str!("Invalid group_id")));
                }
                self.group_id = Some(gid);
            }
            OPT_DEFAULT_PERMISSIONS => self.default_permissions = true,
            OPT_ALLOW_OTHER => self.allow_other = true,
            OPT_MAX_READ => self.max_read = result.uint_32(),
            OPT_BLKSIZE => {
                if !self.is_bdev {
                    return Err(fc.invalid(c_str!("blksize only supported for fuseblk")));
                }
                self.blksize = result.uint_32();
            }
            _ => return Err(EINVAL),
        }
        Ok(())
    }
}

/// Whether `mode` has one of the file types (the C module's `fuse_valid_type()`).
fn valid_file_type(mode: u32) -> bool {
    matches!(
        mode & bindings::S_IFMT,
        bindings::S_IFREG
            | bindings::S_IFDIR
            | bindings::S_IFLNK
            | bindings::S_IFCHR
            | bindings::S_IFBLK
            | bindings::S_IFIFO
            | bindings::S_IFSOCK
    )
}

/// The options of a mounted connection, checked and completed (kept by the [`Conn`]).
///
/// [`Conn`]: super::conn::Conn
pub(crate) struct MountParams {
    /// The root's file mode.
    pub(crate) rootmode: u32,
    /// The owner of the mount.
    pub(crate) user_id: Kuid,
    /// The group of the mount.
    pub(crate) group_id: Kgid,
    /// The kernel checks permissions.
    pub(crate) default_permissions: bool,
    /// Others may access the mount.
    pub(crate) allow_other: bool,
    /// The largest READ, at least 4096; `u32::MAX` when not limited.
    pub(crate) max_read: u32,
}

impl MountOptions {
    /// The parameters of a mount, or `None` if `rootmode`, `user_id` or `group_id` is
    /// missing (the C module's check in `fuse_fill_super()`).
    pub(crate) fn params(&self) -> Option<MountParams> {
        Some(MountParams {
            rootmode: self.rootmode?,
            user_id: self.user_id?,
            group_id: self.group_id?,
            default_permissions: self.default_permissions,
            allow_other: self.allow_other,
            max_read: self.max_read.max(4096),
        })
    }
}
