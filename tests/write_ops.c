// SPDX-License-Identifier: GPL-2.0
/*
 * The write side and the namespace through libfuse's unmodified passthrough_ll
 * (with -o xattr) over a backing directory: each operation, its effect seen
 * through the mount and in the backing directory, and its error cases
 * (EEXIST, ENOENT, ENOTEMPTY, EISDIR, ENOTDIR, EXDEV, ENAMETOOLONG, EACCES and
 * EPERM for an unprivileged user). Where the result depends on what the
 * backing file system supports (fallocate modes, SEEK_HOLE), the same call on
 * the backing directory is the expectation.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <poll.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include "lib/daemon.h"

static int tap_n, tap_failed;
static char M[PATH_MAX], B[PATH_MAX], OTHER[PATH_MAX];

#define CHECK(name, cond)                                                        \
	do {                                                                     \
		int _ok, _e;                                                     \
		errno = 0;                                                       \
		_ok = (cond);                                                    \
		_e = errno;                                                      \
		tap_n++;                                                         \
		if (_ok) {                                                       \
			printf("ok %d %s\n", tap_n, name);                        \
		} else {                                                         \
			tap_failed++;                                            \
			printf("# %s:%d: %s (errno %d: %s)\n", __FILE__,         \
			       __LINE__, #cond, _e, strerror(_e));               \
			printf("not ok %d %s\n", tap_n, name);                    \
		}                                                                \
	} while (0)

/* Path NAME under the mount (m) or the backing directory (b). */
static const char *m(const char *name)
{
	static char buf[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], PATH_MAX, "%s/%s", M, name);
	return buf[i];
}

static const char *b(const char *name)
{
	static char buf[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], PATH_MAX, "%s/%s", B, name);
	return buf[i];
}

/* Errno of a call that is expected to fail, or 0 if it succeeded. */
#define ERR(call) ((call) < 0 ? errno : 0)

static int read_all(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, buf, len, 0);
	close(fd);
	return n;
}

static off_t size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : st.st_size;
}

static void fill(char *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (char)(seed + i * 7 + i / 251);
}

