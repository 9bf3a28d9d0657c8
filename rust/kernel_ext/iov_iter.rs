// SPDX-License-Identifier: GPL-2.0

//! I/O vector iterators (`struct iov_iter`) of `read_iter`/`write_iter` calls.

use super::inline_vec::InlineVec;
use crate::bindings as local;
use core::ptr;
use kernel::{
    alloc::{Allocator, KVVec, KVec, Vec},
    bindings,
    error::code::{EFAULT, ENOMEM},
    init::Init,
    page::PAGE_SIZE,
    prelude::*,
    types::Opaque,
};

/// Copies of at least this many bytes go page by page through the memory behind the
/// iterator, mapped in the kernel (as the C module's `fuse_copy_fill()`), rather than through
/// the user-copy routines, whose `rep movsb` is slow where string instructions are emulated
/// byte by byte (QEMU's TCG); shorter ones are not worth getting the pages.
const PAGE_COPY_MIN: usize = 1024;

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
        let src = data.as_ptr();
        let mut done = 0;
        if data.len() >= PAGE_COPY_MIN {
            done = self.for_each_page(data.len(), true, |dst, at, n| {
                // SAFETY: `dst` is mapped memory of `n` bytes behind the iterator; `at + n` is
                // within `data`.
                unsafe { ptr::copy_nonoverlapping(src.add(at), dst, n) }
            });
        }
        // The rest (all of a short copy, or where the pages could not be had).
        // SAFETY: `data[done..]` is a valid slice; the iterator is live and ours for the call.
        done + unsafe {
            local::rust_fuse_copy_to_iter(src.add(done).cast(), data.len() - done, self.as_raw())
        }
    }

    /// Copies up to `len` bytes from the iterator to `dst` and advances; returns how many
    /// (short on a fault).
    ///
    /// # Safety
    ///
    /// `dst` must be valid for writes of `len` bytes.
    unsafe fn copy_from_raw(&mut self, dst: *mut u8, len: usize) -> usize {
        let mut done = 0;
        if len >= PAGE_COPY_MIN {
            done = self.for_each_page(len, false, |src, at, n| {
                // SAFETY: `src` is mapped memory of `n` bytes behind the iterator; `at + n` is
                // at most `len`. The daemon may change its memory meanwhile: the bytes are
                // copied as they are, and whoever reads them checks them.
                unsafe { ptr::copy_nonoverlapping(src, dst.add(at), n) }
            });
        }
        // SAFETY: The caller guarantees `dst` for `len` bytes; the iterator is live and ours.
        done + unsafe {
            local::rust_fuse_copy_from_iter(dst.add(done).cast(), len - done, self.as_raw())
        }
    }

    /// Walks up to `len` bytes of the iterator page by page (the C module's
    /// `fuse_copy_fill()`): each piece of memory behind it, a user page (referenced for the
    /// call) or a bvec page (held by the iterator's owner), is mapped and handed to `f` with
    /// its address, the bytes walked before it and its length; `written` marks pages the copy
    /// writes (dirtied after). Returns the bytes walked, and stops early where the pages
    /// cannot be had: a fault, or an iterator of another kind (`kvec`), which the caller then
    /// copies as usual. User pages are taken up to [`PAGES_BATCH`] at a time: one walk of the
    /// page tables for them all.
    pub(crate) fn for_each_page(
        &mut self,
        len: usize,
        written: bool,
        mut f: impl FnMut(*mut u8, usize, usize),
    ) -> usize {
        let mut done = 0;
        // SAFETY: The iterator is live; this only reads it.
        let user = unsafe { local::rust_fuse_user_backed_iter(self.as_raw()) };
        while done < len {
            let mut page: *mut bindings::page = ptr::null_mut();
            let mut off = 0usize;
            // SAFETY: The iterator is live and ours; `page` and `off` are valid for writes.
            let n = unsafe {
                local::rust_fuse_iter_bvec_peek(self.as_raw(), len - done, &mut page, &mut off)
            };
            if n > 0 {
                // SAFETY: The iterator's owner holds its pages while we use it; bytes
                // `off..off + n` of `page` are its next ones, mapped only while `f` runs,
                // and within its current segment, over which it then advances.
                unsafe {
                    with_mapped(page, |addr| f(addr.add(off), done, n));
                    if written {
                        local::rust_fuse_page_dirtied(page, false);
                    }
                    local::rust_fuse_iter_bvec_advance(self.as_raw(), n);
                }
                done += n;
                continue;
            }
            let mut batch = [ptr::null_mut::<bindings::page>(); PAGES_BATCH];
            // SAFETY: The iterator is live and ours; `batch` has room for `PAGES_BATCH` pages.
            let got = unsafe {
                bindings::iov_iter_get_pages2(
                    self.as_raw(),
                    batch.as_mut_ptr(),
                    len - done,
                    PAGES_BATCH as _,
                    &mut off,
                )
            };
            // CAST: `got` is positive and at most `len - done`.
            let mut left = match usize::try_from(got) {
                Ok(n) if n > 0 => n.min(len - done),
                _ => break,
            };
            for &page in batch.iter().take_while(|p| !p.is_null()) {
                let k = left.min(PAGE_SIZE - off);
                // SAFETY: `iov_iter_get_pages2()` gave us a reference to `page`, whose bytes
                // `off..off + k` are the iterator's next ones, mapped only while `f` runs.
                unsafe {
                    if k > 0 {
                        with_mapped(page, |addr| f(addr.add(off), done, k));
                        if written {
                            local::rust_fuse_page_dirtied(page, user);
                        }
                    }
                    local::rust_fuse_put_page(page);
                }
                done += k;
                left -= k;
                off = 0;
            }
        }
        done
    }

    /// Walks up to `n` bytes of the iterator's memory once ([`IovIter::for_each_page`]) as
    /// the contents of consecutive targets of `len(i)` bytes each (`None` past the last):
    /// each run within one target is handed to `f` with the target's index, the offset in
    /// it, the mapped memory and the run's length. Returns where the walk stopped, for the
    /// caller to go on with the usual copy routines.
    pub(crate) fn for_each_span(
        &mut self,
        n: usize,
        written: bool,
        len: impl Fn(usize) -> Option<usize>,
        mut f: impl FnMut(usize, usize, *mut u8, usize),
    ) -> SpanEnd {
        let (mut idx, mut off) = (0usize, 0usize);
        let done = self.for_each_page(n, written, |mem, _at, size| {
            let mut c = 0;
            while c < size {
                let Some(target) = len(idx) else {
                    // Cannot happen: callers walk at most the targets' total.
                    break;
                };
                let k = (target - off).min(size - c);
                // SAFETY: `mem` is mapped for `size` bytes and `c + k` is at most `size`.
                f(idx, off, unsafe { mem.add(c) }, k);
                c += k;
                off += k;
                if off == target {
                    idx += 1;
                    off = 0;
                }
            }
        });
        SpanEnd { done, idx, off }
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
        // SAFETY: `buf` is a valid, writable slice.
        let n = unsafe { self.copy_from_raw(buf.as_mut_ptr(), buf.len()) };
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
        // writes, never reads.
        let n = unsafe { self.copy_from_raw(spare.as_mut_ptr().cast(), len) };
        let new_len = buf.len() + n;
        // SAFETY: The `n` bytes after the old length were just written.
        unsafe { buf.set_len(new_len) };
        Ok(n)
    }

    /// Faults in the memory behind the next `len` bytes for reading
    /// (`fault_in_iov_iter_readable()`); returns whether any of it could be.
    pub(crate) fn fault_in_readable(&mut self, len: usize) -> bool {
        // SAFETY: The iterator is live; this only reads it.
        let left = unsafe { local::rust_fuse_fault_in_iter_readable(self.as_raw(), len) };
        left < len
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

    /// References the pages behind the next `len` bytes (fewer where they end, or cannot be
    /// had) and advances over them (C's `fuse_get_user_pages()`), so that another task can
    /// copy into them; fails with `EFAULT` if not even one can be had (a `kvec`, a fault).
    pub(crate) fn get_pages(&mut self, len: usize) -> Result<IterPages> {
        // SAFETY: The iterator is live; this only reads it.
        let user = unsafe { local::rust_fuse_user_backed_iter(self.as_raw()) };
        let mut pages = IterPages {
            pieces: InlineVec::with_capacity(NO_PIECE, len.div_ceil(PAGE_SIZE) + 1, GFP_KERNEL)?,
            len: 0,
            user,
            written: false,
        };
        while pages.len < len {
            let mut batch = [ptr::null_mut::<bindings::page>(); PAGES_BATCH];
            let mut off = 0usize;
            // SAFETY: The iterator is live and ours; `batch` has room for `PAGES_BATCH` pages.
            let n = unsafe {
                bindings::iov_iter_get_pages2(
                    self.as_raw(),
                    batch.as_mut_ptr(),
                    len - pages.len,
                    PAGES_BATCH as _,
                    &mut off,
                )
            };
            let mut left = match usize::try_from(n) {
                Ok(n) if n > 0 => n,
                _ => break,
            };
            let mut failed = false;
            for &page in batch.iter().take_while(|p| !p.is_null()) {
                let k = left.min(PAGE_SIZE - off);
                // CAST: `off` and `k` are at most `PAGE_SIZE`.
                let piece = Piece {
                    page,
                    off: off as u32,
                    len: k as u32,
                };
                off = 0;
                if failed || k == 0 {
                    // SAFETY: A reference `iov_iter_get_pages2()` gave, used by nothing.
                    unsafe { local::rust_fuse_put_page(page) };
                } else if pages.pieces.push(piece, GFP_KERNEL).is_err() {
                    // SAFETY: As above.
                    unsafe { local::rust_fuse_put_page(page) };
                    failed = true;
                } else {
                    pages.len += k;
                    left -= k;
                }
            }
            if failed {
                // The iterator goes back over the bytes not kept.
                self.revert(left);
                break;
            }
        }
        if pages.len == 0 {
            return Err(EFAULT);
        }
        Ok(pages)
    }
}

