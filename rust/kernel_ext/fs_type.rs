// SPDX-License-Identifier: GPL-2.0

//! File system types (`struct file_system_type`) mounted through an `fs_context`.
//!
//! An [`FsType`] is a `static` (as in C: the VFS links it into its list and lockdep needs its
//! lock class keys in static memory); registering it returns an [`FsRegistration`] that
//! unregisters it when dropped. Each mount attempt gets a fresh [`FileSystem::Context`], kept
//! in `fc->fs_private` until the VFS frees the context.

use super::{
    address_space::{GrabbedFolio, LockedFolio, Readahead},
    dentry::Dentry,
    file::{DirEmitter, File, Kiocb, PollTable},
    file_lock::{FileLock, LockStatus},
    fs_context::{FsContext, FsParameter, Params},
    iattr::Iattr,
    inode::{Inode, InodeCache},
    iov_iter::IovIter,
    kstat::{Kstat, Kstatfs},
    registration::RegistrationFlag,
    seq_file::SeqFile,
    super_block::{NewSuperBlock, SuperBlock},
    writeback::{LaunderFolio, Vma, Writeback},
    xattr::XattrName,
};
use crate::bindings as local;
use core::{marker::PhantomData, mem::MaybeUninit};
use kernel::{
    bindings,
    error::{code::*, from_result, to_result},
    ffi::{c_int, c_long, c_void},
    init::PinInit,
    prelude::*,
    str::CStr,
    types::{ARef, ForeignOwnable, Opaque},
};

