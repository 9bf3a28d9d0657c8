// SPDX-License-Identifier: GPL-2.0

//! The page cache side of a [`FileSystem`]: locked folios being read, readahead windows, and
//! the address space operations (`struct address_space_operations`).

use super::{
    fs_type::FileSystem,
    inode::Inode,
    iov_iter::{IovIter, IterPages, SpanEnd},
};
use crate::bindings as local;
use core::{marker::PhantomData, mem::MaybeUninit, ptr::NonNull};
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    bindings,
    error::from_result,
    ffi::c_int,
    types::ForeignOwnable,
};

/// A locked folio that is being read; dropping it without [`LockedFolio::end_read`] ends
/// the read as failed.
///
/// # Invariants
///
/// `folio` is a locked folio of a file's page cache; this instance owns the lock, which keeps
/// the folio in the cache (the page cache holds its reference). `size` is its size, which
/// the lock keeps constant.
pub(crate) struct LockedFolio {
    folio: NonNull<bindings::folio>,
    size: usize,
}

// SAFETY: A locked folio may be unlocked from any context (readahead completions run in the
// daemon's write).
unsafe impl Send for LockedFolio {}
// SAFETY: `&LockedFolio` only reads constant properties.
unsafe impl Sync for LockedFolio {}

impl LockedFolio {
    /// Takes over the lock of `folio`.
    ///
    /// # Safety
    ///
    /// `folio` must be a locked folio of a file's page cache, whose lock the caller owns and
    /// gives to the new instance.
    unsafe fn new(folio: NonNull<bindings::folio>) -> LockedFolio {
        // SAFETY: The folio is locked (the caller's guarantee), so its order is stable.
        let size = unsafe { local::rust_fuse_folio_size(folio.as_ptr()) };
        // INVARIANT: As the caller guarantees, with the size just read.
        LockedFolio { folio, size }
    }

    fn as_raw(&self) -> *mut bindings::folio {
        self.folio.as_ptr()
    }

    /// The file position of the folio's first byte.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: The folio is locked, so its index is stable.
        unsafe { local::rust_fuse_folio_pos(self.as_raw()) }
    }

    /// The folio's size in bytes.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// The inode whose page cache holds the folio.
    pub(crate) fn inode<T: FileSystem>(&self) -> &Inode<T> {
        // SAFETY: A locked page cache folio has a mapping, whose host is an inode of the file
        // system that called us (`T`), alive while its pages are.
        unsafe { Inode::from_raw(local::rust_fuse_folio_inode(self.as_raw())) }
    }

    /// Copies up to `len` bytes from `from` into `folios`, one after the other from the first
    /// byte of the first, and advances; returns how many were copied (short on a fault).
    ///
    /// Each piece of memory behind `from` is mapped once however many folios it spans (as
    /// the C module's `fuse_copy_state` keeps its page across pages of the request).
    pub(crate) fn fill_all_from(folios: &[LockedFolio], len: usize, from: &mut IovIter) -> usize {
        let total: usize = folios.iter().map(|f| f.size()).sum();
        let len = len.min(total);
        let size = |i: usize| folios.get(i).map(LockedFolio::size);
        let SpanEnd {
            mut done,
            mut idx,
            mut off,
        } = from.for_each_span(len, false, size, |i, at, src, k| {
            if let Some(f) = folios.get(i) {
                // SAFETY: The folio is locked by us and not uptodate, so no one else writes
                // it; `at + k` is within it; `src` is mapped for `k` bytes.
                unsafe { local::rust_fuse_memcpy_to_folio(f.as_raw(), at, src.cast(), k) };
            }
        });
        // The rest (where the pages could not be had), folio by folio.
        while done < len {
            let Some(f) = folios.get(idx) else {
                break;
            };
            let k = (f.size() - off).min(len - done);
            // SAFETY: As above; the iterator is live and ours.
            let n =
                unsafe { local::rust_fuse_copy_folio_from_iter(f.as_raw(), off, k, from.as_raw()) };
            done += n;
            if n < k {
                break;
            }
            idx += 1;
            off = 0;
        }
        done
    }

    /// Zeroes the folio from `start` to its end.
    pub(crate) fn zero_from(&self, start: usize) {
        let size = self.size();
        // SAFETY: The folio is locked by us and not uptodate; the range is within it.
        unsafe { local::rust_fuse_folio_zero_segment(self.as_raw(), start.min(size), size) };
    }

    /// Ends the read: marks the folio uptodate if `ok`, and unlocks it (`folio_end_read()`).
    pub(crate) fn end_read(self, ok: bool) {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: We own the lock (type invariant) and give it up here.
        unsafe { local::folio_end_read(this.as_raw(), ok) };
    }
}

