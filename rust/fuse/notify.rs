// SPDX-License-Identifier: GPL-2.0

//! Notifications from the daemon (the C module's `fuse_notify()`): a write to `/dev/fuse`
//! with unique 0 whose error field is the code. Each is checked like a reply (exact sizes,
//! name lengths) before it touches a cache: POLL wakes pollers, INVAL_INODE drops cached
//! attributes and pages, INVAL_ENTRY (optionally only expiring, `FUSE_EXPIRE_ONLY`) and
//! DELETE drop cached names, STORE fills the page cache, RETRIEVE sends cached data back.

use super::{
    conn::Conn,
    fs::FuseFs,
    inode::{self, Inode},
    namei,
    proto::{self, op, Wire},
    request::{Args, OutSpec, RequestEnd},
};
use crate::bindings as b;
use crate::kernel_ext::{
    error::{enametoolong, enobufs, enotempty},
    iov_iter::IovIter,
    super_block::SuperBlock,
};
use core::{mem::size_of, sync::atomic::Ordering};
use kernel::{bindings, page::PAGE_SIZE, prelude::*, sync::Arc};

/// Reads a notification's fixed part, which must be exactly `size` bytes of `T` (the rest
/// of the write, if `tail` allows one).
fn read_arg<T: Wire>(from: &mut IovIter, len: usize, tail: bool) -> Result<T> {
    let n = size_of::<T>();
    if len < n || (!tail && len != n) {
        return Err(EINVAL);
    }
    let mut raw = KVec::from_elem(0u8, n, GFP_KERNEL)?;
    from.copy_all_from(&mut raw)?;
    Ok(T::from_prefix(&raw))
}

/// Reads a name of `namelen` bytes followed by its NUL, which must end the write.
fn read_name(from: &mut IovIter, len: usize, namelen: u32) -> Result<KVec<u8>> {
    let namelen = namelen as usize;
    if namelen > proto::NAME_MAX {
        return Err(enametoolong());
    }
    if len != namelen + 1 {
        return Err(EINVAL);
    }
    let mut name = KVec::from_elem(0u8, namelen, GFP_KERNEL)?;
    from.copy_all_from(&mut name)?;
    // The terminator is read and ignored, as the C module overwrites it.
    from.copy_all_from(&mut [0u8; 1])?;
    Ok(name)
}

/// Handles one notification of `len` payload bytes (after the header).
pub(crate) fn notify(conn: &Conn, code: i32, from: &mut IovIter, len: usize) -> Result {
    let sb = &conn.sb;
    match code as u32 {
        b::fuse_notify_code_FUSE_NOTIFY_POLL => {
            let out: b::fuse_notify_poll_wakeup_out = read_arg(from, len, false)?;
            conn.poll_wakeup(out.kh);
            Ok(())
        }
        b::fuse_notify_code_FUSE_NOTIFY_INVAL_INODE => {
            let out: b::fuse_notify_inval_inode_out = read_arg(from, len, false)?;
            sb.with(|sb| inval_inode(sb, out.ino, out.off as i64, out.len as i64))
                .unwrap_or(Err(ENOENT))
        }
        b::fuse_notify_code_FUSE_NOTIFY_INVAL_ENTRY => {
            let out: b::fuse_notify_inval_entry_out = read_arg(from, len, true)?;
            let rest = len - size_of::<b::fuse_notify_inval_entry_out>();
            let name = read_name(from, rest, out.namelen)?;
            sb.with(|sb| inval_entry(sb, out.parent, 0, &name, out.flags))
                .unwrap_or(Err(ENOENT))
        }
        b::fuse_notify_code_FUSE_NOTIFY_DELETE => {
            let out: b::fuse_notify_delete_out = read_arg(from, len, true)?;
            let rest = len - size_of::<b::fuse_notify_delete_out>();
            let name = read_name(from, rest, out.namelen)?;
            sb.with(|sb| inval_entry(sb, out.parent, out.child, &name, 0))
                .unwrap_or(Err(ENOENT))
        }
        b::fuse_notify_code_FUSE_NOTIFY_STORE => {
            let out: b::fuse_notify_store_out = read_arg(from, len, true)?;
            if len - size_of::<b::fuse_notify_store_out>() != out.size as usize {
                return Err(EINVAL);
            }
            sb.with(|sb| store(sb, &out, from)).unwrap_or(Err(ENOENT))
        }
        b::fuse_notify_code_FUSE_NOTIFY_RETRIEVE => {
            let out: b::fuse_notify_retrieve_out = read_arg(from, len, false)?;
            sb.with(|sb| retrieve(conn, sb, &out))
                .unwrap_or(Err(ENOENT))
        }
        b::fuse_notify_code_FUSE_NOTIFY_RESEND => {
            // No argument (C reads none either).
            conn.resend();
            Ok(())
        }
        _ => Err(EINVAL),
    }
}

