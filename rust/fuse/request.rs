// SPDX-License-Identifier: GPL-2.0

//! One FUSE request (the C module's `struct fuse_req` with its `fuse_args`).
//!
//! A request owns its input arguments and its reply buffer; the waiter and the queues share it
//! by reference count. Its phase changes under its own lock, each change a method:
//!
//! ```text
//! Pending --(reader takes it)--> Reading --(copied to the daemon)--> Sent
//! Sent --(writer takes it)--> Writing --(reply parsed)--> Finished
//! any phase --(abort, error, waiter killed while pending)--> Finished
//! ```
//!
//! Because nothing of the request lives on the waiter's stack, a waiter killed after the
//! daemon read its request can leave; the late reply lands in the request's own buffer.

use super::proto::{self, Wire};
use crate::bindings;
use crate::kernel_ext::iov_iter::IovIter;
use crate::kernel_ext::wait::{wait_queue, WaitQueue};
use core::sync::atomic::AtomicBool;
use kernel::{
    new_mutex, new_spinlock,
    prelude::*,
    sync::{Arc, Mutex, SpinLock},
};

/// Where a request is in its life.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Built, not queued yet (or waiting for a background slot).
    New,
    /// In the input queue.
    Pending,
    /// Being copied to the daemon by a reader.
    Reading,
    /// In a processing queue, waiting for the daemon's reply.
    Sent,
    /// Its reply is being copied in by a writer.
    Writing,
    /// Done: the result is final.
    Finished,
}

/// What is expected of the daemon's reply payload.
#[derive(Clone, Copy)]
pub(crate) struct OutSpec {
    /// Bytes of the reply (all arguments together).
    pub(crate) size: usize,
    /// Whether the last argument may be shorter (`out_argvar`), down to `size - last`.
    pub(crate) var_last: Option<usize>,
}

impl OutSpec {
    /// No reply payload.
    pub(crate) const NONE: OutSpec = OutSpec {
        size: 0,
        var_last: None,
    };

    /// Exactly `size` bytes.
    pub(crate) const fn fixed(size: usize) -> OutSpec {
        OutSpec {
            size,
            var_last: None,
        }
    }

    /// Any length up to `size` bytes.
    pub(crate) const fn up_to(size: usize) -> OutSpec {
        OutSpec {
            size,
            var_last: Some(size),
        }
    }

    /// Whether a payload of `len` bytes is acceptable (the C module's `copy_out_args()`).
    pub(crate) fn accepts(&self, len: usize) -> bool {
        if len > self.size {
            return false;
        }
        match self.var_last {
            None => len == self.size,
            Some(last) => self.size - len <= last,
        }
    }
}

/// The finishing step of a background request, run once when it ends.
pub(crate) trait RequestEnd: Send + Sync {
    /// Called with the request's result: the reply payload or a negative errno.
    fn end(&self, conn: &super::conn::Conn, result: core::result::Result<&[u8], i32>);
}

/// What a request's sender fills in.
pub(crate) struct Args {
    /// The opcode.
    pub(crate) opcode: u32,
    /// The node the request is about.
    pub(crate) nodeid: u64,
    /// The input arguments, concatenated.
    pub(crate) input: KVVec<u8>,
    /// The expected reply.
    pub(crate) out: OutSpec,
    /// Skip the credentials (INIT), sending uid, gid and pid 0.
    pub(crate) nocreds: bool,
    /// Sent even when interrupted or when the connection is not initialised (FLUSH, RELEASE,
    /// INIT): the C module's `force`.
    pub(crate) force: bool,
    /// Bytes of request extensions at the end of `input` (a multiple of 8).
    pub(crate) ext_len: usize,
    /// The daemon does not answer: the request ends once the daemon has read it
    /// (NOTIFY_REPLY, sent with the daemon's own `unique`, `reply_unique`).
    pub(crate) noreply: bool,
    /// The unique id the daemon sees, if not the request's own.
    pub(crate) reply_unique: u64,
}

