// SPDX-License-Identifier: GPL-2.0

//! Names and attributes (the C module's `dir.c`): lookup with entry time-outs and negative
//! entries, dentry revalidation, getattr with the attribute cache, permission checks with
//! FUSE_ACCESS, symbolic links and statfs.

use super::{
    conn::{Conn, Unsupported},
    fs::FuseFs,
    inode::{self, Inode},
    proto::{self, op, Wire},
    request::{Args, OutSpec},
};
use crate::bindings as b;
use crate::kernel_ext::{
    dentry::{self, Dentry},
    error::{enametoolong, enosys},
    kstat::{Kstat, Kstatfs, StatfsAttrs},
    task,
    wait::fatal_signal_pending,
};
use core::{
    mem::size_of,
    sync::atomic::{AtomicBool, Ordering},
};
use kernel::{bindings, prelude::*, types::ARef};

/// A dentry of a `fuse` mount.
pub(crate) type FDentry = Dentry<FuseFs>;

/// `MAY_*` permission bits.
/// Whether the warning about a root with a non-zero generation was printed (once per module).
static ROOT_GENERATION_WARNED: AtomicBool = AtomicBool::new(false);

const MAY_EXEC: i32 = bindings::MAY_EXEC as i32;
const MAY_WRITE: i32 = bindings::MAY_WRITE as i32;
const MAY_READ: i32 = bindings::MAY_READ as i32;
const MAY_ACCESS: i32 = bindings::MAY_ACCESS as i32;
const MAY_CHDIR: i32 = bindings::MAY_CHDIR as i32;
const MAY_NOT_BLOCK: i32 = bindings::MAY_NOT_BLOCK as i32;

/// Whether the current task may use the mount (C's `fuse_allow_current_process()`): the
/// mount's owner only, unless `allow_other`.
pub(crate) fn allow_current_process(conn: &Conn) -> bool {
    if conn.mount.allow_other {
        task::current_in_userns(&conn.user_ns)
    } else {
        task::current_ids_are(conn.mount.user_id, conn.mount.group_id)
    }
}

/// Sends LOOKUP for `name` in the directory `parent` (C's `fuse_lookup_name()`): the entry
/// reply and its inode, or `None` for a negative entry with a time-out (node id 0).
fn lookup_name(dir: &Inode, entry: &FDentry) -> Result<(b::fuse_entry_out, Option<ARef<Inode>>)> {
    let args = entry.with_name(|name| {
        if name.len() > proto::NAME_MAX {
            return Err(enametoolong());
        }
        lookup_args(dir, name)
    })?;
    let conn = inode::conn(dir);
    let slot = Conn::forget_slot()?;
    let attr_version = inode::attr_version(&conn);
    let evict = inode::evict_ctr(&conn);
    let reply = conn.send(args)?;
    let mut out: b::fuse_entry_out = reply.get();
    if out.nodeid == 0 {
        return Ok((out, None));
    }
    if inode::invalid_attr(&out.attr) {
        return Err(EIO);
    }
    if out.nodeid == proto::ROOT_ID && out.generation != 0 {
        // Once, as C's `pr_warn_once()`: a daemon must not be able to flood the log.
        if !ROOT_GENERATION_WARNED.swap(true, Ordering::Relaxed) {
            pr_warn!("root generation should be zero\n");
        }
        out.generation = 0;
    }
    let sb = dir.super_block();
    let attr_valid = inode::time_to_jiffies(out.attr_valid, out.attr_valid_nsec);
    match inode::iget(
        sb,
        out.nodeid,
        out.generation,
        &out.attr,
        attr_valid,
        attr_version,
        evict,
    ) {
        Ok(i) => {
            inode::keep_forget(&i, slot);
            Ok((out, Some(i)))
        }
        Err(e) => {
            conn.queue_forget(slot, out.nodeid, 1);
            Err(e)
        }
    }
}

/// The arguments of a LOOKUP of `name` in `dir` (C's `fuse_lookup_init()`).
fn lookup_args(dir: &Inode, name: &[u8]) -> Result<Args> {
    Args::from_parts(
        op::LOOKUP,
        inode::nodeid(dir),
        &[name, &[0]],
        OutSpec::fixed(entry_out_size()),
    )
}

/// The size of an entry reply (older daemons' shorter one is handled by
/// [`Args::adjust_compat`]).
pub(crate) fn entry_out_size() -> usize {
    size_of::<b::fuse_entry_out>()
}