/// A file system type mounted through the fs_context API.
///
/// Besides mounting, the trait carries the callbacks of the type's super blocks, inodes,
/// dentries, files and page cache, each with a default for what the file system leaves out
/// (`#[vtable]` records which ones it implements, so that the C tables leave the others NULL).
#[vtable]
pub(crate) trait FileSystem: Sized + Send + Sync + 'static {
    /// The state of one mount attempt: the parsed parameters.
    type Context: Send;

    /// The state of one super block, kept in `sb->s_fs_info`.
    type Data: ForeignOwnable + Send + Sync;

    /// The state of one inode, allocated with it in the type's inode cache.
    type InodeData: Send + Sync;

    /// The state of one open file or directory, kept in `file->private_data`.
    type FileData: ForeignOwnable + Send + Sync;

    /// The type's name, as in `mount -t NAME` and `/proc/filesystems`.
    const NAME: &'static CStr;

    /// `FS_*` flags (`file_system_type.fs_flags`).
    const FLAGS: u32;

    /// The parameter table, shown to fsconfig(2) users and used by [`FsContext::parse`].
    const PARAMS: Params;

    /// Creates the state of a new mount attempt.
    fn init_context(fc: &FsContext) -> Result<Self::Context>;

    /// Handles one parameter (`fs_context_operations.parse_param`).
    fn parse_param(fc: &FsContext, ctx: &mut Self::Context, param: &FsParameter) -> Result;

    /// Creates or finds the super block and sets the mount's root
    /// (`fs_context_operations.get_tree`); usually through [`get_tree_nodev`].
    fn get_tree(fc: &FsContext, ctx: &mut Self::Context) -> Result;

    /// First step of filling a new super block: set its parameters and create its state.
    fn fill_super(
        fc: &FsContext,
        ctx: &mut Self::Context,
        sb: &NewSuperBlock<Self>,
    ) -> Result<Self::Data> {
        let _ = (fc, ctx, sb);
        Err(super::error::enosys())
    }

    /// Second step: with the state in place, creates the root inode.
    fn root_inode(ctx: &mut Self::Context, sb: &SuperBlock<Self>) -> Result<ARef<Inode<Self>>> {
        let _ = (ctx, sb);
        Err(super::error::enosys())
    }

    /// Last step, before the root is published: may still fail (the root is then dropped).
    fn activate(ctx: &mut Self::Context, sb: &SuperBlock<Self>) -> Result {
        let _ = (ctx, sb);
        Ok(())
    }

    /// The key that [`get_tree_shared`] finds an existing super block by.
    fn sb_key(sb: &SuperBlock<Self>) -> usize {
        let _ = sb;
        0
    }

    /// Initialises a new inode's state (`super_operations.alloc_inode`).
    fn init_inode_data() -> impl PinInit<Self::InodeData, Error>;

    /// Called when a super block whose state was created goes away, before its inodes are
    /// evicted (`kill_sb`, before `kill_anon_super()`).
    fn kill_sb(sb: &SuperBlock<Self>) {
        let _ = sb;
    }

    /// `statfs(2)` on a path whose dentry is `dentry` (`super_operations.statfs`).
    fn statfs(dentry: &Dentry<Self>, buf: &mut Kstatfs) -> Result {
        let _ = (dentry, buf);
        Err(super::error::enosys())
    }

    /// Appends the mount options to `/proc/mounts` (`super_operations.show_options`).
    fn show_options(sb: &SuperBlock<Self>, seq: &SeqFile) -> Result {
        let _ = (sb, seq);
        Ok(())
    }

    /// `umount -f` (`super_operations.umount_begin`).
    fn umount_begin(sb: &SuperBlock<Self>) {
        let _ = sb;
    }

    /// An inode leaves the cache, after its pages and state were cleared
    /// (`super_operations.evict_inode`).
    fn evict_inode(inode: &Inode<Self>) {
        let _ = inode;
    }

    /// Looks `dentry` up in `dir` (`inode_operations.lookup`).
    ///
    /// Returns the dentry to use instead of `dentry`, if any (see [`Dentry::splice_alias`]).
    fn lookup(
        dir: &Inode<Self>,
        dentry: &Dentry<Self>,
        flags: u32,
    ) -> Result<Option<ARef<Dentry<Self>>>> {
        let _ = (dir, dentry, flags);
        Err(super::error::enosys())
    }

    /// `stat(2)` and `statx(2)` (`inode_operations.getattr`).
    fn getattr(inode: &Inode<Self>, stat: &mut Kstat, request_mask: u32, flags: u32) -> Result {
        let _ = (inode, stat, request_mask, flags);
        Err(super::error::enosys())
    }

    /// Permission check for `mask` (`MAY_*`) (`inode_operations.permission`).
    fn permission(inode: &Inode<Self>, mask: i32) -> Result {
        let _ = (inode, mask);
        Err(super::error::enosys())
    }

    /// Reads a symbolic link's target (`inode_operations.get_link`); `dentry` is `None` in an
    /// RCU walk, where sleeping is not allowed.
    fn get_link(dentry: Option<&Dentry<Self>>, inode: &Inode<Self>) -> Result<KVec<u8>> {
        let _ = (dentry, inode);
        Err(super::error::enosys())
    }

    /// Whether a cached dentry is still valid (`dentry_operations.d_revalidate`).
    fn revalidate(dentry: &Dentry<Self>, flags: u32) -> Result<bool> {
        let _ = (dentry, flags);
        Ok(true)
    }

    /// Opens a file or directory (`file_operations.open`).
    fn open(inode: &Inode<Self>, file: &File) -> Result<Self::FileData> {
        let _ = (inode, file);
        Err(super::error::enosys())
    }

    /// The last reference to an open file is gone (`file_operations.release`).
    fn release(inode: &Inode<Self>, data: Self::FileData, file: &File) {
        let _ = (inode, data, file);
    }

    /// `close(2)` of one descriptor (`file_operations.flush`); `owner` identifies the
    /// closing file table (for lock owners).
    fn flush(
        data: <Self::FileData as ForeignOwnable>::Borrowed<'_>,
        file: &File,
        owner: usize,
    ) -> Result {
        let _ = (data, file, owner);
        Ok(())
    }

    /// Reads a regular file (`file_operations.read_iter`).
    fn read_iter(
        data: <Self::FileData as ForeignOwnable>::Borrowed<'_>,
        iocb: &mut Kiocb,
        to: &mut IovIter,
    ) -> Result<usize> {
        let _ = (data, iocb, to);
        Err(EINVAL)
    }

    /// Seeks in a regular file (`file_operations.llseek`).
    fn llseek(file: &File, offset: i64, whence: i32) -> Result<i64> {
        file.generic_llseek(offset, whence)
    }

    /// Lists a directory (`file_operations.iterate_shared`).
    fn readdir(
        data: <Self::FileData as ForeignOwnable>::Borrowed<'_>,
        file: &File,
        ctx: &mut DirEmitter,
    ) -> Result {
        let _ = (data, file, ctx);
        Err(ENOTDIR)
    }

    /// Fills a locked folio of a regular file (`address_space_operations.read_folio`), read
    /// through the open file whose state is `data`, if any.
    fn read_folio(
        data: Option<<Self::FileData as ForeignOwnable>::Borrowed<'_>>,
        folio: LockedFolio,
    ) -> Result {
        let _ = data;
        folio.end_read(false);
        Err(EIO)
    }

    /// Starts reading the folios of a readahead window (`address_space_operations.readahead`).
    fn readahead(rac: &mut Readahead<'_>) {
        let _ = rac;
    }

    /// Creates a regular file on the negative `dentry` without opening it
    /// (`inode_operations.create`).
    fn create(dir: &Inode<Self>, dentry: &Dentry<Self>, mode: u16, excl: bool) -> Result {
        let _ = (dir, dentry, mode, excl);
        Err(super::error::enosys())
    }

    /// Looks up and possibly creates and opens `dentry` in one step
    /// (`inode_operations.atomic_open`).
    fn atomic_open(
        dir: &Inode<Self>,
        dentry: &Dentry<Self>,
        file: &File,
        flags: u32,
        mode: u16,
    ) -> Result<AtomicOpen<Self>> {
        let _ = (dir, dentry, file, flags, mode);
        Err(super::error::enosys())
    }

    /// Creates and opens an unnamed file in `dir`, instantiating the file's dentry
    /// (`inode_operations.tmpfile`).
    fn tmpfile(dir: &Inode<Self>, file: &File, mode: u16) -> Result<Self::FileData> {
        let _ = (dir, file, mode);
        Err(super::error::eopnotsupp())
    }

    /// The last step of opening a file that [`FileSystem::atomic_open`] or
    /// [`FileSystem::tmpfile`] created, once the VFS set the file up.
    fn finish_open(
        inode: &Inode<Self>,
        data: <Self::FileData as ForeignOwnable>::Borrowed<'_>,
        file: &File,
    ) -> Result {
        let _ = (inode, data, file);
        Ok(())
    }

    /// Creates a special file, fifo, socket or regular file (`inode_operations.mknod`).
    fn mknod(dir: &Inode<Self>, dentry: &Dentry<Self>, mode: u16, rdev: u32) -> Result {
        let _ = (dir, dentry, mode, rdev);
        Err(EPERM)
    }

    /// Creates a directory (`inode_operations.mkdir`).
    fn mkdir(dir: &Inode<Self>, dentry: &Dentry<Self>, mode: u16) -> Result {
        let _ = (dir, dentry, mode);
        Err(EPERM)
    }

    /// Creates a symbolic link to `target` (`inode_operations.symlink`).
    fn symlink(dir: &Inode<Self>, dentry: &Dentry<Self>, target: &CStr) -> Result {
        let _ = (dir, dentry, target);
        Err(EPERM)
    }

    /// Makes `new` in `dir` another name of `old`'s inode (`inode_operations.link`).
    fn link(old: &Dentry<Self>, dir: &Inode<Self>, new: &Dentry<Self>) -> Result {
        let _ = (old, dir, new);
        Err(EPERM)
    }

    /// Removes a non-directory entry (`inode_operations.unlink`).
    fn unlink(dir: &Inode<Self>, dentry: &Dentry<Self>) -> Result {
        let _ = (dir, dentry);
        Err(EPERM)
    }

    /// Removes an empty directory (`inode_operations.rmdir`).
    fn rmdir(dir: &Inode<Self>, dentry: &Dentry<Self>) -> Result {
        let _ = (dir, dentry);
        Err(EPERM)
    }

    /// Renames `old` in `old_dir` to `new` in `new_dir`, with `RENAME_*` flags
    /// (`inode_operations.rename`).
    fn rename(
        old_dir: &Inode<Self>,
        old: &Dentry<Self>,
        new_dir: &Inode<Self>,
        new: &Dentry<Self>,
        flags: u32,
    ) -> Result {
        let _ = (old_dir, old, new_dir, new, flags);
        Err(EPERM)
    }

    /// Changes attributes (`inode_operations.setattr`); the inode is locked.
    fn setattr(dentry: &Dentry<Self>, attr: &mut Iattr) -> Result {
        let _ = (dentry, attr);
        Err(EPERM)
    }

    /// Reads the extended attribute `name` into `buf`, or returns its size if `buf` is empty.
    fn getxattr(inode: &Inode<Self>, name: XattrName<'_>, buf: &mut [u8]) -> Result<usize> {
        let _ = (inode, name, buf);
        Err(super::error::eopnotsupp())
    }

    /// Sets the extended attribute `name` (`XATTR_CREATE`/`XATTR_REPLACE` in `flags`), or
    /// removes it if `value` is `None`.
    fn setxattr(inode: &Inode<Self>, name: &CStr, value: Option<&[u8]>, flags: i32) -> Result {
        let _ = (inode, name, value, flags);
        Err(super::error::eopnotsupp())
    }

    /// Lists the extended attribute names into `buf` (NUL-separated), or returns the size
    /// needed if `buf` is empty (`inode_operations.listxattr`).
    fn listxattr(inode: &Inode<Self>, buf: &mut [u8]) -> Result<usize> {
        let _ = (inode, buf);
        Err(super::error::eopnotsupp())
    }

    /// Writes to a regular file (`file_operations.write_iter`).
    fn write_iter(
        data: <Self::FileData as ForeignOwnable>::Borrowed<'_>,
        iocb: &mut Kiocb,
        from: &mut IovIter,
    ) -> Result<usize> {
        let _ = (data, iocb, from);
        Err(EINVAL)
    }

    /// Makes the byte range `[start, end]` durable (`file_operations.fsync`).
    fn fsync(
        data: <Self::FileData as ForeignOwnable>::Borrowed<'_>,
        file: &File,
        start: i64,
        end: i64,
        datasync: bool,
    ) -> Result {
        let _ = (data, file, start, end, datasync);
        Err(EINVAL)
    }

    /// A POSIX lock command (`F_GETLK`, `F_SETLK`, `F_SETLKW`, ...) (`file_operations.lock`).
    fn lock(
        data: <Self::FileData as ForeignOwnable>::Borrowed<'_>,
        file: &File,
        cmd: i32,
        fl: &mut FileLock,
    ) -> Result<LockStatus> {
        let _ = (data, file, cmd, fl);
        Err(EINVAL)
    }

    /// A `flock(2)` command (`file_operations.flock`).
    fn flock(
        data: <Self::FileData as ForeignOwnable>::Borrowed<'_>,
        file: &File,
        cmd: i32,
        fl: &mut FileLock,
    ) -> Result {
        let _ = (data, file, cmd, fl);
        Err(EINVAL)
    }

    /// Allocates or frees space (`FALLOC_FL_*` in `mode`) (`file_operations.fallocate`).
    fn fallocate(
        data: <Self::FileData as ForeignOwnable>::Borrowed<'_>,
        file: &File,
        mode: i32,
        offset: i64,
        len: i64,
    ) -> Result {
        let _ = (data, file, mode, offset, len);
        Err(super::error::eopnotsupp())
    }

    /// Copies a byte range between two files of this type
    /// (`file_operations.copy_file_range`).
    #[allow(clippy::too_many_arguments)]
    fn copy_file_range(
        data_in: <Self::FileData as ForeignOwnable>::Borrowed<'_>,
        file_in: &File,
        pos_in: i64,
        data_out: <Self::FileData as ForeignOwnable>::Borrowed<'_>,
        file_out: &File,
        pos_out: i64,
        len: usize,
        flags: u32,
    ) -> Result<usize> {
        let _ = (
            data_in, file_in, pos_in, data_out, file_out, pos_out, len, flags,
        );
        Err(super::error::eopnotsupp())
    }

    /// An ioctl (`file_operations.unlocked_ioctl`, or `compat_ioctl` if `compat`).
    fn ioctl(
        data: <Self::FileData as ForeignOwnable>::Borrowed<'_>,
        file: &File,
        cmd: u32,
        arg: usize,
        compat: bool,
    ) -> Result<c_long> {
        let _ = (data, file, cmd, arg, compat);
        Err(ENOTTY)
    }

    /// Polls the file (`file_operations.poll`); returns the `EPOLL*` mask.
    fn poll(
        data: <Self::FileData as ForeignOwnable>::Borrowed<'_>,
        file: &File,
        table: Option<&PollTable>,
    ) -> u32 {
        let _ = (data, file, table);
        0
    }

    /// Writes dirty folios back (`address_space_operations.writepages`); with it, folios
    /// can be dirtied (`dirty_folio`).
    fn writepages(wb: &mut Writeback<'_, Self>) -> Result {
        let _ = wb;
        Err(EIO)
    }

    /// Prepares the locked folio a buffered write of `len` bytes at `pos` will copy into
    /// (`address_space_operations.write_begin`): fills what the write will not cover. With
    /// it, [`Kiocb::generic_write`] works and `write_end` marks the folio dirty.
    fn write_begin(
        file: &File,
        inode: &Inode<Self>,
        folio: &GrabbedFolio,
        pos: i64,
        len: usize,
    ) -> Result {
        let _ = (file, inode, folio, pos, len);
        Err(EIO)
    }

    /// Writes a dirty folio about to be invalidated (`address_space_operations.launder_folio`).
    fn launder_folio(inode: &Inode<Self>, folio: &LaunderFolio<'_>) -> Result {
        let _ = (inode, folio);
        Err(EIO)
    }

    /// Writes a dirty inode's metadata back (`super_operations.write_inode`).
    fn write_inode(inode: &Inode<Self>, sync: bool) -> Result {
        let _ = (inode, sync);
        Ok(())
    }

    /// Accepts or refuses a mapping of a regular file (`file_operations.mmap`); without it
    /// only read-only shared mappings are allowed (`generic_file_readonly_mmap()`). Accepted
    /// mappings use the page cache, [`FileSystem::page_mkwrite`] and
    /// [`FileSystem::vma_close`].
    fn mmap(
        data: <Self::FileData as ForeignOwnable>::Borrowed<'_>,
        file: &File,
        vma: &Vma<'_>,
    ) -> Result {
        let _ = (data, file, vma);
        Err(ENODEV)
    }

    /// A mapped folio at `pos` is about to be written through a mapping; it is locked and
    /// will be dirtied after this returns (`vm_operations_struct.page_mkwrite`).
    fn page_mkwrite(inode: &Inode<Self>, pos: i64) {
        let _ = (inode, pos);
    }

    /// A mapping of `file` goes away (`vm_operations_struct.close`).
    fn vma_close(file: &File) {
        let _ = file;
    }
}

