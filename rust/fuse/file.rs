// SPDX-License-Identifier: GPL-2.0

//! Open files and the read data path (the C module's `file.c`): OPEN/OPENDIR, RELEASE,
//! FLUSH, reads through the page cache (`read_folio`, readahead with asynchronous READs in
//! the background queue when the daemon allows them) and `FOPEN_DIRECT_IO` reads.

use super::{
    conn::{Conn, Unsupported},
    dir,
    fs::FuseFs,
    inode::{self, Inode},
    proto::{fopen, op, Wire},
    request::{Args, OutSpec, RequestEnd},
    writeback,
};
use crate::bindings as b;
use crate::kernel_ext::{
    address_space::{LockedFolio, Readahead},
    error::enosys,
    file::{File, Kiocb},
    fs_file,
    iov_iter::{IovIter, IterPages},
    spinlock::{new_spinlock, SpinLock},
    wait::{wait_queue, WaitQueue},
};
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use kernel::{
    bindings, new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::{Arc, Mutex},
    types::ARef,
};

/// An open file or directory (the C module's `struct fuse_file`).
#[pin_data(PinnedDrop)]
pub(crate) struct FuseFile {
    conn: Arc<Conn>,
    pub(crate) nodeid: u64,
    pub(crate) fh: u64,
    pub(crate) open_flags: u32,
    /// The file's open flags, sent with READ and RELEASE.
    pub(crate) f_flags: u32,
    pub(crate) is_dir: bool,
    /// Send RELEASE/RELEASEDIR when the last reference goes.
    release: AtomicBool,
    /// `flock()` locks were taken through the daemon: RELEASE unlocks them
    /// (`FUSE_RELEASE_FLOCK_UNLOCK`).
    pub(crate) flock: AtomicBool,
    /// The lock owner of the closing file, for RELEASE.
    release_owner: AtomicU64,
    /// The key the daemon's poll notifications name this file by (C's `ff->kh`).
    pub(crate) kh: u64,
    /// The inode, kept from `release` until RELEASE is answered.
    #[pin]
    inode: SpinLock<Option<ARef<Inode>>>,
    /// Pollers of the file, woken by the daemon's poll notification.
    #[pin]
    pub(crate) poll_wait: WaitQueue,
    /// Serialises directory listings (C's `ff->readdir.lock`).
    #[pin]
    pub(crate) readdir_lock: Mutex<()>,
}

#[pinned_drop]
impl PinnedDrop for FuseFile {
    fn drop(self: Pin<&mut Self>) {
        if !self.release.load(Ordering::Acquire) {
            return;
        }
        // The C module's `fuse_file_put()`: RELEASE goes in the background, forced.
        let mut inarg = b::fuse_release_in::zeroed();
        inarg.fh = self.fh;
        inarg.flags = self.f_flags;
        if self.flock.load(Ordering::Acquire) {
            inarg.release_flags |= b::FUSE_RELEASE_FLOCK_UNLOCK;
            inarg.lock_owner = self.release_owner.load(Ordering::Acquire);
        }
        let opcode = if self.is_dir {
            op::RELEASEDIR
        } else {
            op::RELEASE
        };
        // The inode stays until the daemon answered, so that its FORGET cannot overtake
        // the RELEASE (C's `igrab()` in `fuse_prepare_release()`).
        let inode = self.inode.lock().take();
        if let Ok(mut args) = Args::new(opcode, self.nodeid, &inarg, OutSpec::NONE) {
            args.force = true;
            // No ids: the task closing the file may be anyone (C's `nocreds`).
            args.nocreds = true;
            let end = Arc::pin_init(
                pin_init!(ReleaseEnd {
                    inode <- new_spinlock!(inode),
                }),
                GFP_KERNEL,
            );
            if let Ok(end) = end {
                let end: Arc<dyn RequestEnd> = end;
                self.conn.send_background(args, end);
            }
        }
    }
}

