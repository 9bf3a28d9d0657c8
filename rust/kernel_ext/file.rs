// SPDX-License-Identifier: GPL-2.0

//! Files (`struct file`) and typed file operation tables (`struct file_operations`).
//!
//! A [`FileOperations`] implementation keeps its per-file state in `file->private_data` as a
//! [`ForeignOwnable`] value, created by `open` and dropped by `release`. A
//! [`FileOperationsTable`] is the C table for one implementation; it lives in a `static` so
//! that the VFS can compare `file->f_op` with it and pin the owning module.

use super::{cred::UserNamespace, iov_iter::IovIter, pipe::Pipe};
use crate::bindings as local;
use core::{marker::PhantomData, mem::MaybeUninit, ptr::NonNull};
use kernel::{
    bindings,
    error::{code::*, from_result},
    ffi::{c_int, c_long, c_uint, c_ulong, c_void},
    prelude::*,
    types::{ARef, AlwaysRefCounted, ForeignOwnable, Opaque},
};

/// A file (`struct file`).
///
/// # Invariants
///
/// Instances are only handed out as references to files that stay alive for the reference's
/// lifetime (a VFS callback's argument, or an [`ARef<File>`] that holds a reference count).
#[repr(transparent)]
pub(crate) struct File(Opaque<bindings::file>);

// SAFETY: `struct file` is reference counted and its fields used here are set before the file
// is published; it may be used and released from any thread.
unsafe impl Send for File {}
// SAFETY: See the `Send` impl: the methods here take `&self` and are safe to call concurrently.
unsafe impl Sync for File {}

