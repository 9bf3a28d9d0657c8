// SPDX-License-Identifier: GPL-2.0

//! Dirty page-cache data of a [`FileSystem`]: writing dirty folios back
//! (`writepages`, `launder_folio`), buffered writes through the page cache (`write_begin`,
//! `write_end`), shared writable mappings (`mmap` with `page_mkwrite`), `write_inode`, and
//! the inode and file helpers that start or wait for writeback.

use super::{
    address_space::GrabbedFolio, file::File, fs_type::FileSystem, inode::Inode, iov_iter::IterPages,
};
use crate::bindings as local;
use core::{marker::PhantomData, mem::MaybeUninit, ptr::NonNull};
use kernel::{
    bindings,
    error::{from_result, to_result},
    ffi::{c_int, c_uint, c_void},
    prelude::*,
};

/// One `writepages` call: the inode and its writeback control.
///
/// # Invariants
///
/// `mapping` is the live page cache of an inode of `T` and `wbc` the live writeback control
/// of the call that created this instance.
pub(crate) struct Writeback<'a, T: FileSystem> {
    mapping: NonNull<bindings::address_space>,
    wbc: NonNull<bindings::writeback_control>,
    _p: PhantomData<&'a Inode<T>>,
}

impl<T: FileSystem> Writeback<'_, T> {
    /// The inode being written back.
    pub(crate) fn inode(&self) -> &Inode<T> {
        // SAFETY: The mapping is live (type invariant); its host is an inode of `T`.
        unsafe { Inode::from_raw((*self.mapping.as_ptr()).host) }
    }

    /// Whether the caller waits for the data (`WB_SYNC_ALL`: fsync, sync) rather than
    /// cleaning in the background.
    pub(crate) fn sync_all(&self) -> bool {
        // SAFETY: The control is live (type invariant).
        unsafe { local::rust_fuse_wbc_sync_all(self.wbc.as_ptr()) != 0 }
    }

    /// Hands every dirty folio of the range being written back to `f`, in file order
    /// (`writeback_iter()`), until `f` fails; returns the first error.
    pub(crate) fn for_each_dirty(&mut self, mut f: impl FnMut(DirtyFolio<'_>) -> Result) -> Result {
        let mut folio: *mut bindings::folio = core::ptr::null_mut();
        let mut error: c_int = 0;
        loop {
            // SAFETY: The mapping and the control are live (type invariant); `folio` is NULL
            // or the folio the previous iteration returned, which `f` unlocked; `error` is
            // that iteration's result.
            folio = unsafe {
                bindings::writeback_iter(
                    self.mapping.as_ptr(),
                    self.wbc.as_ptr(),
                    folio,
                    &mut error,
                )
            };
            let Some(f_ptr) = NonNull::new(folio) else {
                break;
            };
            // INVARIANT: `writeback_iter()` returns a locked folio whose dirty bit it cleared
            // for this write-out.
            let dirty = DirtyFolio {
                folio: f_ptr,
                wbc: self.wbc,
                _p: PhantomData,
            };
            error = match f(dirty) {
                Ok(()) => 0,
                Err(e) => e.to_errno(),
            };
        }
        to_result(error)
    }
}

/// A locked folio handed out for write-out, its dirty bit cleared. [`DirtyFolio::written`]
/// records that its data was taken; dropping it instead makes it dirty again.
///
/// # Invariants
///
/// `folio` is a locked page-cache folio of the writeback call `wbc`, whose lock this
/// instance owns.
pub(crate) struct DirtyFolio<'a> {
    folio: NonNull<bindings::folio>,
    wbc: NonNull<bindings::writeback_control>,
    _p: PhantomData<&'a ()>,
}

