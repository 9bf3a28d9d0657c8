// SPDX-License-Identifier: GPL-2.0

//! Changing the namespace (the C module's `dir.c`, second half): create and atomic open,
//! O_TMPFILE, mknod, mkdir, symlink, link, unlink, rmdir and rename, with the dentry and
//! attribute invalidation the C module does after each.

use super::{
    conn::{Conn, ForgetSlot, Unsupported},
    dir::{self, FDentry},
    file::{self, FuseFile},
    inode::{self, Inode},
    proto::{self, op, Wire},
    request::{Args, OutSpec},
};
use crate::bindings as b;
use crate::kernel_ext::{error::enosys, file::File, fs_type::AtomicOpen, task};
use core::mem::size_of;
use kernel::{bindings, prelude::*, str::CStr, sync::Arc, types::ARef};

/// `STATX_*` bits of what a write changes besides the size (C's `FUSE_STATX_MODIFY`).
pub(crate) const STATX_MODIFY: u32 =
    bindings::STATX_MTIME | bindings::STATX_CTIME | bindings::STATX_BLOCKS;

/// `STATX_*` bits of what a write or truncate changes (C's `FUSE_STATX_MODSIZE`).
pub(crate) const STATX_MODSIZE: u32 =
    bindings::STATX_MTIME | bindings::STATX_CTIME | bindings::STATX_BLOCKS | bindings::STATX_SIZE;

/// Marks some cached attributes stale (C's `fuse_invalidate_attr_mask()`).
pub(crate) fn invalidate_attr_mask(inode: &Inode, mask: u32) {
    inode.data().state.lock().inval_mask |= mask;
}

/// Marks the cached attributes stale (C's `fuse_invalidate_attr()`).
pub(crate) fn invalidate_attr(inode: &Inode) {
    invalidate_attr_mask(inode, bindings::STATX_BASIC_STATS);
}

/// A directory's entries changed (C's `fuse_dir_changed()`).
pub(crate) fn dir_changed(dir: &Inode) {
    invalidate_attr(dir);
}

/// Expires a dentry, so that the next use looks it up again (C's
/// `fuse_invalidate_entry_cache()`).
pub(crate) fn invalidate_entry_cache(d: &FDentry) {
    d.set_time(0);
}

/// Expires a dentry and unhashes it (C's `fuse_invalidate_entry()`).
pub(crate) fn invalidate_entry(d: &FDentry) {
    d.invalidate();
    invalidate_entry_cache(d);
}

/// The change time changed (C's `fuse_update_ctime()`).
pub(crate) fn update_ctime(inode: &Inode) {
    invalidate_attr_mask(inode, bindings::STATX_CTIME);
    inode.touch_ctime();
}

/// The entry's name is gone (C's `fuse_entry_unlinked()`).
fn entry_unlinked(d: &FDentry) {
    let Some(i) = d.inode() else {
        return;
    };
    let conn = inode::conn(i);
    {
        let mut st = i.data().state.lock();
        st.attr_version = inode::next_attr_version(&conn);
        i.unlinked(i.file_type() == bindings::S_IFDIR);
    }
    invalidate_entry_cache(d);
    update_ctime(i);
}

/// A node id a daemon may return for a new entry: not 0 and not the root.
fn invalid_nodeid(nodeid: u64) -> bool {
    nodeid == 0 || nodeid == proto::ROOT_ID
}

