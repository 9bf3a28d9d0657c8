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
use crate::kernel_ext::inline_vec::InlineVec;
use crate::kernel_ext::iov_iter::{IovIter, IterPages, ReadBuf};
use crate::kernel_ext::set_once::SetOnce;
use crate::kernel_ext::task;
use crate::kernel_ext::wait::{wait_queue, WaitQueue};
use core::sync::atomic::{
    AtomicBool, AtomicI32, AtomicU64, AtomicU8,
    Ordering::{self, SeqCst},
};
use kernel::alloc::allocator::KVmalloc;
use kernel::{
    list::{AtomicTracker, List, ListArc, ListLinks, TryNewListArc},
    prelude::*,
    sync::{Arc, UniqueArc},
};

/// Where a request is in its life.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
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

/// The phase of a request being finished: its result is being recorded, after which it is
/// `Finished`. Only [`Request::finish`] sets it, so no transition starts from it.
const ENDING: u8 = u8::MAX;

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

/// The finishing step of a request, run once when it ends.
pub(crate) trait RequestEnd: Send + Sync {
    /// Called with the request's result: the reply payload (empty if [`RequestEnd::fill`]
    /// took it) or a negative errno.
    fn end(&self, conn: &super::conn::Conn, result: core::result::Result<&[u8], i32>);

    /// Takes the reply payload of `len` bytes straight from the daemon's buffer to where it
    /// goes (a READ's folios), or returns `None` to have it kept in the request, as most
    /// requests do. Called at most once, by the reply's writer, before [`RequestEnd::end`].
    fn fill(&self, _from: &mut IovIter, _len: usize) -> Option<Result> {
        None
    }
}

/// Input arguments up to this size are kept inside the request: every fixed-size argument
/// and the usual names; longer ones (WRITE data, long names, xattr values) go to the heap.
const INLINE_ARGS: usize = 128;

/// The input arguments of a request, concatenated: inside for short ones, else on the heap
/// (only when needed: dropping even an empty `KVVec` calls the allocator).
pub(crate) struct ArgBuf(InlineVec<u8, INLINE_ARGS, KVmalloc>);

impl ArgBuf {
    const fn new() -> ArgBuf {
        ArgBuf(InlineVec::new(0))
    }

    /// The bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        self.0.as_slice()
    }

    /// The bytes, to change.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        self.0.as_mut_slice()
    }

    /// The number of bytes.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Appends `bytes`.
    pub(crate) fn extend(&mut self, bytes: &[u8]) -> Result {
        self.0.extend_from_slice(bytes, GFP_KERNEL)
    }

    /// Appends up to `len` bytes from `from`; returns how many (short on a fault).
    fn append_from(&mut self, from: &mut IovIter, len: usize) -> Result<usize> {
        from.append_up_to(self.0.heap(len, GFP_KERNEL)?, len)
    }

    /// Shortens the arguments to `len` bytes (a longer `len` changes nothing).
    fn truncate(&mut self, len: usize) {
        self.0.truncate(len)
    }

    /// Removes the bytes `start..end`.
    fn cut(&mut self, start: usize, end: usize) {
        let len = self.len();
        if start >= end || end > len {
            return;
        }
        self.as_mut_slice().copy_within(end..len, start);
        self.truncate(len - (end - start));
    }
}

/// What a request's sender fills in (the C module's `struct fuse_args`), kept inside the
/// request.
pub(crate) struct FuseArgs {
    /// The opcode.
    pub(crate) opcode: u32,
    /// The node the request is about.
    pub(crate) nodeid: u64,
    /// The input arguments, concatenated.
    pub(crate) input: ArgBuf,
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
    /// Data left in the sender's pages, which the daemon's read copies after `input`
    /// (WRITE; never with extensions, which come last).
    data: Option<IterPages>,
}

/// A request being built: its arguments are written straight into the request, which is
/// allocated when it is started, so that sending it hands it over without a copy (a
/// request's arguments and reply are a few hundred bytes).
///
/// It derefs to the [`FuseArgs`] being filled in.
pub(crate) struct Args(Pin<UniqueArc<Request>>);

impl core::ops::Deref for Args {
    type Target = FuseArgs;

    fn deref(&self) -> &FuseArgs {
        &self.0.args
    }
}

