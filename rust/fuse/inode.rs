// SPDX-License-Identifier: GPL-2.0

//! FUSE inodes (the C module's `struct fuse_inode`, `fuse_iget()`, attribute caching).
//!
//! An inode is found by its node id (the key of [`SuperBlock::get_or_create_inode`]) and
//! carries the lookup count the daemon must be told about in a FORGET when the inode leaves
//! the cache, and the attribute cache: the time the attributes expire, and the version that
//! keeps an older reply from overwriting newer attributes.

use super::{
    conn::{Conn, ForgetSlot},
    fs::FuseFs,
    proto,
    writeback::WriteState,
};
use crate::bindings as b;
use crate::kernel_ext::{
    inode::{InodeAttrs, InodeKind},
    kstat::StatAttrs,
    spinlock::{new_spinlock, SpinLock},
    super_block::SuperBlock,
    task,
    wait::{wait_queue, WaitQueue},
};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use kernel::{
    bindings,
    prelude::*,
    sync::ArcBorrow,
    types::{ARef, Either},
};

/// An inode of a `fuse` mount.
pub(crate) type Inode = crate::kernel_ext::inode::Inode<FuseFs>;

/// The attribute cache and lookup count of an inode, under its lock (C's `fi->lock`).
pub(crate) struct InodeState {
    /// Lookups the daemon has counted for this inode.
    pub(crate) nlookup: u64,
    /// Version of the last attribute update.
    pub(crate) attr_version: u64,
    /// When the cached attributes expire (jiffies; 0: already).
    pub(crate) i_time: u64,
    /// `STATX_*` bits whose cached value is known to be stale.
    pub(crate) inval_mask: u32,
    /// The mode as the daemon gave it (the inode's may lack the sticky bit).
    pub(crate) orig_mode: u16,
    /// The inode number as the daemon gave it.
    pub(crate) orig_ino: u64,
    /// The birth time, once a STATX reply gave it.
    pub(crate) btime: Option<(i64, u32)>,
    /// A FORGET slot reserved for the eviction.
    pub(crate) forget: Option<ForgetSlot>,
}

/// The per-inode state of a `fuse` inode.
#[pin_data]
pub(crate) struct FuseInode {
    #[pin]
    pub(crate) state: SpinLock<InodeState>,
    /// The inode was found stale (its node id reused): every operation fails with `EIO`.
    pub(crate) bad: AtomicBool,
    /// A lookup in this directory found an entry: list it with READDIRPLUS next time.
    pub(crate) advise_rdplus: AtomicBool,
    /// A READDIRPLUS linked this inode (with `readdirplus_auto`): the first use of its entry
    /// that needs no lookup advises READDIRPLUS for the parent (C's `FUSE_I_INIT_RDPLUS`), so
    /// that a listing whose entries are used (`ls -l`, `find`, `rm -r`) goes on with it.
    pub(crate) init_rdplus: AtomicBool,
    /// Page-cache WRITEs and the files they go through.
    #[pin]
    pub(crate) write: SpinLock<WriteState>,
    /// Woken when a page-cache WRITE ends.
    #[pin]
    pub(crate) write_wait: WaitQueue,
    /// The page-cache WRITEs in flight (the length of `write`'s in-flight list, changed
    /// under that lock): read without it where none in flight is the common case.
    pub(crate) writes_in_flight: AtomicUsize,
}

impl FuseInode {
    /// A new inode's state.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(FuseInode {
            state <- new_spinlock!(InodeState {
                nlookup: 0,
                attr_version: 0,
                i_time: 0,
                // Nothing is known yet (C: `~0`).
                inval_mask: u32::MAX,
                orig_mode: 0,
                orig_ino: 0,
                btime: None,
                forget: None,
            }),
            bad: AtomicBool::new(false),
            advise_rdplus: AtomicBool::new(false),
            init_rdplus: AtomicBool::new(false),
            write <- new_spinlock!(WriteState::new()),
            write_wait <- wait_queue!("fuse_inode_write_wait"),
            writes_in_flight: AtomicUsize::new(0),
        })
    }
}

/// The node id of an inode.
pub(crate) fn nodeid(inode: &Inode) -> u64 {
    inode.key()
}

/// The connection of an inode's mount, borrowed from the super block for as long as the
/// inode (no reference count taken: `.into()` makes an `Arc` where one is kept).
pub(crate) fn conn(inode: &Inode) -> ArcBorrow<'_, Conn> {
    inode.super_block().data_ref().conn.as_arc_borrow()
}