/// The most pages [`IovIter::get_pages`] and [`IovIter::for_each_page`] take per call.
const PAGES_BATCH: usize = 16;

/// Runs `f` with `page` mapped at the address it is given (`kmap_local_page()`), which is
/// valid for the page's size until `f` returns.
///
/// # Safety
///
/// `page` must stay allocated until `f` returns (the caller holds a reference to it, or the
/// owner of the iterator it is behind does), and `f` must not keep the address.
unsafe fn with_mapped<R>(page: *mut bindings::page, f: impl FnOnce(*mut u8) -> R) -> R {
    // SAFETY: The page stays allocated (caller's guarantee); the mapping is undone below,
    // after `f`, in the same (local) scope.
    unsafe {
        let addr = local::rust_fuse_kmap_local_page(page).cast::<u8>();
        let r = f(addr);
        local::rust_fuse_kunmap_local(addr.cast());
        r
    }
}

/// Bytes read from an iterator, kept inside up to `N` of them, else in a buffer of exactly
/// their length; built in place ([`ReadBuf::read`]), so that neither the inline bytes are
/// zeroed first nor the whole buffer is moved after.
///
/// # Invariants
///
/// Without `heap`, `len` is at most `N` and the first `len` bytes of `inline` are
/// initialised; with it, `len` is its length.
pub(crate) struct ReadBuf<const N: usize> {
    inline: [core::mem::MaybeUninit<u8>; N],
    heap: Option<KVVec<u8>>,
    len: usize,
}