/// What [`FileSystem::atomic_open`] did.
pub(crate) enum AtomicOpen<T: FileSystem> {
    /// It created (or found) the file and opened it on the dentry it was given, with this
    /// state.
    Opened(T::FileData),
    /// It did not open: the VFS opens the found entry (the given dentry, or this alias of
    /// it) the usual way.
    NoOpen(Option<ARef<Dentry<T>>>),
}

/// Mounts a new super block that no device backs (`get_tree_nodev()`): [`FileSystem::fill_super`],
/// then [`FileSystem::root_inode`] and [`FileSystem::activate`].
pub(crate) fn get_tree_nodev<T: FileSystem>(fc: &FsContext) -> Result {
    // SAFETY: `fc` is a live context of `T` during its `get_tree` operation (the only caller
    // of this function is `T::get_tree`); the callback is `T`'s.
    to_result(unsafe { local::get_tree_nodev(fc.as_raw(), Some(fill_super_callback::<T>)) })
}

/// Mounts the existing super block whose [`FileSystem::sb_key`] is `key` again (`sget_fc()`);
/// fails with `ENOTCONN` if there is none (it never creates one).
pub(crate) fn get_tree_shared<T: FileSystem>(fc: &FsContext, key: usize) -> Result {
    let raw = fc.as_raw();
    // SAFETY: `fc` is a live context of `T` during its `get_tree`; `sget_key` is ours to set
    // and is only read by the test callback below.
    unsafe { (*raw).sget_key = key as *mut c_void };
    // SAFETY: The callbacks are `T`'s and match `sget_fc()`'s contract: `test` only reads
    // super blocks of `T`, `set` refuses to create one.
    let sb = unsafe {
        bindings::sget_fc(
            raw.cast(),
            Some(sget_test_callback::<T>),
            Some(sget_set_callback),
        )
    };
    let sb = kernel::error::from_err_ptr(sb)?;
    // SAFETY: `sget_fc()` returned a live, active super block with `s_umount` held, as
    // `get_tree` must leave it; its root is set (it was mounted), and the reference we
    // take becomes the mount's root.
    unsafe { (*raw).root = local::rust_fuse_dget((*sb).s_root) };
    Ok(())
}

