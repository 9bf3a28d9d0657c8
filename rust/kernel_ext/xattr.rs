// SPDX-License-Identifier: GPL-2.0

//! Extended attributes: one `struct xattr_handler` with the empty prefix, which takes every
//! name to [`FileSystem::getxattr`] and [`FileSystem::setxattr`] (as C FUSE's
//! `fuse_xattr_handlers`), and the `listxattr` inode operation.

use super::{dentry::Dentry, fs_type::FileSystem, inode::Inode};
use crate::bindings as local;
use core::{marker::PhantomData, mem::MaybeUninit, ptr};
use kernel::{
    bindings,
    error::from_result,
    ffi::{c_char, c_int, c_void},
    prelude::*,
    str::CStr,
};

/// The handler table of `T`, as promoted constants.
struct Handlers<T>(PhantomData<T>);

impl<T: FileSystem> Handlers<T> {
    const HANDLER: local::xattr_handler = {
        // SAFETY: All-zero is a valid handler.
        let mut h: local::xattr_handler = unsafe { MaybeUninit::zeroed().assume_init() };
        h.prefix = c"".as_ptr().cast();
        h.get = Some(get_callback::<T>);
        h.set = Some(set_callback::<T>);
        h
    };

    const LIST: [*const local::xattr_handler; 2] = [&Self::HANDLER, ptr::null()];
}

/// The NULL-terminated handler list of `T` for `sb->s_xattr`.
pub(crate) fn handlers<T: FileSystem>() -> *const *mut bindings::xattr_handler {
    let list: &'static [*const local::xattr_handler; 2] = &Handlers::<T>::LIST;
    list.as_ptr().cast()
}

/// A byte buffer of the caller's, or an empty one for a size probe.
///
/// # Safety
///
/// `buf` must be NULL or valid for `size` bytes during `'a`.
unsafe fn buffer<'a>(buf: *mut c_void, size: usize) -> &'a mut [u8] {
    if buf.is_null() || size == 0 {
        &mut []
    } else {
        // SAFETY: Valid for `size` bytes (caller's guarantee).
        unsafe { core::slice::from_raw_parts_mut(buf.cast(), size) }
    }
}

/// The name of an extended attribute as the VFS passes it to a handler: NUL-terminated, and
/// measured only when the file system asks for it, so that one that answers without the name
/// (for example because it knows the attribute cannot exist) pays no `strlen`.
///
/// # Invariants
///
/// `ptr` points to a NUL-terminated string that stays valid and unchanged during `'a`.
pub(crate) struct XattrName<'a> {
    ptr: *const c_char,
    _p: PhantomData<&'a CStr>,
}

impl<'a> XattrName<'a> {
    /// The name, with its length.
    pub(crate) fn to_cstr(&self) -> &'a CStr {
        // SAFETY: NUL-terminated and valid during `'a` by the type invariant.
        unsafe { CStr::from_char_ptr(self.ptr) }
    }
}

/// `xattr_handler.get` of `T`.
///
/// # Safety
///
/// Called by the VFS with a live inode of `T`, a NUL-terminated name and a buffer of `size`
/// bytes (or NULL).
unsafe extern "C" fn get_callback<T: FileSystem>(
    _handler: *const local::xattr_handler,
    _dentry: *mut bindings::dentry,
    inode: *mut bindings::inode,
    name: *const c_char,
    buf: *mut c_void,
    size: usize,
) -> c_int {
    from_result(|| {
        // SAFETY: As guaranteed by the caller.
        let (inode, buf) = unsafe { (Inode::<T>::from_raw(inode), buffer(buf, size)) };
        // INVARIANT: The VFS passes a NUL-terminated name that lives during the call.
        let name = XattrName {
            ptr: name,
            _p: PhantomData,
        };
        let n = T::getxattr(inode, name, buf)?;
        c_int::try_from(n).map_err(|_| super::error::eoverflow())
    })
}

/// `xattr_handler.set` of `T`; a NULL value removes the attribute.
///
/// # Safety
///
/// Called by the VFS with a live inode of `T`, a NUL-terminated name and a value of `size`
/// bytes (or NULL).
unsafe extern "C" fn set_callback<T: FileSystem>(
    _handler: *const local::xattr_handler,
    _idmap: *mut bindings::mnt_idmap,
    _dentry: *mut bindings::dentry,
    inode: *mut bindings::inode,
    name: *const c_char,
    value: *const c_void,
    size: usize,
    flags: c_int,
) -> c_int {
    from_result(|| {
        // SAFETY: As guaranteed by the caller.
        let (inode, name) = unsafe { (Inode::<T>::from_raw(inode), CStr::from_char_ptr(name)) };
        let value = if value.is_null() {
            None
        } else {
            // SAFETY: A non-NULL value is valid for `size` bytes.
            Some(unsafe { core::slice::from_raw_parts(value.cast::<u8>(), size) })
        };
        T::setxattr(inode, name, value, flags)?;
        Ok(0)
    })
}

/// `inode_operations.listxattr` of `T`.
///
/// # Safety
///
/// Called by the VFS with a live dentry of `T` and a buffer of `size` bytes (or NULL).
pub(crate) unsafe extern "C" fn listxattr_callback<T: FileSystem>(
    dentry: *mut bindings::dentry,
    list: *mut c_char,
    size: usize,
) -> isize {
    from_result(|| {
        // SAFETY: As guaranteed by the caller.
        let (d, buf) = unsafe { (Dentry::<T>::from_raw(dentry), buffer(list.cast(), size)) };
        let inode = d.inode().ok_or(EIO)?;
        let n = T::listxattr(inode, buf)?;
        isize::try_from(n).map_err(|_| super::error::eoverflow())
    })
}
