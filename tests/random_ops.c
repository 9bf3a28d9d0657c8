// SPDX-License-Identifier: GPL-2.0
/*
 * A random-operation consistency tester: thousands of mixed writes, appends,
 * reads, truncates, renames, unlinks, fallocates, copy_file_range calls and
 * fsyncs through libfuse's unmodified passthrough_ll, each mirrored on a plain
 * reference directory; every return value, errno and byte read must match,
 * and at the end every file's contents. Run three times: through the page cache,
 * with -o cache=never (FOPEN_DIRECT_IO) and with -o writeback (the writeback
 * cache). The seed is fixed (override
 * with RANDOM_OPS_SEED) and printed, so a failure can be replayed;
 * RANDOM_OPS_TRACE=1 prints every operation.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdint.h>
#include <sys/stat.h>
#include "lib/daemon.h"

#define NAMES 6
#define OPS 3000
#define MAXPOS (384 * 1024)
#define MAXLEN (96 * 1024)

static char M[PATH_MAX], B[PATH_MAX], R[PATH_MAX];
static int tap_n, tap_failed;
static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return n ? (uint32_t)(rng >> 33) % n : 0;
}

/* The two sides: the mount and the reference directory. */
struct side {
	const char *dir;
	int fd[NAMES]; /* a descriptor kept open across operations, or -1 */
};

static const char *path(struct side *s, int i)
{
	static char buf[4][PATH_MAX];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], PATH_MAX, "%s/n%d", s->dir, i);
	return buf[k];
}

static void close_all(struct side *s)
{
	int i;

	for (i = 0; i < NAMES; i++) {
		if (s->fd[i] >= 0)
			close(s->fd[i]);
		s->fd[i] = -1;
	}
}

/* A result: return value and errno. */
struct res {
	long long ret;
	int err;
};

#define RES(call) ({ long long _r; errno = 0; _r = (call); (struct res){ _r, _r < 0 ? errno : 0 }; })

static char wbuf[MAXLEN], rbuf[2][MAXLEN];

/* One operation on one side; READs fill rbuf[which]. */
static struct res op(struct side *s, int which, int kind, int a, int c, long long off,
		     long long len, int mode)
{
	int fd, keep = kind == 1 || kind == 3;
	struct res r;
	struct stat st;

	switch (kind) {
	case 0: case 1: /* write, through a new or the kept descriptor */
		fd = keep && s->fd[a] >= 0 ? s->fd[a] : open(path(s, a), O_RDWR | O_CREAT, 0644);
		if (fd < 0)
			return RES(-1);
		r = RES(pwrite(fd, wbuf, len, off));
		if (keep)
			s->fd[a] = fd;
		else
			close(fd);
		return r;
	case 2: case 3: /* read, through a new or the kept descriptor */
		fd = keep && s->fd[a] >= 0 ? s->fd[a] : open(path(s, a), O_RDWR);
		if (fd < 0)
			return RES(-1);
		r = RES(pread(fd, rbuf[which], len, off));
		if (keep)
			s->fd[a] = fd;
		else
			close(fd);
		return r;
	case 4: /* append */
		/*
		 * Created first without O_APPEND: libfuse 3.14's passthrough_ll keeps
		 * O_APPEND on a file it creates even with -o writeback (it strips it
		 * only at OPEN), and the kernel's write-back through that file handle
		 * then lands at the end of the file instead of at its offset.
		 */
		fd = open(path(s, a), O_WRONLY | O_CREAT, 0644);
		if (fd >= 0)
			close(fd);
		fd = open(path(s, a), O_WRONLY | O_APPEND);
		if (fd < 0)
			return RES(-1);
		r = RES(write(fd, wbuf, len));
		close(fd);
		return r;
	case 5: /* truncate by path */
		return RES(truncate(path(s, a), off));
	case 6: /* ftruncate */
		if (s->fd[a] < 0)
			return RES(truncate(path(s, a), off));
		return RES(ftruncate(s->fd[a], off));
	case 7: /* rename */
		close_all(s);
		return RES(rename(path(s, a), path(s, c)));
	case 8: /* unlink */
		close_all(s);
		return RES(unlink(path(s, a)));
	case 9: /* fallocate */
		fd = s->fd[a] >= 0 ? s->fd[a] : open(path(s, a), O_RDWR);
		if (fd < 0)
			return RES(-1);
		r = RES(fallocate(fd, mode, off, len));
		if (s->fd[a] < 0)
			close(fd);
		return r;
	case 10: { /* copy_file_range */
		int in = open(path(s, a), O_RDONLY), out;
		loff_t oi = off, oo = off / 2;

		if (in < 0)
			return RES(-1);
		out = open(path(s, c), O_WRONLY | O_CREAT, 0644);
		if (out < 0) {
			r = RES(-1);
			close(in);
			return r;
		}
		r = RES(copy_file_range(in, &oi, out, &oo, len, 0));
		close(in);
		close(out);
		return r;
	}
	case 11: /* stat: size */
		r = RES(stat(path(s, a), &st));
		if (!r.ret)
			r.ret = st.st_size;
		return r;
	default: /* fsync */
		fd = s->fd[a] >= 0 ? s->fd[a] : open(path(s, a), O_RDONLY);
		if (fd < 0)
			return RES(-1);
		r = RES(fsync(fd));
		if (s->fd[a] < 0)
			close(fd);
		return r;
	}
}

