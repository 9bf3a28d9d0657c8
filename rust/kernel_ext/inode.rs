// SPDX-License-Identifier: GPL-2.0

//! Inodes (`struct inode`) of a [`FileSystem`], with typed per-inode state.
//!
//! Each inode is allocated from the file system type's own [`InodeCache`] together with a
//! key (what `iget5_locked()` finds it by) and the file system's [`FileSystem::InodeData`].
//! New inodes come out of [`SuperBlock::get_or_create_inode`] as [`NewInode`]s, which set the
//! type, the attributes and the operations, and then unlock the inode.

use super::{
    cred::{Kgid, Kuid},
    fs_type::FileSystem,
    super_block::SuperBlock,
};
use crate::bindings as local;
use core::{
    marker::PhantomData,
    mem::{offset_of, ManuallyDrop},
    ptr::{self, NonNull},
    sync::atomic::{AtomicPtr, Ordering},
};
use kernel::{
    bindings,
    error::code::*,
    ffi::{c_int, c_void},
    init::PinInit,
    prelude::*,
    str::CStr,
    types::{ARef, AlwaysRefCounted, Either, Opaque},
};

/// What an inode of `T` is allocated as.
#[repr(C)]
struct InodeWithData<T: FileSystem> {
    key: u64,
    data: core::mem::MaybeUninit<T::InodeData>,
    inode: Opaque<bindings::inode>,
}

/// The slab cache that the inodes of one file system type are allocated from.
pub(crate) struct InodeCache(AtomicPtr<bindings::kmem_cache>);

impl InodeCache {
    /// A cache not created yet.
    pub(crate) const fn new() -> Self {
        Self(AtomicPtr::new(ptr::null_mut()))
    }

    /// Creates the cache for the inodes of `T`.
    pub(crate) fn create<T: FileSystem>(&self, name: &'static CStr) -> Result {
        let size = core::mem::size_of::<InodeWithData<T>>() as u32;
        // SAFETY: `name` is a static string; the constructor initialises the inode part of
        // every object once, as `inode_init_once()` requires.
        let cache = unsafe {
            local::rust_fuse_inode_cache_create(name.as_char_ptr(), size, Some(init_once::<T>))
        };
        if cache.is_null() {
            return Err(ENOMEM);
        }
        self.0.store(cache, Ordering::Release);
        Ok(())
    }

    /// Destroys the cache, after every inode freed by RCU has been freed (`rcu_barrier()`).
    pub(crate) fn destroy(&self) {
        let cache = self.0.swap(ptr::null_mut(), Ordering::AcqRel);
        if !cache.is_null() {
            // SAFETY: The file system type is unregistered and has no super blocks, so no
            // inode will be allocated; `rcu_barrier()` waits for the pending `free_inode`s.
            unsafe {
                bindings::rcu_barrier();
                bindings::kmem_cache_destroy(cache);
            }
        }
    }

    fn get(&self) -> *mut bindings::kmem_cache {
        self.0.load(Ordering::Acquire)
    }
}

/// The slab constructor: initialises the inode part of a new object once.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn init_once<T: FileSystem>(obj: *mut c_void) {
    let obj = obj.cast::<InodeWithData<T>>();
    // SAFETY: The slab passes a new object of the cache's size.
    unsafe { bindings::inode_init_once(Opaque::raw_get(ptr::addr_of!((*obj).inode))) };
}

/// An inode of `T`.
///
/// # Invariants
///
/// Instances are only handed out as references to live inodes of `T` (allocated as
/// `InodeWithData<T>` with initialised data), alive for the reference's lifetime.
#[repr(transparent)]
pub(crate) struct Inode<T: FileSystem>(Opaque<bindings::inode>, PhantomData<T>);

// SAFETY: Inodes are reference counted and used from any thread; the fields changed through
// `&self` are changed by C file systems under their own locks, as the callers here do.
unsafe impl<T: FileSystem> Send for Inode<T> {}
// SAFETY: See the `Send` impl.
unsafe impl<T: FileSystem> Sync for Inode<T> {}