static void test_files(void)
{
	static char w[20000], r[30000], z[8000];
	struct stat st, bst;
	struct timespec ts[2];
	int fd, fd2;

	umask(022);
	fd = open(m("f"), O_CREAT | O_EXCL | O_RDWR, 0666);
	CHECK("create: O_CREAT|O_EXCL makes the file", fd >= 0);
	CHECK("create: mode has the umask applied", !stat(b("f"), &bst) &&
	      (bst.st_mode & 07777) == 0644 && S_ISREG(bst.st_mode));
	CHECK("create: EEXIST with O_EXCL on an existing name",
	      ERR(open(m("f"), O_CREAT | O_EXCL | O_RDWR, 0644)) == EEXIST);

	fill(w, sizeof(w), 1);
	CHECK("write: 10000 bytes", write(fd, w, 10000) == 10000);
	CHECK("write: size seen through the mount", size_of(m("f")) == 10000);
	CHECK("write: data read back through the mount",
	      pread(fd, r, sizeof(r), 0) == 10000 && !memcmp(r, w, 10000));
	CHECK("write: data in the backing file",
	      read_all(b("f"), r, sizeof(r)) == 10000 && !memcmp(r, w, 10000));
	CHECK("write: a large write in one call (300 KiB)", ({
		      static char big[300 * 1024];
		      int ok;
		      fill(big, sizeof(big), 9);
		      ok = pwrite(fd, big, sizeof(big), 0) == sizeof(big);
		      ok = ok && pread(fd, r, 1000, 200000) == 1000 &&
			   !memcmp(r, big + 200000, 1000);
		      ok = ok && !ftruncate(fd, 10000) && pwrite(fd, w, 10000, 0) == 10000;
		      ok;
	      }));
	close(fd);

	fd = open(m("f"), O_WRONLY | O_APPEND);
	CHECK("append: O_APPEND writes at the end",
	      fd >= 0 && write(fd, "appended", 8) == 8 && size_of(m("f")) == 10008 &&
	      read_all(m("f"), r, sizeof(r)) == 10008 && !memcmp(r + 10000, "appended", 8));
	close(fd);

	fd = open(m("f"), O_RDWR);
	CHECK("pwrite past the end leaves a hole of zeros",
	      pwrite(fd, "tail", 4, 20000) == 4 && size_of(m("f")) == 20004 &&
	      pread(fd, r, 9992, 10008) == 9992 && !memcmp(r, (char[9992]){ 0 }, 9992));
	CHECK("truncate shrinks (path)", !truncate(m("f"), 5000) && size_of(m("f")) == 5000 &&
	      size_of(b("f")) == 5000 && pread(fd, r, 6000, 0) == 5000 && !memcmp(r, w, 5000));
	CHECK("ftruncate grows with zeros", !ftruncate(fd, 8000) && size_of(b("f")) == 8000 &&
	      pread(fd, r, 8000, 0) == 8000 && !memcmp(r + 5000, z, 3000));
	CHECK("fsync and fdatasync", !fsync(fd) && !fdatasync(fd));
	close(fd);
	fd = open(m("f"), O_WRONLY | O_SYNC);
	CHECK("O_SYNC write", fd >= 0 && pwrite(fd, "s", 1, 0) == 1);
	close(fd);
	fd = open(m("f"), O_WRONLY | O_TRUNC);
	CHECK("open with O_TRUNC empties the file", fd >= 0 && size_of(m("f")) == 0 &&
	      size_of(b("f")) == 0);
	close(fd);

	CHECK("chmod", !chmod(m("f"), 0600) && !stat(m("f"), &st) &&
	      (st.st_mode & 07777) == 0600 && !stat(b("f"), &bst) && (bst.st_mode & 07777) == 0600);
	CHECK("chown", !chown(m("f"), 1000, 1001) && !stat(m("f"), &st) && st.st_uid == 1000 &&
	      st.st_gid == 1001 && !stat(b("f"), &bst) && bst.st_uid == 1000);
	CHECK("chmod with the set-user-id bit",
	      !chmod(m("f"), 04755) && !stat(m("f"), &st) && (st.st_mode & 07777) == 04755);
	ts[0].tv_sec = 1000000000;
	ts[0].tv_nsec = 5;
	ts[1].tv_sec = 1200000000;
	ts[1].tv_nsec = 7;
	CHECK("utimensat sets both times", !utimensat(AT_FDCWD, m("f"), ts, 0) &&
	      !stat(m("f"), &st) && st.st_atim.tv_sec == 1000000000 &&
	      st.st_mtim.tv_sec == 1200000000 && !stat(b("f"), &bst) &&
	      bst.st_mtim.tv_sec == 1200000000 && bst.st_mtim.tv_nsec == 7);
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_nsec = UTIME_NOW;
	CHECK("utimensat with UTIME_OMIT and UTIME_NOW",
	      !utimensat(AT_FDCWD, m("f"), ts, 0) && !stat(m("f"), &st) &&
	      st.st_atim.tv_sec == 1000000000 && st.st_mtim.tv_sec > 1600000000);

	/* Data written is what a later open and mmap see. */
	fd = open(m("f"), O_RDWR | O_TRUNC);
	fill(w, 4096, 3);
	CHECK("write then read through a new descriptor", fd >= 0 && write(fd, w, 4096) == 4096 &&
	      (fd2 = open(m("f"), O_RDONLY)) >= 0 && read(fd2, r, 4096) == 4096 &&
	      !memcmp(r, w, 4096) && !close(fd2));
	CHECK("rewrite of cached data is seen by readers", pwrite(fd, "XYZ", 3, 100) == 3 &&
	      read_all(m("f"), r, 4096) == 4096 && !memcmp(r + 100, "XYZ", 3));
	close(fd);
}

