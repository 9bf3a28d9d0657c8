// SPDX-License-Identifier: GPL-2.0

//! Directory listings (the C module's `readdir.c`): READDIR, one page of entries at a time,
//! each entry checked before it reaches the caller.
//!
//! READDIRPLUS (entries with their attributes, linked into the dentry cache) is not offered
//! to the daemon yet, so listings use READDIR, as the C module does with daemons that do not
//! negotiate it.

use super::{
    file::{self, FuseFile},
    fs::FuseFs,
    inode,
    proto::{self, op, Wire},
};
use crate::bindings as b;
use crate::kernel_ext::file::{DirEmitter, File};
use core::mem::size_of;
use kernel::{page::PAGE_SIZE, prelude::*};

/// The offset of the name in a `fuse_dirent` (`FUSE_NAME_OFFSET`).
const NAME_OFFSET: usize = size_of::<b::fuse_dirent>();

/// The size of a `fuse_dirent` with a name of `namelen` bytes, 8-byte aligned
/// (`FUSE_DIRENT_SIZE`).
fn dirent_size(namelen: usize) -> usize {
    (NAME_OFFSET + namelen + 7) & !7
}

/// `file_operations.iterate_shared` (C's `fuse_readdir()`).
pub(crate) fn readdir(ff: &FuseFile, file: &File, ctx: &mut DirEmitter) -> Result {
    let inode = file.inode::<FuseFs>();
    inode::check_bad(inode)?;
    let _guard = ff.readdir_lock.lock();
    let conn = inode::conn(inode);
    let args = file::readdir_args(ff, op::READDIR, ctx.pos(), PAGE_SIZE)?;
    let reply = conn.send(args)?;
    parse_dirents(reply.data(), ctx)
}

/// Emits the entries of a READDIR reply (C's `parse_dirfile()`): a zero or too long name
/// length, or a name with `/`, is a protocol error (`EIO`); a truncated last entry ends the
/// page.
fn parse_dirents(mut buf: &[u8], ctx: &mut DirEmitter) -> Result {
    while buf.len() >= NAME_OFFSET {
        let d = b::fuse_dirent::from_prefix(buf);
        let namelen = d.namelen as usize;
        if namelen == 0 || namelen > proto::NAME_MAX {
            return Err(EIO);
        }
        let reclen = dirent_size(namelen);
        if reclen > buf.len() {
            break;
        }
        let name = &buf[NAME_OFFSET..NAME_OFFSET + namelen];
        if name.contains(&b'/') {
            return Err(EIO);
        }
        if !ctx.emit(name, d.ino, d.type_) {
            break;
        }
        buf = &buf[reclen..];
        ctx.set_pos(d.off as i64);
    }
    Ok(())
}