impl Drop for LockedFolio {
    fn drop(&mut self) {
        // SAFETY: We own the lock (type invariant).
        unsafe { local::folio_end_read(self.as_raw(), false) };
    }
}

/// A readahead window (`struct readahead_control`).
///
/// # Invariants
///
/// `0` is the live readahead control of the `readahead` call that created this instance.
pub(crate) struct Readahead<'a>(NonNull<local::readahead_control>, PhantomData<&'a ()>);

impl Readahead<'_> {
    /// The state of the open file being read, if any.
    pub(crate) fn file_data<T: FileSystem>(
        &self,
    ) -> Option<<T::FileData as ForeignOwnable>::Borrowed<'_>> {
        // SAFETY: The readahead runs on a page cache of `T` (the callback is `T`'s), so its
        // file is an open file of `T`, alive for the call.
        unsafe {
            let f = (*self.0.as_ptr()).file;
            (!f.is_null()).then(|| super::fs_file::file_data::<T>(f))
        }
    }

    /// The asynchronous part of the window, in pages (`rac->ra->async_size`).
    pub(crate) fn async_size(&self) -> usize {
        // SAFETY: The control and its `ra` state are live for the call.
        unsafe {
            let ra = (*self.0.as_ptr()).ra;
            if ra.is_null() {
                0
            } else {
                (*ra).async_size as usize
            }
        }
    }

    /// The number of pages left in the window (`readahead_count()`, less the batch taken
    /// last, which the control subtracts only when the next is taken).
    pub(crate) fn pages_left(&self) -> usize {
        // SAFETY: As in `file`; plain fields of the control.
        unsafe {
            let rac = self.0.as_ptr();
            ((*rac)._nr_pages - (*rac)._batch_count) as usize
        }
    }

    /// Appends the next folios of the window to `out`, locked, as many as `out` has room
    /// for without allocating (`__readahead_batch()`, one walk of the page cache); returns
    /// how many pages they hold.
    pub(crate) fn next_folios(&mut self, out: &mut KVec<LockedFolio>) -> usize {
        const BATCH: usize = 32;
        let mut pages = 0;
        loop {
            let room = (out.capacity() - out.len()).min(BATCH);
            if room == 0 {
                return pages;
            }
            let mut batch = [core::ptr::null_mut::<bindings::folio>(); BATCH];
            // SAFETY: The control is live; `batch` has room for `room` folios. CAST: `room`
            // is at most 32.
            let got = unsafe {
                local::rust_fuse_readahead_batch(self.0.as_ptr(), batch.as_mut_ptr(), room as u32)
            } as usize;
            if got == 0 {
                return pages;
            }
            for &f in batch.iter().take(got.min(room)) {
                let Some(f) = NonNull::new(f) else {
                    continue;
                };
                // SAFETY: The batch's folios are locked and ours to unlock (their window
                // references were dropped, as `readahead_folio()` does).
                let f = unsafe { LockedFolio::new(f) };
                pages += f.size() / kernel::page::PAGE_SIZE;
                // Within the capacity (`room`): no allocation, no failure (which would drop
                // the folio, ending its read as failed).
                let _ = out.push(f, GFP_KERNEL);
            }
        }
    }
}

/// The address space operations of `T`.
pub(crate) const fn operations<T: FileSystem>() -> bindings::address_space_operations {
    // SAFETY: All-zero is a valid table.
    let mut ops: bindings::address_space_operations =
        unsafe { MaybeUninit::zeroed().assume_init() };
    ops.read_folio = Some(read_folio_callback::<T>);
    if T::HAS_READAHEAD {
        ops.readahead = Some(readahead_callback::<T>);
    }
    super::writeback::fill_aops::<T>(&mut ops);
    ops
}

/// The C callback `read_folio` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn read_folio_callback<T: FileSystem>(
    file: *mut bindings::file,
    folio: *mut bindings::folio,
) -> c_int {
    // SAFETY: The VFS passes a locked folio of `T`'s page cache, whose lock we now own, and
    // the open file of `T` it reads through (or NULL).
    let (data, folio) = unsafe {
        (
            (!file.is_null()).then(|| super::fs_file::file_data::<T>(file)),
            LockedFolio::new(NonNull::new_unchecked(folio)),
        )
    };
    from_result(|| {
        T::read_folio(data, folio)?;
        Ok(0)
    })
}

