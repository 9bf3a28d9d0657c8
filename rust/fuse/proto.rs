// SPDX-License-Identifier: GPL-2.0

//! The FUSE protocol (`include/uapi/linux/fuse.h`): versions and constants.

use crate::bindings;

/// The protocol's major version (`FUSE_KERNEL_VERSION`).
pub(crate) const KERNEL_VERSION: u32 = bindings::FUSE_KERNEL_VERSION;

/// The protocol's minor version that this module speaks (`FUSE_KERNEL_MINOR_VERSION`).
pub(crate) const KERNEL_MINOR_VERSION: u32 = bindings::FUSE_KERNEL_MINOR_VERSION;

/// The misc device minor of `/dev/fuse` (`FUSE_MINOR`).
pub(crate) const FUSE_MINOR: u32 = bindings::FUSE_MINOR;

/// `ioctl(FUSE_DEV_IOC_CLONE, &fd)`: attach this `/dev/fuse` file to `fd`'s connection.
pub(crate) const DEV_IOC_CLONE: u32 = bindings::FUSE_DEV_IOC_CLONE;

/// `ioctl(FUSE_DEV_IOC_BACKING_OPEN, &map)`: register a passthrough backing file.
pub(crate) const DEV_IOC_BACKING_OPEN: u32 = bindings::FUSE_DEV_IOC_BACKING_OPEN;

/// `ioctl(FUSE_DEV_IOC_BACKING_CLOSE, &id)`: drop a passthrough backing file.
pub(crate) const DEV_IOC_BACKING_CLOSE: u32 = bindings::FUSE_DEV_IOC_BACKING_CLOSE;

/// `poll(2)` mask bits.
pub(crate) mod poll {
    use crate::bindings;

    /// An error condition (`EPOLLERR`).
    pub(crate) const ERR: u32 = bindings::EPOLLERR;
    /// Readable (`EPOLLIN`).
    pub(crate) const IN: u32 = bindings::EPOLLIN;
    /// Normal data readable (`EPOLLRDNORM`).
    pub(crate) const RDNORM: u32 = bindings::EPOLLRDNORM;
    /// Writable (`EPOLLOUT`).
    pub(crate) const OUT: u32 = bindings::EPOLLOUT;
    /// Normal data writable (`EPOLLWRNORM`).
    pub(crate) const WRNORM: u32 = bindings::EPOLLWRNORM;
}

/// The root directory's node id (`FUSE_ROOT_ID`).
pub(crate) const ROOT_ID: u64 = bindings::FUSE_ROOT_ID as u64;

/// The smallest `/dev/fuse` read buffer a daemon may use (`FUSE_MIN_READ_BUFFER`).
pub(crate) const MIN_READ_BUFFER: usize = bindings::FUSE_MIN_READ_BUFFER as usize;

/// The bit that marks the unique id of an interrupt (`FUSE_INT_REQ_BIT`).
pub(crate) const INT_REQ_BIT: u64 = 1;

/// The bit that marks the unique id of a request sent again after `FUSE_NOTIFY_RESEND`
/// (`FUSE_UNIQUE_RESEND`, the top bit).
// CAST: the header defines it as a signed 64-bit `1 << 63`; the bit pattern is what counts.
pub(crate) const UNIQUE_RESEND: u64 = bindings::FUSE_UNIQUE_RESEND as u64;

/// The step between unique ids (`FUSE_REQ_ID_STEP`), leaving [`INT_REQ_BIT`] free.
pub(crate) const REQ_ID_STEP: u64 = 2;

/// The longest name a daemon may return (`FUSE_NAME_MAX`).
pub(crate) const NAME_MAX: usize = 1024;

/// The most negative error a reply may carry (`-511`, as the C module accepts).
pub(crate) const MIN_ERROR: i32 = -511;

/// The super block magic number (`FUSE_SUPER_MAGIC`).
pub(crate) const SUPER_MAGIC: u32 = bindings::FUSE_SUPER_MAGIC;

/// Opcodes (`enum fuse_opcode`).
pub(crate) mod op {
    use crate::bindings as b;