impl Args {
    /// Arguments made of one structure.
    pub(crate) fn new<I: Wire>(opcode: u32, nodeid: u64, input: &I, out: OutSpec) -> Result<Self> {
        Self::from_parts(opcode, nodeid, &[input.as_bytes()], out)
    }

    /// Empty arguments, to leave behind when moving some out.
    pub(crate) fn empty() -> Self {
        Self {
            opcode: 0,
            nodeid: 0,
            input: KVVec::new(),
            out: OutSpec::NONE,
            nocreds: false,
            force: false,
            ext_len: 0,
            noreply: false,
            reply_unique: 0,
        }
    }

    /// Arguments made of several byte strings.
    pub(crate) fn from_parts(
        opcode: u32,
        nodeid: u64,
        parts: &[&[u8]],
        out: OutSpec,
    ) -> Result<Self> {
        let mut input = KVVec::new();
        for p in parts {
            input.extend_from_slice(p, GFP_KERNEL)?;
        }
        Ok(Self {
            opcode,
            nodeid,
            input,
            out,
            ..Self::empty()
        })
    }

    /// Appends up to `len` bytes from `from` to the input; returns how many were copied (short
    /// on a fault).
    pub(crate) fn append_from(&mut self, from: &mut IovIter, len: usize) -> Result<usize> {
        let start = self.input.len();
        self.input.extend_with(len, 0, GFP_KERNEL)?;
        let n = from.copy_from(&mut self.input[start..]);
        // A fault may cut the copy short: keep only what was copied.
        self.truncate_input(start + n);
        Ok(n)
    }

    /// Appends request extensions (`fuse_ext_header` records), counted in the header's
    /// `total_extlen`.
    pub(crate) fn append_ext(&mut self, ext: &[u8]) -> Result {
        self.input.extend_from_slice(ext, GFP_KERNEL)?;
        self.ext_len += ext.len();
        Ok(())
    }

    /// Shrinks the arguments to what a daemon of protocol 7.`minor` expects (C's
    /// `fuse_adjust_compat()`, applied once INIT has ended): shorter entry and attribute
    /// replies before 7.9, a shorter statfs reply before 7.4, shorter CREATE and MKNOD
    /// arguments before 7.12. Callers build every request with the current sizes.
    pub(crate) fn adjust_compat(&mut self, minor: u32) {
        use core::mem::size_of;
        use proto::op;
        let shrink = |out: &mut OutSpec, by: usize| {
            out.size = out.size.saturating_sub(by);
        };
        if minor < 4 && self.opcode == op::STATFS {
            self.out = OutSpec::fixed(bindings::FUSE_COMPAT_STATFS_SIZE as usize);
        }
        if minor < 9 {
            let entry = size_of::<bindings::fuse_entry_out>()
                - bindings::FUSE_COMPAT_ENTRY_OUT_SIZE as usize;
            let attr =
                size_of::<bindings::fuse_attr_out>() - bindings::FUSE_COMPAT_ATTR_OUT_SIZE as usize;
            match self.opcode {
                op::LOOKUP | op::CREATE | op::MKNOD | op::MKDIR | op::SYMLINK | op::LINK => {
                    shrink(&mut self.out, entry)
                }
                op::GETATTR | op::SETATTR => shrink(&mut self.out, attr),
                _ => {}
            }
        }
        if minor < 12 && (self.opcode == op::CREATE || self.opcode == op::MKNOD) {
            // `fuse_create_in` loses `umask` and `open_flags`, `fuse_mknod_in` `umask` and
            // its padding: the 8 bytes after the first 8.
            let mut input = KVVec::new();
            if input
                .extend_from_slice(self.input.get(..8).unwrap_or(&[]), GFP_KERNEL)
                .and_then(|()| {
                    input.extend_from_slice(self.input.get(16..).unwrap_or(&[]), GFP_KERNEL)
                })
                .is_ok()
            {
                self.input = input;
            }
        }
    }