impl<const N: usize> ReadBuf<N> {
    /// Reads `len` bytes from `from`; `EFAULT` if it cannot. `len` is the caller's bound:
    /// beyond `N`, it is the size of the buffer allocated.
    pub(crate) fn read(from: &mut IovIter, len: usize) -> impl Init<Self, Error> + '_ {
        let init = move |slot: *mut Self| {
            let heap = if len <= N {
                // SAFETY: `slot` is valid for writes (`init_from_closure`'s contract); its
                // inline bytes have room for `len`, and `MaybeUninit` bytes may be written.
                let to = unsafe { (&raw mut (*slot).inline).cast::<u8>() };
                // SAFETY: `to` is valid for writes of `len` bytes (above).
                if unsafe { from.copy_from_raw(to, len) } != len {
                    return Err(EFAULT);
                }
                None
            } else {
                let mut heap = KVVec::new();
                from.append_to(&mut heap, len)?;
                Some(heap)
            };
            // SAFETY: As above. INVARIANT: `len` bytes were read inline, or into `heap`.
            unsafe {
                (&raw mut (*slot).heap).write(heap);
                (&raw mut (*slot).len).write(len);
            }
            Ok(())
        };
        // SAFETY: On success the closure initialised `heap` and `len`, and `inline` needs no
        // initialisation; on failure it wrote nothing that needs a drop (at most some
        // `MaybeUninit` bytes), and the slot is not used again by it.
        unsafe { kernel::init::init_from_closure(init) }
    }

    /// The bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        match &self.heap {
            Some(h) => h,
            // SAFETY: Without `heap`, the first `len` bytes, at most `N`, are initialised
            // (type invariant).
            None => unsafe {
                core::slice::from_raw_parts(self.inline.as_ptr().cast::<u8>(), self.len)
            },
        }
    }
}

