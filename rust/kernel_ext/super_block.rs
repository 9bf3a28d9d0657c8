// SPDX-License-Identifier: GPL-2.0

//! Super blocks (`struct super_block`) of a [`FileSystem`] and their operations.
//!
//! A super block is filled in three steps (see [`FileSystem::fill_super`]): while it is a
//! [`NewSuperBlock`] the file system sets its parameters and creates its state, which is then
//! stored in `s_fs_info`; from then on it is a [`SuperBlock`], whose state is always there.

use super::{
    dentry::Dentry,
    fs_context::{FsContext, ParamString},
    fs_type::{FileSystem, FsType},
    inode::{Inode, InodeCache, NewInode},
    kstat::Kstatfs,
    seq_file::SeqFile,
};
use crate::bindings as local;
use core::{marker::PhantomData, mem::MaybeUninit, ptr};
use kernel::{
    bindings,
    error::{code::*, from_result, to_result},
    ffi::{c_int, c_void},
    prelude::*,
    sync::{Arc, Mutex},
    types::{ARef, Either, ForeignOwnable, Opaque},
};

/// A super block of `T` whose state has been created.
///
/// # Invariants
///
/// Instances are only handed out as references to live super blocks of `T` whose `s_fs_info`
/// holds a `T::Data` from `into_foreign()`.
#[repr(transparent)]
pub(crate) struct SuperBlock<T: FileSystem>(Opaque<bindings::super_block>, PhantomData<T>);

// SAFETY: Super blocks are used from any thread; the fields written through `&self` here are
// the ones the C code also writes without a common lock (limits set once at INIT).
unsafe impl<T: FileSystem> Sync for SuperBlock<T> {}
// SAFETY: See the `Sync` impl.
unsafe impl<T: FileSystem> Send for SuperBlock<T> {}

impl<T: FileSystem<Data = Arc<D>>, D: Send + Sync + 'static> SuperBlock<T> {
    /// The file system's data, borrowed for as long as the super block (no reference count
    /// taken).
    pub(crate) fn data_ref(&self) -> &D {
        let b = self.data();
        // SAFETY: An `ArcBorrow<'a, D>` guarantees that the object stays alive for `'a`, here
        // the borrow of `self`; the reference does not outlive it.
        unsafe { &*core::ptr::from_ref::<D>(&b) }
    }
}