// SAFETY: `get_file()` and `fput()` are the file's reference counting; an `ARef<File>` holds
// one reference, which keeps the file alive.
unsafe impl AlwaysRefCounted for File {
    fn inc_ref(&self) {
        // SAFETY: `self` is a live file by the type invariant.
        unsafe { crate::bindings::rust_fuse_get_file(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller owns one reference, which is given back here.
        unsafe { bindings::fput(obj.cast().as_ptr()) };
    }
}

impl File {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live file that outlives `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::file) -> &'a File {
        // SAFETY: `File` is a transparent wrapper; the caller guarantees validity for `'a`.
        unsafe { &*ptr.cast::<File>() }
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::file {
        self.0.get()
    }

    /// The file's open flags (`O_*`).
    pub(crate) fn flags(&self) -> u32 {
        // SAFETY: `f_flags` is set at open; later changes (fcntl) are word-sized stores.
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.as_raw()).f_flags)) }
    }

    /// The dentry the file was opened through (`file->f_path.dentry`).
    pub(crate) fn dentry<T: super::fs_type::FileSystem>(&self) -> &super::dentry::Dentry<T> {
        // SAFETY: Only called on files of `T`; the file holds a reference on its path.
        unsafe { super::dentry::Dentry::from_raw((*self.as_raw()).f_path.dentry) }
    }

    /// The inode the file is open on (`file_inode()`).
    pub(crate) fn inode<T: super::fs_type::FileSystem>(&self) -> &super::inode::Inode<T> {
        // SAFETY: Only called on files of `T` (the caller's file system); `f_inode` is set at
        // open and the file holds a reference on it.
        unsafe { super::inode::Inode::from_raw((*self.as_raw()).f_inode) }
    }

    /// Whether the file was opened for writing (`FMODE_WRITE`).
    pub(crate) fn may_write(&self) -> bool {
        // SAFETY: `f_mode` is set at open and constant afterwards.
        unsafe { (*self.as_raw()).f_mode & crate::bindings::FMODE_WRITE != 0 }
    }

    /// Makes the file a stream: no position, reads and writes ignore it (`stream_open()`).
    pub(crate) fn stream_open(&self) {
        // SAFETY: Called during `open`, before the file is published.
        unsafe { bindings::stream_open((*self.as_raw()).f_inode, self.as_raw()) };
    }

    /// Makes the file non-seekable (`nonseekable_open()`).
    pub(crate) fn nonseekable_open(&self) {
        // SAFETY: Called during `open`, before the file is published.
        unsafe { bindings::nonseekable_open((*self.as_raw()).f_inode, self.as_raw()) };
    }

    /// Marks the file as created by this open (`FMODE_CREATED`), during `atomic_open`.
    pub(crate) fn set_created(&self) {
        // SAFETY: Called during `atomic_open`, before the file is published.
        unsafe { (*self.as_raw()).f_mode |= crate::bindings::FMODE_CREATED };
    }

    /// Lets the file be opened with `O_DIRECT` (`FMODE_CAN_ODIRECT`), during `open`.
    pub(crate) fn allow_odirect(&self) {
        // SAFETY: Called during `open`, before the file is published.
        unsafe { (*self.as_raw()).f_mode |= crate::bindings::FMODE_CAN_ODIRECT };
    }

    /// Clears set-user-id, set-group-id and security privileges before a write
    /// (`file_remove_privs()`).
    pub(crate) fn remove_privs(&self) -> Result {
        // SAFETY: The file is open for the call.
        kernel::error::to_result(unsafe { bindings::file_remove_privs(self.as_raw()) })
    }

    /// Updates the inode's modification and change times for a write (`file_update_time()`).
    pub(crate) fn update_time(&self) -> Result {
        // SAFETY: The file is open for the call.
        kernel::error::to_result(unsafe { bindings::file_update_time(self.as_raw()) })
    }

    /// Sets the file position, checked against the super block's size limit
    /// (`vfs_setpos()`).
    pub(crate) fn set_pos(&self, pos: i64) -> Result<i64> {
        // SAFETY: The file is open for the call; its inode and super block live with it.
        let r = unsafe {
            let f = self.as_raw();
            bindings::vfs_setpos(f, pos, (*(*(*f).f_inode).i_sb).s_maxbytes)
        };
        if r < 0 {
            Err(Error::from_errno(r as i32))
        } else {
            Ok(r)
        }
    }

    /// Copies a byte range to `out` through a pipe, via the files' `splice` operations
    /// (`splice_file_range()`).
    pub(crate) fn splice_copy_range(
        &self,
        pos_in: i64,
        out: &File,
        pos_out: i64,
        len: usize,
    ) -> Result<usize> {
        let (mut pi, mut po) = (pos_in, pos_out);
        // SAFETY: Both files are open for the call; the positions are locals.
        let r = unsafe {
            crate::bindings::splice_file_range(self.as_raw(), &mut pi, out.as_raw(), &mut po, len)
        };
        if r < 0 {
            Err(Error::from_errno(r as i32))
        } else {
            Ok(r as usize)
        }
    }

    /// Seeks as the page cache does (`generic_file_llseek()`).
    pub(crate) fn generic_llseek(&self, offset: i64, whence: i32) -> Result<i64> {
        // SAFETY: The file is live for the call.
        let pos = unsafe { bindings::generic_file_llseek(self.as_raw(), offset, whence) };
        if pos < 0 {
            Err(Error::from_errno(pos as i32))
        } else {
            Ok(pos)
        }
    }

    /// Takes a reference on the file that descriptor `fd` of the current task refers to.
    pub(crate) fn fget(fd: u32) -> Option<ARef<File>> {
        // SAFETY: `fget()` may be called with any descriptor number; it returns NULL or a file
        // with one reference that the returned `ARef` now owns.
        let ptr = NonNull::new(unsafe { bindings::fget(fd) })?;
        // SAFETY: `ptr` carries one reference (see above) and `File` wraps `struct file`.
        Some(unsafe { ARef::from_raw(ptr.cast()) })
    }

    /// Returns whether the file's operations are `table`, i.e. whether it is one of `T`'s files.
    pub(crate) fn uses<T: FileOperations>(&self, table: &'static FileOperationsTable<T>) -> bool {
        // SAFETY: `f_op` is set when the file is opened and only replaced before it is
        // published (`replace_fops()` in the misc device's open), so reading it is race free.
        let f_op = unsafe { (*self.as_raw()).f_op };
        core::ptr::eq(f_op, table.as_raw())
    }

    /// Borrows `T`'s per-file state if this is one of `T`'s files.
    pub(crate) fn data<T: FileOperations>(
        &self,
        table: &'static FileOperationsTable<T>,
    ) -> Option<<T::Data as ForeignOwnable>::Borrowed<'_>> {
        if !self.uses(table) {
            return None;
        }
        // SAFETY: The file uses `T`'s table, so its `open` stored a `T::Data` in `private_data`
        // and only `release` (which cannot run while `self` is alive) takes it back.
        Some(unsafe { T::Data::borrow((*self.as_raw()).private_data) })
    }

    /// The user namespace of the credentials that the file was opened with.
    pub(crate) fn cred_user_ns(&self) -> &UserNamespace {
        // SAFETY: `f_cred` is set at open and holds a reference on the credentials for the
        // file's whole life; the credentials hold one on their user namespace.
        unsafe { UserNamespace::from_raw((*(*self.as_raw()).f_cred).user_ns) }
    }
}

