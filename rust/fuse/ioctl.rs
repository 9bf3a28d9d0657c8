// SPDX-License-Identifier: GPL-2.0

//! ioctls on files and directories (the C module's `ioctl.c`), restricted as for every
//! `fuse` mount (only CUSE may be unrestricted): the argument sizes come from the command's
//! encoding, one buffer at `arg` in each direction; a daemon that asks for a retry with
//! other buffers gets `EIO`.

use super::{
    dir,
    file::FuseFile,
    fs::FuseFs,
    inode,
    proto::{op, Wire},
    request::{Args, OutSpec},
};
use crate::bindings as b;
use crate::kernel_ext::{error::enosys, file::File};
use core::mem::size_of;
use kernel::{ffi::c_long, page::PAGE_SIZE, prelude::*, uaccess::UserSlice};

/// `_IOC_SIZE(cmd)`.
fn ioc_size(cmd: u32) -> usize {
    ((cmd >> 16) & 0x3fff) as usize
}

/// `_IOC_DIR(cmd)` has `_IOC_WRITE` (the caller passes data in).
fn ioc_write(cmd: u32) -> bool {
    (cmd >> 30) & 1 != 0
}

/// `_IOC_DIR(cmd)` has `_IOC_READ` (the caller gets data back).
fn ioc_read(cmd: u32) -> bool {
    (cmd >> 30) & 2 != 0
}

/// `file_operations.unlocked_ioctl` and `compat_ioctl` (C's `fuse_ioctl_common()` and
/// `fuse_do_ioctl()` without `FUSE_IOCTL_UNRESTRICTED`).
pub(crate) fn ioctl(
    ff: &FuseFile,
    file: &File,
    cmd: u32,
    arg: usize,
    compat: bool,
) -> Result<c_long> {
    let inode = file.inode::<FuseFs>();
    let conn = ff.conn();
    if !dir::allow_current_process(conn) {
        return Err(EACCES);
    }
    inode::check_bad(inode)?;
    let mut flags = 0;
    if ff.is_dir {
        if conn.neg().minor < 18 {
            return Err(ENOTTY);
        }
        flags |= b::FUSE_IOCTL_DIR;
    }
    // A 32-bit caller's pointer (`compat_ptr()`).
    let arg = if compat {
        flags |= b::FUSE_IOCTL_COMPAT;
        arg & 0xffff_ffff
    } else {
        arg
    };
    let size = if cmd == b::FS_IOC_GETFLAGS || cmd == b::FS_IOC_SETFLAGS {
        size_of::<i32>()
    } else {
        ioc_size(cmd)
    };
    let in_size = if ioc_write(cmd) { size } else { 0 };
    let out_size = if ioc_read(cmd) { size } else { 0 };
    let max = conn.neg().max_pages as usize * PAGE_SIZE;
    if in_size > max || out_size > max {
        return Err(ENOMEM);
    }
    let mut inarg = b::fuse_ioctl_in::zeroed();
    inarg.fh = ff.fh;
    inarg.flags = flags;
    inarg.cmd = cmd;
    inarg.arg = arg as u64;
    inarg.in_size = in_size as u32;
    inarg.out_size = out_size as u32;
    let mut data = KVec::from_elem(0u8, in_size, GFP_KERNEL)?;
    if in_size > 0 {
        UserSlice::new(arg, in_size)
            .reader()
            .read_slice(&mut data)?;
    }
    let head = size_of::<b::fuse_ioctl_out>();
    let args = Args::from_parts(
        op::IOCTL,
        ff.nodeid,
        &[inarg.as_bytes(), &data],
        OutSpec {
            size: head + out_size,
            var_last: Some(out_size),
        },
    )?;
    // ENOSYS must not reach the caller of an ioctl: it means "no such ioctl" (ENOTTY).
    let reply = conn
        .send(args)
        .map_err(|e| if e == enosys() { ENOTTY } else { e })?;
    let out = b::fuse_ioctl_out::from_prefix(reply.data());
    if out.flags & b::FUSE_IOCTL_RETRY != 0 {
        return Err(EIO);
    }
    let payload = reply.data().get(head..).unwrap_or(&[]);
    if payload.len() > out_size {
        return Err(EIO);
    }
    if !payload.is_empty() {
        UserSlice::new(arg, payload.len())
            .writer()
            .write_slice(payload)?;
    }
    if out.result == enosys().to_errno() {
        return Err(ENOTTY);
    }
    Ok(out.result as c_long)
}
