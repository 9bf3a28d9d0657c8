// SPDX-License-Identifier: GPL-2.0
/*
 * One-line wrappers for inline functions and macros (see helpers.h).
 */
#include "helpers.h"

bool rust_fuse_kuid_has_mapping(struct user_namespace *ns, kuid_t uid)
{
	return kuid_has_mapping(ns, uid);
}

bool rust_fuse_kgid_has_mapping(struct user_namespace *ns, kgid_t gid)
{
	return kgid_has_mapping(ns, gid);
}

struct file *rust_fuse_get_file(struct file *f)
{
	return get_file(f);
}
