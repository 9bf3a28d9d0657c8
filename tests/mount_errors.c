// SPDX-License-Identifier: GPL-2.0
/*
 * Mounts that must fail, and where: every bad or missing option fails with
 * EINVAL exactly where the C module fails, through mount(2) and through the
 * new mount API (fsopen/fsconfig), with the same fs_context messages.
 *
 * mount_valid_*: a mount with every option right mounts, the daemon reads
 * FUSE_INIT first, and the mounted /dev/fuse file mounts its connection again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sched.h>
#include <unistd.h>
#include <linux/fuse.h>
#include <linux/mount.h>

#include "kselftest_harness.h"

#define MNT "/tmp/mount_errors.mnt"

static int sys_fsopen(const char *fs, unsigned int flags)
{
	return syscall(__NR_fsopen, fs, flags);
}

static int sys_fsconfig(int fd, unsigned int cmd, const char *key,
			const void *value, int aux)
{
	return syscall(__NR_fsconfig, fd, cmd, key, value, aux);
}

static int sys_fsmount(int fd, unsigned int flags, unsigned int attr)
{
	return syscall(__NR_fsmount, fd, flags, attr);
}

/* mount(2) of type "fuse" with the given options; returns 0 or errno. */
static int try_mount(const char *opts)
{
	mkdir(MNT, 0755);
	if (mount("test", MNT, "fuse", MS_NOSUID | MS_NODEV, opts) == 0) {
		umount2(MNT, MNT_DETACH);
		return 0;
	}
	return errno;
}

static char *opts_with_fd(int fd, const char *rest)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "fd=%d%s%s", fd, *rest ? "," : "", rest);
	return buf;
}

FIXTURE(mnt)
{
	int fd;
};

FIXTURE_SETUP(mnt)
{
	self->fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(mnt)
{
	close(self->fd);
	rmdir(MNT);
}

TEST_F(mnt, no_fd)
{
	EXPECT_EQ(EINVAL, try_mount("rootmode=40000,user_id=0,group_id=0"));
}

TEST_F(mnt, fd_not_open)
{
	EXPECT_EQ(EINVAL, try_mount("fd=1000,rootmode=40000,user_id=0,group_id=0"));
}

TEST_F(mnt, fd_not_fuse)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, null);
	EXPECT_EQ(EINVAL, try_mount(opts_with_fd(null, "rootmode=40000,user_id=0,group_id=0")));
	close(null);
}

TEST_F(mnt, no_rootmode)
{
	EXPECT_EQ(EINVAL, try_mount(opts_with_fd(self->fd, "user_id=0,group_id=0")));
}

TEST_F(mnt, no_user_id)
{
	EXPECT_EQ(EINVAL, try_mount(opts_with_fd(self->fd, "rootmode=40000,group_id=0")));
}

TEST_F(mnt, no_group_id)
{
	EXPECT_EQ(EINVAL, try_mount(opts_with_fd(self->fd, "rootmode=40000,user_id=0")));
}

TEST_F(mnt, bad_rootmode_type)
{
	EXPECT_EQ(EINVAL, try_mount(opts_with_fd(self->fd, "rootmode=170000,user_id=0,group_id=0")));
}

TEST_F(mnt, rootmode_not_octal)
{
	EXPECT_EQ(EINVAL, try_mount(opts_with_fd(self->fd, "rootmode=40009,user_id=0,group_id=0")));
}

TEST_F(mnt, user_id_not_a_number)
{
	EXPECT_EQ(EINVAL, try_mount(opts_with_fd(self->fd, "rootmode=40000,user_id=root,group_id=0")));
}

TEST_F(mnt, user_id_invalid)
{
	EXPECT_EQ(EINVAL, try_mount(opts_with_fd(self->fd, "rootmode=40000,user_id=4294967295,group_id=0")));
}

TEST_F(mnt, group_id_invalid)
{
	EXPECT_EQ(EINVAL, try_mount(opts_with_fd(self->fd, "rootmode=40000,user_id=0,group_id=4294967295")));
}

TEST_F(mnt, blksize_is_fuseblk_only)
{
	EXPECT_EQ(EINVAL, try_mount(opts_with_fd(self->fd, "rootmode=40000,user_id=0,group_id=0,blksize=4096")));
}

TEST_F(mnt, unknown_option)
{
	EXPECT_EQ(EINVAL, try_mount(opts_with_fd(self->fd, "rootmode=40000,user_id=0,group_id=0,bogus=1")));
}

