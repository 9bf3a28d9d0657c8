// SPDX-License-Identifier: GPL-2.0

//! The C callbacks of a [`FileSystem`]'s open files beyond reading: `write_iter`, `fsync`,
//! `lock`, `flock`, `fallocate`, `copy_file_range`, `unlocked_ioctl`/`compat_ioctl` and
//! `poll`.

use super::{
    file::{File, Kiocb, PollTable},
    file_lock::FileLock,
    fs_file::file_data,
    fs_type::FileSystem,
    iov_iter::IovIter,
};
use kernel::{
    bindings,
    error::from_result,
    ffi::{c_int, c_long, c_uint, c_ulong},
};

/// The C callback `write_iter` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
pub(crate) unsafe extern "C" fn write_iter_callback<T: FileSystem>(
    iocb: *mut bindings::kiocb,
    from: *mut bindings::iov_iter,
) -> isize {
    from_result(|| {
        // SAFETY: The VFS passes a live kiocb of an open file of `T` and an iterator, both
        // ours for the call.
        let (data, iocb, from) = unsafe {
            (
                file_data::<T>((*iocb).ki_filp),
                Kiocb::from_raw(iocb),
                IovIter::from_raw(from),
            )
        };
        let n = T::write_iter(data, iocb, from)?;
        isize::try_from(n).map_err(|_| super::error::eoverflow())
    })
}

/// The C callback `fsync` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
pub(crate) unsafe extern "C" fn fsync_callback<T: FileSystem>(
    file: *mut bindings::file,
    start: bindings::loff_t,
    end: bindings::loff_t,
    datasync: c_int,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes an open file of `T`.
        let (data, f) = unsafe { (file_data::<T>(file), File::from_raw(file)) };
        T::fsync(data, f, start, end, datasync != 0)?;
        Ok(0)
    })
}

/// The C callback `lock` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
pub(crate) unsafe extern "C" fn lock_callback<T: FileSystem>(
    file: *mut bindings::file,
    cmd: c_int,
    fl: *mut bindings::file_lock,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes an open file of `T` and the lock, ours for the call.
        let (data, f, fl) = unsafe {
            (
                file_data::<T>(file),
                File::from_raw(file),
                FileLock::from_raw(fl),
            )
        };
        Ok(T::lock(data, f, cmd, fl)?.to_raw())
    })
}

/// The C callback `flock` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
pub(crate) unsafe extern "C" fn flock_callback<T: FileSystem>(
    file: *mut bindings::file,
    cmd: c_int,
    fl: *mut bindings::file_lock,
) -> c_int {
    from_result(|| {
        // SAFETY: The VFS passes an open file of `T` and the lock, ours for the call.
        let (data, f, fl) = unsafe {
            (
                file_data::<T>(file),
                File::from_raw(file),
                FileLock::from_raw(fl),
            )
        };
        T::flock(data, f, cmd, fl)?;
        Ok(0)
    })
}

/// The C callback `fallocate` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
pub(crate) unsafe extern "C" fn fallocate_callback<T: FileSystem>(
    file: *mut bindings::file,
    mode: c_int,
    offset: bindings::loff_t,
    len: bindings::loff_t,
) -> c_long {
    from_result(|| {
        // SAFETY: The VFS passes an open file of `T`.
        let (data, f) = unsafe { (file_data::<T>(file), File::from_raw(file)) };
        T::fallocate(data, f, mode, offset, len)?;
        Ok(0)
    })
}

/// The C callback `copy_file_range` of `T`; the VFS calls it only when both files use
/// this table (so both are files of `T`).
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
pub(crate) unsafe extern "C" fn copy_file_range_callback<T: FileSystem>(
    file_in: *mut bindings::file,
    pos_in: bindings::loff_t,
    file_out: *mut bindings::file,
    pos_out: bindings::loff_t,
    len: usize,
    flags: c_uint,
) -> isize {
    from_result(|| {
        // SAFETY: The VFS passes two open files whose `copy_file_range` is this one: files of
        // `T`.
        let (din, fin, dout, fout) = unsafe {
            (
                file_data::<T>(file_in),
                File::from_raw(file_in),
                file_data::<T>(file_out),
                File::from_raw(file_out),
            )
        };
        let n = T::copy_file_range(din, fin, pos_in, dout, fout, pos_out, len, flags)?;
        isize::try_from(n).map_err(|_| super::error::eoverflow())
    })
}

/// The C callback `unlocked_ioctl` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
pub(crate) unsafe extern "C" fn ioctl_callback<T: FileSystem>(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    from_result(|| {
        // SAFETY: The VFS passes an open file of `T`.
        let (data, f) = unsafe { (file_data::<T>(file), File::from_raw(file)) };
        T::ioctl(data, f, cmd, arg, false)
    })
}

/// The C callback `compat_ioctl` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
pub(crate) unsafe extern "C" fn compat_ioctl_callback<T: FileSystem>(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    from_result(|| {
        // SAFETY: The VFS passes an open file of `T`.
        let (data, f) = unsafe { (file_data::<T>(file), File::from_raw(file)) };
        T::ioctl(data, f, cmd, arg, true)
    })
}

/// The C callback `poll` of `T`.
///
/// # Safety
///
/// Called by the kernel with live arguments of `T`'s objects, as the C operation's
/// contract says.
pub(crate) unsafe extern "C" fn poll_callback<T: FileSystem>(
    file: *mut bindings::file,
    pt: *mut bindings::poll_table_struct,
) -> bindings::__poll_t {
    // SAFETY: The VFS passes an open file of `T` and its poll table (possibly NULL).
    let (data, f, pt) = unsafe {
        (
            file_data::<T>(file),
            File::from_raw(file),
            PollTable::from_raw(pt),
        )
    };
    T::poll(data, f, pt)
}

/// Fills the file operations beyond reading that `T` implements.
pub(crate) const fn file_ops<T: FileSystem>(ops: &mut bindings::file_operations) {
    if T::HAS_WRITE_ITER {
        ops.write_iter = Some(write_iter_callback::<T>);
        ops.splice_write = Some(bindings::iter_file_splice_write);
    }
    if T::HAS_LOCK {
        ops.lock = Some(lock_callback::<T>);
    }
    if T::HAS_FLOCK {
        ops.flock = Some(flock_callback::<T>);
    }
    if T::HAS_FALLOCATE {
        ops.fallocate = Some(fallocate_callback::<T>);
    }
    if T::HAS_COPY_FILE_RANGE {
        ops.copy_file_range = Some(copy_file_range_callback::<T>);
    }
    if T::HAS_POLL {
        ops.poll = Some(poll_callback::<T>);
    }
    common_ops::<T>(ops);
}

/// Fills the file operations that files and directories of `T` share: `fsync` and the
/// ioctls.
pub(crate) const fn common_ops<T: FileSystem>(ops: &mut bindings::file_operations) {
    if T::HAS_FSYNC {
        ops.fsync = Some(fsync_callback::<T>);
    }
    if T::HAS_IOCTL {
        ops.unlocked_ioctl = Some(ioctl_callback::<T>);
        ops.compat_ioctl = Some(compat_ioctl_callback::<T>);
    }
}
