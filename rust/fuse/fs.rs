// SPDX-License-Identifier: GPL-2.0

//! The `fuse` file system type (the C module's `fuse_fs_type`, `fuse_get_tree()`,
//! `fuse_fill_super()` and the super block operations).
//!
//! Mount options are parsed and checked as the C module does them; a mount with a bad or
//! missing option, or an `fd` that is not an unattached `/dev/fuse` file of the mounter's
//! user namespace, fails with `EINVAL` where the C module fails. A good mount creates the
//! connection, attaches the `/dev/fuse` file and sends FUSE_INIT.

use super::{
    conn::Conn,
    dev::FUSE_DEV_FOPS,
    dir, file, init,
    inode::{self, FuseInode, Inode},
    ioctl, lock, mount_opts, namei, poll, proto, readdir, setattr, write, writeback, xattr,
};
use crate::bindings as local;
use crate::kernel_ext::{
    address_space::{GrabbedFolio, LockedFolio, Readahead},
    dentry::Dentry,
    file::{DirEmitter, File, Kiocb, PollTable},
    file_lock::{FileLock, LockStatus},
    fs_context::{FsContext, FsParameter, Params},
    fs_type::{fs_type, get_tree_nodev, get_tree_shared, AtomicOpen, FileSystem, FsType},
    iattr::Iattr,
    iov_iter::IovIter,
    kstat::{Kstat, Kstatfs},
    seq_file::SeqFile,
    super_block::{BdiParams, NewSuperBlock, SuperBlock, SuperParams},
    writeback::{LaunderFolio, Vma, Writeback},
    xattr::XattrName,
};
use kernel::{
    bindings, c_str, fmt,
    page::PAGE_SHIFT,
    prelude::*,
    str::{CStr, CString},
    sync::{Arc, ArcBorrow},
    types::ARef,
};

/// The `fuse` file system type.
pub(crate) struct FuseFs;

/// The C description of the `fuse` type.
pub(crate) static FUSE_FS_TYPE: FsType<FuseFs> = fs_type!(FuseFs);

/// The state of a mounted super block (the C module's `struct fuse_mount`).
pub(crate) struct FuseMount {
    /// The connection.
    pub(crate) conn: Arc<Conn>,
}

#[vtable]
impl FileSystem for FuseFs {
    type Context = mount_opts::MountOptions;
    type Data = Arc<FuseMount>;
    type InodeData = FuseInode;
    type FileData = Arc<file::FuseFile>;

    const NAME: &'static CStr = c_str!("fuse");
    // The C module also sets FS_ALLOW_IDMAP; it comes with idmapped-mount support.
    const FLAGS: u32 = bindings::FS_HAS_SUBTYPE | bindings::FS_USERNS_MOUNT;
    const PARAMS: Params = mount_opts::PARAMS;

    fn init_context(_fc: &FsContext) -> Result<Self::Context> {
        Ok(mount_opts::MountOptions::new(false))
    }

    fn parse_param(fc: &FsContext, opts: &mut Self::Context, param: &FsParameter) -> Result {
        opts.parse(fc, param)
    }

    fn get_tree(fc: &FsContext, opts: &mut Self::Context) -> Result {
        // A `fuse` mount needs a `/dev/fuse` file (no message, as in C).
        let file = opts.fd.and_then(File::fget).ok_or(EINVAL)?;
        // A `/dev/fuse` file that serves a mount already: mount that connection again (the
        // C module allows this); ENOTCONN if its super block is gone.
        if let Some(conn) = file.data(&FUSE_DEV_FOPS).and_then(|d| d.conn()) {
            return get_tree_shared::<FuseFs>(fc, conn_key(&conn));
        }
        opts.file = Some(file);
        let res = get_tree_nodev::<FuseFs>(fc);
        opts.file = None;
        res
    }