TEST_F(mnt, flag_with_value)
{
	EXPECT_EQ(EINVAL, try_mount(opts_with_fd(self->fd, "rootmode=40000,user_id=0,group_id=0,allow_other=1")));
}

TEST_F(mnt, two_subtypes)
{
	EXPECT_EQ(EINVAL, try_mount(opts_with_fd(self->fd, "rootmode=40000,user_id=0,group_id=0,subtype=a,subtype=b")));
}

/* fsopen: the messages the C module leaves in the context's log. */
static void expect_log(struct __test_metadata *_metadata, int fsfd, const char *want)
{
	char buf[256];
	ssize_t n = read(fsfd, buf, sizeof(buf) - 1);

	ASSERT_LT(0, n) TH_LOG("no message in the fs_context log, wanted \"%s\"", want);
	buf[n] = 0;
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	EXPECT_STREQ(want, buf);
}

/*
 * fsconfig(FSCONFIG_SET_STRING, key, value) after the settings in `before`
 * (key, value pairs, NULL-terminated) fails with EINVAL and leaves `msg` in
 * the context's log.
 */
static void fsconfig_fails(struct __test_metadata *_metadata, const char *const *before,
			   const char *key, const char *value, const char *msg)
{
	int fsfd = sys_fsopen("fuse", FSOPEN_CLOEXEC);

	ASSERT_LE(0, fsfd);
	for (; before && *before; before += 2)
		EXPECT_EQ(0, sys_fsconfig(fsfd, FSCONFIG_SET_STRING, before[0], before[1], 0));
	EXPECT_EQ(-1, sys_fsconfig(fsfd, FSCONFIG_SET_STRING, key, value, 0));
	EXPECT_EQ(EINVAL, errno);
	expect_log(_metadata, fsfd, msg);
	close(fsfd);
}

TEST_F(mnt, fsconfig_bad_rootmode_message)
{
	fsconfig_fails(_metadata, NULL, "rootmode", "170000", "e fuse: Invalid rootmode");
}

TEST_F(mnt, fsconfig_blksize_message)
{
	fsconfig_fails(_metadata, NULL, "blksize", "4096", "e fuse: blksize only supported for fuseblk");
}

TEST_F(mnt, fsconfig_unknown_message)
{
	fsconfig_fails(_metadata, NULL, "bogus", "1", "e fuse: Unknown parameter 'bogus'");
}

TEST_F(mnt, fsconfig_two_sources_message)
{
	static const char *const before[] = { "source", "a", NULL };

	fsconfig_fails(_metadata, before, "source", "b", "e fuse: Multiple sources specified");
}

TEST_F(mnt, fsconfig_two_subtypes_message)
{
	static const char *const before[] = { "subtype", "a", NULL };

	fsconfig_fails(_metadata, before, "subtype", "b", "e fuse: Multiple subtypes specified");
}

TEST_F(mnt, fsconfig_bad_user_id_message)
{
	fsconfig_fails(_metadata, NULL, "user_id", "4294967295", "e fuse: Invalid uid '4294967295'");
}

TEST_F(mnt, fsconfig_bad_group_id_message)
{
	fsconfig_fails(_metadata, NULL, "group_id", "-1", "e fuse: Bad value for 'group_id'");
}

TEST_F(mnt, fsconfig_create_without_fd)
{
	int fsfd = sys_fsopen("fuse", FSOPEN_CLOEXEC);

	ASSERT_LE(0, fsfd);
	EXPECT_EQ(0, sys_fsconfig(fsfd, FSCONFIG_SET_STRING, "rootmode", "40000", 0));
	EXPECT_EQ(0, sys_fsconfig(fsfd, FSCONFIG_SET_STRING, "user_id", "0", 0));
	EXPECT_EQ(0, sys_fsconfig(fsfd, FSCONFIG_SET_STRING, "group_id", "0", 0));
	EXPECT_EQ(-1, sys_fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	EXPECT_EQ(EINVAL, errno);
	close(fsfd);
}

/*
 * In a child: a new user namespace (uid and gid 0 mapped to the parent's 0)
 * and mount namespace, then mount(2) with `opts`, where "%d" is the /dev/fuse
 * fd, opened before the unshare if `fd_outside`. Returns the mount's errno
 * (0 if it mounted), or -1 if the set-up failed.
 */
static int mount_in_userns(int fd_outside, const char *opts)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		int fd = fd_outside ? open("/dev/fuse", O_RDWR) : -1;
		char buf[256];

		if (unshare(CLONE_NEWUSER | CLONE_NEWNS))
			_exit(255);
		int f = open("/proc/self/uid_map", O_WRONLY);
		if (f < 0 || write(f, "0 0 1", 5) != 5)
			_exit(255);
		close(f);
		f = open("/proc/self/setgroups", O_WRONLY);
		if (f < 0 || write(f, "deny", 4) != 4)
			_exit(255);
		close(f);
		f = open("/proc/self/gid_map", O_WRONLY);
		if (f < 0 || write(f, "0 0 1", 5) != 5)
			_exit(255);
		close(f);
		if (fd < 0)
			fd = open("/dev/fuse", O_RDWR);
		if (fd < 0)
			_exit(255);
		snprintf(buf, sizeof(buf), opts, fd);
		_exit(try_mount(buf));
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status) == 255 ? -1 : WEXITSTATUS(status);
}