/// The poll table (`struct poll_table_struct`) of a `poll` call.
#[repr(transparent)]
pub(crate) struct PollTable(Opaque<bindings::poll_table_struct>);

impl PollTable {
    /// Creates a reference from a raw pointer; NULL (a poll that will not wait) is `None`.
    ///
    /// # Safety
    ///
    /// `ptr` must be NULL or a live poll table, alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::poll_table_struct) -> Option<&'a Self> {
        // SAFETY: Transparent wrapper; the caller guarantees validity.
        unsafe { ptr.cast::<PollTable>().as_ref() }
    }

    /// The events the poller is interested in (`poll_requested_events()`).
    pub(crate) fn events(&self) -> u32 {
        // SAFETY: The table is live for the call.
        unsafe { crate::bindings::rust_fuse_poll_requested_events(self.as_raw()) }
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::poll_table_struct {
        self.0.get()
    }
}

/// An I/O control block (`struct kiocb`) of a `read_iter`/`write_iter` call on a file.
///
/// # Invariants
///
/// Instances are only handed out as unique references to a live kiocb during the call.
#[repr(transparent)]
pub(crate) struct Kiocb(Opaque<bindings::kiocb>);

impl Kiocb {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must be a live kiocb used only by the caller during `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::kiocb) -> &'a mut Kiocb {
        // SAFETY: Transparent wrapper; the caller guarantees validity and uniqueness.
        unsafe { &mut *ptr.cast::<Kiocb>() }
    }

    /// The file.
    pub(crate) fn file(&self) -> &File {
        // SAFETY: A kiocb's file is open for the call.
        unsafe { File::from_raw((*self.0.get()).ki_filp) }
    }

    /// The file position of the I/O.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: The kiocb is ours for the call.
        unsafe { (*self.0.get()).ki_pos }
    }

    /// Moves the file position.
    pub(crate) fn set_pos(&mut self, pos: i64) {
        // SAFETY: The kiocb is ours for the call.
        unsafe { (*self.0.get()).ki_pos = pos };
    }

    /// The `IOCB_*` flags.
    pub(crate) fn flags(&self) -> u32 {
        // SAFETY: The kiocb is ours for the call.
        unsafe { (*self.0.get()).ki_flags as u32 }
    }

    /// Whether the I/O bypasses the page cache (`IOCB_DIRECT`, from `O_DIRECT`).
    pub(crate) fn is_direct(&self) -> bool {
        self.flags() & crate::bindings::IOCB_DIRECT != 0
    }

    /// Whether the data must be on stable storage when the write returns
    /// (`iocb_is_dsync()`: `O_DSYNC`, `O_SYNC` or a synchronous inode).
    pub(crate) fn is_dsync(&self) -> bool {
        // SAFETY: The kiocb is live for the call.
        unsafe { crate::bindings::rust_fuse_iocb_is_dsync(self.0.get()) }
    }

    /// Whether the metadata must be on stable storage too (`IOCB_SYNC`, from `O_SYNC`).
    pub(crate) fn is_sync(&self) -> bool {
        self.flags() & crate::bindings::IOCB_SYNC != 0
    }

    /// Checks a write against the file's limits and `O_APPEND` (moving the position to the
    /// end), shortening `from` as needed; returns the bytes left to write
    /// (`generic_write_checks()`). The caller holds the inode lock.
    pub(crate) fn write_checks(&mut self, from: &mut IovIter) -> Result<usize> {
        // SAFETY: Both are live and ours for the call.
        let n = unsafe { bindings::generic_write_checks(self.0.get(), from.as_raw()) };
        if n < 0 {
            Err(Error::from_errno(n as i32))
        } else {
            Ok(n as usize)
        }
    }

    /// Syncs what a synchronous write wrote, via the file's `fsync`
    /// (`generic_write_sync()`); returns `written` or the sync's error.
    pub(crate) fn write_sync(&mut self, written: usize) -> Result<usize> {
        let w = isize::try_from(written).map_err(|_| super::error::eoverflow())?;
        // SAFETY: The kiocb is live for the call, after a write of `written` bytes.
        let n = unsafe { crate::bindings::rust_fuse_generic_write_sync(self.0.get(), w) };
        if n < 0 {
            Err(Error::from_errno(n as i32))
        } else {
            Ok(n as usize)
        }
    }

    /// Reads through the page cache (`generic_file_read_iter()`).
    pub(crate) fn generic_read(&mut self, to: &mut IovIter) -> Result<usize> {
        // SAFETY: Both are live and ours for the call; the file's mapping has `read_folio`.
        let n = unsafe { bindings::generic_file_read_iter(self.0.get(), to.as_raw()) };
        if n < 0 {
            Err(Error::from_errno(n as i32))
        } else {
            Ok(n as usize)
        }
    }

    /// A buffered write through the page cache with the address space's `write_begin` and
    /// `write_end` (`generic_file_write_iter()`: takes the inode lock, checks, removes
    /// privileges, updates the times, copies, and syncs for O_SYNC).
    pub(crate) fn generic_write(&mut self, from: &mut IovIter) -> Result<usize> {
        // SAFETY: Both are live and ours for the call; the file's mapping has `write_begin`
        // and `write_end` (the caller's file system implements them).
        let n = unsafe { bindings::generic_file_write_iter(self.0.get(), from.as_raw()) };
        if n < 0 {
            Err(Error::from_errno(n as i32))
        } else {
            Ok(n as usize)
        }
    }
}

/// The iteration state of a `readdir` (`struct dir_context`).
///
/// # Invariants
///
/// Instances are only handed out as unique references to a live context during the call.
#[repr(transparent)]
pub(crate) struct DirEmitter(Opaque<bindings::dir_context>);

impl DirEmitter {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must be a live context used only by the caller during `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::dir_context) -> &'a mut DirEmitter {
        // SAFETY: Transparent wrapper; the caller guarantees validity and uniqueness.
        unsafe { &mut *ptr.cast::<DirEmitter>() }
    }

    /// The directory position to continue from.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: The context is ours for the call.
        unsafe { (*self.0.get()).pos }
    }

    /// Sets the directory position (the cookie of the next entry).
    pub(crate) fn set_pos(&mut self, pos: i64) {
        // SAFETY: The context is ours for the call.
        unsafe { (*self.0.get()).pos = pos };
    }

    /// Emits one entry; `false` when the caller's buffer is full (`dir_emit()`).
    pub(crate) fn emit(&mut self, name: &[u8], ino: u64, dtype: u32) -> bool {
        let Ok(len) = i32::try_from(name.len()) else {
            return false;
        };
        // SAFETY: The context is ours; `name` is valid for `len` bytes.
        unsafe { crate::bindings::rust_fuse_dir_emit(self.0.get(), name.as_ptr(), len, ino, dtype) }
    }
}