/// The kernel's encoding of a device number for the daemon (`new_encode_dev()`).
fn encode_dev(dev: u32) -> u32 {
    let (major, minor) = (dev >> 20, dev & 0xfffff);
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

/// The mode to send: without the umask unless the daemon applies it (`DONT_MASK`).
fn masked(conn: &Conn, mode: u16) -> u32 {
    let mode = u32::from(mode);
    if conn.neg().dont_mask {
        mode
    } else {
        mode & !task::current_umask()
    }
}

/// Appends one extension record (C's `extend_arg()` with `fuse_ext_size()`).
fn push_ext(ext: &mut KVec<u8>, kind: u32, body: &[u8]) -> Result {
    let len = (size_of::<b::fuse_ext_header>() + body.len()).next_multiple_of(8);
    let h = b::fuse_ext_header {
        size: len as u32,
        type_: kind,
    };
    ext.extend_from_slice(h.as_bytes(), GFP_KERNEL)?;
    ext.extend_from_slice(body, GFP_KERNEL)?;
    ext.extend_with(
        len - size_of::<b::fuse_ext_header>() - body.len(),
        0,
        GFP_KERNEL,
    )?;
    Ok(())
}

/// Adds the creation extensions the daemon asked for (C's `get_create_ext()`): the
/// security context (`SECURITY_CTX`, always a header, with no context if no LSM sets one)
/// and the parent's group as a supplementary group (`CREATE_SUPP_GROUP`).
fn add_create_ext(conn: &Conn, args: &mut Args, dir: &Inode, d: &FDentry, mode: u16) -> Result {
    let neg = conn.neg();
    if !neg.init_security && !neg.create_supp_group {
        // Nothing to add (and no vector to make and drop, which costs an allocator call).
        return Ok(());
    }
    let mut ext = KVec::new();
    if neg.init_security {
        // The security context is not a record: a `fuse_secctx_header`, then the contexts.
        let ctx = d.init_security(mode)?;
        let mut body = KVec::new();
        if let Some((name, value)) = &ctx {
            let one = b::fuse_secctx {
                size: value.len() as u32,
                padding: 0,
            };
            let len = (size_of::<b::fuse_secctx>() + name.len() + value.len()).next_multiple_of(8);
            body.extend_from_slice(one.as_bytes(), GFP_KERNEL)?;
            body.extend_from_slice(name, GFP_KERNEL)?;
            body.extend_from_slice(value, GFP_KERNEL)?;
            body.extend_with(
                len - (size_of::<b::fuse_secctx>() + name.len() + value.len()),
                0,
                GFP_KERNEL,
            )?;
        }
        let h = b::fuse_secctx_header {
            size: (size_of::<b::fuse_secctx_header>() + body.len()) as u32,
            nr_secctx: u32::from(ctx.is_some()),
        };
        ext.extend_from_slice(h.as_bytes(), GFP_KERNEL)?;
        ext.extend_from_slice(&body, GFP_KERNEL)?;
    }
    if neg.create_supp_group {
        let gid = dir.kgid();
        let parent_gid = conn.user_ns.gid(gid);
        if parent_gid != u32::MAX && task::current_fsgid_kgid() != gid && task::in_group(gid) {
            let sg = b::fuse_supp_groups {
                nr_groups: 1,
                ..Default::default()
            };
            let mut body = KVec::new();
            body.extend_from_slice(sg.as_bytes(), GFP_KERNEL)?;
            body.extend_from_slice(&parent_gid.to_ne_bytes(), GFP_KERNEL)?;
            push_ext(&mut ext, b::fuse_ext_type_FUSE_EXT_GROUPS, &body)?;
        }
    }
    if !ext.is_empty() {
        args.append_ext(&ext)?;
    }
    Ok(())
}

/// The inode of a new entry the daemon created (counted as one lookup), with its FORGET
/// reserved; if it cannot be made, the daemon is told to forget the lookup at once.
fn new_entry_inode(
    conn: &Conn,
    dir: &Inode,
    out: &b::fuse_entry_out,
    slot: ForgetSlot,
) -> Result<ARef<Inode>> {
    let attr_valid = inode::time_to_jiffies(out.attr_valid, out.attr_valid_nsec);
    let new = match inode::iget(
        dir.super_block(),
        out.nodeid,
        out.generation,
        &out.attr,
        attr_valid,
        0,
        0,
    ) {
        Ok(i) => i,
        Err(e) => {
            conn.queue_forget(slot, out.nodeid, 1);
            return Err(e);
        }
    };
    inode::keep_forget(&new, slot);
    Ok(new)
}

/// Sends a MKNOD, MKDIR, SYMLINK or LINK and attaches the new inode to `entry` (C's
/// `create_new_entry()`); `mode` holds the file type the reply must have.
fn create_new_entry(mut args: Args, dir: &Inode, entry: &FDentry, mode: u16) -> Result {
    inode::check_bad(dir)?;
    let conn = inode::conn(dir);
    let slot = Conn::forget_slot()?;
    args.out = OutSpec::fixed(dir::entry_out_size());
    if args.opcode != op::LINK {
        add_create_ext(&conn, &mut args, dir, entry, mode)?;
    }
    let res = conn.send(args).and_then(|r| {
        let out: b::fuse_entry_out = r.get();
        if invalid_nodeid(out.nodeid)
            || inode::invalid_attr(&out.attr)
            || (out.attr.mode ^ u32::from(mode)) & bindings::S_IFMT != 0
        {
            return Err(EIO);
        }
        Ok(out)
    });
    let out = match res {
        Ok(o) => o,
        Err(e) => {
            if e == EEXIST {
                invalidate_entry(entry);
            }
            return Err(e);
        }
    };
    let new = new_entry_inode(&conn, dir, &out, slot)?;
    entry.drop_hash();
    let alias = entry.splice_alias(Some(new))?;
    dir::set_entry_timeout(alias.as_deref().unwrap_or(entry), &out);
    dir_changed(dir);
    Ok(())
}

/// The arguments `inarg`, then the name of `entry` with its NUL, for a request on `dir`.
fn args_and_name(
    opcode: u32,
    dir: &Inode,
    inarg: &[u8],
    entry: &FDentry,
    out: OutSpec,
) -> Result<Args> {
    entry.with_name(|name| Args::from_parts(opcode, inode::nodeid(dir), &[inarg, name, &[0]], out))
}

/// `inode_operations.mknod` (C's `fuse_mknod()`).
pub(crate) fn mknod(dir: &Inode, entry: &FDentry, mode: u16, rdev: u32) -> Result {
    let conn = inode::conn(dir);
    let mut inarg = b::fuse_mknod_in::zeroed();
    inarg.mode = masked(&conn, mode);
    inarg.rdev = encode_dev(rdev);
    inarg.umask = task::current_umask();
    let args = args_and_name(op::MKNOD, dir, inarg.as_bytes(), entry, OutSpec::NONE)?;
    create_new_entry(args, dir, entry, mode)
}

/// `inode_operations.create` (C's `fuse_create()`): MKNOD of a regular file.
pub(crate) fn create(dir: &Inode, entry: &FDentry, mode: u16) -> Result {
    mknod(dir, entry, mode, 0)
}

/// `inode_operations.mkdir` (C's `fuse_mkdir()`).
pub(crate) fn mkdir(dir: &Inode, entry: &FDentry, mode: u16) -> Result {
    let conn = inode::conn(dir);
    let mut inarg = b::fuse_mkdir_in::zeroed();
    inarg.mode = masked(&conn, mode);
    inarg.umask = task::current_umask();
    let args = args_and_name(op::MKDIR, dir, inarg.as_bytes(), entry, OutSpec::NONE)?;
    create_new_entry(args, dir, entry, bindings::S_IFDIR as u16)
}

/// `inode_operations.symlink` (C's `fuse_symlink()`).
pub(crate) fn symlink(dir: &Inode, entry: &FDentry, target: &CStr) -> Result {
    let args = entry.with_name(|name| {
        Args::from_parts(
            op::SYMLINK,
            inode::nodeid(dir),
            &[name, &[0], target.as_bytes_with_nul()],
            OutSpec::NONE,
        )
    })?;
    create_new_entry(args, dir, entry, bindings::S_IFLNK as u16)
}

/// `inode_operations.link` (C's `fuse_link()`); ENOSYS becomes `EPERM`.
pub(crate) fn link(old: &FDentry, dir: &Inode, new: &FDentry) -> Result {
    let i = old.inode().ok_or(ENOENT)?;
    let mut inarg = b::fuse_link_in::zeroed();
    inarg.oldnodeid = inode::nodeid(i);
    let args = args_and_name(op::LINK, dir, inarg.as_bytes(), new, OutSpec::NONE)?;
    match create_new_entry(args, dir, new, i.mode()) {
        Ok(()) => {
            i.touch_ctime();
            Ok(())
        }
        Err(e) => {
            if e == EINTR {
                invalidate_attr(i);
            }
            Err(if e == enosys() { EPERM } else { e })
        }
    }
}

/// UNLINK or RMDIR of `entry` (C's `fuse_unlink()` and `fuse_rmdir()`).
fn remove(opcode: u32, dir: &Inode, entry: &FDentry) -> Result {
    inode::check_bad(dir)?;
    let conn = inode::conn(dir);
    let args = entry.with_name(|name| {
        Args::from_parts(opcode, inode::nodeid(dir), &[name, &[0]], OutSpec::NONE)
    })?;
    match conn.send(args) {
        Ok(_) => {
            dir_changed(dir);
            entry_unlinked(entry);
            Ok(())
        }
        Err(e) => {
            if e == EINTR || e == ENOENT {
                invalidate_entry(entry);
            }
            Err(e)
        }
    }
}

/// `inode_operations.unlink`.
pub(crate) fn unlink(dir: &Inode, entry: &FDentry) -> Result {
    remove(op::UNLINK, dir, entry)
}

/// `inode_operations.rmdir`.
pub(crate) fn rmdir(dir: &Inode, entry: &FDentry) -> Result {
    remove(op::RMDIR, dir, entry)
}

/// `inode_operations.rename` (C's `fuse_rename2()` and `fuse_rename_common()`): RENAME, or
/// RENAME2 with flags (from 7.23; ENOSYS is remembered and becomes `EINVAL`).
pub(crate) fn rename(
    old_dir: &Inode,
    old: &FDentry,
    new_dir: &Inode,
    new: &FDentry,
    flags: u32,
) -> Result {
    inode::check_bad(old_dir)?;
    let all = bindings::RENAME_NOREPLACE | bindings::RENAME_EXCHANGE | bindings::RENAME_WHITEOUT;
    if flags & !all != 0 {
        return Err(EINVAL);
    }
    let conn = inode::conn(old_dir);
    let mut inarg = b::fuse_rename2_in::zeroed();
    inarg.newdir = inode::nodeid(new_dir);
    inarg.flags = flags;
    let (opcode, in_size) = if flags != 0 {
        if conn.lacks(Unsupported::Rename2) || conn.neg().minor < 23 {
            return Err(EINVAL);
        }
        (op::RENAME2, size_of::<b::fuse_rename2_in>())
    } else {
        (op::RENAME, size_of::<b::fuse_rename_in>())
    };
    let args = old.with_name(|oname| {
        new.with_name(|nname| {
            Args::from_parts(
                opcode,
                inode::nodeid(old_dir),
                &[&inarg.as_bytes()[..in_size], oname, &[0], nname, &[0]],
                OutSpec::NONE,
            )
        })
    })?;
    match conn.send(args) {
        Ok(_) => {
            if let Some(i) = old.inode() {
                update_ctime(i);
            }
            if flags & bindings::RENAME_EXCHANGE != 0 {
                if let Some(i) = new.inode() {
                    update_ctime(i);
                }
            }
            dir_changed(old_dir);
            if !core::ptr::eq(old_dir, new_dir) {
                dir_changed(new_dir);
            }
            // The target, if any, ends up negative.
            if flags & bindings::RENAME_EXCHANGE == 0 && new.inode().is_some() {
                entry_unlinked(new);
            }
            Ok(())
        }
        Err(e) if e == enosys() && opcode == op::RENAME2 => {
            conn.set_lacks(Unsupported::Rename2);
            Err(EINVAL)
        }
        Err(e) => {
            if e == EINTR || e == ENOENT {
                // Whether the rename happened is unknown: look both names up again.
                invalidate_entry(old);
                if new.inode().is_some() {
                    invalidate_entry(new);
                }
            }
            Err(e)
        }
    }
}

/// Sends CREATE or TMPFILE for `entry` and instantiates it with the new inode (C's
/// `fuse_create_open()`); returns the open file's state for `finish_open()`.
fn create_open(
    dir: &Inode,
    entry: &FDentry,
    flags: u32,
    mode: u16,
    opcode: u32,
) -> Result<Arc<FuseFile>> {
    let conn = inode::conn(dir);
    let neg = conn.neg();
    let slot = Conn::forget_slot()?;
    let flags = flags & !bindings::O_NOCTTY;
    let trunc = flags & bindings::O_TRUNC != 0;
    let mut inarg = b::fuse_create_in::zeroed();
    inarg.flags = flags;
    inarg.mode = masked(&conn, mode);
    inarg.umask = task::current_umask();
    if neg.handle_killpriv_v2 && trunc && flags & bindings::O_EXCL == 0 && !task::capable_fsetid() {
        inarg.open_flags |= b::FUSE_OPEN_KILL_SUIDGID;
    }
    let entry_size = dir::entry_out_size();
    let mut args = args_and_name(
        opcode,
        dir,
        inarg.as_bytes(),
        entry,
        OutSpec::fixed(entry_size + size_of::<b::fuse_open_out>()),
    )?;
    add_create_ext(&conn, &mut args, dir, entry, mode)?;
    let reply = conn.send(args)?;
    let data = reply.data();
    // Older daemons' entry part is shorter: the open part is the last one.
    let entry_size = data.len().saturating_sub(size_of::<b::fuse_open_out>());
    let out = b::fuse_entry_out::from_prefix(data.get(..entry_size).unwrap_or(&[]));
    let open = b::fuse_open_out::from_prefix(data.get(entry_size..).unwrap_or(&[]));
    if out.attr.mode & bindings::S_IFMT != bindings::S_IFREG
        || invalid_nodeid(out.nodeid)
        || inode::invalid_attr(&out.attr)
    {
        return Err(EIO);
    }
    // The file is open in the daemon: from here on, dropping `ff` sends RELEASE.
    let ff = FuseFile::new(
        conn.into(),
        out.nodeid,
        open.fh,
        open.open_flags,
        flags & !(bindings::O_CREAT | bindings::O_EXCL | bindings::O_TRUNC),
        false,
        true,
    )?;
    let new = new_entry_inode(&conn, dir, &out, slot)?;
    entry.instantiate(new);
    dir::set_entry_timeout(entry, &out);
    dir_changed(dir);
    Ok(ff)
}

/// `inode_operations.atomic_open` (C's `fuse_atomic_open()`): looks the name up if needed;
/// creates and opens with CREATE, or falls back to MKNOD (then a normal open) once the
/// daemon answered ENOSYS.
pub(crate) fn atomic_open(
    dir: &Inode,
    entry: &FDentry,
    file: &File,
    flags: u32,
    mode: u16,
) -> Result<AtomicOpen<super::fs::FuseFs>> {
    inode::check_bad(dir)?;
    let mut res: Option<ARef<FDentry>> = None;
    if entry.in_lookup() {
        res = dir::lookup(dir, entry, 0)?;
    }
    let e: &FDentry = res.as_deref().unwrap_or(entry);
    if flags & bindings::O_CREAT == 0 || e.inode().is_some() {
        return Ok(AtomicOpen::NoOpen(res));
    }
    file.set_created();
    let conn = inode::conn(dir);
    if !conn.lacks(Unsupported::Create) {
        match create_open(dir, e, flags, mode, op::CREATE) {
            Ok(ff) => return Ok(AtomicOpen::Opened(ff)),
            Err(err) if err == enosys() => conn.set_lacks(Unsupported::Create),
            Err(err) => {
                if err == EEXIST {
                    invalidate_entry(e);
                }
                return Err(err);
            }
        }
    }
    mknod(dir, e, mode, 0)?;
    Ok(AtomicOpen::NoOpen(res))
}

/// `inode_operations.tmpfile` (C's `fuse_tmpfile()`): TMPFILE, `EOPNOTSUPP` once the daemon
/// answered ENOSYS.
pub(crate) fn tmpfile(dir: &Inode, file: &File, mode: u16) -> Result<Arc<FuseFile>> {
    inode::check_bad(dir)?;
    let conn = inode::conn(dir);
    let eopnotsupp = crate::kernel_ext::error::eopnotsupp();
    if conn.lacks(Unsupported::Tmpfile) {
        return Err(eopnotsupp);
    }
    match create_open(dir, file.dentry(), file.flags(), mode, op::TMPFILE) {
        Err(e) if e == enosys() => {
            conn.set_lacks(Unsupported::Tmpfile);
            Err(eopnotsupp)
        }
        r => r,
    }
}

/// `FileSystem::finish_open` for files opened by [`atomic_open`] or [`tmpfile`].
pub(crate) fn finish_open(inode: &Inode, ff: &FuseFile, f: &File) -> Result {
    file::finish_open(inode, ff, f);
    Ok(())
}
