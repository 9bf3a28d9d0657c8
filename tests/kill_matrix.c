// SPDX-License-Identifier: GPL-2.0
/*
 * The kill and death matrices: for each place a task waits on the daemon, a
 * raw /dev/fuse daemon (this program) serves a small tree (the root; "f", a
 * regular file of 8 KiB; "d", a directory; "l", a symlink to "f") until it
 * reads the request of that place, and keeps it unanswered. Then:
 *
 *   kill:  the waiting task gets SIGKILL. On rust_fuse it must be gone within
 *          1 s; the C module keeps it in D state at most of these places (a
 *          deliberate difference: the row says which). Another process must
 *          still be served (stat of "f"), and after the late answer and the
 *          unmount nothing is left.
 *   death: the daemon's /dev/fuse closes (what its death does) while it holds
 *          the request: the waiter returns within 1 s, with the errno the row
 *          expects (the C module's), and the mount unmounts.
 *
 * One TAP row per place and matrix, the same on both modules.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <linux/fuse.h>

#define MNT "/tmp/kill_matrix.mnt"
#define FSIZE 8192

static char buf[1 << 17];
static int tap_n, tap_failed, rust;

static void tap(int ok, const char *name, const char *note)
{
	tap_n++;
	if (!ok)
		tap_failed++;
	/* The note on a line of its own: the row's name is the same on both modules. */
	printf("%sok %d %s\n", ok ? "" : "not ", tap_n, name);
	if (note)
		printf("# %s\n", note);
	fflush(stdout);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int reply(int fd, uint64_t unique, int error, const void *data, size_t size)
{
	struct fuse_out_header oh = { .len = sizeof(oh) + size, .error = error, .unique = unique };
	struct iovec iov[2] = { { &oh, sizeof(oh) }, { (void *)data, size } };

	return writev(fd, iov, size ? 2 : 1) < 0 ? -errno : 0;
}

static void fill_attr(struct fuse_attr *a, uint64_t ino)
{
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->nlink = 1;
	switch (ino) {
	case 1:
	case 3:
		a->mode = S_IFDIR | 0755;
		a->nlink = 2;
		break;
	case 4:
		a->mode = S_IFLNK | 0777;
		a->size = 1;
		break;
	default:
		a->mode = S_IFREG | 0644;
		a->size = FSIZE;
	}
}

static uint64_t node_of(const char *name)
{
	if (!strcmp(name, "f"))
		return 2;
	if (!strcmp(name, "d"))
		return 3;
	if (!strcmp(name, "l"))
		return 4;
	return 0;
}

static void reply_entry(int fd, uint64_t unique, uint64_t ino)
{
	struct fuse_entry_out e = { .nodeid = ino };

	fill_attr(&e.attr, ino);
	reply(fd, unique, 0, &e, sizeof(e));
}

/* Answers one request as the tree says (nothing is cached: timeouts are 0). */
static void answer(int fd, struct fuse_in_header *h)
{
	void *in = h + 1;

	switch (h->opcode) {
	case FUSE_LOOKUP: {
		uint64_t ino = node_of(in);

		if (ino)
			reply_entry(fd, h->unique, ino);
		else
			reply(fd, h->unique, -ENOENT, NULL, 0);
		break;
	}
	case FUSE_GETATTR:
	case FUSE_SETATTR: {
		struct fuse_attr_out a = { 0 };

		fill_attr(&a.attr, h->nodeid);
		reply(fd, h->unique, 0, &a, sizeof(a));
		break;
	}
	case FUSE_OPEN:
	case FUSE_OPENDIR: {
		struct fuse_open_out o = { .fh = 1 };

		reply(fd, h->unique, 0, &o, sizeof(o));
		break;
	}
	case FUSE_READ: {
		struct fuse_read_in *r = in;
		size_t n = r->offset >= FSIZE ? 0 : FSIZE - r->offset;
		static char zeros[FSIZE];

		reply(fd, h->unique, 0, zeros, n < r->size ? n : r->size);
		break;
	}
	case FUSE_WRITE: {
		struct fuse_write_out w = { .size = ((struct fuse_write_in *)in)->size };

		reply(fd, h->unique, 0, &w, sizeof(w));
		break;
	}
	case FUSE_CREATE: {
		struct {
			struct fuse_entry_out e;
			struct fuse_open_out o;
		} c = { .e = { .nodeid = 5 }, .o = { .fh = 1 } };

		fill_attr(&c.e.attr, 5);
		reply(fd, h->unique, 0, &c, sizeof(c));
		break;
	}
	case FUSE_MKDIR:
		reply_entry(fd, h->unique, 3);
		break;
	case FUSE_STATFS: {
		struct fuse_statfs_out s = { .st = { .blocks = 100, .bsize = 4096, .namelen = 255 } };

		reply(fd, h->unique, 0, &s, sizeof(s));
		break;
	}
	case FUSE_READLINK:
		reply(fd, h->unique, 0, "f", 1);
		break;
	case FUSE_GETXATTR:
		reply(fd, h->unique, -ENODATA, NULL, 0);
		break;
	case FUSE_GETLK: {
		struct fuse_lk_out l = { .lk = { .type = F_UNLCK } };

		reply(fd, h->unique, 0, &l, sizeof(l));
		break;
	}
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
		reply(fd, h->unique, 0, NULL, 0);
		break;
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_INTERRUPT:
		break;
	case FUSE_ACCESS:
	case FUSE_IOCTL:
	case FUSE_POLL:
		reply(fd, h->unique, -ENOSYS, NULL, 0);
		break;
	default:
		/* UNLINK, RMDIR, RENAME(2), FLUSH, FSYNC, RELEASE(DIR), SETLK(W)... */
		reply(fd, h->unique, 0, NULL, 0);
	}
}