/// A page reference of its own, and the bytes of the page that hold data
/// ([`IterPages::page_refs`]); dropping it puts the reference.
///
/// # Invariants
///
/// `page` is referenced by this instance until it is dropped or [`PageRef::into_raw`].
pub(crate) struct PageRef {
    page: *mut bindings::page,
    off: u32,
    len: u32,
}

// SAFETY: A page reference may be used and put from any task.
unsafe impl Send for PageRef {}

impl PageRef {
    /// Takes over a page reference, for `len` bytes of the page at `off`.
    ///
    /// # Safety
    ///
    /// The caller owns a reference to `page`, which passes to the new instance.
    pub(crate) unsafe fn from_raw(page: *mut bindings::page, off: u32, len: u32) -> PageRef {
        PageRef { page, off, len }
    }

    /// The number of bytes.
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    /// Gives up the reference to the caller: the page, the offset and the length of the
    /// bytes.
    pub(crate) fn into_raw(self) -> (*mut bindings::page, u32, u32) {
        let this = core::mem::ManuallyDrop::new(self);
        (this.page, this.off, this.len)
    }
}

impl Drop for PageRef {
    fn drop(&mut self) {
        // SAFETY: The reference is ours (type invariant).
        unsafe { local::rust_fuse_put_page(self.page) };
    }
}

/// Pieces of [`IterPages`] kept inside it: a 4 KiB write-back or O_DIRECT WRITE, even from
/// an unaligned buffer, needs no allocation for them.
const INLINE_PIECES: usize = 4;

/// An unused slot of [`IterPages::pieces`].
const NO_PIECE: Piece = Piece {
    page: ptr::null_mut(),
    off: 0,
    len: 0,
};

/// One referenced page of [`IterPages`] and the bytes of it that belong to the iterator.
#[derive(Clone, Copy)]
struct Piece {
    page: *mut bindings::page,
    off: u32,
    len: u32,
}

/// Referenced pages that hold data: the pages behind part of an iterator
/// ([`IovIter::get_pages`]), or pages of their own with copies of folios
/// ([`IterPages::push_folio_copy`]). Dropping it puts them, and marks those written dirty
/// (`flush_dcache_page()`, `set_page_dirty_lock()` for user memory), as the C module's
/// `fuse_release_user_pages()`.
///
/// # Invariants
///
/// Each piece holds a page reference, and `len` is the sum of the pieces' lengths.
pub(crate) struct IterPages {
    pieces: InlineVec<Piece, INLINE_PIECES>,
    len: usize,
    user: bool,
    written: bool,
}

// SAFETY: Page references may be used and put from any task.
unsafe impl Send for IterPages {}
// SAFETY: `&IterPages` gives no access to the pages.
unsafe impl Sync for IterPages {}

impl IterPages {
    /// No pages yet.
    pub(crate) const fn new() -> IterPages {
        IterPages {
            pieces: InlineVec::new(NO_PIECE),
            len: 0,
            user: false,
            written: false,
        }
    }

