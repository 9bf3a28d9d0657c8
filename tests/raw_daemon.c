// SPDX-License-Identifier: GPL-2.0
/*
 * A daemon of our own that speaks raw /dev/fuse and misbehaves on purpose:
 * short and long replies, unknown uniques, positive or huge errors, a reply
 * to an answered request, a bad header length, INIT with a bad major
 * version, interrupts, a reply that never comes (the waiter is killed, the
 * daemon goes away). Each case checks what the daemon's write returns and
 * what the waiting process sees; both must be the same on the C module and
 * rust_fuse, with a clean kernel log and a clean unmount.
 *
 * One deliberate difference is tested by name: a waiter killed with SIGKILL
 * while the daemon holds its request leaves at once on rust_fuse; the C
 * module keeps it in an uninterruptible wait until the daemon answers or
 * goes away.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>
#include <linux/fuse.h>

#include "kselftest_harness.h"

#define MNT "/tmp/raw_daemon.mnt"
#define BUFSZ (1 << 17)
/* The bit that marks an interrupt's unique id (the kernel's FUSE_INT_REQ_BIT). */
#define INT_REQ_BIT 1ULL

static char buf[BUFSZ];

static int is_rust(void)
{
	const char *impl = getenv("TESTVM_FUSE");

	return impl && !strcmp(impl, "rust");
}

/* Reads one request; returns its header (in buf) or NULL. */
static struct fuse_in_header *get_req(int fd)
{
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < (ssize_t)sizeof(struct fuse_in_header))
		return NULL;
	return (struct fuse_in_header *)buf;
}

/* Writes a reply: header with `len` as given (or computed if 0), then data. */
static ssize_t reply_raw(int fd, uint64_t unique, int32_t error, const void *data,
			 size_t size, uint32_t len)
{
	struct fuse_out_header oh = {
		.len = len ? len : sizeof(oh) + size,
		.error = error,
		.unique = unique,
	};
	struct iovec iov[2] = { { &oh, sizeof(oh) }, { (void *)data, size } };
	ssize_t n = writev(fd, iov, size ? 2 : 1);

	return n < 0 ? -errno : n;
}

static ssize_t reply(int fd, uint64_t unique, int32_t error, const void *data, size_t size)
{
	return reply_raw(fd, unique, error, data, size, 0);
}

/*
 * Mounts MNT on a new /dev/fuse descriptor (with the mount options `extra`
 * added, each after a comma) and reads FUSE_INIT; answers it with `init`
 * unless that is NULL. Returns the descriptor, or -1.
 */
static int mount_raw_opts(const struct fuse_init_out *init, const char *extra)
{
	struct fuse_in_header *h;
	char opts[192];
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	mkdir(MNT, 0755);
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0%s", fd, extra);
	if (mount("raw", MNT, "fuse", MS_NOSUID | MS_NODEV, opts)) {
		close(fd);
		return -1;
	}
	h = get_req(fd);
	if (!h || h->opcode != FUSE_INIT)
		return -1;
	if (init && reply(fd, h->unique, 0, init, sizeof(*init)) != sizeof(struct fuse_out_header) + sizeof(*init))
		return -1;
	return fd;
}

static int mount_raw(const struct fuse_init_out *init)
{
	return mount_raw_opts(init, "");
}

static int setup(struct __test_metadata *_metadata, uint32_t major)
{
	struct fuse_init_out init = {
		.major = major, .minor = 31, .max_readahead = 65536,
		.max_write = 4096, .max_background = 4, .congestion_threshold = 3,
	};

	return mount_raw(major ? &init : NULL);
}

static void teardown(int fd)
{
	if (fd >= 0)
		close(fd);
	umount2(MNT, MNT_DETACH);
	rmdir(MNT);
}

/* In a forked waiter: drop the inherited /dev/fuse descriptors, so that the
 * daemon's close is the last one. */
static void child_prep(void)
{
	int fd;

	for (fd = 3; fd < 1024; fd++)
		close(fd);
}

/* Forks a process that stats MNT and exits with the errno (0 on success). */
static pid_t stat_child(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct stat st;

		child_prep();
		_exit(stat(MNT, &st) ? errno : 0);
	}
	return pid;
}

/* Waits for a child: its exit status, 128+signal, or -1 after `secs`. */
static int wait_child(pid_t pid, int secs)
{
	int status, i;

	for (i = 0; i < secs * 20; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(50000);
	}
	return -1;
}

static void fill_attr(struct fuse_attr_out *out)
{
	memset(out, 0, sizeof(*out));
	out->attr.ino = 1;
	out->attr.mode = S_IFDIR | 0755;
	out->attr.nlink = 2;
	out->attr_valid = 0;
}

/* The next request must be GETATTR of the root; returns its unique. */
static uint64_t expect_getattr(struct __test_metadata *_metadata, int fd)
{
	struct fuse_in_header *h = get_req(fd);

	if (!h)
		return 0;
	EXPECT_EQ(FUSE_GETATTR, h->opcode);
	EXPECT_EQ(FUSE_ROOT_ID, h->nodeid);
	return h->unique;
}

FIXTURE(raw)
{
	int fd;
};

