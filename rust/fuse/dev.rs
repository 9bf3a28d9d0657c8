// SPDX-License-Identifier: GPL-2.0

//! The FUSE device, `/dev/fuse` (the C module's `dev.c`): where the daemon reads requests
//! and writes replies.
//!
//! A daemon opens `/dev/fuse` and passes the file to mount(2) as `fd=N`; the mount attaches
//! the file to a new connection (a file is attached at most once). `FUSE_DEV_IOC_CLONE`
//! attaches another file to the same connection, each with its own processing queue. A file
//! that no mount has attached behaves as on the C module: reads, writes and the backing
//! ioctls fail with `EPERM`, poll reports `EPOLLERR`.

use super::{
    conn::{self, Conn, ProcessingQueue, Taken},
    proto::{self, Wire},
    request::Request,
};
use crate::bindings as b;
use crate::kernel_ext::{
    error::{econnaborted, enosys},
    file::{file_operations_table, File, FileOperations, FileOperationsTable, PollTable},
    iov_iter::IovIter,
    miscdevice::MiscDevice,
    pipe::{Pipe, PipeFill},
    set_once::SetOnce,
};
use core::mem::size_of;
use kernel::{
    c_str,
    page::PAGE_SIZE,
    prelude::*,
    sync::{Arc, ArcBorrow},
    uaccess::UserSlice,
};

/// The operations of `/dev/fuse` files.
pub(crate) struct FuseDev;

/// The connection a `/dev/fuse` file is attached to, with the file's processing queue.
pub(crate) struct Attachment {
    pub(crate) conn: Arc<Conn>,
    pq: Arc<ProcessingQueue>,
}

/// One open `/dev/fuse` file.
pub(crate) struct DevFile {
    /// Set once, by a mount or a clone; read without a lock by every read and write.
    attached: SetOnce<Attachment>,
}

impl DevFile {
    /// The connection this file is attached to; `EPERM` if none (C's `fuse_get_dev()` test).
    fn attached(&self) -> Result<&Attachment> {
        self.attached.as_ref().ok_or(EPERM)
    }

    /// The connection the file is attached to, if any.
    pub(crate) fn conn(&self) -> Option<Arc<Conn>> {
        self.attached.as_ref().map(|a| a.conn.clone())
    }

    /// Attaches the file to `conn` (a mount, or a clone); `EINVAL` if it is attached already.
    pub(crate) fn attach(&self, conn: &Arc<Conn>) -> Result {
        if self.attached.as_ref().is_some() {
            return Err(EINVAL);
        }
        let pq = conn.attach()?;
        let a = Attachment {
            conn: conn.clone(),
            pq: pq.clone(),
        };
        if !self.attached.populate(a) {
            // Another mount or clone won.
            conn.detach(&pq);
            return Err(EINVAL);
        }
        Ok(())
    }
}

/// The C operation table of `/dev/fuse` files; its address identifies them.
pub(crate) static FUSE_DEV_FOPS: FileOperationsTable<FuseDev> = file_operations_table!(FuseDev);

/// The misc device `fuse` (char 10:229).
pub(crate) static FUSE_MISC_DEVICE: MiscDevice =
    MiscDevice::new(proto::FUSE_MINOR, c_str!("fuse"), &FUSE_DEV_FOPS);

#[vtable]
impl FileOperations for FuseDev {
    type Data = Arc<DevFile>;

    const SPLICE: bool = true;

    fn open(_file: &File) -> Result<Arc<DevFile>> {
        Ok(Arc::new(
            DevFile {
                attached: SetOnce::new(),
            },
            GFP_KERNEL,
        )?)
    }

    fn release(dev: Arc<DevFile>, _file: &File) {
        // The connection is let go of with the file, right after.
        if let Some(a) = dev.attached.as_ref() {
            a.conn.detach(&a.pq);
        }
    }

    fn read_iter(dev: ArcBorrow<'_, DevFile>, file: &File, to: &mut IovIter) -> Result<usize> {
        let a = dev.attached()?;
        read(a, file, to)
    }

    /// C's `fuse_dev_splice_read()`: the message goes into pages allocated for its size.
    fn splice_read(
        dev: ArcBorrow<'_, DevFile>,
        file: &File,
        pipe: &Pipe,
        len: usize,
    ) -> Result<usize> {
        let a = dev.attached()?;
        // `len` is at most the room in the pipe (`vfs_splice_read()`).
        let mut dest = SpliceDest { len, fill: None };
        let n = read(a, file, &mut dest)?;
        match dest.fill {
            Some(fill) => fill.commit(pipe, n),
            None => Ok(0),
        }
    }

    fn write_iter(dev: ArcBorrow<'_, DevFile>, _file: &File, from: &mut IovIter) -> Result<usize> {
        let a = dev.attached()?;
        write(a, from)
    }