static const char *const kinds[] = { "write", "write-kept", "read", "read-kept", "append",
				     "truncate", "ftruncate", "rename", "unlink", "fallocate",
				     "copy_file_range", "stat", "fsync" };

/* Runs the operations; returns the index of the first mismatch, or -1. */
static int run_ops(struct side *mnt, struct side *ref, char *why, size_t whylen)
{
	static const int modes[] = { 0, FALLOC_FL_KEEP_SIZE,
				     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				     FALLOC_FL_ZERO_RANGE };
	int i;

	for (i = 0; i < OPS; i++) {
		int kind = rnd(13), a = rnd(NAMES), c = rnd(NAMES);
		long long off = rnd(MAXPOS), len = 1 + rnd(MAXLEN);
		int mode = modes[rnd(4)];
		struct res x, y;
		size_t k;

		if (kind == 5 || kind == 6)
			off = rnd(MAXPOS + MAXLEN);
		for (k = 0; k < (size_t)len; k++)
			wbuf[k] = (char)(i * 31 + k * 7 + (k >> 9));
		x = op(mnt, 0, kind, a, c, off, len, mode);
		y = op(ref, 1, kind, a, c, off, len, mode);
		if (getenv("RANDOM_OPS_TRACE"))
			printf("# op %d %s n%d n%d off %lld len %lld mode %d: %lld/%d\n", i,
			       kinds[kind], a, c, off, len, mode, y.ret, y.err);
		if (x.ret != y.ret || x.err != y.err) {
			snprintf(why, whylen, "op %d %s n%d n%d off %lld len %lld mode %d: mount %lld/%d, reference %lld/%d",
				 i, kinds[kind], a, c, off, len, mode, x.ret, x.err, y.ret, y.err);
			return i;
		}
		if ((kind == 2 || kind == 3) && x.ret > 0 && memcmp(rbuf[0], rbuf[1], x.ret)) {
			snprintf(why, whylen, "op %d %s n%d off %lld len %lld: data differs", i,
				 kinds[kind], a, off, len);
			return i;
		}
	}
	return -1;
}

/* Every name's existence and contents, through the mount and in the reference. */
static int same_contents(struct side *mnt, struct side *ref, char *why, size_t whylen)
{
	static char x[MAXPOS * 2], y[MAXPOS * 2];
	int i;

	for (i = 0; i < NAMES; i++) {
		int fx = open(path(mnt, i), O_RDONLY), fy = open(path(ref, i), O_RDONLY);
		ssize_t nx = fx < 0 ? -1 : read(fx, x, sizeof(x));
		ssize_t ny = fy < 0 ? -1 : read(fy, y, sizeof(y));

		if (fx >= 0)
			close(fx);
		if (fy >= 0)
			close(fy);
		if ((fx < 0) != (fy < 0) || nx != ny || (nx > 0 && memcmp(x, y, nx))) {
			snprintf(why, whylen, "n%d: mount %zd bytes, reference %zd bytes", i, nx, ny);
			return 0;
		}
	}
	return 1;
}

static void report(int ok, const char *name, const char *why)
{
	tap_n++;
	if (!ok) {
		tap_failed++;
		printf("# %s\n", why);
	}
	printf("%s %d %s\n", ok ? "ok" : "not ok", tap_n, name);
}

static void run(const char *label, const char *const *opts, uint64_t seed)
{
	struct side mnt = { .dir = M }, ref = { .dir = R };
	char why[512] = "", name[128];
	pid_t pid;
	int bad, i;

	for (i = 0; i < NAMES; i++)
		mnt.fd[i] = ref.fd[i] = -1;
	rng = seed;
	pid = start_daemon("passthrough_ll_cfg", M, opts);
	if (pid < 0) {
		snprintf(name, sizeof(name), "%s: mount passthrough_ll", label);
		report(0, name, "the daemon did not mount");
		return;
	}
	bad = run_ops(&mnt, &ref, why, sizeof(why));
	snprintf(name, sizeof(name), "%s: %d random operations give the reference's results", label,
		 OPS);
	report(bad < 0, name, why);
	close_all(&mnt);
	close_all(&ref);
	snprintf(name, sizeof(name), "%s: every file's contents equal the reference", label);
	report(same_contents(&mnt, &ref, why, sizeof(why)), name, why);
	stop_daemon(pid, M);
	for (i = 0; i < NAMES; i++) {
		unlink(path(&ref, i));
		unlink(path(&(struct side){ .dir = B }, i));
	}
}

int main(void)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	const char *s = getenv("RANDOM_OPS_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : 0x5eed2026;
	char src[PATH_MAX + 16], top[PATH_MAX];
	const char *cached[] = { "-o", src, NULL };
	const char *direct[] = { "-o", src, "-o", "cache=never", NULL };
	const char *wb[] = { "-o", src, "-o", "writeback", NULL };

	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(top, sizeof(top), "%s/random_ops.%d", tmp, getpid());
	snprintf(M, sizeof(M), "%s/mnt", top);
	snprintf(B, sizeof(B), "%s/src", top);
	snprintf(R, sizeof(R), "%s/ref", top);
	snprintf(src, sizeof(src), "source=%s", B);
	mkdir(top, 0755);
	mkdir(M, 0755);
	mkdir(B, 0755);
	mkdir(R, 0755);
	printf("TAP version 13\n# seed %#llx\n", (unsigned long long)seed);
	run("page cache", cached, seed);
	run("cache=never (direct I/O)", direct, seed + 1);
	run("writeback cache", wb, seed + 2);
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