/// STORE (C's `fuse_notify_store()`): the daemon's data goes into the page cache of a
/// regular file, growing its size if it ends beyond it; a page filled from its start to its
/// end (or to the end of the file) becomes up to date.
fn store(sb: &SuperBlock<FuseFs>, out: &b::fuse_notify_store_out, from: &mut IovIter) -> Result {
    let i = ilookup(sb, out.nodeid).ok_or(ENOENT)?;
    if i.file_type() != bindings::S_IFREG {
        return Err(EINVAL);
    }
    let start = i64::try_from(out.offset).map_err(|_| EINVAL)?;
    let end = start.checked_add(i64::from(out.size)).ok_or(EINVAL)?;
    let mut file_size = i.size();
    if end > file_size {
        file_size = end;
        super::write::write_update_attr(&i, end, out.size as usize);
    }
    let mut buf = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
    let mut pos = start;
    while pos < end {
        let folio = i.grab_folio(pos as u64 / PAGE_SIZE as u64)?;
        let off = (pos - folio.pos()) as usize;
        let this = ((end - pos) as usize)
            .min(folio.size() - off)
            .min(PAGE_SIZE);
        from.copy_all_from(&mut buf[..this])?;
        folio.write(off, &buf[..this]);
        if !folio.is_uptodate() && off == 0 && (this == folio.size() || file_size == end) {
            folio.zero_tail_and_mark_uptodate(this);
        }
        pos += this as i64;
    }
    Ok(())
}

/// The most answers to NOTIFY_RETRIEVE a connection keeps queued for the daemon: each holds
/// up to `max_pages` pages of the page cache, and a daemon that asks without reading must not
/// make the kernel hold memory without bound. Past it, RETRIEVE fails with `ENOBUFS`.
const MAX_RETRIEVES_QUEUED: u32 = 64;

/// The place of one queued NOTIFY_REPLY among [`MAX_RETRIEVES_QUEUED`], given back when the
/// daemon has read it (or the connection ends it).
struct RetrieveSlot;

impl RetrieveSlot {
    /// Takes a place, or fails with `ENOBUFS` when every place is taken.
    fn take(conn: &Conn) -> Result {
        conn.retrieves_queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_RETRIEVES_QUEUED).then_some(n + 1)
            })
            .map(|_| ())
            .map_err(|_| enobufs())
    }

    fn give_back(conn: &Conn) {
        conn.retrieves_queued.fetch_sub(1, Ordering::AcqRel);
    }
}

impl RequestEnd for RetrieveSlot {
    fn end(&self, conn: &Conn, _result: core::result::Result<&[u8], i32>) {
        Self::give_back(conn);
    }
}

/// RETRIEVE (C's `fuse_retrieve()`): the cached pages of a range (up to `max_write` bytes and
/// `max_pages` pages, stopping at the first page not cached) go back to the daemon in a
/// NOTIFY_REPLY, by reference, as C sends them.
fn retrieve(conn: &Conn, sb: &SuperBlock<FuseFs>, out: &b::fuse_notify_retrieve_out) -> Result {
    let i = ilookup(sb, out.nodeid).ok_or(ENOENT)?;
    RetrieveSlot::take(conn)?;
    let end: Arc<dyn RequestEnd> = match Arc::new(RetrieveSlot, GFP_KERNEL) {
        Ok(end) => end,
        Err(e) => {
            RetrieveSlot::give_back(conn);
            return Err(e.into());
        }
    };
    let args = match retrieve_args(conn, &i, out) {
        Ok(args) => args,
        Err(e) => {
            end.end(conn, Err(e.to_errno()));
            return Err(e);
        }
    };
    conn.send_noreply(args, Some(end))
}