/// The operations of one kind of file.
///
/// Callbacks that an implementation leaves out are left NULL in the C table, so the VFS applies
/// its defaults (e.g. `ENOTTY` for ioctls).
#[vtable]
pub(crate) trait FileOperations: Sized + Sync + 'static {
    /// The per-file state, kept in `file->private_data`.
    type Data: ForeignOwnable + Send + Sync;

    /// Whether `splice(2)` works: into the file through [`Self::splice_write`] or, without
    /// it, `write_iter` with kernel buffers (`iter_file_splice_write()`); out of it through
    /// [`Self::splice_read`] or, without it, `read_iter` (`copy_splice_read()`).
    const SPLICE: bool = false;

    /// Called when the file is opened; returns its per-file state.
    fn open(file: &File) -> Result<Self::Data>;

    /// Called when the last reference to the file is dropped.
    fn release(_data: Self::Data, _file: &File) {}

    /// `read(2)`, `readv(2)` and friends.
    fn read_iter(
        _data: <Self::Data as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _to: &mut IovIter,
    ) -> Result<usize> {
        Err(EINVAL)
    }

    /// `write(2)`, `writev(2)` and friends.
    fn write_iter(
        _data: <Self::Data as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _from: &mut IovIter,
    ) -> Result<usize> {
        Err(EINVAL)
    }

    /// `splice(2)` from the file into `pipe`, of at most `len` bytes (used with
    /// [`Self::SPLICE`]); returns the number of bytes the pipe got.
    fn splice_read(
        _data: <Self::Data as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _pipe: &Pipe,
        _len: usize,
    ) -> Result<usize> {
        Err(EINVAL)
    }

    /// `splice(2)` from `pipe`, locked for the call, into the file, of at most `len` bytes
    /// (used with [`Self::SPLICE`]); returns the number of bytes written.
    fn splice_write(
        _data: <Self::Data as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _pipe: &Pipe,
        _len: usize,
    ) -> Result<usize> {
        Err(EINVAL)
    }

    /// `poll(2)`: returns the ready mask (`EPOLL*`).
    fn poll(
        _data: <Self::Data as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _table: Option<&PollTable>,
    ) -> u32 {
        0
    }

    /// `ioctl(2)`; `arg` is the raw argument (often a user pointer).
    fn ioctl(
        _data: <Self::Data as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _cmd: u32,
        _arg: usize,
    ) -> Result<isize> {
        Err(ENOTTY)
    }
}

