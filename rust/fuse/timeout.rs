// SPDX-License-Identifier: GPL-2.0

//! Request timeouts (what 6.15 added to the C module, its `req_timeout.c`): a daemon that
//! leaves a request unanswered longer than the connection's timeout has its connection
//! aborted, so that every waiter returns and the mount can be unmounted.
//!
//! The timeout comes from the module parameters `default_request_timeout` and
//! `max_request_timeout` (seconds, 0 = none; 6.15's `fs.fuse.*` sysctls), read when the
//! connection's INIT is answered: the default, capped by the maximum, or the maximum alone.
//! (6.15 also lets a daemon ask for a timeout in INIT, from protocol 7.43; rust_fuse speaks
//! 7.41.) A check runs every [`CHECK_PERIOD`] seconds, or every timeout if that is shorter
//! (6.15 rounds timeouts up to its 15-second period instead): a connection is aborted between
//! one and two periods after its oldest unanswered request was made.

use super::conn::Conn;
use crate::kernel_ext::{module::UintParam, task, workqueue::HasDelayedWork};
use core::sync::atomic::Ordering;

/// The longest time between two checks, in seconds (6.15's `FUSE_TIMEOUT_TIMER_FREQ`).
const CHECK_PERIOD: u32 = 15;

/// The timeout of a new connection in seconds, from the module parameters (C's
/// `init_server_timeout()` for a daemon that asks for none); 0 for none.
fn timeout_secs() -> u32 {
    let default = UintParam::DefaultRequestTimeout.get();
    match UintParam::MaxRequestTimeout.get() {
        0 => default,
        max if default == 0 => max,
        max => default.min(max),
    }
}

/// Starts the checks of a connection whose INIT was just answered, if a timeout applies.
pub(crate) fn start(conn: &Conn) {
    let secs = timeout_secs();
    if secs == 0 {
        return;
    }
    conn.req_timeout.store(
        task::duration_to_jiffies(u64::from(secs), 0),
        Ordering::Release,
    );
    conn.timeout_work.schedule(period(conn));
}

/// The time between two checks, in jiffies.
fn period(conn: &Conn) -> u64 {
    let max = task::duration_to_jiffies(u64::from(CHECK_PERIOD), 0);
    conn.req_timeout.load(Ordering::Acquire).min(max)
}

// SAFETY: `timeout_work` is a `DelayedWork<Conn>` field of `Conn`.
unsafe impl HasDelayedWork for Conn {
    const OFFSET: usize = core::mem::offset_of!(Conn, timeout_work);

    /// One check (C's `fuse_check_timeout()`): aborts the connection if a request waited
    /// too long, else checks again a period later.
    fn run(&self) {
        let timeout = self.req_timeout.load(Ordering::Acquire);
        if timeout == 0 || !self.connected() {
            return;
        }
        if self.has_expired_request(task::jiffies64(), timeout) {
            self.abort(true);
            return;
        }
        self.timeout_work.schedule(period(self));
    }
}
