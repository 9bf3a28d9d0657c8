// SPDX-License-Identifier: GPL-2.0
/*
 * fsbench: the load generator of the FUSE benchmarks (tests/bench/run-in-vm).
 *
 *   fsbench [options] WORKLOAD DIR
 *
 * Works in DIR/fsbench.WORKLOAD.PID/: an untimed setup (files written, caches
 * dropped where the workload wants a cold cache), the timed part, an untimed
 * clean-up, then exactly one line on stdout:
 *
 *   RESULT <value> <unit>        higher is better: MiB/s, files/s or entries/s
 *
 * On any error: a message on stderr, exit 1, no RESULT line. Any Linux file
 * system will do (tmpfs for the baseline, FUSE for the real thing).
 *
 * Workloads (timed part in brackets):
 *   seqread    setup files, drop caches; [read each sequentially]       MiB/s
 *   seqwrite   [create and write each sequentially, fsync, close]       MiB/s
 *   randread   setup files, drop caches; [random aligned preads, --time] MiB/s
 *   randwrite  setup files; [random aligned pwrites for --time, fsync]  MiB/s
 *   mmapread   setup files, drop caches; [mmap MAP_SHARED, read one byte
 *              in 64 (so every page)]                                   MiB/s
 *   create     [open(O_CREAT|O_EXCL) and close --count files]           files/s
 *   stat       setup --count files, drop caches; [stat() each by path]  files/s
 *   readdir    setup --count files, drop caches; [one getdents64 pass
 *              (32 KiB buffer) over the directory, count checked]       entries/s
 *   rename     setup --count files; [rename each in the same directory] files/s
 *   unlink     setup --count files, drop caches; [unlink each]          files/s
 *   untar      [tar -xf TARBALL]                                        files/s
 *   find       setup untar, drop caches; [find DIR >/dev/null]          files/s
 *   cat        setup untar, drop caches; [read every regular file, nftw
 *              order, 128 KiB buffer]                                   files/s
 *   rmrf       setup untar; [rm -rf DIR]                                files/s
 * The data workloads run --jobs threads, each on its own file, started together
 * at a barrier; the time is from the first start to the last finish. The tree
 * workloads count the tarball's entries (tar -tf, directories included) once
 * beforehand: untar, find and rmrf give entries per second, cat regular files
 * per second (all in the unit "files/s"). Without --tarball they use a
 * deterministic one that fsbench makes in /tmp (--count files of 0-16 KiB in
 * count/50 directories), reused while it exists. With FSBENCH_TOOLS=DIR, tar, find
 * and rm run from DIR through DIR/ld.so (tests/bench/tools-to-tmpfs), so that no exec
 * in a timed phase reads the VM's 9p root.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MiB (1024.0 * 1024.0)
#define SETUP_CHUNK (1024 * 1024)
#define DIRENT_BUF (32 * 1024)
#define CAT_BUF (128 * 1024)
#define TREE_MAX_FILE (16 * 1024)
#define TREE_VERSION 1

static struct {
	const char *workload;
	const char *dir;
	uint64_t bs;
	uint64_t size;
	int jobs;
	int direct;
	long count;
	double time;
	const char *tarball;
	int no_drop;
	int verbose;
} opt = {
	.bs = 128 * 1024,
	.size = 16 * 1024 * 1024,
	.jobs = 1,
	.count = 1000,
	.time = 2.0,
};

static char workdir[PATH_MAX];	/* removed by die() once it exists */
static char gendir[PATH_MAX];	/* the tarball being made, likewise */

static int rm_tree(const char *path);

static void vmsg(int err, const char *fmt, va_list ap)
{
	fprintf(stderr, "fsbench: %s: ", opt.workload ? opt.workload : "error");
	vfprintf(stderr, fmt, ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
}

/* Reports, removes what we made (best effort) and exits 1. Main thread only. */
static void __attribute__((noreturn, format(printf, 2, 3))) die_err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(err, fmt, ap);
	va_end(ap);
	if (workdir[0])
		rm_tree(workdir);
	if (gendir[0])
		rm_tree(gendir);
	exit(1);
}
#define die(...) die_err(0, __VA_ARGS__)
#define die_errno(...) die_err(errno, __VA_ARGS__)