impl<T: FileSystem> SuperBlock<T> {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must be a live super block of `T` with its state set, alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::super_block) -> &'a Self {
        // SAFETY: Transparent wrapper; the caller guarantees validity.
        unsafe { &*ptr.cast::<Self>() }
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::super_block {
        self.0.get()
    }

    /// The super block's state.
    pub(crate) fn data(&self) -> <T::Data as ForeignOwnable>::Borrowed<'_> {
        // SAFETY: By the type invariant `s_fs_info` holds a `T::Data`, dropped only by
        // `kill_sb` after the last use of the super block.
        unsafe { T::Data::borrow((*self.as_raw()).s_fs_info) }
    }

    /// The device number (`s_dev`), as in `stat(2)`'s `st_dev`.
    pub(crate) fn dev(&self) -> u32 {
        // SAFETY: `s_dev` is set when the super block is created and never changes.
        unsafe { (*self.as_raw()).s_dev }
    }

    /// Whether the super block is active (`SB_ACTIVE`): not yet being unmounted.
    pub(crate) fn is_active(&self) -> bool {
        // SAFETY: `s_flags` is a word read once; `SB_ACTIVE` changes only at unmount.
        let flags = unsafe { ptr::read_volatile(ptr::addr_of!((*self.as_raw()).s_flags)) };
        flags & local::SB_ACTIVE as kernel::ffi::c_ulong != 0
    }

    /// `log2` of the block size.
    pub(crate) fn blocksize_bits(&self) -> u8 {
        // SAFETY: Set at fill time, then constant.
        unsafe { (*self.as_raw()).s_blocksize_bits }
    }

    /// Sets the time granularity in nanoseconds (`s_time_gran`).
    pub(crate) fn set_time_gran(&self, gran: u32) {
        // SAFETY: A plain field that the VFS only reads; the C module also sets it after
        // mounting (at INIT).
        unsafe { (*self.as_raw()).s_time_gran = gran };
    }

    /// Lowers the readahead window of the backing device info to `pages` if it is larger.
    pub(crate) fn limit_ra_pages(&self, pages: u64) {
        // SAFETY: `s_bdi` is set at fill time (`setup_bdi`) and lives as long as the super
        // block; `ra_pages` is a plain field, as in C.
        unsafe {
            let bdi = (*self.as_raw()).s_bdi;
            (*bdi).ra_pages = (*bdi).ra_pages.min(pages as _);
        }
    }

    /// The readahead window in pages.
    pub(crate) fn ra_pages(&self) -> u64 {
        // SAFETY: See `limit_ra_pages`.
        unsafe { (*(*self.as_raw()).s_bdi).ra_pages as u64 }
    }

    /// Finds the cached inode with `key`, if any (`ilookup5()`, which waits for a new inode
    /// to be initialised).
    pub(crate) fn find_inode(&self, key: u64, hash: u64) -> Option<ARef<Inode<T>>> {
        let mut k = key;
        // SAFETY: As in `get_or_create_inode`; only the test callback is used.
        let inode = unsafe {
            bindings::ilookup5(
                self.as_raw(),
                hash as _,
                Some(Inode::<T>::test_key_callback),
                ptr::from_mut(&mut k).cast(),
            )
        };
        let inode = ptr::NonNull::new(inode)?;
        // SAFETY: `ilookup5()` returned a referenced, initialised inode of this super block.
        Some(unsafe { ARef::from_raw(inode.cast()) })
    }

    /// Finds the inode with `key` or creates a new one (`iget5_locked()`).
    ///
    /// A new inode comes back locked, as a [`NewInode`] to initialise; `hash` is the hash
    /// bucket (usually derived from `key`).
    pub(crate) fn get_or_create_inode(
        &self,
        key: u64,
        hash: u64,
    ) -> Result<Either<ARef<Inode<T>>, NewInode<T>>> {
        let mut k = key;
        // SAFETY: The super block is live; the callbacks only read and write the key of
        // inodes of this super block (all allocated by `alloc_inode_callback::<T>`), and `k`
        // outlives the call.
        let inode = unsafe {
            bindings::iget5_locked(
                self.as_raw(),
                hash as _,
                Some(Inode::<T>::test_key_callback),
                Some(Inode::<T>::set_key_callback),
                ptr::from_mut(&mut k).cast(),
            )
        };
        let inode = ptr::NonNull::new(inode).ok_or(ENOMEM)?;
        // SAFETY: `iget5_locked()` returned a referenced inode of this super block.
        Ok(unsafe { Inode::<T>::from_iget(inode) })
    }

    /// Counts `pages` pages as under write-back on the backing device info, where the file
    /// system accounts write-back itself ([`BdiParams::fs_accounts_writeback`]): dirty
    /// throttling counts them until [`Self::writeback_done`].
    pub(crate) fn writeback_started(&self, pages: usize) {
        // CAST: A count of pages in one request, far below `i64::MAX`.
        // SAFETY: `s_bdi` is set at fill time and lives as long as the super block, which
        // `&self` keeps alive; the counter is per-CPU and takes any context.
        unsafe { local::rust_fuse_bdi_writeback_mod((*self.as_raw()).s_bdi, pages as i64) };
    }

    /// Counts `pages` pages of [`Self::writeback_started`] as written: they leave write-back
    /// and count as completed writeout, from which the dirty throttling learns how fast the
    /// device writes and how much of the dirty memory it may have.
    pub(crate) fn writeback_done(&self, pages: usize) {
        // CAST: See `writeback_started`.
        // SAFETY: See `writeback_started`; `wb_writeout_inc()` disables interrupts itself.
        unsafe {
            let bdi = (*self.as_raw()).s_bdi;
            local::rust_fuse_bdi_writeback_mod(bdi, -(pages as i64));
            for _ in 0..pages {
                local::rust_fuse_bdi_writeout_inc(bdi);
            }
        }
    }
}