    fn fill_super(
        fc: &FsContext,
        opts: &mut Self::Context,
        sb: &NewSuperBlock<Self>,
    ) -> Result<Arc<FuseMount>> {
        // The checks of the C module's `fuse_fill_super()`: every option present, `fd` a
        // `/dev/fuse` file, opened in the user namespace that mounts.
        let params = opts.params().ok_or(EINVAL)?;
        let file = opts.file.as_ref().ok_or(EINVAL)?;
        if !file.uses(&FUSE_DEV_FOPS) || *file.cred_user_ns() != *fc.user_ns() {
            return Err(EINVAL);
        }
        if sb.flags() & u64::from(local::SB_MANDLOCK as u32) != 0 {
            return Err(EINVAL);
        }
        let mut iflags = bindings::SB_I_IMA_UNVERIFIABLE_SIGNATURE | bindings::SB_I_NOIDMAP;
        if !sb.is_init_user_ns() {
            iflags |= bindings::SB_I_UNTRUSTED_MOUNTER;
        }
        sb.set_params(&SuperParams {
            magic: proto::SUPER_MAGIC,
            maxbytes: local::MAX_LFS_FILESIZE,
            blocksize_bits: PAGE_SHIFT as u8,
            time_gran: 1,
            set_flags: local::SB_POSIXACL as u32,
            clear_flags: (local::SB_NOSEC | local::SB_I_VERSION) as u32,
            set_iflags: iflags,
        });
        sb.set_subtype(opts.subtype.take());
        // As the C module: write-back is over when the daemon answers, long after the folios
        // were copied and left write-back, so the WRITEs count it; strict limits and at most
        // 1% of the dirty memory for each mount.
        sb.setup_bdi(&BdiParams {
            fs_accounts_writeback: true,
            strict_limit: true,
            max_ratio: 1,
        })?;
        let conn = Conn::new(fc.user_ns(), params)?;
        Ok(Arc::new(FuseMount { conn }, GFP_KERNEL)?)
    }

    fn root_inode(_opts: &mut Self::Context, sb: &SuperBlock<Self>) -> Result<ARef<Inode>> {
        // The C module's `fuse_get_root_inode()`: mode from `rootmode`, inode number 1.
        let conn = &sb.data().conn;
        let attr = crate::bindings::fuse_attr {
            mode: conn.mount.rootmode,
            ino: proto::ROOT_ID,
            nlink: 1,
            ..Default::default()
        };
        let evict = inode::evict_ctr(conn);
        inode::iget(sb, proto::ROOT_ID, 0, &attr, 0, 0, evict)
    }

    fn activate(opts: &mut Self::Context, sb: &SuperBlock<Self>) -> Result {
        let file = opts.file.as_ref().ok_or(EINVAL)?;
        let dev = file.data(&FUSE_DEV_FOPS).ok_or(EINVAL)?;
        let m = sb.data();
        // A `/dev/fuse` file serves one mount (EINVAL if it is attached already).
        dev.attach(&m.conn)?;
        // SAFETY: `kill_sb` clears the slot before the super block goes away.
        unsafe { m.conn.sb.set(sb) };
        init::send(&m.conn, m.conn.sb.clone(), sb.ra_pages());
        Ok(())
    }

    fn sb_key(sb: &SuperBlock<Self>) -> usize {
        conn_key(&sb.data().conn)
    }

    fn init_inode_data() -> impl PinInit<FuseInode, Error> {
        FuseInode::new()
    }

    fn kill_sb(sb: &SuperBlock<Self>) {
        // The C module's `fuse_sb_destroy()`: abort the connection and wait for requests in
        // flight, so that nothing uses the super block after this.
        let m = sb.data();
        m.conn.abort(false);
        m.conn.wait_idle();
        m.conn.sb.clear();
    }

    fn statfs(dentry: &Dentry<Self>, buf: &mut Kstatfs) -> Result {
        dir::statfs(dentry, buf)
    }

    fn show_options(sb: &SuperBlock<Self>, seq: &SeqFile) -> Result {
        let conn = &sb.data().conn;
        let p = &conn.mount;
        let s = CString::try_from_fmt(fmt!(
            ",user_id={},group_id={}",
            conn.user_ns.uid_munged(p.user_id),
            conn.user_ns.gid_munged(p.group_id)
        ))?;
        seq.puts(&s);
        if p.default_permissions {
            seq.puts(c_str!(",default_permissions"));
        }
        if p.allow_other {
            seq.puts(c_str!(",allow_other"));
        }
        if p.max_read != u32::MAX {
            seq.puts(&CString::try_from_fmt(fmt!(",max_read={}", p.max_read))?);
        }
        Ok(())
    }

    fn umount_begin(sb: &SuperBlock<Self>) {
        sb.data().conn.abort(false);
    }

    fn evict_inode(inode: &Inode) {
        inode::evict(inode);
    }

