// SPDX-License-Identifier: GPL-2.0
/*
 * One-line wrappers for inline functions and macros (see helpers.h).
 */
#include "helpers.h"

kuid_t rust_fuse_make_kuid(struct user_namespace *ns, uid_t uid)
{
	return make_kuid(ns, uid);
}

kgid_t rust_fuse_make_kgid(struct user_namespace *ns, gid_t gid)
{
	return make_kgid(ns, gid);
}

bool rust_fuse_uid_valid(kuid_t uid)
{
	return uid_valid(uid);
}

bool rust_fuse_gid_valid(kgid_t gid)
{
	return gid_valid(gid);
}

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