FIXTURE_SETUP(raw)
{
	self->fd = setup(_metadata, FUSE_KERNEL_VERSION);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(raw)
{
	teardown(self->fd);
}

TEST_F(raw, good_reply)
{
	struct fuse_attr_out out;
	pid_t pid = stat_child();
	uint64_t u = expect_getattr(_metadata, self->fd);

	fill_attr(&out);
	EXPECT_EQ(sizeof(struct fuse_out_header) + sizeof(out), reply(self->fd, u, 0, &out, sizeof(out)));
	EXPECT_EQ(0, wait_child(pid, 10));
}

TEST_F(raw, short_reply)
{
	struct fuse_attr_out out;
	pid_t pid = stat_child();
	uint64_t u = expect_getattr(_metadata, self->fd);

	fill_attr(&out);
	EXPECT_EQ(-EINVAL, reply(self->fd, u, 0, &out, sizeof(out) - 8));
	EXPECT_EQ(EIO, wait_child(pid, 10));
}

TEST_F(raw, long_reply)
{
	char big[sizeof(struct fuse_attr_out) + 16] = { 0 };
	pid_t pid = stat_child();
	uint64_t u = expect_getattr(_metadata, self->fd);

	EXPECT_EQ(-EINVAL, reply(self->fd, u, 0, big, sizeof(big)));
	EXPECT_EQ(EIO, wait_child(pid, 10));
}

TEST_F(raw, header_only_reply)
{
	pid_t pid = stat_child();
	uint64_t u = expect_getattr(_metadata, self->fd);

	EXPECT_EQ(-EINVAL, reply(self->fd, u, 0, NULL, 0));
	EXPECT_EQ(EIO, wait_child(pid, 10));
}

TEST_F(raw, error_reply_with_payload)
{
	char junk[8] = { 0 };
	pid_t pid = stat_child();
	uint64_t u = expect_getattr(_metadata, self->fd);

	EXPECT_EQ(-EINVAL, reply(self->fd, u, -ENOENT, junk, sizeof(junk)));
	EXPECT_EQ(EIO, wait_child(pid, 10));
}

TEST_F(raw, unknown_unique)
{
	struct fuse_attr_out out;
	pid_t pid = stat_child();
	uint64_t u = expect_getattr(_metadata, self->fd);

	fill_attr(&out);
	EXPECT_EQ(-ENOENT, reply(self->fd, u + 1000, 0, &out, sizeof(out)));
	/* The real request is undisturbed. */
	EXPECT_EQ(sizeof(struct fuse_out_header) + sizeof(out), reply(self->fd, u, 0, &out, sizeof(out)));
	EXPECT_EQ(0, wait_child(pid, 10));
}

TEST_F(raw, positive_and_huge_errors)
{
	pid_t pid = stat_child();
	uint64_t u = expect_getattr(_metadata, self->fd);

	EXPECT_EQ(-EINVAL, reply(self->fd, u, 5, NULL, 0));
	EXPECT_EQ(-EINVAL, reply(self->fd, u, -512, NULL, 0));
	EXPECT_EQ(-EINVAL, reply(self->fd, u, -100000, NULL, 0));
	/* Refused before the request was looked up: it still waits. */
	EXPECT_EQ(-1, wait_child(pid, 1));
	EXPECT_EQ(sizeof(struct fuse_out_header), reply(self->fd, u, -EPERM, NULL, 0));
	EXPECT_EQ(EPERM, wait_child(pid, 10));
}

TEST_F(raw, error_reply)
{
	pid_t pid = stat_child();
	uint64_t u = expect_getattr(_metadata, self->fd);

	EXPECT_EQ(sizeof(struct fuse_out_header), reply(self->fd, u, -EACCES, NULL, 0));
	EXPECT_EQ(EACCES, wait_child(pid, 10));
}

TEST_F(raw, reply_twice)
{
	struct fuse_attr_out out;
	pid_t pid = stat_child();
	uint64_t u = expect_getattr(_metadata, self->fd);

	fill_attr(&out);
	EXPECT_EQ(sizeof(struct fuse_out_header) + sizeof(out), reply(self->fd, u, 0, &out, sizeof(out)));
	EXPECT_EQ(-ENOENT, reply(self->fd, u, 0, &out, sizeof(out)));
	EXPECT_EQ(0, wait_child(pid, 10));
}

TEST_F(raw, bad_header_length)
{
	struct fuse_attr_out out;
	pid_t pid = stat_child();
	uint64_t u = expect_getattr(_metadata, self->fd);

	fill_attr(&out);
	EXPECT_EQ(-EINVAL, reply_raw(self->fd, u, 0, &out, sizeof(out), 20));
	EXPECT_EQ(-EINVAL, write(self->fd, buf, 8) < 0 ? -errno : 0);
	EXPECT_EQ(sizeof(struct fuse_out_header) + sizeof(out), reply(self->fd, u, 0, &out, sizeof(out)));
	EXPECT_EQ(0, wait_child(pid, 10));
}

TEST_F(raw, huge_attr_timeout)
{
	struct fuse_attr_out out;
	pid_t pid = stat_child();
	uint64_t u = expect_getattr(_metadata, self->fd);
	int fl = fcntl(self->fd, F_GETFL);

	fill_attr(&out);
	out.attr_valid = UINT64_MAX;
	out.attr_valid_nsec = UINT32_MAX;
	reply(self->fd, u, 0, &out, sizeof(out));
	EXPECT_EQ(0, wait_child(pid, 10));
	/* Cached "forever": the next stat asks the daemon nothing. */
	pid = stat_child();
	EXPECT_EQ(0, wait_child(pid, 10));
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, fl | O_NONBLOCK));
	EXPECT_EQ(-1, read(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	fcntl(self->fd, F_SETFL, fl);
}

TEST_F(raw, getattr_wrong_type)
{
	struct fuse_attr_out out;
	pid_t pid = stat_child();
	uint64_t u = expect_getattr(_metadata, self->fd);

	fill_attr(&out);
	out.attr.mode = S_IFREG | 0644;
	EXPECT_EQ(sizeof(struct fuse_out_header) + sizeof(out), reply(self->fd, u, 0, &out, sizeof(out)));
	EXPECT_EQ(EIO, wait_child(pid, 10));
}

TEST_F(raw, getattr_invalid_mode)
{
	struct fuse_attr_out out;
	pid_t pid = stat_child();
	uint64_t u = expect_getattr(_metadata, self->fd);

	fill_attr(&out);
	out.attr.mode = 0755;
	EXPECT_EQ(sizeof(struct fuse_out_header) + sizeof(out), reply(self->fd, u, 0, &out, sizeof(out)));
	EXPECT_EQ(EIO, wait_child(pid, 10));
}

/* Lists MNT in a child: exits with the errno of open or getdents (0 if fine). */
static pid_t list_child(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		char d[4096];
		int fd;

		child_prep();
		fd = open(MNT, O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			_exit(errno);
		_exit(syscall(SYS_getdents64, fd, d, sizeof(d)) < 0 ? errno : 0);
	}
	return pid;
}

/* Answers OPENDIR, then READDIR with `ents` (`size` bytes), then RELEASEDIR. */
static void serve_listing(struct __test_metadata *_metadata, int fd, const void *ents, size_t size)
{
	struct fuse_open_out open_out = { .fh = 7 };
	struct fuse_in_header *h = get_req(fd);

	ASSERT_NE(NULL, h);
	ASSERT_EQ(FUSE_OPENDIR, h->opcode);
	reply(fd, h->unique, 0, &open_out, sizeof(open_out));
	h = get_req(fd);
	ASSERT_NE(NULL, h);
	ASSERT_EQ(FUSE_READDIR, h->opcode);
	EXPECT_EQ(sizeof(struct fuse_out_header) + size, reply(fd, h->unique, 0, ents, size));
	h = get_req(fd);
	ASSERT_NE(NULL, h);
	EXPECT_EQ(FUSE_RELEASEDIR, h->opcode);
}

/* Builds one dirent named `name` (length `len`) at `p`; returns its size. */
static size_t put_dirent(char *p, const char *name, uint32_t len, uint64_t off)
{
	struct fuse_dirent *d = (struct fuse_dirent *)p;

	d->ino = 5;
	d->off = off;
	d->namelen = len;
	d->type = DT_REG;
	memcpy(d->name, name, strlen(name));
	return FUSE_DIRENT_SIZE(d);
}

TEST_F(raw, readdir_good_listing)
{
	char ents[512] = { 0 };
	size_t n = put_dirent(ents, "file", 4, 1);
	pid_t pid = list_child();

	n += put_dirent(ents + n, "other", 5, 2);
	serve_listing(_metadata, self->fd, ents, n);
	EXPECT_EQ(0, wait_child(pid, 10));
}

TEST_F(raw, readdir_name_with_slash)
{
	char ents[512] = { 0 };
	size_t n = put_dirent(ents, "a/b", 3, 1);
	pid_t pid = list_child();

	serve_listing(_metadata, self->fd, ents, n);
	EXPECT_EQ(EIO, wait_child(pid, 10));
}

TEST_F(raw, readdir_empty_and_huge_names)
{
	char ents[512] = { 0 };
	size_t n = put_dirent(ents, "", 0, 1);
	pid_t pid = list_child();

	serve_listing(_metadata, self->fd, ents, n);
	EXPECT_EQ(EIO, wait_child(pid, 10));
	memset(ents, 0, sizeof(ents));
	n = put_dirent(ents, "x", 1, 1);
	((struct fuse_dirent *)ents)->namelen = 5000;
	pid = list_child();
	serve_listing(_metadata, self->fd, ents, n);
	EXPECT_EQ(EIO, wait_child(pid, 10));
}

TEST_F(raw, readdir_truncated_entry)
{
	char ents[512] = { 0 };
	size_t n = put_dirent(ents, "file", 4, 1);
	pid_t pid = list_child();

	/* A last entry cut short ends the page; what came before is listed. */
	n += put_dirent(ents + n, "other", 5, 2);
	serve_listing(_metadata, self->fd, ents, n - 4);
	EXPECT_EQ(0, wait_child(pid, 10));
}

TEST_F(raw, splice_request_and_reply)
{
	struct fuse_out_header oh = { .error = 0 };
	struct fuse_in_header h;
	struct fuse_attr_out out;
	int p[2];
	pid_t pid;
	ssize_t n;

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(1 << 20, fcntl(p[1], F_SETPIPE_SZ, 1 << 20));
	pid = stat_child();
	/* The request, read with splice(2) as libfuse does by default. */
	n = splice(self->fd, NULL, p[1], NULL, 1 << 20, 0);
	ASSERT_LE((ssize_t)sizeof(h), n);
	ASSERT_EQ(n, read(p[0], buf, n));
	memcpy(&h, buf, sizeof(h));
	EXPECT_EQ(FUSE_GETATTR, h.opcode);
	EXPECT_EQ(n, h.len);
	/* The reply, written with splice(2) from a pipe (libfuse's splice_write). */
	fill_attr(&out);
	oh.len = sizeof(oh) + sizeof(out);
	oh.unique = h.unique;
	ASSERT_EQ(sizeof(oh), write(p[1], &oh, sizeof(oh)));
	ASSERT_EQ(sizeof(out), write(p[1], &out, sizeof(out)));
	EXPECT_EQ(oh.len, splice(p[0], NULL, self->fd, NULL, oh.len, 0));
	EXPECT_EQ(0, wait_child(pid, 10));
	close(p[0]);
	close(p[1]);
}

/*
 * A reply spliced from a pipe of several buffers: a length beyond what the pipe
 * holds fails with EINVAL and leaves the pipe as it was (C's
 * fuse_dev_splice_write()); then the reply's own length takes just the reply,
 * across the buffers, and the bytes after it stay in the pipe.
 */
TEST_F(raw, splice_reply_across_buffers)
{
	struct fuse_out_header oh = { .error = 0 };
	struct fuse_attr_out out;
	char tail[8] = "trailer", back[sizeof(tail)];
	int p[2];
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	pid = stat_child();
	oh.unique = expect_getattr(_metadata, self->fd);
	fill_attr(&out);
	oh.len = sizeof(oh) + sizeof(out);
	ASSERT_EQ(sizeof(oh), write(p[1], &oh, sizeof(oh)));
	ASSERT_EQ(10, write(p[1], &out, 10));
	EXPECT_EQ(-1, splice(p[0], NULL, self->fd, NULL, oh.len, SPLICE_F_NONBLOCK));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(sizeof(out) - 10, write(p[1], (char *)&out + 10, sizeof(out) - 10));
	ASSERT_EQ(sizeof(tail), write(p[1], tail, sizeof(tail)));
	EXPECT_EQ(oh.len, splice(p[0], NULL, self->fd, NULL, oh.len, 0));
	EXPECT_EQ(0, wait_child(pid, 10));
	EXPECT_EQ(sizeof(back), read(p[0], back, sizeof(back)));
	EXPECT_EQ(0, memcmp(tail, back, sizeof(tail)));
	close(p[0]);
	close(p[1]);
}

/*
 * A pipe with room for less than the largest request (one page) fails the
 * splice with EINVAL, as a short read(2) buffer does; the request stays
 * queued for the next read.
 */
TEST_F(raw, splice_one_page_pipe)
{
	struct fuse_attr_out out;
	int p[2];
	pid_t pid;
	uint64_t u;

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(4096, fcntl(p[1], F_SETPIPE_SZ, 4096));
	pid = stat_child();
	usleep(100000);
	EXPECT_EQ(-1, splice(self->fd, NULL, p[1], NULL, 1 << 20, 0));
	EXPECT_EQ(EINVAL, errno);
	u = expect_getattr(_metadata, self->fd);
	fill_attr(&out);
	EXPECT_EQ(sizeof(struct fuse_out_header) + sizeof(out), reply(self->fd, u, 0, &out, sizeof(out)));
	EXPECT_EQ(0, wait_child(pid, 10));
	close(p[0]);
	close(p[1]);
}

/* A request of many pages (a 60,000-byte xattr value) comes whole and in order through splice(2). */
TEST_F(raw, splice_long_request)
{
	static char value[60000];
	struct fuse_in_header h;
	struct fuse_attr_out out;
	size_t i, got;
	int p[2];
	pid_t pid;
	ssize_t n;

	for (i = 0; i < sizeof(value); i++)
		value[i] = (char)(i * 7 + i / 4096);
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(1 << 20, fcntl(p[1], F_SETPIPE_SZ, 1 << 20));
	pid = fork();
	if (pid == 0) {
		child_prep();
		_exit(setxattr(MNT, "user.big", value, sizeof(value), 0) ? errno : 0);
	}
	for (;;) {
		n = splice(self->fd, NULL, p[1], NULL, 1 << 20, 0);
		ASSERT_LE((ssize_t)sizeof(h), n);
		for (got = 0; got < (size_t)n; got += i) {
			ssize_t r = read(p[0], buf + got, n - got);

			ASSERT_LT(0, r);
			i = r;
		}
		memcpy(&h, buf, sizeof(h));
		ASSERT_EQ(n, h.len);
		if (h.opcode != FUSE_GETATTR)
			break;
		fill_attr(&out);
		reply(self->fd, h.unique, 0, &out, sizeof(out));
	}
	ASSERT_EQ(FUSE_SETXATTR, h.opcode);
	ASSERT_LT(sizeof(h) + sizeof(value), (size_t)n);
	EXPECT_EQ(0, memcmp(buf + n - sizeof(value), value, sizeof(value)));
	EXPECT_EQ(0, memcmp(buf + n - sizeof(value) - 9, "user.big", 9));
	EXPECT_EQ(sizeof(struct fuse_out_header), reply(self->fd, h.unique, 0, NULL, 0));
	EXPECT_EQ(0, wait_child(pid, 10));
	close(p[0]);
	close(p[1]);
}

/*
 * A daemon that answers ENOSYS to GETXATTR, SETXATTR and REMOVEXATTR is asked
 * each once: later calls fail with EOPNOTSUPP without a request.
 */
TEST_F(raw, xattr_enosys_remembered)
{
	int asked[3] = { 0, 0, 0 };
	struct fuse_in_header *h;
	struct fuse_attr_out out;
	pid_t pid = fork();

	if (pid == 0) {
		int errs[6], i, ok = 1;
		struct stat st;
		char v[8];

		child_prep();
		for (i = 0; i < 2; i++) {
			errs[i] = getxattr(MNT, "user.a", v, sizeof(v)) < 0 ? errno : 0;
			errs[2 + i] = setxattr(MNT, "user.a", "x", 1, 0) ? errno : 0;
			errs[4 + i] = removexattr(MNT, "user.a") ? errno : 0;
		}
		for (i = 0; i < 6; i++)
			ok &= errs[i] == EOPNOTSUPP;
		stat(MNT "/done", &st);
		_exit(ok ? 0 : 1);
	}
	while ((h = get_req(self->fd))) {
		if (h->opcode == FUSE_LOOKUP) {
			reply(self->fd, h->unique, -ENOENT, NULL, 0);
			break;
		}
		if (h->opcode == FUSE_GETATTR) {
			fill_attr(&out);
			reply(self->fd, h->unique, 0, &out, sizeof(out));
			continue;
		}
		asked[0] += h->opcode == FUSE_GETXATTR;
		asked[1] += h->opcode == FUSE_SETXATTR;
		asked[2] += h->opcode == FUSE_REMOVEXATTR;
		reply(self->fd, h->unique, -ENOSYS, NULL, 0);
	}
	EXPECT_EQ(0, wait_child(pid, 10));
	EXPECT_EQ(1, asked[0]);
	EXPECT_EQ(1, asked[1]);
	EXPECT_EQ(1, asked[2]);
}

/* Forks a process that stats MNT/name; exits with the errno (0 on success). */
static pid_t stat_name_child(const char *name)
{
	pid_t pid = fork();

	if (pid == 0) {
		char path[256];
		struct stat st;

		child_prep();
		snprintf(path, sizeof(path), "%s/%s", MNT, name);
		_exit(stat(path, &st) ? errno : 0);
	}
	return pid;
}

/* Answers a LOOKUP with node `nodeid` (a regular file), cached for a day. */
static void reply_entry(struct __test_metadata *_metadata, int fd, uint64_t nodeid)
{
	struct fuse_entry_out e = {
		.nodeid = nodeid, .generation = 1, .entry_valid = 86400, .attr_valid = 86400,
	};
	struct fuse_in_header *h = get_req(fd);

	ASSERT_NE(NULL, h);
	ASSERT_EQ(FUSE_LOOKUP, h->opcode);
	e.attr.ino = nodeid;
	e.attr.mode = S_IFREG | 0644;
	e.attr.nlink = 1;
	EXPECT_EQ(sizeof(struct fuse_out_header) + sizeof(e), reply(fd, h->unique, 0, &e, sizeof(e)));
}

TEST_F(raw, forgets_after_eviction)
{
	const char *names[] = { "a", "b", "c" };
	uint64_t seen = 0, lookups = 0;
	struct fuse_in_header *h;
	int i, fd;

	for (i = 0; i < 3; i++) {
		pid_t pid = stat_name_child(names[i]);

		reply_entry(_metadata, self->fd, 10 + i);
		ASSERT_EQ(0, wait_child(pid, 10));
	}
	/* Unused dentries and inodes go: the daemon must be told to forget. */
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, write(fd, "2", 1));
	close(fd);
	while (seen != 0x7 << 10) {
		h = get_req(self->fd);
		ASSERT_NE(NULL, h);
		if (h->opcode == FUSE_BATCH_FORGET) {
			struct fuse_batch_forget_in *b = (void *)(h + 1);
			struct fuse_forget_one *one = (void *)(b + 1);
			uint32_t j;

			EXPECT_EQ(sizeof(*h) + sizeof(*b) + b->count * sizeof(*one), h->len);
			for (j = 0; j < b->count; j++) {
				seen |= 1ULL << one[j].nodeid;
				lookups += one[j].nlookup;
			}
		} else {
			ASSERT_EQ(FUSE_FORGET, h->opcode);
			seen |= 1ULL << h->nodeid;
			lookups += ((struct fuse_forget_in *)(h + 1))->nlookup;
		}
	}
	EXPECT_EQ(3, lookups);
}

