// SPDX-License-Identifier: GPL-2.0

//! Dirty page-cache data (the C module's writepage side of `file.c`): the writeback cache
//! (`FUSE_WRITEBACK_CACHE`) and shared writable mappings.
//!
//! Dirty folios go to the daemon as WRITEs carrying `FUSE_WRITE_CACHE`, through an open
//! file that may write (C's `write_files`). As in the C module, a folio's data is copied into
//! the request and the folio leaves write-back at once, so that a daemon that does not
//! answer cannot hold up `sync(2)`, reclaim or page migration for everyone. The WRITEs in
//! flight are tracked per inode by page range instead: a folio is not redirtied
//! (`write_begin`, `page_mkwrite`) or reread while a WRITE of it is in flight; fsync, flush
//! and truncation wait for all of them; and a truncation holds new ones back until the
//! daemon has the new size (C's `fuse_set_nowrite()`), then sends them cut at it.

use super::{
    conn::Conn,
    file::{self, FuseFile},
    fs::FuseFs,
    inode::{self, Inode},
    namei,
    proto::{fopen, op, Wire},
    request::{Args, OutSpec, RequestEnd},
    write::{max_write_bytes, page_range, write_in_size},
};
use crate::bindings as b;
use crate::kernel_ext::{
    address_space::GrabbedFolio,
    file::File,
    fs_file,
    iov_iter::IterPages,
    list::take_where,
    task::NoFsScope,
    wait::WaitMode,
    writeback::{DirtyFolio, LaunderFolio, Vma, Writeback, WrittenFolios},
};
use core::mem::size_of;
use core::sync::atomic::Ordering;
use kernel::{
    bindings,
    list::{List, ListArc, ListLinks},
    page::PAGE_SIZE,
    prelude::*,
    rbtree::{RBTree, RBTreeNode},
    sync::{Arc, LockedBy},
    types::ARef,
};

/// The write-back state of an inode, under its lock.
pub(crate) struct WriteState {
    /// Open files that may write, by poll key (C's `write_files`): write-back uses the
    /// newest.
    files: RBTree<u64, Arc<FuseFile>>,
    /// The page-cache WRITEs being built, queued or sent and not answered (C's
    /// `fi->writepages` tree), each with its page range: an intrusive list, so that
    /// tracking a WRITE allocates nothing beyond its end step.
    in_flight: List<WriteEnd>,
    /// WRITEs being built (their folios are clean already).
    building: u32,
    /// WRITEs sent and not answered (C's `writectr`).
    sent: u32,
    /// Truncations holding new WRITEs back (C's negative `writectr`).
    nowrite: u32,
    /// WRITEs built while held back, sent when the last truncation ends.
    queued: KVec<PendingWrite>,
}

impl WriteState {
    /// The state of a new inode.
    pub(crate) fn new() -> Self {
        Self {
            files: RBTree::new(),
            in_flight: List::new(),
            building: 0,
            sent: 0,
            nowrite: 0,
            queued: KVec::new(),
        }
    }

    fn overlaps(&self, first: u64, last: u64) -> bool {
        self.in_flight.iter().any(|w| {
            let span = w.span.access(self);
            span.first <= last && first <= span.last
        })
    }

    /// Counts a WRITE leaving `stage`.
    fn leave(&mut self, stage: Stage) {
        match stage {
            Stage::Building => self.building -= 1,
            Stage::Sent => self.sent -= 1,
            Stage::Queued | Stage::Handed => {}
        }
    }
}

/// Where a [`PendingWrite`] is, for the counts sync waits on.
#[derive(Clone, Copy, PartialEq)]
enum Stage {
    /// Being filled by `writepages` (counted in `building`).
    Building,
    /// Held back by a truncation (in `queued`).
    Queued,
    /// Counted in `sent`, about to go.
    Sent,
    /// Sent: the request's end step ends it.
    Handed,
}

/// A WRITE of page-cache data, built and not yet sent.
struct PendingWrite {
    args: Args,
    track: Tracked,
    pos: i64,
    len: usize,
}

/// Where a WRITE is: its end step is in the inode's in-flight set from the start, so that
/// its folios are not redirtied meanwhile, and it is counted in its stage. Dropping it
/// before the WRITE is handed to the connection takes it out again.
struct Tracked {
    end: Arc<WriteEnd>,
    stage: Stage,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.stage != Stage::Handed {
            finish(&self.end, self.stage, Ok(()));
        }
    }
}