/// A super block of `T` being filled: parameters may be set, the state is not there yet.
///
/// # Invariants
///
/// The super block is new, locked and live for the instance's lifetime.
#[repr(transparent)]
pub(crate) struct NewSuperBlock<T: FileSystem>(Opaque<bindings::super_block>, PhantomData<T>);

impl<T: FileSystem> NewSuperBlock<T> {
    fn as_raw(&self) -> *mut bindings::super_block {
        self.0.get()
    }

    /// The flags the mount asked for (`SB_*`).
    pub(crate) fn flags(&self) -> u64 {
        // SAFETY: The super block is ours while new (type invariant).
        unsafe { (*self.as_raw()).s_flags as u64 }
    }

    /// The user namespace the super block belongs to.
    pub(crate) fn is_init_user_ns(&self) -> bool {
        // SAFETY: `s_user_ns` is set at creation; `init_user_ns` is a static.
        unsafe {
            ptr::eq(
                (*self.as_raw()).s_user_ns,
                ptr::addr_of!(bindings::init_user_ns),
            )
        }
    }

    /// The device number (`s_dev`).
    pub(crate) fn dev(&self) -> u32 {
        // SAFETY: Set when the super block was created.
        unsafe { (*self.as_raw()).s_dev }
    }

    /// Sets the basic parameters: magic number, maximum file size, block size (a power of
    /// two), time granularity, and the `SB_*` and `SB_I_*` flags to add and remove.
    pub(crate) fn set_params(&self, params: &SuperParams) {
        let sb = self.as_raw();
        // SAFETY: The super block is new and ours (type invariant).
        unsafe {
            (*sb).s_magic = params.magic as _;
            (*sb).s_maxbytes = params.maxbytes;
            (*sb).s_blocksize_bits = params.blocksize_bits;
            (*sb).s_blocksize = 1 << params.blocksize_bits;
            (*sb).s_time_gran = params.time_gran;
            (*sb).s_flags = ((*sb).s_flags | params.set_flags as kernel::ffi::c_ulong)
                & !(params.clear_flags as kernel::ffi::c_ulong);
            (*sb).s_iflags |= params.set_iflags as kernel::ffi::c_ulong;
        }
    }

    /// Sets the subtype shown in `/proc/mounts` as `TYPE.SUBTYPE`; the super block frees it.
    pub(crate) fn set_subtype(&self, subtype: Option<ParamString>) {
        if let Some(subtype) = subtype {
            // SAFETY: The super block is new and ours; `s_subtype` is freed with `kfree()` by
            // the VFS, and `ParamString` is `kmalloc()`ed.
            unsafe { (*self.as_raw()).s_subtype = subtype.into_raw() };
        }
    }

    /// Sets up a private backing device info named `MAJOR:MINOR` (`super_setup_bdi_name()`)
    /// with the dirty-limit choices in `params`.
    pub(crate) fn setup_bdi(&self, params: &BdiParams) -> Result {
        let dev = self.dev();
        let (major, minor) = (dev >> 20, dev & ((1 << 20) - 1));
        // SAFETY: The super block is new and ours; the format takes two `unsigned int`s and a
        // string, which are passed.
        to_result(unsafe {
            bindings::super_setup_bdi_name(
                self.as_raw(),
                c"%u:%u%s".as_ptr().cast_mut().cast(),
                major,
                minor,
                c"".as_ptr().cast::<u8>(),
            )
        })?;
        // SAFETY: `super_setup_bdi_name()` set `s_bdi` to a new bdi owned by the super block,
        // which nobody writes to yet.
        unsafe {
            let bdi = (*self.as_raw()).s_bdi;
            if params.fs_accounts_writeback {
                (*bdi).capabilities &= !local::BDI_CAP_WRITEBACK_ACCT;
            }
            if params.strict_limit {
                (*bdi).capabilities |= local::BDI_CAP_STRICTLIMIT;
            }
            to_result(local::bdi_set_max_ratio(bdi, params.max_ratio))?;
        }
        Ok(())
    }
}