/// The C callback `sget_test` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn sget_test_callback<T: FileSystem>(
    sb: *mut bindings::super_block,
    fc: *mut bindings::fs_context,
) -> c_int {
    // SAFETY: `sget_fc()` passes a super block of `T`'s type and our context.
    unsafe {
        let key = (*fc.cast::<local::fs_context>()).sget_key as usize;
        if (*sb).s_fs_info.is_null() || (*sb).s_root.is_null() {
            return 0;
        }
        c_int::from(T::sb_key(SuperBlock::<T>::from_raw(sb)) == key)
    }
}

/// The C callback `sget_set` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn sget_set_callback(
    _sb: *mut bindings::super_block,
    _fc: *mut bindings::fs_context,
) -> c_int {
    super::error::enotconn().to_errno()
}

/// The `fill_super` callback of `get_tree_nodev()` for `T`.
///
/// # Safety
///
/// Called by `get_tree_nodev()` with a new, locked super block of `T` and the live context of
/// `T` whose `get_tree` is running.
unsafe extern "C" fn fill_super_callback<T: FileSystem>(
    sb: *mut bindings::super_block,
    fc: *mut local::fs_context,
) -> c_int {
    from_result(|| {
        // SAFETY: As guaranteed by the caller; the context's state is not borrowed elsewhere
        // while `get_tree` runs (it handed the context to `get_tree_nodev()`).
        let (ctx, fc) = unsafe { (context_state::<T>(fc), FsContext::from_raw(fc)) };
        // SAFETY: A new super block of `T` that `get_tree_nodev()` gives us to fill.
        unsafe { super::super_block::fill_super::<T>(sb, fc, ctx) }?;
        Ok(0)
    })
}