TEST_F(raw, read_buffer_too_small)
{
	char small[4096];

	EXPECT_EQ(-1, read(self->fd, small, sizeof(small)));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(raw, nonblocking_read_and_poll)
{
	struct pollfd p = { .fd = self->fd, .events = POLLIN };
	int fl = fcntl(self->fd, F_GETFL);
	struct fuse_attr_out out;
	pid_t pid;
	uint64_t u;

	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, fl | O_NONBLOCK));
	EXPECT_EQ(-1, read(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(0, poll(&p, 1, 0));
	pid = stat_child();
	EXPECT_EQ(1, poll(&p, 1, 5000));
	EXPECT_EQ(POLLIN, p.revents & POLLIN);
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, fl));
	u = expect_getattr(_metadata, self->fd);
	fill_attr(&out);
	reply(self->fd, u, 0, &out, sizeof(out));
	EXPECT_EQ(0, wait_child(pid, 10));
}

static void on_usr1(int sig)
{
	(void)sig;
}

/*
 * A stat that a signal (with a handler, so the syscall is not restarted)
 * interrupts while the daemon holds its GETATTR: returns the request's unique
 * and, in *h, the FUSE_INTERRUPT the daemon reads next.
 */
static uint64_t interrupted_stat(struct __test_metadata *_metadata, int fd, pid_t *pid,
				 struct fuse_in_header **h)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	uint64_t u;

	*pid = fork();
	if (*pid == 0) {
		struct stat st;

		child_prep();
		sigaction(SIGUSR1, &sa, NULL);
		_exit(stat(MNT, &st) ? errno : 0);
	}
	u = expect_getattr(_metadata, fd);
	usleep(200000);
	kill(*pid, SIGUSR1);
	*h = get_req(fd);
	return u;
}

