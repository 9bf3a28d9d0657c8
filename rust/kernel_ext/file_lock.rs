// SPDX-License-Identifier: GPL-2.0

//! Byte-range (POSIX) and whole-file (`flock`) locks (`struct file_lock`) of the `lock` and
//! `flock` file operations, and the VFS's local lock tables.

use super::file::File;
use crate::bindings as local;
use core::ptr;
use kernel::{bindings, ffi::c_int, prelude::*, types::Opaque};

// The generated layout must be the C one: the struct holds unions of other subsystems' types.
const _: () = assert!(core::mem::size_of::<local::file_lock>() == local::SIZEOF_FILE_LOCK);

/// A lock request or a lock description (`struct file_lock`).
///
/// # Invariants
///
/// Instances are only handed out as unique references to the live lock of a `lock` or
/// `flock` call, for the call.
#[repr(transparent)]
pub(crate) struct FileLock(Opaque<local::file_lock>);

/// The parts of a lock the daemon sees (C's `struct fuse_file_lock` view).
#[derive(Clone, Copy, Default)]
pub(crate) struct LockRange {
    /// `F_RDLCK`, `F_WRLCK` or `F_UNLCK`.
    pub(crate) kind: u32,
    /// First byte.
    pub(crate) start: i64,
    /// Last byte (`OFFSET_MAX` for "to the end").
    pub(crate) end: i64,
    /// The holder's pid (in the caller's pid namespace, as the VFS keeps it).
    pub(crate) pid: i32,
}

/// What a lock request came to.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LockStatus {
    /// Taken, released, or tested.
    Done,
    /// It conflicts with a lock held and the request may wait: it is queued behind that lock,
    /// and the VFS waits (interruptibly) until it goes, then asks again
    /// (`FILE_LOCK_DEFERRED`).
    Deferred,
}

impl LockStatus {
    /// The value of the `lock` file operation.
    pub(crate) fn to_raw(self) -> c_int {
        match self {
            Self::Done => 0,
            Self::Deferred => local::FILE_LOCK_DEFERRED,
        }
    }
}

impl FileLock {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must be the live lock of a `lock`/`flock` call, used by nothing else during `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::file_lock) -> &'a mut FileLock {
        // SAFETY: Transparent wrapper; the caller guarantees validity and uniqueness.
        unsafe { &mut *ptr.cast::<FileLock>() }
    }

    fn raw(&self) -> *mut local::file_lock {
        self.0.get()
    }

    /// The lock's range and type.
    pub(crate) fn range(&self) -> LockRange {
        // SAFETY: The lock is live and ours for the call (type invariant).
        unsafe {
            let fl = &*self.raw();
            LockRange {
                kind: u32::from(fl.c.flc_type),
                start: fl.fl_start,
                end: fl.fl_end,
                pid: fl.c.flc_pid,
            }
        }
    }

    /// Describes a conflicting lock (the answer of `F_GETLK`).
    pub(crate) fn set_range(&mut self, r: &LockRange) {
        // SAFETY: The lock is live and ours for the call (type invariant).
        unsafe {
            let fl = &mut *self.raw();
            fl.c.flc_type = r.kind as u8;
            fl.fl_start = r.start;
            fl.fl_end = r.end;
            fl.c.flc_pid = r.pid;
        }
    }

    /// The lock's owner (`fl_owner_t`), as a number.
    pub(crate) fn owner(&self) -> usize {
        // SAFETY: The lock is live and ours for the call (type invariant).
        unsafe { (*self.raw()).c.flc_owner as usize }
    }

    /// The `FL_*` flags.
    pub(crate) fn flags(&self) -> u32 {
        // SAFETY: The lock is live and ours for the call (type invariant).
        unsafe { (*self.raw()).c.flc_flags }
    }

    /// Tests the lock against the local lock table and describes a conflict in place
    /// (`posix_test_lock()`).
    pub(crate) fn posix_test(&mut self, file: &File) {
        // SAFETY: The file and the lock are live for the call.
        unsafe { local::posix_test_lock(file.as_raw(), self.raw()) };
    }

    /// Takes or releases the lock in the local lock table, without waiting
    /// (`posix_lock_file()`): a blocking request that conflicts is [`LockStatus::Deferred`],
    /// for the VFS to wait on.
    pub(crate) fn posix_lock(&mut self, file: &File) -> Result<LockStatus> {
        // SAFETY: The file and the lock are live for the call; no conflict is asked for.
        let ret = unsafe { local::posix_lock_file(file.as_raw(), self.raw(), ptr::null_mut()) };
        kernel::error::to_result(ret)?;
        Ok(if ret == local::FILE_LOCK_DEFERRED {
            LockStatus::Deferred
        } else {
            LockStatus::Done
        })
    }

    /// Takes or releases the lock in the local table, waiting if the lock asks to
    /// (`locks_lock_file_wait()`; the wait is interruptible).
    pub(crate) fn lock_wait(&mut self, file: &File) -> Result {
        // SAFETY: The file and the lock are live for the call.
        kernel::error::to_result(unsafe {
            local::locks_lock_inode_wait((*file.as_raw()).f_inode, self.raw())
        })
    }
}
