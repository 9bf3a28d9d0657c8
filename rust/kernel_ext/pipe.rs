// SPDX-License-Identifier: GPL-2.0

//! Pipes as the destination and the source of `splice(2)` (`struct pipe_inode_info`).
//!
//! C headers: [`include/linux/pipe_fs_i.h`](srctree/include/linux/pipe_fs_i.h),
//! [`include/linux/splice.h`](srctree/include/linux/splice.h)
//!
//! The kernel's generic `copy_splice_read()` allocates a page for every free slot of the
//! pipe before it knows how much the read will produce, and frees the unused ones after: 257
//! pages for each read into a 1 MiB pipe. A `splice_read` that knows the size of what it is
//! about to write uses [`PipeFill`] instead, which allocates just the pages that size needs.
//!
//! The generic `iter_file_splice_write()` allocates and zeroes an array of one `bio_vec`
//! for every slot of the pipe on each call (32 KiB for a 2,048-slot pipe); a `splice_write`
//! that takes a known number of bytes uses [`PipeFront`], which describes just the buffers
//! that hold them.

use super::iov_iter::{IovIter, PageRef};
use crate::bindings as local;
use core::{mem::ManuallyDrop, ptr};
use kernel::{
    bindings,
    page::{Page, PAGE_SIZE},
    prelude::*,
    types::Opaque,
};

/// A pipe, locked by the current task: by the caller of the `splice_read` it was passed
/// to, or for a `splice_write` by its callback.
///
/// # Invariants
///
/// Instances are only handed out as references to a live pipe that the current task holds
/// the lock of (`pipe_lock()`) for the reference's lifetime.
#[repr(transparent)]
pub(crate) struct Pipe(Opaque<bindings::pipe_inode_info>);