/// How [`SuperBlock::setup_bdi`] sets a new backing device info up.
pub(crate) struct BdiParams {
    /// Whether the file system counts the pages under write-back itself, through
    /// [`SuperBlock::writeback_started`] and [`SuperBlock::writeback_done`], rather than the
    /// page cache (`BDI_CAP_WRITEBACK_ACCT` cleared): for one that ends a folio's write-back
    /// before the data is written, having copied it.
    pub(crate) fs_accounts_writeback: bool,
    /// Whether the device's own dirty limit applies even below the global background
    /// threshold (`BDI_CAP_STRICTLIMIT`).
    pub(crate) strict_limit: bool,
    /// The largest share of the dirty memory the device may have, in percent
    /// (`bdi_set_max_ratio()`).
    pub(crate) max_ratio: u32,
}

/// Basic parameters of a new super block, for [`NewSuperBlock::set_params`].
pub(crate) struct SuperParams {
    /// `s_magic`.
    pub(crate) magic: u32,
    /// `s_maxbytes`.
    pub(crate) maxbytes: i64,
    /// `log2(s_blocksize)`.
    pub(crate) blocksize_bits: u8,
    /// `s_time_gran`, in nanoseconds.
    pub(crate) time_gran: u32,
    /// `SB_*` flags to set.
    pub(crate) set_flags: u32,
    /// `SB_*` flags to clear.
    pub(crate) clear_flags: u32,
    /// `SB_I_*` flags to set.
    pub(crate) set_iflags: u32,
}

/// Fills a new super block of `T` (the steps of [`FileSystem::fill_super`]).
///
/// # Safety
///
/// `sb` must be a new, locked super block of `T` created for the context `fc`.
pub(crate) unsafe fn fill_super<T: FileSystem>(
    sb: *mut bindings::super_block,
    fc: &FsContext,
    ctx: &mut T::Context,
) -> Result {
    // SAFETY: The caller passes a new, locked super block of `T`.
    let new = unsafe { &*sb.cast::<NewSuperBlock<T>>() };
    // SAFETY: The super block is new; these tables are `'static` constants of `T`.
    unsafe { (*sb).s_op = &Tables::<T>::SUPER_OPS };
    if T::HAS_GETXATTR || T::HAS_SETXATTR {
        // SAFETY: The super block is new; the handler list is a `'static` constant of `T`.
        unsafe { (*sb).s_xattr = super::xattr::handlers::<T>() };
    }
    let data = T::fill_super(fc, ctx, new)?;
    // SAFETY: The super block is new and ours; from here on `s_fs_info` holds `T::Data`,
    // which `kill_sb_callback::<T>` takes back (it runs even if the rest fails).
    unsafe { (*sb).s_fs_info = data.into_foreign() as *mut c_void };
    // SAFETY: `s_fs_info` now holds a `T::Data` and the super block is live.
    let sb_ref = unsafe { SuperBlock::<T>::from_raw(sb) };
    let root = T::root_inode(ctx, sb_ref)?;
    // The root dentry gets no dentry operations (no revalidation), as in C; all others do.
    // SAFETY: `d_make_root()` consumes the inode reference, which `into_raw` gives up.
    let root = unsafe { bindings::d_make_root(ARef::into_raw(root).as_ptr().cast()) };
    if root.is_null() {
        return Err(ENOMEM);
    }
    // SAFETY: The super block is new; the table is a `'static` constant of `T`.
    unsafe { (*sb).s_d_op = &Tables::<T>::DENTRY_OPS };
    if let Err(e) = T::activate(ctx, sb_ref) {
        // SAFETY: We own the root dentry's reference, not yet published.
        unsafe { bindings::dput(root) };
        return Err(e);
    }
    // SAFETY: Publishes the root; the VFS drops it when the super block dies.
    unsafe { (*sb).s_root = root };
    Ok(())
}