// SAFETY: `ihold()`/`iput()` are the inode's reference counting.
unsafe impl<T: FileSystem> AlwaysRefCounted for Inode<T> {
    fn inc_ref(&self) {
        // SAFETY: The inode is live and referenced (type invariant).
        unsafe { bindings::ihold(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives back one reference.
        unsafe { bindings::iput(obj.cast().as_ptr()) };
    }
}

/// The inode's `i_rwsem`, held for writing (see [`Inode::lock`]).
pub(crate) struct InodeLockGuard<'a, T: FileSystem>(&'a Inode<T>);

impl<T: FileSystem> Drop for InodeLockGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: Locked by `Inode::lock()`, unlocked once here.
        unsafe { local::rust_fuse_inode_unlock(self.0.as_raw()) };
    }
}

impl<T: FileSystem> Inode<T> {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must be a live inode of `T` with initialised state, alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::inode) -> &'a Self {
        // SAFETY: Transparent wrapper; the caller guarantees validity.
        unsafe { &*ptr.cast::<Self>() }
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::inode {
        self.0.get()
    }

    fn container(inode: *mut bindings::inode) -> *mut InodeWithData<T> {
        inode
            .cast::<u8>()
            .wrapping_sub(offset_of!(InodeWithData<T>, inode))
            .cast()
    }

    /// The inode's state.
    pub(crate) fn data(&self) -> &T::InodeData {
        // SAFETY: The inode is an `InodeWithData<T>` with initialised data (type invariant).
        unsafe { (*Self::container(self.as_raw())).data.assume_init_ref() }
    }

    /// The key the inode was found by (see [`SuperBlock::get_or_create_inode`]).
    pub(crate) fn key(&self) -> u64 {
        // SAFETY: Set once under the inode hash lock before the inode is visible.
        unsafe { (*Self::container(self.as_raw())).key }
    }

    /// The super block.
    pub(crate) fn super_block(&self) -> &SuperBlock<T> {
        // SAFETY: An inode's super block outlives it, and has its state while inodes exist.
        unsafe { SuperBlock::from_raw((*self.as_raw()).i_sb) }
    }

    /// The mode: file type and permission bits.
    pub(crate) fn mode(&self) -> u16 {
        // SAFETY: A plain field; racy reads are fine, as in C.
        unsafe { ptr::read_volatile(ptr::addr_of!((*self.as_raw()).i_mode)) }
    }

    /// The file type bits of the mode (`S_IFMT`).
    pub(crate) fn file_type(&self) -> u32 {
        u32::from(self.mode()) & bindings::S_IFMT
    }

    /// The generation (`i_generation`).
    pub(crate) fn generation(&self) -> u32 {
        // SAFETY: Set before the inode is unlocked, then constant.
        unsafe { (*self.as_raw()).i_generation }
    }

    /// The file size (`i_size_read()`).
    pub(crate) fn size(&self) -> i64 {
        // SAFETY: `i_size_read()` is safe against concurrent writers.
        unsafe { local::rust_fuse_i_size_read(self.as_raw()) }
    }

    /// Sets the file size (`i_size_write()`); callers serialise writers as C does.
    pub(crate) fn set_size(&self, size: i64) {
        // SAFETY: The callers serialise size updates under the file system's inode lock.
        unsafe { local::rust_fuse_i_size_write(self.as_raw(), size) };
    }

    /// The device number of a special file (`i_rdev`).
    pub(crate) fn rdev(&self) -> u32 {
        // SAFETY: Set before the inode is unlocked, then constant.
        unsafe { (*self.as_raw()).i_rdev }
    }

    /// The link count.
    pub(crate) fn nlink(&self) -> u32 {
        // SAFETY: A plain field; racy reads are fine, as in C.
        unsafe { ptr::read_volatile(ptr::addr_of!((*self.as_raw()).__bindgen_anon_1.i_nlink)) }
    }

    /// The modification time (seconds, nanoseconds).
    pub(crate) fn mtime(&self) -> (i64, u32) {
        // SAFETY: Plain fields; racy reads are fine, as in C.
        unsafe {
            let i = self.as_raw();
            (
                ptr::read_volatile(ptr::addr_of!((*i).i_mtime_sec)),
                ptr::read_volatile(ptr::addr_of!((*i).i_mtime_nsec)),
            )
        }
    }

    /// The change time (seconds, nanoseconds).
    pub(crate) fn ctime(&self) -> (i64, u32) {
        // SAFETY: Plain fields; racy reads are fine, as in C.
        unsafe {
            let i = self.as_raw();
            (
                ptr::read_volatile(ptr::addr_of!((*i).i_ctime_sec)),
                ptr::read_volatile(ptr::addr_of!((*i).i_ctime_nsec)),
            )
        }
    }

    /// Sets the modification and change times the kernel keeps for the file system;
    /// `None` keeps one as it is. The caller holds the file system's attribute lock.
    pub(crate) fn set_cmtime(&self, mtime: Option<(i64, u32)>, ctime: Option<(i64, u32)>) {
        let inode = self.as_raw();
        let (m, c) = (mtime.unwrap_or(self.mtime()), ctime.unwrap_or(self.ctime()));
        // SAFETY: The inode is live; the caller serialises attribute writes.
        unsafe {
            let a = (
                ptr::read_volatile(ptr::addr_of!((*inode).i_atime_sec)),
                ptr::read_volatile(ptr::addr_of!((*inode).i_atime_nsec)),
            );
            local::rust_fuse_inode_set_times(inode, a.0, a.1, m.0, m.1, c.0, c.1);
        }
    }

    /// Checks `mask` (`MAY_*`) against the mode bits and owner (`generic_permission()`).
    pub(crate) fn generic_permission(&self, mask: i32) -> Result {
        // SAFETY: The inode is live; `nop_mnt_idmap` is the identity mapping.
        kernel::error::to_result(unsafe {
            bindings::generic_permission(
                ptr::addr_of_mut!(bindings::nop_mnt_idmap),
                self.as_raw(),
                mask,
            )
        })
    }

    /// Drops cached pages beyond `size` (`truncate_pagecache()`).
    pub(crate) fn truncate_pagecache(&self, size: i64) {
        // SAFETY: The inode is live.
        unsafe { bindings::truncate_pagecache(self.as_raw(), size) };
    }

    /// Updates the attributes that may change over the inode's life.
    pub(crate) fn set_attrs(&self, a: &InodeAttrs) {
        let inode = self.as_raw();
        // SAFETY: The caller holds the file system's attribute lock, which serialises these
        // writes; the VFS reads the fields without locks, as it does for C file systems.
        unsafe {
            (*inode).i_ino = a.ino as _;
            (*inode).i_mode = a.mode;
            bindings::set_nlink(inode, a.nlink);
            (*inode).i_uid = a.uid.raw();
            (*inode).i_gid = a.gid.raw();
            (*inode).i_blocks = a.blocks;
            (*inode).i_blkbits = a.blkbits;
            local::rust_fuse_inode_set_times(
                inode, a.atime.0, a.atime.1, a.mtime.0, a.mtime.1, a.ctime.0, a.ctime.1,
            );
        }
    }

    /// The group as a kernel gid (`i_gid`).
    pub(crate) fn kgid(&self) -> super::cred::Kgid {
        // SAFETY: A plain field; racy reads are fine, as in C.
        super::cred::Kgid(unsafe { ptr::read_volatile(ptr::addr_of!((*self.as_raw()).i_gid)) })
    }

    /// Drops one link (`drop_nlink()`), or all of them (`clear_nlink()`), after the entry
    /// was removed; the caller serialises this with attribute updates.
    pub(crate) fn unlinked(&self, all: bool) {
        // SAFETY: The inode is live; the caller holds the file system's attribute lock.
        unsafe {
            if all {
                bindings::clear_nlink(self.as_raw());
            } else if self.nlink() > 0 {
                bindings::drop_nlink(self.as_raw());
            }
        }
    }

    /// Sets the change time to now, unless the file system keeps times itself
    /// (`S_NOCMTIME`) (`inode_set_ctime_current()`).
    pub(crate) fn touch_ctime(&self) {
        // SAFETY: The inode is live; `i_flags` is set at creation.
        unsafe {
            if (*self.as_raw()).i_flags & bindings::S_NOCMTIME == 0 {
                bindings::inode_set_ctime_current(self.as_raw());
            }
        }
    }

    /// Drops cached pages of the byte range `[start, end]` (`truncate_pagecache_range()`).
    pub(crate) fn truncate_pagecache_range(&self, start: i64, end: i64) {
        // SAFETY: The inode is live.
        unsafe { bindings::truncate_pagecache_range(self.as_raw(), start, end) };
    }

    /// Drops the cached pages with indexes `first..=last`, unmapping them
    /// (`invalidate_inode_pages2_range()`).
    pub(crate) fn invalidate_pages_range(&self, first: u64, last: u64) -> Result {
        // SAFETY: The inode is live; its mapping lives as long as it does.
        kernel::error::to_result(unsafe {
            local::invalidate_inode_pages2_range((*self.as_raw()).i_mapping, first as _, last as _)
        })
    }

    /// Checks that the file may grow to `size` (`RLIMIT_FSIZE`, the super block's limit)
    /// (`inode_newsize_ok()`).
    pub(crate) fn newsize_ok(&self, size: i64) -> Result {
        // SAFETY: The inode is live.
        kernel::error::to_result(unsafe { bindings::inode_newsize_ok(self.as_raw(), size) })
    }

    /// Takes the lock of a directory whose entries will be changed from outside the VFS
    /// (`inode_lock_nested(I_MUTEX_PARENT)`), until the guard drops.
    pub(crate) fn lock_parent(&self) -> InodeLockGuard<'_, T> {
        // SAFETY: The inode is live; the guard unlocks it.
        unsafe { local::rust_fuse_inode_lock_parent(self.as_raw()) };
        InodeLockGuard(self)
    }

    /// A dentry of this inode (`d_find_alias()`).
    pub(crate) fn find_alias(&self) -> Option<ARef<super::dentry::Dentry<T>>> {
        // SAFETY: The inode is live; the result is referenced or NULL.
        let d = unsafe { bindings::d_find_alias(self.as_raw()) };
        // SAFETY: A dentry of an inode of `T` is a dentry of `T`; we own the reference.
        ptr::NonNull::new(d).map(|d| unsafe { ARef::from_raw(d.cast()) })
    }

    /// Marks a removed directory dead (`S_DEAD`); the caller holds the inode's lock.
    pub(crate) fn mark_dead(&self) {
        // SAFETY: The caller holds the inode lock, which serialises `i_flags` changes.
        unsafe { (*self.as_raw()).i_flags |= bindings::S_DEAD };
    }

    /// Takes the inode's lock (`inode_lock()`, `i_rwsem` for writing) until the guard drops.
    pub(crate) fn lock(&self) -> InodeLockGuard<'_, T> {
        // SAFETY: The inode is live; the guard unlocks it.
        unsafe { local::rust_fuse_inode_lock(self.as_raw()) };
        InodeLockGuard(self)
    }

    /// Drops the inode from the inode hash, so that lookups create a new one
    /// (`remove_inode_hash()`).
    pub(crate) fn remove_hash(&self) {
        // SAFETY: The inode is live.
        unsafe { local::rust_fuse_remove_inode_hash(self.as_raw()) };
    }

    /// Drops the inode's cached pages (`invalidate_inode_pages2()`).
    pub(crate) fn invalidate_pages(&self) -> Result {
        // SAFETY: The inode is live; its mapping lives as long as it does.
        kernel::error::to_result(unsafe {
            local::invalidate_inode_pages2((*self.as_raw()).i_mapping)
        })
    }

    /// Allocates an inode of `T` from `cache` (`super_operations.alloc_inode`).
    ///
    /// # Safety
    ///
    /// `sb` must be a live super block of `T` and `cache` `T`'s inode cache.
    pub(crate) unsafe fn alloc(
        sb: *mut bindings::super_block,
        cache: &InodeCache,
    ) -> *mut bindings::inode {
        // SAFETY: The cache's objects are `InodeWithData<T>`.
        let obj =
            unsafe { local::rust_fuse_alloc_inode_sb(sb, cache.get()) }.cast::<InodeWithData<T>>();
        if obj.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: `obj` is a new object; its data slot is uninitialised and pinned in the
        // slab until `free`.
        let res = unsafe {
            ptr::addr_of_mut!((*obj).key).write(0);
            T::init_inode_data().__pinned_init(ptr::addr_of_mut!((*obj).data).cast())
        };
        if res.is_err() {
            // SAFETY: `obj` came from this cache and was never published.
            unsafe { bindings::kmem_cache_free(cache.get(), obj.cast()) };
            return ptr::null_mut();
        }
        // SAFETY: `obj` is live.
        unsafe { Opaque::raw_get(ptr::addr_of!((*obj).inode)) }
    }

    /// Drops the state of an inode being destroyed (`super_operations.destroy_inode`).
    ///
    /// # Safety
    ///
    /// `inode` must be an inode of `T` that nothing uses any more.
    pub(crate) unsafe fn drop_data(inode: *mut bindings::inode) {
        let obj = Self::container(inode);
        // SAFETY: The data was initialised by `alloc` and is dropped only here.
        unsafe { (*obj).data.assume_init_drop() };
    }

    /// Frees an inode of `T` (`super_operations.free_inode`).
    ///
    /// # Safety
    ///
    /// `inode` must be an inode of `T` from `cache`, after `drop_data`.
    pub(crate) unsafe fn free(inode: *mut bindings::inode, cache: &InodeCache) {
        // SAFETY: The object came from `cache`.
        unsafe { bindings::kmem_cache_free(cache.get(), Self::container(inode).cast()) };
    }

    /// Wraps the result of `iget5_locked()`.
    ///
    /// # Safety
    ///
    /// `inode` must be a referenced inode of `T` returned by `iget5_locked()`.
    pub(crate) unsafe fn from_iget(
        inode: NonNull<bindings::inode>,
    ) -> Either<ARef<Self>, NewInode<T>> {
        // SAFETY: The inode is live.
        let state = unsafe { local::rust_fuse_inode_state(inode.as_ptr()) };
        if state & bindings::I_NEW as kernel::ffi::c_ulong != 0 {
            Either::Right(NewInode(inode, PhantomData))
        } else {
            // SAFETY: A referenced, initialised inode whose reference we now own.
            Either::Left(unsafe { ARef::from_raw(inode.cast()) })
        }
    }

    /// `iget5_locked()`'s test: whether `inode` has the key `data` points to.
    ///
    /// # Safety
    ///
    /// Called by the kernel with live arguments of `T`'s objects, as the C operation's
    /// contract says.
    pub(crate) unsafe extern "C" fn test_key_callback(
        inode: *mut bindings::inode,
        data: *mut c_void,
    ) -> c_int {
        // SAFETY: `iget5_locked()` passes an inode of this super block (hence `T`'s) and our
        // key pointer.
        unsafe { c_int::from((*Self::container(inode)).key == *data.cast::<u64>()) }
    }

    /// `iget5_locked()`'s set: gives a new inode the key `data` points to.
    ///
    /// # Safety
    ///
    /// Called by the kernel with live arguments of `T`'s objects, as the C operation's
    /// contract says.
    pub(crate) unsafe extern "C" fn set_key_callback(
        inode: *mut bindings::inode,
        data: *mut c_void,
    ) -> c_int {
        // SAFETY: As in `test_key_callback`; the inode is new and not yet visible.
        unsafe { (*Self::container(inode)).key = *data.cast::<u64>() };
        0
    }
}