/// The end step of RELEASE: drops the inode it kept.
#[pin_data]
struct ReleaseEnd {
    #[pin]
    inode: SpinLock<Option<ARef<Inode>>>,
}

impl RequestEnd for ReleaseEnd {
    fn end(&self, _conn: &Conn, _result: core::result::Result<&[u8], i32>) {
        let inode = self.inode.lock().take();
        drop(inode);
    }
}

/// `file_operations.open` of files and directories (C's `fuse_open()`, `fuse_dir_open()`).
pub(crate) fn open(inode: &Inode, file: &File) -> Result<Arc<FuseFile>> {
    inode::check_bad(inode)?;
    let conn = inode::conn(inode);
    let is_dir = inode.file_type() == bindings::S_IFDIR;
    let f_flags = file.flags();
    let nodeid = inode::nodeid(inode);
    let (may_open, opcode) = if is_dir {
        (!conn.lacks(Unsupported::OpenDir), op::OPENDIR)
    } else {
        (!conn.lacks(Unsupported::Open), op::OPEN)
    };
    let mut fh = 0;
    let mut open_flags = fopen::KEEP_CACHE;
    let mut release = !is_dir || may_open;
    if may_open {
        let mut inarg = b::fuse_open_in::zeroed();
        let mut flags = f_flags & !(bindings::O_CREAT | bindings::O_EXCL | bindings::O_NOCTTY);
        if !conn.neg().atomic_o_trunc {
            flags &= !bindings::O_TRUNC;
        }
        inarg.flags = flags;
        let args = Args::new(
            opcode,
            nodeid,
            &inarg,
            OutSpec::fixed(core::mem::size_of::<b::fuse_open_out>()),
        )?;
        match conn.send(args) {
            Ok(r) => {
                let out: b::fuse_open_out = r.get();
                fh = out.fh;
                open_flags = out.open_flags;
            }
            Err(e) if e == enosys() => {
                if is_dir {
                    conn.set_lacks(Unsupported::OpenDir);
                    release = false;
                } else {
                    conn.set_lacks(Unsupported::Open);
                }
            }
            Err(e) => return Err(e),
        }
    }
    if is_dir {
        open_flags &= !fopen::DIRECT_IO;
    }
    // A file opened without OPEN support is released without RELEASE.
    if !is_dir && conn.lacks(Unsupported::Open) {
        release = false;
    }
    let ff = FuseFile::new(
        conn.into(),
        nodeid,
        fh,
        open_flags,
        f_flags,
        is_dir,
        release,
    )?;
    finish_open(inode, &ff, file);
    Ok(ff)
}

/// The open steps after the daemon's answer (C's `fuse_finish_open()`): stream and
/// non-seekable files, O_DIRECT, and the page cache kept or dropped.
pub(crate) fn finish_open(inode: &Inode, ff: &FuseFile, file: &File) {
    if ff.open_flags & fopen::STREAM != 0 {
        file.stream_open();
    } else if ff.open_flags & fopen::NONSEEKABLE != 0 {
        file.nonseekable_open();
    }
    if ff.is_dir {
        return;
    }
    file.allow_odirect();
    let trunc = file.flags() & bindings::O_TRUNC != 0;
    if ff.conn.neg().atomic_o_trunc && trunc {
        // The daemon truncated the file at OPEN.
        {
            let mut st = inode.data().state.lock();
            st.attr_version = inode::next_attr_version(&ff.conn);
            inode.set_size(0);
        }
        super::namei::invalidate_attr_mask(inode, super::namei::STATX_MODSIZE);
        inode.truncate_pagecache(0);
    } else if ff.open_flags & fopen::KEEP_CACHE == 0 {
        let _ = inode.invalidate_pages();
    }
}