impl core::ops::DerefMut for Args {
    fn deref_mut(&mut self) -> &mut FuseArgs {
        self.unpinned().args
    }
}

/// The fields of a request being built that its sender sets: none of them is pinned.
struct Unpinned<'a> {
    args: &'a mut FuseArgs,
    created: &'a mut u64,
    creds: &'a mut Creds,
    end: &'a mut Option<Arc<dyn RequestEnd>>,
    waited: &'a mut bool,
}

/// Data of at least this many bytes is left in the sender's pages rather than copied into
/// the request (see [`Args::append_data`]).
const PAGE_DATA_MIN: usize = 1024;

impl Args {
    /// Arguments made of one structure.
    pub(crate) fn new<I: Wire>(opcode: u32, nodeid: u64, input: &I, out: OutSpec) -> Result<Self> {
        Self::from_parts(opcode, nodeid, &[input.as_bytes()], out)
    }

    /// Arguments made of several byte strings, in a new request: its one allocation.
    pub(crate) fn from_parts(
        opcode: u32,
        nodeid: u64,
        parts: &[&[u8]],
        out: OutSpec,
    ) -> Result<Self> {
        let mut args = Args(UniqueArc::pin_init(
            Request::init(opcode, nodeid, out),
            GFP_KERNEL,
        )?);
        for p in parts {
            args.input.extend(p)?;
        }
        Ok(args)
    }

    /// The fields to fill in.
    fn unpinned(&mut self) -> Unpinned<'_> {
        // SAFETY: Only fields that are not structurally pinned (no `#[pin]`) are handed out,
        // so nothing pinned can be moved through them.
        let r = unsafe { self.0.as_mut().get_unchecked_mut() };
        Unpinned {
            args: &mut r.args,
            created: &mut r.created,
            creds: &mut r.creds,
            end: &mut r.end,
            waited: &mut r.waited,
        }
    }
}

impl FuseArgs {
    /// Appends up to `len` bytes from `from` to the input; returns how many were copied (short
    /// on a fault).
    pub(crate) fn append_from(&mut self, from: &mut IovIter, len: usize) -> Result<usize> {
        self.input.append_from(from, len)
    }

    /// Appends up to `len` bytes of data from `from` and advances it (short where its memory
    /// ends or faults); returns how many. Long data stays in the pages behind `from`,
    /// referenced until the request goes, and the daemon's read copies it from there, as the C
    /// module's direct writes do; short data, or data whose pages cannot be had, is copied
    /// into the request. Once per request, before any extension.
    pub(crate) fn append_data(&mut self, from: &mut IovIter, len: usize) -> Result<usize> {
        if len >= PAGE_DATA_MIN && self.data.is_none() && self.ext_len == 0 {
            if let Ok(pages) = from.get_pages(len) {
                let n = pages.len();
                self.data = Some(pages);
                return Ok(n);
            }
        }
        self.append_from(from, len)
    }

    /// The pages of data that come after `input`, made empty if there are none yet
    /// (page-cache data that write-back copies in). Never with extensions.
    pub(crate) fn data_pages(&mut self) -> &mut IterPages {
        self.data.get_or_insert_with(IterPages::new)
    }

    /// Appends request extensions (`fuse_ext_header` records), counted in the header's
    /// `total_extlen`.
    pub(crate) fn append_ext(&mut self, ext: &[u8]) -> Result {
        self.input.extend(ext)?;
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
            self.input.cut(8, 16);
        }
    }

    /// Shortens the input and the data after it to `len` bytes in all (a longer `len`
    /// changes nothing).
    pub(crate) fn truncate(&mut self, len: usize) {
        let input = self.input.len();
        self.input.truncate(len);
        if let Some(d) = &mut self.data {
            d.truncate(len.saturating_sub(input));
        }
    }

    /// Overwrites input bytes at `offset` (e.g. the size field of a WRITE after a short copy).
    pub(crate) fn patch(&mut self, offset: usize, bytes: &[u8]) {
        if let Some(dst) = self
            .input
            .as_mut_slice()
            .get_mut(offset..offset + bytes.len())
        {
            dst.copy_from_slice(bytes);
        }
    }
}

/// Reply payloads up to this size are kept inside the request (every fixed-size reply of
/// the protocol but STATX's); longer ones get a buffer of exactly their length when they
/// arrive, never before.
const INLINE_REPLY: usize = 160;