TEST_F(raw, interrupt)
{
	struct fuse_in_header *h;
	struct fuse_interrupt_in *in;
	pid_t pid;
	uint64_t u = interrupted_stat(_metadata, self->fd, &pid, &h);

	ASSERT_NE(NULL, h);
	EXPECT_EQ(FUSE_INTERRUPT, h->opcode);
	EXPECT_EQ(u | INT_REQ_BIT, h->unique);
	in = (struct fuse_interrupt_in *)(h + 1);
	EXPECT_EQ(u, in->unique);
	EXPECT_EQ(sizeof(struct fuse_out_header), reply(self->fd, u, -EINTR, NULL, 0));
	EXPECT_EQ(EINTR, wait_child(pid, 10));
}

TEST_F(raw, interrupt_enosys)
{
	struct fuse_in_header *h;
	struct fuse_attr_out out;
	pid_t pid;
	uint64_t u = interrupted_stat(_metadata, self->fd, &pid, &h);

	ASSERT_NE(NULL, h);
	EXPECT_EQ(FUSE_INTERRUPT, h->opcode);
	/* An interrupt reply with a payload is refused; ENOSYS is accepted. */
	EXPECT_EQ(-EINVAL, reply(self->fd, h->unique, -ENOSYS, buf, 8));
	EXPECT_EQ(sizeof(struct fuse_out_header), reply(self->fd, u | INT_REQ_BIT, -ENOSYS, NULL, 0));
	fill_attr(&out);
	EXPECT_EQ(sizeof(struct fuse_out_header) + sizeof(out), reply(self->fd, u, 0, &out, sizeof(out)));
	EXPECT_EQ(0, wait_child(pid, 10));
}

/*
 * An interrupt reply of EAGAIN asks for the interrupt again: for a request
 * that was never interrupted it is refused with EINVAL (C's
 * queue_interrupt()), and no FUSE_INTERRUPT follows.
 */
TEST_F(raw, interrupt_eagain_not_interrupted)
{
	struct pollfd pfd = { .fd = self->fd, .events = POLLIN };
	struct fuse_attr_out out;
	pid_t pid = stat_child();
	uint64_t u = expect_getattr(_metadata, self->fd);

	ASSERT_NE(0, u);
	EXPECT_EQ(-EINVAL, reply(self->fd, u | INT_REQ_BIT, -EAGAIN, NULL, 0));
	EXPECT_EQ(0, poll(&pfd, 1, 300));
	fill_attr(&out);
	EXPECT_EQ(sizeof(struct fuse_out_header) + sizeof(out), reply(self->fd, u, 0, &out, sizeof(out)));
	EXPECT_EQ(0, wait_child(pid, 10));
}

/*
 * FUSE_NOTIFY_RESEND (7.40): the requests the daemon has read and not
 * answered come again, their unique ids marked FUSE_UNIQUE_RESEND, and a
 * reply to the new id ends them.
 */
TEST_F(raw, notify_resend)
{
	struct fuse_out_header oh = { .len = sizeof(oh), .error = FUSE_NOTIFY_RESEND };
	struct fuse_attr_out out;
	struct fuse_in_header *h;
	pid_t pid = stat_child();
	uint64_t u = expect_getattr(_metadata, self->fd);

	ASSERT_NE(0, u);
	EXPECT_EQ(sizeof(oh), write(self->fd, &oh, sizeof(oh)));
	h = get_req(self->fd);
	ASSERT_NE(NULL, h);
	EXPECT_EQ(FUSE_GETATTR, h->opcode);
	EXPECT_EQ(u | FUSE_UNIQUE_RESEND, h->unique);
	/* The old id is no longer the request's. */
	fill_attr(&out);
	EXPECT_EQ(-ENOENT, reply(self->fd, u, 0, &out, sizeof(out)));
	EXPECT_EQ(sizeof(struct fuse_out_header) + sizeof(out), reply(self->fd, h->unique, 0, &out, sizeof(out)));
	EXPECT_EQ(0, wait_child(pid, 10));
}

TEST_F(raw, daemon_gone_wakes_every_waiter)
{
	pid_t a = stat_child(), b;
	struct stat st;

	expect_getattr(_metadata, self->fd);
	b = stat_child();
	usleep(300000);
	/* One request is with the daemon, one is queued: both end. */
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(ECONNABORTED, wait_child(a, 10));
	EXPECT_EQ(ECONNABORTED, wait_child(b, 10));
	EXPECT_EQ(-1, stat(MNT, &st));
	EXPECT_EQ(ENOTCONN, errno);
	EXPECT_EQ(0, umount2(MNT, 0));
}

TEST_F(raw, umount_force_aborts)
{
	pid_t a = stat_child();
	char rbuf[BUFSZ];

	expect_getattr(_metadata, self->fd);
	EXPECT_EQ(0, umount2(MNT, MNT_FORCE | MNT_DETACH));
	EXPECT_EQ(ECONNABORTED, wait_child(a, 10));
	EXPECT_EQ(-1, read(self->fd, rbuf, sizeof(rbuf)));
	EXPECT_EQ(ENODEV, errno);
}

TEST_F(raw, sigkill_while_daemon_holds_request)
{
	pid_t pid = stat_child();
	int early;

	expect_getattr(_metadata, self->fd);
	usleep(200000);
	kill(pid, SIGKILL);
	early = wait_child(pid, 2);
	if (is_rust()) {
		/* Deliberate difference: the killed waiter leaves at once. */
		EXPECT_EQ(128 + SIGKILL, early);
	} else {
		/* The C module keeps it until the daemon goes away. */
		EXPECT_EQ(-1, early);
	}
	close(self->fd);
	self->fd = -1;
	if (early < 0)
		EXPECT_EQ(128 + SIGKILL, wait_child(pid, 10));
}

/*
 * Answers what opening and closing the file "f" (node 2) asks: LOOKUP,
 * GETATTR, OPEN (file handle 7), and FORGET (no answer); returns 0 for any
 * other request, left to the caller.
 */
static int serve_file_f(int fd, struct fuse_in_header *h)
{
	switch (h->opcode) {
	case FUSE_LOOKUP: {
		struct fuse_entry_out e = { .nodeid = 2, .attr = { .ino = 2, .mode = S_IFREG | 0644, .nlink = 1 } };

		reply(fd, h->unique, 0, &e, sizeof(e));
		return 1;
	}
	case FUSE_GETATTR: {
		struct fuse_attr_out a = { .attr = { .ino = h->nodeid, .nlink = 1,
			.mode = h->nodeid == 1 ? S_IFDIR | 0755 : S_IFREG | 0644 } };

		reply(fd, h->unique, 0, &a, sizeof(a));
		return 1;
	}
	case FUSE_OPEN: {
		struct fuse_open_out o = { .fh = 7 };

		reply(fd, h->unique, 0, &o, sizeof(o));
		return 1;
	}
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
		return 1;
	}
	return 0;
}