/// The C operation tables of `T`, in promoted `'static` constants.
pub(crate) struct Tables<T>(PhantomData<T>);

impl<T: FileSystem> Tables<T> {
    const SUPER_OPS: bindings::super_operations = {
        // SAFETY: All-zero is a valid table: every callback NULL.
        let mut ops: bindings::super_operations = unsafe { MaybeUninit::zeroed().assume_init() };
        ops.alloc_inode = Some(alloc_inode_callback::<T>);
        ops.destroy_inode = Some(destroy_inode_callback::<T>);
        ops.free_inode = Some(free_inode_callback::<T>);
        ops.evict_inode = Some(evict_inode_callback::<T>);
        ops.drop_inode = Some(bindings::generic_delete_inode);
        if T::HAS_STATFS {
            ops.statfs = Some(statfs_callback::<T>);
        }
        ops.show_options = Some(show_options_callback::<T>);
        if T::HAS_UMOUNT_BEGIN {
            ops.umount_begin = Some(umount_begin_callback::<T>);
        }
        if T::HAS_WRITE_INODE {
            ops.write_inode = Some(super::writeback::write_inode_callback::<T>);
        }
        ops
    };

    pub(crate) const DENTRY_OPS: bindings::dentry_operations =
        super::dentry::dentry_operations::<T>();
}

/// `file_system_type.kill_sb` of `T`.
///
/// # Safety
///
/// Called by the VFS once, with a super block of `T` that is going away.
pub(crate) unsafe extern "C" fn kill_sb_callback<T: FileSystem>(sb: *mut bindings::super_block) {
    // SAFETY: The super block is live during the call.
    let data = unsafe { (*sb).s_fs_info };
    if !data.is_null() {
        // SAFETY: `s_fs_info` is only set to a `T::Data` (by `fill_super`).
        T::kill_sb(unsafe { SuperBlock::<T>::from_raw(sb) });
    }
    // SAFETY: A super block of `get_tree_nodev()`, as `kill_anon_super()` needs; every inode
    // is evicted here, while the state is still in place.
    unsafe { bindings::kill_anon_super(sb) };
    if !data.is_null() {
        // SAFETY: `data` came from `into_foreign()` and nothing uses it any more.
        drop(unsafe { T::Data::from_foreign(data) });
    }
}

/// The inode cache of the type of super block `sb`.
///
/// # Safety
///
/// `sb` must be a live super block of `T`.
unsafe fn cache<T: FileSystem>(sb: *mut bindings::super_block) -> &'static InodeCache {
    // SAFETY: The super block's type is `T`'s `FsType`.
    unsafe { FsType::<T>::cache_of((*sb).s_type) }
}

/// The C callback `alloc_inode` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn alloc_inode_callback<T: FileSystem>(
    sb: *mut bindings::super_block,
) -> *mut bindings::inode {
    // SAFETY: The VFS passes a live super block of `T`.
    let cache = unsafe { cache::<T>(sb) };
    // SAFETY: As above; the cache is `T`'s inode cache.
    unsafe { Inode::<T>::alloc(sb, cache) }
}

/// The C callback `destroy_inode` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn destroy_inode_callback<T: FileSystem>(inode: *mut bindings::inode) {
    // SAFETY: The VFS passes an inode of `T` that is being destroyed; nothing uses its state.
    unsafe { Inode::<T>::drop_data(inode) };
}