/// The C description of the [`FileSystem`] `T`; build it in a `static` with [`fs_type!`].
///
/// # Invariants
///
/// `fs` is the first field, so a `file_system_type` pointer of `T`'s type is a pointer to the
/// `FsType<T>` (used to find `cache` from a super block).
#[repr(C)]
pub(crate) struct FsType<T> {
    fs: Opaque<bindings::file_system_type>,
    cache: InodeCache,
    registered: RegistrationFlag,
    _t: PhantomData<T>,
}

// SAFETY: The C structure is only written by `register_filesystem()`/`unregister_filesystem()`
// (kept to one registration at a time by `registered`) and by the VFS under its own locks.
unsafe impl<T> Sync for FsType<T> {}

impl<T: FileSystem> FsType<T> {
    /// Describes `T`; use [`fs_type!`], which passes this module as `owner`.
    ///
    /// `kill_sb` calls [`FileSystem::kill_sb`], then `kill_anon_super()` (what the super blocks
    /// of `get_tree_nodev()` need), then drops the super block's state.
    ///
    /// # Safety
    ///
    /// `owner` must be this module's `struct module`: the VFS pins it while a super block of
    /// the type exists, and the type's callbacks are this module's code.
    pub(crate) const unsafe fn new(owner: *mut bindings::module) -> Self {
        // SAFETY: All-zero is a valid `file_system_type`.
        let mut fs: bindings::file_system_type = unsafe { MaybeUninit::zeroed().assume_init() };
        fs.name = T::NAME.as_char_ptr();
        fs.fs_flags = T::FLAGS as c_int;
        fs.init_fs_context = Some(init_fs_context_callback::<T>);
        fs.parameters = T::PARAMS.as_kernel_ptr();
        fs.kill_sb = Some(super::super_block::kill_sb_callback::<T>);
        fs.owner = owner;
        Self {
            fs: Opaque::new(fs),
            cache: InodeCache::new(),
            registered: RegistrationFlag::new(),
            _t: PhantomData,
        }
    }