impl DirtyFolio<'_> {
    /// The file position of the folio's first byte.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: The folio is locked, so its index is stable.
        unsafe { local::rust_fuse_folio_pos(self.folio.as_ptr()) }
    }

    /// The folio's size in bytes.
    pub(crate) fn size(&self) -> usize {
        // SAFETY: The folio is locked, so its order is stable.
        unsafe { local::rust_fuse_folio_size(self.folio.as_ptr()) }
    }

    /// Appends a copy of all of the folio's bytes to `pages`.
    pub(crate) fn copy_to(&self, pages: &mut IterPages) -> Result {
        // SAFETY: We own the folio's lock (type invariant), and pass its size.
        unsafe { pages.push_folio_copy(self.folio, self.size()) }
    }

    /// The data was taken (copied into a request): the folio goes under write-back and is
    /// unlocked; its write-back ends with the others of `batch`.
    pub(crate) fn written<const N: usize>(self, batch: &mut WrittenFolios<N>) {
        if batch.len == N {
            batch.end_all();
        }
        let this = core::mem::ManuallyDrop::new(self);
        let f = this.folio;
        // SAFETY: We own the folio's lock (type invariant); starting write-back under it is
        // the protocol `writeback_iter()` expects; then the lock is given up.
        unsafe {
            local::rust_fuse_folio_start_writeback(f.as_ptr());
            local::folio_unlock(f.as_ptr());
        }
        // INVARIANT: `batch` has room (ended above if full), and the folio is under a
        // write-back whose end it now owns.
        batch.folios[batch.len] = Some(f);
        batch.len += 1;
    }
}

/// Folios whose write-back [`DirtyFolio::written`] started, ended together
/// (`folio_end_writeback()`) by [`WrittenFolios::end_all`] or when dropped: once the data
/// taken from them is on its way, as C ends a whole WRITE's folios. Ending each at once
/// would tag and untag the mapping (and the inode on its super block's write-back list)
/// for every folio. At most `N` are held; the next one ends them first.
///
/// # Invariants
///
/// The first `len` entries are `Some`: page-cache folios under a write-back started by
/// [`DirtyFolio::written`] whose end this instance owns. As in C, no reference is held:
/// truncation and reclaim wait for a folio's write-back to end.
pub(crate) struct WrittenFolios<const N: usize> {
    folios: [Option<NonNull<bindings::folio>>; N],
    len: usize,
}

impl<const N: usize> WrittenFolios<N> {
    /// No folio.
    pub(crate) const fn new() -> Self {
        Self {
            folios: [None; N],
            len: 0,
        }
    }

    /// Ends the write-back of every folio held.
    pub(crate) fn end_all(&mut self) {
        for f in self.folios.iter_mut().take(self.len) {
            if let Some(f) = f.take() {
                // SAFETY: The folio is under a write-back whose end we own (type invariant),
                // which keeps it in its page cache.
                unsafe { local::folio_end_writeback(f.as_ptr()) };
            }
        }
        self.len = 0;
    }
}

impl<const N: usize> Drop for WrittenFolios<N> {
    fn drop(&mut self) {
        self.end_all();
    }
}

impl Drop for DirtyFolio<'_> {
    fn drop(&mut self) {
        // SAFETY: We own the lock (type invariant); the folio is dirtied again for a later
        // write-out of the same control, then unlocked.
        unsafe {
            bindings::folio_redirty_for_writepage(self.wbc.as_ptr(), self.folio.as_ptr());
            local::folio_unlock(self.folio.as_ptr());
        }
    }
}

/// A locked folio about to be dropped from the page cache (`launder_folio`), whose dirty
/// data must be written first.
///
/// # Invariants
///
/// `0` is a page-cache folio locked by the caller for the duration of the borrow.
pub(crate) struct LaunderFolio<'a>(NonNull<bindings::folio>, PhantomData<&'a ()>);

impl LaunderFolio<'_> {
    /// The file position of the folio's first byte.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: The folio is locked, so its index is stable.
        unsafe { local::rust_fuse_folio_pos(self.0.as_ptr()) }
    }

    /// The folio's size in bytes.
    pub(crate) fn size(&self) -> usize {
        // SAFETY: The folio is locked, so its order is stable.
        unsafe { local::rust_fuse_folio_size(self.0.as_ptr()) }
    }

    /// Appends a copy of all of the folio's bytes to `pages`.
    pub(crate) fn copy_to(&self, pages: &mut IterPages) -> Result {
        // SAFETY: The caller holds the folio's lock (type invariant); its size is passed.
        unsafe { pages.push_folio_copy(self.0, self.size()) }
    }

    /// Clears the dirty bit for a write-out; returns whether it was set
    /// (`folio_clear_dirty_for_io()`).
    pub(crate) fn clear_dirty_for_io(&self) -> bool {
        // SAFETY: The folio is locked (type invariant).
        unsafe { local::folio_clear_dirty_for_io(self.0.as_ptr()) }
    }
}

