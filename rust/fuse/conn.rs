// SPDX-License-Identifier: GPL-2.0

//! The connection (the C module's `struct fuse_conn` with its `fuse_iqueue`, `fuse_pqueue`s
//! and background queue): how requests are queued, handed to readers, answered and aborted.
//!
//! Lock order: the device list, then the connection state, then a processing queue, then the
//! input queue, then a request's own lock. No lock is held while copying to or from user
//! memory, and no allocation happens under a spinlock: the request queues are intrusive
//! lists, and the forget queue's nodes are reserved with their inodes.

use super::{
    file::FuseFile,
    fs::FuseFs,
    mount_opts::MountParams,
    proto::{self, Wire},
    request::{Answer, Args, Creds, IntrList, Phase, Queued, ReqList, Request, RequestEnd, Waiter},
};
use crate::bindings as b;
use crate::kernel_ext::{
    cred::UserNamespaceRef,
    error::{econnaborted, econnrefused, enotconn, eoverflow},
    list::take_where,
    set_once::SetOnce,
    spinlock::{new_spinlock, SpinLock, SpinLockGuard},
    super_block::SbSlot,
    task::{self, PidNamespace, Unmapped},
    wait::{self, wait_queue, WaitMode, WaitQueue},
    workqueue::DelayedWork,
};
use core::mem::size_of;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::{
    list::ListArc,
    new_mutex,
    prelude::*,
    rbtree::{RBTree, RBTreeNode, RBTreeNodeReservation},
    sync::{Arc, Mutex},
};

/// The default `max_background` (`FUSE_DEFAULT_MAX_BACKGROUND`).
const DEFAULT_MAX_BACKGROUND: u32 = 12;
/// The default `congestion_threshold` (3/4 of the default `max_background`).
const DEFAULT_CONGESTION_THRESHOLD: u32 = DEFAULT_MAX_BACKGROUND * 3 / 4;
/// The default request size in pages (`FUSE_DEFAULT_MAX_PAGES_PER_REQ`).
const DEFAULT_MAX_PAGES: u32 = 32;
/// The upper limit of `max_pages` (`FUSE_MAX_MAX_PAGES`).
pub(crate) const MAX_MAX_PAGES: u32 = 256;

/// The buckets of a processing queue, by unique id (C's `FUSE_PQ_HASH_SIZE`).
const PQ_HASH: usize = 256;

/// One queued FORGET: node id and lookup count.
#[derive(Clone, Copy)]
pub(crate) struct Forget {
    pub(crate) nodeid: u64,
    pub(crate) nlookup: u64,
}

/// A reserved slot in the forget queue, taken before the inode needs it.
pub(crate) type ForgetSlot = RBTreeNodeReservation<u64, Forget>;

/// The input queue: what readers of `/dev/fuse` take, in order.
struct InputQueue {
    connected: bool,
    next_unique: u64,
    pending: ReqList,
    interrupts: IntrList,
    forgets: RBTree<u64, Forget>,
    next_forget: u64,
    /// How many forgets may still go before a pending request (C's `forget_batch`).
    forget_batch: i32,
}

impl InputQueue {
    /// The next unique id (C's `fuse_get_unique_locked()`).
    fn take_unique(&mut self) -> u64 {
        self.next_unique = self.next_unique.wrapping_add(proto::REQ_ID_STEP);
        self.next_unique
    }

    fn has_work(&self) -> bool {
        !self.pending.is_empty()
            || !self.interrupts.is_empty()
            || self.forgets.iter().next().is_some()
    }
}

/// The input queue, locked ([`Conn::lock_iq`]). Dropping it publishes, under the lock,
/// whether a reader has something to take (`Conn::iq_ready`), so that readers wait for
/// work without taking the lock, as C's `request_pending()` is read without it.
struct IqGuard<'a> {
    iq: SpinLockGuard<'a, InputQueue>,
    ready: &'a AtomicBool,
}

impl core::ops::Deref for IqGuard<'_> {
    type Target = InputQueue;

    fn deref(&self) -> &InputQueue {
        &self.iq
    }
}

impl core::ops::DerefMut for IqGuard<'_> {
    fn deref_mut(&mut self) -> &mut InputQueue {
        &mut self.iq
    }
}

impl Drop for IqGuard<'_> {
    fn drop(&mut self) {
        let ready = !self.iq.connected || self.iq.has_work();
        self.ready.store(ready, Ordering::Release);
    }
}

/// What one look at the input queue found for a reader.
enum Take {
    /// Something to hand over.
    Taken(Taken),
    /// Forgets to send, and no buffer for them yet: allocate one and look again.
    NeedForgetBuffer,
}

/// What a reader took from the input queue.
pub(crate) enum Taken {
    /// The connection is gone (see [`Conn::reader_disconnected_error`]).
    Disconnected,
    /// A FUSE_INTERRUPT for this request.
    Interrupt(Arc<Request>),
    /// One FORGET, with its unique id.
    Forget(u64, Forget),
    /// Several as a BATCH_FORGET, with its unique id.
    Forgets(u64, KVec<Forget>),
    /// A request, with the queues' reference to it (for the processing queue).
    Request(Queued),
}