/// The C operation table (`struct file_operations`) of the [`FileOperations`] implementation `T`.
///
/// Build it in a `static` with [`file_operations_table!`], so that its address identifies `T`'s
/// files and its `owner` pins this module while one is open.
#[repr(transparent)]
pub(crate) struct FileOperationsTable<T>(bindings::file_operations, PhantomData<T>);

// SAFETY: The table is immutable after construction and only read by the VFS.
unsafe impl<T> Sync for FileOperationsTable<T> {}

impl<T: FileOperations> FileOperationsTable<T> {
    /// Builds the table; use [`file_operations_table!`], which passes this module as `owner`.
    ///
    /// # Safety
    ///
    /// `owner` must be this module's `struct module`: the VFS pins it while a file that uses
    /// the table is open, and the table's callbacks are this module's code.
    pub(crate) const unsafe fn new(owner: *mut bindings::module) -> Self {
        // SAFETY: All-zero is a valid `file_operations`: NULL callbacks and no owner.
        let mut ops: bindings::file_operations = unsafe { MaybeUninit::zeroed().assume_init() };
        ops.owner = owner;
        ops.open = Some(open_callback::<T>);
        ops.release = Some(release_callback::<T>);
        if T::HAS_READ_ITER {
            ops.read_iter = Some(read_iter_callback::<T>);
        }
        if T::HAS_WRITE_ITER {
            ops.write_iter = Some(write_iter_callback::<T>);
        }
        if T::SPLICE {
            ops.splice_read = if T::HAS_SPLICE_READ {
                Some(splice_read_callback::<T>)
            } else {
                Some(bindings::copy_splice_read)
            };
            ops.splice_write = if T::HAS_SPLICE_WRITE {
                Some(splice_write_callback::<T>)
            } else {
                Some(bindings::iter_file_splice_write)
            };
        }
        if T::HAS_POLL {
            ops.poll = Some(poll_callback::<T>);
        }
        if T::HAS_IOCTL {
            ops.unlocked_ioctl = Some(ioctl_callback::<T>);
            #[cfg(CONFIG_COMPAT)]
            {
                ops.compat_ioctl = Some(crate::bindings::compat_ptr_ioctl);
            }
        }
        Self(ops, PhantomData)
    }