static void test_names(void)
{
	char name[300], buf[64];
	struct stat st, st2;
	int fd;

	CHECK("mkdir", !mkdir(m("d"), 0755) && !stat(b("d"), &st) && S_ISDIR(st.st_mode));
	CHECK("mkdir: EEXIST", ERR(mkdir(m("d"), 0755)) == EEXIST);
	fd = open(m("d/x"), O_CREAT | O_WRONLY, 0644);
	close(fd);
	CHECK("rmdir: ENOTEMPTY", ERR(rmdir(m("d"))) == ENOTEMPTY);
	CHECK("rmdir: ENOTDIR on a file", ERR(rmdir(m("f"))) == ENOTDIR);
	CHECK("unlink: EISDIR on a directory", ERR(unlink(m("d"))) == EISDIR);
	CHECK("open for writing: EISDIR on a directory", ERR(open(m("d"), O_WRONLY)) == EISDIR);
	CHECK("open: ENOTDIR through a file", ERR(open(m("f/x"), O_RDONLY)) == ENOTDIR);
	CHECK("open: ENOENT", ERR(open(m("nope"), O_RDONLY)) == ENOENT);
	CHECK("unlink: ENOENT", ERR(unlink(m("nope"))) == ENOENT);
	memset(name, 'n', 256);
	name[256] = 0;
	CHECK("create: ENAMETOOLONG for a 256-byte name",
	      ERR(open(m(name), O_CREAT | O_WRONLY, 0644)) == ENAMETOOLONG);
	CHECK("unlink and rmdir", !unlink(m("d/x")) && !rmdir(m("d")) &&
	      ERR(stat(b("d"), &st)) == ENOENT && ERR(stat(m("d"), &st)) == ENOENT);

	CHECK("symlink and readlink", !symlink("target/x", m("l")) &&
	      readlink(m("l"), buf, sizeof(buf)) == 8 && !memcmp(buf, "target/x", 8) &&
	      readlink(b("l"), buf, sizeof(buf)) == 8 && !lstat(m("l"), &st) &&
	      S_ISLNK(st.st_mode));
	CHECK("symlink: EEXIST", ERR(symlink("t", m("l"))) == EEXIST);
	CHECK("link: a second name with nlink 2", !link(m("f"), m("f2")) && !stat(m("f"), &st) &&
	      !stat(m("f2"), &st2) && st.st_nlink == 2 && st.st_ino == st2.st_ino &&
	      !stat(b("f"), &st) && st.st_nlink == 2);
	CHECK("link: EEXIST", ERR(link(m("f"), m("f2"))) == EEXIST);
	CHECK("unlink one name: nlink back to 1", !unlink(m("f2")) && !stat(m("f"), &st) &&
	      st.st_nlink == 1 && ERR(stat(m("f2"), &st)) == ENOENT);
	CHECK("mknod: a fifo", !mknod(m("fifo"), S_IFIFO | 0640, 0) && !stat(m("fifo"), &st) &&
	      S_ISFIFO(st.st_mode) && !stat(b("fifo"), &st) && S_ISFIFO(st.st_mode));

	fd = open(m("g"), O_CREAT | O_WRONLY, 0644);
	CHECK("rename", fd >= 0 && write(fd, "gee", 3) == 3 && !close(fd) &&
	      !rename(m("g"), m("g2")) && ERR(stat(m("g"), &st)) == ENOENT &&
	      read_all(m("g2"), buf, sizeof(buf)) == 3 && read_all(b("g2"), buf, 64) == 3);
	CHECK("rename over an existing file", !rename(m("g2"), m("f")) &&
	      read_all(m("f"), buf, sizeof(buf)) == 3 && !memcmp(buf, "gee", 3) &&
	      ERR(stat(m("g2"), &st)) == ENOENT);
	mkdir(m("d1"), 0755);
	mkdir(m("d2"), 0755);
	CHECK("rename a directory into another", !rename(m("d1"), m("d2/d1")) &&
	      !stat(b("d2/d1"), &st) && S_ISDIR(st.st_mode));
	CHECK("rename: ENOENT", ERR(rename(m("nope"), m("nope2"))) == ENOENT);
	CHECK("rename: EXDEV to another file system", ERR(rename(m("f"), OTHER)) == EXDEV);
	/* passthrough_ll answers RENAME2 flags with EINVAL (it has no renameat2). */
	CHECK("renameat2 NOREPLACE onto an existing name: EEXIST",
	      ERR(syscall(SYS_renameat2, AT_FDCWD, m("f"), AT_FDCWD, m("l"),
			  RENAME_NOREPLACE)) == EEXIST);
	CHECK("renameat2 NOREPLACE: the daemon's EINVAL",
	      ERR(syscall(SYS_renameat2, AT_FDCWD, m("f"), AT_FDCWD, m("l_new"),
			  RENAME_NOREPLACE)) == EINVAL);
	CHECK("renameat2 EXCHANGE: the daemon's EINVAL",
	      ERR(syscall(SYS_renameat2, AT_FDCWD, m("f"), AT_FDCWD, m("l"),
			  RENAME_EXCHANGE)) == EINVAL);
	CHECK("renameat2 with unknown flags: EINVAL",
	      ERR(syscall(SYS_renameat2, AT_FDCWD, m("f"), AT_FDCWD, m("l"), 1 << 10)) == EINVAL);
	/* passthrough_ll has no tmpfile: ENOSYS, which the kernel turns into EOPNOTSUPP. */
	CHECK("O_TMPFILE without daemon support: EOPNOTSUPP",
	      ERR(open(M, O_TMPFILE | O_RDWR, 0600)) == EOPNOTSUPP);
	CHECK("O_TMPFILE: EOPNOTSUPP again (remembered)",
	      ERR(open(M, O_TMPFILE | O_RDWR, 0600)) == EOPNOTSUPP);
	fd = open(M, O_RDONLY | O_DIRECTORY);
	CHECK("fsync of a directory", fd >= 0 && !fsync(fd));
	close(fd);
}