/*
 * Serves until a request of `target` arrives (left unanswered: its unique goes
 * to *held) or `secs` pass; with target 0, serves for `secs`. 0 or -1.
 */
static int serve(int fd, uint32_t target, uint64_t *held, double secs)
{
	double end = now() + secs;

	while (now() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct fuse_in_header *h;
		ssize_t n;

		if (poll(&p, 1, 50) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n < (ssize_t)sizeof(*h))
			return -1;
		h = (struct fuse_in_header *)buf;
		if (target && h->opcode == target) {
			*held = h->unique;
			return 0;
		}
		answer(fd, h);
	}
	return target ? -1 : 0;
}

static int mount_fuse(uint32_t flags, int answer_init)
{
	struct fuse_init_out init = {
		.major = FUSE_KERNEL_VERSION, .minor = 31, .max_write = 65536,
		.max_readahead = 65536, .flags = flags | FUSE_BIG_WRITES,
		.max_background = 12, .congestion_threshold = 9,
	};
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	struct fuse_in_header *h = (struct fuse_in_header *)buf;
	char opts[128];

	if (fd < 0)
		return -1;
	mkdir(MNT, 0755);
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0", fd);
	if (mount("kill_matrix", MNT, "fuse", MS_NOSUID | MS_NODEV, opts) ||
	    read(fd, buf, sizeof(buf)) < (ssize_t)sizeof(*h) || h->opcode != FUSE_INIT) {
		close(fd);
		return -1;
	}
	if (answer_init && reply(fd, h->unique, 0, &init, sizeof(init))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The waits: each runs in a child and returns 0 or an errno. */
static int ret(int r)
{
	return r < 0 ? errno : 0;
}

static int w_stat_root(void)
{
	struct stat st;

	return ret(stat(MNT, &st));
}

static int w_lookup(void)
{
	struct stat st;

	return ret(stat(MNT "/f", &st));
}

static int w_open(void)
{
	return ret(open(MNT "/f", O_RDONLY));
}

static int w_read(void)
{
	int fd = open(MNT "/f", O_RDONLY);

	return fd < 0 ? errno : ret(read(fd, buf, 4096));
}

static int w_read_direct(void)
{
	int fd = open(MNT "/f", O_RDONLY | O_DIRECT);
	void *p;

	if (fd < 0 || posix_memalign(&p, 4096, 4096))
		return errno;
	return ret(pread(fd, p, 4096, 0));
}

static int w_mmap_fault(void)
{
	int fd = open(MNT "/f", O_RDONLY);
	volatile char *p;

	if (fd < 0)
		return errno;
	p = mmap(NULL, FSIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return errno;
	return p[100];
}

static int w_write(void)
{
	int fd = open(MNT "/f", O_RDWR);

	return fd < 0 ? errno : ret(pwrite(fd, "x", 1, 0));
}

/* With the writeback cache: the WRITE comes from fsync's write-back. */
static int w_fsync(void)
{
	int fd = open(MNT "/f", O_RDWR);

	if (fd < 0 || pwrite(fd, "x", 1, 0) != 1)
		return errno;
	return ret(fsync(fd));
}

/* With the writeback cache: the WRITE comes from close's flush. */
static int w_close_dirty(void)
{
	int fd = open(MNT "/f", O_RDWR);

	if (fd < 0 || pwrite(fd, "x", 1, 0) != 1)
		return errno;
	return ret(close(fd));
}

static int w_flush(void)
{
	int fd = open(MNT "/f", O_RDONLY);

	return fd < 0 ? errno : ret(close(fd));
}

static int w_truncate(void)
{
	return ret(truncate(MNT "/f", 100));
}

static int w_readdir(void)
{
	DIR *d = opendir(MNT "/d");

	if (!d)
		return errno;
	errno = 0;
	readdir(d);
	return errno;
}

static int w_create(void)
{
	return ret(open(MNT "/new", O_CREAT | O_EXCL | O_RDWR, 0644));
}

static int w_mkdir(void)
{
	return ret(mkdir(MNT "/newdir", 0755));
}

static int w_unlink(void)
{
	return ret(unlink(MNT "/f"));
}

static int w_rename(void)
{
	return ret(rename(MNT "/f", MNT "/g"));
}

static int w_getxattr(void)
{
	return ret(getxattr(MNT "/f", "user.x", buf, sizeof(buf)));
}

static int w_statfs(void)
{
	struct statfs s;

	return ret(statfs(MNT, &s));
}

static int w_readlink(void)
{
	return ret(readlink(MNT "/l", buf, sizeof(buf)));
}

static int w_setlkw(void)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 10 };
	int fd = open(MNT "/f", O_RDWR);

	return fd < 0 ? errno : ret(fcntl(fd, F_SETLKW, &fl));
}

struct place {
	const char *name;
	uint32_t opcode;	/* the request held; FUSE_INIT: INIT left unanswered */
	uint32_t flags;		/* INIT flags */
	int (*wait)(void);
	int death_errno;	/* the waiter's errno when the daemon dies (C's) */
	int also;		/* another errno C gives in a race, or 0 */
	int rust_also;		/* another errno rust_fuse gives in a race, or 0 */
};

static const struct place places[] = {
	/* Before INIT: woken by the abort, or by INIT's end failing (C too). */
	{ "INIT", FUSE_INIT, 0, w_stat_root, ENOTCONN, ECONNREFUSED },
	{ "lookup", FUSE_LOOKUP, 0, w_lookup, ECONNABORTED },
	{ "getattr", FUSE_GETATTR, 0, w_stat_root, ECONNABORTED },
	{ "open", FUSE_OPEN, 0, w_open, ECONNABORTED },
	/*
	 * C: the readahead READ held fails, then read_folio's own READ finds the
	 * connection gone. rust_fuse sometimes returns the held READ's
	 * ECONNABORTED (a difference still to explain).
	 */
	{ "read (page cache)", FUSE_READ, 0, w_read, ENOTCONN, 0, ECONNABORTED },
	{ "read (O_DIRECT)", FUSE_READ, 0, w_read_direct, ECONNABORTED },
	{ "read (mmap fault)", FUSE_READ, 0, w_mmap_fault, 128 + SIGBUS },
	{ "write-through", FUSE_WRITE, 0, w_write, ECONNABORTED },
	{ "write-back: fsync", FUSE_WRITE, FUSE_WRITEBACK_CACHE, w_fsync, ECONNABORTED },
	{ "write-back: close with dirty pages", FUSE_WRITE, FUSE_WRITEBACK_CACHE, w_close_dirty, ECONNABORTED },
	{ "close (FLUSH)", FUSE_FLUSH, 0, w_flush, ECONNABORTED },
	{ "truncate", FUSE_SETATTR, 0, w_truncate, ECONNABORTED },
	{ "readdir", FUSE_READDIR, 0, w_readdir, ECONNABORTED },
	{ "create", FUSE_CREATE, 0, w_create, ECONNABORTED },
	{ "mkdir", FUSE_MKDIR, 0, w_mkdir, ECONNABORTED },
	{ "unlink", FUSE_UNLINK, 0, w_unlink, ECONNABORTED },
	{ "rename", FUSE_RENAME, 0, w_rename, ECONNABORTED },
	{ "getxattr", FUSE_GETXATTR, 0, w_getxattr, ECONNABORTED },
	{ "statfs", FUSE_STATFS, 0, w_statfs, ECONNABORTED },
	{ "readlink", FUSE_READLINK, 0, w_readlink, ECONNABORTED },
	{ "SETLKW", FUSE_SETLKW, FUSE_POSIX_LOCKS, w_setlkw, ECONNABORTED },
};

static pid_t start_waiter(const struct place *pl)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd;

		for (fd = 3; fd < 1024; fd++)
			close(fd);
		_exit(pl->wait());
	}
	return pid;
}