/// The changing state of a request: atomics, so that a request costs no lock of its own.
/// Every access is sequentially consistent: the interrupt marks pair with the phase (a
/// waiter marks `interrupted`, then reads the phase; a reader moves the phase to `Sent`,
/// then reads `interrupted`, so that one of them sees the other).
struct State {
    /// A [`Phase`], or [`ENDING`].
    phase: AtomicU8,
    /// Negative errno, or 0; set before the phase becomes `Finished`.
    error: AtomicI32,
    /// A signal arrived while waiting: send FUSE_INTERRUPT once the daemon has the request.
    interrupted: AtomicBool,
    /// The request is in the interrupt queue.
    intr_queued: AtomicBool,
}

/// One request.
///
/// A request is in at most one of the connection's queues of requests (pending,
/// background, a processing queue: links 0) and, besides, in the interrupt queue (links 1).
/// The queues are intrusive lists: queueing never allocates.
#[pin_data]
pub(crate) struct Request {
    /// What the sender filled in.
    pub(crate) args: FuseArgs,
    /// The credentials sent with it.
    creds: Creds,
    /// When it was made, in jiffies (for the request timeouts, `timeout.rs`).
    created: u64,
    /// The unique id, set when the request is queued (0 before).
    unique: AtomicU64,
    /// A task waits for the request's end on `waitq`.
    waited: bool,
    /// Counted in `num_background`, with a slot released when it ends.
    pub(crate) background: AtomicBool,
    /// The finishing step of an asynchronous request.
    pub(crate) end: Option<Arc<dyn RequestEnd>>,
    /// The reply payload, set once by the writer in phase `Writing` and read after the end:
    /// the waiter reads it in place, without a lock or a copy.
    reply: SetOnce<Reply>,
    state: State,
    #[pin]
    pub(crate) waitq: WaitQueue,
    #[pin]
    links: ListLinks<0>,
    #[pin]
    intr_links: ListLinks<1>,
    #[pin]
    in_queue: AtomicTracker<0>,
    #[pin]
    in_intr_queue: AtomicTracker<1>,
}

kernel::list::impl_has_list_links! {
    impl HasListLinks<0> for Request { self.links }
    impl HasListLinks<1> for Request { self.intr_links }
}
kernel::list::impl_list_arc_safe! {
    impl ListArcSafe<0> for Request { tracked_by in_queue: AtomicTracker<0>; }
    impl ListArcSafe<1> for Request { tracked_by in_intr_queue: AtomicTracker<1>; }
}
kernel::list::impl_list_item! {
    impl ListItem<0> for Request { using ListLinks; }
    impl ListItem<1> for Request { using ListLinks; }
}

/// A queue of requests: pending, background or one bucket of a processing queue.
pub(crate) type ReqList = List<Request, 0>;
/// The queue's own reference to a request in a [`ReqList`].
pub(crate) type Queued = ListArc<Request, 0>;
/// The interrupt queue.
pub(crate) type IntrList = List<Request, 1>;

/// Credentials to send with a request: uid, gid (in the connection's namespace) and pid.
pub(crate) struct Creds {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) pid: u32,
}

/// Whether a task waits for a request's end, or only its end step runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waiter {
    /// The sender waits (`Conn::send`, `Conn::send_with_end`).
    Task,
    /// Nobody waits: background requests and those without reply.
    None,
}

impl Request {
    /// A new request with no input yet, to be built in place (see [`Args`]).
    fn init(opcode: u32, nodeid: u64, out: OutSpec) -> impl PinInit<Request> {
        pin_init!(Request {
            args: FuseArgs {
                opcode,
                nodeid,
                input: ArgBuf::new(),
                out,
                nocreds: false,
                force: false,
                ext_len: 0,
                noreply: false,
                reply_unique: 0,
                data: None,
            },
            creds: Creds {
                uid: 0,
                gid: 0,
                pid: 0,
            },
            created: 0,
            unique: AtomicU64::new(0),
            waited: false,
            background: AtomicBool::new(false),
            end: None,
            reply: SetOnce::new(),
            state: State {
                phase: AtomicU8::new(Phase::New as u8),
                error: AtomicI32::new(0),
                interrupted: AtomicBool::new(false),
                intr_queued: AtomicBool::new(false),
            },
            waitq <- wait_queue!("fuse_req.waitq"),
            links <- ListLinks::new(),
            intr_links <- ListLinks::new(),
            in_queue <- AtomicTracker::new(),
            in_intr_queue <- AtomicTracker::new(),
        })
    }

