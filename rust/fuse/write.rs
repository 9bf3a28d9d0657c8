// SPDX-License-Identifier: GPL-2.0

//! The write side of files (the C module's `file.c`, write-through mode): WRITE requests of
//! up to `max_write` through the page cache or directly (`FOPEN_DIRECT_IO`, O_DIRECT),
//! FSYNC/FSYNCDIR, FALLOCATE, LSEEK for `SEEK_DATA`/`SEEK_HOLE` and COPY_FILE_RANGE.
//!
//! Without the writeback cache every write goes to the daemon before `write(2)` returns.
//! As in the C module, a buffered write is copied into the page cache first and the WRITE
//! carries those pages, so that reading back what was written needs no READ; a direct write
//! goes from the caller's pages and drops the cached pages of its range.

use super::{
    conn::{Negotiated, Unsupported},
    file::FuseFile,
    fs::FuseFs,
    inode::{self, Inode},
    namei,
    proto::{fopen, op, Wire},
    request::{Args, OutSpec},
    writeback,
};
use crate::bindings as b;
use crate::kernel_ext::{
    address_space::GrabbedFolio,
    error::{enosys, eopnotsupp},
    file::{File, Kiocb},
    iov_iter::IovIter,
    task,
};
use core::mem::size_of;
use kernel::{bindings, page::PAGE_SIZE, prelude::*, types::ARef};

/// Size and times changed by a write of `written` bytes ending at `pos` (C's
/// `fuse_write_update_attr()`); returns whether the file grew.
pub(crate) fn write_update_attr(inode: &Inode, pos: i64, written: usize) -> bool {
    let conn = inode::conn(inode);
    let grew = {
        let mut st = inode.data().state.lock();
        st.attr_version = inode::next_attr_version(&conn);
        let grew = written > 0 && pos > inode.size();
        if grew {
            inode.set_size(pos);
        }
        grew
    };
    namei::invalidate_attr_mask(inode, namei::STATX_MODSIZE);
    grew
}

/// The size of the WRITE header as sent (shorter before 7.9).
pub(crate) fn write_in_size(neg: &Negotiated) -> usize {
    if neg.minor < 9 {
        b::FUSE_COMPAT_WRITE_IN_SIZE as usize
    } else {
        size_of::<b::fuse_write_in>()
    }
}

/// The most data one WRITE carries: `max_write`, at most `max_pages` pages, at least one.
pub(crate) fn max_write_bytes(neg: &Negotiated) -> usize {
    (neg.max_write as usize)
        .min(neg.max_pages as usize * PAGE_SIZE)
        .max(PAGE_SIZE)
}

/// The first and last page indexes of the byte range `[pos, pos + len)` (`len` at least 1).
pub(crate) fn page_range(pos: i64, len: usize) -> (u64, u64) {
    let first = pos as u64 / PAGE_SIZE as u64;
    let last = (pos as u64 + len.max(1) as u64 - 1) / PAGE_SIZE as u64;
    (first, last)
}

/// The open flags a WRITE carries (C's `fuse_write_flags()`).
fn write_flags(iocb: &Kiocb) -> u32 {
    let mut flags = iocb.file().flags();
    if iocb.is_dsync() {
        flags |= bindings::O_DSYNC;
    }
    if iocb.is_sync() {
        flags |= bindings::__O_SYNC;
    }
    flags
}