impl Pipe {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live pipe whose lock the current task holds during `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::pipe_inode_info) -> &'a Pipe {
        // SAFETY: Transparent wrapper; the caller guarantees validity and the lock.
        unsafe { &*ptr.cast::<Pipe>() }
    }
}

impl Pipe {
    /// The buffers at the front of the pipe that hold its first `len` bytes, confirmed (the
    /// data of each is there), as a source iterator; `None` if the pipe holds fewer bytes.
    pub(crate) fn front(&self, len: usize) -> Result<Option<PipeFront<'_>>> {
        let raw = self.0.get();
        // SAFETY: The pipe is live and locked (type invariant).
        let occupied = unsafe { local::rust_fuse_pipe_occupancy(raw) };
        // Room for whole pages, as the daemons' buffers mostly are; smaller ones grow it.
        let guess = (occupied as usize).min(len.div_ceil(PAGE_SIZE) + 1);
        let mut bvecs = KVec::with_capacity(guess, GFP_KERNEL)?;
        let mut have = 0usize;
        for i in 0..occupied {
            if have >= len {
                break;
            }
            // SAFETY: The pipe is locked and slot `i` from its tail is occupied.
            let buf = unsafe { local::rust_fuse_pipe_front_buf(raw, i) };
            // SAFETY: As above; `buf` is one of its buffers.
            let ret = unsafe { local::rust_fuse_pipe_buf_confirm(raw, buf) };
            if ret < 0 {
                return Err(Error::from_errno(ret));
            }
            // SAFETY: `buf` is an occupied buffer of the locked pipe, which keeps it.
            let (page, offset, blen) = unsafe { ((*buf).page, (*buf).offset, (*buf).len) };
            // CAST: A `u32` less than the buffer's `len`.
            let take = (blen as usize).min(len - have) as u32;
            let bvec = bindings::bio_vec {
                bv_page: page,
                bv_len: take,
                bv_offset: offset,
            };
            bvecs.push(bvec, GFP_KERNEL)?;
            have += take as usize;
        }
        if have < len {
            return Ok(None);
        }
        let iter = Opaque::<bindings::iov_iter>::uninit();
        // SAFETY: `iov_iter_bvec()` initialises the whole iterator; the vectors live in the
        // heap buffer of `bvecs`, which does not move with `PipeFront` and outlives the
        // iterator, and their pages stay in the pipe, which the lock keeps, until `consume`.
        unsafe {
            bindings::iov_iter_bvec(
                iter.get(),
                bindings::ITER_SOURCE as _,
                bvecs.as_ptr(),
                bvecs.len(),
                len,
            )
        };
        Ok(Some(PipeFront {
            pipe: self,
            _bvecs: bvecs,
            len,
            iter,
        }))
    }
}

/// The first `len` bytes of a locked pipe as a source iterator ([`Pipe::front`]); they stay
/// in the pipe until [`PipeFront::consume`].
///
/// # Invariants
///
/// `iter` is a source iterator over `_bvecs`, which describe the buffers at the front of
/// `pipe` holding its first `len` bytes.
pub(crate) struct PipeFront<'a> {
    pipe: &'a Pipe,
    _bvecs: KVec<bindings::bio_vec>,
    len: usize,
    iter: Opaque<bindings::iov_iter>,
}

impl PipeFront<'_> {
    /// The iterator over the bytes.
    pub(crate) fn iter(&mut self) -> &mut IovIter {
        // SAFETY: The iterator is initialised and only reached through `&mut self`.
        unsafe { IovIter::from_raw(self.iter.get()) }
    }

    /// Takes the `len` bytes out of the pipe, however far the iterator went: buffers wholly
    /// taken are released, a buffer taken in part keeps the rest. Waiting writers are woken.
    pub(crate) fn consume(self) {
        let raw = self.pipe.0.get();
        let mut left = self.len;
        while left > 0 {
            // SAFETY: The pipe is locked (type invariant of `Pipe`) and holds at least `left`
            // more bytes (type invariant), so its front slot is occupied.
            let buf = unsafe { local::rust_fuse_pipe_front_buf(raw, 0) };
            // SAFETY: `buf` is the pipe's front buffer, which the lock keeps.
            let blen = unsafe { (*buf).len } as usize;
            if blen > left {
                // CAST: `left` is less than the buffer's `u32` length.
                // SAFETY: As above; the buffer keeps its last `blen - left` bytes.
                unsafe {
                    (*buf).offset += left as u32;
                    (*buf).len -= left as u32;
                }
                break;
            }
            // SAFETY: The front slot is occupied; its buffer is released and the slot freed.
            unsafe { local::rust_fuse_pipe_release_front(raw) };
            left -= blen;
        }
        // SAFETY: The pipe is live and locked.
        unsafe { local::rust_fuse_pipe_wake_writers(raw) };
    }
}

/// Fresh pages for `len` bytes, filled through an iterator and then put in a pipe (they are
/// the kernel's: the reader of the pipe maps them only through the pipe's copy routines).
///
/// # Invariants
///
/// Once [`PipeFill::new`] returns, `iter` is a destination iterator over `bvecs` (before,
/// it is uninitialised and unused), which describe fresh pages in order, each
/// whole but the last, which holds the rest of `len` bytes. The one reference of each page
/// is this instance's, put by its drop unless [`PipeFill::commit`] passes it on.
pub(crate) struct PipeFill {
    bvecs: KVec<bindings::bio_vec>,
    iter: Opaque<bindings::iov_iter>,
    refs: Option<KVec<PageRef>>,
}

impl PipeFill {
    /// Allocates the pages for `len` bytes.
    pub(crate) fn new(len: usize) -> Result<Self> {
        let n = len.div_ceil(PAGE_SIZE);
        let mut fill = Self {
            bvecs: KVec::with_capacity(n, GFP_KERNEL)?,
            iter: Opaque::uninit(),
            refs: None,
        };
        for i in 0..n {
            let page = Page::alloc_page(GFP_KERNEL)?;
            let bvec = bindings::bio_vec {
                bv_page: page.as_ptr(),
                // CAST: At most `PAGE_SIZE`.
                bv_len: (len - i * PAGE_SIZE).min(PAGE_SIZE) as u32,
                ..Default::default()
            };
            // Within the capacity: this does not fail (and would free the page if it did).
            fill.bvecs.push(bvec, GFP_KERNEL)?;
            // The page's reference is the vector's now: `drop` or `commit` gives it up.
            core::mem::forget(page);
        }
        // SAFETY: `iov_iter_bvec()` initialises the whole iterator; the vectors live in the
        // heap buffer of `bvecs`, which does not move with `Self` and outlives the iterator.
        unsafe {
            bindings::iov_iter_bvec(
                fill.iter.get(),
                bindings::ITER_DEST as _,
                fill.bvecs.as_ptr(),
                n,
                len,
            )
        };
        Ok(fill)
    }

    /// The iterator that fills the pages.
    pub(crate) fn iter(&mut self) -> &mut IovIter {
        // SAFETY: The iterator is initialised and only reached through `&mut self`.
        unsafe { IovIter::from_raw(self.iter.get()) }
    }

    /// Adds page references after the filled pages, in order: the pipe gets their bytes
    /// without a copy (as the C module's `fuse_ref_page()`).
    pub(crate) fn add_refs(&mut self, refs: KVec<PageRef>) {
        self.refs = Some(refs);
    }

    /// Puts the first `len` bytes, of the filled pages and then of the added references,
    /// into `pipe`, as buffers that may not be stolen (as the C FUSE: their operations are
    /// the kernel's, so that they outlive this module). Returns the number of bytes the pipe
    /// took; pages and references left over are freed or put.
    pub(crate) fn commit(self, pipe: &Pipe, len: usize) -> Result<usize> {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is neither used nor dropped after its two fields are moved out.
        let (bvecs, refs) = unsafe { (ptr::read(&this.bvecs), ptr::read(&this.refs)) };
        // The filled pages, one reference of each ours (type invariant), then the added
        // references. Every item is taken from the chain, so that none is left unput.
        let own = bvecs.into_iter().map(|bvec| {
            // SAFETY: The page's one reference, ours, passes to the `PageRef` (whose drop puts
            // it, freeing the page, as releasing a pipe buffer of it does).
            unsafe { PageRef::from_raw(bvec.bv_page, 0, bvec.bv_len) }
        });
        let mut done = 0;
        let mut failed = None;
        for r in Iterator::chain(own, refs.into_iter().flatten()) {
            if done >= len || failed.is_some() {
                // Dropping the reference puts it.
                continue;
            }
            let n = r.len().min(len - done);
            let (page, offset, _) = r.into_raw();
            let mut buf = local::pipe_buffer {
                page,
                offset,
                // CAST: At most the reference's `u32` length.
                len: n as u32,
                ops: &raw const local::nosteal_pipe_buf_ops,
                ..Default::default()
            };
            // SAFETY: The pipe is live and locked (type invariant of `Pipe`); `buf` describes
            // a page reference given up to us, which `add_to_pipe()` takes, releasing it
            // itself on failure.
            let ret = unsafe { local::add_to_pipe(pipe.0.get(), &mut buf) };
            if ret < 0 {
                // CAST: An errno from `add_to_pipe()`.
                failed = Some(Error::from_errno(ret as i32));
                continue;
            }
            done += n;
        }
        match failed {
            Some(e) if done == 0 => Err(e),
            _ => Ok(done),
        }
    }
}

impl Drop for PipeFill {
    fn drop(&mut self) {
        for bvec in self.bvecs.iter() {
            // SAFETY: The page's one reference is ours (type invariant) and given up here.
            drop(unsafe { PageRef::from_raw(bvec.bv_page, 0, bvec.bv_len) });
        }
    }
}