/// Attributes of an inode, for [`Inode::set_attrs`].
pub(crate) struct InodeAttrs {
    /// Inode number shown to user space.
    pub(crate) ino: u64,
    /// Full mode (type and permissions).
    pub(crate) mode: u16,
    /// Link count.
    pub(crate) nlink: u32,
    /// Owner.
    pub(crate) uid: Kuid,
    /// Group.
    pub(crate) gid: Kgid,
    /// 512-byte blocks.
    pub(crate) blocks: u64,
    /// `log2` of the preferred I/O size.
    pub(crate) blkbits: u8,
    /// Access time (seconds, nanoseconds).
    pub(crate) atime: (i64, u32),
    /// Modification time.
    pub(crate) mtime: (i64, u32),
    /// Change time.
    pub(crate) ctime: (i64, u32),
}

/// What kind of file a new inode is, which chooses its operations.
pub(crate) enum InodeKind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
    /// A device, FIFO or socket with its (new-style encoded) device number.
    Special(u32),
}

/// A new inode of `T`, locked (`I_NEW`) until [`NewInode::init`].
///
/// # Invariants
///
/// `0` is a new, locked inode of `T` with one reference that this instance owns.
pub(crate) struct NewInode<T: FileSystem>(NonNull<bindings::inode>, PhantomData<T>);