    /// The C table.
    pub(crate) const fn as_raw(&self) -> *const bindings::file_operations {
        &self.0
    }
}

/// Builds a [`FileOperationsTable`] for `$t` owned by this module; use it in a `static`.
macro_rules! file_operations_table {
    ($t:ty) => {{
        let owner = $crate::kernel_ext::module::this_module!();
        // SAFETY: `owner` is this module's `struct module`.
        unsafe { $crate::kernel_ext::file::FileOperationsTable::<$t>::new(owner) }
    }};
}
pub(crate) use file_operations_table;

/// Borrows the per-file state of a file of `T`.
///
/// # Safety
///
/// `file` must be a live file that uses `T`'s table, between its `open` and `release`.
unsafe fn borrow_data<'a, T: FileOperations>(
    file: *mut bindings::file,
) -> <T::Data as ForeignOwnable>::Borrowed<'a> {
    // SAFETY: By the caller's guarantee `private_data` holds `T::Data` from `open`.
    unsafe { T::Data::borrow((*file).private_data) }
}

/// `file_operations.open` of `T`.
///
/// # Safety
///
/// Called by the VFS with a live inode and a file that is being opened.
unsafe extern "C" fn open_callback<T: FileOperations>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes a file that is alive during the call.
        let data = T::open(unsafe { File::from_raw(file) })?;
        // SAFETY: The file is not yet published; `private_data` is ours to set. (For a misc
        // device it holds the `miscdevice`, which we do not need.)
        unsafe { (*file).private_data = data.into_foreign() as *mut c_void };
        Ok(0)
    })
}

/// `file_operations.release` of `T`.
///
/// # Safety
///
/// Called by the VFS once, with a live file whose `open_callback::<T>` succeeded.
unsafe extern "C" fn release_callback<T: FileOperations>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `open` succeeded (else `release` is not called), so `private_data` holds a
    // `T::Data` from `into_foreign()`; this is the last use of the file.
    let data = unsafe { T::Data::from_foreign((*file).private_data) };
    // SAFETY: The file is alive during the call.
    T::release(data, unsafe { File::from_raw(file) });
    0
}