    /// `FUSE_LOOKUP`.
    pub(crate) const LOOKUP: u32 = b::fuse_opcode_FUSE_LOOKUP;
    /// `FUSE_FORGET`.
    pub(crate) const FORGET: u32 = b::fuse_opcode_FUSE_FORGET;
    /// `FUSE_GETATTR`.
    pub(crate) const GETATTR: u32 = b::fuse_opcode_FUSE_GETATTR;
    /// `FUSE_READLINK`.
    pub(crate) const READLINK: u32 = b::fuse_opcode_FUSE_READLINK;
    /// `FUSE_OPEN`.
    pub(crate) const OPEN: u32 = b::fuse_opcode_FUSE_OPEN;
    /// `FUSE_READ`.
    pub(crate) const READ: u32 = b::fuse_opcode_FUSE_READ;
    /// `FUSE_STATFS`.
    pub(crate) const STATFS: u32 = b::fuse_opcode_FUSE_STATFS;
    /// `FUSE_RELEASE`.
    pub(crate) const RELEASE: u32 = b::fuse_opcode_FUSE_RELEASE;
    /// `FUSE_FLUSH`.
    pub(crate) const FLUSH: u32 = b::fuse_opcode_FUSE_FLUSH;
    /// `FUSE_INIT`.
    pub(crate) const INIT: u32 = b::fuse_opcode_FUSE_INIT;
    /// `FUSE_OPENDIR`.
    pub(crate) const OPENDIR: u32 = b::fuse_opcode_FUSE_OPENDIR;
    /// `FUSE_READDIR`.
    pub(crate) const READDIR: u32 = b::fuse_opcode_FUSE_READDIR;
    /// `FUSE_STATX`.
    pub(crate) const STATX: u32 = b::fuse_opcode_FUSE_STATX;
    /// `FUSE_READDIRPLUS`.
    pub(crate) const READDIRPLUS: u32 = b::fuse_opcode_FUSE_READDIRPLUS;
    /// `FUSE_RELEASEDIR`.
    pub(crate) const RELEASEDIR: u32 = b::fuse_opcode_FUSE_RELEASEDIR;
    /// `FUSE_ACCESS`.
    pub(crate) const ACCESS: u32 = b::fuse_opcode_FUSE_ACCESS;
    /// `FUSE_INTERRUPT`.
    pub(crate) const INTERRUPT: u32 = b::fuse_opcode_FUSE_INTERRUPT;
    /// `FUSE_BATCH_FORGET`.
    pub(crate) const BATCH_FORGET: u32 = b::fuse_opcode_FUSE_BATCH_FORGET;
    /// `FUSE_SETXATTR` (requests too big for the reader fail with `E2BIG`).
    pub(crate) const SETXATTR: u32 = b::fuse_opcode_FUSE_SETXATTR;

    macro_rules! ops {
        ($($name:ident = $c:ident),* $(,)?) => {$(
            #[doc = concat!("`", stringify!($c), "`.")]
            pub(crate) const $name: u32 = b::$c;
        )*};
    }

    ops!(
        SETATTR = fuse_opcode_FUSE_SETATTR,
        SYMLINK = fuse_opcode_FUSE_SYMLINK,
        MKNOD = fuse_opcode_FUSE_MKNOD,
        MKDIR = fuse_opcode_FUSE_MKDIR,
        UNLINK = fuse_opcode_FUSE_UNLINK,
        RMDIR = fuse_opcode_FUSE_RMDIR,
        RENAME = fuse_opcode_FUSE_RENAME,
        RENAME2 = fuse_opcode_FUSE_RENAME2,
        LINK = fuse_opcode_FUSE_LINK,
        WRITE = fuse_opcode_FUSE_WRITE,
        FSYNC = fuse_opcode_FUSE_FSYNC,
        FSYNCDIR = fuse_opcode_FUSE_FSYNCDIR,
        GETXATTR = fuse_opcode_FUSE_GETXATTR,
        LISTXATTR = fuse_opcode_FUSE_LISTXATTR,
        REMOVEXATTR = fuse_opcode_FUSE_REMOVEXATTR,
        CREATE = fuse_opcode_FUSE_CREATE,
        TMPFILE = fuse_opcode_FUSE_TMPFILE,
        GETLK = fuse_opcode_FUSE_GETLK,
        SETLK = fuse_opcode_FUSE_SETLK,
        SETLKW = fuse_opcode_FUSE_SETLKW,
        FALLOCATE = fuse_opcode_FUSE_FALLOCATE,
        LSEEK = fuse_opcode_FUSE_LSEEK,
        COPY_FILE_RANGE = fuse_opcode_FUSE_COPY_FILE_RANGE,
        IOCTL = fuse_opcode_FUSE_IOCTL,
        POLL = fuse_opcode_FUSE_POLL,
        NOTIFY_REPLY = fuse_opcode_FUSE_NOTIFY_REPLY,
    );
}

/// Protocol structures that may be built from, and sent as, raw bytes.
///
/// # Safety
///
/// Implementors must be `#[repr(C)]` structures of integers only, with no padding, so that
/// every bit pattern is a valid value and every byte is initialised.
pub(crate) unsafe trait Wire: Sized {
    /// A value with every byte zero.
    fn zeroed() -> Self {
        // SAFETY: All-zero is a valid value (trait contract).
        unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    }

    /// Builds a value from the start of `bytes`; bytes beyond `bytes` are zero (the C
    /// module's handling of older daemons' shorter structures).
    fn from_prefix(bytes: &[u8]) -> Self {
        let mut v = Self::zeroed();
        let n = bytes.len().min(core::mem::size_of::<Self>());
        // SAFETY: `v` is a plain value with `size_of::<Self>()` bytes and any bytes are valid
        // (trait contract); `n` fits both.
        unsafe {
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), core::ptr::from_mut(&mut v).cast(), n)
        };
        v
    }

    /// The value's bytes.
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: No padding, so every byte is initialised (trait contract).
        unsafe {
            core::slice::from_raw_parts(
                core::ptr::from_ref(self).cast::<u8>(),
                core::mem::size_of::<Self>(),
            )
        }
    }
}