/// Whether regular files of `inode`'s connection use the writeback cache.
pub(crate) fn is_wb(inode: &Inode) -> bool {
    inode.file_type() == bindings::S_IFREG && inode::conn(inode).neg().writeback_cache
}

/// Records an open file that may write the inode's dirty data back (C's
/// `fuse_link_write_file()`).
pub(crate) fn link_write_file(inode: &Inode, ff: &Arc<FuseFile>) -> Result {
    if inode.data().write.lock().files.get(&ff.kh).is_some() {
        return Ok(());
    }
    let node = RBTreeNode::new(ff.kh, ff.clone(), GFP_KERNEL)?;
    let old = inode.data().write.lock().files.insert(node);
    drop(old);
    Ok(())
}

/// A released file: its dirty data is written first, then it stops being one the inode
/// writes back through (C's `fuse_release()` and `fuse_prepare_release()`).
pub(crate) fn unlink_write_file(inode: &Inode, ff: &FuseFile) {
    if inode.data().write.lock().files.get(&ff.kh).is_none() {
        return;
    }
    write_back_now(inode);
    let old = inode.data().write.lock().files.remove(&ff.kh);
    drop(old);
}

/// A file was opened: with the writeback cache, one opened for writing is one the inode
/// writes back through (C's `fuse_finish_open()`).
pub(crate) fn opened(inode: &Inode, ff: &Arc<FuseFile>, file: &File) -> Result {
    if is_wb(inode) && file.may_write() {
        link_write_file(inode, ff)?;
    }
    Ok(())
}

/// The file write-back goes through: the newest one, as in the C module.
fn write_file(inode: &Inode) -> Option<Arc<FuseFile>> {
    inode.data().write.lock().files.values().last().cloned()
}

/// The header of a page-cache WRITE of `len` bytes at `pos` through `fh`.
fn cache_write_in(fh: u64, pos: i64, len: usize) -> b::fuse_write_in {
    let mut inarg = b::fuse_write_in::zeroed();
    inarg.fh = fh;
    inarg.offset = pos as u64;
    inarg.size = len as u32;
    inarg.write_flags = b::FUSE_WRITE_CACHE;
    inarg
}

/// Starts a WRITE of page-cache data at `pos` through `ff`; the data is appended to it and
/// the header's size is set when it is sent.
fn new_write(inode: &Inode, ff: &Arc<FuseFile>, pos: i64) -> Result<PendingWrite> {
    let conn = inode::conn(inode);
    let inarg = cache_write_in(ff.fh, pos, 0);
    let mut args = Args::from_parts(
        op::WRITE,
        ff.nodeid,
        &[&inarg.as_bytes()[..write_in_size(conn.neg())]],
        OutSpec::fixed(size_of::<b::fuse_write_out>()),
    )?;
    // Sent whatever happens, from any context, like the C module's write-back requests.
    args.force = true;
    args.nocreds = true;
    let fi = inode.data();
    let (first, _) = page_range(pos, 1);
    let tracked = ListArc::pin_init(
        try_pin_init!(WriteEnd {
            inode: inode.into(),
            ff: ff.clone(),
            span: LockedBy::new(&fi.write, Span { first, last: first, pages: 0 }),
            links <- ListLinks::new(),
        }? Error),
        GFP_KERNEL,
    )?;
    let end = tracked.clone_arc();
    {
        let mut st = fi.write.lock();
        st.building += 1;
        st.in_flight.push_back(tracked);
        fi.writes_in_flight.fetch_add(1, Ordering::Release);
    }
    // From here on, dropping it undoes the counting.
    Ok(PendingWrite {
        args,
        track: Tracked {
            end,
            stage: Stage::Building,
        },
        pos,
        len: 0,
    })
}

/// Appends a folio's data to a WRITE, whose range then covers the folio.
fn append(
    pw: &mut PendingWrite,
    size: usize,
    copy: impl FnOnce(&mut IterPages) -> Result,
) -> Result {
    copy(pw.args.data_pages())?;
    pw.len += size;
    // The folio leaves write-back now; its pages count as such until the daemon answers
    // (C's `WB_WRITEBACK` accounting), which dirty throttling needs to see the mount's pace.
    let pages = size.div_ceil(PAGE_SIZE);
    let inode = &pw.track.end.inode;
    inode.super_block().writeback_started(pages);
    let (first, last) = page_range(pw.pos, pw.len);
    let mut st = inode.data().write.lock();
    let span = pw.track.end.span.access_mut(&mut st);
    span.first = first;
    span.last = last;
    span.pages += pages;
    Ok(())
}