    /// The number of bytes behind the pages.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends copies of the first `size` bytes of `folio`, in pages allocated for them
    /// (`copy_highpage()`, as the C module's write-back copies a folio into its temporary
    /// pages); `ENOMEM` leaves the pages copied so far.
    ///
    /// # Safety
    ///
    /// The caller keeps the folio alive (a reference or its lock) for the call, and `size` is
    /// at most its size.
    pub(crate) unsafe fn push_folio_copy(
        &mut self,
        folio: ptr::NonNull<bindings::folio>,
        size: usize,
    ) -> Result {
        for i in 0..size.div_ceil(PAGE_SIZE) {
            let k = (size - i * PAGE_SIZE).min(PAGE_SIZE);
            // SAFETY: The folio is alive and holds page `i` (caller's guarantee).
            let page = unsafe { local::rust_fuse_copy_folio_page(folio.as_ptr(), i as _) };
            if page.is_null() {
                return Err(ENOMEM);
            }
            // CAST: `k` is at most `PAGE_SIZE`.
            let piece = Piece {
                page,
                off: 0,
                len: k as u32,
            };
            if self.pieces.push(piece, GFP_KERNEL).is_err() {
                // SAFETY: The page was allocated above and is used by nothing.
                unsafe { local::rust_fuse_put_page(page) };
                return Err(ENOMEM);
            }
            self.len += k;
        }
        Ok(())
    }

    /// Appends references to the bytes `[offset, offset + len)` of `folio`, page by page (a
    /// folio of the page cache whose data another task copies); `ENOMEM` leaves the pages
    /// added so far.
    ///
    /// # Safety
    ///
    /// The caller keeps the folio alive (a reference or its lock) for the call, and the range
    /// is within it.
    pub(crate) unsafe fn push_folio_range(
        &mut self,
        folio: ptr::NonNull<bindings::folio>,
        offset: usize,
        len: usize,
    ) -> Result {
        let end = offset + len;
        let mut at = offset;
        while at < end {
            let off = at % PAGE_SIZE;
            let k = (PAGE_SIZE - off).min(end - at);
            // SAFETY: The folio is alive and holds the page at `at` (caller's guarantee); the
            // new reference keeps the page when the folio's is gone.
            let page = unsafe {
                let page = local::rust_fuse_folio_page(folio.as_ptr(), (at / PAGE_SIZE) as _);
                local::rust_fuse_get_page(page);
                page
            };
            // CAST: `off` and `k` are at most `PAGE_SIZE`.
            let piece = Piece {
                page,
                off: off as u32,
                len: k as u32,
            };
            if self.pieces.push(piece, GFP_KERNEL).is_err() {
                // SAFETY: The reference was taken above and is used by nothing.
                unsafe { local::rust_fuse_put_page(page) };
                return Err(ENOMEM);
            }
            self.len += k;
            at += k;
        }
        Ok(())
    }

    /// The number of pages (pieces of pages) behind the data.
    pub(crate) fn page_count(&self) -> usize {
        self.pieces.len()
    }

    /// New references to the pages, each with the bytes of it that hold data, in order.
    pub(crate) fn page_refs(&self) -> Result<KVec<PageRef>> {
        let mut refs = KVec::with_capacity(self.pieces.len(), GFP_KERNEL)?;
        for p in self.pieces.as_slice() {
            // SAFETY: The piece holds a page reference (type invariant), so the page is live
            // and another reference may be taken.
            unsafe { local::rust_fuse_get_page(p.page) };
            let r = PageRef {
                page: p.page,
                off: p.off,
                len: p.len,
            };
            // Within the capacity: this does not fail (and would put the reference if it did).
            refs.push(r, GFP_KERNEL)?;
        }
        Ok(refs)
    }