    /// Creates the type's inode cache and registers the type; fails with `EBUSY` if a type of
    /// the same name is registered.
    pub(crate) fn register(&'static self) -> Result<FsRegistration> {
        self.registered.register(|| {
            self.cache.create::<T>(T::NAME)?;
            // SAFETY: `fs` is static, fully initialised and not registered (the flag); it stays
            // valid until `unregister_filesystem()` in `FsRegistration::drop`.
            to_result(unsafe { bindings::register_filesystem(self.fs.get()) })
                .inspect_err(|_| self.cache.destroy())
        })?;
        Ok(FsRegistration {
            fs: self.fs.get(),
            cache: &self.cache,
            registered: &self.registered,
        })
    }

    /// The type's inode cache.
    ///
    /// # Safety
    ///
    /// `fs` must be the `file_system_type` of an `FsType<T>`.
    pub(crate) unsafe fn cache_of(fs: *mut bindings::file_system_type) -> &'static InodeCache {
        // SAFETY: By the type invariant `fs` is the first field of a static `FsType<T>`.
        unsafe { &(*fs.cast::<FsType<T>>()).cache }
    }
}

/// Builds an [`FsType`] for `$t` owned by this module; use it in a `static`.
macro_rules! fs_type {
    ($t:ty) => {{
        let owner = $crate::kernel_ext::module::this_module!();
        // SAFETY: `owner` is this module's `struct module`.
        unsafe { $crate::kernel_ext::fs_type::FsType::<$t>::new(owner) }
    }};
}
pub(crate) use fs_type;