/* The child's exit status (128 + signal if killed) within `secs`, or -1. */
static int reap(pid_t pid, double secs)
{
	double end = now() + secs;
	int st;

	do {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(10000);
	} while (now() < end);
	return -1;
}

/*
 * Another process's stat of "d" is served while the daemon serves (not "f": a
 * lookup of a name waits for one of the same name in progress).
 */
static int others_served(int fd)
{
	pid_t pid = fork();
	double end = now() + 5;
	int st = -1;

	if (pid == 0) {
		struct stat sb;

		_exit(stat(MNT "/d", &sb) ? 1 : 0);
	}
	while (now() < end && (st = reap(pid, 0)) < 0)
		serve(fd, 0, NULL, 0.05);
	if (st < 0)
		kill(pid, SIGKILL);
	return st == 0;
}

/* Unmounts, serving what the unmount and late closes ask. */
static int unmount(int fd)
{
	int i;

	for (i = 0; i < 50; i++) {
		if (!umount2(MNT, fd < 0 ? MNT_DETACH : 0))
			return 1;
		if (fd >= 0)
			serve(fd, 0, NULL, 0.1);
	}
	return !umount2(MNT, MNT_DETACH);
}

/*
 * Mounts, starts the row's waiter and serves until its request comes (INIT is
 * never answered): the daemon's descriptor, or -1 after a failed TAP row.
 */
