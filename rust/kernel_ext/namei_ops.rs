// SPDX-License-Identifier: GPL-2.0

//! The C callbacks of the namespace operations of a [`FileSystem`]'s inodes: creating,
//! linking, removing and renaming entries, opening with creation (`atomic_open`,
//! `tmpfile`) and changing attributes (`setattr`).

use super::{
    dentry::Dentry,
    file::File,
    fs_type::{AtomicOpen, FileSystem},
    iattr::Iattr,
    inode::Inode,
};
use kernel::{
    bindings,
    error::from_result,
    ffi::{c_char, c_int, c_uint, c_void},
    str::CStr,
    types::{ARef, ForeignOwnable},
};

/// The C callback `create` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
pub(crate) unsafe extern "C" fn create_callback<T: FileSystem>(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: bindings::umode_t,
    excl: bool,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes a locked directory of `T` and a negative dentry in it.
        let (dir, d) = unsafe { (Inode::<T>::from_raw(dir), Dentry::<T>::from_raw(dentry)) };
        T::create(dir, d, mode, excl)?;
        Ok(0)
    })
}

/// The C callback `mknod` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
pub(crate) unsafe extern "C" fn mknod_callback<T: FileSystem>(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: bindings::umode_t,
    rdev: bindings::dev_t,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes a locked directory of `T` and a negative dentry in it.
        let (dir, d) = unsafe { (Inode::<T>::from_raw(dir), Dentry::<T>::from_raw(dentry)) };
        T::mknod(dir, d, mode, rdev)?;
        Ok(0)
    })
}

/// The C callback `mkdir` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
pub(crate) unsafe extern "C" fn mkdir_callback<T: FileSystem>(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: bindings::umode_t,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes a locked directory of `T` and a negative dentry in it.
        let (dir, d) = unsafe { (Inode::<T>::from_raw(dir), Dentry::<T>::from_raw(dentry)) };
        T::mkdir(dir, d, mode)?;
        Ok(0)
    })
}

/// The C callback `symlink` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
pub(crate) unsafe extern "C" fn symlink_callback<T: FileSystem>(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    target: *const c_char,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes a locked directory of `T`, a negative dentry in it and a
        // NUL-terminated target.
        let (dir, d, target) = unsafe {
            (
                Inode::<T>::from_raw(dir),
                Dentry::<T>::from_raw(dentry),
                CStr::from_char_ptr(target),
            )
        };
        T::symlink(dir, d, target)?;
        Ok(0)
    })
}

/// The C callback `link` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
pub(crate) unsafe extern "C" fn link_callback<T: FileSystem>(
    old: *mut bindings::dentry,
    dir: *mut bindings::inode,
    new: *mut bindings::dentry,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes a positive dentry of `T`, a locked directory of `T` and a
        // negative dentry in it.
        let (old, dir, new) = unsafe {
            (
                Dentry::<T>::from_raw(old),
                Inode::<T>::from_raw(dir),
                Dentry::<T>::from_raw(new),
            )
        };
        T::link(old, dir, new)?;
        Ok(0)
    })
}

/// The C callback `unlink` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
pub(crate) unsafe extern "C" fn unlink_callback<T: FileSystem>(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes a locked directory of `T` and a positive dentry in it.
        let (dir, d) = unsafe { (Inode::<T>::from_raw(dir), Dentry::<T>::from_raw(dentry)) };
        T::unlink(dir, d)?;
        Ok(0)
    })
}

/// The C callback `rmdir` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
pub(crate) unsafe extern "C" fn rmdir_callback<T: FileSystem>(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes a locked directory of `T` and a positive dentry in it.
        let (dir, d) = unsafe { (Inode::<T>::from_raw(dir), Dentry::<T>::from_raw(dentry)) };
        T::rmdir(dir, d)?;
        Ok(0)
    })
}

/// The C callback `rename` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
pub(crate) unsafe extern "C" fn rename_callback<T: FileSystem>(
    _idmap: *mut bindings::mnt_idmap,
    old_dir: *mut bindings::inode,
    old: *mut bindings::dentry,
    new_dir: *mut bindings::inode,
    new: *mut bindings::dentry,
    flags: c_uint,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes the two locked directories of `T` and their entries.
        let (od, o, nd, n) = unsafe {
            (
                Inode::<T>::from_raw(old_dir),
                Dentry::<T>::from_raw(old),
                Inode::<T>::from_raw(new_dir),
                Dentry::<T>::from_raw(new),
            )
        };
        T::rename(od, o, nd, n, flags)?;
        Ok(0)
    })
}

/// The C callback `setattr` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
pub(crate) unsafe extern "C" fn setattr_callback<T: FileSystem>(
    _idmap: *mut bindings::mnt_idmap,
    dentry: *mut bindings::dentry,
    attr: *mut bindings::iattr,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes a positive dentry of `T` (its inode locked) and the change.
        let (d, attr) = unsafe { (Dentry::<T>::from_raw(dentry), Iattr::from_raw(attr)) };
        T::setattr(d, attr)?;
        Ok(0)
    })
}