/// Runs a `read_iter`/`write_iter` implementation of `T` for the C callback.
///
/// # Safety
///
/// `iocb` must be a live kiocb of one of `T`'s open files and `iter` a live iterator, both
/// used only by this call.
unsafe fn rw_iter<T: FileOperations>(
    iocb: *mut bindings::kiocb,
    iter: *mut bindings::iov_iter,
    op: impl FnOnce(<T::Data as ForeignOwnable>::Borrowed<'_>, &File, &mut IovIter) -> Result<usize>,
) -> isize {
    from_result(|| {
        // SAFETY: The caller passes a live kiocb whose file is one of `T`'s open files.
        let file = unsafe { (*iocb).ki_filp };
        // SAFETY: As above, and the iterator is live and used only by this call.
        let (data, f, iter) = unsafe {
            (
                borrow_data::<T>(file),
                File::from_raw(file),
                IovIter::from_raw(iter),
            )
        };
        let n = op(data, f, iter)?;
        isize::try_from(n).map_err(|_| EINVAL)
    })
}

/// `file_operations.read_iter` of `T`.
///
/// # Safety
///
/// Called by the VFS with a live kiocb of one of `T`'s open files and a live iterator.
unsafe extern "C" fn read_iter_callback<T: FileOperations>(
    iocb: *mut bindings::kiocb,
    to: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: Guaranteed by the VFS, as `rw_iter` requires.
    unsafe { rw_iter::<T>(iocb, to, T::read_iter) }
}

/// `file_operations.write_iter` of `T`.
///
/// # Safety
///
/// Called by the VFS with a live kiocb of one of `T`'s open files and a live iterator.
unsafe extern "C" fn write_iter_callback<T: FileOperations>(
    iocb: *mut bindings::kiocb,
    from: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: Guaranteed by the VFS, as `rw_iter` requires.
    unsafe { rw_iter::<T>(iocb, from, T::write_iter) }
}

/// [`FileOperations::splice_read`] or [`FileOperations::splice_write`] of `T`.
type SpliceOp<T> = fn(
    <<T as FileOperations>::Data as ForeignOwnable>::Borrowed<'_>,
    &File,
    &Pipe,
    usize,
) -> Result<usize>;

/// Runs a splice operation of `T` on `file` and a locked `pipe`.
///
/// # Safety
///
/// `file` is one of `T`'s open files, alive during the call, and the current task holds the
/// lock of the live `pipe`.
unsafe fn splice<T: FileOperations>(
    file: *mut bindings::file,
    pipe: *mut bindings::pipe_inode_info,
    len: usize,
    op: SpliceOp<T>,
) -> isize {
    from_result(|| {
        // SAFETY: Guaranteed by the caller.
        let (data, f, pipe) = unsafe {
            (
                borrow_data::<T>(file),
                File::from_raw(file),
                Pipe::from_raw(pipe),
            )
        };
        let n = op(data, f, pipe, len)?;
        isize::try_from(n).map_err(|_| EINVAL)
    })
}

/// `file_operations.splice_read` of `T`.
///
/// # Safety
///
/// Called by the VFS with one of `T`'s open files and a pipe whose lock the caller holds
/// (`splice_file_to_pipe()`, `do_splice()`).
unsafe extern "C" fn splice_read_callback<T: FileOperations>(
    file: *mut bindings::file,
    _ppos: *mut bindings::loff_t,
    pipe: *mut bindings::pipe_inode_info,
    len: usize,
    _flags: c_uint,
) -> isize {
    // SAFETY: The VFS passes one of `T`'s open files and a pipe it holds the lock of.
    unsafe { splice::<T>(file, pipe, len, T::splice_read) }
}

/// `file_operations.splice_write` of `T`: the pipe is locked around the call.
///
/// # Safety
///
/// Called by the VFS with a pipe and one of `T`'s open files (`do_splice_from()`).
unsafe extern "C" fn splice_write_callback<T: FileOperations>(
    pipe: *mut bindings::pipe_inode_info,
    file: *mut bindings::file,
    _ppos: *mut bindings::loff_t,
    len: usize,
    _flags: c_uint,
) -> isize {
    // SAFETY: The VFS passes a live pipe, which the current task does not hold locked.
    unsafe { local::pipe_lock(pipe) };
    // SAFETY: The VFS passes one of `T`'s open files; the pipe is locked until after.
    let ret = unsafe { splice::<T>(file, pipe, len, T::splice_write) };
    // SAFETY: Locked above.
    unsafe { local::pipe_unlock(pipe) };
    ret
}

/// `file_operations.poll` of `T`.
///
/// # Safety
///
/// Called by the VFS with one of `T`'s open files and a poll table or NULL.
unsafe extern "C" fn poll_callback<T: FileOperations>(
    file: *mut bindings::file,
    table: *mut bindings::poll_table_struct,
) -> bindings::__poll_t {
    // SAFETY: The VFS passes one of `T`'s open files and a poll table (NULL when the caller
    // does not wait) alive during the call.
    let (data, f, table) = unsafe {
        (
            borrow_data::<T>(file),
            File::from_raw(file),
            table.cast::<PollTable>().as_ref(),
        )
    };
    T::poll(data, f, table)
}

/// `file_operations.unlocked_ioctl` of `T`.
///
/// # Safety
///
/// Called by the VFS with one of `T`'s open files.
unsafe extern "C" fn ioctl_callback<T: FileOperations>(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    from_result(|| {
        // SAFETY: The VFS passes one of `T`'s open files, alive during the call.
        let (data, f) = unsafe { (borrow_data::<T>(file), File::from_raw(file)) };
        T::ioctl(data, f, cmd, arg)
    })
}