/* The same call on the mount and on the backing file give the same result. */
static void test_ranges(void)
{
	static char buf[1 << 20], bbuf[1 << 20];
	int fd = open(m("r"), O_CREAT | O_RDWR | O_TRUNC, 0644);
	int bfd = open(b("r2"), O_CREAT | O_RDWR | O_TRUNC, 0644);
	int r1, r2, e1, e2, i;
	static const struct {
		const char *name;
		int mode;
		off_t off, len;
	} fa[] = {
		{ "fallocate: allocate 1 MiB", 0, 0, 1 << 20 },
		{ "fallocate: KEEP_SIZE past the end", FALLOC_FL_KEEP_SIZE, 1 << 20, 65536 },
		{ "fallocate: PUNCH_HOLE", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192 },
		{ "fallocate: ZERO_RANGE", FALLOC_FL_ZERO_RANGE, 65536, 4096 },
		{ "fallocate: unsupported mode", FALLOC_FL_COLLAPSE_RANGE, 0, 4096 },
	};

	fill(buf, sizeof(buf), 5);
	r1 = pwrite(fd, buf, 300000, 0);
	r2 = pwrite(bfd, buf, 300000, 0);
	for (i = 0; i < (int)(sizeof(fa) / sizeof(fa[0])); i++) {
		errno = 0;
		r1 = fallocate(fd, fa[i].mode, fa[i].off, fa[i].len);
		e1 = errno;
		errno = 0;
		r2 = fallocate(bfd, fa[i].mode, fa[i].off, fa[i].len);
		e2 = errno;
		printf("# %s: mount %d/%d, backing %d/%d\n", fa[i].name, r1, e1, r2, e2);
		CHECK(fa[i].name, r1 == r2 && e1 == e2 && size_of(m("r")) == size_of(b("r2")) &&
		      pread(fd, buf, sizeof(buf), 0) == pread(bfd, bbuf, sizeof(bbuf), 0) &&
		      !memcmp(buf, bbuf, size_of(b("r2"))));
	}
	ftruncate(fd, 1 << 20);
	ftruncate(bfd, 1 << 20);
	fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 1 << 20);
	fallocate(bfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 1 << 20);
	pwrite(fd, "data", 4, 300000);
	pwrite(bfd, "data", 4, 300000);
	CHECK("lseek SEEK_DATA as on the backing file",
	      lseek(fd, 0, SEEK_DATA) == lseek(bfd, 0, SEEK_DATA));
	CHECK("lseek SEEK_HOLE as on the backing file",
	      lseek(fd, 300000, SEEK_HOLE) == lseek(bfd, 300000, SEEK_HOLE));
	CHECK("lseek SEEK_DATA past the end: ENXIO", ERR(lseek(fd, 2 << 20, SEEK_DATA)) == ENXIO);
	CHECK("lseek SEEK_END", lseek(fd, -4, SEEK_END) == (1 << 20) - 4);
	close(bfd);

	{
		int out = open(m("cfr"), O_CREAT | O_RDWR | O_TRUNC, 0644);
		loff_t in_off = 1000, out_off = 0;
		ssize_t n;

		fill(buf, 100000, 11);
		pwrite(fd, buf, 100000, 0);
		n = copy_file_range(fd, &in_off, out, &out_off, 50000, 0);
		CHECK("copy_file_range copies a range",
		      n == 50000 && pread(out, bbuf, 60000, 0) == 50000 &&
		      !memcmp(bbuf, buf + 1000, 50000) && size_of(b("cfr")) == 50000);
		close(out);
	}
	close(fd);
}