/*
 * Serves file f (serve_file_f()) for up to `ms` milliseconds of quiet and
 * returns the first request it does not answer, or NULL (none came, or the
 * read failed).
 */
static struct fuse_in_header *next_unserved(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct fuse_in_header *h;

	while (poll(&pfd, 1, ms) == 1) {
		h = get_req(fd);
		if (!h || !serve_file_f(fd, h))
			return h;
	}
	return NULL;
}

/* How many times `needle` is in the kernel log. */
static int log_count(const char *needle)
{
	int size = klogctl(10, NULL, 0), n, count = 0;
	char *log, *p;

	if (size <= 0 || !(log = calloc(1, size + 1)))
		return -1;
	n = klogctl(3, log, size);
	for (p = log; n > 0 && (p = strstr(p, needle)); p++)
		count++;
	free(log);
	return n < 0 ? -1 : count;
}

/*
 * A daemon that answers every LOOKUP with the root's node id and a non-zero
 * generation: the warning about it is printed once (C's pr_warn_once()), not
 * at every lookup.
 */
TEST_F(raw, root_generation_warning_not_repeated)
{
	const char *warning = "root generation should be zero";
	int before = log_count(warning), i, st, lookups = 0;
	pid_t pid;

	ASSERT_LE(0, before);
	pid = fork();
	if (pid == 0) {
		struct stat sb;

		child_prep();
		for (i = 0; i < 20; i++)
			stat(MNT "/x", &sb);
		_exit(0);
	}
	for (i = 0; i < 200; i++) {
		struct pollfd pfd = { .fd = self->fd, .events = POLLIN };
		struct fuse_in_header *h;

		if (poll(&pfd, 1, 100) <= 0) {
			if (waitpid(pid, &st, WNOHANG) == pid)
				break;
			continue;
		}
		h = get_req(self->fd);
		if (!h)
			break;
		if (h->opcode == FUSE_LOOKUP) {
			struct fuse_entry_out e = { .nodeid = FUSE_ROOT_ID, .generation = 5,
				.attr = { .ino = 1, .mode = S_IFDIR | 0755, .nlink = 2 } };

			lookups++;
			reply(self->fd, h->unique, 0, &e, sizeof(e));
		} else if (h->opcode == FUSE_GETATTR) {
			struct fuse_attr_out a;

			fill_attr(&a);
			reply(self->fd, h->unique, 0, &a, sizeof(a));
		} else if (h->opcode != FUSE_FORGET && h->opcode != FUSE_BATCH_FORGET) {
			reply(self->fd, h->unique, -ENOSYS, NULL, 0);
		}
	}
	EXPECT_LE(10, lookups);
	EXPECT_GE(before + 1, log_count(warning));
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

/*
 * A task polls file f with no timeout; the daemon asked to be told of waits
 * (FUSE_POLL_SCHEDULE_NOTIFY) and answered "nothing ready". An abort (the
 * daemon's /dev/fuse closed) must wake it, as C's end_polls() does, and its
 * poll then reports POLLERR.
 */
TEST_F(raw, abort_wakes_pollers)
{
	pid_t pid = fork();
	int i, st, polled = 0;

	if (pid == 0) {
		struct pollfd p = { .events = POLLIN };

		child_prep();
		p.fd = open(MNT "/f", O_RDONLY);
		if (p.fd < 0)
			_exit(1);
		_exit(poll(&p, 1, -1) == 1 && (p.revents & POLLERR) ? 0 : 2);
	}
	for (i = 0; i < 100 && !polled; i++) {
		struct fuse_in_header *h = next_unserved(self->fd, 100);

		if (!h)
			continue;
		if (h->opcode == FUSE_POLL) {
			struct fuse_poll_in *in = (struct fuse_poll_in *)(h + 1);
			struct fuse_poll_out o = { .revents = 0 };

			polled = !!(in->flags & FUSE_POLL_SCHEDULE_NOTIFY);
			reply(self->fd, h->unique, 0, &o, sizeof(o));
		} else {
			reply(self->fd, h->unique, -ENOSYS, NULL, 0);
		}
	}
	EXPECT_EQ(1, polled);
	usleep(300000);
	/* Nothing is ready: the poller still sleeps. */
	EXPECT_EQ(0, waitpid(pid, &st, WNOHANG));
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(0, wait_child(pid, 5));
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

/* Sends a NOTIFY_RETRIEVE of file f's first page; the write's result. */
static ssize_t notify_retrieve(int fd, uint64_t notify_unique)
{
	struct fuse_notify_retrieve_out r = {
		.notify_unique = notify_unique, .nodeid = 2, .offset = 0, .size = 4096,
	};

	return reply_raw(fd, 0, FUSE_NOTIFY_RETRIEVE, &r, sizeof(r), 0);
}

/*
 * A daemon that sends RETRIEVEs and never reads the answers: rust_fuse keeps
 * at most 64 answers queued and fails the next RETRIEVE with ENOBUFS until
 * the daemon reads them. Deliberate difference: C queues every answer, so a
 * daemon can make it hold kernel memory without bound; here it does 200.
 */
TEST_F(raw, retrieve_answers_bounded)
{
	int i, st, n = 0, ok = 0, nobufs = 0, replies = 0;
	pid_t pid = fork();

	if (pid == 0) {
		/* Keeps f open (its inode cached) until killed. */
		child_prep();
		if (open(MNT "/f", O_RDONLY) < 0)
			_exit(1);
		pause();
		_exit(0);
	}
	/* Serve until the file is open (OPEN answered), then a little more. */
	for (i = 0; i < 100 && n < 2; i++) {
		struct pollfd pfd = { .fd = self->fd, .events = POLLIN };
		struct fuse_in_header *h;

		if (poll(&pfd, 1, 100) <= 0) {
			n += n > 0;
			continue;
		}
		h = get_req(self->fd);
		if (!h)
			break;
		if (h->opcode == FUSE_OPEN)
			n = 1;
		if (!serve_file_f(self->fd, h))
			reply(self->fd, h->unique, -ENOSYS, NULL, 0);
	}
	for (i = 0; i < 200; i++) {
		ssize_t r = notify_retrieve(self->fd, 1000 + i);

		ok += r > 0;
		nobufs += r == -ENOBUFS;
	}
	if (is_rust()) {
		EXPECT_EQ(64, ok);
		EXPECT_EQ(136, nobufs);
	} else {
		EXPECT_EQ(200, ok);
	}
	/* Reading the answers frees their places. */
	for (i = 0; i < 400 && replies < ok; i++) {
		struct fuse_in_header *h = next_unserved(self->fd, 100);

		if (!h)
			break;
		if (h->opcode == FUSE_NOTIFY_REPLY)
			replies++;
		else
			reply(self->fd, h->unique, -ENOSYS, NULL, 0);
	}
	EXPECT_EQ(ok, replies);
	EXPECT_LT(0, notify_retrieve(self->fd, 5000));
	kill(pid, SIGKILL);
	/* Its close sends FLUSH, which is answered. */
	for (i = 0; i < 50 && waitpid(pid, &st, WNOHANG) != pid; i++) {
		struct fuse_in_header *h = next_unserved(self->fd, 100);

		if (h && h->opcode != FUSE_NOTIFY_REPLY)
			reply(self->fd, h->unique, 0, NULL, 0);
	}
	waitpid(pid, &st, WNOHANG);
}

/*
 * POSIX locks through the daemon (INIT with FUSE_POSIX_LOCKS): F_GETLK gets
 * the daemon's answer, checked (an F_UNLCK answer changes the type alone);
 * a blocking F_SETLKW that a signal interrupts sends FUSE_INTERRUPT and,
 * answered EINTR, fails with EINTR (a handler without SA_RESTART). The
 * daemon serves what else comes (LOOKUP, OPEN, GETATTR, FLUSH, RELEASE) until
 * the locker exits.
 */
static int serve_locks(struct __test_metadata *_metadata, int fd, pid_t pid, int *getlk_seen,
		       int *interrupted)
{
	uint64_t setlkw = 0;
	int i, st, getlks = 0;

	for (i = 0; i < 200; i++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct fuse_in_header *h;

		if (poll(&pfd, 1, 100) <= 0) {
			if (waitpid(pid, &st, WNOHANG) == pid)
				return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			continue;
		}
		h = get_req(fd);
		if (!h)
			return -1;
		if (serve_file_f(fd, h))
			continue;
		switch (h->opcode) {
		case FUSE_GETLK: {
			struct fuse_lk_in *in = (struct fuse_lk_in *)(h + 1);
			struct fuse_lk_out o = { .lk = { .start = 0, .end = 99, .type = F_WRLCK, .pid = 1 } };
			/* The first answer is "unlocked", with a range that means nothing. */
			struct fuse_lk_out u = { .lk = { .start = 50, .end = 1, .type = F_UNLCK, .pid = 77 } };

			*getlk_seen = in->fh == 7 && in->lk.type == F_WRLCK && in->lk.end == 9;
			if (getlks++ == 0)
				reply(fd, h->unique, 0, &u, sizeof(u));
			else
				reply(fd, h->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_SETLKW:
			setlkw = h->unique;
			kill(pid, SIGUSR1);
			break;
		case FUSE_INTERRUPT: {
			struct fuse_interrupt_in *in = (struct fuse_interrupt_in *)(h + 1);

			*interrupted = in->unique == setlkw;
			reply(fd, setlkw, -EINTR, NULL, 0);
			break;
		}
		default:
			reply(fd, h->unique, 0, NULL, 0);
		}
	}
	return -1;
}

TEST(posix_locks_through_daemon)
{
	struct fuse_init_out init = {
		.major = FUSE_KERNEL_VERSION, .minor = 31, .max_readahead = 65536,
		.max_write = 4096, .flags = FUSE_POSIX_LOCKS,
	};
	int getlk_seen = 0, interrupted = 0, fd;
	pid_t pid;

	fd = mount_raw(&init);
	ASSERT_LE(0, fd);
	pid = fork();
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = on_usr1 };
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
		int f, r;

		child_prep();
		sigaction(SIGUSR1, &sa, NULL);
		f = open(MNT "/f", O_RDWR);
		if (f < 0)
			_exit(100);
		/* F_UNLCK changes the type alone (C's convert_fuse_file_lock()). */
		if (fcntl(f, F_GETLK, &fl) || fl.l_type != F_UNLCK || fl.l_start != 0 || fl.l_len != 10)
			_exit(102);
		fl.l_type = F_WRLCK;
		if (fcntl(f, F_GETLK, &fl) || fl.l_type != F_WRLCK || fl.l_start != 0 || fl.l_len != 100)
			_exit(101);
		fl.l_type = F_WRLCK;
		fl.l_len = 10;
		r = fcntl(f, F_SETLKW, &fl);
		_exit(r == 0 ? 0 : errno);
	}
	EXPECT_EQ(EINTR, serve_locks(_metadata, fd, pid, &getlk_seen, &interrupted));
	EXPECT_EQ(1, getlk_seen);
	EXPECT_EQ(1, interrupted);
	teardown(fd);
}

/*
 * Lock owner ids: the daemon sees one id per owner, the same at every request,
 * and different ids for different owners. One process asks with three owners
 * in turn (two open file descriptions for OFD locks, its file table for POSIX
 * locks and FLUSH), so that each owner's id is asked again after another's.
 */
TEST(lock_owner_ids)
{
	struct fuse_init_out init = {
		.major = FUSE_KERNEL_VERSION, .minor = 31, .max_readahead = 65536,
		.max_write = 4096, .flags = FUSE_POSIX_LOCKS,
	};
	uint64_t ids[16];
	int n = 0, i, fd, st, code = -1;
	pid_t pid;

	fd = mount_raw(&init);
	ASSERT_LE(0, fd);
	pid = fork();
	if (pid == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 10 };
		int f1, f2, r = 0;

		child_prep();
		f1 = open(MNT "/f", O_RDWR);
		f2 = open(MNT "/f", O_RDWR);
		if (f1 < 0 || f2 < 0)
			_exit(100);
		r |= fcntl(f1, F_OFD_GETLK, &fl);	/* owner f1 */
		fl.l_type = F_WRLCK;
		r |= fcntl(f2, F_OFD_GETLK, &fl);	/* owner f2 */
		fl.l_type = F_WRLCK;
		r |= fcntl(f1, F_GETLK, &fl);		/* owner: the file table */
		fl.l_type = F_WRLCK;
		r |= fcntl(f1, F_OFD_GETLK, &fl);	/* f1 again */
		r |= close(f1);				/* FLUSH: the file table */
		fl.l_type = F_WRLCK;
		r |= fcntl(f2, F_OFD_GETLK, &fl);	/* f2 again */
		r |= close(f2);				/* FLUSH: the file table */
		_exit(r ? 101 : 0);
	}
	for (i = 0; i < 200 && n < 16; i++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct fuse_in_header *h;

		if (poll(&pfd, 1, 100) <= 0) {
			if (waitpid(pid, &st, WNOHANG) == pid) {
				code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
				break;
			}
			continue;
		}
		h = get_req(fd);
		ASSERT_NE(NULL, h);
		if (serve_file_f(fd, h))
			continue;
		switch (h->opcode) {
		case FUSE_GETLK: {
			struct fuse_lk_out o = { .lk = { .type = F_UNLCK } };

			ids[n++] = ((struct fuse_lk_in *)(h + 1))->owner;
			reply(fd, h->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_FLUSH:
			ids[n++] = ((struct fuse_flush_in *)(h + 1))->lock_owner;
			reply(fd, h->unique, 0, NULL, 0);
			break;
		default:
			reply(fd, h->unique, 0, NULL, 0);
		}
	}
	if (code == -1)
		code = wait_child(pid, 10);
	EXPECT_EQ(0, code);
	/* f1, f2, table, f1, FLUSH (table), f2, FLUSH (table) */
	ASSERT_EQ(7, n);
	EXPECT_NE(ids[0], ids[1]);
	EXPECT_NE(ids[0], ids[2]);
	EXPECT_NE(ids[1], ids[2]);
	EXPECT_EQ(ids[0], ids[3]);
	EXPECT_EQ(ids[2], ids[4]);
	EXPECT_EQ(ids[1], ids[5]);
	EXPECT_EQ(ids[2], ids[6]);
	teardown(fd);
}

/* Writes a notification (unique 0): code, then `size` bytes of payload. */
static ssize_t notify_raw(int fd, int code, const void *data, size_t size)
{
	return reply(fd, 0, code, data, size);
}

/* Serves one request of a `stat(MNT "/f")`: LOOKUP of "f" answered with node 2
 * and a long entry time-out (or ENOENT if `gone`), or GETATTR. */
static int stat_f(struct __test_metadata *_metadata, int fd, int gone)
{
	pid_t pid = fork();
	int i;

	if (pid == 0) {
		struct stat st;

		child_prep();
		_exit(stat(MNT "/f", &st) ? errno : 0);
	}
	for (i = 0; i < 4; i++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct fuse_in_header *h;

		if (poll(&pfd, 1, 300) <= 0)
			break;
		h = get_req(fd);
		if (!h)
			break;
		if (h->opcode == FUSE_LOOKUP) {
			struct fuse_entry_out e = { .nodeid = 2, .entry_valid = 1000, .attr_valid = 1000,
				.attr = { .ino = 2, .mode = S_IFREG | 0644, .nlink = 1 } };

			if (gone)
				reply(fd, h->unique, -ENOENT, NULL, 0);
			else
				reply(fd, h->unique, 0, &e, sizeof(e));
		} else if (h->opcode == FUSE_GETATTR) {
			struct fuse_attr_out a = { .attr_valid = 1000, .attr = { .ino = h->nodeid, .nlink = 1,
				.mode = h->nodeid == 1 ? S_IFDIR | 0755 : S_IFREG | 0644 } };

			reply(fd, h->unique, 0, &a, sizeof(a));
		} else if (h->opcode != FUSE_FORGET && h->opcode != FUSE_BATCH_FORGET) {
			reply(fd, h->unique, 0, NULL, 0);
		}
	}
	return wait_child(pid, 10);
}

/*
 * Notifications are checked like replies: exact sizes, name lengths, known
 * codes (EINVAL, ENAMETOOLONG), and a name or node that is not cached
 * (ENOENT). A valid INVAL_ENTRY and DELETE drop the cached name: the next
 * stat asks the daemon again.
 */
TEST_F(raw, notifications_checked_and_applied)
{
	struct {
		struct fuse_notify_inval_entry_out o;
		char name[2];
	} ie = { { .parent = 1, .namelen = 1 }, "f" };
	struct {
		struct fuse_notify_delete_out o;
		char name[2];
	} del = { { .parent = 1, .child = 2, .namelen = 1 }, "f" };
	struct fuse_notify_inval_inode_out ii = { .ino = 2, .off = 0, .len = -1 };
	struct fuse_notify_inval_entry_out big = { .parent = 1, .namelen = 2000 };
	char pad[8] = { 0 };

	EXPECT_EQ(-EINVAL, notify_raw(self->fd, 99, pad, sizeof(pad)));
	EXPECT_EQ(-EINVAL, notify_raw(self->fd, FUSE_NOTIFY_INVAL_INODE, &ii, sizeof(ii) - 1));
	EXPECT_EQ(-EINVAL, notify_raw(self->fd, FUSE_NOTIFY_INVAL_ENTRY, &ie, sizeof(ie.o) + 1));
	EXPECT_EQ(-ENAMETOOLONG, notify_raw(self->fd, FUSE_NOTIFY_INVAL_ENTRY, &big, sizeof(big)));
	/* Nothing is cached yet. */
	EXPECT_EQ(-ENOENT, notify_raw(self->fd, FUSE_NOTIFY_INVAL_INODE, &ii, sizeof(ii)));
	EXPECT_EQ(-ENOENT, notify_raw(self->fd, FUSE_NOTIFY_INVAL_ENTRY, &ie, sizeof(ie.o) + 2));

	EXPECT_EQ(0, stat_f(_metadata, self->fd, 0));
	EXPECT_EQ(sizeof(struct fuse_out_header) + sizeof(ii),
		  notify_raw(self->fd, FUSE_NOTIFY_INVAL_INODE, &ii, sizeof(ii)));
	EXPECT_EQ(sizeof(struct fuse_out_header) + sizeof(ie.o) + 2,
		  notify_raw(self->fd, FUSE_NOTIFY_INVAL_ENTRY, &ie, sizeof(ie.o) + 2));
	/* The name was dropped: the daemon is asked, and now says it is gone. */
	EXPECT_EQ(ENOENT, stat_f(_metadata, self->fd, 1));

	EXPECT_EQ(0, stat_f(_metadata, self->fd, 0));
	del.o.child = 3;
	EXPECT_EQ(-ENOENT, notify_raw(self->fd, FUSE_NOTIFY_DELETE, &del, sizeof(del.o) + 2));
	/* A DELETE naming the wrong child still unhashed the name (as C): cache it again. */
	EXPECT_EQ(0, stat_f(_metadata, self->fd, 0));
	del.o.child = 2;
	EXPECT_EQ(sizeof(struct fuse_out_header) + sizeof(del.o) + 2,
		  notify_raw(self->fd, FUSE_NOTIFY_DELETE, &del, sizeof(del.o) + 2));
	EXPECT_EQ(ENOENT, stat_f(_metadata, self->fd, 1));
}

/*
 * The writeback cache with a daemon that never answers a WRITE: the WRITE
 * carries FUSE_WRITE_CACHE and the data, fsync waits for it, and the daemon's
 * close (abort) ends that wait.
 */
/*
 * A writer into the writeback cache calls fsync while the daemon holds its
 * WRITE (unanswered): fsync waits. With `kill_it`, the writer then gets
 * SIGKILL: on rust_fuse it leaves at once; the C module keeps it (D state)
 * until the daemon goes away. Then the daemon's /dev/fuse closes, which ends
 * the wait of a writer still there with an error.
 */
static void wb_fsync_unanswered(struct __test_metadata *_metadata, int kill_it)
{
	struct fuse_init_out init = {
		.major = FUSE_KERNEL_VERSION, .minor = 31, .max_readahead = 65536,
		.max_write = 65536, .flags = FUSE_WRITEBACK_CACHE | FUSE_BIG_WRITES,
	};
	struct fuse_in_header *h;
	int fd, writes = 0, cache_flag = 0, data_ok = 0, i;
	pid_t pid;

	fd = mount_raw(&init);
	ASSERT_LE(0, fd);
	pid = fork();
	if (pid == 0) {
		int f;

		child_prep();
		f = open(MNT "/f", O_RDWR);
		if (f < 0)
			_exit(100);
		if (pwrite(f, "hello", 5, 0) != 5)
			_exit(101);
		_exit(fsync(f) ? errno : 0);
	}
	/* Serve until the WRITE arrives (and leave it unanswered). */
	for (i = 0; i < 50 && !writes; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 200) <= 0)
			continue;
		h = get_req(fd);
		ASSERT_NE(NULL, h);
		switch (h->opcode) {
		case FUSE_LOOKUP: {
			struct fuse_entry_out e = {
				.nodeid = 2, .generation = 1, .entry_valid = 86400,
				.attr_valid = 86400,
			};
			e.attr.ino = 2;
			e.attr.mode = S_IFREG | 0644;
			e.attr.nlink = 1;
			reply(fd, h->unique, 0, &e, sizeof(e));
			break;
		}
		case FUSE_GETATTR: {
			struct fuse_attr_out a = { .attr_valid = 86400 };
			a.attr.ino = h->nodeid;
			a.attr.mode = h->nodeid == 2 ? S_IFREG | 0644 : S_IFDIR | 0755;
			a.attr.nlink = 1;
			reply(fd, h->unique, 0, &a, sizeof(a));
			break;
		}
		case FUSE_OPEN: {
			struct fuse_open_out o = { .fh = 7 };
			reply(fd, h->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_WRITE: {
			struct fuse_write_in *w = (void *)(h + 1);
			writes++;
			cache_flag = !!(w->write_flags & FUSE_WRITE_CACHE);
			data_ok = w->size == 5 && w->offset == 0 && w->fh == 7 &&
				  !memcmp(w + 1, "hello", 5);
			break;
		}
		default:
			reply(fd, h->unique, -ENOSYS, NULL, 0);
		}
	}
	EXPECT_EQ(1, writes);
	EXPECT_EQ(1, cache_flag);
	EXPECT_EQ(1, data_ok);
	/* fsync waits for the unanswered WRITE... */
	EXPECT_EQ(-1, wait_child(pid, 1));
	if (kill_it) {
		kill(pid, SIGKILL);
		i = wait_child(pid, 2);
		if (is_rust()) {
			/* Deliberate difference: the killed writer leaves at once. */
			EXPECT_EQ(128 + SIGKILL, i);
		} else {
			EXPECT_EQ(-1, i);
		}
		close(fd);
		if (i < 0) {
			EXPECT_EQ(128 + SIGKILL, wait_child(pid, 10));
		}
		teardown(-1);
		return;
	}
	/* ...until the daemon goes away. */
	close(fd);
	i = wait_child(pid, 10);
	EXPECT_TRUE(i == ECONNABORTED || i == ENOTCONN || i == EIO) {
		TH_LOG("fsync ended with %d", i);
	}
	teardown(-1);
}

TEST(writeback_write_unanswered_abort_wakes_fsync)
{
	wb_fsync_unanswered(_metadata, 0);
}

TEST(writeback_fsync_killed_while_daemon_holds_write)
{
	wb_fsync_unanswered(_metadata, 1);
}

TEST(init_bad_major)
{
	int fd = setup(_metadata, 0);
	struct fuse_init_out init = { .major = 8, .minor = 0 };
	struct fuse_in_header *h = (struct fuse_in_header *)buf;
	pid_t pid;

	ASSERT_LE(0, fd);
	pid = stat_child();
	/* INIT was read by setup(): answer it now, with the wrong major. */
	EXPECT_EQ(-1, wait_child(pid, 1));
	EXPECT_EQ(sizeof(struct fuse_out_header) + sizeof(init),
		  reply(fd, h->unique, 0, &init, sizeof(init)));
	EXPECT_EQ(ECONNREFUSED, wait_child(pid, 10));
	teardown(fd);
}

TEST(init_error_reply)
{
	int fd = setup(_metadata, 0);
	struct fuse_in_header *h = (struct fuse_in_header *)buf;
	pid_t pid;

	ASSERT_LE(0, fd);
	pid = stat_child();
	EXPECT_EQ(sizeof(struct fuse_out_header), reply(fd, h->unique, -EPROTO, NULL, 0));
	EXPECT_EQ(ECONNREFUSED, wait_child(pid, 10));
	teardown(fd);
}

TEST(init_short_reply_old_daemon)
{
	int fd = setup(_metadata, 0);
	struct fuse_in_header *h = (struct fuse_in_header *)buf;
	struct fuse_init_out init = { .major = 7, .minor = 5, .max_write = 4096 };
	struct fuse_attr_out out;
	pid_t pid;
	uint64_t u;

	ASSERT_LE(0, fd);
	/* A 7.5 daemon's INIT reply is the 24-byte FUSE_COMPAT_INIT_OUT_SIZE. */
	EXPECT_EQ(sizeof(struct fuse_out_header) + 24, reply(fd, h->unique, 0, &init, 24));
	pid = stat_child();
	u = expect_getattr(_metadata, fd);
	fill_attr(&out);
	/* Before 7.9 the attribute reply is the 96-byte compat size. */
	EXPECT_EQ(sizeof(struct fuse_out_header) + FUSE_COMPAT_ATTR_OUT_SIZE,
		  reply(fd, u, 0, &out, FUSE_COMPAT_ATTR_OUT_SIZE));
	EXPECT_EQ(0, wait_child(pid, 10));
	teardown(fd);
}

/*
 * INIT with max_background and congestion_threshold of 0 keeps the defaults
 * (C applies only non-zero values): three RELEASEs (background requests) left
 * unanswered all reach the daemon, where a limit of 0 or 1 would hold them.
 */
TEST(init_zero_background_limits)
{
	struct fuse_init_out init = {
		.major = FUSE_KERNEL_VERSION, .minor = 31, .max_write = 4096,
		.max_background = 0, .congestion_threshold = 0,
	};
	uint64_t releases[3];
	int fd = mount_raw(&init), i, n = 0, st;
	pid_t pid;

	ASSERT_LE(0, fd);
	pid = fork();
	if (pid == 0) {
		int f[3];

		child_prep();
		for (i = 0; i < 3; i++)
			if ((f[i] = open(MNT "/f", O_RDONLY)) < 0)
				_exit(1);
		for (i = 0; i < 3; i++)
			close(f[i]);
		_exit(0);
	}
	for (i = 0; i < 100 && n < 3; i++) {
		struct fuse_in_header *h = next_unserved(fd, 100);

		if (!h)
			continue;
		if (h->opcode == FUSE_RELEASE)
			releases[n++] = h->unique;
		else
			reply(fd, h->unique, h->opcode == FUSE_FLUSH ? 0 : -ENOSYS, NULL, 0);
	}
	EXPECT_EQ(3, n);
	for (i = 0; i < n; i++)
		reply(fd, releases[i], 0, NULL, 0);
	EXPECT_EQ(0, wait_child(pid, 10));
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	teardown(fd);
}

/* Writes `value` to a /proc or /sys file; 0 or -1. */
static int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, value, strlen(value)) == (ssize_t)strlen(value);
	close(fd);
	return ok ? 0 : -1;
}

/* Writes `text` to /proc/<pid>/<file>; 0 or -1. */
static int write_proc(pid_t pid, const char *file, const char *text)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	return write_file(path, text);
}

