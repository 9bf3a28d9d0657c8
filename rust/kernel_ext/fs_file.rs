// SPDX-License-Identifier: GPL-2.0

//! The inode and file operation tables of a [`FileSystem`]'s directories, regular files,
//! symbolic links and special files, and their C callbacks.
//!
//! [`set_operations`] picks the tables for a new inode by its kind, as the C FUSE's
//! `fuse_init_dir()`, `fuse_init_file_inode()`, `fuse_init_symlink()` and
//! `fuse_init_common()` do.

use super::{
    address_space,
    dentry::Dentry,
    file::{DirEmitter, File, Kiocb},
    fs_type::FileSystem,
    inode::{Inode, InodeKind},
    iov_iter::IovIter,
    kstat::Kstat,
};
use core::{marker::PhantomData, mem::MaybeUninit, ptr};
use kernel::{
    bindings,
    error::{code::*, from_result},
    ffi::{c_char, c_int, c_uint, c_void},
    prelude::*,
    types::{ARef, ForeignOwnable},
};

/// The tables of `T`, as promoted constants.
struct Ops<T>(PhantomData<T>);

impl<T: FileSystem> Ops<T> {
    const DIR_IOPS: bindings::inode_operations = {
        let mut ops = Self::common_iops();
        ops.lookup = Some(lookup_callback::<T>);
        super::namei_ops::dir_ops::<T>(&mut ops);
        ops
    };

    const COMMON_IOPS: bindings::inode_operations = Self::common_iops();

    const SYMLINK_IOPS: bindings::inode_operations = {
        // SAFETY: All-zero is a valid table.
        let mut ops: bindings::inode_operations = unsafe { MaybeUninit::zeroed().assume_init() };
        ops.get_link = Some(get_link_callback::<T>);
        ops.getattr = Some(getattr_callback::<T>);
        super::namei_ops::common_ops::<T>(&mut ops);
        ops
    };

    const DIR_FOPS: bindings::file_operations = {
        let mut ops = Self::common_fops();
        ops.llseek = Some(bindings::generic_file_llseek);
        ops.read = Some(bindings::generic_read_dir);
        ops.iterate_shared = Some(iterate_shared_callback::<T>);
        super::file_write_ops::common_ops::<T>(&mut ops);
        ops
    };

    const FILE_FOPS: bindings::file_operations = {
        let mut ops = Self::common_fops();
        ops.llseek = Some(llseek_callback::<T>);
        ops.read_iter = Some(read_iter_callback::<T>);
        ops.mmap = if T::HAS_MMAP {
            Some(super::writeback::mmap_callback::<T>)
        } else {
            Some(bindings::generic_file_readonly_mmap)
        };
        ops.splice_read = Some(bindings::filemap_splice_read);
        ops.flush = Some(flush_callback::<T>);
        super::file_write_ops::file_ops::<T>(&mut ops);
        ops
    };

    const AOPS: bindings::address_space_operations = address_space::operations::<T>();

    const fn common_iops() -> bindings::inode_operations {
        // SAFETY: All-zero is a valid table.
        let mut ops: bindings::inode_operations = unsafe { MaybeUninit::zeroed().assume_init() };
        ops.getattr = Some(getattr_callback::<T>);
        if T::HAS_PERMISSION {
            ops.permission = Some(permission_callback::<T>);
        }
        super::namei_ops::common_ops::<T>(&mut ops);
        ops
    }

    const fn common_fops() -> bindings::file_operations {
        // SAFETY: All-zero is a valid table.
        let mut ops: bindings::file_operations = unsafe { MaybeUninit::zeroed().assume_init() };
        ops.open = Some(open_callback::<T>);
        ops.release = Some(release_callback::<T>);
        ops
    }
}