/* Whether a byte arrives on fd within ms milliseconds (into *c). */
static int byte_within(int fd, int ms, char *c)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && read(fd, c, 1) == 1;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/*
 * A blocking lock (cmd: F_SETLKW or F_OFD_SETLKW) on a range another process holds, with a
 * daemon that leaves POSIX locks to the kernel (passthrough_ll does not negotiate
 * POSIX_LOCKS): it waits until the holder unlocks, then has the lock; and a signal ends
 * the wait with EINTR.
 */
static void check_blocking_lock(const char *what, int cmd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
	int hold[2], unlock[2], done[2], st;
	pid_t holder, waiter;
	char c = 0, name[128];

	if (pipe(hold) || pipe(unlock) || pipe(done))
		return;
	holder = fork();
	if (holder == 0) {
		int fd = open(m("x"), O_RDWR);

		if (fd < 0 || fcntl(fd, F_SETLK, &fl))
			_exit(1);
		write(hold[1], "h", 1);
		read(unlock[0], &c, 1);
		fl.l_type = F_UNLCK;
		fcntl(fd, F_SETLK, &fl);
		read(unlock[0], &c, 1);
		fl.l_type = F_WRLCK;
		if (fcntl(fd, F_SETLK, &fl))
			_exit(1);
		write(hold[1], "h", 1);
		read(unlock[0], &c, 1);
		_exit(0);
	}
	if (!byte_within(hold[0], 10000, &c)) {
		CHECK("lock holder started", 0);
		kill(holder, SIGKILL);
		waitpid(holder, &st, 0);
		return;
	}
	waiter = fork();
	if (waiter == 0) {
		int fd = open(m("x"), O_RDWR);

		c = fd >= 0 && !fcntl(fd, cmd, &fl) ? 'y' : 'n';
		write(done[1], &c, 1);
		_exit(0);
	}
	snprintf(name, sizeof(name), "%s waits while another process holds the range", what);
	CHECK(name, !byte_within(done[0], 500, &c));
	write(unlock[1], "u", 1);
	snprintf(name, sizeof(name), "%s gets the lock once the holder unlocks", what);
	CHECK(name, byte_within(done[0], 10000, &c) && c == 'y');
	kill(waiter, SIGKILL);
	waitpid(waiter, &st, 0);

	/* The holder locks again, and a signal interrupts the next waiter. */
	write(unlock[1], "l", 1);
	if (!byte_within(hold[0], 10000, &c))
		CHECK("lock holder locked again", 0);
	waiter = fork();
	if (waiter == 0) {
		struct sigaction sa = { .sa_handler = on_alarm };
		int fd = open(m("x"), O_RDWR);

		sigaction(SIGALRM, &sa, NULL);
		alarm(1);
		c = fd >= 0 && fcntl(fd, cmd, &fl) == -1 && errno == EINTR ? 'y' : 'n';
		write(done[1], &c, 1);
		_exit(0);
	}
	snprintf(name, sizeof(name), "%s is ended by a signal: EINTR", what);
	CHECK(name, byte_within(done[0], 10000, &c) && c == 'y');
	kill(waiter, SIGKILL);
	waitpid(waiter, &st, 0);
	write(unlock[1], "u", 1);
	waitpid(holder, &st, 0);
	close(hold[0]);
	close(hold[1]);
	close(unlock[0]);
	close(unlock[1]);
	close(done[0]);
	close(done[1]);
}

