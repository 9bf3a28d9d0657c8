// SPDX-License-Identifier: GPL-2.0

//! Directory entries (`struct dentry`) of a [`FileSystem`] and their operations.

use super::{fs_type::FileSystem, inode::Inode, wait::WaitQueue};
use crate::bindings as local;
use core::{marker::PhantomData, mem::MaybeUninit, ptr::NonNull};
use kernel::{
    bindings,
    error::{code::*, from_result},
    ffi::{c_int, c_uint},
    prelude::*,
    types::{ARef, AlwaysRefCounted, Opaque},
};

/// A dentry of a super block of `T`.
///
/// # Invariants
///
/// Instances are only handed out as references to live dentries of a super block of `T`.
#[repr(transparent)]
pub(crate) struct Dentry<T: FileSystem>(Opaque<bindings::dentry>, PhantomData<T>);

// SAFETY: Dentries are reference counted and used from any thread.
unsafe impl<T: FileSystem> Send for Dentry<T> {}
// SAFETY: See the `Send` impl; `d_fsdata` is written with single word stores, as in C.
unsafe impl<T: FileSystem> Sync for Dentry<T> {}

// SAFETY: `dget()`/`dput()` are the dentry's reference counting.
unsafe impl<T: FileSystem> AlwaysRefCounted for Dentry<T> {
    fn inc_ref(&self) {
        // SAFETY: The dentry is live (type invariant).
        unsafe { local::rust_fuse_dget(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives back one reference.
        unsafe { bindings::dput(obj.cast().as_ptr()) };
    }
}

impl<T: FileSystem> Dentry<T> {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must be a live dentry of a super block of `T`, alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::dentry) -> &'a Self {
        // SAFETY: Transparent wrapper; the caller guarantees validity.
        unsafe { &*ptr.cast::<Self>() }
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::dentry {
        self.0.get()
    }

    /// Calls `f` with the name, from a `take_dentry_name_snapshot()` so that a concurrent
    /// rename cannot tear it; the snapshot (a copy of a short name, or a reference to a long
    /// one) lasts until `f` returns, and nothing is allocated.
    pub(crate) fn with_name<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        let mut snap = MaybeUninit::<bindings::name_snapshot>::uninit();
        // SAFETY: The dentry is live; the snapshot is released below.
        unsafe { bindings::take_dentry_name_snapshot(snap.as_mut_ptr(), self.as_raw()) };
        // SAFETY: `take_dentry_name_snapshot()` initialised the snapshot, whose name stays
        // valid until it is released, after `f`.
        let bytes = unsafe {
            let q = &(*snap.as_ptr()).name;
            let len = q.__bindgen_anon_1.__bindgen_anon_1.len as usize;
            core::slice::from_raw_parts(q.name, len)
        };
        let res = f(bytes);
        // SAFETY: Taken above, released once; `bytes` is not used after this.
        unsafe { bindings::release_dentry_name_snapshot(snap.as_mut_ptr()) };
        res
    }

    /// The super block.
    pub(crate) fn super_block(&self) -> &super::super_block::SuperBlock<T> {
        // SAFETY: A dentry's super block outlives it and has its state while dentries exist.
        unsafe { super::super_block::SuperBlock::from_raw((*self.as_raw()).d_sb) }
    }

    /// Unhashes the dentry and its subtree (`d_invalidate()`).
    pub(crate) fn invalidate(&self) {
        // SAFETY: The dentry is live.
        unsafe { bindings::d_invalidate(self.as_raw()) };
    }

    /// Makes this negative dentry point at `inode` (`d_instantiate()`), which takes the
    /// reference.
    pub(crate) fn instantiate(&self, inode: ARef<Inode<T>>) {
        let i = ARef::into_raw(inode);
        // SAFETY: The dentry is live and negative (the caller holds its parent locked while
        // creating it); `d_instantiate()` consumes the inode reference.
        unsafe { bindings::d_instantiate(self.as_raw(), i.as_ptr().cast()) };
    }

    /// Whether the dentry is being looked up in parallel (`d_in_lookup()`).
    pub(crate) fn in_lookup(&self) -> bool {
        // SAFETY: The dentry is live.
        unsafe { local::rust_fuse_d_in_lookup(self.as_raw()) }
    }