static void __attribute__((format(printf, 1, 2))) verbose(const char *fmt, ...)
{
	va_list ap;

	if (!opt.verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "fsbench: %s: ", opt.workload);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/*
 * A run too short for the guest's clock (under TCG it may move in ticks of a
 * few ms): counted as 1 ms, so that a smoke run still gives a figure. Full
 * runs last seconds.
 */
static double no_time(double t0)
{
	fprintf(stderr, "fsbench: no measurable time, counted as 1 ms\n");
	return t0 + 1e-3;
}

static double now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		abort();
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * FSBENCH_MARK=1: a no-op instruction (xchg %bx,%bx) at the start and the end of each
 * timed phase, where a QEMU TCG plugin can snapshot its instruction counts
 * (tools/insn-profile), so that a profile covers the measured work alone.
 */
static void mark(void)
{
	static int on = -1;

	if (on < 0)
		on = getenv("FSBENCH_MARK") != NULL;
	if (on)
		__asm__ volatile("xchg %%bx, %%bx" ::: "memory");
}

/* xorshift64*: fixed seeds, so every run does the same operations. */
static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static void fill_pattern(char *buf, size_t len, uint64_t seed)
{
	uint64_t s = seed | 1;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v = rnd(&s);
		memcpy(buf + i, &v, 8);
	}
	for (; i < len; i++)
		buf[i] = (char)rnd(&s);
}

static void *xalloc_aligned(size_t len)
{
	void *p;
	int err = posix_memalign(&p, 4096, len < 4096 ? 4096 : len);

	if (err)
		die_err(err, "posix_memalign(%zu)", len);
	memset(p, 0, len);
	return p;
}

static uint64_t parse_size(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		die("bad %s: %s", what, s);
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end == 'i' || *end == 'b' || *end == 'B')
		end++;
	if (*end || v == 0)
		die("bad %s: %s", what, s);
	return v;
}

static long parse_long(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0)
		die("bad %s: %s", what, s);
	return v;
}

/* sync; echo 3 > /proc/sys/vm/drop_caches. Untimed, needs root. */
static void run_child(char *const argv[], long *lines);

static void drop_caches(void)
{
	int fd;

	if (opt.no_drop)
		return;
	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0)
		die_errno("open /proc/sys/vm/drop_caches (needs root; --no-drop to skip)");
	if (write(fd, "3\n", 2) != 2)
		die_errno("write /proc/sys/vm/drop_caches");
	if (close(fd))
		die_errno("close /proc/sys/vm/drop_caches");
	/*
	 * What dropping left to do later must not land in the timed phase: the inodes and
	 * dentries it evicted are freed after an RCU grace period, and the daemon has a
	 * FORGET to read for each inode. Without this pause a stat run on one module
	 * counted those frees and the other's did not, depending on when the grace period
	 * ended. Idle time costs nothing under the icount clock.
	 */
	usleep(200 * 1000);
	/*
	 * One exec of the tools before the timed phase, so that whatever the first exec
	 * after dropping caches reads again (the loader, the libraries, the absent
	 * /etc/ld.so.preload and /etc/selinux/config) is not counted. In the VM /etc is a
	 * tmpfs copy for the run (tests/bench/run-in-vm): 9p keeps no negative dentries,
	 * so every exec would otherwise look those files up on the host.
	 */
	if (getenv("FSBENCH_TOOLS")) {
		char *argv[] = { "find", "--version", NULL };

		run_child(argv, NULL);
	}
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	if (remove(path) && errno != ENOENT) {
		fprintf(stderr, "fsbench: remove %s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

/* rm -rf PATH; 0 or -1. A missing PATH is fine. */
static int rm_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) ? -1 : 0;
}

/* snprintf into a PATH_MAX buffer; a path that does not fit is an error. */
static void __attribute__((format(printf, 2, 3))) pathf(char *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= PATH_MAX)
		die("path too long: %.100s...", out);
}

static void join_path(char *out, const char *dir, const char *name)
{
	pathf(out, "%s/%s", dir, name);
}

static void write_all(int fd, const char *buf, size_t len, const char *path)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die_errno("write %s", path);
		if (n == 0)
			die("write %s: wrote nothing", path);
		buf += n;
		len -= n;
	}
}

/* Untimed setup: PATH with SIZE bytes of the pattern, on stable storage. */
static void write_file(const char *path, uint64_t size)
{
	static char *buf;
	int fd;

	if (!buf) {
		buf = xalloc_aligned(SETUP_CHUNK);
		fill_pattern(buf, SETUP_CHUNK, 0x5eed);
	}
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (fd < 0)
		die_errno("create %s", path);
	while (size) {
		size_t n = size < SETUP_CHUNK ? size : SETUP_CHUNK;

		write_all(fd, buf, n, path);
		size -= n;
	}
	if (fsync(fd))
		die_errno("fsync %s", path);
	if (close(fd))
		die_errno("close %s", path);
}

/* --------------------------------------------------------------------------
 * Data workloads: --jobs threads, one file each.
 */
