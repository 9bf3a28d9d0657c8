// SPDX-License-Identifier: GPL-2.0

//! Directory listings (the C module's `readdir.c`): READDIR or, when negotiated,
//! READDIRPLUS (entries with their lookup replies, linked into the dentry and inode caches),
//! one page of entries at a time, each entry checked before it reaches the caller.

use super::{
    conn::Conn,
    dir,
    file::{self, FuseFile},
    fs::FuseFs,
    inode::{self, Inode},
    proto::{self, op, Wire},
};
use crate::bindings as b;
use crate::kernel_ext::{
    dentry::Child,
    file::{DirEmitter, File},
    wait::wait_queue,
};
use core::{mem::size_of, sync::atomic::Ordering};
use kernel::{page::PAGE_SIZE, prelude::*, stack_pin_init};

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
    if use_readdirplus(&conn, inode, ctx) {
        let attr_version = inode::attr_version(&conn);
        let evict = inode::evict_ctr(&conn);
        let args = file::read_args(ff, op::READDIRPLUS, ctx.pos(), PAGE_SIZE)?;
        let reply = conn.send(args)?;
        return parse_direntplus(&conn, reply.data(), file, ctx, attr_version, evict);
    }
    let args = file::read_args(ff, op::READDIR, ctx.pos(), PAGE_SIZE)?;
    let reply = conn.send(args)?;
    parse_dirents(reply.data(), ctx)
}

/// Whether to list with READDIRPLUS (C's `fuse_use_readdirplus()`): always if negotiated,
/// unless READDIRPLUS_AUTO, which uses it for the first page and after a lookup in the
/// directory found something.
fn use_readdirplus(conn: &Conn, dir: &Inode, ctx: &DirEmitter) -> bool {
    let neg = conn.neg();
    if !neg.do_readdirplus {
        return false;
    }
    if !neg.readdirplus_auto {
        return true;
    }
    dir.data().advise_rdplus.swap(false, Ordering::AcqRel) || ctx.pos() == 0
}

/// The offset of the name in a `fuse_direntplus` (`FUSE_NAME_OFFSET_DIRENTPLUS`).
const PLUS_NAME_OFFSET: usize = size_of::<b::fuse_entry_out>() + NAME_OFFSET;

/// Emits the entries of a READDIRPLUS reply and links each into the caches (C's
/// `parse_dirplusfile()`): entries that do not fit the caller's buffer are still linked, and
/// one that cannot be linked is forgotten again (the daemon counted a lookup).
fn parse_direntplus(
    conn: &Conn,
    mut buf: &[u8],
    file: &File,
    ctx: &mut DirEmitter,
    attr_version: u64,
    evict: u64,
) -> Result {
    let mut over = false;
    while buf.len() >= PLUS_NAME_OFFSET {
        let dp = b::fuse_direntplus::from_prefix(buf);
        let namelen = dp.dirent.namelen as usize;
        if namelen == 0 || namelen > proto::NAME_MAX {
            return Err(EIO);
        }
        let reclen = (PLUS_NAME_OFFSET + namelen + 7) & !7;
        if reclen > buf.len() {
            break;
        }
        let name = &buf[PLUS_NAME_OFFSET..PLUS_NAME_OFFSET + namelen];
        if name.contains(&b'/') {
            return Err(EIO);
        }
        if !over {
            over = !ctx.emit(name, dp.dirent.ino, dp.dirent.type_);
            if !over {
                ctx.set_pos(dp.dirent.off as i64);
            }
        }
        buf = &buf[reclen..];
        if link(file, &dp.entry_out, name, attr_version, evict).is_err() {
            if let Ok(slot) = Conn::forget_slot() {
                conn.queue_forget(slot, dp.entry_out.nodeid, 1);
            }
        }
    }
    Ok(())
}

/// Links one READDIRPLUS entry into the dentry and inode caches (C's
/// `fuse_direntplus_link()`).
fn link(file: &File, o: &b::fuse_entry_out, name: &[u8], attr_version: u64, evict: u64) -> Result {
    // Node id 0: the daemon gives no attributes for this entry, which is fine.
    if o.nodeid == 0 || name == b"." || name == b".." {
        return Ok(());
    }
    if o.nodeid == proto::ROOT_ID || inode::invalid_attr(&o.attr) {
        return Err(EIO);
    }
    let parent = file.dentry::<FuseFs>();
    let sb = parent.super_block();
    let attr_valid = inode::time_to_jiffies(o.attr_valid, o.attr_valid_nsec);
    stack_pin_init!(let wq = wait_queue!("fuse_readdirplus.wq"));
    let dentry = loop {
        match parent.find_or_alloc_child(name, &wq)? {
            Child::Cached(d) => {
                let inode = d.inode().filter(|i| inode::nodeid(i) == o.nodeid);
                let stale = match inode {
                    None => true,
                    Some(i) => {
                        u64::from(i.generation()) != o.generation
                            || inode::wrong_type(i, o.attr.mode)
                    }
                };
                if stale {
                    if let Some(i) = inode {
                        inode::make_bad(i);
                    }
                    d.invalidate();
                    continue;
                }
                let Some(i) = inode else {
                    return Err(EIO);
                };
                inode::check_bad(i)?;
                i.data().state.lock().nlookup += 1;
                inode::change_attributes(i, &o.attr, None, attr_valid, attr_version, 0);
                break d;
            }
            Child::InLookup(l) => {
                let i = inode::iget(
                    sb,
                    o.nodeid,
                    o.generation,
                    &o.attr,
                    attr_valid,
                    attr_version,
                    evict,
                )?;
                let keep = i.clone();
                match l.splice(i) {
                    Ok(d) => {
                        let _ = inode::reserve_forget(&keep);
                        break d;
                    }
                    Err(e) => {
                        let mut st = keep.data().state.lock();
                        st.nlookup = st.nlookup.saturating_sub(1);
                        return Err(e);
                    }
                }
            }
        }
    };
    if let Some(i) = dentry.inode() {
        if inode::conn(i).neg().readdirplus_auto {
            i.data().init_rdplus.store(true, Ordering::Release);
        }
    }
    dir::set_entry_timeout(&dentry, o);
    Ok(())
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