/// A built WRITE is sent now, or queued while a truncation holds WRITEs back. Checking
/// and counting happen under one lock, so that a truncation either waits for it or gets
/// it queued.
fn submit(inode: &Inode, mut pw: PendingWrite) {
    let mut st = inode.data().write.lock();
    st.leave(pw.track.stage);
    // Queueing needs memory; without it the WRITE goes out now, as it would have without
    // the truncation (`reserve` first: a failed `push` would drop it under the lock).
    if st.nowrite > 0 && st.queued.reserve(1, GFP_ATOMIC).is_ok() {
        pw.track.stage = Stage::Queued;
        let _ = st.queued.push(pw, GFP_ATOMIC);
        drop(st);
        // It no longer counts for `sync_writes()`: the truncation waiting there may go on.
        inode.data().write_wait.wake_all();
        return;
    }
    st.sent += 1;
    pw.track.stage = Stage::Sent;
    drop(st);
    send(inode, pw);
}

/// Sends a WRITE counted in `sent`, cut at the current size (C's `fuse_send_writepage()`);
/// a WRITE wholly beyond it is dropped.
fn send(inode: &Inode, mut pw: PendingWrite) {
    let conn = inode::conn(inode);
    let size = inode.size();
    if pw.pos >= size || pw.len == 0 {
        // Dropping it ends it.
        return;
    }
    let len = pw.len.min((size - pw.pos) as usize);
    let hdr = write_in_size(conn.neg());
    pw.args.truncate(hdr + len);
    let inarg = cache_write_in(pw.track.end.ff.fh, pw.pos, len);
    pw.args.patch(0, &inarg.as_bytes()[..hdr]);
    let PendingWrite {
        args, mut track, ..
    } = pw;
    track.stage = Stage::Handed;
    let end: Arc<dyn RequestEnd> = track.end.clone();
    conn.send_background(args, end);
}

/// A WRITE of page-cache data ended, sent or not: it leaves the in-flight set and its
/// waiters are woken (C's `fuse_writepage_end()`).
fn finish(end: &WriteEnd, stage: Stage, result: Result) {
    let inode = &*end.inode;
    if let Err(e) = result {
        inode.set_write_error(e);
    }
    if stage == Stage::Sent && !is_wb(inode) {
        // The daemon changed the times; without the writeback cache they are its to keep.
        namei::invalidate_attr_mask(inode, namei::STATX_MODIFY);
    }
    let (tracked, pages) = {
        let mut st = inode.data().write.lock();
        let tracked = take_where(&mut st.in_flight, |w| core::ptr::eq(w, end));
        if tracked.is_some() {
            inode
                .data()
                .writes_in_flight
                .fetch_sub(1, Ordering::Release);
        }
        st.leave(stage);
        (tracked, end.span.access(&st).pages)
    };
    // The caller holds another reference: this is never the last one.
    drop(tracked);
    inode.super_block().writeback_done(pages);
    inode.data().write_wait.wake_all_sleepers();
}

/// The page range of a page-cache WRITE, and its pages of data, counted as under
/// write-back until the WRITE ends.
struct Span {
    first: u64,
    last: u64,
    pages: usize,
}

/// The end step of a page-cache WRITE, in the inode's in-flight set from the WRITE's start
/// to its end; it keeps the file open until then.
#[pin_data]
struct WriteEnd {
    inode: ARef<Inode>,
    ff: Arc<FuseFile>,
    span: LockedBy<Span, WriteState>,
    #[pin]
    links: ListLinks,
}

kernel::list::impl_has_list_links! {
    impl HasListLinks<0> for WriteEnd { self.links }
}
kernel::list::impl_list_arc_safe! {
    impl ListArcSafe<0> for WriteEnd { untracked; }
}
kernel::list::impl_list_item! {
    impl ListItem<0> for WriteEnd { using ListLinks; }
}

impl RequestEnd for WriteEnd {
    fn end(&self, _conn: &Conn, result: core::result::Result<&[u8], i32>) {
        let result = match result {
            Ok(data) if data.len() >= size_of::<b::fuse_write_out>() => Ok(()),
            Ok(_) => Err(EIO),
            Err(e) => Err(Error::from_errno(e)),
        };
        finish(self, Stage::Sent, result);
    }
}