/// A shared or private mapping of a file being set up (`struct vm_area_struct`).
///
/// # Invariants
///
/// `0` is the live area of the `mmap` call that created this instance.
pub(crate) struct Vma<'a>(NonNull<bindings::vm_area_struct>, PhantomData<&'a ()>);

impl Vma<'_> {
    fn flags(&self) -> u64 {
        // SAFETY: The area is live (type invariant).
        unsafe { local::rust_fuse_vma_flags(self.0.as_ptr()) as u64 }
    }

    /// Whether the mapping is shared (`VM_MAYSHARE`).
    pub(crate) fn may_share(&self) -> bool {
        self.flags() & u64::from(local::VM_MAYSHARE) != 0
    }

    /// Whether writes through the mapping reach the file (`VM_SHARED` and `VM_MAYWRITE`).
    pub(crate) fn shared_writable(&self) -> bool {
        let want = u64::from(local::VM_SHARED | local::VM_MAYWRITE);
        self.flags() & want == want
    }
}

/// The `address_space_operations` of `T` for dirty data.
pub(crate) const fn fill_aops<T: FileSystem>(ops: &mut bindings::address_space_operations) {
    if T::HAS_WRITEPAGES {
        ops.writepages = Some(writepages_callback::<T>);
        ops.dirty_folio = Some(bindings::filemap_dirty_folio);
    }
    if T::HAS_WRITE_BEGIN {
        ops.write_begin = Some(write_begin_callback::<T>);
        ops.write_end = Some(write_end_callback::<T>);
    }
    if T::HAS_LAUNDER_FOLIO {
        ops.launder_folio = Some(launder_folio_callback::<T>);
    }
}

/// The C callback `writepages` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn writepages_callback<T: FileSystem>(
    mapping: *mut bindings::address_space,
    wbc: *mut bindings::writeback_control,
) -> c_int {
    // INVARIANT: The VFS passes a live mapping of `T`'s inode and a live control.
    let mut wb = Writeback::<T> {
        // SAFETY: Both pointers are valid for the call.
        mapping: unsafe { NonNull::new_unchecked(mapping) },
        // SAFETY: As above.
        wbc: unsafe { NonNull::new_unchecked(wbc) },
        _p: PhantomData,
    };
    from_result(|| {
        T::writepages(&mut wb)?;
        Ok(0)
    })
}

/// The C callback `write_begin` of `T`: finds or creates the folio at `pos`, locked, and
/// lets `T` fill what the write will not cover.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn write_begin_callback<T: FileSystem>(
    file: *mut bindings::file,
    mapping: *mut bindings::address_space,
    pos: bindings::loff_t,
    len: c_uint,
    foliop: *mut *mut bindings::folio,
    _fsdata: *mut *mut c_void,
) -> c_int {
    from_result(|| {
        // SAFETY: The mapping is live for the call.
        let f = unsafe {
            local::rust_fuse_write_begin_folio(mapping, (pos as u64 >> bindings::PAGE_SHIFT) as _)
        };
        let f = kernel::error::from_err_ptr(f)?;
        let f = NonNull::new(f).ok_or(ENOMEM)?;
        // SAFETY: `__filemap_get_folio(FGP_WRITEBEGIN)` returned a locked, referenced folio.
        let folio = unsafe { GrabbedFolio::from_raw(f) };
        // SAFETY: The VFS passes the open file of `T` being written and its mapping.
        let (file, inode) =
            unsafe { (File::from_raw(file), Inode::<T>::from_raw((*mapping).host)) };
        T::write_begin(file, inode, &folio, pos, len as usize)?;
        // SAFETY: `foliop` is valid for writes; the lock and reference go to `write_end`.
        unsafe { *foliop = folio.into_raw() };
        Ok(0)
    })
}

