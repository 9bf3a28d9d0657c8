// SPDX-License-Identifier: GPL-2.0

//! FUSE_INIT: the first request of every connection (the C module's `fuse_send_init()` and
//! `process_init_reply()`).
//!
//! Other requests wait until it ends. rust_fuse speaks protocol 7.41 and advertises only
//! the flags it implements; a daemon's shorter (older) reply is zero-extended. A failed or
//! malformed reply (an error, another major version) leaves the connection in error:
//! every later request fails with `ECONNREFUSED`.

use super::{
    conn::{Conn, Negotiated, MAX_MAX_PAGES},
    fs::FuseFs,
    proto::{self, init_flags as f, op, Wire},
    request::{Args, OutSpec, RequestEnd},
};
use crate::bindings as b;
use crate::kernel_ext::{super_block::SbSlot, task};
use core::mem::size_of;
use kernel::{page::PAGE_SIZE, prelude::*, sync::Arc};

/// The flags rust_fuse implements and offers the daemon.
pub(crate) const OFFERED: u64 = f::FUSE_ASYNC_READ
    | f::FUSE_SPLICE_WRITE
    | f::FUSE_SPLICE_MOVE
    | f::FUSE_SPLICE_READ
    | f::FUSE_AUTO_INVAL_DATA
    | f::FUSE_EXPLICIT_INVAL_DATA
    | f::FUSE_DO_READDIRPLUS
    | f::FUSE_READDIRPLUS_AUTO
    | f::FUSE_PARALLEL_DIROPS
    | f::FUSE_ABORT_ERROR
    | f::FUSE_MAX_PAGES
    | f::FUSE_NO_OPEN_SUPPORT
    | f::FUSE_NO_OPENDIR_SUPPORT
    | f::FUSE_INIT_EXT
    | f::FUSE_POSIX_LOCKS
    | f::FUSE_FLOCK_LOCKS
    | f::FUSE_ATOMIC_O_TRUNC
    | f::FUSE_BIG_WRITES
    | f::FUSE_DONT_MASK
    | f::FUSE_HAS_IOCTL_DIR
    | f::FUSE_HANDLE_KILLPRIV
    | f::FUSE_HANDLE_KILLPRIV_V2
    | f::FUSE_SETXATTR_EXT
    | f::FUSE_SECURITY_CTX
    | f::FUSE_CREATE_SUPP_GROUP
    | f::FUSE_HAS_EXPIRE_ONLY
    | f::FUSE_WRITEBACK_CACHE
    | f::FUSE_DIRECT_IO_ALLOW_MMAP
    | f::FUSE_HAS_RESEND;

/// The end of FUSE_INIT: applies the reply to the connection and the super block.
struct InitEnd {
    sb: Arc<SbSlot<FuseFs>>,
}

/// Sends FUSE_INIT in the background; `sb` lets the reply adjust the super block while it
/// lives.
pub(crate) fn send(conn: &Conn, sb: Arc<SbSlot<FuseFs>>, ra_pages: u64) {
    let mut inarg = b::fuse_init_in::zeroed();
    inarg.major = proto::KERNEL_VERSION;
    inarg.minor = proto::KERNEL_MINOR_VERSION;
    inarg.max_readahead = (ra_pages * PAGE_SIZE as u64) as u32;
    inarg.flags = OFFERED as u32;
    inarg.flags2 = (OFFERED >> 32) as u32;
    let end: Arc<dyn RequestEnd> = match Arc::new(InitEnd { sb }, GFP_KERNEL) {
        Ok(e) => e,
        Err(_) => return conn.set_initialized(None, None),
    };
    match Args::new(
        op::INIT,
        0,
        &inarg,
        OutSpec::up_to(size_of::<b::fuse_init_out>()),
    ) {
        Ok(mut args) => {
            args.nocreds = true;
            args.force = true;
            conn.send_background(args, end);
        }
        Err(_) => end.end(conn, Err(ENOMEM.to_errno())),
    }
}