/// Waits until no WRITE of the page at `pos` is in flight (C's
/// `fuse_wait_on_page_writeback()`); a fatal signal ends the wait.
pub(crate) fn wait_page(inode: &Inode, pos: i64) -> Result {
    let index = pos as u64 / PAGE_SIZE as u64;
    let fi = inode.data();
    // The callers hold the folio locked, and a WRITE of the page joins the in-flight list
    // before write-back unlocks its folio: with none in flight now, none of this page can be.
    if fi.writes_in_flight.load(Ordering::Acquire) == 0 {
        return Ok(());
    }
    fi.write_wait
        .wait(WaitMode::KillableOrExiting, false, || {
            (!fi.write.lock().overlaps(index, index)).then_some(())
        })
        .map_err(|_| EINTR)
}

/// Waits until every page-cache WRITE of the inode that is being built or was sent is
/// answered (C's `fuse_sync_writes()`; held-back ones do not count);
/// a fatal signal ends the wait.
pub(crate) fn sync_writes(inode: &Inode) -> Result {
    let fi = inode.data();
    fi.write_wait
        .wait(WaitMode::KillableOrExiting, false, || {
            let st = fi.write.lock();
            (st.sent == 0 && st.building == 0).then_some(())
        })
        .map_err(|_| EINTR)
}

/// Writes the dirty data from `start` to the end of the file back and waits for every
/// page-cache WRITE (C's `fuse_writeback_range()`, which ignores its end too).
pub(crate) fn writeback_range(inode: &Inode, start: i64) -> Result {
    inode.write_and_wait_range(start, i64::MAX)?;
    sync_writes(inode)
}

/// Holds new page-cache WRITEs of an inode back while a truncation reaches the daemon
/// (C's `fuse_set_nowrite()` .. `fuse_release_nowrite()`); dropping it sends the held-back
/// WRITEs, cut at the new size.
pub(crate) struct NoWrite<'a>(&'a Inode);

/// Holds new WRITEs back and waits for those in flight.
pub(crate) fn set_nowrite(inode: &Inode) -> Result<NoWrite<'_>> {
    inode.data().write.lock().nowrite += 1;
    let guard = NoWrite(inode);
    sync_writes(inode)?;
    Ok(guard)
}

impl Drop for NoWrite<'_> {
    fn drop(&mut self) {
        let queued = {
            let mut st = self.0.data().write.lock();
            st.nowrite -= 1;
            if st.nowrite > 0 {
                return;
            }
            let queued = core::mem::take(&mut st.queued);
            st.sent += queued.len() as u32;
            queued
        };
        for mut pw in queued {
            pw.track.stage = Stage::Sent;
            send(self.0, pw);
        }
    }
}

/// `address_space_operations.writepages` (C's `fuse_writepages()`): contiguous dirty
/// folios become WRITEs of up to `max_write` bytes and `max_pages` pages.
pub(crate) fn writepages(wb: &mut Writeback<'_, FuseFs>) -> Result {
    let inode: ARef<Inode> = wb.inode().into();
    inode::check_bad(&inode)?;
    let conn = inode::conn(&inode);
    let (num_background, congestion) = conn.congestion();
    if !wb.sync_all() && num_background >= congestion {
        return Ok(());
    }
    let mut ff = None;
    let max = max_write_bytes(conn.neg());
    let mut batch: Option<PendingWrite> = None;
    // The folios of the WRITE being built stay under write-back until it is submitted;
    // meanwhile no allocation may reclaim through a file system, which could wait for them
    // (C allocates with GFP_NOFS here).
    let _nofs = NoFsScope::new();
    let mut written = WrittenFolios::<WRITTEN_BATCH>::new();
    let res = wb.for_each_dirty(|folio: DirtyFolio<'_>| {
        let (pos, size) = (folio.pos(), folio.size());
        if batch
            .as_ref()
            .is_some_and(|pw| pw.pos + pw.len as i64 != pos || pw.len + size > max)
        {
            if let Some(pw) = batch.take() {
                submit(&inode, pw);
                written.end_all();
            }
        }
        let pw = match batch.as_mut() {
            Some(pw) => pw,
            None => {
                if ff.is_none() {
                    // No open file may write: the folio stays dirty (C warns here).
                    ff = Some(write_file(&inode).ok_or(EIO)?);
                }
                let ff = ff.as_ref().ok_or(EIO)?;
                batch.insert(new_write(&inode, ff, pos)?)
            }
        };
        append(pw, size, |p| folio.copy_to(p))?;
        folio.written(&mut written);
        Ok(())
    });
    if let Some(pw) = batch {
        submit(&inode, pw);
    }
    drop(written);
    res
}

