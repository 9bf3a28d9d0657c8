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
#include <linux/miscdevice.h>
#include <linux/pagemap.h>
#include <linux/poll.h>
#include <linux/uidgid.h>
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