/// Operations whose ENOSYS answer is remembered for the connection's life.
#[derive(Clone, Copy)]
pub(crate) enum Unsupported {
    /// OPEN: files open without it, and are released without RELEASE.
    Open,
    /// OPENDIR: directories open without it, and without RELEASEDIR.
    OpenDir,
    /// FLUSH: `close()` sends nothing.
    Flush,
    /// STATX: `stat()` uses GETATTR, without birth time.
    Statx,
    /// ACCESS: everything is allowed.
    Access,
    /// CREATE: `open(O_CREAT)` uses MKNOD, then OPEN.
    Create,
    /// TMPFILE: `O_TMPFILE` fails with `EOPNOTSUPP`.
    Tmpfile,
    /// RENAME2: renames with flags fail with `EINVAL`.
    Rename2,
    /// FSYNC: `fsync()` of files succeeds without it.
    Fsync,
    /// FSYNCDIR: `fsync()` of directories succeeds without it.
    FsyncDir,
    /// GETXATTR: `EOPNOTSUPP`.
    GetXattr,
    /// SETXATTR: `EOPNOTSUPP`.
    SetXattr,
    /// LISTXATTR: `EOPNOTSUPP`.
    ListXattr,
    /// REMOVEXATTR: `EOPNOTSUPP`.
    RemoveXattr,
    /// FALLOCATE: `EOPNOTSUPP`.
    Fallocate,
    /// LSEEK: `SEEK_DATA`/`SEEK_HOLE` treat the whole file as data.
    Lseek,
    /// COPY_FILE_RANGE: the copy goes through the page cache.
    CopyFileRange,
    /// POLL: files are always ready.
    Poll,
}

/// Limits and flags negotiated by FUSE_INIT (the C module's `fuse_conn` bit fields).
#[derive(Clone, Copy, Default)]
pub(crate) struct Negotiated {
    pub(crate) minor: u32,
    pub(crate) max_write: u32,
    pub(crate) max_pages: u32,
    pub(crate) async_read: bool,
    pub(crate) atomic_o_trunc: bool,
    pub(crate) do_readdirplus: bool,
    pub(crate) readdirplus_auto: bool,
    pub(crate) auto_inval_data: bool,
    pub(crate) explicit_inval_data: bool,
    pub(crate) parallel_dirops: bool,
    pub(crate) abort_err: bool,
    pub(crate) no_lock: bool,
    pub(crate) no_flock: bool,
    pub(crate) big_writes: bool,
    pub(crate) dont_mask: bool,
    pub(crate) handle_killpriv: bool,
    pub(crate) handle_killpriv_v2: bool,
    pub(crate) setxattr_ext: bool,
    pub(crate) init_security: bool,
    pub(crate) create_supp_group: bool,
    /// Regular files are written through the page cache, in the background
    /// (`FUSE_WRITEBACK_CACHE`): size and times are kept by the kernel.
    pub(crate) writeback_cache: bool,
    /// `FOPEN_DIRECT_IO` files may be mapped shared (`FUSE_DIRECT_IO_ALLOW_MMAP`).
    pub(crate) direct_io_allow_mmap: bool,
}

/// A lock owner and the id the daemon sees for it.
struct LastOwner {
    owner: usize,
    id: u64,
}

/// The connection's state, under its lock.
struct State {
    connected: bool,
    initialized: bool,
    conn_error: bool,
    /// Background requests are at `max_background`: new ones wait.
    blocked: bool,
    num_background: u32,
    active_background: u32,
    max_background: u32,
    congestion_threshold: u32,
    bg_queue: ReqList,
}

/// The processing queue of one attached `/dev/fuse` file: requests the daemon has read and
/// not answered, by unique id.
#[pin_data]
pub(crate) struct ProcessingQueue {
    #[pin]
    inner: SpinLock<PqInner>,
}

struct PqInner {
    connected: bool,
    /// Sent requests, hashed by unique id.
    processing: [ReqList; PQ_HASH],
}

impl PqInner {
    /// The bucket of `unique` (the interrupt bit aside).
    fn bucket(&mut self, unique: u64) -> &mut ReqList {
        // CAST: the remainder is below `PQ_HASH`. Unique ids step by `REQ_ID_STEP` (2).
        &mut self.processing[((unique >> 1) % PQ_HASH as u64) as usize]
    }

    /// Moves every sent request to `to`.
    fn take_all(&mut self, to: &mut ReqList) {
        for bucket in self.processing.iter_mut() {
            to.push_all_back(bucket);
        }
    }
}

impl ProcessingQueue {
    fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(ProcessingQueue {
                inner <- new_spinlock!(PqInner {
                    connected: true,
                    processing: [const { ReqList::new() }; PQ_HASH],
                }),
            }),
            GFP_KERNEL,
        )
    }
}