/// Sets the inode, file and address space operations of a new inode of `kind`.
///
/// # Safety
///
/// `inode` must be a new, locked inode of `T`.
pub(crate) unsafe fn set_operations<T: FileSystem>(inode: *mut bindings::inode, kind: &InodeKind) {
    // SAFETY: The inode is new and ours (caller's guarantee); the tables are constants.
    unsafe {
        match kind {
            InodeKind::Dir => {
                (*inode).i_op = &Ops::<T>::DIR_IOPS;
                (*inode).__bindgen_anon_3.i_fop = &Ops::<T>::DIR_FOPS;
            }
            InodeKind::File => {
                (*inode).i_op = &Ops::<T>::COMMON_IOPS;
                (*inode).__bindgen_anon_3.i_fop = &Ops::<T>::FILE_FOPS;
                (*inode).i_data.a_ops = &Ops::<T>::AOPS;
            }
            InodeKind::Symlink => {
                (*inode).i_op = &Ops::<T>::SYMLINK_IOPS;
                (*inode).i_data.a_ops = &Ops::<T>::AOPS;
            }
            // `init_special_inode()` sets the file operations of special files.
            InodeKind::Special(_) => (*inode).i_op = &Ops::<T>::COMMON_IOPS,
        }
    }
}

/// The C callback `lookup` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn lookup_callback<T: FileSystem>(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    flags: c_uint,
) -> *mut bindings::dentry {
    // SAFETY: The VFS passes a live directory of `T` (locked) and a new dentry in it.
    let (dir, d) = unsafe { (Inode::<T>::from_raw(dir), Dentry::<T>::from_raw(dentry)) };
    match T::lookup(dir, d, flags) {
        Ok(Some(alias)) => ARef::into_raw(alias).as_ptr().cast(),
        Ok(None) => ptr::null_mut(),
        Err(e) => e.to_ptr(),
    }
}

/// The C callback `getattr` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn getattr_callback<T: FileSystem>(
    _idmap: *mut bindings::mnt_idmap,
    path: *const bindings::path,
    stat: *mut bindings::kstat,
    request_mask: u32,
    flags: c_uint,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes a live path of `T` and a stat buffer for this call.
        let (inode, stat) = unsafe {
            let inode = (*(*path).dentry).d_inode;
            (Inode::<T>::from_raw(inode), Kstat::from_raw(stat))
        };
        T::getattr(inode, stat, request_mask, flags)?;
        Ok(0)
    })
}

/// The C callback `permission` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn permission_callback<T: FileSystem>(
    _idmap: *mut bindings::mnt_idmap,
    inode: *mut bindings::inode,
    mask: c_int,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes a live inode of `T`.
        T::permission(unsafe { Inode::<T>::from_raw(inode) }, mask)?;
        Ok(0)
    })
}

/// The C callback `get_link` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn get_link_callback<T: FileSystem>(
    dentry: *mut bindings::dentry,
    inode: *mut bindings::inode,
    done: *mut bindings::delayed_call,
) -> *const c_char {
    // SAFETY: The VFS passes a live inode of `T` and, outside RCU walks, its dentry.
    let (d, inode) = unsafe {
        (
            (!dentry.is_null()).then(|| Dentry::<T>::from_raw(dentry)),
            Inode::<T>::from_raw(inode),
        )
    };
    match T::get_link(d, inode) {
        Ok(mut target) => {
            // NUL-terminate, then hand the buffer to the VFS, which frees it with
            // `kfree_link()` once the walk is done.
            if target.push(0, GFP_KERNEL).is_err() {
                return ENOMEM.to_ptr();
            }
            let (buf, _len, _cap) = target.into_raw_parts();
            // SAFETY: `done` is the walk's delayed call; `kfree_link()` frees a `kmalloc()`ed
            // buffer, which a `KVec`'s is.
            unsafe {
                (*done).fn_ = Some(bindings::kfree_link);
                (*done).arg = buf.cast::<c_void>();
            }
            buf.cast_const().cast()
        }
        Err(e) => e.to_ptr(),
    }
}

/// The C callback `open` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn open_callback<T: FileSystem>(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes a live inode of `T` and the file being opened on it.
        let (inode, f) = unsafe { (Inode::<T>::from_raw(inode), File::from_raw(file)) };
        let data = T::open(inode, f)?;
        // SAFETY: The file is not yet published; `release_callback` takes the data back.
        unsafe { (*file).private_data = data.into_foreign() as *mut c_void };
        Ok(0)
    })
}