    /// C's `fuse_dev_splice_write()`: the message is the pipe's first `len` bytes, which
    /// must all be there (`EINVAL` otherwise), and which leave the pipe whatever the write
    /// makes of them.
    fn splice_write(
        dev: ArcBorrow<'_, DevFile>,
        _file: &File,
        pipe: &Pipe,
        len: usize,
    ) -> Result<usize> {
        let a = dev.attached()?;
        let mut front = pipe.front(len)?.ok_or(EINVAL)?;
        let res = write(a, front.iter());
        front.consume();
        res
    }

    fn poll(dev: ArcBorrow<'_, DevFile>, file: &File, table: Option<&PollTable>) -> u32 {
        let Ok(a) = dev.attached() else {
            return proto::poll::ERR;
        };
        let mask = proto::poll::OUT | proto::poll::WRNORM;
        a.conn.reader_wait().poll_wait(file, table);
        match a.conn.poll_state() {
            (false, _) => proto::poll::ERR,
            (true, true) => mask | proto::poll::IN | proto::poll::RDNORM,
            (true, false) => mask,
        }
    }

    fn ioctl(dev: ArcBorrow<'_, DevFile>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            proto::DEV_IOC_CLONE => clone(&dev, arg),
            proto::DEV_IOC_BACKING_OPEN | proto::DEV_IOC_BACKING_CLOSE => {
                dev.attached()?;
                Err(EPERM)
            }
            _ => Err(ENOTTY),
        }
    }
}

/// `FUSE_DEV_IOC_CLONE`: attach `dev` to the connection of the `/dev/fuse` file whose
/// descriptor `arg` points to (libfuse's `clone_fd`).
fn clone(dev: &DevFile, arg: usize) -> Result<isize> {
    let oldfd = UserSlice::new(arg, size_of::<u32>())
        .reader()
        .read::<u32>()?;
    let old = File::fget(oldfd).ok_or(EINVAL)?;
    let old_dev = old.data(&FUSE_DEV_FOPS).ok_or(EINVAL)?;
    // Only a file that a mount attached can be cloned.
    let a = old_dev.attached().map_err(|_| EINVAL)?;
    dev.attach(&a.conn)?;
    Ok(0)
}

/// Where a daemon's read goes.
trait ReadDest {
    /// The size of the daemon's buffer.
    fn len(&self) -> usize;
    /// The iterator for a message of `len` bytes, at most [`ReadDest::len`]; called once.
    fn target(&mut self, len: usize) -> Result<&mut IovIter>;

    /// Copies `req`, which fits, to the reader; instead of [`ReadDest::target`].
    fn put_request(&mut self, req: &Request) -> Result {
        req.copy_to(self.target(req.wire_len())?)
    }
}

/// `read(2)`: the daemon's buffer.
impl ReadDest for IovIter {
    fn len(&self) -> usize {
        self.count()
    }

    fn target(&mut self, _len: usize) -> Result<&mut IovIter> {
        Ok(self)
    }
}

/// `splice(2)`: pages for just the message, which then go into the pipe.
struct SpliceDest {
    len: usize,
    fill: Option<PipeFill>,
}

impl ReadDest for SpliceDest {
    fn len(&self) -> usize {
        self.len
    }

    fn target(&mut self, len: usize) -> Result<&mut IovIter> {
        Ok(self.fill.insert(PipeFill::new(len)?).iter())
    }

    /// Data in pages goes into the pipe as references to them, not copied (C's
    /// `fuse_ref_page()`), when the pipe has a slot for each.
    fn put_request(&mut self, req: &Request) -> Result {
        let len = req.wire_len();
        match req.data_pages() {
            Some(data)
                if (len - data.len()).div_ceil(PAGE_SIZE) + data.page_count()
                    <= self.len / PAGE_SIZE =>
            {
                let fill = self.fill.insert(PipeFill::new(len - data.len())?);
                req.copy_head_to(fill.iter())?;
                fill.add_refs(data.page_refs()?);
                Ok(())
            }
            _ => req.copy_to(self.target(len)?),
        }
    }
}

/// Copies a message of a header (whose `len` is the message's) and one argument to the
/// reader; `EINVAL` if its buffer is too small.
fn put_message(dest: &mut impl ReadDest, h: &b::fuse_in_header, arg: &[u8]) -> Result<usize> {
    let len = h.len as usize;
    if dest.len() < len {
        return Err(EINVAL);
    }
    let to = dest.target(len)?;
    to.copy_all_to(h.as_bytes())?;
    to.copy_all_to(arg)?;
    Ok(len)
}