/// The NOTIFY_REPLY of a RETRIEVE: its header, then references to the cached pages.
fn retrieve_args(conn: &Conn, i: &Inode, out: &b::fuse_notify_retrieve_out) -> Result<Args> {
    let neg = conn.neg();
    let size = i.size().max(0) as u64;
    let num = if out.offset > size {
        0
    } else {
        u64::from(out.size.min(neg.max_write)).min(size - out.offset)
    };
    let page = PAGE_SIZE as u64;
    let max_pages = u64::from(neg.max_pages);
    let mut inarg = b::fuse_notify_retrieve_in::zeroed();
    inarg.offset = out.offset;
    let mut args = Args::from_parts(
        op::NOTIFY_REPLY,
        out.nodeid,
        &[inarg.as_bytes()],
        OutSpec::NONE,
    )?;
    let mut pos = out.offset;
    let end = out.offset + num;
    let mut pages = 0;
    while pos < end && pages < max_pages {
        let Some(folio) = i.cached_folio(pos / page) else {
            break;
        };
        let off = pos.saturating_sub(folio.pos() as u64) as usize;
        let this = ((end - pos) as usize).min(PAGE_SIZE - (pos % page) as usize);
        let before = args.data_pages().len();
        folio.add_to(args.data_pages(), off, this)?;
        let got = args.data_pages().len() - before;
        pos += got as u64;
        if got < this {
            break;
        }
        pages += 1;
    }
    // CAST: at most `max_write`, a `u32`.
    inarg.size = (pos - out.offset) as u32;
    args.patch(0, inarg.as_bytes());
    args.noreply = true;
    args.reply_unique = out.notify_unique;
    Ok(args)
}

/// The cached inode of `nodeid`, if any (C's `fuse_ilookup()`).
fn ilookup(sb: &SuperBlock<FuseFs>, nodeid: u64) -> Option<kernel::types::ARef<Inode>> {
    sb.find_inode(nodeid, nodeid)
}

/// INVAL_INODE (C's `fuse_reverse_inval_inode()`): the attributes expire, and the cached
/// pages from `off` (`len` bytes, or to the end if `len` is not positive) are dropped; a
/// negative `off` keeps the pages.
fn inval_inode(sb: &SuperBlock<FuseFs>, nodeid: u64, off: i64, len: i64) -> Result {
    let i = ilookup(sb, nodeid).ok_or(ENOENT)?;
    let conn = inode::conn(&i);
    i.data().state.lock().attr_version = inode::next_attr_version(&conn);
    namei::invalidate_attr(&i);
    if off >= 0 {
        let first = off as u64 / PAGE_SIZE as u64;
        let last = if len <= 0 {
            u64::MAX
        } else {
            (off as u64).saturating_add(len as u64 - 1) / PAGE_SIZE as u64
        };
        let _ = i.invalidate_pages_range(first, last);
    }
    Ok(())
}

/// INVAL_ENTRY and DELETE (C's `fuse_reverse_inval_entry()`): the cached entry `name` of
/// directory `parent` expires and, unless `FUSE_EXPIRE_ONLY`, is unhashed; for DELETE
/// (`child` not 0) it must name `child`, and is deleted.
fn inval_entry(
    sb: &SuperBlock<FuseFs>,
    parent: u64,
    child: u64,
    name: &[u8],
    flags: u32,
) -> Result {
    let dir = ilookup(sb, parent).ok_or(ENOENT)?;
    let _guard = dir.lock_parent();
    if dir.file_type() != bindings::S_IFDIR {
        return Err(ENOTDIR);
    }
    let alias = dir.find_alias().ok_or(ENOENT)?;
    let entry = alias.lookup_child(name).ok_or(ENOENT)?;
    drop(alias);
    namei::dir_changed(&dir);
    if flags & b::FUSE_EXPIRE_ONLY == 0 {
        entry.invalidate();
    }
    namei::invalidate_entry_cache(&entry);
    let Some(i) = entry.inode().filter(|_| child != 0) else {
        return Ok(());
    };
    {
        let _child_guard = i.lock();
        if inode::nodeid(i) != child {
            return Err(ENOENT);
        }
        if entry.is_mountpoint() {
            return Err(EBUSY);
        }
        if i.file_type() == bindings::S_IFDIR {
            entry.shrink_children();
            if !entry.has_no_children() {
                return Err(enotempty());
            }
            i.mark_dead();
        }
        i.unlinked(true);
    }
    entry.delete();
    Ok(())
}
