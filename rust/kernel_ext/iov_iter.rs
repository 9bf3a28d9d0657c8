// SPDX-License-Identifier: GPL-2.0

//! I/O vector iterators (`struct iov_iter`) of `read_iter`/`write_iter` calls.

use crate::bindings as local;
use kernel::{
    alloc::{Allocator, Vec},
    bindings,
    error::code::EFAULT,
    prelude::*,
    types::Opaque,
};

/// An I/O vector iterator of a `read_iter` or `write_iter` call.
///
/// # Invariants
///
/// Instances are only handed out as unique references to a live iterator for one call.
#[repr(transparent)]
pub(crate) struct IovIter(Opaque<bindings::iov_iter>);

impl IovIter {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live iterator used by nothing else during `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::iov_iter) -> &'a mut IovIter {
        // SAFETY: Transparent wrapper; the caller guarantees validity and uniqueness.
        unsafe { &mut *ptr.cast::<IovIter>() }
    }

    pub(crate) fn as_raw(&mut self) -> *mut bindings::iov_iter {
        self.0.get()
    }

    /// The number of bytes left (`iov_iter_count()`).
    pub(crate) fn count(&self) -> usize {
        // SAFETY: The iterator is live (type invariant); this only reads it.
        unsafe { local::rust_fuse_iov_iter_count(self.0.get()) }
    }

    /// Copies `data` out and advances; returns how much was copied (short on a fault).
    pub(crate) fn copy_to(&mut self, data: &[u8]) -> usize {
        // SAFETY: `data` is a valid slice; the iterator is live and ours for the call.
        unsafe { local::rust_fuse_copy_to_iter(data.as_ptr().cast(), data.len(), self.as_raw()) }
    }

    /// Copies all of `data` out and advances, or fails with `EFAULT`.
    pub(crate) fn copy_all_to(&mut self, data: &[u8]) -> Result {
        if self.copy_to(data) == data.len() {
            Ok(())
        } else {
            Err(EFAULT)
        }
    }

    /// Fills `buf` from the iterator and advances, or fails with `EFAULT`.
    pub(crate) fn copy_all_from(&mut self, buf: &mut [u8]) -> Result {
        // SAFETY: `buf` is a valid, writable slice; the iterator is live and ours.
        let n = unsafe {
            local::rust_fuse_copy_from_iter(buf.as_mut_ptr().cast(), buf.len(), self.as_raw())
        };
        if n == buf.len() {
            Ok(())
        } else {
            Err(EFAULT)
        }
    }

    /// Steps back over `bytes` already consumed (`iov_iter_revert()`).
    pub(crate) fn revert(&mut self, bytes: usize) {
        // SAFETY: The iterator is live and ours; the caller consumed at least `bytes`.
        unsafe { local::rust_fuse_iov_iter_revert(self.as_raw(), bytes) };
    }

    /// Appends up to `len` bytes from the iterator to `buf` and advances, without zeroing
    /// the room first; returns how many were appended (short on a fault).
    pub(crate) fn append_up_to<A: Allocator>(
        &mut self,
        buf: &mut Vec<u8, A>,
        len: usize,
    ) -> Result<usize> {
        buf.reserve(len, GFP_KERNEL)?;
        let spare = buf.spare_capacity_mut();
        // SAFETY: `spare` has room for at least `len` bytes (reserved above), which the copy
        // writes, never reads; the iterator is live and ours.
        let n = unsafe {
            local::rust_fuse_copy_from_iter(spare.as_mut_ptr().cast(), len, self.as_raw())
        };
        let new_len = buf.len() + n;
        // SAFETY: The `n` bytes after the old length were just written.
        unsafe { buf.set_len(new_len) };
        Ok(n)
    }

    /// Appends exactly `len` bytes from the iterator to `buf` and advances, or fails with
    /// `EFAULT`, leaving both as they were.
    pub(crate) fn append_to<A: Allocator>(&mut self, buf: &mut Vec<u8, A>, len: usize) -> Result {
        let old = buf.len();
        let n = self.append_up_to(buf, len)?;
        if n != len {
            self.revert(n);
            // SAFETY: `old` is less than the length, and `u8` needs no drop.
            unsafe { buf.set_len(old) };
            return Err(EFAULT);
        }
        Ok(())
    }
}