struct job {
	int idx;
	pthread_t thread;
	char path[PATH_MAX];
	char *buf;
	uint64_t bytes;		/* moved in the timed part */
	double t0, t1;
	uint64_t sum;		/* mmapread: what it read, so it is read */
	char err[PATH_MAX + 128];
};

static pthread_barrier_t barrier;
static void (*job_fn)(struct job *);

static void __attribute__((format(printf, 3, 4))) job_fail(struct job *j, int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (j->err[0])
		return;
	va_start(ap, fmt);
	n = vsnprintf(j->err, sizeof(j->err), fmt, ap);
	va_end(ap);
	if (err && n >= 0 && (size_t)n < sizeof(j->err))
		snprintf(j->err + n, sizeof(j->err) - n, ": %s", strerror(err));
}

static int dflag(void)
{
	return opt.direct ? O_DIRECT : 0;
}

static void job_seqread(struct job *j)
{
	int fd = open(j->path, O_RDONLY | dflag());

	if (fd < 0) {
		job_fail(j, errno, "open %s", j->path);
		return;
	}
	for (;;) {
		ssize_t n = read(fd, j->buf, opt.bs);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			job_fail(j, errno, "read %s at %llu", j->path, (unsigned long long)j->bytes);
			break;
		}
		if (n == 0)
			break;
		j->bytes += n;
	}
	if (close(fd))
		job_fail(j, errno, "close %s", j->path);
	if (!j->err[0] && j->bytes != opt.size)
		job_fail(j, 0, "%s: read %llu bytes, wrote %llu", j->path,
			 (unsigned long long)j->bytes, (unsigned long long)opt.size);
}

static int pwrite_all(int fd, const char *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		buf += n;
		len -= n;
		off += n;
	}
	return 0;
}

static void job_seqwrite(struct job *j)
{
	int fd = open(j->path, O_CREAT | O_TRUNC | O_WRONLY | dflag(), 0644);

	if (fd < 0) {
		job_fail(j, errno, "create %s", j->path);
		return;
	}
	while (j->bytes < opt.size) {
		uint64_t left = opt.size - j->bytes;
		size_t n = left < opt.bs ? left : opt.bs;

		if (pwrite_all(fd, j->buf, n, j->bytes)) {
			job_fail(j, errno, "write %s at %llu", j->path, (unsigned long long)j->bytes);
			break;
		}
		j->bytes += n;
	}
	if (!j->err[0] && fsync(fd))
		job_fail(j, errno, "fsync %s", j->path);
	if (close(fd))
		job_fail(j, errno, "close %s", j->path);
}

static void job_random(struct job *j, int write)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL * (j->idx + 1);
	uint64_t nblocks = opt.size / opt.bs;
	double end = j->t0 + opt.time;
	int fd = open(j->path, (write ? O_WRONLY : O_RDONLY) | dflag());

	if (fd < 0) {
		job_fail(j, errno, "open %s", j->path);
		return;
	}
	do {
		off_t off = (off_t)(rnd(&seed) % nblocks * opt.bs);

		if (write) {
			if (pwrite_all(fd, j->buf, opt.bs, off)) {
				job_fail(j, errno, "pwrite %s at %lld", j->path, (long long)off);
				break;
			}
		} else {
			ssize_t n = pread(fd, j->buf, opt.bs, off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				job_fail(j, errno, "pread %s at %lld", j->path, (long long)off);
				break;
			}
			if ((uint64_t)n != opt.bs) {
				job_fail(j, 0, "pread %s at %lld: %zd bytes, not %llu", j->path,
					 (long long)off, n, (unsigned long long)opt.bs);
				break;
			}
		}
		j->bytes += opt.bs;
	} while (now() < end);
	if (write && !j->err[0] && fsync(fd))
		job_fail(j, errno, "fsync %s", j->path);
	if (close(fd))
		job_fail(j, errno, "close %s", j->path);
}

static void job_randread(struct job *j)
{
	job_random(j, 0);
}

static void job_randwrite(struct job *j)
{
	job_random(j, 1);
}