TEST_F(mnt, userns_fd_opened_outside)
{
	EXPECT_EQ(EINVAL, mount_in_userns(1, "fd=%d,rootmode=40000,user_id=0,group_id=0"));
}

TEST_F(mnt, userns_unmapped_user_id)
{
	EXPECT_EQ(EINVAL, mount_in_userns(0, "fd=%d,rootmode=40000,user_id=1000,group_id=0"));
}

TEST_F(mnt, userns_unmapped_group_id)
{
	EXPECT_EQ(EINVAL, mount_in_userns(0, "fd=%d,rootmode=40000,user_id=0,group_id=1000"));
}

TEST_F(mnt, userns_valid)
{
	const char *impl = getenv("TESTVM_FUSE");

	ASSERT_NE(NULL, impl);
	(void)impl;
	EXPECT_EQ(0, mount_in_userns(0, "fd=%d,rootmode=40000,user_id=0,group_id=0"));
}

/* The first request a mounted connection's daemon reads is FUSE_INIT. */
static void expect_init(struct __test_metadata *_metadata, int fd)
{
	static char buf[1 << 17];
	struct fuse_in_header *h = (struct fuse_in_header *)buf;
	ssize_t n = read(fd, buf, sizeof(buf));

	ASSERT_LE((ssize_t)sizeof(*h), n);
	EXPECT_EQ(FUSE_INIT, h->opcode);
	EXPECT_EQ(n, h->len);
}

TEST_F(mnt, mount_valid_mount2)
{
	char opts[256];

	mkdir(MNT, 0755);
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0", self->fd);
	ASSERT_EQ(0, mount("test", MNT, "fuse", MS_NOSUID | MS_NODEV, opts));
	expect_init(_metadata, self->fd);
	/* The same super block on the same mount point is refused (EBUSY)... */
	EXPECT_EQ(EBUSY, try_mount(opts));
	/* ...but a mounted /dev/fuse file mounts its connection again elsewhere. */
	mkdir(MNT "2", 0755);
	EXPECT_EQ(0, mount("test", MNT "2", "fuse", MS_NOSUID | MS_NODEV, opts));
	EXPECT_EQ(0, umount2(MNT "2", MNT_DETACH));
	rmdir(MNT "2");
	EXPECT_EQ(0, umount2(MNT, MNT_DETACH));
}

TEST_F(mnt, mount_valid_fsmount)
{
	int fsfd = sys_fsopen("fuse", FSOPEN_CLOEXEC);
	char fdstr[16];
	int mfd;

	ASSERT_LE(0, fsfd);
	snprintf(fdstr, sizeof(fdstr), "%d", self->fd);
	ASSERT_EQ(0, sys_fsconfig(fsfd, FSCONFIG_SET_STRING, "fd", fdstr, 0));
	ASSERT_EQ(0, sys_fsconfig(fsfd, FSCONFIG_SET_STRING, "rootmode", "40000", 0));
	ASSERT_EQ(0, sys_fsconfig(fsfd, FSCONFIG_SET_STRING, "user_id", "0", 0));
	ASSERT_EQ(0, sys_fsconfig(fsfd, FSCONFIG_SET_STRING, "group_id", "0", 0));
	ASSERT_EQ(0, sys_fsconfig(fsfd, FSCONFIG_SET_STRING, "subtype", "test", 0));
	EXPECT_EQ(0, sys_fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	mfd = sys_fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
	EXPECT_LE(0, mfd);
	expect_init(_metadata, self->fd);
	close(mfd);
	close(fsfd);
}

TEST_HARNESS_MAIN