    /// Shortens the data to `len` bytes (a longer `len` changes nothing); pages past it are
    /// put.
    pub(crate) fn truncate(&mut self, len: usize) {
        let mut kept = 0usize;
        let mut keep = 0usize;
        for p in self.pieces.as_mut_slice() {
            if kept >= len {
                break;
            }
            // CAST: The rest is less than this piece's length, a `u32`.
            p.len = (p.len as usize).min(len - kept) as u32;
            kept += p.len as usize;
            keep += 1;
        }
        for p in self.pieces.as_slice().iter().skip(keep) {
            self.put(p);
        }
        self.pieces.truncate(keep);
        self.len = kept;
    }

    /// Copies up to `n` bytes from `from` into the pages, from their start, and advances
    /// `from`; returns how many (short on a fault).
    pub(crate) fn fill_from(&mut self, from: &mut IovIter, n: usize) -> usize {
        self.written = true;
        self.copy_with(from, n.min(self.len), Direction::ToPages)
    }

    /// Copies the bytes behind the pages to `to` and advances it, or fails with `EFAULT`.
    pub(crate) fn copy_to(&self, to: &mut IovIter) -> Result {
        if self.copy_with(to, self.len, Direction::FromPages) == self.len {
            Ok(())
        } else {
            Err(EFAULT)
        }
    }

    /// Copies `n` bytes (at most `self.len`) between the pages, from their start, and
    /// `other`, and advances `other`; returns how many (short on a fault).
    ///
    /// The memory behind `other` is walked once, each of its pages mapped once however many
    /// of ours it spans (as the C module's copy state keeps its page); where it cannot be
    /// walked so (a `kvec`), the rest goes through the usual copy routines.
    fn copy_with(&self, other: &mut IovIter, n: usize, dir: Direction) -> usize {
        let written = dir == Direction::FromPages;
        let pieces = self.pieces.as_slice();
        let len = |i: usize| pieces.get(i).map(|p| p.len as usize);
        let SpanEnd {
            mut done,
            mut idx,
            mut off,
        } = other.for_each_span(n, written, len, |i, at, mem, k| {
            let Some(p) = pieces.get(i) else {
                return;
            };
            // SAFETY: The piece holds a page reference (type invariant), mapped for the copy;
            // `p.off + at + k` is within the page and `mem` is mapped for `k` bytes. Either
            // side may be changed by its owner meanwhile: the bytes are copied as they are,
            // as the C module does.
            unsafe {
                with_mapped(p.page, |addr| {
                    let page = addr.add(p.off as usize + at);
                    match dir {
                        Direction::ToPages => ptr::copy_nonoverlapping(mem, page, k),
                        Direction::FromPages => ptr::copy_nonoverlapping(page, mem, k),
                    }
                })
            };
        });
        while done < n {
            let Some(p) = pieces.get(idx) else {
                break;
            };
            let k = (p.len as usize - off).min(n - done);
            // SAFETY: As above, for `k` bytes of the piece from `off`.
            let got = unsafe {
                with_mapped(p.page, |addr| {
                    let page = addr.add(p.off as usize + off);
                    match dir {
                        Direction::ToPages => other.copy_from_raw(page, k),
                        Direction::FromPages => other.copy_to(core::slice::from_raw_parts(page, k)),
                    }
                })
            };
            done += got;
            if got < k {
                break;
            }
            idx += 1;
            off = 0;
        }
        done
    }
}

/// Where [`IovIter::for_each_span`] stopped: the bytes walked, and the target and the
/// offset in it that come next.
pub(crate) struct SpanEnd {
    pub(crate) done: usize,
    pub(crate) idx: usize,
    pub(crate) off: usize,
}

/// Which way [`IterPages::copy_with`] copies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// From the iterator into the pages.
    ToPages,
    /// From the pages to the iterator.
    FromPages,
}

impl Drop for IterPages {
    fn drop(&mut self) {
        for p in self.pieces.as_slice() {
            self.put(p);
        }
    }
}

impl IterPages {
    /// Puts the page reference of a piece that is leaving (marked dirty if written).
    fn put(&self, p: &Piece) {
        // SAFETY: The piece holds a page reference (type invariant) and leaves, so it is put
        // once.
        unsafe {
            if self.written {
                local::rust_fuse_page_dirtied(p.page, self.user);
            }
            local::rust_fuse_put_page(p.page);
        }
    }
}