/// The C callback `write_end`: `copied` bytes were copied into the folio at `pos`. A folio
/// that is not up to date and was not fully written is refused (0), and the write is
/// retried; otherwise it is marked up to date (the rest zeroed), dirty, and the size grows.
///
/// # Safety
///
/// Called by the kernel with the folio `write_begin` returned, as the C operation's
/// contract says.
unsafe extern "C" fn write_end_callback<T: FileSystem>(
    _file: *mut bindings::file,
    mapping: *mut bindings::address_space,
    pos: bindings::loff_t,
    len: c_uint,
    copied: c_uint,
    folio: *mut bindings::folio,
    _fsdata: *mut c_void,
) -> c_int {
    // SAFETY: The folio is the one `write_begin` handed out, locked and referenced; both
    // are given back when `folio` is dropped.
    let folio = unsafe { GrabbedFolio::from_raw(NonNull::new_unchecked(folio)) };
    let uptodate = folio.is_uptodate();
    let copied = if !uptodate && copied < len { 0 } else { copied };
    if copied == 0 {
        return 0;
    }
    let end = pos + i64::from(copied);
    if !uptodate {
        folio.zero_tail_and_mark_uptodate((end - folio.pos()) as usize);
    }
    // SAFETY: The mapping is live; its host is the inode of `T` being written, whose lock
    // the writer holds (the size changes under it).
    let inode = unsafe { Inode::<T>::from_raw((*mapping).host) };
    if end > inode.size() {
        inode.set_size(end);
    }
    folio.mark_dirty();
    copied as c_int
}

/// The C callback `launder_folio` of `T`.
///
/// # Safety
///
/// Called by the kernel with a locked folio of `T`'s page cache.
unsafe extern "C" fn launder_folio_callback<T: FileSystem>(folio: *mut bindings::folio) -> c_int {
    // INVARIANT: The caller holds the folio's lock for the call.
    let f = LaunderFolio(
        // SAFETY: The folio is valid for the call.
        unsafe { NonNull::new_unchecked(folio) },
        PhantomData,
    );
    // SAFETY: A locked page-cache folio has a mapping whose host is an inode of `T`.
    let inode = unsafe { Inode::<T>::from_raw(local::rust_fuse_folio_inode(folio)) };
    from_result(|| {
        T::launder_folio(inode, &f)?;
        Ok(0)
    })
}

/// The C callback `super_operations.write_inode` of `T`.
///
/// # Safety
///
/// Called by the kernel with a live inode of `T` and its writeback control.
pub(crate) unsafe extern "C" fn write_inode_callback<T: FileSystem>(
    inode: *mut bindings::inode,
    wbc: *mut bindings::writeback_control,
) -> c_int {
    // SAFETY: Both are live for the call.
    let (inode, sync) = unsafe {
        (
            Inode::<T>::from_raw(inode),
            local::rust_fuse_wbc_sync_all(wbc),
        )
    };
    from_result(|| {
        T::write_inode(inode, sync != 0)?;
        Ok(0)
    })
}

/// The C callback `file_operations.mmap` of `T`: `T` decides, then the mapping uses the page
/// cache with `T`'s `page_mkwrite` and `close`.
///
/// # Safety
///
/// Called by the kernel with a live open file of `T` and the area being set up.
pub(crate) unsafe extern "C" fn mmap_callback<T: FileSystem>(
    file: *mut bindings::file,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    // SAFETY: The file is an open file of `T`; the area is live for the call.
    let (data, f, v) = unsafe {
        (
            super::fs_file::file_data::<T>(file),
            File::from_raw(file),
            Vma(NonNull::new_unchecked(vma), PhantomData),
        )
    };
    from_result(|| {
        T::mmap(data, f, &v)?;
        // SAFETY: The file and the area are live; the table is a constant.
        unsafe {
            local::rust_fuse_file_accessed(file);
            local::rust_fuse_vma_set_ops(vma, &VmOps::<T>::OPS);
        }
        Ok(0)
    })
}

struct VmOps<T>(PhantomData<T>);

impl<T: FileSystem> VmOps<T> {
    const OPS: bindings::vm_operations_struct = {
        // SAFETY: All-zero is a valid table.
        let mut ops: bindings::vm_operations_struct =
            unsafe { MaybeUninit::zeroed().assume_init() };
        ops.fault = Some(bindings::filemap_fault);
        ops.map_pages = Some(bindings::filemap_map_pages);
        ops.page_mkwrite = Some(page_mkwrite_callback::<T>);
        ops.close = Some(vma_close_callback::<T>);
        ops
    };
}