/// The `open` step that `finish_open()` runs for a file that [`FileSystem::atomic_open`] or
/// [`FileSystem::tmpfile`] opened: the state is already in `private_data`.
///
/// # Safety
///
/// Called by `finish_open()` with the file being opened, whose `private_data` was set by
/// [`finish`].
unsafe extern "C" fn finish_callback<T: FileSystem>(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    from_result(|| {
        // SAFETY: As guaranteed by the caller; `private_data` holds a `T::FileData`.
        let (inode, data, f) = unsafe {
            (
                Inode::<T>::from_raw(inode),
                T::FileData::borrow((*file).private_data),
                File::from_raw(file),
            )
        };
        T::finish_open(inode, data, f)?;
        Ok(0)
    })
}

/// Opens `file` on `dentry` with the state `data` (`finish_open()`); on failure the state is
/// dropped, as the file never became open.
///
/// # Safety
///
/// `file` must be the file of an `atomic_open` or `tmpfile` call of `T` and `dentry` a
/// positive dentry of `T`.
unsafe fn finish<T: FileSystem>(
    file: *mut bindings::file,
    dentry: *mut bindings::dentry,
    data: T::FileData,
) -> c_int {
    // SAFETY: The file is not open yet; its `private_data` is ours until `finish_open()`.
    unsafe { (*file).private_data = data.into_foreign() as *mut c_void };
    // SAFETY: As guaranteed by the caller; `finish_callback` expects the state set above.
    let ret = unsafe { bindings::finish_open(file, dentry, Some(finish_callback::<T>)) };
    if ret != 0 {
        // SAFETY: The file did not open, so `release` will not run: take the state back.
        unsafe {
            let p = (*file).private_data;
            (*file).private_data = core::ptr::null_mut();
            if !p.is_null() {
                drop(T::FileData::from_foreign(p));
            }
        }
    }
    ret
}

/// The C callback `atomic_open` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
pub(crate) unsafe extern "C" fn atomic_open_callback<T: FileSystem>(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    file: *mut bindings::file,
    flags: c_uint,
    mode: bindings::umode_t,
) -> c_int {
    // SAFETY: The VFS passes a locked directory of `T`, a dentry in it and the file to open.
    let (dir_i, d, f) = unsafe {
        (
            Inode::<T>::from_raw(dir),
            Dentry::<T>::from_raw(dentry),
            File::from_raw(file),
        )
    };
    match T::atomic_open(dir_i, d, f, flags, mode) {
        Ok(AtomicOpen::Opened(data)) => {
            // SAFETY: `T` opened the file on `dentry`, which is positive now.
            unsafe { finish::<T>(file, dentry, data) }
        }
        Ok(AtomicOpen::NoOpen(alias)) => {
            let alias = alias.map_or(core::ptr::null_mut(), |a| ARef::into_raw(a).as_ptr());
            // SAFETY: `finish_no_open()` takes over the reference to `alias`, if any.
            unsafe { bindings::finish_no_open(file, alias.cast()) }
        }
        Err(e) => e.to_errno(),
    }
}

/// The C callback `tmpfile` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
pub(crate) unsafe extern "C" fn tmpfile_callback<T: FileSystem>(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    file: *mut bindings::file,
    mode: bindings::umode_t,
) -> c_int {
    // SAFETY: The VFS passes a directory of `T` and the file to open on a new dentry.
    let (dir_i, f) = unsafe { (Inode::<T>::from_raw(dir), File::from_raw(file)) };
    match T::tmpfile(dir_i, f, mode) {
        // SAFETY: `T` instantiated the file's dentry with the new inode.
        Ok(data) => unsafe { finish::<T>(file, (*file).f_path.dentry, data) },
        Err(e) => e.to_errno(),
    }
}

/// Fills the namespace operations of `T`'s directories.
pub(crate) const fn dir_ops<T: FileSystem>(ops: &mut bindings::inode_operations) {
    if T::HAS_CREATE {
        ops.create = Some(create_callback::<T>);
    }
    if T::HAS_ATOMIC_OPEN {
        ops.atomic_open = Some(atomic_open_callback::<T>);
    }
    if T::HAS_TMPFILE {
        ops.tmpfile = Some(tmpfile_callback::<T>);
    }
    if T::HAS_MKNOD {
        ops.mknod = Some(mknod_callback::<T>);
    }
    if T::HAS_MKDIR {
        ops.mkdir = Some(mkdir_callback::<T>);
    }
    if T::HAS_SYMLINK {
        ops.symlink = Some(symlink_callback::<T>);
    }
    if T::HAS_LINK {
        ops.link = Some(link_callback::<T>);
    }
    if T::HAS_UNLINK {
        ops.unlink = Some(unlink_callback::<T>);
    }
    if T::HAS_RMDIR {
        ops.rmdir = Some(rmdir_callback::<T>);
    }
    if T::HAS_RENAME {
        ops.rename = Some(rename_callback::<T>);
    }
}

/// Fills the operations every inode kind of `T` shares: `setattr` and `listxattr`.
pub(crate) const fn common_ops<T: FileSystem>(ops: &mut bindings::inode_operations) {
    if T::HAS_SETATTR {
        ops.setattr = Some(setattr_callback::<T>);
    }
    if T::HAS_LISTXATTR {
        ops.listxattr = Some(super::xattr::listxattr_callback::<T>);
    }
}