static void job_mmapread(struct job *j)
{
	struct stat st;
	const volatile unsigned char *p;
	uint64_t sum = 0, i;
	void *map;
	int fd = open(j->path, O_RDONLY);

	if (fd < 0) {
		job_fail(j, errno, "open %s", j->path);
		return;
	}
	if (fstat(fd, &st)) {
		job_fail(j, errno, "fstat %s", j->path);
		goto out;
	}
	if ((uint64_t)st.st_size != opt.size) {
		job_fail(j, 0, "%s: size %lld, wrote %llu", j->path, (long long)st.st_size,
			 (unsigned long long)opt.size);
		goto out;
	}
	map = mmap(NULL, opt.size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		job_fail(j, errno, "mmap %s", j->path);
		goto out;
	}
	p = map;
	for (i = 0; i < opt.size; i += 64)
		sum += p[i];
	j->sum = sum;
	j->bytes = opt.size;
	if (munmap(map, opt.size))
		job_fail(j, errno, "munmap %s", j->path);
out:
	if (close(fd))
		job_fail(j, errno, "close %s", j->path);
}

static void *job_main(void *arg)
{
	struct job *j = arg;
	int r = pthread_barrier_wait(&barrier);

	if (r && r != PTHREAD_BARRIER_SERIAL_THREAD) {
		job_fail(j, r, "pthread_barrier_wait");
		return NULL;
	}
	j->t0 = now();
	mark();
	job_fn(j);
	mark();
	j->t1 = now();
	return NULL;
}

/* Runs the data workload and returns its rate in MiB/s. */
static double run_data(void (*fn)(struct job *), int setup_files, int cold)
{
	struct job *jobs = calloc(opt.jobs, sizeof(*jobs));
	double t0 = 0, t1 = 0;
	uint64_t bytes = 0;
	int i, err;

	if (!jobs)
		die("out of memory");
	if ((fn == job_randread || fn == job_randwrite) && opt.size < opt.bs)
		die("--size %llu is below --bs %llu", (unsigned long long)opt.size,
		    (unsigned long long)opt.bs);
	if (opt.direct && opt.size % opt.bs)
		die("--direct needs --size a multiple of --bs");
	if (opt.direct && opt.bs % 512)
		die("--direct needs --bs a multiple of 512");
	for (i = 0; i < opt.jobs; i++) {
		char name[32];

		jobs[i].idx = i;
		snprintf(name, sizeof(name), "f%d", i);
		join_path(jobs[i].path, workdir, name);
		jobs[i].buf = xalloc_aligned(opt.bs);
		fill_pattern(jobs[i].buf, opt.bs, 0xb10c + i);
		if (setup_files)
			write_file(jobs[i].path, opt.size);
	}
	if (cold)
		drop_caches();

	job_fn = fn;
	err = pthread_barrier_init(&barrier, NULL, opt.jobs);
	if (err)
		die_err(err, "pthread_barrier_init");
	for (i = 0; i < opt.jobs; i++) {
		err = pthread_create(&jobs[i].thread, NULL, job_main, &jobs[i]);
		if (err)
			die_err(err, "pthread_create");	/* the others wait forever: exit */
	}
	for (i = 0; i < opt.jobs; i++) {
		err = pthread_join(jobs[i].thread, NULL);
		if (err)
			die_err(err, "pthread_join");
	}
	pthread_barrier_destroy(&barrier);
	for (i = 0; i < opt.jobs; i++) {
		struct job *j = &jobs[i];

		if (j->err[0])
			die("job %d: %s", i, j->err);
		if (i == 0 || j->t0 < t0)
			t0 = j->t0;
		if (i == 0 || j->t1 > t1)
			t1 = j->t1;
		bytes += j->bytes;
		verbose("job %d: %llu bytes in %.6f s (sum %llu)", i, (unsigned long long)j->bytes,
			j->t1 - j->t0, (unsigned long long)j->sum);
		free(j->buf);
	}
	free(jobs);
	verbose("%llu bytes in %.6f s", (unsigned long long)bytes, t1 - t0);
	if (t1 <= t0)
		t1 = no_time(t0);
	return bytes / MiB / (t1 - t0);
}

/* --------------------------------------------------------------------------
 * Metadata workloads: --count files in the work directory.
 */
static char *file_name(char *out, char prefix, long i)
{
	char name[32];

	snprintf(name, sizeof(name), "%c%07ld", prefix, i);
	join_path(out, workdir, name);
	return out;
}

/*
 * Untimed setup: COUNT empty files. With mknod(2), a round trip fewer than
 * open and close on FUSE; with open and close where mknod is not supported.
 */
static void make_files(long count)
{
	static int no_mknod;
	char path[PATH_MAX];
	long i;

	for (i = 0; i < count; i++) {
		int fd;

		file_name(path, 'f', i);
		if (!no_mknod) {
			if (mknod(path, S_IFREG | 0644, 0) == 0)
				continue;
			if (errno != ENOSYS && errno != EPERM && errno != EOPNOTSUPP &&
			    errno != EINVAL)
				die_errno("mknod %s", path);
			no_mknod = 1;
		}
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			die_errno("create %s", path);
		if (close(fd))
			die_errno("close %s", path);
	}
}