/// The C callback `release` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn release_callback<T: FileSystem>(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `open` succeeded, so `private_data` holds a `T::FileData`; this is its last use.
    let data = unsafe { T::FileData::from_foreign((*file).private_data) };
    // SAFETY: The VFS passes the live inode and file.
    let (inode, f) = unsafe { (Inode::<T>::from_raw(inode), File::from_raw(file)) };
    T::release(inode, data, f);
    0
}

/// Borrows the state of an open file of `T`.
///
/// # Safety
///
/// `file` must be an open file of `T` (between `open` and `release`).
pub(crate) unsafe fn file_data<'a, T: FileSystem>(
    file: *mut bindings::file,
) -> <T::FileData as ForeignOwnable>::Borrowed<'a> {
    // SAFETY: `private_data` holds a `T::FileData` from `open_callback`.
    unsafe { T::FileData::borrow((*file).private_data) }
}

/// The C callback `flush` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn flush_callback<T: FileSystem>(
    file: *mut bindings::file,
    id: bindings::fl_owner_t,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes an open file of `T`.
        let (data, f) = unsafe { (file_data::<T>(file), File::from_raw(file)) };
        T::flush(data, f, id as usize)?;
        Ok(0)
    })
}

/// The C callback `read_iter` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn read_iter_callback<T: FileSystem>(
    iocb: *mut bindings::kiocb,
    to: *mut bindings::iov_iter,
) -> isize {
    from_result(|| {
        // SAFETY: The VFS passes a live kiocb of an open file of `T` and an iterator, both
        // ours for the call.
        let (data, iocb, to) = unsafe {
            (
                file_data::<T>((*iocb).ki_filp),
                Kiocb::from_raw(iocb),
                IovIter::from_raw(to),
            )
        };
        let n = T::read_iter(data, iocb, to)?;
        isize::try_from(n).map_err(|_| super::error::eoverflow())
    })
}

/// The C callback `llseek` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn llseek_callback<T: FileSystem>(
    file: *mut bindings::file,
    offset: bindings::loff_t,
    whence: c_int,
) -> bindings::loff_t {
    // SAFETY: The VFS passes an open file of `T`.
    match T::llseek(unsafe { File::from_raw(file) }, offset, whence) {
        Ok(pos) => pos,
        Err(e) => e.to_errno().into(),
    }
}

/// The C callback `iterate_shared` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
unsafe extern "C" fn iterate_shared_callback<T: FileSystem>(
    file: *mut bindings::file,
    ctx: *mut bindings::dir_context,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes an open directory of `T` and its iteration context.
        let (data, f, ctx) = unsafe {
            (
                file_data::<T>(file),
                File::from_raw(file),
                DirEmitter::from_raw(ctx),
            )
        };
        T::readdir(data, f, ctx)?;
        Ok(0)
    })
}

/// Borrows the state of `file` if it is an open regular file of `inode` (such as the file
/// of an `ftruncate()`): it must be open on `inode` through the inode's own file operations,
/// which for an inode of `T` are `T`'s.
pub(crate) fn regular_file_data<'a, T: FileSystem>(
    file: &'a File,
    inode: &Inode<T>,
) -> Option<<T::FileData as ForeignOwnable>::Borrowed<'a>> {
    let f = file.as_raw();
    // SAFETY: The file is open (type invariant of `File`); the fields are set at open.
    let (f_inode, f_op, data) = unsafe { ((*f).f_inode, (*f).f_op, (*f).private_data) };
    // SAFETY: The inode is live; `i_fop` is set before the inode is unlocked.
    let i_fop = unsafe { (*inode.as_raw()).__bindgen_anon_3.i_fop };
    let ours = ptr::eq(f_inode, inode.as_raw())
        && inode.file_type() == bindings::S_IFREG
        && ptr::eq(f_op, i_fop)
        && !data.is_null();
    // SAFETY: A regular file of `T` opened through `T`'s file operations has its
    // `T::FileData` in `private_data` until `release`, which cannot run while the caller
    // holds `file`.
    ours.then(|| unsafe { file_data::<T>(f) })
}