static void test_xattr_locks(void)
{
	char buf[256];
	int fd = open(m("x"), O_CREAT | O_RDWR, 0644), fd2, st;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
	pid_t pid;
	int pfd[2], qfd[2];

	CHECK("setxattr", !setxattr(m("x"), "user.k", "value", 5, 0) &&
	      getxattr(b("x"), "user.k", buf, sizeof(buf)) == 5);
	CHECK("getxattr: size probe", getxattr(m("x"), "user.k", NULL, 0) == 5);
	CHECK("getxattr: value", getxattr(m("x"), "user.k", buf, sizeof(buf)) == 5 &&
	      !memcmp(buf, "value", 5));
	CHECK("getxattr: ERANGE for a small buffer", ERR(getxattr(m("x"), "user.k", buf, 2)) == ERANGE);
	CHECK("setxattr XATTR_CREATE: EEXIST",
	      ERR(setxattr(m("x"), "user.k", "v", 1, XATTR_CREATE)) == EEXIST);
	CHECK("listxattr", listxattr(m("x"), buf, sizeof(buf)) > 0 && !!memmem(buf, sizeof(buf), "user.k", 7));
	CHECK("listxattr: size probe", listxattr(m("x"), NULL, 0) == listxattr(b("x"), NULL, 0));
	CHECK("removexattr", !removexattr(m("x"), "user.k") &&
	      ERR(getxattr(m("x"), "user.k", buf, sizeof(buf))) == ENODATA);

	fd2 = open(m("x"), O_RDWR);
	CHECK("flock: exclusive lock", !flock(fd, LOCK_EX));
	CHECK("flock: a second exclusive lock would block",
	      ERR(flock(fd2, LOCK_EX | LOCK_NB)) == EWOULDBLOCK);
	CHECK("flock: unlock, then the second succeeds", !flock(fd, LOCK_UN) &&
	      !flock(fd2, LOCK_EX | LOCK_NB) && !flock(fd2, LOCK_UN));

	if (pipe(pfd) || pipe(qfd))
		return;
	pid = fork();
	if (pid == 0) {
		char c;

		fcntl(fd, F_SETLK, &fl);
		write(pfd[1], "x", 1);
		read(qfd[0], &c, 1);
		_exit(0);
	}
	read(pfd[0], buf, 1);
	fl.l_type = F_WRLCK;
	CHECK("F_GETLK shows another process's lock",
	      !fcntl(fd2, F_GETLK, &fl) && fl.l_type == F_WRLCK && fl.l_pid == pid);
	fl.l_type = F_WRLCK;
	CHECK("F_SETLK on a locked range: EAGAIN",
	      ERR(fcntl(fd2, F_SETLK, &fl)) == EAGAIN || errno == EACCES);
	write(qfd[1], "x", 1);
	waitpid(pid, &st, 0);
	fl.l_type = F_WRLCK;
	CHECK("F_SETLK after the holder exited", !fcntl(fd2, F_SETLK, &fl));
	fl.l_type = F_UNLCK;
	fcntl(fd2, F_SETLK, &fl);
	check_blocking_lock("F_SETLKW", F_SETLKW);
	check_blocking_lock("F_OFD_SETLKW", F_OFD_SETLKW);
	close(pfd[0]);
	close(pfd[1]);
	close(qfd[0]);
	close(qfd[1]);
	close(fd2);
	close(fd);
}