static double rate(double n, double t0, double t1, const char *what)
{
	verbose("%.0f %s in %.6f s", n, what, t1 - t0);
	if (t1 <= t0)
		t1 = no_time(t0);
	return n / (t1 - t0);
}

static double run_create(void)
{
	char path[PATH_MAX];
	double t0, t1;
	long i;

	t0 = now();
	mark();
	for (i = 0; i < opt.count; i++) {
		int fd = open(file_name(path, 'f', i), O_CREAT | O_EXCL | O_WRONLY, 0644);

		if (fd < 0)
			die_errno("create %s", path);
		if (close(fd))
			die_errno("close %s", path);
	}
	mark();
	t1 = now();
	return rate(opt.count, t0, t1, "files");
}

static double run_stat(void)
{
	char path[PATH_MAX];
	struct stat st;
	double t0, t1;
	long i;

	make_files(opt.count);
	drop_caches();
	t0 = now();
	mark();
	for (i = 0; i < opt.count; i++) {
		if (stat(file_name(path, 'f', i), &st))
			die_errno("stat %s", path);
		if (!S_ISREG(st.st_mode) || st.st_size != 0)
			die("stat %s: mode %o size %lld, not an empty file", path, st.st_mode,
			    (long long)st.st_size);
	}
	mark();
	t1 = now();
	return rate(opt.count, t0, t1, "files");
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static double run_readdir(void)
{
	char *buf = xalloc_aligned(DIRENT_BUF);
	double t0, t1;
	long n = 0;
	int fd;

	make_files(opt.count);
	drop_caches();
	t0 = now();
	mark();
	fd = open(workdir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		die_errno("open %s", workdir);
	for (;;) {
		long len = syscall(SYS_getdents64, fd, buf, DIRENT_BUF);
		long off;

		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0)
			die_errno("getdents64 %s", workdir);
		if (len == 0)
			break;
		for (off = 0; off < len;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);

			if (d->d_reclen == 0 || off + d->d_reclen > len)
				die("getdents64 %s: bad record length %u", workdir, d->d_reclen);
			if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
				n++;
			off += d->d_reclen;
		}
	}
	if (close(fd))
		die_errno("close %s", workdir);
	mark();
	t1 = now();
	if (n != opt.count)
		die("%s: readdir found %ld entries, made %ld", workdir, n, opt.count);
	free(buf);
	return rate(n, t0, t1, "entries");
}

static double run_rename(void)
{
	char from[PATH_MAX], to[PATH_MAX];
	double t0, t1;
	long i;

	make_files(opt.count);
	t0 = now();
	mark();
	for (i = 0; i < opt.count; i++)
		if (rename(file_name(from, 'f', i), file_name(to, 'r', i)))
			die_errno("rename %s to %s", from, to);
	mark();
	t1 = now();
	return rate(opt.count, t0, t1, "files");
}

static double run_unlink(void)
{
	char path[PATH_MAX];
	double t0, t1;
	long i;

	make_files(opt.count);
	drop_caches();
	t0 = now();
	mark();
	for (i = 0; i < opt.count; i++)
		if (unlink(file_name(path, 'f', i)))
			die_errno("unlink %s", path);
	mark();
	t1 = now();
	return rate(opt.count, t0, t1, "files");
}

/* --------------------------------------------------------------------------
 * Tree workloads: a real tree from a tarball, through tar, find and rm.
 */

/*
 * Execs ARGV: from $FSBENCH_TOOLS through its loader when the tool is there, else by
 * execvp. Returns only on failure.
 */
static void exec_tool(char *const argv[])
{
	const char *dir = getenv("FSBENCH_TOOLS");
	char loader[PATH_MAX], tool[PATH_MAX];

	if (dir && *dir) {
		size_t n = 0;
		char **nargv;

		pathf(loader, "%s/ld.so", dir);
		pathf(tool, "%s/%s", dir, argv[0]);
		if (access(loader, X_OK) == 0 && access(tool, X_OK) == 0) {
			/* The C locale: a UTF-8 one is a dozen more files to open. */
			setenv("LC_ALL", "C", 1);
			while (argv[n])
				n++;
			nargv = calloc(n + 5, sizeof(*nargv));
			if (!nargv)
				return;
			nargv[0] = loader;
			nargv[1] = "--library-path";
			nargv[2] = (char *)dir;
			nargv[3] = tool;
			for (size_t i = 1; i <= n; i++)
				nargv[3 + i] = argv[i];
			execv(loader, nargv);
			return;
		}
	}
	execvp(argv[0], argv);
}

