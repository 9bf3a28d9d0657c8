// SPDX-License-Identifier: GPL-2.0

//! Changing attributes (the C module's `fuse_setattr()` and `fuse_do_setattr()`): chmod,
//! chown, truncate and ftruncate, utimes; set-id bits cleared as `HANDLE_KILLPRIV(_V2)`
//! say; `O_TRUNC` without a request when the daemon truncates at OPEN (`ATOMIC_O_TRUNC`).

use super::{
    dir::{self, FDentry},
    fs::FuseFs,
    inode::{self, Inode},
    namei,
    proto::{op, Wire},
    request::{Args, OutSpec},
    writeback,
};
use crate::bindings as b;
use crate::kernel_ext::{fs_file, iattr::Iattr, task};
use core::mem::size_of;
use kernel::{bindings, prelude::*};

/// Whether to send the modification time (C's `update_mtime()`): always when the kernel
/// keeps the times (`trust_local`, the writeback cache), else except for the implicit one of
/// `O_TRUNC` and `ftruncate()`.
fn update_mtime(valid: u32, trust_local: bool) -> bool {
    if valid & bindings::ATTR_MTIME_SET != 0 || trust_local {
        return true;
    }
    !(valid & bindings::ATTR_SIZE != 0 && valid & (bindings::ATTR_OPEN | bindings::ATTR_FILE) != 0)
}

/// The SETATTR argument for a change (C's `iattr_to_fattr()`).
fn to_fattr(conn: &super::conn::Conn, attr: &Iattr, trust_local: bool) -> b::fuse_setattr_in {
    let valid = attr.valid();
    let mut arg = b::fuse_setattr_in::zeroed();
    if valid & bindings::ATTR_MODE != 0 {
        arg.valid |= b::FATTR_MODE;
        arg.mode = u32::from(attr.mode());
    }
    if valid & bindings::ATTR_UID != 0 {
        arg.valid |= b::FATTR_UID;
        arg.uid = conn.user_ns.uid(attr.kuid());
    }
    if valid & bindings::ATTR_GID != 0 {
        arg.valid |= b::FATTR_GID;
        arg.gid = conn.user_ns.gid(attr.kgid());
    }
    if valid & bindings::ATTR_SIZE != 0 {
        arg.valid |= b::FATTR_SIZE;
        arg.size = attr.size() as u64;
    }
    if valid & bindings::ATTR_ATIME != 0 {
        arg.valid |= b::FATTR_ATIME;
        let (sec, nsec) = attr.atime();
        arg.atime = sec as u64;
        arg.atimensec = nsec;
        if valid & bindings::ATTR_ATIME_SET == 0 {
            arg.valid |= b::FATTR_ATIME_NOW;
        }
    }
    if valid & bindings::ATTR_MTIME != 0 && update_mtime(valid, trust_local) {
        arg.valid |= b::FATTR_MTIME;
        let (sec, nsec) = attr.mtime();
        arg.mtime = sec as u64;
        arg.mtimensec = nsec;
        if valid & bindings::ATTR_MTIME_SET == 0 && !trust_local {
            arg.valid |= b::FATTR_MTIME_NOW;
        }
    }
    if valid & bindings::ATTR_CTIME != 0 && trust_local {
        arg.valid |= b::FATTR_CTIME;
        let (sec, nsec) = attr.ctime();
        arg.ctime = sec as u64;
        arg.ctimensec = nsec;
    }
    arg
}

