// SPDX-License-Identifier: GPL-2.0

//! File locks (the C module's `fuse_file_lock()` and `fuse_file_flock()`): POSIX locks and
//! `flock()` through the daemon when it negotiated `POSIX_LOCKS`/`FLOCK_LOCKS`, in the
//! kernel's local lock tables otherwise. A blocking SETLKW waits interruptibly (a signal
//! sends FUSE_INTERRUPT) and restarts.

use super::{
    file::FuseFile,
    fs::FuseFs,
    inode,
    proto::{op, Wire},
    request::{Args, OutSpec},
};
use crate::bindings as b;
use crate::kernel_ext::{
    file::File,
    file_lock::{FileLock, LockRange, LockStatus},
};
use core::{mem::size_of, sync::atomic::Ordering};
use kernel::{bindings, prelude::*};

/// The largest file offset (`OFFSET_MAX`).
const OFFSET_MAX: i64 = b::OFFSET_MAX;

/// The arguments of GETLK, SETLK or SETLKW (C's `fuse_lk_fill()`).
fn lk_args(ff: &FuseFile, opcode: u32, fl: &FileLock, pid: i32, flock: bool) -> Result<Args> {
    let r = fl.range();
    let mut inarg = b::fuse_lk_in::zeroed();
    inarg.fh = ff.fh;
    inarg.owner = ff.conn().lock_owner_id(fl.owner());
    inarg.lk.start = r.start as u64;
    inarg.lk.end = r.end as u64;
    inarg.lk.type_ = r.kind;
    inarg.lk.pid = pid as u32;
    if flock {
        inarg.lk_flags |= b::FUSE_LK_FLOCK;
    }
    let out = if opcode == op::GETLK {
        OutSpec::fixed(size_of::<b::fuse_lk_out>())
    } else {
        OutSpec::NONE
    };
    Args::new(opcode, ff.nodeid, &inarg, out)
}

/// F_GETLK through the daemon (C's `fuse_getlk()` and `convert_fuse_file_lock()`): a
/// conflicting lock's range is checked and its pid translated from the daemon's pid
/// namespace; "unlocked" changes the type alone, whatever else the answer holds.
fn getlk(ff: &FuseFile, fl: &mut FileLock) -> Result {
    let conn = ff.conn();
    let out: b::fuse_lk_out = conn.send(lk_args(ff, op::GETLK, fl, 0, false)?)?.get();
    let lk = out.lk;
    let range = match lk.type_ {
        bindings::F_UNLCK => LockRange {
            kind: lk.type_,
            ..fl.range()
        },
        bindings::F_RDLCK | bindings::F_WRLCK => {
            let (start, end) = (lk.start as i64, lk.end as i64);
            if lk.start > OFFSET_MAX as u64 || lk.end > OFFSET_MAX as u64 || end < start {
                return Err(EIO);
            }
            LockRange {
                kind: lk.type_,
                start,
                end,
                pid: conn.pid_ns.to_init_ns(lk.pid as i32),
            }
        }
        _ => return Err(EIO),
    };
    fl.set_range(&range);
    Ok(())
}

/// F_SETLK/F_SETLKW or `flock()` through the daemon (C's `fuse_setlk()`).
fn setlk(ff: &FuseFile, fl: &mut FileLock, flock: bool) -> Result {
    let conn = ff.conn();
    let pid = if fl.range().kind != bindings::F_UNLCK {
        conn.pid_ns.current_tgid()
    } else {
        0
    };
    let opcode = if fl.flags() & b::FL_SLEEP != 0 {
        op::SETLKW
    } else {
        op::SETLK
    };
    match conn.send(lk_args(ff, opcode, fl, pid, flock)?) {
        Ok(_) => Ok(()),
        // Locking is restartable.
        Err(e) if e == EINTR => Err(ERESTARTSYS),
        Err(e) => Err(e),
    }
}

/// `file_operations.lock` (C's `fuse_file_lock()`). Without `POSIX_LOCKS` the kernel's
/// own lock table serves the mount, and a blocking request that conflicts is deferred for
/// the VFS to wait on, as on any local file system.
pub(crate) fn lock(ff: &FuseFile, file: &File, cmd: i32, fl: &mut FileLock) -> Result<LockStatus> {
    inode::check_bad(file.inode::<FuseFs>())?;
    let cmd = cmd as u32;
    if cmd == bindings::F_CANCELLK {
        return Ok(LockStatus::Done);
    }
    let local = ff.conn().neg().no_lock;
    if cmd == bindings::F_GETLK {
        if local {
            fl.posix_test(file);
        } else {
            getlk(ff, fl)?;
        }
        Ok(LockStatus::Done)
    } else if local {
        fl.posix_lock(file)
    } else {
        setlk(ff, fl, false).map(|()| LockStatus::Done)
    }
}

/// `file_operations.flock` (C's `fuse_file_flock()`): emulated with POSIX-style requests
/// flagged `FUSE_LK_FLOCK` when the daemon handles them.
pub(crate) fn flock(ff: &FuseFile, file: &File, fl: &mut FileLock) -> Result {
    inode::check_bad(file.inode::<FuseFs>())?;
    if ff.conn().neg().no_flock {
        return fl.lock_wait(file);
    }
    ff.flock.store(true, Ordering::Release);
    setlk(ff, fl, true)
}