/// Fails with `EIO` if the inode was marked bad (C's `fuse_is_bad()`).
pub(crate) fn check_bad(inode: &Inode) -> Result {
    if inode.data().bad.load(Ordering::Acquire) {
        Err(EIO)
    } else {
        Ok(())
    }
}

/// Marks an inode bad and drops it from the inode hash (C's `fuse_make_bad()`).
pub(crate) fn make_bad(inode: &Inode) {
    inode.remove_hash();
    inode.data().bad.store(true, Ordering::Release);
}

/// Converts a time-out from a reply to a jiffies deadline (C's `fuse_time_to_jiffies()`);
/// 0 means already expired.
pub(crate) fn time_to_jiffies(sec: u64, ns: u32) -> u64 {
    if sec == 0 && ns == 0 {
        return 0;
    }
    // Jiffies wrap (they start near the top of the range): a deadline wraps with them.
    task::jiffies64().wrapping_add(task::duration_to_jiffies(sec, nsec(ns)))
}

/// Whether a deadline from [`time_to_jiffies`] has passed.
pub(crate) fn expired(deadline: u64) -> bool {
    (deadline.wrapping_sub(task::jiffies64()) as i64) < 0
}

/// Whether attributes from the daemon are invalid (C's `fuse_invalid_attr()`): an unknown
/// file type or a size beyond `i64::MAX`.
pub(crate) fn invalid_attr(attr: &b::fuse_attr) -> bool {
    let t = attr.mode & bindings::S_IFMT;
    let valid_type = [
        bindings::S_IFREG,
        bindings::S_IFDIR,
        bindings::S_IFLNK,
        bindings::S_IFCHR,
        bindings::S_IFBLK,
        bindings::S_IFIFO,
        bindings::S_IFSOCK,
    ]
    .contains(&t);
    !valid_type || attr.size > i64::MAX as u64
}

/// Whether the inode's type differs from `mode`'s (C's `inode_wrong_type()`).
pub(crate) fn wrong_type(inode: &Inode, mode: u32) -> bool {
    inode.file_type() != mode & bindings::S_IFMT
}

/// The inode kind for a mode.
fn kind(attr: &b::fuse_attr) -> InodeKind {
    match attr.mode & bindings::S_IFMT {
        bindings::S_IFDIR => InodeKind::Dir,
        bindings::S_IFREG => InodeKind::File,
        bindings::S_IFLNK => InodeKind::Symlink,
        _ => InodeKind::Special(attr.rdev),
    }
}

/// The attributes of `attr` for the inode, as C's `fuse_change_attributes_common()` sets
/// them (nanoseconds sanitised; the sticky bit hidden unless `default_permissions`).
fn inode_attrs(
    conn: &Conn,
    sb: &SuperBlock<FuseFs>,
    type_bits: u32,
    attr: &b::fuse_attr,
) -> InodeAttrs {
    let mut mode = (type_bits | (attr.mode & 0o7777)) as u16;
    if !conn.mount.default_permissions {
        mode &= !(bindings::S_ISVTX as u16);
    }
    let [atime, mtime, ctime] = times(attr);
    InodeAttrs {
        ino: attr.ino,
        mode,
        nlink: attr.nlink,
        uid: task::make_kuid(&conn.user_ns, attr.uid),
        gid: task::make_kgid(&conn.user_ns, attr.gid),
        blocks: attr.blocks,
        blkbits: blkbits(sb, attr),
        atime,
        mtime,
        ctime,
    }
}

/// Nanoseconds from the daemon, at most `NSEC_PER_SEC - 1` (C's sanitising).
pub(crate) fn nsec(n: u32) -> u32 {
    n.min(999_999_999)
}

/// Access, modification and change times of `attr`, nanoseconds sanitised.
fn times(attr: &b::fuse_attr) -> [(i64, u32); 3] {
    [
        (attr.atime as i64, nsec(attr.atimensec)),
        (attr.mtime as i64, nsec(attr.mtimensec)),
        (attr.ctime as i64, nsec(attr.ctimensec)),
    ]
}

/// `log2` of the preferred I/O size: the daemon's `blksize`, else the super block's.
fn blkbits(sb: &SuperBlock<FuseFs>, attr: &b::fuse_attr) -> u8 {
    if attr.blksize != 0 {
        (31 - attr.blksize.leading_zeros()) as u8
    } else {
        sb.blocksize_bits()
    }
}