/// Sets a dentry's time-out from an entry reply (C's `fuse_change_entry_timeout()`).
pub(crate) fn set_entry_timeout(d: &FDentry, out: &b::fuse_entry_out) {
    d.set_time(inode::time_to_jiffies(
        out.entry_valid,
        out.entry_valid_nsec,
    ));
}

/// `inode_operations.lookup` (C's `fuse_lookup()`).
pub(crate) fn lookup(dir: &Inode, entry: &FDentry, _flags: u32) -> Result<Option<ARef<FDentry>>> {
    inode::check_bad(dir)?;
    let (out, found) = match lookup_name(dir, entry) {
        Ok((out, i)) => (Some(out), i),
        Err(e) if e == ENOENT => (None, None),
        Err(e) => return Err(e),
    };
    if let Some(i) = &found {
        // The root can only be found by walking up (C: `-EIO` for a lookup that returns it).
        if inode::nodeid(i) == proto::ROOT_ID {
            return Err(EIO);
        }
    }
    let positive = found.is_some();
    let newent = entry.splice_alias(found)?;
    let d: &FDentry = newent.as_deref().unwrap_or(entry);
    match &out {
        Some(out) => set_entry_timeout(d, out),
        None => d.set_time(0),
    }
    if positive {
        // A lookup that found something makes the next listing use READDIRPLUS (C's
        // `fuse_advise_use_readdirplus()`).
        dir.data().advise_rdplus.store(true, Ordering::Release);
    }
    Ok(newent)
}

/// `dentry_operations.d_revalidate` (C's `fuse_dentry_revalidate()`): an entry whose
/// time-out passed is looked up again; it stays valid only if the daemon returns the same
/// node id with the same file type.
pub(crate) fn revalidate(entry: &FDentry, flags: u32) -> Result<bool> {
    let inode = entry.inode();
    if let Some(i) = inode {
        if inode::check_bad(i).is_err() {
            return Ok(false);
        }
    }
    let need = inode::expired(entry.time()) || (flags & dentry::LOOKUP_FORCE_REVALIDATE) != 0;
    if !need {
        if let Some(i) = inode {
            let init_rdplus = &i.data().init_rdplus;
            if flags & dentry::LOOKUP_RCU != 0 {
                if init_rdplus.load(Ordering::Acquire) {
                    return Err(dentry::echild());
                }
            } else if init_rdplus.swap(false, Ordering::AcqRel) {
                if let Some(dir) = entry.parent().inode() {
                    dir.data().advise_rdplus.store(true, Ordering::Release);
                }
            }
        }
        return Ok(true);
    }
    // Negative entries are revalidated by a new lookup (C returns 0 for them).
    let Some(i) = inode else {
        return Ok(false);
    };
    if flags & dentry::LOOKUP_RCU != 0 {
        return Err(dentry::echild());
    }
    let slot = Conn::forget_slot()?;
    let conn = inode::conn(i);
    let attr_version = inode::attr_version(&conn);
    let parent = entry.parent();
    let dir = parent.inode().ok_or(EIO)?;
    let args = entry.with_name(|name| lookup_args(dir, name))?;
    drop(parent);
    let out = match conn.send(args) {
        // Zero node id is the same as ENOENT.
        Ok(r) => Some(r.get::<b::fuse_entry_out>()).filter(|o| o.nodeid != 0),
        Err(e) if e == ENOMEM || e == EINTR => return Err(e),
        Err(_) => None,
    };
    let Some(out) = out else {
        return Ok(false);
    };
    if out.nodeid != inode::nodeid(i) {
        // The daemon reused the name for another node: it counted a lookup of that node.
        conn.queue_forget(slot, out.nodeid, 1);
        return Ok(false);
    }
    i.data().state.lock().nlookup += 1;
    if inode::invalid_attr(&out.attr)
        || u64::from(i.generation()) != out.generation
        || inode::wrong_type(i, out.attr.mode)
    {
        return Ok(false);
    }
    let attr_valid = inode::time_to_jiffies(out.attr_valid, out.attr_valid_nsec);
    inode::change_attributes(i, &out.attr, None, attr_valid, attr_version, 0);
    set_entry_timeout(entry, &out);
    Ok(true)
}