    fn lookup(
        dir: &Inode,
        dentry: &Dentry<Self>,
        flags: u32,
    ) -> Result<Option<ARef<Dentry<Self>>>> {
        dir::lookup(dir, dentry, flags)
    }

    fn getattr(inode: &Inode, stat: &mut Kstat, request_mask: u32, flags: u32) -> Result {
        dir::getattr(inode, stat, request_mask, flags)
    }

    fn permission(inode: &Inode, mask: i32) -> Result {
        dir::permission(inode, mask)
    }

    fn get_link(dentry: Option<&Dentry<Self>>, inode: &Inode) -> Result<KVec<u8>> {
        dir::get_link(dentry, inode)
    }

    fn revalidate(dentry: &Dentry<Self>, flags: u32) -> Result<bool> {
        dir::revalidate(dentry, flags)
    }

    fn open(inode: &Inode, f: &File) -> Result<Arc<file::FuseFile>> {
        // The daemon truncates at OPEN: with the writeback cache, WRITEs are held back
        // until the kernel has the new size too (C's `is_wb_truncate`).
        let wb_trunc = f.flags() & kernel::bindings::O_TRUNC != 0
            && inode::conn(inode).neg().atomic_o_trunc
            && writeback::is_wb(inode);
        let _lock = wb_trunc.then(|| inode.lock());
        let _nowrite = if wb_trunc {
            Some(writeback::set_nowrite(inode)?)
        } else {
            None
        };
        let ff = file::open(inode, f)?;
        writeback::opened(inode, &ff, f)?;
        Ok(ff)
    }

    fn release(inode: &Inode, data: Arc<file::FuseFile>, f: &File) {
        file::release(inode, data, f)
    }

    fn flush(data: ArcBorrow<'_, file::FuseFile>, f: &File, owner: usize) -> Result {
        file::flush(&data, f, owner)
    }

    fn read_iter(
        data: ArcBorrow<'_, file::FuseFile>,
        iocb: &mut Kiocb,
        to: &mut IovIter,
    ) -> Result<usize> {
        file::read_iter(&data, iocb, to)
    }

    fn llseek(f: &File, offset: i64, whence: i32) -> Result<i64> {
        file::llseek(f, offset, whence)
    }

    fn readdir(data: ArcBorrow<'_, file::FuseFile>, f: &File, ctx: &mut DirEmitter) -> Result {
        readdir::readdir(&data, f, ctx)
    }

    fn read_folio(data: Option<ArcBorrow<'_, file::FuseFile>>, folio: LockedFolio) -> Result {
        file::read_folio(data.as_deref(), folio)
    }

    fn readahead(rac: &mut Readahead<'_>) {
        file::readahead(rac)
    }

    fn create(dir: &Inode, dentry: &Dentry<Self>, mode: u16, _excl: bool) -> Result {
        namei::create(dir, dentry, mode)
    }

    fn atomic_open(
        dir: &Inode,
        dentry: &Dentry<Self>,
        f: &File,
        flags: u32,
        mode: u16,
    ) -> Result<AtomicOpen<Self>> {
        namei::atomic_open(dir, dentry, f, flags, mode)
    }

    fn tmpfile(dir: &Inode, f: &File, mode: u16) -> Result<Arc<file::FuseFile>> {
        namei::tmpfile(dir, f, mode)
    }

    fn finish_open(inode: &Inode, data: ArcBorrow<'_, file::FuseFile>, f: &File) -> Result {
        namei::finish_open(inode, &data, f)?;
        writeback::opened(inode, &data.into(), f)
    }

    fn mknod(dir: &Inode, dentry: &Dentry<Self>, mode: u16, rdev: u32) -> Result {
        namei::mknod(dir, dentry, mode, rdev)
    }

    fn mkdir(dir: &Inode, dentry: &Dentry<Self>, mode: u16) -> Result {
        namei::mkdir(dir, dentry, mode)
    }

    fn symlink(dir: &Inode, dentry: &Dentry<Self>, target: &CStr) -> Result {
        namei::symlink(dir, dentry, target)
    }

    fn link(old: &Dentry<Self>, dir: &Inode, new: &Dentry<Self>) -> Result {
        namei::link(old, dir, new)
    }

    fn unlink(dir: &Inode, dentry: &Dentry<Self>) -> Result {
        namei::unlink(dir, dentry)
    }