/// The C callback `free_inode` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn free_inode_callback<T: FileSystem>(inode: *mut bindings::inode) {
    // SAFETY: The VFS passes a live inode of `T` after an RCU grace period.
    let cache = unsafe { cache::<T>((*inode).i_sb) };
    // SAFETY: The inode was allocated from this cache and is no longer used.
    unsafe { Inode::<T>::free(inode, cache) };
}

/// The C callback `evict_inode` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn evict_inode_callback<T: FileSystem>(inode: *mut bindings::inode) {
    // SAFETY: The VFS passes an inode being evicted; its pages go first, as C FUSE does.
    unsafe {
        bindings::truncate_inode_pages_final(ptr::addr_of_mut!((*inode).i_data));
        bindings::clear_inode(inode);
    }
    // SAFETY: The inode is still allocated, with its state, until `destroy_inode`.
    T::evict_inode(unsafe { Inode::<T>::from_raw(inode) });
}

/// The C callback `statfs` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn statfs_callback<T: FileSystem>(
    dentry: *mut bindings::dentry,
    buf: *mut bindings::kstatfs,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes a live dentry of a super block of `T` and a buffer for the
        // result.
        let (d, buf) = unsafe { (Dentry::<T>::from_raw(dentry), Kstatfs::from_raw(buf.cast())) };
        T::statfs(d, buf)?;
        Ok(0)
    })
}

/// The C callback `show_options` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn show_options_callback<T: FileSystem>(
    seq: *mut bindings::seq_file,
    root: *mut bindings::dentry,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes a live seq_file and the root of a mounted super block.
        let (sb, seq) = unsafe {
            (
                SuperBlock::<T>::from_raw((*root).d_sb),
                SeqFile::from_raw(seq),
            )
        };
        T::show_options(sb, seq)?;
        Ok(0)
    })
}

/// The C callback `umount_begin` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn umount_begin_callback<T: FileSystem>(sb: *mut bindings::super_block) {
    // SAFETY: The VFS passes a live, mounted super block of `T`.
    T::umount_begin(unsafe { SuperBlock::<T>::from_raw(sb) });
}

/// A slot that may hold a super block for code that runs outside its callbacks (a request's
/// end step), until the super block is going away.
#[pin_data]
pub(crate) struct SbSlot<T: FileSystem> {
    #[pin]
    sb: Mutex<Option<SbPtr>>,
    _t: PhantomData<T>,
}

/// A super block pointer kept in an [`SbSlot`].
struct SbPtr(ptr::NonNull<bindings::super_block>);

// SAFETY: Only used under the slot's lock while the super block is alive (`SbSlot::set`).
unsafe impl Send for SbPtr {}

impl<T: FileSystem> SbSlot<T> {
    /// An empty slot.
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(SbSlot {
                sb <- kernel::new_mutex!(None),
                _t: PhantomData,
            }),
            GFP_KERNEL,
        )
    }

    /// Puts `sb` in the slot.
    ///
    /// # Safety
    ///
    /// The caller must call [`SbSlot::clear`] before the super block is freed (in
    /// [`FileSystem::kill_sb`]).
    pub(crate) unsafe fn set(&self, sb: &SuperBlock<T>) {
        *self.sb.lock() = ptr::NonNull::new(sb.as_raw()).map(SbPtr);
    }

    /// Empties the slot; after this returns, no [`SbSlot::with`] uses the super block.
    pub(crate) fn clear(&self) {
        *self.sb.lock() = None;
    }

    /// Runs `f` on the super block if it is still in the slot, or returns `None`; `f` may
    /// sleep, and keeps the super block from going away (as C FUSE's `killsb` lock).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&SuperBlock<T>) -> R) -> Option<R> {
        let guard = self.sb.lock();
        guard.as_ref().map(|p| {
            // SAFETY: The super block stays alive while it is in the slot (`set`'s contract)
            // and the lock keeps `clear` from finishing meanwhile; it has its state.
            f(unsafe { SuperBlock::from_raw(p.0.as_ptr()) })
        })
    }
}