/// One FUSE connection: a mount and the `/dev/fuse` files attached to it.
#[pin_data]
pub(crate) struct Conn {
    /// The periodic check of the request timeouts (`timeout.rs`); first, so that it is
    /// cancelled before anything else of the connection goes.
    #[pin]
    pub(crate) timeout_work: DelayedWork<Conn>,
    /// How long the daemon may take to answer a request, in jiffies (0: no limit); set
    /// when INIT is answered.
    pub(crate) req_timeout: AtomicU64,
    #[pin]
    iq: SpinLock<InputQueue>,
    /// Whether a reader has something to take, or the queue is disconnected: kept by
    /// [`IqGuard`], read without the lock by waiting readers.
    iq_ready: AtomicBool,
    /// Readers of `/dev/fuse` (exclusive waits) and pollers.
    #[pin]
    iq_wait: WaitQueue,
    #[pin]
    state: SpinLock<State>,
    /// Tasks waiting for INIT, for a background slot, or for the last request to end.
    #[pin]
    blocked_wait: WaitQueue,
    #[pin]
    devices: Mutex<RBTree<usize, Arc<ProcessingQueue>>>,
    /// The daemon answered ENOSYS to an interrupt: stop sending them.
    no_interrupt: AtomicBool,
    /// Operations the daemon answered ENOSYS to (C's `no_open`, `no_access`...): a bit per
    /// [`Unsupported`] value.
    unsupported: AtomicU32,
    /// The key that scrambles lock owner ids (C's `scramble_key`).
    scramble_key: [u32; 4],
    /// The last owner scrambled and its id: a process that closes file after file asks
    /// for the same id at every FLUSH.
    #[pin]
    last_owner: SpinLock<LastOwner>,
    /// Aborted deliberately with ABORT_ERROR negotiated: readers get `ECONNABORTED`.
    aborted: AtomicBool,
    /// The daemon's protocol minor version (0 before INIT).
    minor: AtomicU32,
    /// What INIT negotiated, set once when it ends; read without a lock.
    negotiated: SetOnce<Negotiated>,
    /// The limits and flags in force before INIT (and after a failed INIT).
    before_init: Negotiated,
    /// Aborted (`State::connected` cleared), for a look without the lock.
    disconnected: AtomicBool,
    /// Requests that have not ended (C's `num_waiting`).
    num_waiting: AtomicU32,
    /// Answers to NOTIFY_RETRIEVE queued for the daemon and not read yet (see
    /// `notify::retrieve`).
    pub(crate) retrieves_queued: AtomicU32,
    /// Stamps attribute updates (C's `attr_version`).
    pub(crate) attr_version: AtomicU64,
    /// Counts evictions of linked inodes (C's `evict_ctr`).
    pub(crate) evict_ctr: AtomicU64,
    /// The user namespace of the mount; uids and gids are mapped through it.
    pub(crate) user_ns: UserNamespaceRef,
    /// The pid namespace of the mounter; pids are shown to the daemon in it.
    pub(crate) pid_ns: PidNamespace,
    /// The mount options.
    pub(crate) mount: MountParams,
    /// Files polled with `FUSE_POLL_SCHEDULE_NOTIFY`, by poll key (C's `polled_files`).
    #[pin]
    polled: SpinLock<RBTree<u64, Arc<FuseFile>>>,
    /// The last poll key given out (C's `khctr`).
    khctr: AtomicU64,
    /// The mounted super block, for notifications and request end steps (C's `fc->mounts`
    /// and `killsb`).
    pub(crate) sb: Arc<SbSlot<FuseFs>>,
}

impl Conn {
    /// Creates a connection for a mount with `mount` options in `user_ns`.
    pub(crate) fn new(
        user_ns: &crate::kernel_ext::cred::UserNamespace,
        mount: MountParams,
    ) -> Result<Arc<Conn>> {
        let pid_ns = PidNamespace::current().ok_or(EINVAL)?;
        let sb = SbSlot::new()?;
        let state = State {
            connected: true,
            initialized: false,
            conn_error: false,
            blocked: false,
            num_background: 0,
            active_background: 0,
            max_background: DEFAULT_MAX_BACKGROUND,
            congestion_threshold: DEFAULT_CONGESTION_THRESHOLD,
            bg_queue: ReqList::new(),
        };
        Arc::pin_init(
            pin_init!(Conn {
                timeout_work <- DelayedWork::new(),
                req_timeout: AtomicU64::new(0),
                iq <- new_spinlock!(InputQueue {
                    connected: true,
                    next_unique: 0,
                    pending: ReqList::new(),
                    interrupts: IntrList::new(),
                    forgets: RBTree::new(),
                    next_forget: 0,
                    forget_batch: 16,
                }),
                iq_ready: AtomicBool::new(false),
                iq_wait <- wait_queue!("fuse_iqueue.waitq"),
                state <- new_spinlock!(state),
                blocked_wait <- wait_queue!("fuse_conn.blocked_waitq"),
                devices <- new_mutex!(RBTree::new()),
                no_interrupt: AtomicBool::new(false),
                unsupported: AtomicU32::new(0),
                scramble_key: [
                    task::random_u32(),
                    task::random_u32(),
                    task::random_u32(),
                    task::random_u32(),
                ],
                last_owner <- new_spinlock!(LastOwner { owner: 0, id: 0 }),
                aborted: AtomicBool::new(false),
                minor: AtomicU32::new(0),
                negotiated: SetOnce::new(),
                disconnected: AtomicBool::new(false),
                before_init: Negotiated {
                    max_pages: DEFAULT_MAX_PAGES,
                    max_write: 4096,
                    ..Negotiated::default()
                },
                num_waiting: AtomicU32::new(0),
                retrieves_queued: AtomicU32::new(0),
                attr_version: AtomicU64::new(1),
                evict_ctr: AtomicU64::new(1),
                user_ns: UserNamespaceRef::new(user_ns),
                pid_ns,
                mount,
                polled <- new_spinlock!(RBTree::new()),
                khctr: AtomicU64::new(0),
                sb,
            }),
            GFP_KERNEL,
        )
    }

    /// The negotiated limits and flags (defaults before INIT).
    pub(crate) fn neg(&self) -> &Negotiated {
        self.negotiated.as_ref().unwrap_or(&self.before_init)
    }

    /// Whether the connection is still connected.
    pub(crate) fn connected(&self) -> bool {
        self.state.lock().connected
    }

    /// The number of background requests queued or in flight, and the threshold above
    /// which readahead stops early.
    pub(crate) fn congestion(&self) -> (u32, u32) {
        let s = self.state.lock();
        (s.num_background, s.congestion_threshold)
    }

    /// Attaches a `/dev/fuse` file: returns its new processing queue.
    pub(crate) fn attach(&self) -> Result<Arc<ProcessingQueue>> {
        let pq = ProcessingQueue::new()?;
        let key = pq_key(&pq);
        let mut devices = self.devices.lock();
        devices.try_create_and_insert(key, pq.clone(), GFP_KERNEL)?;
        if !self.connected() {
            pq.inner.lock().connected = false;
        }
        Ok(pq)
    }