impl RequestEnd for InitEnd {
    fn end(&self, conn: &Conn, result: core::result::Result<&[u8], i32>) {
        let Ok(data) = result else {
            return conn.set_initialized(None, None);
        };
        let arg = b::fuse_init_out::from_prefix(data);
        if arg.major != proto::KERNEL_VERSION {
            return conn.set_initialized(None, None);
        }
        let mut n = Negotiated {
            minor: arg.minor,
            max_pages: conn.neg().max_pages,
            ..Negotiated::default()
        };
        let limits = init_limits(&arg);
        let ra_pages;
        let mut time_gran = None;
        if arg.minor >= 6 {
            let mut flags = u64::from(arg.flags);
            if flags & f::FUSE_INIT_EXT != 0 {
                flags |= u64::from(arg.flags2) << 32;
            }
            flags &= OFFERED;
            ra_pages = u64::from(arg.max_readahead) / PAGE_SIZE as u64;
            n.async_read = flags & f::FUSE_ASYNC_READ != 0;
            n.no_lock = flags & f::FUSE_POSIX_LOCKS == 0;
            n.no_flock = if arg.minor >= 17 {
                flags & f::FUSE_FLOCK_LOCKS == 0
            } else {
                n.no_lock
            };
            n.atomic_o_trunc = flags & f::FUSE_ATOMIC_O_TRUNC != 0;
            n.big_writes = flags & f::FUSE_BIG_WRITES != 0;
            n.dont_mask = flags & f::FUSE_DONT_MASK != 0;
            n.handle_killpriv = flags & f::FUSE_HANDLE_KILLPRIV != 0;
            n.handle_killpriv_v2 = flags & f::FUSE_HANDLE_KILLPRIV_V2 != 0;
            n.setxattr_ext = flags & f::FUSE_SETXATTR_EXT != 0;
            n.init_security = flags & f::FUSE_SECURITY_CTX != 0;
            n.create_supp_group = flags & f::FUSE_CREATE_SUPP_GROUP != 0;
            n.auto_inval_data = flags & f::FUSE_AUTO_INVAL_DATA != 0;
            n.explicit_inval_data = !n.auto_inval_data && flags & f::FUSE_EXPLICIT_INVAL_DATA != 0;
            n.do_readdirplus = flags & f::FUSE_DO_READDIRPLUS != 0;
            n.readdirplus_auto = n.do_readdirplus && flags & f::FUSE_READDIRPLUS_AUTO != 0;
            n.parallel_dirops = flags & f::FUSE_PARALLEL_DIROPS != 0;
            n.abort_err = flags & f::FUSE_ABORT_ERROR != 0;
            n.writeback_cache = flags & f::FUSE_WRITEBACK_CACHE != 0;
            n.direct_io_allow_mmap = flags & f::FUSE_DIRECT_IO_ALLOW_MMAP != 0;
            if arg.time_gran != 0 && arg.time_gran <= 1_000_000_000 {
                time_gran = Some(arg.time_gran);
            }
            if flags & f::FUSE_MAX_PAGES != 0 {
                n.max_pages = MAX_MAX_PAGES.min(u32::from(arg.max_pages).max(1));
            }
        } else {
            ra_pages = u64::from(conn.mount.max_read) / PAGE_SIZE as u64;
            n.no_lock = true;
            n.no_flock = true;
        }
        self.sb.with(|sb| {
            sb.limit_ra_pages(ra_pages);
            if let Some(g) = time_gran {
                sb.set_time_gran(g);
            }
        });
        n.max_write = if arg.minor < 5 { 4096 } else { arg.max_write }.max(4096);
        conn.set_initialized(Some(n), limits);
        super::timeout::start(conn);
    }
}

/// The background limits of the reply (C's `process_init_limits()`): only from 7.13, and
/// capped for daemons without `CAP_SYS_ADMIN`.
fn init_limits(arg: &b::fuse_init_out) -> Option<(u32, u32)> {
    if arg.minor < 13 {
        return None;
    }
    let cap = if task::capable_sys_admin() {
        u32::MAX
    } else {
        task::default_user_bg_limit()
    };
    Some((
        u32::from(arg.max_background).min(cap),
        u32::from(arg.congestion_threshold).min(cap),
    ))
}