/// A registered [`FsType`]; dropping it unregisters the type.
pub(crate) struct FsRegistration {
    fs: *mut bindings::file_system_type,
    cache: &'static InodeCache,
    registered: &'static RegistrationFlag,
}

// SAFETY: The pointer is to a `static` `FsType`; unregistering may happen on any thread.
unsafe impl Send for FsRegistration {}
// SAFETY: No method takes `&self`.
unsafe impl Sync for FsRegistration {}

impl Drop for FsRegistration {
    fn drop(&mut self) {
        // SAFETY: Registered by `FsType::register()` and unregistered only here. The module
        // cannot be unloading while a super block of this type exists (each holds a module
        // reference through `owner`), so nothing uses the type after this.
        unsafe { bindings::unregister_filesystem(self.fs) };
        self.cache.destroy();
        self.registered.unregistered();
    }
}

/// The context operations of `T`, in a promoted `'static` constant.
struct ContextOps<T>(PhantomData<T>);

impl<T: FileSystem> ContextOps<T> {
    const OPS: local::fs_context_operations = local::fs_context_operations {
        free: Some(free_callback::<T>),
        dup: None,
        parse_param: Some(parse_param_callback::<T>),
        parse_monolithic: None,
        get_tree: Some(get_tree_callback::<T>),
        reconfigure: None,
    };
}