    /// The security context an LSM wants a new file at this dentry to get
    /// (`security_dentry_init_security()`): the xattr name and the context, or `None` if no
    /// LSM sets one.
    pub(crate) fn init_security(&self, mode: u16) -> Result<Option<(KVec<u8>, KVec<u8>)>> {
        let mut name: *const u8 = core::ptr::null();
        let mut ctx: *mut core::ffi::c_void = core::ptr::null_mut();
        let mut len: u32 = 0;
        // SAFETY: The dentry is live; the out-pointers are valid locals.
        let ret = unsafe {
            local::rust_fuse_dentry_init_security(
                self.as_raw(),
                i32::from(mode),
                &mut name,
                &mut ctx,
                &mut len,
            )
        };
        let res = if ret == super::error::eopnotsupp().to_errno() || (ret == 0 && len == 0) {
            Ok(None)
        } else if ret != 0 {
            Err(Error::from_errno(ret))
        } else {
            (|| {
                // SAFETY: On success the LSM returned a NUL-terminated name and `len` bytes
                // of context.
                let (n, c) = unsafe {
                    (
                        kernel::str::CStr::from_char_ptr(name.cast()),
                        core::slice::from_raw_parts(ctx.cast::<u8>(), len as usize),
                    )
                };
                let mut nv = KVec::new();
                nv.extend_from_slice(n.as_bytes_with_nul(), GFP_KERNEL)?;
                let mut cv = KVec::new();
                cv.extend_from_slice(c, GFP_KERNEL)?;
                Ok(Some((nv, cv)))
            })()
        };
        // SAFETY: The context was allocated for us (or is NULL); `kfree()` accepts both.
        unsafe { bindings::kfree(ctx) };
        res
    }

    /// The cached child `name` of this directory entry, if any (`d_lookup()`).
    pub(crate) fn lookup_child(&self, name: &[u8]) -> Option<ARef<Dentry<T>>> {
        let len = u32::try_from(name.len()).ok()?;
        // SAFETY: The dentry is live; `name` is valid for `len` bytes during the call.
        let d = unsafe { local::rust_fuse_d_lookup_name(self.as_raw(), name.as_ptr(), len) };
        // SAFETY: A child of a dentry of `T` is a dentry of `T`; we own the reference.
        NonNull::new(d).map(|d| unsafe { ARef::from_raw(d.cast()) })
    }

    /// Whether something is mounted on the dentry (`d_mountpoint()`).
    pub(crate) fn is_mountpoint(&self) -> bool {
        // SAFETY: The dentry is live.
        unsafe { local::rust_fuse_d_mountpoint(self.as_raw()) }
    }

    /// Drops the unused cached children of a directory entry (`shrink_dcache_parent()`).
    pub(crate) fn shrink_children(&self) {
        // SAFETY: The dentry is live.
        unsafe { bindings::shrink_dcache_parent(self.as_raw()) };
    }

    /// Whether a directory entry has no cached positive children (`simple_empty()`).
    pub(crate) fn has_no_children(&self) -> bool {
        // SAFETY: The dentry is live.
        unsafe { bindings::simple_empty(self.as_raw()) != 0 }
    }

    /// Deletes a removed entry: nothing may be mounted on it any more (`dont_mount()`),
    /// and it becomes negative or is unhashed (`d_delete()`).
    pub(crate) fn delete(&self) {
        // SAFETY: The dentry is live; the caller holds its parent's lock.
        unsafe {
            local::rust_fuse_dont_mount(self.as_raw());
            bindings::d_delete(self.as_raw());
        }
    }

    /// Unhashes the dentry, so that the next lookup does not find it (`d_drop()`).
    pub(crate) fn drop_hash(&self) {
        // SAFETY: The dentry is live.
        unsafe { bindings::d_drop(self.as_raw()) };
    }