    /// Detaches a `/dev/fuse` file: its unanswered requests fail with `ECONNABORTED`, and the
    /// last detach aborts the connection (C's `fuse_dev_release()`).
    pub(crate) fn detach(&self, pq: &Arc<ProcessingQueue>) {
        let last = {
            let mut devices = self.devices.lock();
            devices.remove(&pq_key(pq));
            devices.iter().next().is_none()
        };
        let mut to_end = ReqList::new();
        pq.inner.lock().take_all(&mut to_end);
        self.end_all(to_end);
        if last {
            self.abort(false);
        }
    }

    /// Aborts the connection (C's `fuse_abort_conn()`): every queued or unanswered request
    /// ends with `ECONNABORTED`, readers and waiters wake, and later requests fail with
    /// `ENOTCONN`. `is_abort` marks a deliberate abort (fusectl), which readers see as
    /// `ECONNABORTED` if the daemon asked for ABORT_ERROR.
    pub(crate) fn abort(&self, is_abort: bool) {
        let devices = self.devices.lock();
        let mut to_end = ReqList::new();
        let mut st = self.state.lock();
        if !st.connected {
            return;
        }
        st.connected = false;
        self.disconnected.store(true, Ordering::Release);
        st.blocked = false;
        self.aborted
            .store(is_abort && self.neg().abort_err, Ordering::Release);
        st.initialized = true;
        for (_, pq) in devices.iter() {
            let mut inner = pq.inner.lock();
            inner.connected = false;
            inner.take_all(&mut to_end);
        }
        // Background requests waiting for a slot end too.
        to_end.push_all_back(&mut st.bg_queue);
        st.max_background = u32::MAX;
        let (interrupts, forgets) = {
            let mut iq = self.lock_iq();
            iq.connected = false;
            to_end.push_all_back(&mut iq.pending);
            (
                core::mem::take(&mut iq.interrupts),
                core::mem::take(&mut iq.forgets),
            )
        };
        drop(st);
        drop(devices);
        self.iq_wait.wake_all();
        self.blocked_wait.wake_all();
        self.poll_wake_all();
        // The queues are ours now: their requests end outside every lock.
        for req in interrupts.iter() {
            req.clear_intr_slot();
        }
        self.end_all(to_end);
        drop((interrupts, forgets));
    }

    /// Gives the daemon again every request it has read and not answered, their unique ids
    /// marked [`proto::UNIQUE_RESEND`], ahead of those it has not read (C's `fuse_resend()`,
    /// on `FUSE_NOTIFY_RESEND`): for a daemon that restarted and lost what it had read.
    pub(crate) fn resend(&self) {
        let mut taken = ReqList::new();
        {
            let devices = self.devices.lock();
            if !self.state.lock().connected {
                return;
            }
            for (_, pq) in devices.iter() {
                pq.inner.lock().take_all(&mut taken);
            }
        }
        let mut iq = self.lock_iq();
        if !iq.connected {
            drop(iq);
            self.end_all(taken);
            return;
        }
        let mut again = ReqList::new();
        while let Some(req) = taken.pop_front() {
            // Under the input queue's lock, where a waiter that leaves looks for its request
            // among the pending ones.
            if req.transition(Phase::Sent, Phase::Pending) {
                req.mark_resend();
                again.push_back(req);
            }
        }
        again.push_all_back(&mut iq.pending);
        core::mem::swap(&mut iq.pending, &mut again);
        drop(iq);
        self.iq_wait.wake_all();
    }

    /// Whether a request that is not answered yet was made more than `timeout` jiffies before
    /// `now` (C's `fuse_check_timeout()`): the oldest of each queue is looked at, waiting
    /// for the daemon to read it, for a background slot, or for the daemon's answer.
    pub(crate) fn has_expired_request(&self, now: u64, timeout: u64) -> bool {
        let old = |list: &ReqList| {
            list.iter()
                .next()
                .is_some_and(|r| r.older_than(now, timeout))
        };
        // One lock at a time: the `||` of both would hold the input queue's lock while
        // taking the state lock, against the lock order.
        if old(&self.state.lock().bg_queue) {
            return true;
        }
        if old(&self.lock_iq().pending) {
            return true;
        }
        let devices = self.devices.lock();
        let expired = devices.iter().any(|(_, pq)| {
            let inner = pq.inner.lock();
            inner.processing.iter().any(old)
        });
        expired
    }

    /// Ends every request of a queue taken off the connection with `ECONNABORTED`.
    fn end_all(&self, mut queue: ReqList) {
        while let Some(req) = queue.pop_front() {
            self.end_request(&req.into_arc(), econnaborted().to_errno());
        }
    }

