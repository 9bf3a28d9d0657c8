// SPDX-License-Identifier: GPL-2.0

//! `poll(2)` on files (the C module's `fuse_file_poll()`): POLL requests, with
//! `FUSE_POLL_SCHEDULE_NOTIFY` when a task will wait, woken by the daemon's
//! `FUSE_NOTIFY_POLL`; an ENOSYS answer makes every file always ready.

use super::{
    conn::Unsupported,
    file::FuseFile,
    proto::{op, poll, Wire},
    request::{Args, OutSpec},
};
use crate::bindings as b;
use crate::kernel_ext::{
    error::enosys,
    file::{File, PollTable},
};
use core::mem::size_of;
use kernel::sync::Arc;

/// What a file without poll support reports (`DEFAULT_POLLMASK`).
const DEFAULT_MASK: u32 = poll::IN | poll::OUT | poll::RDNORM | poll::WRNORM;

/// `file_operations.poll`.
pub(crate) fn poll(ff: Arc<FuseFile>, file: &File, table: Option<&PollTable>) -> u32 {
    let conn = ff.conn().clone();
    if conn.lacks(Unsupported::Poll) {
        return DEFAULT_MASK;
    }
    ff.poll_wait.poll_wait(file, table);
    let mut inarg = b::fuse_poll_in::zeroed();
    inarg.fh = ff.fh;
    inarg.kh = ff.kh;
    inarg.events = table.map_or(u32::MAX, |t| t.events());
    // Ask for a notification only if someone will wait for it.
    if table.is_some() && conn.poll_register(ff.clone()).is_ok() {
        inarg.flags |= b::FUSE_POLL_SCHEDULE_NOTIFY;
    }
    let args = match Args::new(
        op::POLL,
        ff.nodeid,
        &inarg,
        OutSpec::fixed(size_of::<b::fuse_poll_out>()),
    ) {
        Ok(a) => a,
        Err(_) => return poll::ERR,
    };
    match conn.send(args) {
        Ok(r) => r.get::<b::fuse_poll_out>().revents,
        Err(e) if e == enosys() => {
            conn.set_lacks(Unsupported::Poll);
            DEFAULT_MASK
        }
        Err(_) => poll::ERR,
    }
}