    /// The request built in `args`, to be queued: sent with `creds`, ended by `end`, waited
    /// for or not. Its reply buffer comes with the reply.
    pub(crate) fn new(
        mut args: Args,
        creds: Creds,
        end: Option<Arc<dyn RequestEnd>>,
        waiter: Waiter,
    ) -> Arc<Request> {
        let u = args.unpinned();
        *u.created = task::jiffies64();
        *u.creds = creds;
        *u.end = end;
        *u.waited = waiter == Waiter::Task;
        args.0.into()
    }

    /// The queue's reference to a request that is in no queue.
    pub(crate) fn queued(req: &Arc<Request>) -> Option<Queued> {
        ListArc::try_from_arc(req.clone()).ok()
    }

    /// The total size the daemon reads: header and arguments.
    pub(crate) fn wire_len(&self) -> usize {
        core::mem::size_of::<bindings::fuse_in_header>()
            + self.args.input.len()
            + self.args.data.as_ref().map_or(0, |d| d.len())
    }

    /// The header the daemon reads.
    pub(crate) fn header(&self) -> bindings::fuse_in_header {
        let mut h = bindings::fuse_in_header::zeroed();
        h.len = self.wire_len() as u32;
        h.opcode = self.args.opcode;
        h.unique = if self.args.reply_unique != 0 {
            self.args.reply_unique
        } else {
            self.unique()
        };
        h.nodeid = self.args.nodeid;
        h.uid = self.creds.uid;
        h.gid = self.creds.gid;
        h.pid = self.creds.pid;
        h.total_extlen = (self.args.ext_len / 8) as u16;
        h
    }

    /// The input arguments.
    pub(crate) fn input(&self) -> &[u8] {
        self.args.input.as_slice()
    }

    /// The data left in pages, which comes after the input.
    pub(crate) fn data_pages(&self) -> Option<&IterPages> {
        self.args.data.as_ref()
    }

    /// Copies the header and the input arguments, not the data in pages, to `to`.
    pub(crate) fn copy_head_to(&self, to: &mut IovIter) -> Result {
        to.copy_all_to(self.header().as_bytes())?;
        to.copy_all_to(self.input())
    }

    /// Copies the header and the arguments, data included, to the daemon's buffer.
    pub(crate) fn copy_to(&self, to: &mut IovIter) -> Result {
        self.copy_head_to(to)?;
        match &self.args.data {
            Some(data) => data.copy_to(to),
            None => Ok(()),
        }
    }

    /// Whether the request was made more than `timeout` jiffies before `now`.
    pub(crate) fn older_than(&self, now: u64, timeout: u64) -> bool {
        now.wrapping_sub(self.created) > timeout
    }

    /// The unique id (0 until queued).
    pub(crate) fn unique(&self) -> u64 {
        // Set before the request enters the input queue, whose lock orders it for readers.
        self.unique.load(Ordering::Relaxed)
    }

    /// Marks the request as given to the daemon again ([`proto::UNIQUE_RESEND`] in its unique
    /// id). Called under the input queue's lock, before the request re-enters it.
    pub(crate) fn mark_resend(&self) {
        self.unique
            .fetch_or(proto::UNIQUE_RESEND, Ordering::Relaxed);
    }

    /// Whether the request has ended.
    pub(crate) fn finished(&self) -> bool {
        self.state.phase.load(SeqCst) == Phase::Finished as u8
    }

    /// Whether the request has ended or is ending.
    fn ended(&self) -> bool {
        let p = self.state.phase.load(SeqCst);
        p == Phase::Finished as u8 || p == ENDING
    }

    /// Queued with `unique`.
    pub(crate) fn set_pending(&self, unique: u64) {
        self.unique.store(unique, Ordering::Relaxed);
        self.state.phase.store(Phase::Pending as u8, SeqCst);
    }

    /// Moves from `from` to `to`; `false` if the request was not in `from`.
    pub(crate) fn transition(&self, from: Phase, to: Phase) -> bool {
        self.state
            .phase
            .compare_exchange(from as u8, to as u8, SeqCst, SeqCst)
            .is_ok()
    }