/// Borrows `T`'s state of a context.
///
/// # Safety
///
/// `fc` must be a live context of `T` set up by `init_fs_context_callback`, during one of its
/// (serialised) operations, and the state must not be borrowed elsewhere meanwhile.
pub(crate) unsafe fn context_state<'a, T: FileSystem>(
    fc: *mut local::fs_context,
) -> &'a mut T::Context {
    // SAFETY: `fs_private` holds a `KBox<T::Context>` from `into_foreign()` (caller's
    // guarantee); operations on a context are serialised, so this is the only borrow.
    unsafe { &mut *(*fc).fs_private.cast::<T::Context>() }
}

/// `file_system_type.init_fs_context` of `T`.
///
/// # Safety
///
/// Called by the VFS with a new context of `T`'s type.
unsafe extern "C" fn init_fs_context_callback<T: FileSystem>(
    fc: *mut bindings::fs_context,
) -> c_int {
    let fc = fc.cast::<local::fs_context>();
    from_result(|| {
        // SAFETY: The VFS passes a new, live context during its creation.
        let ctx = T::init_context(unsafe { FsContext::from_raw(fc) })?;
        let ctx = KBox::new(ctx, GFP_KERNEL)?;
        // SAFETY: The context is new and not shared yet; `free_callback` takes the state back.
        unsafe {
            (*fc).fs_private = ctx.into_foreign() as *mut c_void;
            (*fc).ops = &ContextOps::<T>::OPS;
        }
        Ok(0)
    })
}

/// `fs_context_operations.free` of `T`.
///
/// # Safety
///
/// Called by the VFS once, last, with a context set up by `init_fs_context_callback::<T>`.
unsafe extern "C" fn free_callback<T: FileSystem>(fc: *mut local::fs_context) {
    // SAFETY: The VFS calls `free` once, last, on a context set up by `init_fs_context_callback`
    // (it sets `ops` only together with `fs_private`).
    let state = unsafe { (*fc).fs_private };
    // SAFETY: `state` came from `KBox::into_foreign()` and nothing borrows it any more.
    drop(unsafe { <KBox<T::Context>>::try_from_foreign(state) });
}

/// `fs_context_operations.parse_param` of `T`.
///
/// # Safety
///
/// Called by the VFS with a live context of `T` and a live parameter, serialised with the
/// context's other operations.
unsafe extern "C" fn parse_param_callback<T: FileSystem>(
    fc: *mut local::fs_context,
    param: *mut local::fs_parameter,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes a live context of `T` and a live parameter during a serialised
        // operation.
        let (ctx, fc, param) = unsafe {
            (
                context_state::<T>(fc),
                FsContext::from_raw(fc),
                FsParameter::from_raw(param),
            )
        };
        T::parse_param(fc, ctx, param)?;
        Ok(0)
    })
}

/// `fs_context_operations.get_tree` of `T`.
///
/// # Safety
///
/// Called by the VFS with a live context of `T`, serialised with its other operations.
unsafe extern "C" fn get_tree_callback<T: FileSystem>(fc: *mut local::fs_context) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes a live context of `T` during a serialised operation.
        let (ctx, fc) = unsafe { (context_state::<T>(fc), FsContext::from_raw(fc)) };
        T::get_tree(fc, ctx)?;
        Ok(0)
    })
}