    /// Counts a request out of `num_waiting`, waking an unmount waiting for the last one.
    fn request_gone(&self) {
        if self.num_waiting.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.blocked_wait.wake_all_sleepers();
        }
    }

    /// Waits until no request is left (C's `fuse_wait_aborted()`), after an abort.
    pub(crate) fn wait_idle(&self) {
        while self.num_waiting.load(Ordering::Acquire) != 0 {
            // Killable: only a dying unmounter gives up, leaving the last requests to end on
            // their own (they own their buffers).
            if self
                .blocked_wait
                .wait(WaitMode::Killable, false, || {
                    (self.num_waiting.load(Ordering::Acquire) == 0).then_some(())
                })
                .is_err()
            {
                return;
            }
        }
    }

    /// Records that INIT ended; `neg` is `None` if it failed (C's `conn_error`).
    pub(crate) fn set_initialized(&self, neg: Option<Negotiated>, limits: Option<(u32, u32)>) {
        {
            let mut st = self.state.lock();
            match neg {
                Some(n) => {
                    self.minor.store(n.minor, Ordering::Release);
                    // Set before `initialized`: whoever sees that under the lock sees this.
                    self.negotiated.populate(n);
                }
                None => st.conn_error = true,
            }
            if let Some((max_bg, congestion)) = limits {
                if max_bg != 0 {
                    st.max_background = max_bg;
                }
                if congestion != 0 {
                    st.congestion_threshold = congestion;
                }
            }
            st.initialized = true;
        }
        self.blocked_wait.wake_all();
    }

    /// Credentials of the current task for a request.
    fn creds(&self, args: &Args) -> Result<Creds> {
        if args.nocreds {
            return Ok(Creds {
                uid: 0,
                gid: 0,
                pid: 0,
            });
        }
        // An unmapped id cannot be shown to the daemon: the request fails (C's
        // `fuse_get_req()`), unless it must go out, with the overflow ids then (C's
        // `fuse_force_creds()`).
        let unmapped = if args.force {
            Unmapped::Overflow
        } else {
            Unmapped::Fail
        };
        let uid = task::current_fsuid(&self.user_ns, unmapped);
        let gid = task::current_fsgid(&self.user_ns, unmapped);
        let (Some(uid), Some(gid)) = (uid, gid) else {
            return Err(eoverflow());
        };
        Ok(Creds {
            uid,
            gid,
            pid: self.pid_ns.current_pid(),
        })
    }

    /// Waits until requests may be sent (C's `fuse_get_req()`): INIT has ended, and for a
    /// background request a slot is free.
    fn wait_ready(&self, background: bool) -> Result {
        // The common case, without the lock: INIT succeeded (`negotiated` is set only then)
        // and the connection stands. An abort racing with this is caught by `queue()` under
        // the input queue's lock, as C's unlocked look at `fc->connected` is.
        if !background
            && self.negotiated.as_ref().is_some()
            && !self.disconnected.load(Ordering::Acquire)
        {
            return Ok(());
        }
        // One look at the state decides both the wait and its result.
        let ready = || {
            let st = self.state.lock();
            if !st.initialized || (background && st.blocked) {
                None
            } else if !st.connected {
                Some(Err(enotconn()))
            } else if st.conn_error {
                Some(Err(econnrefused()))
            } else {
                Some(Ok(()))
            }
        };
        self.blocked_wait
            .wait(WaitMode::KillableOrExiting, true, ready)
            .map_err(|_| EINTR)?
    }

    /// Sends a request and waits for its reply (C's `fuse_simple_request()`).
    pub(crate) fn send(&self, args: Args) -> Result<Answer> {
        Answer::of(self.send_and_wait(args, None)?)
    }

    /// Sends a request whose result goes to `end`, and waits until it ran (a synchronous
    /// READ into folios). If the wait fails, `end` runs when the request ends.
    pub(crate) fn send_with_end(&self, args: Args, end: Arc<dyn RequestEnd>) -> Result {
        self.send_and_wait(args, Some(end))?.result()
    }

    /// Queues a request with a waiter and waits for its end.
    fn send_and_wait(
        &self,
        mut args: Args,
        end: Option<Arc<dyn RequestEnd>>,
    ) -> Result<Arc<Request>> {
        if !args.force {
            self.wait_ready(false)?;
        }
        args.adjust_compat(self.neg().minor);
        let creds = self.creds(&args)?;
        let req = Request::new(args, creds, end, Waiter::Task);
        self.queue_new(&req);
        self.wait_answer(&req)?;
        Ok(req)
    }

    /// Queues a request the daemon does not answer (C's `fuse_simple_notify_reply()`): it
    /// ends when the daemon has read it, or with the connection, and `end` runs then (or at
    /// once, with the error, if the request cannot be queued).
    pub(crate) fn send_noreply(&self, args: Args, end: Option<Arc<dyn RequestEnd>>) -> Result {
        let creds = match self.creds(&args) {
            Ok(creds) => creds,
            Err(e) => {
                if let Some(end) = end {
                    end.end(self, Err(e.to_errno()));
                }
                return Err(e);
            }
        };
        let req = Request::new(args, creds, end, Waiter::None);
        self.queue_new(&req);
        Ok(())
    }

    /// Sends a request whose result goes to `end` (C's `fuse_simple_background()`); `end`
    /// is always run, with an error if the request could not be sent.
    pub(crate) fn send_background(&self, mut args: Args, end: Arc<dyn RequestEnd>) {
        let result = (|| -> Result<Arc<Request>> {
            if !args.force {
                self.wait_ready(true)?;
            }
            args.adjust_compat(self.neg().minor);
            let creds = self.creds(&args)?;
            Ok(Request::new(args, creds, Some(end.clone()), Waiter::None))
        })();
        let req = match result {
            Ok(req) => req,
            Err(e) => return end.end(self, Err(e.to_errno())),
        };
        let Some(queued) = Request::queued(&req) else {
            // A new request is in no queue: this cannot fail.
            return end.end(self, Err(EIO.to_errno()));
        };
        self.num_waiting.fetch_add(1, Ordering::AcqRel);
        req.background.store(true, Ordering::Release);
        let mut st = self.state.lock();
        if !st.connected {
            drop(st);
            self.end_request(&req, enotconn().to_errno());
            return;
        }
        st.num_background += 1;
        if st.num_background == st.max_background {
            st.blocked = true;
        }
        st.bg_queue.push_back(queued);
        self.flush_background(&mut st);
    }

    /// Moves background requests into the input queue while slots are free (C's
    /// `flush_bg_queue()`).
    fn flush_background(&self, st: &mut State) {
        while st.active_background < st.max_background {
            let Some(req) = st.bg_queue.pop_front() else {
                break;
            };
            st.active_background += 1;
            self.queue(req);
        }
    }

    /// Puts a request in the input queue and wakes a reader (C's `fuse_send_one()`).
    fn queue(&self, req: Queued) {
        let mut iq = self.lock_iq();
        if !iq.connected {
            drop(iq);
            self.end_request(&req.into_arc(), enotconn().to_errno());
            return;
        }
        let unique = iq.take_unique();
        req.set_pending(unique);
        iq.pending.push_back(req);
        drop(iq);
        self.iq_wait.wake_one();
    }

    /// Queues a new request, counted in `num_waiting`.
    fn queue_new(&self, req: &Arc<Request>) {
        self.num_waiting.fetch_add(1, Ordering::AcqRel);
        match Request::queued(req) {
            Some(q) => self.queue(q),
            // A new request is in no queue: this cannot fail.
            None => self.end_request(req, EIO.to_errno()),
        }
    }

    /// Waits for a sent request to end (C's `request_wait_answer()`).
    ///
    /// As in C: interruptibly first (a signal queues a FUSE_INTERRUPT once the daemon has the
    /// request), then killably (a fatal signal dequeues a request still pending, which fails
    /// with `EINTR`). C then waits uninterruptibly for a request the daemon has; here that
    /// last wait is killable too, because the request owns its buffers: the waiter leaves
    /// with `EINTR` and the late reply is dropped with the request.
    fn wait_answer(&self, req: &Arc<Request>) -> Result {
        let done = || req.finished().then_some(());
        // A task exiting on a signal (closing its files: FLUSH, the write-back of its data)
        // has no signal left to end an interruptible wait: it goes straight to the killable
        // ones, which it does not wait in.
        if !self.no_interrupt.load(Ordering::Acquire) && !wait::exiting_on_signal() {
            if req.waitq.wait(WaitMode::Interruptible, false, done).is_ok() {
                return Ok(());
            }
            if req.mark_interrupted() {
                self.queue_interrupt(req);
            }
        }
        if !req.args.force {
            if req
                .waitq
                .wait(WaitMode::KillableOrExiting, false, done)
                .is_ok()
            {
                return Ok(());
            }
            let mut iq = self.lock_iq();
            if req.transition(Phase::Pending, Phase::Finished) {
                let queued = take_where(&mut iq.pending, |r| core::ptr::eq(r, &**req));
                drop(iq);
                drop(queued);
                self.request_gone();
                return Err(EINTR);
            }
        }
        if req
            .waitq
            .wait(WaitMode::KillableOrExiting, false, done)
            .is_ok()
        {
            return Ok(());
        }
        // A fatal signal while the daemon has the request: leave (see above).
        Err(EINTR)
    }

    /// Queues a FUSE_INTERRUPT for `req` (C's `queue_interrupt()`).
    pub(crate) fn queue_interrupt(&self, req: &Arc<Request>) {
        let mut iq = self.lock_iq();
        if !iq.connected || !req.take_intr_slot() {
            return;
        }
        // The interrupt slot is taken once at a time: the request is in no interrupt queue.
        let Ok(queued) = ListArc::<Request, 1>::try_from_arc(req.clone()) else {
            return;
        };
        iq.interrupts.push_back(queued);
        drop(iq);
        self.iq_wait.wake_one();
    }

    /// Ends a request (C's `fuse_request_end()`): records `error`, releases its background
    /// slot, and runs its end step or wakes its waiter.
    pub(crate) fn end_request(&self, req: &Arc<Request>, error: i32) {
        if !req.finish(error) {
            return;
        }
        if req.clear_intr_slot() {
            let mut iq = self.lock_iq();
            let queued = take_where(&mut iq.interrupts, |r| core::ptr::eq(r, &**req));
            drop(iq);
            drop(queued);
        }
        if req.background.swap(false, Ordering::AcqRel) {
            let mut st = self.state.lock();
            if st.num_background == st.max_background {
                st.blocked = false;
            }
            st.num_background = st.num_background.saturating_sub(1);
            st.active_background = st.active_background.saturating_sub(1);
            self.flush_background(&mut st);
            drop(st);
            self.blocked_wait.wake_all_sleepers();
        }
        // The reply is taken out first: the end step runs without the request's lock (it may
        // take the super block slot, folio locks...).
        if let Some(end) = &req.end {
            match req.result() {
                Ok(()) => end.end(self, Ok(req.reply_data())),
                Err(e) => end.end(self, Err(e.to_errno())),
            }
        }
        if req.waited() {
            req.waitq.wake_all_sleepers();
        }
        self.request_gone();
    }

    /// Reserves a slot for a later [`Conn::queue_forget`] (C's `fuse_alloc_forget()`).
    pub(crate) fn forget_slot() -> Result<ForgetSlot> {
        ForgetSlot::new(GFP_KERNEL)
    }

    /// Queues a FORGET of `nlookup` lookups of `nodeid` (C's `fuse_queue_forget()`).
    pub(crate) fn queue_forget(&self, slot: ForgetSlot, nodeid: u64, nlookup: u64) {
        let mut iq = self.lock_iq();
        if !iq.connected {
            return;
        }
        let key = iq.next_forget;
        iq.next_forget = iq.next_forget.wrapping_add(1);
        iq.forgets
            .insert(slot.into_node(key, Forget { nodeid, nlookup }));
        drop(iq);
        self.iq_wait.wake_one();
    }

    /// Locks the input queue.
    fn lock_iq(&self) -> IqGuard<'_> {
        IqGuard {
            iq: self.iq.lock(),
            ready: &self.iq_ready,
        }
    }

    /// Takes the next thing for a reader of `nbytes` (C's `fuse_dev_do_read()` order:
    /// interrupts, then forgets, then requests), waiting unless `nonblock`.
    pub(crate) fn take_for_reader(&self, nbytes: usize, nonblock: bool) -> Result<Taken> {
        // Room for a BATCH_FORGET that fills the reader's buffer (bounded), allocated only
        // when forgets are queued, so that taking them under the lock never allocates.
        let mut fbuf = None;
        loop {
            let mut take = || -> Option<Result<Take>> {
                let mut iq = self.lock_iq();
                if !iq.connected {
                    return Some(Ok(Take::Taken(Taken::Disconnected)));
                }
                if let Some(req) = iq.interrupts.pop_front() {
                    req.clear_intr_slot();
                    // Returned, not dropped, under the lock.
                    return Some(Ok(Take::Taken(Taken::Interrupt(req.into_arc()))));
                }
                if iq.forgets.iter().next().is_some() {
                    let behind = !iq.pending.is_empty();
                    let batch_ok = !behind || {
                        iq.forget_batch -= 1;
                        iq.forget_batch >= 0
                    };
                    if batch_ok {
                        let minor = self.minor.load(Ordering::Acquire);
                        if minor < 16 || iq.forgets.iter().nth(1).is_none() {
                            // One at a time: no buffer needed.
                            let cursor = iq.forgets.cursor_front()?;
                            let f = *cursor.current().1;
                            // The node is freed after the lock, with `_node`.
                            let (_, _node) = cursor.remove_current();
                            let unique = iq.take_unique();
                            return Some(Ok(Take::Taken(Taken::Forget(unique, f))));
                        }
                        let Some(buf) = fbuf.take() else {
                            // Counted when the forgets really go.
                            if behind {
                                iq.forget_batch += 1;
                            }
                            return Some(Ok(Take::NeedForgetBuffer));
                        };
                        return Some(Ok(Take::Taken(self.take_forgets(&mut iq, nbytes, buf))));
                    }
                    if iq.forget_batch <= -8 {
                        iq.forget_batch = 16;
                    }
                }
                let req = iq.pending.pop_front()?;
                req.transition(Phase::Pending, Phase::Reading);
                Some(Ok(Take::Taken(Taken::Request(req))))
            };
            // As C: a look under the lock, then, if there was nothing, a wait that reads
            // `iq_ready` without it, and another look.
            let took = match take() {
                Some(took) => took,
                None if nonblock => Err(EAGAIN),
                None => {
                    self.iq_wait.wait(WaitMode::Interruptible, true, || {
                        self.iq_ready.load(Ordering::Acquire).then_some(())
                    })?;
                    continue;
                }
            };
            match took? {
                Take::Taken(t) => return Ok(t),
                Take::NeedForgetBuffer => {
                    let one = core::mem::size_of::<crate::bindings::fuse_forget_one>();
                    let cap = (nbytes / one).clamp(1, 512);
                    fbuf = Some(KVec::with_capacity(cap, GFP_KERNEL)?);
                }
            }
        }
    }

    /// Takes a batch of forgets, as many as fill the reader's `nbytes` (the caller takes a
    /// single one itself: before 7.16, or when only one is queued).
    fn take_forgets(&self, iq: &mut InputQueue, nbytes: usize, mut out: KVec<Forget>) -> Taken {
        let room = nbytes
            .saturating_sub(size_of::<b::fuse_in_header>() + size_of::<b::fuse_batch_forget_in>());
        let max = (room / size_of::<b::fuse_forget_one>()).clamp(1, out.capacity());
        while out.len() < max {
            let Some(cursor) = iq.forgets.cursor_front() else {
                break;
            };
            let f = *cursor.current().1;
            let (_, node) = cursor.remove_current();
            drop(node);
            // Within the reserved capacity: no allocation.
            if out.push(f, GFP_ATOMIC).is_err() {
                break;
            }
        }
        Taken::Forgets(iq.take_unique(), out)
    }

    /// After a reader copied `req` to the daemon: put it in `pq` to await the reply, or end
    /// it if the file was detached meanwhile. Returns the error for the reader, if any.
    pub(crate) fn request_sent(&self, pq: &ProcessingQueue, req: Queued) -> Result {
        let mut inner = pq.inner.lock();
        if !inner.connected {
            drop(inner);
            self.end_request(&req.into_arc(), econnaborted().to_errno());
            return Err(self.reader_disconnected_error());
        }
        req.transition(Phase::Reading, Phase::Sent);
        let interrupted = req.interrupted();
        let arc = interrupted.then(|| req.clone_arc());
        inner.bucket(req.unique()).push_back(req);
        drop(inner);
        if let Some(req) = arc {
            self.queue_interrupt(&req);
        }
        Ok(())
    }

    /// The error a reader gets from a disconnected connection.
    pub(crate) fn reader_disconnected_error(&self) -> Error {
        if self.aborted.load(Ordering::Acquire) {
            econnaborted()
        } else {
            ENODEV
        }
    }

    /// Finds the request a reply is for. For a reply, the request leaves `pq` and is
    /// returned in phase `Writing`; for an interrupt reply (`INT_REQ_BIT`) it stays.
    pub(crate) fn take_for_reply(&self, pq: &ProcessingQueue, unique: u64) -> Option<Arc<Request>> {
        let mut inner = pq.inner.lock();
        if !inner.connected {
            return None;
        }
        let key = unique & !proto::INT_REQ_BIT;
        let bucket = inner.bucket(key);
        if unique & proto::INT_REQ_BIT != 0 {
            return bucket.iter().find(|r| r.unique() == key).map(Arc::from);
        }
        let req = take_where(bucket, |r| r.unique() == key)?.into_arc();
        req.transition(Phase::Sent, Phase::Writing);
        Some(req)
    }

    /// Whether `pq` is still attached (replies after an abort are refused).
    pub(crate) fn pq_connected(pq: &ProcessingQueue) -> bool {
        pq.inner.lock().connected
    }

    /// The daemon answered ENOSYS to an interrupt: send no more.
    pub(crate) fn set_no_interrupt(&self) {
        self.no_interrupt.store(true, Ordering::Release);
    }

    /// A new poll key for an open file.
    pub(crate) fn next_kh(&self) -> u64 {
        self.khctr.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Remembers a polled file until it is released, so that the daemon's poll
    /// notification can wake its pollers (C's `fuse_register_polled_file()`).
    pub(crate) fn poll_register(&self, ff: Arc<FuseFile>) -> Result {
        if self.polled.lock().find_mut(&ff.kh).is_some() {
            return Ok(());
        }
        let node = RBTreeNode::new(ff.kh, ff, GFP_KERNEL)?;
        self.polled.lock().insert(node);
        Ok(())
    }

    /// Forgets a released file's poll key.
    pub(crate) fn poll_forget(&self, kh: u64) {
        let old = self.polled.lock().remove(&kh);
        drop(old);
    }

    /// Wakes the pollers of the file with poll key `kh` (C's `fuse_notify_poll_wakeup()`).
    pub(crate) fn poll_wakeup(&self, kh: u64) {
        let ff = self.polled.lock().get(&kh).cloned();
        if let Some(ff) = ff {
            ff.poll_wait.wake_all();
        }
    }

    /// Wakes the pollers of every polled file (C's `end_polls()`), at an abort: the
    /// daemon's notification will not come, and their next poll reports the error.
    fn poll_wake_all(&self) {
        for ff in self.polled.lock().values() {
            ff.poll_wait.wake_all();
        }
    }

    /// Whether the daemon answered ENOSYS to `op` before.
    pub(crate) fn lacks(&self, op: Unsupported) -> bool {
        self.unsupported.load(Ordering::Acquire) & (1 << op as u32) != 0
    }

    /// Remembers that the daemon answered ENOSYS to `op`.
    pub(crate) fn set_lacks(&self, op: Unsupported) {
        self.unsupported.fetch_or(1 << op as u32, Ordering::AcqRel);
    }

    /// The lock owner id the daemon sees for `owner` (C's `fuse_lock_owner_id()`): the
    /// kernel pointer scrambled with a per-connection key (a TEA-like cipher). The last
    /// owner's id is kept: the cipher's 32 rounds cost about a thousand instructions.
    pub(crate) fn lock_owner_id(&self, owner: usize) -> u64 {
        {
            let last = self.last_owner.lock();
            if last.owner == owner && owner != 0 {
                return last.id;
            }
        }
        let id = self.scramble(owner);
        *self.last_owner.lock() = LastOwner { owner, id };
        id
    }

    /// Scrambles a lock owner with the connection's key.
    fn scramble(&self, owner: usize) -> u64 {
        let k = &self.scramble_key;
        let v = owner as u64;
        let (mut v0, mut v1) = (v as u32, (v >> 32) as u32);
        let mut sum: u32 = 0;
        for i in 0..32 {
            v0 = v0
                .wrapping_add(((v1 << 4 ^ v1 >> 5).wrapping_add(v1)) ^ sum.wrapping_add(k[i & 3]));
            sum = sum.wrapping_add(0x9E37_79B9);
            v1 = v1.wrapping_add(
                ((v0 << 4 ^ v0 >> 5).wrapping_add(v0))
                    ^ sum.wrapping_add(k[(sum >> 11 & 3) as usize]),
            );
        }
        u64::from(v0) + (u64::from(v1) << 32)
    }

    /// Whether a reader has something to take (for `poll`).
    pub(crate) fn poll_state(&self) -> (bool, bool) {
        let iq = self.lock_iq();
        (iq.connected, iq.has_work())
    }

    /// The readers' wait queue (for `poll`).
    pub(crate) fn reader_wait(&self) -> &WaitQueue {
        &self.iq_wait
    }
}