static int start_row(const struct place *pl, const char *name, pid_t *pid, uint64_t *held)
{
	int fd = mount_fuse(pl->flags, pl->opcode != FUSE_INIT);

	*held = 0;
	if (fd < 0) {
		tap(0, name, "mount failed");
		return -1;
	}
	*pid = start_waiter(pl);
	if (pl->opcode != FUSE_INIT && serve(fd, pl->opcode, held, 10)) {
		tap(0, name, "the request never came");
		kill(*pid, SIGKILL);
		close(fd);
		reap(*pid, 10);
		unmount(-1);
		return -1;
	}
	usleep(200000);
	return fd;
}

static void kill_row(const struct place *pl)
{
	char name[128], note[160];
	uint64_t held;
	int fd, gone, late, ok, i;
	pid_t pid;

	snprintf(name, sizeof(name), "kill: %s", pl->name);
	fd = start_row(pl, name, &pid, &held);
	if (fd < 0)
		return;
	kill(pid, SIGKILL);
	gone = reap(pid, 1) == 128 + SIGKILL;
	/* Answer INIT now, so that others can be served. */
	if (pl->opcode == FUSE_INIT) {
		struct fuse_init_out init = {
			.major = FUSE_KERNEL_VERSION, .minor = 31, .max_write = 65536,
		};

		reply(fd, ((struct fuse_in_header *)buf)->unique, 0, &init, sizeof(init));
	}
	/* A killed task gone has released its locks (the parent directory's, for a
	 * lookup or a create): others are served at once. */
	ok = !gone || others_served(fd);
	/* The late answer: an error, so that nothing is applied. */
	if (held)
		reply(fd, held, -EIO, NULL, 0);
	late = gone ? 128 + SIGKILL : -1;
	for (i = 0; late < 0 && i < 100 && !serve(fd, 0, NULL, 0.1); i++)
		late = reap(pid, 0);
	if (!gone)
		ok = others_served(fd);
	ok = ok && unmount(fd);
	close(fd);
	if (late < 0)
		late = reap(pid, 10);
	if (rust) {
		snprintf(note, sizeof(note), "gone within 1 s: %s", gone ? "yes" : "NO");
		tap(gone && ok && late == 128 + SIGKILL, name, note);
	} else {
		snprintf(note, sizeof(note), "%s", gone ? "gone within 1 s" :
			 "C keeps the killed task in D state until the daemon answers (deliberate difference)");
		tap(ok && late == 128 + SIGKILL, name, note);
	}
}

static void death_row(const struct place *pl)
{
	char name[128], note[160];
	uint64_t held;
	int fd, st, gone;
	pid_t pid;

	snprintf(name, sizeof(name), "death: %s", pl->name);
	fd = start_row(pl, name, &pid, &held);
	if (fd < 0)
		return;
	close(fd);
	st = reap(pid, 1);
	snprintf(note, sizeof(note), "waiter ended with %d (expected %d)", st, pl->death_errno);
	gone = unmount(-1);
	tap((st == pl->death_errno || (pl->also && st == pl->also) ||
	     (rust && pl->rust_also && st == pl->rust_also)) && gone, name, note);
	if (st < 0) {
		kill(pid, SIGKILL);
		reap(pid, 10);
	}
}

int main(void)
{
	const char *impl = getenv("TESTVM_FUSE");
	size_t i;

	rust = impl && !strcmp(impl, "rust");
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");
	for (i = 0; i < sizeof(places) / sizeof(places[0]); i++)
		kill_row(&places[i]);
	for (i = 0; i < sizeof(places) / sizeof(places[0]); i++)
		death_row(&places[i]);
	printf("1..%d\n", tap_n);
	rmdir(MNT);
	return tap_failed ? 1 : 0;
}