    /// Records that a signal interrupted the wait; returns whether the daemon already has
    /// the request (then a FUSE_INTERRUPT must be queued).
    pub(crate) fn mark_interrupted(&self) -> bool {
        self.state.interrupted.store(true, SeqCst);
        self.state.phase.load(SeqCst) == Phase::Sent as u8
    }

    /// Whether the wait was interrupted.
    pub(crate) fn interrupted(&self) -> bool {
        self.state.interrupted.load(SeqCst)
    }

    /// Marks the request as queued for an interrupt unless it is, or has ended. Called under
    /// the input queue's lock, which [`Conn::end_request`] takes to dequeue it.
    ///
    /// [`Conn::end_request`]: super::conn::Conn::end_request
    pub(crate) fn take_intr_slot(&self) -> bool {
        if self.state.intr_queued.swap(true, SeqCst) {
            return false;
        }
        // Set before looking at the phase: a request ending meanwhile either sees the mark
        // (and dequeues it after us) or has its phase seen here.
        if self.ended() {
            self.state.intr_queued.store(false, SeqCst);
            return false;
        }
        true
    }

    /// Clears the interrupt-queued mark; returns whether it was set.
    pub(crate) fn clear_intr_slot(&self) -> bool {
        self.state.intr_queued.swap(false, SeqCst)
    }

    /// Copies the reply payload of `len` bytes from the daemon's buffer (a writer in phase
    /// `Writing`): straight to where it goes if the end step takes it (a READ's folios),
    /// else into the request.
    pub(crate) fn fill_reply(&self, from: &mut IovIter, len: usize) -> Result {
        if let Some(filled) = self.end.as_ref().and_then(|end| end.fill(from, len)) {
            return filled;
        }
        // One writer takes a request for its reply (phase `Writing`), so the cell is empty.
        // Never more than the request asked for (`OutSpec::accepts`), so bounded by it.
        let set = self.reply.populate_with(Reply::read(from, len))?;
        debug_assert!(set, "a request's reply is written once");
        Ok(())
    }

    /// Whether a task waits for the request (else its end step, if any, is all).
    pub(crate) fn waited(&self) -> bool {
        self.waited
    }

    /// Ends the request with `error` (0 for success); `false` if it had ended already.
    pub(crate) fn finish(&self, error: i32) -> bool {
        let phase = &self.state.phase;
        let mut cur = phase.load(SeqCst);
        loop {
            if cur == Phase::Finished as u8 || cur == ENDING {
                return false;
            }
            match phase.compare_exchange(cur, ENDING, SeqCst, SeqCst) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        self.state.error.store(error, SeqCst);
        phase.store(Phase::Finished as u8, SeqCst);
        true
    }

    /// The result of an ended request: its error, if any.
    pub(crate) fn result(&self) -> Result {
        match self.state.error.load(SeqCst) {
            0 => Ok(()),
            e => Err(Error::from_errno(e)),
        }
    }

    /// The reply payload (empty if there was none, or it went to the end step).
    pub(crate) fn reply_data(&self) -> &[u8] {
        self.reply.as_ref().map_or(&[], Reply::as_slice)
    }

    /// Whether this opcode's too-big requests fail with `E2BIG` rather than `EIO`.
    pub(crate) fn too_big_error(&self) -> i32 {
        if self.args.opcode == proto::op::SETXATTR {
            E2BIG.to_errno()
        } else {
            EIO.to_errno()
        }
    }
}

/// The payload of a successful reply: inside for short ones, else in a buffer of its size
/// (see [`ArgBuf`]), read in place by [`ReadBuf::read`].
pub(crate) type Reply = ReadBuf<INLINE_REPLY>;

/// The answer to a request that ended well: its reply payload, read in place in the request.
pub(crate) struct Answer(Arc<Request>);

impl Answer {
    /// The answer of `req`, or its error.
    pub(crate) fn of(req: Arc<Request>) -> Result<Answer> {
        req.result()?;
        Ok(Answer(req))
    }

    /// The payload's bytes.
    pub(crate) fn data(&self) -> &[u8] {
        self.0.reply_data()
    }

    /// The payload as a protocol structure (zero-extended if the reply was shorter).
    pub(crate) fn get<T: Wire>(&self) -> T {
        T::from_prefix(self.data())
    }
}