/// The C callback `readahead` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn readahead_callback<T: FileSystem>(rac: *mut bindings::readahead_control) {
    // SAFETY: The VFS passes a live readahead control for this call.
    let mut rac = Readahead(
        unsafe { NonNull::new_unchecked(rac.cast::<local::readahead_control>()) },
        PhantomData,
    );
    T::readahead(&mut rac);
}

/// A page-cache folio found or created and locked by its owner, for filling from outside a
/// read (`filemap_grab_folio()`); unlocked and released when dropped.
///
/// # Invariants
///
/// `folio` is a locked folio of a page cache on which this instance holds a reference, and
/// `size` its size in bytes (stable while it is locked).
pub(crate) struct GrabbedFolio {
    folio: NonNull<bindings::folio>,
    size: usize,
}

impl GrabbedFolio {
    fn as_raw(&self) -> *mut bindings::folio {
        self.folio.as_ptr()
    }

    /// Takes over a locked folio and one reference on it.
    ///
    /// # Safety
    ///
    /// `folio` must be locked by the caller, who holds a reference on it; both go to the
    /// new instance.
    pub(crate) unsafe fn from_raw(folio: NonNull<bindings::folio>) -> Self {
        // SAFETY: The folio is locked (caller's guarantee), so its order is stable.
        let size = unsafe { local::rust_fuse_folio_size(folio.as_ptr()) };
        // INVARIANT: The caller's guarantee, and the size just read.
        Self { folio, size }
    }

    /// Gives the lock and the reference up to the caller.
    pub(crate) fn into_raw(self) -> *mut bindings::folio {
        core::mem::ManuallyDrop::new(self).as_raw()
    }

    /// Marks the folio dirty (`folio_mark_dirty()`), for write-back later.
    pub(crate) fn mark_dirty(&self) {
        // SAFETY: The folio is locked and belongs to a page cache (type invariant).
        unsafe { bindings::folio_mark_dirty(self.as_raw()) };
    }

    /// The file position of the folio's first byte.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: The folio is locked, so its index is stable.
        unsafe { local::rust_fuse_folio_pos(self.as_raw()) }
    }

    /// The folio's size in bytes.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Copies `data` into the folio at `offset` (cut at the folio's end).
    pub(crate) fn write(&self, offset: usize, data: &[u8]) {
        let len = data.len().min(self.size().saturating_sub(offset));
        // SAFETY: We hold the folio's lock, which serialises writers; the range is in it.
        unsafe {
            local::rust_fuse_memcpy_to_folio(self.as_raw(), offset, data.as_ptr().cast(), len)
        };
    }

    /// Whether the folio holds the file's data (`folio_test_uptodate()`).
    pub(crate) fn is_uptodate(&self) -> bool {
        // SAFETY: The folio is live (type invariant).
        unsafe { local::rust_fuse_folio_test_uptodate(self.as_raw()) }
    }

    /// Marks the folio as holding the file's data (`folio_mark_uptodate()`).
    pub(crate) fn mark_uptodate(&self) {
        // SAFETY: The folio is locked (type invariant), as marking it requires.
        unsafe { local::rust_fuse_folio_mark_uptodate(self.as_raw()) };
    }

    /// Copies up to `len` bytes from `from` into the folio at `offset` (cut at its end) and
    /// advances `from`; returns how many. It takes no page fault
    /// (`copy_folio_from_iter_atomic()`): with the folio locked, a fault on a mapping of this
    /// very folio would wait for that lock. Where the memory behind `from` is not resident
    /// it copies less: the caller drops the folio, faults the memory in
    /// ([`IovIter::fault_in_readable`]) and tries again.
    pub(crate) fn copy_from_iter_atomic(
        &self,
        offset: usize,
        len: usize,
        from: &mut IovIter,
    ) -> usize {
        let len = len.min(self.size().saturating_sub(offset));
        // SAFETY: We hold the folio's lock, which serialises writers; the range is in it, and
        // the iterator is live and ours.
        unsafe {
            local::rust_fuse_copy_folio_from_iter_atomic(self.as_raw(), offset, len, from.as_raw())
        }
    }

    /// References the bytes `[offset, offset + len)` of the folio (cut at its end) in
    /// `pages`, as data for another task to copy (a WRITE from the page cache).
    pub(crate) fn add_to(
        &self,
        pages: &mut IterPages,
        offset: usize,
        len: usize,
    ) -> kernel::error::Result {
        // SAFETY: The folio is referenced (type invariant).
        unsafe { add_folio_range(self.folio, self.size, pages, offset, len) }
    }

    /// Zeroes bytes `[start, end)` of the folio (cut at its end).
    pub(crate) fn zero_range(&self, start: usize, end: usize) {
        let end = end.min(self.size());
        if start < end {
            // SAFETY: We hold the folio's lock; the range is in the folio.
            unsafe { local::rust_fuse_folio_zero_segment(self.as_raw(), start, end) };
        }
    }

    /// Zeroes the folio from `start` and marks it as holding the file's data.
    pub(crate) fn zero_tail_and_mark_uptodate(&self, start: usize) {
        self.zero_range(start, usize::MAX);
        self.mark_uptodate();
    }
}