/*
 * Runs ARGV (exec_tool) and waits for it; it must exit 0. Its stdout goes to
 * /dev/null, or, with LINES, is read and its lines counted.
 */
static void run_child(char *const argv[], long *lines)
{
	int pfd[2] = { -1, -1 }, status;
	pid_t pid;

	if (lines && pipe(pfd))
		die_errno("pipe");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die_errno("fork");
	if (pid == 0) {
		int out = lines ? pfd[1] : open("/dev/null", O_WRONLY);

		if (out < 0 || dup2(out, STDOUT_FILENO) < 0) {
			perror("fsbench: child stdout");
			_exit(127);
		}
		if (lines) {
			close(pfd[0]);
			close(pfd[1]);
		} else {
			close(out);
		}
		exec_tool(argv);
		fprintf(stderr, "fsbench: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (lines) {
		char buf[65536];
		ssize_t n;

		close(pfd[1]);
		*lines = 0;
		while ((n = read(pfd[0], buf, sizeof(buf))) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				die_errno("read from %s", argv[0]);
			for (ssize_t i = 0; i < n; i++)
				*lines += buf[i] == '\n';
		}
		close(pfd[0]);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die_errno("waitpid %s", argv[0]);
	if (WIFSIGNALED(status))
		die("%s %s...: killed by signal %d", argv[0], argv[1], WTERMSIG(status));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		die("%s %s...: exit status %d", argv[0], argv[1], WEXITSTATUS(status));
}

static void xmkdir(const char *path)
{
	if (mkdir(path, 0755))
		die_errno("mkdir %s", path);
}

/* The fixed mtime of the generated tree, so that its tarball is the same every time. */
static void fixed_time(const char *path)
{
	struct timespec ts[2] = { { 1577836800, 0 }, { 1577836800, 0 } };

	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW))
		die_errno("utimensat %s", path);
}

/*
 * /tmp/fsbench-tree-nCOUNT-vVERSION.tar: COUNT files of 0-16 KiB (sizes and
 * contents from a fixed seed) in ceil(COUNT/50) directories under tree/. Made
 * in /tmp with plain writes, then `tar -cf`; reused when it is there.
 */
static const char *default_tarball(void)
{
	static char tarball[PATH_MAX];
	char tmp[PATH_MAX], top[PATH_MAX], path[PATH_MAX];
	long ndirs = (opt.count + 49) / 50, i;
	uint64_t seed = 0x7ee5eed;
	char *buf = xalloc_aligned(TREE_MAX_FILE);
	struct stat st;

	pathf(tarball, "/tmp/fsbench-tree-n%ld-v%d.tar", opt.count, TREE_VERSION);
	if (stat(tarball, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		free(buf);
		return tarball;
	}
	verbose("making %s", tarball);
	pathf(gendir, "/tmp/fsbench-tree-n%ld-v%d.%d", opt.count, TREE_VERSION,
		 (int)getpid());
	pathf(tmp, "%s.tar", gendir);
	xmkdir(gendir);
	join_path(top, gendir, "tree");
	xmkdir(top);
	for (i = 0; i < ndirs; i++) {
		pathf(path, "%s/d%03ld", top, i);
		xmkdir(path);
	}
	for (i = 0; i < opt.count; i++) {
		size_t size = rnd(&seed) % (TREE_MAX_FILE + 1);
		int fd;

		pathf(path, "%s/d%03ld/f%05ld", top, i % ndirs, i);
		fill_pattern(buf, size, i + 1);
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			die_errno("create %s", path);
		write_all(fd, buf, size, path);
		if (close(fd))
			die_errno("close %s", path);
		fixed_time(path);
	}
	for (i = 0; i < ndirs; i++) {
		pathf(path, "%s/d%03ld", top, i);
		fixed_time(path);
	}
	fixed_time(top);
	{
		char *argv[] = { "tar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner",
				 "-C", gendir, "-cf", tmp, "tree", NULL };

		run_child(argv, NULL);
	}
	if (rename(tmp, tarball))
		die_errno("rename %s to %s", tmp, tarball);
	if (rm_tree(gendir))
		die("cannot remove %s", gendir);
	gendir[0] = 0;
	free(buf);
	return tarball;
}

/* The tree's directory in the work directory; untarred into unless !extract. */
static long tree_setup(char *tree, const char **tarball_out, int extract)
{
	const char *tarball = opt.tarball ? opt.tarball : default_tarball();
	char *list[] = { "tar", "-tf", (char *)tarball, NULL };
	long entries;

	/* Counts the entries and, as it reads the whole tarball, caches it. */
	run_child(list, &entries);
	if (entries <= 0)
		die("%s: no entries", tarball);
	join_path(tree, workdir, "t");
	xmkdir(tree);
	if (extract) {
		char *argv[] = { "tar", "-xf", (char *)tarball, "-C", tree, NULL };

		run_child(argv, NULL);
	}
	*tarball_out = tarball;
	return entries;
}

static double run_untar(void)
{
	char tree[PATH_MAX];
	const char *tarball;
	long entries = tree_setup(tree, &tarball, 0);
	char *argv[] = { "tar", "-xf", (char *)tarball, "-C", tree, NULL };
	double t0, t1;

	t0 = now();
	mark();
	run_child(argv, NULL);
	mark();
	t1 = now();
	return rate(entries, t0, t1, "entries");
}

static double run_find(void)
{
	char tree[PATH_MAX];
	const char *tarball;
	long entries = tree_setup(tree, &tarball, 1);
	char *argv[] = { "find", tree, NULL };
	double t0, t1;

	drop_caches();
	t0 = now();
	mark();
	run_child(argv, NULL);
	mark();
	t1 = now();
	return rate(entries, t0, t1, "entries");
}

static char *cat_buf;
static long cat_files;
static uint64_t cat_bytes;

static int cat_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	uint64_t got = 0;
	int fd;

	(void)ftw;
	if (flag == FTW_NS || flag == FTW_DNR) {
		fprintf(stderr, "fsbench: cat: cannot stat or read %s\n", path);
		return 1;
	}
	if (flag != FTW_F || !S_ISREG(sb->st_mode))
		return 0;
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "fsbench: cat: open %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (;;) {
		ssize_t n = read(fd, cat_buf, CAT_BUF);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "fsbench: cat: read %s: %s\n", path, strerror(errno));
			close(fd);
			return 1;
		}
		if (n == 0)
			break;
		got += n;
	}
	if (close(fd)) {
		fprintf(stderr, "fsbench: cat: close %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (got != (uint64_t)sb->st_size) {
		fprintf(stderr, "fsbench: cat: %s: read %llu bytes, size %lld\n", path,
			(unsigned long long)got, (long long)sb->st_size);
		return 1;
	}
	cat_files++;
	cat_bytes += got;
	return 0;
}