impl<T: FileSystem> NewInode<T> {
    /// The inode's state (already initialised at allocation).
    pub(crate) fn inode(&self) -> &Inode<T> {
        // SAFETY: The inode is live and its state initialised (allocated by `Inode::alloc`).
        unsafe { Inode::from_raw(self.0.as_ptr()) }
    }

    /// Sets the attributes, file size, generation and `S_*` inode flags, chooses the
    /// operations for `kind`, and unlocks the inode.
    pub(crate) fn init(
        self,
        kind: InodeKind,
        attrs: &InodeAttrs,
        size: i64,
        generation: u32,
        flags: u32,
        acl_dont_cache: bool,
    ) -> ARef<Inode<T>> {
        let this = ManuallyDrop::new(self);
        let inode = this.0.as_ptr();
        this.inode().set_attrs(attrs);
        // SAFETY: The inode is new and locked: nothing else sees it until unlocked.
        unsafe {
            (*inode).i_flags |= flags;
            (*inode).i_generation = generation;
            local::rust_fuse_i_size_write(inode, size);
            super::fs_file::set_operations::<T>(inode, &kind);
            if let InodeKind::Special(rdev) = kind {
                bindings::init_special_inode(inode, attrs.mode, decode_dev(rdev));
            }
            if acl_dont_cache {
                (*inode).i_acl = ACL_DONT_CACHE;
                (*inode).i_default_acl = ACL_DONT_CACHE;
            }
            bindings::unlock_new_inode(inode);
        }
        // SAFETY: We own the reference (type invariant), now of an initialised inode.
        unsafe { ARef::from_raw(this.0.cast()) }
    }
}

impl<T: FileSystem> Drop for NewInode<T> {
    fn drop(&mut self) {
        // SAFETY: An uninitialised new inode we own: `iget_failed()` discards it.
        unsafe { bindings::iget_failed(self.0.as_ptr()) };
    }
}

/// `ACL_DONT_CACHE`: the value of `i_acl` that keeps the VFS from caching ACLs.
const ACL_DONT_CACHE: *mut bindings::posix_acl = usize::MAX as *mut bindings::posix_acl;

/// Decodes a device number in the new 32-bit encoding (`new_decode_dev()`).
fn decode_dev(dev: u32) -> u32 {
    let major = (dev & 0xfff00) >> 8;
    let minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
    (major << 20) | minor
}