/// Sends GETATTR and updates the inode (C's `fuse_do_getattr()`); fills `stat` if given.
pub(crate) fn do_getattr(inode: &Inode, stat: Option<&mut Kstat>) -> Result {
    let conn = inode::conn(inode);
    let attr_version = inode::attr_version(&conn);
    let inarg = b::fuse_getattr_in::zeroed();
    let size = size_of::<b::fuse_attr_out>();
    let args = Args::new(
        op::GETATTR,
        inode::nodeid(inode),
        &inarg,
        OutSpec::fixed(size),
    )?;
    let out: b::fuse_attr_out = conn.send(args)?.get();
    if inode::invalid_attr(&out.attr) || inode::wrong_type(inode, out.attr.mode) {
        inode::make_bad(inode);
        return Err(EIO);
    }
    let attr_valid = inode::time_to_jiffies(out.attr_valid, out.attr_valid_nsec);
    inode::change_attributes(inode, &out.attr, None, attr_valid, attr_version, 0);
    if let Some(stat) = stat {
        stat.set(&inode::stat_from_attr(inode, &out.attr));
    }
    Ok(())
}

/// `inode_operations.getattr` (C's `fuse_getattr()` and `fuse_update_get_attr()`).
pub(crate) fn getattr(inode: &Inode, stat: &mut Kstat, request_mask: u32, flags: u32) -> Result {
    inode::check_bad(inode)?;
    let conn = inode::conn(inode);
    if !allow_current_process(&conn) {
        if request_mask == 0 {
            stat.set_dev_only(inode.super_block().dev());
            return Ok(());
        }
        return Err(EACCES);
    }
    let basic = bindings::STATX_BASIC_STATS;
    let mut mask = request_mask & (basic | bindings::STATX_BTIME);
    loop {
        if conn.lacks(Unsupported::Statx) {
            mask &= basic;
        }
        let sync = if mask == 0 {
            false
        } else if flags & bindings::AT_STATX_FORCE_SYNC != 0 {
            true
        } else if flags & bindings::AT_STATX_DONT_SYNC != 0 {
            false
        } else {
            inode::attrs_stale(inode, mask)
        };
        if !sync {
            break;
        }
        // Birth time needs STATX; a daemon without it answers ENOSYS once.
        if !conn.lacks(Unsupported::Statx) && mask & !basic != 0 {
            match do_statx(inode, stat) {
                Err(e) if e == enosys() => {
                    conn.set_lacks(Unsupported::Statx);
                    continue;
                }
                r => return r,
            }
        }
        return do_getattr(inode, Some(stat));
    }
    let (orig_mode, orig_ino, btime) = {
        let st = inode.data().state.lock();
        (st.orig_mode, st.orig_ino, st.btime)
    };
    stat.fill_generic(inode, request_mask);
    stat.set_mode_ino(orig_mode, orig_ino);
    if let Some((sec, nsec)) = btime {
        stat.set_btime(sec, nsec);
    }
    Ok(())
}

/// Sends STATX and updates the inode (C's `fuse_do_statx()`).
fn do_statx(inode: &Inode, stat: &mut Kstat) -> Result {
    let conn = inode::conn(inode);
    let attr_version = inode::attr_version(&conn);
    let mut inarg = b::fuse_statx_in::zeroed();
    inarg.sx_mask = bindings::STATX_BASIC_STATS | bindings::STATX_BTIME;
    let args = Args::new(
        op::STATX,
        inode::nodeid(inode),
        &inarg,
        OutSpec::fixed(size_of::<b::fuse_statx_out>()),
    )?;
    let out: b::fuse_statx_out = conn.send(args)?.get();
    let sx = &out.stat;
    let bad_size = sx.mask & bindings::STATX_SIZE != 0 && sx.size > i64::MAX as u64;
    let attr = inode::statx_to_attr(sx);
    let bad_type = sx.mask & bindings::STATX_TYPE != 0
        && (inode::invalid_attr(&b::fuse_attr {
            mode: attr.mode,
            ..Default::default()
        }) || inode::wrong_type(inode, attr.mode));
    if bad_size || bad_type {
        inode::make_bad(inode);
        return Err(EIO);
    }
    if sx.mask & bindings::STATX_BASIC_STATS == bindings::STATX_BASIC_STATS {
        let attr_valid = inode::time_to_jiffies(out.attr_valid, out.attr_valid_nsec);
        inode::change_attributes(inode, &attr, Some(sx), attr_valid, attr_version, 0);
    }
    stat.set(&inode::stat_from_attr(inode, &attr));
    stat.set_result_mask(
        sx.mask & (bindings::STATX_BASIC_STATS | bindings::STATX_BTIME) | bindings::STATX_TYPE,
    );
    if sx.mask & bindings::STATX_BTIME != 0 {
        stat.set_btime(sx.btime.tv_sec, inode::nsec(sx.btime.tv_nsec));
    }
    Ok(())
}

/// Refreshes the attributes for a permission check (C's `fuse_perm_getattr()`).
fn perm_getattr(inode: &Inode, mask: i32) -> Result {
    if mask & MAY_NOT_BLOCK != 0 {
        return Err(dentry::echild());
    }
    do_getattr(inode, None)
}

