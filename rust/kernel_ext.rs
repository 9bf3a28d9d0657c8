// SPDX-License-Identifier: GPL-2.0

//! Safe abstractions over the kernel pieces that 6.12's `kernel` crate lacks.
//!
//! Each module wraps one kernel object and owns the `unsafe` code needed to use it; the FUSE
//! logic in [`crate::fuse`] uses only what is exported here. The shapes follow upstream's
//! later abstractions (`rust/kernel/fs/file.rs`, `miscdevice.rs`, the vfs-v2 series) where they
//! exist, adapted to what 6.12 offers.

pub(crate) mod address_space;
pub(crate) mod cred;
pub(crate) mod dentry;
pub(crate) mod error;
pub(crate) mod file;
pub(crate) mod file_lock;
pub(crate) mod file_write_ops;
pub(crate) mod fs_context;
pub(crate) mod fs_file;
pub(crate) mod fs_type;
pub(crate) mod iattr;
pub(crate) mod inline_vec;
pub(crate) mod inode;
pub(crate) mod iov_iter;
pub(crate) mod kstat;
pub(crate) mod list;
pub(crate) mod miscdevice;
pub(crate) mod module;
pub(crate) mod namei_ops;
pub(crate) mod pipe;
pub(crate) mod registration;
pub(crate) mod seq_file;
pub(crate) mod set_once;
pub(crate) mod spinlock;
pub(crate) mod super_block;
pub(crate) mod task;
pub(crate) mod wait;
pub(crate) mod workqueue;
pub(crate) mod writeback;
pub(crate) mod xattr;