/// A daemon's read: the next interrupt, forget(s) or request (C's `fuse_dev_do_read()`).
fn read(a: &Attachment, file: &File, dest: &mut impl ReadDest) -> Result<usize> {
    let conn = &a.conn;
    let header = size_of::<b::fuse_in_header>();
    // The buffer must hold the largest request: header, WRITE's arguments and `max_write`.
    let min = proto::MIN_READ_BUFFER
        .max(header + size_of::<b::fuse_write_in>() + conn.neg().max_write as usize);
    let nbytes = dest.len();
    if nbytes < min {
        return Err(EINVAL);
    }
    let nonblock = file.flags() & kernel::bindings::O_NONBLOCK != 0;
    loop {
        match conn.take_for_reader(nbytes, nonblock)? {
            Taken::Disconnected => return Err(conn.reader_disconnected_error()),
            Taken::Interrupt(req) => {
                let mut h = b::fuse_in_header::zeroed();
                let mut arg = b::fuse_interrupt_in::zeroed();
                // CAST: a header and an argument, 56 bytes.
                h.len = (header + size_of::<b::fuse_interrupt_in>()) as u32;
                h.opcode = proto::op::INTERRUPT;
                h.unique = req.unique() | proto::INT_REQ_BIT;
                arg.unique = req.unique();
                return put_message(dest, &h, arg.as_bytes());
            }
            Taken::Forget(unique, f) => {
                let (h, arg) = conn::forget_one(unique, &f);
                return put_message(dest, &h, arg.as_bytes());
            }
            Taken::Forgets(unique, forgets) => {
                let msg = conn::batch_forget_message(unique, &forgets)?;
                if nbytes < msg.len() {
                    return Err(EINVAL);
                }
                dest.target(msg.len())?.copy_all_to(&msg)?;
                return Ok(msg.len());
            }
            Taken::Request(req) => {
                let len = req.wire_len();
                if nbytes < len {
                    // Too big for this reader: the request fails and the read goes on.
                    conn.end_request(&req.clone_arc(), req.too_big_error());
                    continue;
                }
                let copied = dest.put_request(&req);
                if let Err(e) = copied {
                    conn.end_request(&req.into_arc(), EIO.to_errno());
                    return Err(e);
                }
                if req.args.noreply {
                    conn.end_request(&req.into_arc(), 0);
                } else {
                    conn.request_sent(&a.pq, req)?;
                }
                return Ok(len);
            }
        }
    }
}

/// A daemon's write: a reply or a notification (C's `fuse_dev_do_write()`). Everything in it
/// is checked before it reaches the request; a bad reply fails its request with `EIO` and
/// the write with `EINVAL`.
fn write(a: &Attachment, from: &mut IovIter) -> Result<usize> {
    let conn = &a.conn;
    let nbytes = from.count();
    let ohlen = size_of::<b::fuse_out_header>();
    if nbytes < ohlen {
        return Err(EINVAL);
    }
    let mut raw = [0u8; size_of::<b::fuse_out_header>()];
    from.copy_all_from(&mut raw)?;
    let oh = b::fuse_out_header::from_prefix(&raw);
    if oh.len as usize != nbytes {
        return Err(EINVAL);
    }
    if oh.unique == 0 {
        super::notify::notify(conn, oh.error, from, nbytes - ohlen)?;
        return Ok(nbytes);
    }
    if !conn::valid_reply_error(oh.error) {
        return Err(EINVAL);
    }
    let req = conn.take_for_reply(&a.pq, oh.unique).ok_or(ENOENT)?;
    if oh.unique & proto::INT_REQ_BIT != 0 {
        if nbytes != ohlen {
            return Err(EINVAL);
        }
        if oh.error == enosys().to_errno() {
            conn.set_no_interrupt();
        } else if oh.error == EAGAIN.to_errno() {
            // "Again" is only for a request that was interrupted (C's `queue_interrupt()`).
            if !req.interrupted() {
                return Err(EINVAL);
            }
            conn.queue_interrupt(&req);
        }
        return Ok(nbytes);
    }
    let payload = nbytes - ohlen;
    let (mut err, mut req_error) = if oh.error != 0 {
        if payload != 0 {
            (Some(EINVAL), EIO.to_errno())
        } else {
            (None, oh.error)
        }
    } else if !req.args.out.accepts(payload) {
        (Some(EINVAL), EIO.to_errno())
    } else {
        match req.fill_reply(from, payload) {
            Ok(()) => (None, 0),
            Err(e) => (Some(e), EIO.to_errno()),
        }
    };
    if !Conn::pq_connected(&a.pq) {
        err = Some(ENOENT);
        req_error = econnaborted().to_errno();
    }
    conn.end_request(&req, req_error);
    match err {
        Some(e) => Err(e),
        None => Ok(nbytes),
    }
}