/// Sends WRITEs from `from` at the kiocb's position until it is empty or the daemon writes
/// short; moves the position and returns the bytes written. `direct` writes carry the lock
/// owner (C's `fuse_direct_io()`); others are cut at page boundaries unless the daemon
/// negotiated BIG_WRITES (C's `fuse_fill_write_pages()`).
fn send_writes(ff: &FuseFile, iocb: &mut Kiocb, from: &mut IovIter, direct: bool) -> Result<usize> {
    let conn = ff.conn();
    let neg = conn.neg();
    let max = max_write_bytes(neg);
    let in_size = write_in_size(neg);
    let inode: ARef<Inode> = iocb.file().inode::<FuseFs>().into();
    let inode = &*inode;
    let start = iocb.pos();
    let mut pos = start;
    let mut done = 0usize;
    let mut err = None;
    while from.count() > 0 {
        let mut chunk = from.count().min(max);
        if !direct && !neg.big_writes {
            chunk = chunk.min(PAGE_SIZE - (pos as usize & (PAGE_SIZE - 1)));
        }
        let mut inarg = b::fuse_write_in::zeroed();
        inarg.fh = ff.fh;
        inarg.offset = pos as u64;
        inarg.size = chunk as u32;
        inarg.flags = write_flags(iocb);
        if direct {
            inarg.write_flags |= b::FUSE_WRITE_LOCKOWNER;
            inarg.lock_owner = conn.lock_owner_id(task::current_files());
        }
        if neg.handle_killpriv_v2 && !task::capable_fsetid() {
            inarg.write_flags |= b::FUSE_WRITE_KILL_SUIDGID;
        }
        let mut args = Args::from_parts(
            op::WRITE,
            ff.nodeid,
            &[&inarg.as_bytes()[..in_size]],
            OutSpec::fixed(size_of::<b::fuse_write_out>()),
        )?;
        let (copied, locked) = if direct {
            (args.append_data(from, chunk)?, None)
        } else {
            match fill_cache_pages(inode, &mut args, from, pos, chunk, neg.max_pages as usize) {
                Ok(filled) => filled,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        };
        if copied == 0 {
            err = Some(EFAULT);
            break;
        }
        if copied < chunk {
            inarg.size = copied as u32;
            args.patch(0, &inarg.as_bytes()[..in_size]);
        }
        let answer = conn
            .send(args)
            .map(|r| r.get::<b::fuse_write_out>().size as usize);
        // A page that was not up to date and is written in part stays locked until here.
        drop(locked);
        let kept = match answer {
            Ok(w) if w <= copied => w,
            _ => 0,
        };
        if !direct && kept < copied {
            // What the daemon did not take must not stay in the page cache.
            let (first, last) = page_range(pos + kept as i64, copied - kept);
            let _ = inode.invalidate_pages_range(first, last);
        }
        let written = match answer {
            Ok(w) if w <= copied => w,
            Ok(_) => {
                from.revert(copied);
                err = Some(EIO);
                break;
            }
            Err(e) => {
                from.revert(copied);
                err = Some(e);
                break;
            }
        };
        done += written;
        pos += written as i64;
        if written < copied {
            from.revert(copied - written);
            // A short write through the page cache is an error, as in C; a direct one just
            // ends the write.
            if !direct && written == 0 {
                err = Some(EIO);
            }
            break;
        }
    }
    if direct && done > 0 {
        let (first, last) = page_range(start, done);
        let _ = inode.invalidate_pages_range(first, last);
    }
    iocb.set_pos(pos);
    match err {
        Some(e) if done == 0 => Err(e),
        _ => Ok(done),
    }
}

/// Copies up to `len` bytes of a write-through at `pos` from `from` into the page cache and
/// references those pages as the data of the WRITE in `args` (C's `fuse_fill_write_pages()`):
/// the page cache then holds what was written, and the daemon's read copies it from there.
/// At most `max_pages` pages, ending early where a page is left incomplete. A page written
/// whole becomes up to date; one written in part that was not up to date ends the WRITE and
/// is returned locked, to be released once the WRITE is answered. Returns the bytes copied
/// (0 if the memory behind `from` faults at once).
fn fill_cache_pages(
    inode: &Inode,
    args: &mut Args,
    from: &mut IovIter,
    pos: i64,
    len: usize,
    max_pages: usize,
) -> Result<(usize, Option<GrabbedFolio>)> {
    let mut copied = 0usize;
    let mut pages = 0usize;
    while copied < len && pages < max_pages.max(1) {
        let at = pos + copied as i64;
        let off = at as usize & (PAGE_SIZE - 1);
        let k = (PAGE_SIZE - off).min(len - copied);
        // The copy into a locked folio takes no fault (see `copy_from_iter_atomic`): the
        // memory is faulted in first, and again if it went meanwhile.
        if !from.fault_in_readable(k) {
            break;
        }
        // A WRITE of this page from write-back still in flight goes first (C's
        // `fuse_wait_on_page_writeback()`), waited for with the folio locked, so that no
        // write-back of older data of the page can start after the wait.
        let folio = match inode
            .grab_folio(at as u64 / PAGE_SIZE as u64)
            .and_then(|folio| writeback::wait_page(inode, at).map(|()| folio))
        {
            Ok(folio) => folio,
            Err(e) if copied == 0 => return Err(e),
            Err(_) => break,
        };
        // The page joins the WRITE before the copy, so that the bytes copied into the cache
        // are always sent: a failure here leaves the folio as it was.
        let pages_len = args.data_pages().len();
        if let Err(e) = folio.add_to(args.data_pages(), off, k) {
            args.data_pages().truncate(pages_len);
            return if copied == 0 {
                Err(e)
            } else {
                Ok((copied, None))
            };
        }
        let n = folio.copy_from_iter_atomic(off, k, from);
        if n < k {
            args.data_pages().truncate(pages_len + n);
        }
        if n == 0 {
            continue;
        }
        if off == 0 && n == folio.size() {
            folio.mark_uptodate();
        }
        copied += n;
        pages += 1;
        if !folio.is_uptodate() {
            return Ok((copied, Some(folio)));
        }
        if (off + n) % PAGE_SIZE != 0 {
            break;
        }
    }
    Ok((copied, None))
}

/// `file_operations.write_iter` (C's `fuse_file_write_iter()`): with the writeback cache,
/// through the page cache (C's `fuse_cache_write_iter()`), else write-through.
pub(crate) fn write_iter(ff: &FuseFile, iocb: &mut Kiocb, from: &mut IovIter) -> Result<usize> {
    // A counted reference: the kiocb is borrowed mutably below.
    let inode: ARef<Inode> = iocb.file().inode::<FuseFs>().into();
    let inode = &*inode;
    inode::check_bad(inode)?;
    let direct_io = ff.open_flags & fopen::DIRECT_IO != 0;
    if writeback::is_wb(inode) && !direct_io && !iocb.is_direct() {
        // Fresh size (for O_APPEND and the end-of-file checks) and mode (set-id bits).
        super::file::update_attributes(inode, bindings::STATX_SIZE | bindings::STATX_MODE)?;
        let neg = ff.conn().neg();
        let setid = u32::from(inode.mode()) & (bindings::S_ISUID | bindings::S_ISGID) != 0;
        if !(neg.handle_killpriv_v2 && setid && !task::capable_fsetid()) {
            return iocb.generic_write(from);
        }
        // The daemon must clear the set-id bits with the write: write through.
    }
    let written = {
        let _guard = inode.lock();
        if iocb.write_checks(from)? == 0 {
            return Ok(0);
        }
        // Dirty cached data of the range (a shared mapping, the writeback cache) goes
        // first, so that it cannot overwrite this write later.
        writeback::writeback_range(inode, iocb.pos())?;
        if !direct_io {
            // C's `fuse_cache_write_iter()`: privileges and times first.
            let file = iocb.file();
            file.remove_privs()?;
            file.update_time()?;
            let old_size = inode.size();
            if iocb.pos() > old_size {
                inode.truncate_pagecache_range(old_size, iocb.pos() - 1);
            }
        }
        let direct = direct_io || iocb.is_direct();
        let res = send_writes(ff, iocb, from, direct);
        let written = *res.as_ref().unwrap_or(&0);
        write_update_attr(inode, iocb.pos(), written);
        res?
    };
    if direct_io {
        return Ok(written);
    }
    iocb.write_sync(written)
}

/// `file_operations.fsync` of files and directories (C's `fuse_fsync()` and
/// `fuse_dir_fsync()`): a file's dirty data and times are written and waited for first;
/// then FSYNC or FSYNCDIR; ENOSYS is remembered and then means success.
pub(crate) fn fsync(ff: &FuseFile, file: &File, start: i64, end: i64, datasync: bool) -> Result {
    let inode = file.inode::<FuseFs>();
    inode::check_bad(inode)?;
    let conn = ff.conn();
    let (opcode, which) = if ff.is_dir {
        (op::FSYNCDIR, Unsupported::FsyncDir)
    } else {
        (op::FSYNC, Unsupported::Fsync)
    };
    let _guard = inode.lock();
    if !ff.is_dir {
        file.write_and_wait_range(start, end)?;
        writeback::sync_writes(inode)?;
        // The WRITEs end after the wait above: their errors are seen here (as C).
        file.check_write_error()?;
        inode.sync_metadata(true)?;
    }
    if conn.lacks(which) {
        return Ok(());
    }
    let mut inarg = b::fuse_fsync_in::zeroed();
    inarg.fh = ff.fh;
    if datasync {
        inarg.fsync_flags = b::FUSE_FSYNC_FDATASYNC;
    }
    let args = Args::new(opcode, inode::nodeid(inode), &inarg, OutSpec::NONE)?;
    match conn.send(args) {
        Ok(_) => Ok(()),
        Err(e) if e == enosys() => {
            conn.set_lacks(which);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// `file_operations.fallocate` (C's `fuse_file_fallocate()`): KEEP_SIZE, PUNCH_HOLE and
/// ZERO_RANGE; ENOSYS is remembered as `EOPNOTSUPP`.
pub(crate) fn fallocate(ff: &FuseFile, file: &File, mode: i32, offset: i64, len: i64) -> Result {
    let inode = file.inode::<FuseFs>();
    inode::check_bad(inode)?;
    let conn = ff.conn();
    let mode = mode as u32;
    let keep = b::FALLOC_FL_KEEP_SIZE;
    let ranges = b::FALLOC_FL_PUNCH_HOLE | b::FALLOC_FL_ZERO_RANGE;
    if mode & !(keep | ranges) != 0 || conn.lacks(Unsupported::Fallocate) {
        return Err(eopnotsupp());
    }
    let end = offset.checked_add(len).ok_or(EFBIG)?;
    let _guard = inode.lock();
    if mode & keep == 0 && end > inode.size() {
        inode.newsize_ok(end)?;
    }
    if mode & ranges != 0 {
        // Dirty or in-flight data of the range must not land after it is zeroed (the C
        // module flushes for PUNCH_HOLE only).
        writeback::writeback_range(inode, offset)?;
    }
    file.remove_privs()?;
    file.update_time()?;
    let mut inarg = b::fuse_fallocate_in::zeroed();
    inarg.fh = ff.fh;
    inarg.offset = offset as u64;
    inarg.length = len as u64;
    inarg.mode = mode;
    let args = Args::new(op::FALLOCATE, inode::nodeid(inode), &inarg, OutSpec::NONE)?;
    match conn.send(args) {
        Ok(_) => {}
        Err(e) if e == enosys() => {
            conn.set_lacks(Unsupported::Fallocate);
            return Err(eopnotsupp());
        }
        Err(e) => return Err(e),
    }
    if mode & keep == 0 && write_update_attr(inode, end, len as usize) {
        let _ = file.update_time();
    }
    if mode & ranges != 0 {
        inode.truncate_pagecache_range(offset, end - 1);
    }
    namei::invalidate_attr_mask(inode, namei::STATX_MODSIZE);
    Ok(())
}

/// `SEEK_DATA`/`SEEK_HOLE` (C's `fuse_lseek()`): LSEEK, or, once the daemon answered
/// ENOSYS, the generic answer (all data, a hole at the end) on a fresh size.
pub(crate) fn seek_data_hole(ff: &FuseFile, file: &File, offset: i64, whence: i32) -> Result<i64> {
    let inode = file.inode::<FuseFs>();
    let conn = ff.conn();
    let _guard = inode.lock();
    if !conn.lacks(Unsupported::Lseek) {
        let mut inarg = b::fuse_lseek_in::zeroed();
        inarg.fh = ff.fh;
        inarg.offset = offset as u64;
        inarg.whence = whence as u32;
        let args = Args::new(
            op::LSEEK,
            inode::nodeid(inode),
            &inarg,
            OutSpec::fixed(size_of::<b::fuse_lseek_out>()),
        )?;
        match conn.send(args) {
            Ok(r) => {
                let out: b::fuse_lseek_out = r.get();
                return file.set_pos(out.offset as i64);
            }
            Err(e) if e == enosys() => conn.set_lacks(Unsupported::Lseek),
            Err(e) => return Err(e),
        }
    }
    super::file::update_attributes(inode, bindings::STATX_SIZE)?;
    file.generic_llseek(offset, whence)
}

/// `file_operations.copy_file_range` (C's `fuse_copy_file_range()`): COPY_FILE_RANGE
/// within one mount; otherwise, or once the daemon answered ENOSYS, a copy through the page
/// cache (`splice_copy_file_range()`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn copy_file_range(
    ff_in: &FuseFile,
    file_in: &File,
    pos_in: i64,
    ff_out: &FuseFile,
    file_out: &File,
    pos_out: i64,
    len: usize,
    flags: u32,
) -> Result<usize> {
    match fuse_copy(
        ff_in, file_in, pos_in, ff_out, file_out, pos_out, len, flags,
    ) {
        Err(e) if e == eopnotsupp() || e == EXDEV => {
            file_in.splice_copy_range(pos_in, file_out, pos_out, len)
        }
        r => r,
    }
}

/// The COPY_FILE_RANGE request (C's `__fuse_copy_file_range()`).
#[allow(clippy::too_many_arguments)]
fn fuse_copy(
    ff_in: &FuseFile,
    file_in: &File,
    pos_in: i64,
    ff_out: &FuseFile,
    file_out: &File,
    pos_out: i64,
    len: usize,
    flags: u32,
) -> Result<usize> {
    let conn = ff_in.conn();
    if flags != 0 {
        return Err(EINVAL);
    }
    if conn.lacks(Unsupported::CopyFileRange) {
        return Err(eopnotsupp());
    }
    let (inode_in, inode_out) = (file_in.inode::<FuseFs>(), file_out.inode::<FuseFs>());
    if !core::ptr::eq(inode_in.super_block(), inode_out.super_block()) {
        return Err(EXDEV);
    }
    {
        let _guard = inode_in.lock();
        writeback::writeback_range(inode_in, pos_in)?;
    }
    let _guard = inode_out.lock();
    file_out.remove_privs()?;
    file_out.update_time()?;
    writeback::writeback_range(inode_out, pos_out)?;
    let mut inarg = b::fuse_copy_file_range_in::zeroed();
    inarg.fh_in = ff_in.fh;
    inarg.off_in = pos_in as u64;
    inarg.nodeid_out = ff_out.nodeid;
    inarg.fh_out = ff_out.fh;
    inarg.off_out = pos_out as u64;
    inarg.len = len as u64;
    let args = Args::new(
        op::COPY_FILE_RANGE,
        ff_in.nodeid,
        &inarg,
        OutSpec::fixed(size_of::<b::fuse_write_out>()),
    )?;
    let out: b::fuse_write_out = match conn.send(args) {
        Ok(r) => r.get(),
        Err(e) if e == enosys() => {
            conn.set_lacks(Unsupported::CopyFileRange);
            return Err(eopnotsupp());
        }
        Err(e) => return Err(e),
    };
    let n = out.size as usize;
    if n > len {
        return Err(EIO);
    }
    if n > 0 {
        let (first, last) = page_range(pos_out, n);
        let _ = inode_out.invalidate_pages_range(first, last);
    }
    write_update_attr(inode_out, pos_out + n as i64, n);
    Ok(n)
}
