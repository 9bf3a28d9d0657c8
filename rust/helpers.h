/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One-line wrappers for the inline functions and macros that rust_fuse calls
 * and bindgen cannot see. No logic lives here (the role of the kernel's own
 * rust/helpers/).
 */
#ifndef RUST_FUSE_HELPERS_H
#define RUST_FUSE_HELPERS_H

#include <linux/fs.h>
#include <linux/uidgid.h>

bool rust_fuse_kuid_has_mapping(struct user_namespace *ns, kuid_t uid);
bool rust_fuse_kgid_has_mapping(struct user_namespace *ns, kgid_t gid);
struct file *rust_fuse_get_file(struct file *f);

#endif