    /// The inode, or `None` for a negative dentry (`d_inode()`).
    pub(crate) fn inode(&self) -> Option<&Inode<T>> {
        // SAFETY: The dentry is live; a positive dentry holds a reference on its inode.
        let inode = unsafe { (*self.as_raw()).d_inode };
        // SAFETY: Inodes of dentries of `T` are inodes of `T`.
        (!inode.is_null()).then(|| unsafe { Inode::from_raw(inode) })
    }

    /// The parent (`dget_parent()`).
    pub(crate) fn parent(&self) -> ARef<Dentry<T>> {
        // SAFETY: The dentry is live; `dget_parent()` returns a referenced dentry (itself for
        // a root).
        let p = unsafe { bindings::dget_parent(self.as_raw()) };
        // SAFETY: `p` is non-NULL and carries one reference, which we own.
        unsafe { ARef::from_raw(NonNull::new_unchecked(p.cast())) }
    }

    /// The time-out stored with the dentry, in jiffies (`d_fsdata`, as C FUSE keeps it on
    /// 64-bit kernels).
    pub(crate) fn time(&self) -> u64 {
        // SAFETY: A word-sized field read once; racy, as in C.
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.as_raw()).d_fsdata)) as u64 }
    }

    /// Stores a time-out (see [`Dentry::time`]).
    pub(crate) fn set_time(&self, time: u64) {
        // SAFETY: A word-sized field written once; racy, as in C.
        unsafe {
            core::ptr::write_volatile(
                core::ptr::addr_of_mut!((*self.as_raw()).d_fsdata),
                time as _,
            )
        };
    }

    /// Attaches `inode` (or nothing, for a negative entry) to this new dentry, or returns the
    /// existing alias to use instead (`d_splice_alias()`).
    pub(crate) fn splice_alias(
        &self,
        inode: Option<ARef<Inode<T>>>,
    ) -> Result<Option<ARef<Dentry<T>>>> {
        let inode = inode.map_or(core::ptr::null_mut(), |i| ARef::into_raw(i).as_ptr().cast());
        // SAFETY: `d_splice_alias()` consumes the inode reference (also on error) and returns
        // NULL, an error pointer or a referenced dentry.
        let res = unsafe { bindings::d_splice_alias(inode, self.as_raw()) };
        let res = kernel::error::from_err_ptr(res)?;
        // SAFETY: A non-NULL result carries one reference, which we own.
        Ok(NonNull::new(res).map(|p| unsafe { ARef::from_raw(p.cast()) }))
    }
}

/// A child of a directory dentry, for an entry the file system already knows about
/// (READDIRPLUS): found in the dentry cache, or new and "in lookup" until filled.
pub(crate) enum Child<'w, T: FileSystem> {
    /// The cached dentry of the name.
    Cached(ARef<Dentry<T>>),
    /// A new dentry, in lookup: others looking the name up wait on the wait queue.
    InLookup(InLookup<'w, T>),
}

/// A new dentry in lookup (`d_alloc_parallel()`); dropping it ends the lookup
/// (`d_lookup_done()`) and drops the reference.
///
/// # Invariants
///
/// `d` is in lookup (`DCACHE_PAR_LOOKUP`), with the wait queue borrowed for `'w` as its
/// `d_wait`.
pub(crate) struct InLookup<'w, T: FileSystem> {
    d: Option<ARef<Dentry<T>>>,
    _wq: PhantomData<&'w WaitQueue>,
}

impl<T: FileSystem> InLookup<'_, T> {
    /// Attaches `inode` (`d_splice_alias()`), ends the lookup, and returns the dentry now
    /// holding the inode (an existing alias, or this one).
    pub(crate) fn splice(mut self, inode: ARef<Inode<T>>) -> Result<ARef<Dentry<T>>> {
        let Some(d) = self.d.take() else {
            return Err(EINVAL);
        };
        let res = d.splice_alias(Some(inode));
        // SAFETY: `d` is in lookup (type invariant); this ends it.
        unsafe { local::rust_fuse_d_lookup_done(d.as_raw()) };
        Ok(res?.unwrap_or(d))
    }
}

impl<T: FileSystem> Drop for InLookup<'_, T> {
    fn drop(&mut self) {
        if let Some(d) = &self.d {
            // SAFETY: `d` is in lookup (type invariant); this ends it.
            unsafe { local::rust_fuse_d_lookup_done(d.as_raw()) };
        }
    }
}