impl Drop for GrabbedFolio {
    fn drop(&mut self) {
        // SAFETY: We hold the lock and one reference (type invariant); both are given back.
        unsafe {
            local::folio_unlock(self.as_raw());
            local::rust_fuse_folio_put(self.as_raw());
        }
    }
}

/// A referenced (not locked) folio of a page cache, to copy data out of
/// (`filemap_get_folio()`).
///
/// # Invariants
///
/// `0` is a folio on which this instance holds a reference.
pub(crate) struct CachedFolio(NonNull<bindings::folio>);

impl CachedFolio {
    /// The file position of the folio's first byte.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: The folio is referenced; a racing truncation may move it, which only makes
        // the copy stale, as in C.
        unsafe { local::rust_fuse_folio_pos(self.0.as_ptr()) }
    }

    /// The folio's size in bytes.
    pub(crate) fn size(&self) -> usize {
        // SAFETY: The folio is referenced; its size does not change while it is.
        unsafe { local::rust_fuse_folio_size(self.0.as_ptr()) }
    }

    /// References the bytes `[offset, offset + len)` of the folio (cut at its end) in
    /// `pages`, which keeps its pages when this reference is gone; their data is read when
    /// `pages` is copied out, as the page cache holds it then.
    pub(crate) fn add_to(
        &self,
        pages: &mut IterPages,
        offset: usize,
        len: usize,
    ) -> kernel::error::Result {
        // SAFETY: The folio is referenced (type invariant).
        unsafe { add_folio_range(self.0, self.size(), pages, offset, len) }
    }
}

impl Drop for CachedFolio {
    fn drop(&mut self) {
        // SAFETY: We hold one reference (type invariant).
        unsafe { local::rust_fuse_folio_put(self.0.as_ptr()) };
    }
}

/// References the bytes `[offset, offset + len)` of a folio of `size` bytes (cut at its end)
/// in `pages`.
///
/// # Safety
///
/// The caller keeps the folio alive (a reference or its lock) for the call.
unsafe fn add_folio_range(
    folio: NonNull<bindings::folio>,
    size: usize,
    pages: &mut IterPages,
    offset: usize,
    len: usize,
) -> kernel::error::Result {
    let len = len.min(size.saturating_sub(offset));
    // SAFETY: The folio is alive (caller's guarantee) and the range is in it.
    unsafe { pages.push_folio_range(folio, offset, len) }
}

impl<T: FileSystem> Inode<T> {
    /// Finds or creates the page-cache folio at page `index`, locked (`filemap_grab_folio()`).
    pub(crate) fn grab_folio(&self, index: u64) -> kernel::error::Result<GrabbedFolio> {
        // SAFETY: The inode is live; its mapping lives as long as it does.
        let f =
            unsafe { local::rust_fuse_filemap_grab_folio((*self.as_raw()).i_mapping, index as _) };
        let f = kernel::error::from_err_ptr(f)?;
        let f = NonNull::new(f).ok_or(kernel::error::code::ENOMEM)?;
        // SAFETY: `filemap_grab_folio()` returned a locked, referenced folio, now ours.
        Ok(unsafe { GrabbedFolio::from_raw(f) })
    }

    /// The cached folio at page `index`, if any (`filemap_get_folio()`).
    pub(crate) fn cached_folio(&self, index: u64) -> Option<CachedFolio> {
        // SAFETY: The inode is live; its mapping lives as long as it does.
        let f =
            unsafe { local::rust_fuse_filemap_get_folio((*self.as_raw()).i_mapping, index as _) };
        let f = kernel::error::from_err_ptr(f).ok()?;
        // INVARIANT: `filemap_get_folio()` returned a referenced folio.
        NonNull::new(f).map(CachedFolio)
    }
}