/// The most folios whose write-back ends together (see [`WrittenFolios`]): a WRITE of
/// `max_pages` folios ends its first ones early.
const WRITTEN_BATCH: usize = 32;

/// `address_space_operations.write_begin` (C's `fuse_write_begin()`): a folio the write
/// covers only in part is read first, unless it lies beyond the end of the file.
pub(crate) fn write_begin(
    file: &File,
    inode: &Inode,
    folio: &GrabbedFolio,
    pos: i64,
    len: usize,
) -> Result {
    let start = folio.pos();
    wait_page(inode, start)?;
    if folio.is_uptodate() || len >= folio.size() {
        return Ok(());
    }
    if inode.size() <= start {
        let off = (pos - start) as usize;
        folio.zero_range(0, off);
        return Ok(());
    }
    let ff = fs_file::regular_file_data::<FuseFs>(file, inode).ok_or(EIO)?;
    let args = file::read_args(&ff, op::READ, start, folio.size())?;
    let reply = ff.conn().send(args)?;
    let data = reply.data();
    // A short read is a hole: the rest is zeroes (the kernel keeps the size).
    folio.write(0, data);
    folio.zero_tail_and_mark_uptodate(data.len());
    Ok(())
}

/// `address_space_operations.launder_folio` (C's `fuse_launder_folio()`): a dirty folio
/// about to be invalidated is written and the WRITE waited for.
pub(crate) fn launder_folio(inode: &Inode, folio: &LaunderFolio<'_>) -> Result {
    if !folio.clear_dirty_for_io() {
        return Ok(());
    }
    wait_page(inode, folio.pos())?;
    let ff = write_file(inode).ok_or(EIO)?;
    let mut pw = new_write(inode, &ff, folio.pos())?;
    let size = folio.size();
    append(&mut pw, size, |p| folio.copy_to(p))?;
    submit(inode, pw);
    wait_page(inode, folio.pos())
}

/// `super_operations.write_inode` (C's `fuse_write_inode()` and `fuse_flush_times()`): the
/// times the kernel keeps go to the daemon in a SETATTR.
pub(crate) fn write_inode(inode: &Inode) -> Result {
    let conn = inode::conn(inode);
    let mut inarg = b::fuse_setattr_in::zeroed();
    inarg.valid = b::FATTR_MTIME;
    let (msec, mnsec) = inode.mtime();
    inarg.mtime = msec as u64;
    inarg.mtimensec = mnsec;
    if conn.neg().minor >= 23 {
        inarg.valid |= b::FATTR_CTIME;
        let (csec, cnsec) = inode.ctime();
        inarg.ctime = csec as u64;
        inarg.ctimensec = cnsec;
    }
    if let Some(ff) = write_file(inode) {
        inarg.valid |= b::FATTR_FH;
        inarg.fh = ff.fh;
    }
    let args = Args::new(
        op::SETATTR,
        inode::nodeid(inode),
        &inarg,
        OutSpec::fixed(size_of::<b::fuse_attr_out>()),
    )?;
    conn.send(args).map(|_| ())
}

/// `file_operations.mmap` (C's `fuse_file_mmap()`): `FOPEN_DIRECT_IO` files are mapped
/// shared only if the daemon allows it, after their cached pages are dropped; a shared
/// writable mapping makes the file one the inode writes back through.
pub(crate) fn mmap(ff: &Arc<FuseFile>, file: &File, vma: &Vma<'_>) -> Result {
    let inode = file.inode::<FuseFs>();
    if ff.open_flags & fopen::DIRECT_IO != 0 {
        if vma.may_share() && !ff.conn().neg().direct_io_allow_mmap {
            return Err(ENODEV);
        }
        let _ = inode.invalidate_pages();
    }
    if vma.shared_writable() {
        link_write_file(inode, ff)?;
    }
    Ok(())
}

/// A mapping goes away: its dirty data is written now, while a file to write it through
/// is sure to be open (C's `fuse_vma_close()`).
pub(crate) fn vma_close(file: &File) {
    write_back_now(file.inode::<FuseFs>());
}

/// Writes the inode's dirty data and times back and waits; a failure is recorded for the
/// next `fsync()` or `close()` (C's `write_inode_now()` with `mapping_set_error()`).
fn write_back_now(inode: &Inode) {
    if let Err(e) = inode.write_now(true) {
        inode.set_write_error(e);
    }
}