macro_rules! wire {
    ($($t:ident),* $(,)?) => {$(
        // SAFETY: A `#[repr(C)]` structure of `uapi/linux/fuse.h` made of naturally aligned
        // integers with explicit padding fields, so it has no implicit padding.
        unsafe impl Wire for bindings::$t {}
    )*};
}

wire!(
    fuse_in_header,
    fuse_out_header,
    fuse_init_in,
    fuse_init_out,
    fuse_attr,
    fuse_entry_out,
    fuse_attr_out,
    fuse_getattr_in,
    fuse_open_in,
    fuse_open_out,
    fuse_release_in,
    fuse_flush_in,
    fuse_read_in,
    fuse_kstatfs,
    fuse_statfs_out,
    fuse_access_in,
    fuse_interrupt_in,
    fuse_forget_in,
    fuse_forget_one,
    fuse_batch_forget_in,
    fuse_dirent,
    fuse_direntplus,
    fuse_statx_in,
    fuse_statx_out,
    fuse_create_in,
    fuse_mknod_in,
    fuse_mkdir_in,
    fuse_link_in,
    fuse_rename_in,
    fuse_rename2_in,
    fuse_setattr_in,
    fuse_write_in,
    fuse_write_out,
    fuse_fsync_in,
    fuse_getxattr_in,
    fuse_getxattr_out,
    fuse_setxattr_in,
    fuse_lk_in,
    fuse_lk_out,
    fuse_file_lock,
    fuse_fallocate_in,
    fuse_lseek_in,
    fuse_lseek_out,
    fuse_copy_file_range_in,
    fuse_ioctl_in,
    fuse_ioctl_out,
    fuse_poll_in,
    fuse_poll_out,
    fuse_notify_poll_wakeup_out,
    fuse_notify_inval_inode_out,
    fuse_notify_inval_entry_out,
    fuse_notify_delete_out,
    fuse_notify_store_out,
    fuse_notify_retrieve_out,
    fuse_notify_retrieve_in,
    fuse_ext_header,
    fuse_secctx_header,
    fuse_secctx,
    fuse_supp_groups,
);

/// `FUSE_INIT` flags (`flags | flags2 << 32`).
pub(crate) mod init_flags {
    use crate::bindings as b;

    macro_rules! flags {
        ($($name:ident),* $(,)?) => {$(
            #[doc = concat!("`FUSE_", stringify!($name), "`.")]
            pub(crate) const $name: u64 = b::$name as u64;
        )*};
    }

    flags!(
        FUSE_ASYNC_READ,
        FUSE_SPLICE_WRITE,
        FUSE_SPLICE_MOVE,
        FUSE_SPLICE_READ,
        FUSE_AUTO_INVAL_DATA,
        FUSE_DO_READDIRPLUS,
        FUSE_READDIRPLUS_AUTO,
        FUSE_PARALLEL_DIROPS,
        FUSE_ABORT_ERROR,
        FUSE_MAX_PAGES,
        FUSE_NO_OPEN_SUPPORT,
        FUSE_NO_OPENDIR_SUPPORT,
        FUSE_EXPLICIT_INVAL_DATA,
        FUSE_INIT_EXT,
        FUSE_POSIX_LOCKS,
        FUSE_FLOCK_LOCKS,
        FUSE_ATOMIC_O_TRUNC,
        FUSE_BIG_WRITES,
        FUSE_DONT_MASK,
        FUSE_HAS_IOCTL_DIR,
        FUSE_HANDLE_KILLPRIV,
        FUSE_HANDLE_KILLPRIV_V2,
        FUSE_SETXATTR_EXT,
        FUSE_SECURITY_CTX,
        FUSE_CREATE_SUPP_GROUP,
        FUSE_HAS_EXPIRE_ONLY,
        FUSE_WRITEBACK_CACHE,
        FUSE_DIRECT_IO_ALLOW_MMAP,
        FUSE_HAS_RESEND,
    );
}

/// `FOPEN_*` flags of an open reply.
pub(crate) mod fopen {
    use crate::bindings as b;

    /// Bypass the page cache.
    pub(crate) const DIRECT_IO: u32 = b::FOPEN_DIRECT_IO;
    /// Keep the page cache from earlier opens.
    pub(crate) const KEEP_CACHE: u32 = b::FOPEN_KEEP_CACHE;
    /// The file is not seekable.
    pub(crate) const NONSEEKABLE: u32 = b::FOPEN_NONSEEKABLE;
    /// The file is a stream.
    pub(crate) const STREAM: u32 = b::FOPEN_STREAM;
    /// `close(2)` sends no FLUSH (without the writeback cache).
    pub(crate) const NOFLUSH: u32 = b::FOPEN_NOFLUSH;
}