    /// Shortens the input to `len` bytes (a longer `len` changes nothing).
    pub(crate) fn truncate_input(&mut self, len: usize) {
        if len < self.input.len() {
            // SAFETY: `len` is less than the length, and `u8` needs no drop.
            unsafe { self.input.set_len(len) };
        }
    }

    /// Overwrites input bytes at `offset` (e.g. the size field of a WRITE after a short copy).
    pub(crate) fn patch(&mut self, offset: usize, bytes: &[u8]) {
        if let Some(dst) = self.input.get_mut(offset..offset + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
    }
}

/// Mutable state of a request, under its lock.
struct State {
    phase: Phase,
    unique: u64,
    /// Negative errno, or 0.
    error: i32,
    /// Bytes of reply payload in the reply buffer.
    out_len: usize,
    /// A signal arrived while waiting: send FUSE_INTERRUPT once the daemon has the request.
    interrupted: bool,
    /// The request is in the interrupt queue.
    intr_queued: bool,
}

/// One request.
#[pin_data]
pub(crate) struct Request {
    pub(crate) opcode: u32,
    pub(crate) nodeid: u64,
    uid: u32,
    gid: u32,
    pid: u32,
    input: KVVec<u8>,
    pub(crate) out: OutSpec,
    pub(crate) force: bool,
    /// Bytes of request extensions at the end of the input.
    ext_len: usize,
    /// Ends once read by the daemon (see [`Args::noreply`]).
    pub(crate) noreply: bool,
    /// The unique id the daemon sees, if not 0.
    reply_unique: u64,
    /// Counted in `num_background`, with a slot released when it ends.
    pub(crate) background: AtomicBool,
    /// The finishing step of an asynchronous request.
    pub(crate) end: Option<Arc<dyn RequestEnd>>,
    #[pin]
    state: SpinLock<State>,
    #[pin]
    reply: Mutex<KVVec<u8>>,
    #[pin]
    pub(crate) waitq: WaitQueue,
}

/// Credentials to send with a request: uid, gid (in the connection's namespace) and pid.
pub(crate) struct Creds {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) pid: u32,
}

impl Request {
    /// Builds a request; its reply buffer is allocated now, so replies never allocate.
    pub(crate) fn new(
        args: Args,
        creds: Creds,
        end: Option<Arc<dyn RequestEnd>>,
    ) -> Result<Arc<Request>> {
        let reply = KVVec::from_elem(0u8, args.out.size, GFP_KERNEL)?;
        Arc::pin_init(
            pin_init!(Request {
                opcode: args.opcode,
                nodeid: args.nodeid,
                uid: creds.uid,
                gid: creds.gid,
                pid: creds.pid,
                input: args.input,
                out: args.out,
                force: args.force,
                ext_len: args.ext_len,
                noreply: args.noreply,
                reply_unique: args.reply_unique,
                background: AtomicBool::new(false),
                end,
                state <- new_spinlock!(State {
                    phase: Phase::New,
                    unique: 0,
                    error: 0,
                    out_len: 0,
                    interrupted: false,
                    intr_queued: false,
                }),
                reply <- new_mutex!(reply),
                waitq <- wait_queue!("fuse_req.waitq"),
            }),
            GFP_KERNEL,
        )
    }

    /// The total size the daemon reads: header and arguments.
    pub(crate) fn wire_len(&self) -> usize {
        core::mem::size_of::<bindings::fuse_in_header>() + self.input.len()
    }

    /// The header the daemon reads.
    pub(crate) fn header(&self) -> bindings::fuse_in_header {
        let mut h = bindings::fuse_in_header::zeroed();
        h.len = self.wire_len() as u32;
        h.opcode = self.opcode;
        h.unique = if self.reply_unique != 0 {
            self.reply_unique
        } else {
            self.unique()
        };
        h.nodeid = self.nodeid;
        h.uid = self.uid;
        h.gid = self.gid;
        h.pid = self.pid;
        h.total_extlen = (self.ext_len / 8) as u16;
        h
    }

    /// The input arguments.
    pub(crate) fn input(&self) -> &[u8] {
        &self.input
    }