static double run_cat(void)
{
	char tree[PATH_MAX];
	const char *tarball;
	double t0, t1;

	tree_setup(tree, &tarball, 1);
	cat_buf = xalloc_aligned(CAT_BUF);
	drop_caches();
	t0 = now();
	mark();
	if (nftw(tree, cat_one, 32, FTW_PHYS | FTW_MOUNT))
		die("reading the tree %s failed", tree);
	mark();
	t1 = now();
	free(cat_buf);
	if (cat_files == 0)
		die("%s: no regular files", tarball);
	verbose("%llu bytes", (unsigned long long)cat_bytes);
	return rate(cat_files, t0, t1, "files");
}

static double run_rmrf(void)
{
	char tree[PATH_MAX];
	const char *tarball;
	long entries = tree_setup(tree, &tarball, 1);
	char *argv[] = { "rm", "-rf", tree, NULL };
	double t0, t1;
	struct stat st;

	t0 = now();
	mark();
	run_child(argv, NULL);
	mark();
	t1 = now();
	if (lstat(tree, &st) == 0 || errno != ENOENT)
		die("rm -rf %s left it there", tree);
	return rate(entries, t0, t1, "entries");
}

/* -------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fsbench [options] WORKLOAD DIR\n"
		"workloads: seqread seqwrite randread randwrite mmapread\n"
		"           create stat readdir rename unlink  untar find cat rmrf\n"
		"options:\n"
		"  --bs SIZE       block size of the data workloads (default 128k)\n"
		"  --size SIZE     bytes per file (per job) of the data workloads (default 16m)\n"
		"  --jobs N        parallel jobs (threads), each with its own file (default 1)\n"
		"  --direct        O_DIRECT\n"
		"  --count N       files of the metadata and generated-tree workloads (default 1000)\n"
		"  --time SECS     duration of randread and randwrite (default 2)\n"
		"  --tarball PATH  the tree of the tree workloads (default: generated in /tmp)\n"
		"  --no-drop       do not drop caches (for testing without root: warm cache)\n"
		"  -v, --verbose   details on stderr\n"
		"prints: RESULT <value> <unit>   (higher is better)\n");
}

static const struct {
	const char *name;
	const char *unit;
	int data;		/* uses --jobs */
	double (*run)(void);
} workloads[] = {
	{ "seqread", "MiB/s", 1, NULL },
	{ "seqwrite", "MiB/s", 1, NULL },
	{ "randread", "MiB/s", 1, NULL },
	{ "randwrite", "MiB/s", 1, NULL },
	{ "mmapread", "MiB/s", 1, NULL },
	{ "create", "files/s", 0, run_create },
	{ "stat", "files/s", 0, run_stat },
	{ "readdir", "entries/s", 0, run_readdir },
	{ "rename", "files/s", 0, run_rename },
	{ "unlink", "files/s", 0, run_unlink },
	{ "untar", "files/s", 0, run_untar },
	{ "find", "files/s", 0, run_find },
	{ "cat", "files/s", 0, run_cat },
	{ "rmrf", "files/s", 0, run_rmrf },
};

