// SPDX-License-Identifier: GPL-2.0
/*
 * Test fixture, not part of rust_fuse: takes the misc minor of /dev/fuse (229)
 * or the file system type name "fuse", so that tests can check how a FUSE
 * module fails to load when only one of them is taken by someone else.
 *
 *   insmod fuse_squatter.ko take_minor=1    misc device "fuse_squatter", minor 229
 *   insmod fuse_squatter.ko take_fs=1       file system type "fuse" (mounts fail)
 *   insmod fuse_squatter.ko leak=1          leak 64 x 1 KiB, for the runner's kmemleak check
 */
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>

static bool take_minor;
module_param(take_minor, bool, 0444);
static bool take_fs;
module_param(take_fs, bool, 0444);
static bool leak;
module_param(leak, bool, 0444);
static void *leaked;

static const struct file_operations squatter_fops = {
	.owner = THIS_MODULE,
};

static struct miscdevice squatter_misc = {
	.minor = FUSE_MINOR,
	.name = "fuse_squatter",
	.fops = &squatter_fops,
};

static int squatter_init_fs_context(struct fs_context *fc)
{
	return -EINVAL;
}

static struct file_system_type squatter_fs = {
	.owner = THIS_MODULE,
	.name = "fuse",
	.init_fs_context = squatter_init_fs_context,
	.kill_sb = kill_anon_super,
};

/* Overwrite the stack below us, where copies of the leaked pointer may stay. */
static noinline void scrub_stack(void)
{
	volatile char buf[1024];

	memset((char *)buf, 0, sizeof(buf));
}

static int __init squatter_init(void)
{
	int err;

	if (leak) {
		/*
		 * Lose the only references: kmemleak must report them. Stale
		 * copies of a pointer (registers, stacks) can hide the last
		 * ones for a while, never all 64.
		 */
		for (int i = 0; i < 64; i++)
			WRITE_ONCE(leaked, kmalloc(1024, GFP_KERNEL));
		WRITE_ONCE(leaked, NULL);
		scrub_stack();
	}

	if (take_minor) {
		err = misc_register(&squatter_misc);
		if (err)
			return err;
	}
	if (take_fs) {
		err = register_filesystem(&squatter_fs);
		if (err) {
			if (take_minor)
				misc_deregister(&squatter_misc);
			return err;
		}
	}
	return 0;
}

static void __exit squatter_exit(void)
{
	if (take_fs)
		unregister_filesystem(&squatter_fs);
	if (take_minor)
		misc_deregister(&squatter_misc);
}

module_init(squatter_init);
module_exit(squatter_exit);
MODULE_DESCRIPTION("Test fixture: takes /dev/fuse's minor or the fuse type name");
MODULE_LICENSE("GPL");