    /// The unique id (0 until queued).
    pub(crate) fn unique(&self) -> u64 {
        self.state.lock().unique
    }

    /// The current phase.
    pub(crate) fn phase(&self) -> Phase {
        self.state.lock().phase
    }

    /// Whether the request has ended.
    pub(crate) fn finished(&self) -> bool {
        self.phase() == Phase::Finished
    }

    /// Queued with `unique`.
    pub(crate) fn set_pending(&self, unique: u64) {
        let mut s = self.state.lock();
        s.unique = unique;
        s.phase = Phase::Pending;
    }

    /// Moves from `from` to `to`; `false` if the request was not in `from`.
    pub(crate) fn transition(&self, from: Phase, to: Phase) -> bool {
        let mut s = self.state.lock();
        if s.phase != from {
            return false;
        }
        s.phase = to;
        true
    }

    /// Records that a signal interrupted the wait; returns whether the daemon already has
    /// the request (then a FUSE_INTERRUPT must be queued).
    pub(crate) fn mark_interrupted(&self) -> bool {
        let mut s = self.state.lock();
        s.interrupted = true;
        s.phase == Phase::Sent
    }

    /// Whether the wait was interrupted.
    pub(crate) fn interrupted(&self) -> bool {
        self.state.lock().interrupted
    }

    /// Marks the request as queued for an interrupt unless it is, or has ended.
    pub(crate) fn take_intr_slot(&self) -> bool {
        let mut s = self.state.lock();
        if s.intr_queued || s.phase == Phase::Finished {
            return false;
        }
        s.intr_queued = true;
        true
    }

    /// Clears the interrupt-queued mark; returns whether it was set.
    pub(crate) fn clear_intr_slot(&self) -> bool {
        core::mem::replace(&mut self.state.lock().intr_queued, false)
    }

    /// Copies the reply payload in with `fill` (a writer in phase `Writing`).
    pub(crate) fn fill_reply(&self, len: usize, fill: impl FnOnce(&mut [u8]) -> Result) -> Result {
        // The buffer is filled outside its lock: filling copies from the daemon's memory and
        // may fault (`mmap_lock`), while a sender may wait for the reply under `mmap_lock`
        // (a mapping's `close` writes dirty pages back). Only the one reply writer fills it.
        let mut buf = core::mem::replace(&mut *self.reply.lock(), KVVec::new());
        let result = match buf.get_mut(..len) {
            Some(dst) => fill(dst),
            None => Err(EINVAL),
        };
        *self.reply.lock() = buf;
        result?;
        self.state.lock().out_len = len;
        Ok(())
    }

    /// Ends the request with `error` (0 for success); `false` if it had ended already.
    pub(crate) fn finish(&self, error: i32) -> bool {
        let mut s = self.state.lock();
        if s.phase == Phase::Finished {
            return false;
        }
        s.phase = Phase::Finished;
        s.error = error;
        if error != 0 {
            s.out_len = 0;
        }
        true
    }

    /// Takes the reply payload out of an ended request, or its error.
    pub(crate) fn take_reply(&self) -> Result<Reply> {
        let (error, len) = {
            let s = self.state.lock();
            (s.error, s.out_len)
        };
        if error != 0 {
            return Err(Error::from_errno(error));
        }
        let buf = core::mem::replace(&mut *self.reply.lock(), KVVec::new());
        Ok(Reply { buf, len })
    }

    /// Whether this opcode's too-big requests fail with `E2BIG` rather than `EIO`.
    pub(crate) fn too_big_error(&self) -> i32 {
        if self.opcode == proto::op::SETXATTR {
            E2BIG.to_errno()
        } else {
            EIO.to_errno()
        }
    }
}

/// The payload of a successful reply.
pub(crate) struct Reply {
    buf: KVVec<u8>,
    len: usize,
}

impl Reply {
    /// The payload's bytes.
    pub(crate) fn data(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// The payload as a protocol structure (zero-extended if the reply was shorter).
    pub(crate) fn get<T: Wire>(&self) -> T {
        T::from_prefix(self.data())
    }
}
