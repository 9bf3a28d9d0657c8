// SPDX-License-Identifier: GPL-2.0

//! Extended attributes (the C module's `xattr.c`): GETXATTR, SETXATTR, LISTXATTR and
//! REMOVEXATTR, with size probing; an ENOSYS answer is remembered and becomes `EOPNOTSUPP`.

use super::{
    conn::{Conn, Unsupported},
    dir,
    inode::{self, Inode},
    namei,
    proto::{op, Wire},
    request::{Args, OutSpec},
};
use crate::bindings as b;
use crate::kernel_ext::{
    error::{enosys, eopnotsupp},
    xattr::XattrName,
};
use core::mem::size_of;
use kernel::{prelude::*, str::CStr};

/// The largest attribute value (`XATTR_SIZE_MAX`).
const SIZE_MAX: usize = b::XATTR_SIZE_MAX as usize;
/// The largest name list (`XATTR_LIST_MAX`).
const LIST_MAX: usize = b::XATTR_LIST_MAX as usize;

/// Sends a request that may be answered ENOSYS, which is remembered as `which` and
/// becomes `EOPNOTSUPP`. Once it is remembered, the request is not even built: the VFS
/// asks for `security.capability` on every write to a file system without extended
/// attributes.
fn send_or_unsupported(
    conn: &Conn,
    which: Unsupported,
    args: impl FnOnce() -> Result<Args>,
) -> Result<super::request::Answer> {
    if conn.lacks(which) {
        return Err(eopnotsupp());
    }
    conn.send(args()?).map_err(|e| {
        if e == enosys() {
            conn.set_lacks(which);
            eopnotsupp()
        } else {
            e
        }
    })
}

/// GETXATTR or LISTXATTR: the value (or list) into `buf`, or, for an empty `buf`, its size
/// (C's `fuse_getxattr()` and `fuse_listxattr()`).
fn get(
    inode: &Inode,
    opcode: u32,
    name: Option<&CStr>,
    buf: &mut [u8],
    which: Unsupported,
    max: usize,
) -> Result<usize> {
    let conn = inode::conn(inode);
    let mut inarg = b::fuse_getxattr_in::zeroed();
    inarg.size = buf.len() as u32;
    let out = if buf.is_empty() {
        OutSpec::fixed(size_of::<b::fuse_getxattr_out>())
    } else {
        OutSpec::up_to(buf.len())
    };
    let name = name.map_or(&[][..], |n| n.as_bytes_with_nul());
    let reply = send_or_unsupported(&conn, which, || {
        Args::from_parts(opcode, inode::nodeid(inode), &[inarg.as_bytes(), name], out)
    })?;
    if buf.is_empty() {
        let out: b::fuse_getxattr_out = reply.get();
        return Ok((out.size as usize).min(max));
    }
    let data = reply.data();
    buf[..data.len()].copy_from_slice(data);
    Ok(data.len())
}

/// The `get` of the xattr handler.
pub(crate) fn getxattr(inode: &Inode, name: XattrName<'_>, buf: &mut [u8]) -> Result<usize> {
    inode::check_bad(inode)?;
    // Asked on every write (`file_remove_privs()` looks for `security.capability`): a daemon
    // without xattrs is answered before the name is even measured.
    if inode::conn(inode).lacks(Unsupported::GetXattr) {
        return Err(eopnotsupp());
    }
    get(
        inode,
        op::GETXATTR,
        Some(name.to_cstr()),
        buf,
        Unsupported::GetXattr,
        SIZE_MAX,
    )
}

/// Whether a name list is well formed (C's `fuse_verify_xattr_list()`): non-empty,
/// NUL-terminated names.
fn valid_list(mut list: &[u8]) -> bool {
    while !list.is_empty() {
        match list.iter().position(|&c| c == 0) {
            Some(0) | None => return false,
            Some(n) => list = &list[n + 1..],
        }
    }
    true
}

/// `inode_operations.listxattr` (C's `fuse_listxattr()`).
pub(crate) fn listxattr(inode: &Inode, buf: &mut [u8]) -> Result<usize> {
    inode::check_bad(inode)?;
    if !dir::allow_current_process(&inode::conn(inode)) {
        return Err(EACCES);
    }
    let n = get(
        inode,
        op::LISTXATTR,
        None,
        buf,
        Unsupported::ListXattr,
        LIST_MAX,
    )?;
    if !buf.is_empty() && !valid_list(&buf[..n]) {
        return Err(EIO);
    }
    Ok(n)
}

/// The `set` of the xattr handler: SETXATTR, or REMOVEXATTR without a value (C's
/// `fuse_setxattr()` and `fuse_removexattr()`).
pub(crate) fn setxattr(inode: &Inode, name: &CStr, value: Option<&[u8]>, flags: i32) -> Result {
    inode::check_bad(inode)?;
    let conn = inode::conn(inode);
    let nodeid = inode::nodeid(inode);
    let name = name.as_bytes_with_nul();
    let which = match value {
        Some(_) => Unsupported::SetXattr,
        None => Unsupported::RemoveXattr,
    };
    send_or_unsupported(&conn, which, || match value {
        Some(v) => {
            let mut inarg = b::fuse_setxattr_in::zeroed();
            inarg.size = v.len() as u32;
            inarg.flags = flags as u32;
            let in_size = if conn.neg().setxattr_ext {
                size_of::<b::fuse_setxattr_in>()
            } else {
                b::FUSE_COMPAT_SETXATTR_IN_SIZE as usize
            };
            let parts: [&[u8]; 3] = [&inarg.as_bytes()[..in_size], name, v];
            Args::from_parts(op::SETXATTR, nodeid, &parts, OutSpec::NONE)
        }
        None => Args::from_parts(op::REMOVEXATTR, nodeid, &[name], OutSpec::NONE),
    })?;
    namei::update_ctime(inode);
    Ok(())
}
