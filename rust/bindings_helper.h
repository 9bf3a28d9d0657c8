/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input of rust_fuse's module-local bindgen run: the headers that 6.12's
 * `kernel::bindings` does not cover. Types that `kernel::bindings` already
 * has are taken from there (the generated file glob-imports it), so type
 * identity is kept; see Kbuild for the allowlists.
 */
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/backing-dev.h>
#include <linux/magic.h>
#include <linux/namei.h>
#include <linux/seq_file.h>
#include <linux/statfs.h>
#include <linux/miscdevice.h>
#include <linux/pagemap.h>
#include <linux/poll.h>
#include <linux/uidgid.h>
#include <linux/filelock.h>
#include <linux/xattr.h>
#include <linux/falloc.h>
#include <linux/splice.h>
#include <uapi/linux/fuse.h>

#include "helpers.h"

/* Constants that bindgen cannot evaluate by itself (casts, sizeof). */
const __poll_t RUST_FUSE_CONST_EPOLLIN = EPOLLIN;
const __poll_t RUST_FUSE_CONST_EPOLLOUT = EPOLLOUT;
const __poll_t RUST_FUSE_CONST_EPOLLRDNORM = EPOLLRDNORM;
const __poll_t RUST_FUSE_CONST_EPOLLWRNORM = EPOLLWRNORM;
const __poll_t RUST_FUSE_CONST_EPOLLERR = EPOLLERR;
const unsigned int RUST_FUSE_CONST_FUSE_DEV_IOC_CLONE = FUSE_DEV_IOC_CLONE;
const unsigned int RUST_FUSE_CONST_FUSE_DEV_IOC_BACKING_OPEN = FUSE_DEV_IOC_BACKING_OPEN;
const unsigned int RUST_FUSE_CONST_FUSE_DEV_IOC_BACKING_CLOSE = FUSE_DEV_IOC_BACKING_CLOSE;
const unsigned int RUST_FUSE_CONST_FS_CONTEXT_FOR_RECONFIGURE = FS_CONTEXT_FOR_RECONFIGURE;
const unsigned long RUST_FUSE_CONST_SB_NOSEC = SB_NOSEC;
const int RUST_FUSE_CONST_FILE_LOCK_DEFERRED = FILE_LOCK_DEFERRED;
const unsigned long RUST_FUSE_CONST_SB_POSIXACL = SB_POSIXACL;
const unsigned long RUST_FUSE_CONST_SB_MANDLOCK = SB_MANDLOCK;
const unsigned long RUST_FUSE_CONST_SB_I_VERSION = SB_I_VERSION;
const unsigned int RUST_FUSE_CONST_LOOKUP_RCU = LOOKUP_RCU;
const long long RUST_FUSE_CONST_MAX_LFS_FILESIZE = MAX_LFS_FILESIZE;
const unsigned long RUST_FUSE_CONST_SB_ACTIVE = SB_ACTIVE;
const unsigned int RUST_FUSE_CONST_LOOKUP_EXCL = LOOKUP_EXCL;
const unsigned int RUST_FUSE_CONST_LOOKUP_REVAL = LOOKUP_REVAL;
const unsigned int RUST_FUSE_CONST_LOOKUP_RENAME_TARGET = LOOKUP_RENAME_TARGET;
const unsigned int RUST_FUSE_CONST_IOCB_DIRECT = IOCB_DIRECT;
const unsigned int RUST_FUSE_CONST_IOCB_APPEND = IOCB_APPEND;
const unsigned int RUST_FUSE_CONST_IOCB_SYNC = IOCB_SYNC;
const unsigned int RUST_FUSE_CONST_IOCB_DSYNC = IOCB_DSYNC;
const unsigned int RUST_FUSE_CONST_FMODE_CREATED = FMODE_CREATED;
const unsigned int RUST_FUSE_CONST_FMODE_CAN_ODIRECT = FMODE_CAN_ODIRECT;
const unsigned int RUST_FUSE_CONST_FMODE_WRITE = FMODE_WRITE;
const unsigned int RUST_FUSE_CONST_FL_POSIX = FL_POSIX;
const unsigned int RUST_FUSE_CONST_FL_FLOCK = FL_FLOCK;
const unsigned int RUST_FUSE_CONST_FL_SLEEP = FL_SLEEP;
const long long RUST_FUSE_CONST_OFFSET_MAX = OFFSET_MAX;
const unsigned long RUST_FUSE_CONST_SIZEOF_FILE_LOCK = sizeof(struct file_lock);
const unsigned int RUST_FUSE_CONST_FS_IOC_GETFLAGS = FS_IOC_GETFLAGS;
const unsigned int RUST_FUSE_CONST_FS_IOC_SETFLAGS = FS_IOC_SETFLAGS;