/* Another user, without allow_other: refused everywhere (as the C module). */
static void test_other_user(void)
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		struct stat s;
		int ok;

		if (setgid(65534) || setuid(65534))
			_exit(2);
		ok = ERR(stat(m("f"), &s)) == EACCES && ERR(open(m("new"), O_CREAT | O_WRONLY, 0644)) == EACCES;
		_exit(ok ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	CHECK("another user without allow_other: EACCES", WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* With allow_other and default_permissions, the kernel checks modes and owners. */
static void test_default_permissions(void)
{
	int st;
	pid_t pid;

	chmod(m("f"), 0644);
	chown(m("f"), 0, 0);
	mkdir(m("ro"), 0755);
	pid = fork();
	if (pid == 0) {
		struct stat s;
		char buf[8];
		int r = 0;

		if (setgid(65534) || setuid(65534))
			_exit(20);
		if (stat(m("f"), &s) || read_all(m("f"), buf, sizeof(buf)) < 0)
			r = 1;
		else if (ERR(open(m("f"), O_WRONLY)) != EACCES)
			r = 2;
		else if (ERR(chmod(m("f"), 0666)) != EPERM)
			r = 3;
		else if (ERR(open(m("ro/new"), O_CREAT | O_WRONLY, 0644)) != EACCES)
			r = 4;
		else if (ERR(unlink(m("f"))) != EACCES)
			r = 5;
		else if (ERR(chown(m("f"), 65534, 65534)) != EPERM)
			r = 6;
		_exit(r);
	}
	waitpid(pid, &st, 0);
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		printf("# unprivileged child exit %d\n", WEXITSTATUS(st));
	CHECK("default_permissions: reads allowed; write EACCES, chmod/chown EPERM, create and unlink EACCES",
	      WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Shared writable mappings (both without and with the writeback cache). */
static void test_mmap(void)
{
	static char w[8192], r[8192];
	char *p;
	int fd, ok;

	fill(w, sizeof(w), 21);
	fd = open(m("map"), O_CREAT | O_RDWR | O_TRUNC, 0644);
	ok = fd >= 0 && !ftruncate(fd, sizeof(w));
	p = ok ? mmap(NULL, sizeof(w), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
	CHECK("mmap: a MAP_SHARED writable mapping is allowed", p != MAP_FAILED);
	if (p == MAP_FAILED) {
		if (fd >= 0)
			close(fd);
		return;
	}
	memcpy(p, w, sizeof(w));
	CHECK("mmap: stores reach the backing file after msync(MS_SYNC)",
	      !msync(p, sizeof(w), MS_SYNC) && read_all(b("map"), r, sizeof(r)) == sizeof(w) &&
		      !memcmp(r, w, sizeof(w)));
	CHECK("mmap: write(2) and stores to the same page both land",
	      pwrite(fd, "written", 7, 100) == 7 && (memcpy(p + 200, "stored", 6), 1) &&
		      !msync(p, sizeof(w), MS_SYNC) && read_all(b("map"), r, sizeof(r)) == sizeof(w) &&
		      !memcmp(r + 100, "written", 7) && !memcmp(r + 200, "stored", 6));
	memcpy(p + 5000, "unsynced", 8);
	munmap(p, sizeof(w));
	close(fd);
	CHECK("mmap: stores reach the backing file after munmap and close, without msync",
	      read_all(b("map"), r, sizeof(r)) == sizeof(w) && !memcmp(r + 5000, "unsynced", 8));
	unlink(m("map"));
}

/* The writeback cache: data and times are kept in the kernel and written back. */
static void test_writeback(void)
{
	static char w[20000], r[20000], z[200];
	struct stat st, bst;
	int fd;

	fill(w, sizeof(w), 31);
	fd = open(m("wb"), O_CREAT | O_RDWR | O_TRUNC, 0644);
	CHECK("writeback: small writes are kept and counted in the size",
	      fd >= 0 && pwrite(fd, w, 1000, 0) == 1000 && pwrite(fd, w + 1000, 1000, 1000) == 1000 &&
		      !fstat(fd, &st) && st.st_size == 2000 && size_of(m("wb")) == 2000);
	CHECK("writeback: fsync writes the data to the daemon",
	      !fsync(fd) && read_all(b("wb"), r, sizeof(r)) == 2000 && !memcmp(r, w, 2000));
	/*
	 * The kernel keeps the times: the daemon's own (its WRITEs set the backing
	 * file's mtime to when they ran) do not replace them. Which of the two the
	 * backing file ends with is a race on both modules (a write-back's data can
	 * land after its SETATTR of the times), so only the mount's view is checked.
	 */
	CHECK("writeback: the kernel's mtime stands against the daemon's",
	      !fstat(fd, &st) && (usleep(20000), pwrite(fd, "m", 1, 0) == 1) && !fstat(fd, &bst) &&
		      (bst.st_mtim.tv_sec != st.st_mtim.tv_sec ||
		       bst.st_mtim.tv_nsec != st.st_mtim.tv_nsec) &&
		      !fsync(fd) && !stat(m("wb"), &st) && st.st_mtim.tv_sec == bst.st_mtim.tv_sec &&
		      st.st_mtim.tv_nsec == bst.st_mtim.tv_nsec);
	memset(z, 0, sizeof(z));
	CHECK("writeback: truncation drops dirty data beyond the new size",
	      pwrite(fd, w, 8192, 0) == 8192 && !ftruncate(fd, 100) &&
		      pwrite(fd, "x", 1, 300) == 1 && !fsync(fd) && size_of(b("wb")) == 301 &&
		      read_all(b("wb"), r, sizeof(r)) == 301 && !memcmp(r, w, 100) &&
		      !memcmp(r + 100, z, 200) && r[300] == 'x');
	close(fd);
	fd = open(m("wb"), O_WRONLY | O_APPEND);
	CHECK("writeback: O_APPEND writes at the kernel's size",
	      fd >= 0 && write(fd, "tail", 4) == 4 && !close(fd) && size_of(b("wb")) == 305 &&
		      read_all(b("wb"), r, sizeof(r)) == 305 && !memcmp(r + 301, "tail", 4));
	/* A file the page cache has not seen: a partial-page write reads the page first. */
	fd = open(b("wbold"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd >= 0) {
		write(fd, w, 10000);
		close(fd);
	}
	fd = open(m("wbold"), O_WRONLY);
	CHECK("writeback: a partial-page write keeps the rest of the page from the daemon",
	      fd >= 0 && pwrite(fd, "patch", 5, 5000) == 5 && !close(fd) &&
		      read_all(b("wbold"), r, sizeof(r)) == 10000 && !memcmp(r, w, 5000) &&
		      !memcmp(r + 5000, "patch", 5) && !memcmp(r + 5005, w + 5005, 4995));
	CHECK("writeback: data written and closed is read back through the mount",
	      read_all(m("wbold"), r, sizeof(r)) == 10000 && !memcmp(r + 5000, "patch", 5));
	fd = open(m("wbold"), O_RDWR);
	CHECK("writeback: open(O_TRUNC) beside a descriptor with dirty data empties the file",
	      fd >= 0 && pwrite(fd, w, 9000, 0) == 9000 && ({
		      int t = open(m("wbold"), O_RDWR | O_TRUNC), ok2;
		      ok2 = t >= 0 && size_of(m("wbold")) == 0 && pwrite(t, "new", 3, 0) == 3 &&
			    !close(t);
		      ok2;
	      }) && !close(fd) && size_of(b("wbold")) == 3 &&
		      read_all(b("wbold"), r, sizeof(r)) == 3 && !memcmp(r, "new", 3));
	unlink(m("wb"));
	unlink(m("wbold"));
}

static int run_mount(const char *const *opts, void (*tests[])(void))
{
	pid_t pid = start_daemon("passthrough_ll_cfg", M, opts);
	int i;

	if (pid < 0) {
		printf("# passthrough_ll did not mount\n");
		tap_n++;
		tap_failed++;
		printf("not ok %d mount passthrough_ll\n", tap_n);
		return -1;
	}
	for (i = 0; tests[i]; i++)
		tests[i]();
	stop_daemon(pid, M);
	return 0;
}

int main(void)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char src[PATH_MAX + 16];
	static void (*plain[])(void) = { test_files, test_names, test_ranges, test_xattr_locks,
					 test_other_user, test_mmap, NULL };
	static void (*wb[])(void) = { test_writeback, test_mmap, NULL };
	static void (*perms[])(void) = { test_default_permissions, NULL };
	const char *opts1[] = { "-o", src, "-o", "xattr", NULL };
	const char *opts2[] = { "-o", src, "-o", "allow_other,default_permissions", NULL };
	const char *opts3[] = { "-o", src, "-o", "writeback", NULL };

	snprintf(M, sizeof(M), "%s/write_ops.%d/mnt", tmp, getpid());
	snprintf(B, sizeof(B), "%s/write_ops.%d/src", tmp, getpid());
	snprintf(OTHER, sizeof(OTHER), "%s/write_ops.%d/other", tmp, getpid());
	snprintf(src, sizeof(src), "source=%s", B);
	mkdir(strndup(M, strrchr(M, '/') - M), 0755);
	mkdir(M, 0755);
	mkdir(B, 0755);
	chmod(M, 0755);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");
	run_mount(opts1, plain);
	run_mount(opts2, perms);
	run_mount(opts3, wb);
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