/// Whether `error` is a valid reply error (`-511..=0`), as the C module checks.
pub(crate) fn valid_reply_error(error: i32) -> bool {
    (proto::MIN_ERROR..=0).contains(&error)
}

/// The header and argument of a FORGET of `f`.
pub(crate) fn forget_one(unique: u64, f: &Forget) -> (b::fuse_in_header, b::fuse_forget_in) {
    let mut h = b::fuse_in_header::zeroed();
    let mut arg = b::fuse_forget_in::zeroed();
    h.unique = unique;
    h.opcode = proto::op::FORGET;
    h.nodeid = f.nodeid;
    h.len = (size_of::<b::fuse_in_header>() + size_of::<b::fuse_forget_in>()) as u32;
    arg.nlookup = f.nlookup;
    (h, arg)
}

/// Builds the bytes of a BATCH_FORGET of `forgets`.
pub(crate) fn batch_forget_message(unique: u64, forgets: &[Forget]) -> Result<KVec<u8>> {
    let mut h = b::fuse_in_header::zeroed();
    h.unique = unique;
    h.opcode = proto::op::BATCH_FORGET;
    let mut arg = b::fuse_batch_forget_in::zeroed();
    // CAST: at most 512 forgets (`take_for_reader`).
    arg.count = forgets.len() as u32;
    let len = size_of::<b::fuse_in_header>()
        + size_of::<b::fuse_batch_forget_in>()
        + forgets.len() * size_of::<b::fuse_forget_one>();
    // CAST: as above, a few KiB.
    h.len = len as u32;
    let mut out = KVec::with_capacity(len, GFP_KERNEL)?;
    out.extend_from_slice(h.as_bytes(), GFP_KERNEL)?;
    out.extend_from_slice(arg.as_bytes(), GFP_KERNEL)?;
    for f in forgets {
        let mut one = b::fuse_forget_one::zeroed();
        one.nodeid = f.nodeid;
        one.nlookup = f.nlookup;
        out.extend_from_slice(one.as_bytes(), GFP_KERNEL)?;
    }
    Ok(out)
}

/// The key of a processing queue in the device list: its address.
fn pq_key(pq: &Arc<ProcessingQueue>) -> usize {
    core::ptr::from_ref::<ProcessingQueue>(pq) as usize
}