/// The C callback `page_mkwrite` of `T`'s mappings: updates the file times, locks the
/// folio and lets `T` wait for writes of it in flight; the fault code then dirties it.
///
/// # Safety
///
/// Called by the kernel with a live fault on a mapping `mmap_callback` set up.
unsafe extern "C" fn page_mkwrite_callback<T: FileSystem>(
    vmf: *mut bindings::vm_fault,
) -> bindings::vm_fault_t {
    // SAFETY: The fault, its area and the area's file are live for the call.
    let (file, folio) = unsafe {
        (
            local::rust_fuse_vmf_file(vmf),
            local::rust_fuse_vmf_folio(vmf),
        )
    };
    // SAFETY: The file is an open file of `T`.
    let inode = unsafe { File::from_raw(file) }.inode::<T>();
    // SAFETY: The file is live; the folio is referenced by the fault; locking it may sleep,
    // which a write fault allows.
    unsafe {
        bindings::file_update_time(file);
        local::rust_fuse_folio_lock(folio);
        if local::rust_fuse_folio_mapping(folio) != (*inode.as_raw()).i_mapping {
            // Truncated meanwhile: the fault is retried.
            local::folio_unlock(folio);
            return bindings::vm_fault_reason_VM_FAULT_NOPAGE as _;
        }
    }
    // SAFETY: The folio is locked, so its index is stable.
    let pos = unsafe { local::rust_fuse_folio_pos(folio) };
    T::page_mkwrite(inode, pos);
    bindings::vm_fault_reason_VM_FAULT_LOCKED as _
}

/// The C callback `close` of `T`'s mappings.
///
/// # Safety
///
/// Called by the kernel with a live area `mmap_callback` set up.
unsafe extern "C" fn vma_close_callback<T: FileSystem>(vma: *mut bindings::vm_area_struct) {
    // SAFETY: The area holds its file, an open file of `T`, until after this call.
    let file = unsafe { File::from_raw(local::rust_fuse_vma_file(vma)) };
    T::vma_close(file);
}

impl<T: FileSystem> Inode<T> {
    fn mapping(&self) -> *mut bindings::address_space {
        // SAFETY: The inode is live; its mapping lives as long as it does.
        unsafe { (*self.as_raw()).i_mapping }
    }

    /// Writes the inode's dirty data and, if dirty, the inode itself back, waiting for it
    /// with `sync` (`write_inode_now()`).
    pub(crate) fn write_now(&self, sync: bool) -> Result {
        // SAFETY: The inode is live.
        to_result(unsafe { local::write_inode_now(self.as_raw(), c_int::from(sync)) })
    }

    /// Writes the dirty data of bytes `[start, end]` back and waits for it
    /// (`filemap_write_and_wait_range()`).
    pub(crate) fn write_and_wait_range(&self, start: i64, end: i64) -> Result {
        // SAFETY: The mapping is live.
        to_result(unsafe { local::filemap_write_and_wait_range(self.mapping(), start, end) })
    }

    /// Takes the error a write-back recorded, if any (`filemap_check_errors()`).
    pub(crate) fn check_write_errors(&self) -> Result {
        // SAFETY: The mapping is live.
        to_result(unsafe { local::filemap_check_errors(self.mapping()) })
    }

    /// Records a write-back error for the next `fsync()` or `close()` (`mapping_set_error()`).
    pub(crate) fn set_write_error(&self, error: Error) {
        // SAFETY: The mapping is live.
        unsafe { local::rust_fuse_mapping_set_error(self.mapping(), error.to_errno()) };
    }

    /// Writes the inode itself (not its data) back, waiting with `sync`
    /// (`sync_inode_metadata()`).
    pub(crate) fn sync_metadata(&self, sync: bool) -> Result {
        // SAFETY: The inode is live.
        to_result(unsafe { bindings::sync_inode_metadata(self.as_raw(), c_int::from(sync)) })
    }
}

impl File {
    /// Writes the file's dirty data of `[start, end]` back, waits for it, and reports a
    /// write-back error not yet seen through this file (`file_write_and_wait_range()`).
    pub(crate) fn write_and_wait_range(&self, start: i64, end: i64) -> Result {
        // SAFETY: The file is live.
        to_result(unsafe { bindings::file_write_and_wait_range(self.as_raw(), start, end) })
    }

    /// Reports a write-back error recorded since this file last looked
    /// (`file_check_and_advance_wb_err()`): for write-backs that end after the waits of
    /// [`File::write_and_wait_range`].
    pub(crate) fn check_write_error(&self) -> Result {
        // SAFETY: The file is live.
        to_result(unsafe { bindings::file_check_and_advance_wb_err(self.as_raw()) })
    }
}