/*
 * A caller whose gid has no mapping in the connection's user namespace: its
 * requests fail with EOVERFLOW (C's fuse_get_req()) instead of reaching the
 * daemon with the overflow gid. The mounter keeps kgid 1000 into a user
 * namespace that maps only uid 0 and gid 0, mounts there (FS_USERNS_MOUNT),
 * and its child stats the mount.
 */
TEST(unmapped_gid_eoverflow)
{
	int go[2], st;
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(go));
	pid = fork();
	if (pid == 0) {
		struct fuse_init_out init = {
			.major = FUSE_KERNEL_VERSION, .minor = 31, .max_write = 4096,
		};
		int fd, i, result = 100;
		pid_t statter;

		close(go[1]);
		if (setgroups(0, NULL) || setgid(1000) || unshare(CLONE_NEWUSER | CLONE_NEWNS))
			_exit(101);
		/* The parent writes the maps. */
		if (read(go[0], &c, 1) != 1)
			_exit(102);
		/* allow_other: a caller of another gid, in the namespace, may use it. */
		fd = mount_raw_opts(&init, ",allow_other");
		if (fd < 0)
			_exit(103);
		statter = stat_child();
		for (i = 0; i < 100; i++) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			struct fuse_in_header *h;

			if (poll(&pfd, 1, 50) <= 0) {
				if (waitpid(statter, &st, WNOHANG) == statter) {
					result = WIFEXITED(st) ? WEXITSTATUS(st) : 104;
					break;
				}
				continue;
			}
			h = get_req(fd);
			if (!h)
				break;
			if (h->opcode == FUSE_GETATTR) {
				struct fuse_attr_out a;

				fill_attr(&a);
				reply(fd, h->unique, 0, &a, sizeof(a));
			} else {
				reply(fd, h->unique, -ENOSYS, NULL, 0);
			}
		}
		kill(statter, SIGKILL);
		teardown(fd);
		_exit(result);
	}
	close(go[0]);
	usleep(200000);
	EXPECT_EQ(0, write_proc(pid, "setgroups", "deny"));
	EXPECT_EQ(0, write_proc(pid, "uid_map", "0 0 1"));
	EXPECT_EQ(0, write_proc(pid, "gid_map", "0 0 1"));
	write(go[1], "g", 1);
	close(go[1]);
	EXPECT_EQ(EOVERFLOW, wait_child(pid, 20));
}