/// A new attribute version for an update, newer than any taken before.
pub(crate) fn next_attr_version(conn: &Conn) -> u64 {
    conn.attr_version.fetch_add(1, Ordering::AcqRel) + 1
}

/// Whether the cached attributes of `inode` must be fetched for `mask` (`STATX_*`): some
/// of them are known stale, or the cache expired.
pub(crate) fn attrs_stale(inode: &Inode, mask: u32) -> bool {
    let st = inode.data().state.lock();
    mask & st.inval_mask != 0 || expired(st.i_time)
}

/// The current attribute version, to stamp a request (C's `fuse_get_attr_version()`).
pub(crate) fn attr_version(conn: &Conn) -> u64 {
    conn.attr_version.load(Ordering::Acquire)
}

/// The current eviction counter (C's `fuse_get_evict_ctr()`).
pub(crate) fn evict_ctr(conn: &Conn) -> u64 {
    conn.evict_ctr.load(Ordering::Acquire)
}

/// Applies attributes from the daemon to an inode (C's `fuse_change_attributes_i()`),
/// unless a newer update happened since `attr_version` was taken.
pub(crate) fn change_attributes(
    inode: &Inode,
    attr: &b::fuse_attr,
    statx: Option<&b::fuse_statx>,
    attr_valid: u64,
    attr_version: u64,
    evict: u64,
) {
    let conn = conn(inode);
    let neg = conn.neg();
    let fi = inode.data();
    let mut st = fi.state.lock();
    if attr_version != 0 && st.attr_version > attr_version {
        return;
    }
    // A new inode whose lookup raced with an eviction keeps its attributes marked stale.
    if evict == 0 || st.attr_version != 0 || evict == evict_ctr(&conn) {
        st.inval_mask &= !bindings::STATX_BASIC_STATS;
    }
    if let Some(sx) = statx {
        // Birth time was asked for: the cache is valid whether or not the daemon has it.
        st.inval_mask &= !bindings::STATX_BTIME;
        if sx.mask & bindings::STATX_BTIME != 0 {
            st.btime = Some((sx.btime.tv_sec, nsec(sx.btime.tv_nsec)));
        }
    }
    st.attr_version = next_attr_version(&conn);
    st.i_time = attr_valid;
    let old_mtime = inode.mtime();
    let is_wb = neg.writeback_cache && inode.file_type() == bindings::S_IFREG;
    let mut a = inode_attrs(&conn, inode.super_block(), inode.file_type(), attr);
    if is_wb {
        // Writes change size and times first in the kernel: its values win (C's
        // `fuse_get_cache_mask()`).
        a.mtime = inode.mtime();
        a.ctime = inode.ctime();
    }
    inode.set_attrs(&a);
    st.orig_mode = (inode.file_type() | (attr.mode & 0o7777)) as u16;
    st.orig_ino = attr.ino;
    let old_size = inode.size();
    if !is_wb {
        inode.set_size(attr.size as i64);
    }
    drop(st);
    if inode.file_type() == bindings::S_IFREG && !is_wb {
        let mut inval = false;
        if old_size != attr.size as i64 {
            inode.truncate_pagecache(attr.size as i64);
            inval = !neg.explicit_inval_data;
        } else if neg.auto_inval_data && old_mtime != (attr.mtime as i64, attr.mtimensec) {
            inval = true;
        }
        if inval {
            let _ = inode.invalidate_pages();
        }
    }
}

/// Finds or creates the inode of `nodeid` (C's `fuse_iget()`), counting one lookup.
///
/// An inode cached for the node id whose generation or type differs is stale (the daemon
/// reused the node id): it is marked bad and a new one is made, except for the root.
pub(crate) fn iget(
    sb: &SuperBlock<FuseFs>,
    nodeid: u64,
    generation: u64,
    attr: &b::fuse_attr,
    attr_valid: u64,
    attr_version: u64,
    evict: u64,
) -> Result<ARef<Inode>> {
    let conn = sb.data().conn.clone();
    let inode = loop {
        match sb.get_or_create_inode(nodeid, nodeid)? {
            Either::Right(new) => {
                let kind = kind(attr);
                let type_bits = attr.mode & bindings::S_IFMT;
                let a = inode_attrs(&conn, sb, type_bits, attr);
                // With the writeback cache the kernel keeps a regular file's times.
                let flags = if conn.neg().writeback_cache && type_bits == bindings::S_IFREG {
                    bindings::S_NOATIME
                } else {
                    bindings::S_NOATIME | bindings::S_NOCMTIME
                };
                break new.init(kind, &a, attr.size as i64, generation as u32, flags, true);
            }
            Either::Left(inode) => {
                let stale =
                    u64::from(inode.generation()) != generation || wrong_type(&inode, attr.mode);
                if stale {
                    make_bad(&inode);
                    if nodeid != proto::ROOT_ID {
                        continue;
                    }
                }
                break inode;
            }
        }
    };
    inode.data().state.lock().nlookup += 1;
    change_attributes(&inode, attr, None, attr_valid, attr_version, evict);
    Ok(inode)
}