impl FuseFile {
    /// The state of a file the daemon opened with handle `fh` (C's `fuse_file_alloc()`).
    pub(crate) fn new(
        conn: Arc<Conn>,
        nodeid: u64,
        fh: u64,
        open_flags: u32,
        f_flags: u32,
        is_dir: bool,
        release: bool,
    ) -> Result<Arc<FuseFile>> {
        let kh = conn.next_kh();
        Arc::pin_init(
            pin_init!(FuseFile {
                conn,
                nodeid,
                fh,
                open_flags,
                f_flags,
                is_dir,
                release: AtomicBool::new(release),
                flock: AtomicBool::new(false),
                release_owner: AtomicU64::new(0),
                kh,
                inode <- new_spinlock!(None),
                poll_wait <- wait_queue!("fuse_file.poll_wait"),
                readdir_lock <- new_mutex!(()),
            }),
            GFP_KERNEL,
        )
    }

    /// The connection.
    pub(crate) fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }
}

/// `file_operations.release`: dropping the last reference sends RELEASE (see `FuseFile`),
/// with the closing file as the owner of its `flock()` locks.
pub(crate) fn release(inode: &Inode, ff: Arc<FuseFile>, file: &File) {
    writeback::unlink_write_file(inode, &ff);
    ff.conn.poll_forget(ff.kh);
    *ff.inode.lock() = Some(inode.into());
    if ff.flock.load(Ordering::Acquire) {
        let owner = ff.conn.lock_owner_id(file.as_raw() as usize);
        ff.release_owner.store(owner, Ordering::Release);
    }
    drop(ff);
}