/// Sends ACCESS (C's `fuse_access()`); an ENOSYS answer allows everything from then on.
fn access(inode: &Inode, mask: i32) -> Result {
    let conn = inode::conn(inode);
    if conn.lacks(Unsupported::Access) {
        return Ok(());
    }
    let mut inarg = b::fuse_access_in::zeroed();
    inarg.mask = (mask & (MAY_READ | MAY_WRITE | MAY_EXEC)) as u32;
    let args = Args::new(op::ACCESS, inode::nodeid(inode), &inarg, OutSpec::NONE)?;
    match conn.send(args) {
        Ok(_) => Ok(()),
        Err(e) if e == enosys() => {
            conn.set_lacks(Unsupported::Access);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// `inode_operations.permission` (C's `fuse_permission()`).
pub(crate) fn permission(inode: &Inode, mask: i32) -> Result {
    inode::check_bad(inode)?;
    let conn = inode::conn(inode);
    if !allow_current_process(&conn) {
        return Err(EACCES);
    }
    let is_reg = inode.file_type() == bindings::S_IFREG;
    let mut refreshed = false;
    if conn.mount.default_permissions || (mask & MAY_EXEC != 0 && is_reg) {
        let perm_mask = bindings::STATX_MODE | bindings::STATX_UID | bindings::STATX_GID;
        if inode::attrs_stale(inode, perm_mask) {
            refreshed = true;
            perm_getattr(inode, mask)?;
        }
    }
    if conn.mount.default_permissions {
        let mut res = inode.generic_permission(mask);
        if res == Err(EACCES) && !refreshed {
            perm_getattr(inode, mask)?;
            res = inode.generic_permission(mask);
        }
        return res;
    }
    if mask & (MAY_ACCESS | MAY_CHDIR) != 0 {
        if mask & MAY_NOT_BLOCK != 0 {
            return Err(dentry::echild());
        }
        return access(inode, mask);
    }
    if mask & MAY_EXEC != 0 && is_reg {
        let xugo = (bindings::S_IXUSR | bindings::S_IXGRP | bindings::S_IXOTH) as u16;
        if inode.mode() & xugo == 0 {
            if refreshed {
                return Err(EACCES);
            }
            perm_getattr(inode, mask)?;
            if inode.mode() & xugo == 0 {
                return Err(EACCES);
            }
        }
    }
    Ok(())
}

/// `inode_operations.get_link` (C's `fuse_get_link()`): READLINK, checked for length and NUL.
pub(crate) fn get_link(dentry: Option<&FDentry>, inode: &Inode) -> Result<KVec<u8>> {
    inode::check_bad(inode)?;
    if dentry.is_none() {
        return Err(dentry::echild());
    }
    let conn = inode::conn(inode);
    let page = kernel::page::PAGE_SIZE;
    let args = Args::from_parts(
        op::READLINK,
        inode::nodeid(inode),
        &[],
        OutSpec::up_to(page - 1),
    )?;
    let reply = conn.send(args)?;
    let target = reply.data();
    // A target with a NUL is cut there, as C's string handling does.
    let len = target.iter().position(|&c| c == 0).unwrap_or(target.len());
    let mut out = KVec::new();
    out.extend_from_slice(&target[..len], GFP_KERNEL)?;
    if fatal_signal_pending() {
        return Err(EINTR);
    }
    Ok(out)
}

/// `super_operations.statfs` (C's `fuse_statfs()`).
pub(crate) fn statfs(dentry: &FDentry, buf: &mut Kstatfs) -> Result {
    let inode = dentry.inode().ok_or(EIO)?;
    let conn = inode::conn(inode);
    if !allow_current_process(&conn) {
        // Others see only the type, as in C.
        buf.set(&StatfsAttrs {
            fs_type: proto::SUPER_MAGIC,
            ..Default::default()
        });
        return Ok(());
    }
    let size = size_of::<b::fuse_statfs_out>();
    let args = Args::from_parts(op::STATFS, inode::nodeid(inode), &[], OutSpec::fixed(size))?;
    let out: b::fuse_statfs_out = conn.send(args)?.get();
    let k = &out.st;
    buf.set(&StatfsAttrs {
        fs_type: proto::SUPER_MAGIC,
        blocks: k.blocks,
        bfree: k.bfree,
        bavail: k.bavail,
        files: k.files,
        ffree: k.ffree,
        bsize: k.bsize,
        namelen: k.namelen,
        frsize: k.frsize,
    });
    Ok(())
}