/// Sends SETATTR and applies the answer (C's `fuse_do_setattr()`).
fn do_setattr(entry: &FDentry, inode: &Inode, attr: &mut Iattr) -> Result {
    let conn = inode::conn(inode);
    let neg = conn.neg();
    if !conn.mount.default_permissions {
        attr.set_valid(attr.valid() | bindings::ATTR_FORCE);
    }
    attr.prepare(entry)?;
    let valid = attr.valid();
    let mut file = attr.file();
    if valid & bindings::ATTR_SIZE != 0 && inode.file_type() != bindings::S_IFREG {
        return Err(EIO);
    }
    if valid & bindings::ATTR_OPEN != 0 {
        // `open(O_TRUNC)`: the daemon truncated already if it has ATOMIC_O_TRUNC.
        if neg.atomic_o_trunc {
            {
                let mut st = inode.data().state.lock();
                st.attr_version = inode::next_attr_version(&conn);
                inode.set_size(0);
            }
            inode.truncate_pagecache(0);
            return Ok(());
        }
        file = None;
    }
    let fh = file
        .and_then(|f| fs_file::regular_file_data::<FuseFs>(f, inode))
        .map(|ff| ff.fh);
    // With the writeback cache the kernel keeps size and times: dirty data goes first, and
    // a truncation holds new WRITEs back until the daemon has the new size.
    let is_wb = writeback::is_wb(inode);
    let is_truncate = valid & bindings::ATTR_SIZE != 0;
    let flush_first = bindings::ATTR_MODE
        | bindings::ATTR_UID
        | bindings::ATTR_GID
        | bindings::ATTR_MTIME_SET
        | bindings::ATTR_TIMES_SET;
    if is_wb && valid & flush_first != 0 {
        inode.write_now(true)?;
        writeback::sync_writes(inode)?;
    }
    let _nowrite = if is_truncate {
        let guard = writeback::set_nowrite(inode)?;
        if is_wb && attr.size() != inode.size() {
            attr.set_valid(attr.valid() | bindings::ATTR_MTIME | bindings::ATTR_CTIME);
        }
        Some(guard)
    } else {
        None
    };
    let valid = attr.valid();
    let mut inarg = to_fattr(&conn, attr, is_wb);
    if let Some(fh) = fh {
        inarg.valid |= b::FATTR_FH;
        inarg.fh = fh;
    }
    let is_dir = inode.file_type() == bindings::S_IFDIR;
    if neg.handle_killpriv_v2 && !is_dir && valid & (bindings::ATTR_UID | bindings::ATTR_GID) != 0 {
        inarg.valid |= b::FATTR_KILL_SUIDGID;
    }
    if valid & bindings::ATTR_SIZE != 0 {
        inarg.valid |= b::FATTR_LOCKOWNER;
        inarg.lock_owner = conn.lock_owner_id(task::current_files());
        if neg.handle_killpriv_v2 && !task::capable_fsetid() {
            inarg.valid |= b::FATTR_KILL_SUIDGID;
        }
    }
    let attr_version = inode::attr_version(&conn);
    let out_size = size_of::<b::fuse_attr_out>();
    let args = Args::new(
        op::SETATTR,
        inode::nodeid(inode),
        &inarg,
        OutSpec::fixed(out_size),
    )?;
    let out: b::fuse_attr_out = match conn.send(args) {
        Ok(r) => r.get(),
        Err(e) => {
            if e == EINTR {
                namei::invalidate_attr(inode);
            }
            return Err(e);
        }
    };
    if inode::invalid_attr(&out.attr) || inode::wrong_type(inode, out.attr.mode) {
        inode::make_bad(inode);
        return Err(EIO);
    }
    // A newer update raced with this one: apply these attributes, but expired.
    let newer = inode.data().state.lock().attr_version > attr_version;
    let attr_valid = if newer {
        0
    } else {
        inode::time_to_jiffies(out.attr_valid, out.attr_valid_nsec)
    };
    let new_size = out.attr.size as i64;
    let old_size = inode.size();
    {
        let mut st = inode.data().state.lock();
        if is_wb {
            let mtime = (valid & bindings::ATTR_MTIME != 0).then(|| attr.mtime());
            let ctime = (valid & bindings::ATTR_CTIME != 0).then(|| attr.ctime());
            inode.set_cmtime(mtime, ctime);
        }
        if is_truncate {
            // The new size first: held-back WRITEs are cut at it when released.
            st.attr_version = inode::next_attr_version(&conn);
            inode.set_size(new_size);
        }
    }
    // Released before the page cache is invalidated: laundering a dirty folio sends a
    // WRITE and waits for it (C's comment in `fuse_do_setattr()`).
    drop(_nowrite);
    inode::change_attributes(inode, &out.attr, None, attr_valid, 0, 0);
    if is_truncate && old_size != new_size {
        inode.truncate_pagecache(new_size);
        let _ = inode.invalidate_pages();
    }
    Ok(())
}

/// `inode_operations.setattr` (C's `fuse_setattr()`).
pub(crate) fn setattr(entry: &FDentry, attr: &mut Iattr) -> Result {
    let inode = entry.inode().ok_or(EIO)?;
    inode::check_bad(inode)?;
    let conn = inode::conn(inode);
    if !dir::allow_current_process(&conn) {
        return Err(EACCES);
    }
    let mut valid = attr.valid();
    if valid & (bindings::ATTR_KILL_SUID | bindings::ATTR_KILL_SGID) != 0 {
        valid &= !(bindings::ATTR_KILL_SUID | bindings::ATTR_KILL_SGID | bindings::ATTR_MODE);
        let neg = conn.neg();
        // The daemon clears set-id bits itself if it handles killpriv; otherwise recompute
        // the mode from fresh attributes.
        if !neg.handle_killpriv && !neg.handle_killpriv_v2 {
            dir::do_getattr(inode, None)?;
            let mode = u32::from(inode.mode());
            let mut new_mode = mode;
            if mode & bindings::S_ISUID != 0 {
                valid |= bindings::ATTR_MODE;
                new_mode &= !bindings::S_ISUID;
            }
            let sgid_x = bindings::S_ISGID | bindings::S_IXGRP;
            if mode & sgid_x == sgid_x {
                valid |= bindings::ATTR_MODE;
                new_mode &= !bindings::S_ISGID;
            }
            attr.set_mode(new_mode as u16);
        }
        attr.set_valid(valid);
    }
    if valid == 0 {
        return Ok(());
    }
    do_setattr(entry, inode, attr)?;
    if inode.file_type() == bindings::S_IFDIR && valid & bindings::ATTR_MODE != 0 {
        // Access to the directory's entries may have changed.
        namei::invalidate_entry_cache(entry);
    }
    Ok(())
}