/// `file_operations.flush` on `close(2)` (C's `fuse_flush()`): dirty data is written and
/// waited for, then FLUSH is sent; ENOSYS is remembered. `FOPEN_NOFLUSH` skips it all
/// (without the writeback cache).
pub(crate) fn flush(ff: &FuseFile, file: &File, owner: usize) -> Result {
    let inode = file.inode::<FuseFs>();
    inode::check_bad(inode)?;
    let wb = ff.conn.neg().writeback_cache;
    if ff.open_flags & fopen::NOFLUSH != 0 && !wb {
        return Ok(());
    }
    inode.write_now(true)?;
    {
        let _guard = inode.lock();
        writeback::sync_writes(inode)?;
    }
    inode.check_write_errors()?;
    if wb {
        // The kernel does not keep the block count.
        super::namei::invalidate_attr_mask(inode, bindings::STATX_BLOCKS);
    }
    if ff.conn.lacks(Unsupported::Flush) {
        return Ok(());
    }
    let mut inarg = b::fuse_flush_in::zeroed();
    inarg.fh = ff.fh;
    inarg.lock_owner = ff.conn.lock_owner_id(owner);
    let mut args = Args::new(op::FLUSH, inode::nodeid(inode), &inarg, OutSpec::NONE)?;
    args.force = true;
    match ff.conn.send(args) {
        Ok(_) => Ok(()),
        Err(e) if e == enosys() => {
            ff.conn.set_lacks(Unsupported::Flush);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Builds the arguments of a READ, READDIR or READDIRPLUS (C's `fuse_read_args_fill()`).
pub(crate) fn read_args(ff: &FuseFile, opcode: u32, pos: i64, count: usize) -> Result<Args> {
    let mut inarg = b::fuse_read_in::zeroed();
    inarg.fh = ff.fh;
    inarg.offset = pos as u64;
    inarg.size = count as u32;
    inarg.flags = ff.f_flags;
    Args::new(opcode, ff.nodeid, &inarg, OutSpec::up_to(count))
}

/// A short read means end of file: shrink the cached size if no attribute update happened
/// since the read began (C's `fuse_short_read()` and `fuse_read_update_size()`).
fn short_read(inode: &Inode, attr_ver: u64, size: i64) {
    let conn = inode::conn(inode);
    if conn.neg().writeback_cache {
        // A hole: data after it may be in the page cache, not yet at the daemon.
        return;
    }
    let mut st = inode.data().state.lock();
    if attr_ver >= st.attr_version && size < inode.size() {
        st.attr_version = inode::next_attr_version(&conn);
        inode.set_size(size);
    }
}

/// Refreshes the attributes if they expired (C's `fuse_update_attributes()`).
pub(crate) fn update_attributes(inode: &Inode, mask: u32) -> Result {
    if inode::attrs_stale(inode, mask) {
        dir::do_getattr(inode, None)?;
    }
    Ok(())
}

/// `file_operations.read_iter` (C's `fuse_file_read_iter()`).
pub(crate) fn read_iter(ff: &FuseFile, iocb: &mut Kiocb, to: &mut IovIter) -> Result<usize> {
    {
        let inode = iocb.file().inode::<FuseFs>();
        inode::check_bad(inode)?;
        if ff.open_flags & fopen::DIRECT_IO == 0 {
            let neg = ff.conn.neg();
            if neg.auto_inval_data || iocb.pos() + to.count() as i64 > inode.size() {
                update_attributes(inode, bindings::STATX_SIZE)?;
            }
        }
    }
    if ff.open_flags & fopen::DIRECT_IO != 0 || iocb.is_direct() {
        return direct_read(ff, iocb, to);
    }
    iocb.generic_read(to)
}

/// A read that bypasses the page cache (`FOPEN_DIRECT_IO`), in requests of at most
/// `max_read` and `max_pages` pages, until the buffer is full or the daemon reads short.
fn direct_read(ff: &FuseFile, iocb: &mut Kiocb, to: &mut IovIter) -> Result<usize> {
    let neg = ff.conn.neg();
    let chunk = (ff.conn.mount.max_read as usize).min(neg.max_pages as usize * PAGE_SIZE);
    let mut done = 0;
    while to.count() > 0 {
        let want = to.count().min(chunk);
        let pos = iocb.pos();
        let (got, asked) = match direct_read_one(ff, pos, want, to) {
            Ok(r) => r,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        done += got;
        iocb.set_pos(pos + got as i64);
        if got < asked {
            break;
        }
    }
    Ok(done)
}

/// One READ of up to `want` bytes at `pos` into `to`, straight into the memory behind it
/// where its pages can be had (C's `fuse_get_user_pages()`), else through the reply; returns
/// the bytes read and asked for.
fn direct_read_one(
    ff: &FuseFile,
    pos: i64,
    want: usize,
    to: &mut IovIter,
) -> Result<(usize, usize)> {
    let Ok(pages) = to.get_pages(want) else {
        let reply = ff.conn.send(read_args(ff, op::READ, pos, want)?)?;
        let data = reply.data();
        to.copy_all_to(data)?;
        return Ok((data.len(), want));
    };
    let asked = pages.len();
    let sent = DirectReadEnd::create(pages).and_then(|end| {
        let args = read_args(ff, op::READ, pos, asked)?;
        let dyn_end: Arc<dyn RequestEnd> = end.clone();
        ff.conn.send_with_end(args, dyn_end)?;
        Ok(end.filled.load(Ordering::Acquire))
    });
    match sent {
        Ok(got) => {
            // The iterator went past all the pages; it stands after the bytes read.
            to.revert(asked - got);
            Ok((got, asked))
        }
        Err(e) => {
            to.revert(asked);
            Err(e)
        }
    }
}

/// A READ into the pages behind a direct read's buffer: the daemon's reply is copied
/// straight into them, and they are let go of (dirtied) when it ends.
#[pin_data]
struct DirectReadEnd {
    #[pin]
    pages: Mutex<Option<IterPages>>,
    /// Bytes of the reply copied into the pages.
    filled: AtomicUsize,
}

impl DirectReadEnd {
    fn create(pages: IterPages) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(DirectReadEnd {
                pages <- new_mutex!(Some(pages)),
                filled: AtomicUsize::new(0),
            }),
            GFP_KERNEL,
        )
    }
}

impl RequestEnd for DirectReadEnd {
    fn fill(&self, from: &mut IovIter, len: usize) -> Option<Result> {
        // Under the lock: the copy may fault and sleep; only `end` waits for it.
        let mut pages = self.pages.lock();
        let Some(pages) = pages.as_mut() else {
            return Some(Err(EIO));
        };
        // `len` is at most the READ's size, the pages' total (`OutSpec::accepts`).
        if pages.fill_from(from, len) != len {
            return Some(Err(EFAULT));
        }
        self.filled.store(len, Ordering::Release);
        Some(Ok(()))
    }

    fn end(&self, _conn: &Conn, _result: core::result::Result<&[u8], i32>) {
        // A failed READ fails the wait too (`send_with_end`), which then ignores `filled`.
        // The pages are put (and dirtied) here, whoever waits or not.
        drop(self.pages.lock().take());
    }
}

/// Ends the reads of `folios` (consecutive, starting at the first one's position) whose READ
/// copied `result` bytes into them, or failed; bytes past the reply are zero, as the C
/// module's `page_zeroing`.
fn finish_folios(
    folios: KVec<LockedFolio>,
    result: core::result::Result<usize, i32>,
    attr_ver: u64,
) {
    let Some(first) = folios.first() else {
        return;
    };
    let pos = first.pos();
    let count: usize = folios.iter().map(|f| f.size()).sum();
    match result {
        Ok(filled) => {
            if filled < count {
                short_read(first.inode::<FuseFs>(), attr_ver, pos + filled as i64);
            }
            let mut off = 0;
            for f in folios {
                if filled < off + f.size() {
                    f.zero_from(filled.saturating_sub(off));
                }
                off += f.size();
                f.end_read(true);
            }
        }
        Err(_) => {
            for f in folios {
                f.end_read(false);
            }
        }
    }
}

/// `address_space_operations.read_folio` (C's `fuse_read_folio()`): one synchronous READ.
///
/// Every early return drops the folio, which ends its read as failed.
pub(crate) fn read_folio(ff: Option<&FuseFile>, folio: LockedFolio) -> Result {
    inode::check_bad(folio.inode::<FuseFs>())?;
    let ff = ff.ok_or(EIO)?;
    writeback::wait_page(folio.inode::<FuseFs>(), folio.pos())?;
    let attr_ver = inode::attr_version(&ff.conn);
    let args = read_args(ff, op::READ, folio.pos(), folio.size())?;
    let mut folios = KVec::new();
    folios.push(folio, GFP_KERNEL)?;
    ff.conn
        .send_with_end(args, ReadEnd::create(folios, attr_ver, None)?)
}

/// A READ into page-cache folios (C's `fuse_readpages_end()` and the READ of
/// `fuse_read_folio()`): the daemon's reply is copied straight into them, and they are
/// unlocked when it ends, whoever waits or not.
#[pin_data]
struct ReadEnd {
    #[pin]
    folios: Mutex<Option<KVec<LockedFolio>>>,
    /// Bytes of the reply copied into the folios.
    filled: AtomicUsize,
    attr_ver: u64,
    /// Keeps the file (and its RELEASE) until an asynchronous read ends.
    _ff: Option<Arc<FuseFile>>,
}

impl ReadEnd {
    /// The end step of a READ into `folios`.
    fn create(
        folios: KVec<LockedFolio>,
        attr_ver: u64,
        ff: Option<Arc<FuseFile>>,
    ) -> Result<Arc<dyn RequestEnd>> {
        let end = Arc::pin_init(
            pin_init!(ReadEnd {
                folios <- new_mutex!(Some(folios)),
                filled: AtomicUsize::new(0),
                attr_ver,
                _ff: ff,
            }),
            GFP_KERNEL,
        )?;
        Ok(end)
    }
}

impl RequestEnd for ReadEnd {
    fn fill(&self, from: &mut IovIter, len: usize) -> Option<Result> {
        // Under the folios' lock: the copy may fault and sleep; only `end` waits for it.
        let folios = self.folios.lock();
        let Some(folios) = folios.as_ref() else {
            return Some(Err(EIO));
        };
        // `len` is at most the READ's size, the folios' total (`OutSpec::accepts`).
        if LockedFolio::fill_all_from(folios, len, from) != len {
            return Some(Err(EFAULT));
        }
        self.filled.store(len, Ordering::Release);
        Some(Ok(()))
    }

    fn end(&self, _conn: &Conn, result: core::result::Result<&[u8], i32>) {
        let folios = self.folios.lock().take();
        if let Some(folios) = folios {
            let filled = result.map(|_| self.filled.load(Ordering::Acquire));
            finish_folios(folios, filled, self.attr_ver);
        }
    }
}

/// `address_space_operations.readahead` (C's `fuse_readahead()`): READs of up to
/// `max_pages` (and `max_read`) each, sent in the background when the daemon negotiated
/// ASYNC_READ.
pub(crate) fn readahead(rac: &mut Readahead<'_>) {
    let Some(ff) = rac.file_data::<FuseFs>() else {
        return;
    };
    let ff: Arc<FuseFile> = ff.into();
    let neg = ff.conn.neg();
    let max_pages = (neg.max_pages as usize)
        .min(ff.conn.mount.max_read as usize / PAGE_SIZE)
        .max(1);
    loop {
        let (num_bg, congestion) = ff.conn.congestion();
        if num_bg >= congestion && rac.async_size() >= rac.pages_left() {
            // Congested and only asynchronous pages left: skip the rest.
            break;
        }
        let nr = rac.pages_left().min(max_pages);
        if nr == 0 {
            break;
        }
        let Ok(mut folios) = KVec::with_capacity(nr, GFP_KERNEL) else {
            return;
        };
        if rac.next_folios(&mut folios) == 0 {
            break;
        }
        for f in folios.iter() {
            // A page-cache WRITE of this page may still be in flight: the daemon must see it
            // first. A fatal signal ends the wait; the read then races, as it may.
            let _ = writeback::wait_page(f.inode::<FuseFs>(), f.pos());
        }
        send_readpages(&ff, folios);
    }
}

/// Sends one READ for consecutive folios (C's `fuse_send_readpages()`).
fn send_readpages(ff: &Arc<FuseFile>, folios: KVec<LockedFolio>) {
    let Some(first) = folios.first() else {
        return;
    };
    let pos = first.pos();
    let count: usize = folios.iter().map(|f| f.size()).sum();
    let attr_ver = inode::attr_version(&ff.conn);
    let args = match read_args(ff, op::READ, pos, count) {
        Ok(a) => a,
        Err(e) => return finish_folios(folios, Err(e.to_errno()), attr_ver),
    };
    // On allocation failure the folios were dropped, which ends their reads as failed.
    let Ok(end) = ReadEnd::create(folios, attr_ver, Some(ff.clone())) else {
        return;
    };
    if ff.conn.neg().async_read {
        ff.conn.send_background(args, end);
    } else {
        // The end step has the folios and their result.
        let _ = ff.conn.send_with_end(args, end);
    }
}

/// `file_operations.llseek` (C's `fuse_file_llseek()`): `SEEK_END` refreshes the size,
/// `SEEK_DATA` and `SEEK_HOLE` ask the daemon.
pub(crate) fn llseek(file: &File, offset: i64, whence: i32) -> Result<i64> {
    let inode = file.inode::<FuseFs>();
    match whence as u32 {
        bindings::SEEK_END => {
            let _guard = inode.lock();
            update_attributes(inode, bindings::STATX_SIZE)?;
            file.generic_llseek(offset, whence)
        }
        bindings::SEEK_DATA | bindings::SEEK_HOLE => {
            let ff = fs_file::regular_file_data::<FuseFs>(file, inode).ok_or(EINVAL)?;
            super::write::seek_data_hole(&ff, file, offset, whence)
        }
        _ => file.generic_llseek(offset, whence),
    }
}