impl<T: FileSystem> Dentry<T> {
    /// Finds the child `name` in the dentry cache (`d_lookup()`), or allocates it in lookup
    /// (`d_alloc_parallel()`), with `wq` for those who look it up meanwhile.
    pub(crate) fn find_or_alloc_child<'w>(
        &self,
        name: &[u8],
        wq: &'w WaitQueue,
    ) -> Result<Child<'w, T>> {
        let len = u32::try_from(name.len()).map_err(|_| EINVAL)?;
        // SAFETY: `name` is valid for `len` bytes; the salt is this (parent) dentry, as the
        // dcache hashes children.
        let hash = unsafe {
            bindings::full_name_hash(self.as_raw().cast_const().cast(), name.as_ptr().cast(), len)
        };
        let q = bindings::qstr {
            __bindgen_anon_1: bindings::qstr__bindgen_ty_1 {
                hash_len: (u64::from(len) << 32) | u64::from(hash),
            },
            name: name.as_ptr(),
        };
        // SAFETY: `self` is a live directory dentry and `q` a valid name.
        let d = unsafe { bindings::d_lookup(self.as_raw(), &q) };
        if let Some(d) = NonNull::new(d) {
            // SAFETY: `d_lookup()` returned a referenced dentry, which we own.
            return Ok(Child::Cached(unsafe { ARef::from_raw(d.cast()) }));
        }
        // SAFETY: As above; `wq` outlives the returned `InLookup` (its lifetime `'w`), which
        // ends the lookup when dropped.
        let d = unsafe { bindings::d_alloc_parallel(self.as_raw(), &q, wq.as_raw()) };
        let d = kernel::error::from_err_ptr(d)?;
        // SAFETY: A referenced dentry (never NULL on success), which we own.
        let d: ARef<Dentry<T>> = unsafe { ARef::from_raw(NonNull::new_unchecked(d.cast())) };
        // SAFETY: `d` is live.
        if unsafe { local::rust_fuse_d_in_lookup(d.as_raw()) } {
            // INVARIANT: In lookup, with `wq` as its wait queue.
            Ok(Child::InLookup(InLookup {
                d: Some(d),
                _wq: PhantomData,
            }))
        } else {
            Ok(Child::Cached(d))
        }
    }
}

/// The dentry operations of `T` (a `const fn` so that the table is a promoted constant).
pub(crate) const fn dentry_operations<T: FileSystem>() -> bindings::dentry_operations {
    // SAFETY: All-zero is a valid table: every callback NULL.
    let mut ops: bindings::dentry_operations = unsafe { MaybeUninit::zeroed().assume_init() };
    if T::HAS_REVALIDATE {
        ops.d_revalidate = Some(revalidate_callback::<T>);
    }
    ops
}

/// `dentry_operations.d_revalidate` of `T`.
///
/// # Safety
///
/// Called by the VFS with a live dentry of a super block of `T`.
unsafe extern "C" fn revalidate_callback<T: FileSystem>(
    dentry: *mut bindings::dentry,
    flags: c_uint,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes a live dentry of `T` (in RCU walk, under `rcu_read_lock()`).
        let d = unsafe { Dentry::<T>::from_raw(dentry) };
        Ok(c_int::from(T::revalidate(d, flags)?))
    })
}

/// `LOOKUP_RCU`: the revalidation runs in an RCU walk and must not sleep.
pub(crate) const LOOKUP_RCU: u32 = local::LOOKUP_RCU;

/// Lookup flags that make a revalidation look the name up again whatever its time-out
/// (`LOOKUP_EXCL | LOOKUP_REVAL | LOOKUP_RENAME_TARGET`).
pub(crate) const LOOKUP_FORCE_REVALIDATE: u32 =
    local::LOOKUP_EXCL | local::LOOKUP_REVAL | local::LOOKUP_RENAME_TARGET;

/// The error that asks the VFS to retry a walk step outside RCU mode.
pub(crate) fn echild() -> Error {
    ECHILD
}