/* RELEASE carries no ids: uid, gid and pid 0 (C's nocreds). */
TEST_F(raw, release_without_creds)
{
	int i, st, seen = 0;
	pid_t pid = fork();

	if (pid == 0) {
		int f;

		child_prep();
		f = open(MNT "/f", O_RDONLY);
		_exit(f >= 0 && !close(f) ? 0 : 1);
	}
	for (i = 0; i < 100 && !seen; i++) {
		struct fuse_in_header *h = next_unserved(self->fd, 100);

		if (!h)
			continue;
		if (h->opcode == FUSE_RELEASE) {
			seen = 1;
			EXPECT_EQ(0, h->uid);
			EXPECT_EQ(0, h->gid);
			EXPECT_EQ(0, h->pid);
		}
		reply(self->fd, h->unique, h->opcode == FUSE_FLUSH || h->opcode == FUSE_RELEASE ? 0 : -ENOSYS,
		      NULL, 0);
	}
	EXPECT_EQ(1, seen);
	EXPECT_EQ(0, wait_child(pid, 10));
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

#define TIMEOUT_PARAM "/sys/module/rust_fuse/parameters/default_request_timeout"

/*
 * Request timeouts (6.15's, as rust_fuse's module parameter
 * default_request_timeout): with 2 seconds, a silent daemon's connection is
 * aborted within a few seconds, the request it read and the one it did not
 * both end with ECONNABORTED, and the mount unmounts. The C module of 6.12
 * has no timeouts (deliberate difference): its waiters stay until the
 * daemon goes away.
 */
TEST(request_timeout_aborts_silent_daemon)
{
	struct fuse_init_out init = {
		.major = FUSE_KERNEL_VERSION, .minor = 31, .max_write = 4096,
	};
	int fd, a_st, b_st;
	pid_t a, b;

	if (is_rust())
		ASSERT_EQ(0, write_file(TIMEOUT_PARAM, "2"));
	fd = mount_raw(&init);
	if (is_rust())
		EXPECT_EQ(0, write_file(TIMEOUT_PARAM, "0"));
	ASSERT_LE(0, fd);
	a = stat_child();
	EXPECT_NE(0, expect_getattr(_metadata, fd));
	/* The second one stays in the input queue. */
	b = stat_child();
	a_st = wait_child(a, 8);
	b_st = wait_child(b, 2);
	if (is_rust()) {
		EXPECT_EQ(ECONNABORTED, a_st);
		EXPECT_EQ(ECONNABORTED, b_st);
		EXPECT_EQ(0, umount2(MNT, 0));
	} else {
		EXPECT_EQ(-1, a_st);
		EXPECT_EQ(-1, b_st);
	}
	close(fd);
	if (a_st < 0)
		EXPECT_EQ(ECONNABORTED, wait_child(a, 10));
	if (b_st < 0)
		EXPECT_EQ(ECONNABORTED, wait_child(b, 10));
	teardown(-1);
}

TEST_HARNESS_MAIN