/* At least 6 significant digits, never an exponent. */
static void print_result(double v, const char *unit)
{
	double a = v;
	int dec = 5;

	while (a >= 10.0 && dec > 0) {
		a /= 10.0;
		dec--;
	}
	while (a > 0 && a < 1.0 && dec < 15) {
		a *= 10.0;
		dec++;
	}
	printf("RESULT %.*f %s\n", dec, v, unit);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "bs", required_argument, NULL, 'b' },
		{ "size", required_argument, NULL, 's' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "direct", no_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'c' },
		{ "time", required_argument, NULL, 't' },
		{ "tarball", required_argument, NULL, 'T' },
		{ "no-drop", no_argument, NULL, 'N' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *unit = NULL;
	double (*run)(void) = NULL;
	double value;
	struct stat st;
	size_t w;
	int c, data = 0;

	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': opt.bs = parse_size(optarg, "--bs"); break;
		case 's': opt.size = parse_size(optarg, "--size"); break;
		case 'j': opt.jobs = parse_long(optarg, "--jobs"); break;
		case 'd': opt.direct = 1; break;
		case 'c': opt.count = parse_long(optarg, "--count"); break;
		case 't': {
			char *end;

			errno = 0;
			opt.time = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(opt.time > 0))
				die("bad --time: %s", optarg);
			break;
		}
		case 'T': opt.tarball = optarg; break;
		case 'N': opt.no_drop = 1; break;
		case 'v': opt.verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 1;
	}
	opt.workload = argv[optind];
	opt.dir = argv[optind + 1];
	umask(022);	/* the modes of what we make (and of the generated tarball) */
	for (w = 0; w < sizeof(workloads) / sizeof(workloads[0]); w++) {
		if (strcmp(workloads[w].name, opt.workload) == 0) {
			unit = workloads[w].unit;
			run = workloads[w].run;
			data = workloads[w].data;
			break;
		}
	}
	if (!unit) {
		const char *name = opt.workload;

		opt.workload = NULL;
		die("unknown workload %s", name);
	}
	if (!data && opt.jobs != 1)
		die("--jobs applies to the data workloads only");
	if (opt.jobs > 1024)
		die("--jobs %d: too many", opt.jobs);
	if (opt.direct && !data)
		die("--direct applies to the data workloads only");
	if (opt.bs > (1ULL << 30))
		die("--bs too large");
	if (stat(opt.dir, &st))
		die_errno("%s", opt.dir);
	if (!S_ISDIR(st.st_mode))
		die("%s is not a directory", opt.dir);
	if (snprintf(workdir, sizeof(workdir), "%s/fsbench.%s.%d", opt.dir, opt.workload,
		     (int)getpid()) >= (int)sizeof(workdir))
		die("path too long: %s", opt.dir);
	if (mkdir(workdir, 0755)) {
		int err = errno;

		workdir[0] = 0;	/* not ours: leave it */
		die_err(err, "mkdir %s/fsbench.%s.%d", opt.dir, opt.workload, (int)getpid());
	}

	if (!strcmp(opt.workload, "seqread"))
		value = run_data(job_seqread, 1, 1);
	else if (!strcmp(opt.workload, "seqwrite"))
		value = run_data(job_seqwrite, 0, 0);
	else if (!strcmp(opt.workload, "randread"))
		value = run_data(job_randread, 1, 1);
	else if (!strcmp(opt.workload, "randwrite"))
		value = run_data(job_randwrite, 1, 0);
	else if (!strcmp(opt.workload, "mmapread"))
		value = run_data(job_mmapread, 1, 1);
	else
		value = run();

	if (!(value > 0) || value != value)
		die("bad result %g", value);
	if (rm_tree(workdir))
		die("cannot remove %s", workdir);
	workdir[0] = 0;
	print_result(value, unit);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "fsbench: writing the result failed\n");
		return 1;
	}
	return 0;
}