    fn rmdir(dir: &Inode, dentry: &Dentry<Self>) -> Result {
        namei::rmdir(dir, dentry)
    }

    fn rename(
        old_dir: &Inode,
        old: &Dentry<Self>,
        new_dir: &Inode,
        new: &Dentry<Self>,
        flags: u32,
    ) -> Result {
        namei::rename(old_dir, old, new_dir, new, flags)
    }

    fn setattr(dentry: &Dentry<Self>, attr: &mut Iattr) -> Result {
        setattr::setattr(dentry, attr)
    }

    fn getxattr(inode: &Inode, name: XattrName<'_>, buf: &mut [u8]) -> Result<usize> {
        xattr::getxattr(inode, name, buf)
    }

    fn setxattr(inode: &Inode, name: &CStr, value: Option<&[u8]>, flags: i32) -> Result {
        xattr::setxattr(inode, name, value, flags)
    }

    fn listxattr(inode: &Inode, buf: &mut [u8]) -> Result<usize> {
        xattr::listxattr(inode, buf)
    }

    fn write_iter(
        data: ArcBorrow<'_, file::FuseFile>,
        iocb: &mut Kiocb,
        from: &mut IovIter,
    ) -> Result<usize> {
        write::write_iter(&data, iocb, from)
    }

    fn fsync(
        data: ArcBorrow<'_, file::FuseFile>,
        f: &File,
        start: i64,
        end: i64,
        datasync: bool,
    ) -> Result {
        write::fsync(&data, f, start, end, datasync)
    }

    fn lock(
        data: ArcBorrow<'_, file::FuseFile>,
        f: &File,
        cmd: i32,
        fl: &mut FileLock,
    ) -> Result<LockStatus> {
        lock::lock(&data, f, cmd, fl)
    }

    fn flock(
        data: ArcBorrow<'_, file::FuseFile>,
        f: &File,
        _cmd: i32,
        fl: &mut FileLock,
    ) -> Result {
        lock::flock(&data, f, fl)
    }

    fn fallocate(
        data: ArcBorrow<'_, file::FuseFile>,
        f: &File,
        mode: i32,
        offset: i64,
        len: i64,
    ) -> Result {
        write::fallocate(&data, f, mode, offset, len)
    }

    fn copy_file_range(
        data_in: ArcBorrow<'_, file::FuseFile>,
        file_in: &File,
        pos_in: i64,
        data_out: ArcBorrow<'_, file::FuseFile>,
        file_out: &File,
        pos_out: i64,
        len: usize,
        flags: u32,
    ) -> Result<usize> {
        write::copy_file_range(
            &data_in, file_in, pos_in, &data_out, file_out, pos_out, len, flags,
        )
    }

    fn ioctl(
        data: ArcBorrow<'_, file::FuseFile>,
        f: &File,
        cmd: u32,
        arg: usize,
        compat: bool,
    ) -> Result<kernel::ffi::c_long> {
        ioctl::ioctl(&data, f, cmd, arg, compat)
    }

    fn poll(data: ArcBorrow<'_, file::FuseFile>, f: &File, table: Option<&PollTable>) -> u32 {
        poll::poll(data.into(), f, table)
    }

    fn writepages(wb: &mut Writeback<'_, Self>) -> Result {
        writeback::writepages(wb)
    }

    fn write_begin(f: &File, inode: &Inode, folio: &GrabbedFolio, pos: i64, len: usize) -> Result {
        writeback::write_begin(f, inode, folio, pos, len)
    }

    fn launder_folio(inode: &Inode, folio: &LaunderFolio<'_>) -> Result {
        writeback::launder_folio(inode, folio)
    }

    fn write_inode(inode: &Inode, _sync: bool) -> Result {
        writeback::write_inode(inode)
    }

    fn mmap(data: ArcBorrow<'_, file::FuseFile>, f: &File, vma: &Vma<'_>) -> Result {
        writeback::mmap(&data.into(), f, vma)
    }

    fn page_mkwrite(inode: &Inode, pos: i64) {
        // A fatal signal ends the wait; the dying task's write then races, as it may.
        let _ = writeback::wait_page(inode, pos);
    }

    fn vma_close(f: &File) {
        writeback::vma_close(f)
    }
}

/// A connection's identity, to find its super block: its address.
fn conn_key(conn: &Arc<Conn>) -> usize {
    core::ptr::from_ref::<Conn>(conn) as usize
}