/// Reserves the FORGET an inode will need when it is evicted.
pub(crate) fn reserve_forget(inode: &Inode) -> Result {
    if inode.data().state.lock().forget.is_some() {
        return Ok(());
    }
    keep_forget(inode, Conn::forget_slot()?);
    Ok(())
}

/// Gives an inode the FORGET slot reserved for the lookup that found it, unless it has one
/// (then `slot` is freed): a lookup of a new inode makes one allocation for its FORGET, where
/// C makes two (the inode's, and the lookup's that it frees).
pub(crate) fn keep_forget(inode: &Inode, slot: ForgetSlot) {
    let mut st = inode.data().state.lock();
    if st.forget.is_none() {
        st.forget = Some(slot);
    }
}

/// An inode leaves the cache (C's `fuse_evict_inode()`): while the mount is active, the
/// daemon is told to forget its lookups.
pub(crate) fn evict(inode: &Inode) {
    let sb = inode.super_block();
    if !sb.is_active() {
        return;
    }
    let conn = conn(inode);
    let (nlookup, slot) = {
        let mut st = inode.data().state.lock();
        (core::mem::take(&mut st.nlookup), st.forget.take())
    };
    if nlookup != 0 {
        let slot = match slot {
            Some(s) => Some(s),
            None => Conn::forget_slot().ok(),
        };
        if let Some(slot) = slot {
            conn.queue_forget(slot, nodeid(inode), nlookup);
        }
    }
    if inode.nlink() > 0 {
        conn.evict_ctr.fetch_add(1, Ordering::AcqRel);
    }
}

/// The stat of an inode from attributes the daemon just sent (C's `fuse_fillattr()`).
pub(crate) fn stat_from_attr(inode: &Inode, attr: &b::fuse_attr) -> StatAttrs {
    let conn = conn(inode);
    let mut times = times(attr);
    let mut size = attr.size as i64;
    if conn.neg().writeback_cache && inode.file_type() == bindings::S_IFREG {
        // The kernel's size and times win (see `change_attributes()`).
        size = inode.size();
        times[1] = inode.mtime();
        times[2] = inode.ctime();
    }
    StatAttrs {
        dev: inode.super_block().dev(),
        ino: attr.ino,
        mode: (inode.file_type() | (attr.mode & 0o7777)) as u16,
        nlink: attr.nlink,
        uid: task::make_kuid(&conn.user_ns, attr.uid).raw(),
        gid: task::make_kgid(&conn.user_ns, attr.gid).raw(),
        rdev: inode.rdev(),
        size,
        blocks: attr.blocks,
        blksize: 1 << blkbits(inode.super_block(), attr),
        times,
    }
}

/// The attributes of a STATX reply in GETATTR's form (C's `fuse_statx_to_attr()`).
pub(crate) fn statx_to_attr(sx: &b::fuse_statx) -> b::fuse_attr {
    let (major, minor) = (sx.rdev_major, sx.rdev_minor);
    b::fuse_attr {
        ino: sx.ino,
        size: sx.size,
        blocks: sx.blocks,
        atime: sx.atime.tv_sec as u64,
        mtime: sx.mtime.tv_sec as u64,
        ctime: sx.ctime.tv_sec as u64,
        atimensec: sx.atime.tv_nsec,
        mtimensec: sx.mtime.tv_nsec,
        ctimensec: sx.ctime.tv_nsec,
        mode: u32::from(sx.mode),
        nlink: sx.nlink,
        uid: sx.uid,
        gid: sx.gid,
        // `new_encode_dev(MKDEV(major, minor))`.
        rdev: (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12),
        blksize: sx.blksize,
        ..Default::default()
    }
}
