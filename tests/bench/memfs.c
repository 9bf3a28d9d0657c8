// SPDX-License-Identifier: GPL-2.0
/*
 * memfs: a small, fast in-memory file system daemon for benchmarks.
 *
 * It speaks the raw /dev/fuse protocol itself (no libfuse), so that a
 * benchmark run through it measures mostly what the kernel's FUSE module
 * costs per request: the daemon does little more than a hash lookup or a
 * memcpy for each one. The same daemon runs against the C fuse module and
 * rust_fuse, so their numbers can be compared.
 *
 *   memfs [-t THREADS] [-o OPT[,OPT...]] MOUNTPOINT
 *
 *   -t THREADS           worker threads reading /dev/fuse (default 1)
 *   -o writeback         negotiate FUSE_WRITEBACK_CACHE
 *   -o timeout=SECS      entry and attribute timeout (default 1, may be 0
 *                        or fractional)
 *   -o max_write=BYTES   INIT max_write (default 1 MiB)
 *   -o keep_cache        set FOPEN_KEEP_CACHE on open
 *   -o default_permissions  pass default_permissions to the mount
 *
 * It mounts MOUNTPOINT (as root), serves in the foreground and exits 0 when
 * the file system is unmounted. It prints nothing unless something fails.
 *
 * Layout: one global mutex guards the tree, the inode table and attributes;
 * each regular file has a rwlock for its data, so reads of different files
 * (or of one file) run in parallel. Lock order: file data lock, then the
 * global mutex. Nodeids are inode numbers (root 1), kept in a table and
 * reused once an inode is freed (unlinked, forgotten by the kernel and
 * closed). Directory entries live in one global hash keyed by (parent,
 * name); each directory also keeps its entries in a vector ordered by a
 * per-directory sequence number, which is the readdir offset cookie.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <linux/fuse.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif

#define MAX_DATA (4ULL << 30)	/* cap on all file data held in memory */
#define NAME_LEN 255
#define SYMLINK_LEN 4095
#define ZERO_SIZE (1 << 20)	/* read-only zero pages for holes */
#define MAX_READ (256U << 20)	/* largest READ reply we build */
#define MIB (1ULL << 20)

struct node;

struct dent {
	struct dent *hnext;	/* hash chain */
	struct node *node;
	uint64_t parent, seq, hash;
	uint32_t namelen;
	char name[];
};

struct slot {
	uint64_t seq;
	struct dent *d;		/* NULL once removed (until compaction) */
};

struct node {
	uint64_t ino, nlookup, size;
	uint32_t mode, nlink, uid, gid, rdev;
	uint32_t nopen, busy;	/* open files; requests working on it unlocked */
	struct timespec atime, mtime, ctime;
	/* Regular files: [0, dlen) is in data, [dlen, size) reads as zeros.
	 * data and cap are guarded by lock; size and dlen change only with
	 * both lock (write) and the global mutex held. */
	pthread_rwlock_t lock;
	char *data;
	uint64_t dlen, cap;
	/* Directories. */
	uint64_t parent, next_seq;
	struct slot *slots;
	uint32_t nslots, capslots, live;
	/* Symlinks. */
	char *target;
	struct node *next_dead;
};

struct worker {
	pthread_t tid;
	char *in, *out;
	size_t insz, outsz;
	struct node *dead;	/* freed after the request's locks are dropped */
	int rc;
};

struct ereply {
	struct fuse_entry_out e;
	struct fuse_open_out o;
};

static struct {
	int threads, writeback, keep_cache, default_perms;
	uint64_t tmo_sec;
	uint32_t tmo_nsec, max_write;
} opt = { .threads = 1, .tmo_sec = 1, .max_write = 1 << 20 };

static int fuse_fd;
static pthread_mutex_t big = PTHREAD_MUTEX_INITIALIZER;
static struct node **tab;
static uint64_t tabsz, next_ino = FUSE_ROOT_ID, ninodes;
static uint64_t *freeino;
static size_t nfree, capfree;
static struct dent **htab;
static uint64_t hmask, hcount;
static _Atomic uint64_t total_data;
static const char *zeros;

static void lock(void) { pthread_mutex_lock(&big); }
static void unlock(void) { pthread_mutex_unlock(&big); }

static struct timespec now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return t;
}

static struct node *get(uint64_t ino)
{
	return ino < tabsz ? tab[ino] : NULL;
}

/* ---- inodes ---- */

static struct node *new_node(uint32_t mode, uint32_t uid, uint32_t gid)
{
	struct node *n = calloc(1, sizeof(*n));
	uint64_t ino;

	if (!n)
		return NULL;
	if (nfree) {
		ino = freeino[--nfree];
	} else {
		if (next_ino >= tabsz) {
			uint64_t nsz = tabsz ? tabsz * 2 : 1024;
			struct node **t = realloc(tab, nsz * sizeof(*t));

			if (!t) {
				free(n);
				return NULL;
			}
			memset(t + tabsz, 0, (nsz - tabsz) * sizeof(*t));
			tab = t;
			tabsz = nsz;
		}
		ino = next_ino++;
	}
	n->ino = ino;
	n->mode = mode;
	n->uid = uid;
	n->gid = gid;
	n->nlink = 1;
	n->next_seq = 3;	/* 1 and 2 are the cookies of "." and ".." */
	n->atime = n->mtime = n->ctime = now();
	pthread_rwlock_init(&n->lock, NULL);
	tab[ino] = n;
	ninodes++;
	return n;
}

static void destroy(struct node *n)
{
	atomic_fetch_sub(&total_data, n->cap);
	free(n->data);
	free(n->slots);
	free(n->target);
	pthread_rwlock_destroy(&n->lock);
	free(n);
}

/* Takes an inode out of the table and gives its number back. Locked. */
static void unlist(struct node *n)
{
	tab[n->ino] = NULL;
	ninodes--;
	if (nfree == capfree) {
		size_t nc = capfree ? capfree * 2 : 1024;
		uint64_t *f = realloc(freeino, nc * sizeof(*f));

		if (!f)
			return;	/* the number is lost, nothing worse */
		freeino = f;
		capfree = nc;
	}
	freeino[nfree++] = n->ino;
}

/* Frees an inode that no name, kernel lookup, open file or request holds. */
static void maybe_free(struct worker *w, struct node *n)
{
	if (n->ino == FUSE_ROOT_ID || n->nlink || n->nlookup || n->nopen || n->busy)
		return;
	unlist(n);
	n->next_dead = w->dead;
	w->dead = n;
}

static void forget_locked(struct worker *w, uint64_t ino, uint64_t count)
{
	struct node *n = get(ino);

	if (!n)
		return;
	n->nlookup = count > n->nlookup ? 0 : n->nlookup - count;
	maybe_free(w, n);
}

/* ---- directory entries ---- */

static uint64_t hname(uint64_t parent, const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (parent * 0x9e3779b97f4a7c15ULL);
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 31);
}

static struct dent *dfind(uint64_t parent, const char *s, size_t len)
{
	uint64_t h = hname(parent, s, len);
	struct dent *d;

	for (d = htab[h & hmask]; d; d = d->hnext)
		if (d->hash == h && d->parent == parent && d->namelen == len &&
		    !memcmp(d->name, s, len))
			return d;
	return NULL;
}

static void hgrow(void)
{
	uint64_t nsz = (hmask + 1) * 2, i;
	struct dent **t = calloc(nsz, sizeof(*t)), *d, *next;

	if (!t)
		return;	/* longer chains, still correct */
	for (i = 0; i <= hmask; i++)
		for (d = htab[i]; d; d = next) {
			next = d->hnext;
			d->hnext = t[d->hash & (nsz - 1)];
			t[d->hash & (nsz - 1)] = d;
		}
	free(htab);
	htab = t;
	hmask = nsz - 1;
}

/* First slot of dir whose seq is >= seq. */
static uint32_t lower_bound(const struct node *dir, uint64_t seq)
{
	uint32_t lo = 0, hi = dir->nslots;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (dir->slots[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct dent *dadd(struct node *dir, const char *s, size_t len, struct node *n)
{
	struct dent *d;

	if (dir->nslots == dir->capslots) {
		uint32_t nc = dir->capslots ? dir->capslots * 2 : 16;
		struct slot *sl = realloc(dir->slots, nc * sizeof(*sl));

		if (!sl)
			return NULL;
		dir->slots = sl;
		dir->capslots = nc;
	}
	d = malloc(sizeof(*d) + len + 1);
	if (!d)
		return NULL;
	d->node = n;
	d->parent = dir->ino;
	d->seq = dir->next_seq++;
	d->hash = hname(dir->ino, s, len);
	d->namelen = len;
	memcpy(d->name, s, len);
	d->name[len] = 0;
	d->hnext = htab[d->hash & hmask];
	htab[d->hash & hmask] = d;
	dir->slots[dir->nslots++] = (struct slot){ d->seq, d };
	dir->live++;
	if (++hcount > hmask + 1)
		hgrow();
	return d;
}

static void ddel(struct node *dir, struct dent *d)
{
	struct dent **pp = &htab[d->hash & hmask];
	uint32_t i, j;

	while (*pp != d)
		pp = &(*pp)->hnext;
	*pp = d->hnext;
	hcount--;
	i = lower_bound(dir, d->seq);
	if (i < dir->nslots && dir->slots[i].d == d) {
		dir->slots[i].d = NULL;
		dir->live--;
	}
	if (dir->nslots >= 64 && dir->live * 2 < dir->nslots) {
		for (i = j = 0; i < dir->nslots; i++)
			if (dir->slots[i].d)
				dir->slots[j++] = dir->slots[i];
		dir->nslots = j;
	}
	free(d);
}

/* ---- replies ---- */

/* iov[0] is filled in here with the header. */
static int send_reply(uint64_t unique, int err, struct iovec *iov, int cnt)
{
	struct fuse_out_header oh = { .error = err, .unique = unique };
	size_t len = sizeof(oh);
	int i;

	for (i = 1; i < cnt; i++)
		len += iov[i].iov_len;
	oh.len = len;
	iov[0].iov_base = &oh;
	iov[0].iov_len = sizeof(oh);
	if (writev(fuse_fd, iov, cnt) < 0) {
		int e = errno;

		if (e != ENOENT && e != ENODEV && e != ECONNABORTED)
			fprintf(stderr, "memfs: writing reply: %s\n", strerror(e));
		return -e;
	}
	return 0;
}

static int reply(uint64_t unique, int err, const void *p, size_t len)
{
	struct iovec iov[2] = { { NULL, 0 }, { (void *)p, len } };

	return send_reply(unique, err, iov, len ? 2 : 1);
}

static void fill_attr(struct fuse_attr *a, const struct node *n)
{
	memset(a, 0, sizeof(*a));
	a->ino = n->ino;
	a->mode = n->mode;
	a->nlink = n->nlink;
	a->uid = n->uid;
	a->gid = n->gid;
	a->rdev = n->rdev;
	a->blksize = 4096;
	a->atime = n->atime.tv_sec;
	a->atimensec = n->atime.tv_nsec;
	a->mtime = n->mtime.tv_sec;
	a->mtimensec = n->mtime.tv_nsec;
	a->ctime = n->ctime.tv_sec;
	a->ctimensec = n->ctime.tv_nsec;
	if (S_ISDIR(n->mode)) {
		a->size = 4096;
		a->blocks = 8;
	} else {
		a->size = n->size;
		a->blocks = ((n->dlen + 4095) & ~4095ULL) / 512;
	}
}

static void fill_entry(struct fuse_entry_out *e, const struct node *n)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = n->ino;
	e->entry_valid = e->attr_valid = opt.tmo_sec;
	e->entry_valid_nsec = e->attr_valid_nsec = opt.tmo_nsec;
	fill_attr(&e->attr, n);
}

/* Replies with an entry (and open file); takes back the lookup and the open
 * if the kernel did not take the reply. */
static void send_entry(struct worker *w, uint64_t unique, int err, struct ereply *er, int open)
{
	struct node *n;

	if (err) {
		reply(unique, err, NULL, 0);
		return;
	}
	if (reply(unique, 0, er, open ? sizeof(*er) : sizeof(er->e)) == 0)
		return;
	lock();
	n = get(er->e.nodeid);
	if (n) {
		if (open && n->nopen)
			n->nopen--;
		forget_locked(w, n->ino, 1);
	}
	unlock();
}

static void send_open(struct worker *w, uint64_t unique, struct node *n)
{
	struct fuse_open_out o = { .fh = n->ino, .open_flags = opt.keep_cache ? FOPEN_KEEP_CACHE : 0 };

	if (S_ISDIR(n->mode))
		o.open_flags = 0;
	if (reply(unique, 0, &o, sizeof(o)) == 0)
		return;
	lock();
	if (n->nopen)
		n->nopen--;
	maybe_free(w, n);
	unlock();
}

/* ---- file data (callers hold n->lock for writing) ---- */

static uint64_t capround(uint64_t need, uint64_t cap)
{
	uint64_t c = 64;

	if (need > MIB) {
		c = need > cap + cap / 8 ? need : cap + cap / 8;
		return (c + MIB - 1) & ~(MIB - 1);
	}
	while (c < need)
		c <<= 1;
	return c;
}

static int reserve(struct node *n, uint64_t need)
{
	uint64_t newcap, delta;
	char *p;

	if (need <= n->cap)
		return 0;
	if (need > MAX_DATA)
		return -ENOSPC;
	newcap = capround(need, n->cap);
	delta = newcap - n->cap;
	if (atomic_fetch_add(&total_data, delta) + delta > MAX_DATA) {
		atomic_fetch_sub(&total_data, delta);
		return -ENOSPC;
	}
	p = realloc(n->data, newcap);
	if (!p) {
		atomic_fetch_sub(&total_data, delta);
		return -ENOSPC;
	}
	n->data = p;
	n->cap = newcap;
	return 0;
}

/* Drops data beyond len; the caller then sets dlen (under the mutex too). */
static void shrink(struct node *n, uint64_t len)
{
	uint64_t want = len ? capround(len, 0) : 0;
	char *p;

	if (len && n->cap <= 2 * want)
		return;
	if (!len) {
		free(n->data);
		p = NULL;
	} else if (!(p = realloc(n->data, want))) {
		return;
	}
	atomic_fetch_sub(&total_data, n->cap - want);
	n->data = p;
	n->cap = want;
}

/* ---- operations ---- */

static int check_dir(const struct node *dir)
{
	if (!dir || !dir->nlink)
		return -ENOENT;
	return S_ISDIR(dir->mode) ? 0 : -ENOTDIR;
}

static int check_name(const char *s, size_t len)
{
	if (!len)
		return -ENOENT;
	if (len > NAME_LEN)
		return -ENAMETOOLONG;
	if (memchr(s, '/', len))
		return -EINVAL;
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return -EEXIST;
	return 0;
}

/* Takes a NUL-terminated string off the front of the request. */
static const char *take_name(char **p, size_t *left, size_t *len)
{
	char *s = *p, *z = memchr(s, 0, *left);

	if (!z)
		return NULL;
	*len = z - s;
	*p = z + 1;
	*left -= *len + 1;
	return s;
}

/* Creates name in directory pid. Locked. */
static int make(const struct fuse_in_header *h, const char *name, size_t len,
		uint32_t mode, uint32_t rdev, const char *target, struct node **out)
{
	struct node *dir = get(h->nodeid), *n;
	int err = check_dir(dir);

	if (err || (err = check_name(name, len)))
		return err;
	if (dfind(dir->ino, name, len))
		return -EEXIST;
	n = new_node(mode, h->uid, h->gid);
	if (!n)
		return -ENOMEM;
	n->rdev = rdev;
	if (target) {
		n->size = strlen(target);
		n->target = strdup(target);
	}
	if ((target && !n->target) || !dadd(dir, name, len, n)) {
		unlist(n);
		destroy(n);
		return -ENOMEM;
	}
	if (S_ISDIR(mode)) {
		n->nlink = 2;
		n->parent = dir->ino;
		dir->nlink++;
	}
	n->nlookup = 1;
	dir->mtime = dir->ctime = n->ctime;
	*out = n;
	return 0;
}

static int lookup(uint64_t pid, const char *name, size_t len, struct node **out)
{
	struct node *dir = get(pid), *n;
	struct dent *d;

	if (!dir)
		return -ENOENT;
	if (!S_ISDIR(dir->mode))
		return -ENOTDIR;
	if (len > NAME_LEN)
		return -ENAMETOOLONG;
	if (len == 1 && name[0] == '.')
		n = dir;
	else if (len == 2 && name[0] == '.' && name[1] == '.')
		n = get(dir->parent);
	else
		n = (d = dfind(pid, name, len)) ? d->node : NULL;
	if (!n)
		return -ENOENT;
	n->nlookup++;
	*out = n;
	return 0;
}

static int do_unlink(struct worker *w, uint64_t pid, const char *name, size_t len, int isdir)
{
	struct node *dir = get(pid), *n;
	struct dent *d;
	int err = check_dir(dir);

	if (err)
		return err;
	if (isdir && len == 1 && name[0] == '.')
		return -EINVAL;
	if (isdir && len == 2 && name[0] == '.' && name[1] == '.')
		return -ENOTEMPTY;
	if (len > NAME_LEN)
		return -ENAMETOOLONG;
	d = dfind(pid, name, len);
	if (!d)
		return -ENOENT;
	n = d->node;
	if (isdir && !S_ISDIR(n->mode))
		return -ENOTDIR;
	if (!isdir && S_ISDIR(n->mode))
		return -EISDIR;
	if (isdir && n->live)
		return -ENOTEMPTY;
	ddel(dir, d);
	if (isdir) {
		n->nlink = 0;
		dir->nlink--;
	} else {
		n->nlink--;
	}
	n->ctime = dir->mtime = dir->ctime = now();
	maybe_free(w, n);
	return 0;
}

static int do_rename(struct worker *w, uint64_t od, const char *on, size_t ol,
		     uint64_t nd, const char *nn, size_t nl, uint32_t flags)
{
	struct node *odir = get(od), *ndir = get(nd), *n, *t = NULL;
	struct dent *d, *td;
	struct timespec tm = now();
	int err;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE) ||
	    (flags & RENAME_NOREPLACE && flags & RENAME_EXCHANGE))
		return -EINVAL;
	if ((err = check_dir(odir)) || (err = check_dir(ndir)) || (err = check_name(nn, nl)))
		return err;
	if (ol > NAME_LEN)
		return -ENAMETOOLONG;
	d = dfind(od, on, ol);
	if (!d)
		return -ENOENT;
	n = d->node;
	td = dfind(nd, nn, nl);
	if (flags & RENAME_EXCHANGE) {
		if (!td)
			return -ENOENT;
		t = td->node;
		d->node = t;
		td->node = n;
		if (od != nd) {
			if (S_ISDIR(n->mode)) {
				odir->nlink--;
				ndir->nlink++;
				n->parent = nd;
			}
			if (S_ISDIR(t->mode)) {
				ndir->nlink--;
				odir->nlink++;
				t->parent = od;
			}
		}
		n->ctime = t->ctime = tm;
		odir->mtime = odir->ctime = ndir->mtime = ndir->ctime = tm;
		return 0;
	}
	if (td) {
		t = td->node;
		if (flags & RENAME_NOREPLACE)
			return -EEXIST;
		if (t == n)
			return 0;
		if (S_ISDIR(n->mode) && !S_ISDIR(t->mode))
			return -ENOTDIR;
		if (!S_ISDIR(n->mode) && S_ISDIR(t->mode))
			return -EISDIR;
		if (S_ISDIR(t->mode) && t->live)
			return -ENOTEMPTY;
	}
	if (!dadd(ndir, nn, nl, n))
		return -ENOMEM;
	if (t) {
		ddel(ndir, td);
		if (S_ISDIR(t->mode)) {
			t->nlink = 0;
			ndir->nlink--;
		} else {
			t->nlink--;
		}
		t->ctime = tm;
		maybe_free(w, t);
	}
	ddel(odir, d);
	if (S_ISDIR(n->mode) && od != nd) {
		odir->nlink--;
		ndir->nlink++;
		n->parent = nd;
	}
	n->ctime = tm;
	odir->mtime = odir->ctime = ndir->mtime = ndir->ctime = tm;
	return 0;
}

/* Pins a regular file for work outside the mutex. */
static int pin_file(uint64_t ino, struct node **out)
{
	struct node *n;
	int err = 0;

	lock();
	n = get(ino);
	if (!n)
		err = -ENOENT;
	else if (S_ISDIR(n->mode))
		err = -EISDIR;
	else if (!S_ISREG(n->mode))
		err = -EINVAL;
	else
		n->busy++;
	unlock();
	*out = n;
	return err;
}

static void do_read(struct worker *w, const struct fuse_in_header *h, const struct fuse_read_in *in)
{
	struct iovec iov[2 + MAX_READ / ZERO_SIZE];
	uint64_t off = in->offset, sz = in->size < MAX_READ ? in->size : MAX_READ, end, z;
	struct node *n;
	int cnt = 1, err = pin_file(h->nodeid, &n);

	if (err) {
		reply(h->unique, err, NULL, 0);
		return;
	}
	pthread_rwlock_rdlock(&n->lock);
	if (off < n->size) {
		end = n->size - off < sz ? n->size : off + sz;
		if (off < n->dlen) {
			iov[cnt].iov_base = n->data + off;
			iov[cnt++].iov_len = (end < n->dlen ? end : n->dlen) - off;
		}
		z = end - (off > n->dlen ? off : end < n->dlen ? end : n->dlen);
		for (; z; cnt++) {
			iov[cnt].iov_base = (void *)zeros;
			iov[cnt].iov_len = z < ZERO_SIZE ? z : ZERO_SIZE;
			z -= iov[cnt].iov_len;
		}
	}
	send_reply(h->unique, 0, iov, cnt);
	lock();
	n->busy--;
	maybe_free(w, n);
	unlock();
	pthread_rwlock_unlock(&n->lock);
}

static int do_write(struct worker *w, const struct fuse_in_header *h,
		    const struct fuse_write_in *in, const char *data, size_t avail)
{
	uint64_t off = in->offset, sz = in->size, end = off + sz;
	struct node *n;
	int err;

	if (sz > avail)
		return -EINVAL;
	if (end < off)
		return -EFBIG;
	if ((err = pin_file(h->nodeid, &n)))
		return err;
	pthread_rwlock_wrlock(&n->lock);
	if (sz && !(err = reserve(n, end))) {
		if (off > n->dlen)
			memset(n->data + n->dlen, 0, off - n->dlen);
		memcpy(n->data + off, data, sz);
	}
	lock();
	if (!err) {
		if (end > n->dlen && sz)
			n->dlen = end;
		if (end > n->size && sz)
			n->size = end;
		n->mtime = n->ctime = now();
	}
	n->busy--;
	maybe_free(w, n);
	unlock();
	pthread_rwlock_unlock(&n->lock);
	return err;
}

static struct timespec ts(uint64_t sec, uint32_t nsec)
{
	return (struct timespec){ .tv_sec = sec, .tv_nsec = nsec < 1000000000 ? nsec : 999999999 };
}

static void do_setattr(struct worker *w, const struct fuse_in_header *h, const struct fuse_setattr_in *in)
{
	struct fuse_attr_out out;
	uint32_t v = in->valid;
	int sz = v & FATTR_SIZE, err = 0;
	struct timespec t;
	struct node *n;

	if (sz) {
		err = pin_file(h->nodeid, &n);
	} else {
		lock();
		if ((n = get(h->nodeid)))
			n->busy++;
		else
			err = -ENOENT;
		unlock();
	}
	if (err) {
		reply(h->unique, err, NULL, 0);
		return;
	}
	if (sz) {
		pthread_rwlock_wrlock(&n->lock);
		if (in->size < n->dlen)
			shrink(n, in->size);
	}
	lock();
	t = now();
	if (sz) {
		if (in->size < n->dlen)
			n->dlen = in->size;
		if (in->size != n->size && !(v & FATTR_MTIME))
			n->mtime = t;
		n->size = in->size;
	}
	if (v & FATTR_MODE)
		n->mode = (n->mode & S_IFMT) | (in->mode & 07777);
	if (v & FATTR_UID)
		n->uid = in->uid;
	if (v & FATTR_GID)
		n->gid = in->gid;
	if (v & FATTR_ATIME)
		n->atime = v & FATTR_ATIME_NOW ? t : ts(in->atime, in->atimensec);
	if (v & FATTR_MTIME)
		n->mtime = v & FATTR_MTIME_NOW ? t : ts(in->mtime, in->mtimensec);
	n->ctime = v & FATTR_CTIME ? ts(in->ctime, in->ctimensec) : t;
	memset(&out, 0, sizeof(out));
	out.attr_valid = opt.tmo_sec;
	out.attr_valid_nsec = opt.tmo_nsec;
	fill_attr(&out.attr, n);
	n->busy--;
	maybe_free(w, n);
	unlock();
	if (sz)
		pthread_rwlock_unlock(&n->lock);
	reply(h->unique, 0, &out, sizeof(out));
}

static int do_fallocate(struct worker *w, const struct fuse_in_header *h, const struct fuse_fallocate_in *in)
{
	uint64_t end = in->offset + in->length;
	struct node *n;
	int err;

	if (in->mode & ~FALLOC_FL_KEEP_SIZE)
		return -EOPNOTSUPP;
	if (end < in->offset)
		return -EFBIG;
	if (end > MAX_DATA)
		return -ENOSPC;
	if ((err = pin_file(h->nodeid, &n)))
		return err;
	pthread_rwlock_wrlock(&n->lock);
	lock();
	if (!(in->mode & FALLOC_FL_KEEP_SIZE) && end > n->size) {
		n->size = end;
		n->ctime = now();
	}
	n->busy--;
	maybe_free(w, n);
	unlock();
	pthread_rwlock_unlock(&n->lock);
	return 0;
}

/* Appends one dirent(plus); returns 0 when it does not fit. Locked. */
static int emit(char *buf, size_t *len, size_t max, const char *name, size_t nlen,
		uint64_t cookie, uint64_t ino, uint32_t mode, struct node *n, int plus)
{
	size_t rec = plus ? FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + nlen)
			  : FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + nlen);
	struct fuse_dirent *de;

	if (*len + rec > max)
		return 0;
	memset(buf + *len, 0, rec);
	if (plus) {
		struct fuse_direntplus *dp = (void *)(buf + *len);

		if (n) {	/* the kernel counts it as a lookup */
			n->nlookup++;
			fill_entry(&dp->entry_out, n);
		}
		de = &dp->dirent;
	} else {
		de = (void *)(buf + *len);
	}
	de->ino = ino;
	de->off = cookie;
	de->namelen = nlen;
	de->type = (mode & S_IFMT) >> 12;
	memcpy(de->name, name, nlen);
	*len += rec;
	return 1;
}

static void do_readdir(struct worker *w, const struct fuse_in_header *h, const struct fuse_read_in *in, int plus)
{
	size_t max = in->size < w->outsz ? in->size : w->outsz, len = 0, pos;
	uint64_t off = in->offset;
	struct node *dir;
	uint32_t i;
	int err = 0;

	lock();
	dir = get(h->nodeid);
	if (!dir)
		err = -ENOENT;
	else if (!S_ISDIR(dir->mode))
		err = -ENOTDIR;
	else if ((off >= 1 || emit(w->out, &len, max, ".", 1, 1, dir->ino, S_IFDIR, NULL, plus)) &&
		 (off >= 2 || emit(w->out, &len, max, "..", 2, 2, dir->parent, S_IFDIR, NULL, plus)) &&
		 off != UINT64_MAX) {
		for (i = lower_bound(dir, off + 1); i < dir->nslots; i++) {
			struct dent *d = dir->slots[i].d;

			if (d && !emit(w->out, &len, max, d->name, d->namelen, d->seq,
				       d->node->ino, d->node->mode, d->node, plus))
				break;
		}
	}
	unlock();
	if (err) {
		reply(h->unique, err, NULL, 0);
		return;
	}
	if (reply(h->unique, 0, w->out, len) == 0 || !plus)
		return;
	lock();	/* the kernel did not take them: undo the lookups */
	for (pos = 0; pos < len; pos += FUSE_DIRENTPLUS_SIZE((struct fuse_direntplus *)(w->out + pos)))
		forget_locked(w, ((struct fuse_direntplus *)(w->out + pos))->entry_out.nodeid, 1);
	unlock();
}

static void do_init(const struct fuse_in_header *h, const struct fuse_init_in *in)
{
	struct fuse_init_out out;
	uint32_t want = FUSE_ASYNC_READ | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_BIG_WRITES |
			FUSE_AUTO_INVAL_DATA | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO;
	size_t size = sizeof(out);
	uint32_t pages;

	memset(&out, 0, sizeof(out));
	out.major = FUSE_KERNEL_VERSION;
	out.minor = FUSE_KERNEL_MINOR_VERSION;
	if (in->major < 7) {
		fprintf(stderr, "memfs: kernel protocol %u.%u is too old\n", in->major, in->minor);
		reply(h->unique, -EPROTO, NULL, 0);
		return;
	}
	if (in->major > 7) {	/* ask for a 7.x INIT */
		reply(h->unique, 0, &out, sizeof(out));
		return;
	}
	if (in->minor < out.minor)
		out.minor = in->minor;
	if (opt.writeback)
		want |= FUSE_WRITEBACK_CACHE;
	out.flags = in->flags & want;
#ifdef FUSE_INIT_EXT
	if (in->flags & FUSE_INIT_EXT) {
		out.flags |= FUSE_INIT_EXT;
		out.flags2 = 0;
	}
#endif
	out.max_readahead = in->max_readahead;
	out.max_background = 16;
	out.congestion_threshold = 12;
	out.max_write = opt.max_write;
	out.time_gran = 1;
	pages = (opt.max_write + 4095) / 4096;
	if (out.flags & FUSE_MAX_PAGES)
		out.max_pages = pages > 256 ? (pages > 65535 ? 65535 : pages) : 256;
	if (out.minor < 5)
		size = FUSE_COMPAT_INIT_OUT_SIZE;
	else if (out.minor < 23)
		size = FUSE_COMPAT_22_INIT_OUT_SIZE;
	reply(h->unique, 0, &out, size);
}

#define ARG(type, var)						\
	const type *var = (const void *)p;			\
	if (plen < sizeof(type)) {				\
		err = -EINVAL;					\
		break;						\
	}							\
	p += sizeof(type);					\
	plen -= sizeof(type)

#define NAME(var, len)						\
	const char *var = take_name(&p, &plen, &len);		\
	if (!var) {						\
		err = -EINVAL;					\
		break;						\
	}

static void handle(struct worker *w, const struct fuse_in_header *h, char *p, size_t plen)
{
	struct ereply er;
	struct node *n = NULL;
	size_t l1, l2;
	int err = -ENOSYS;

	switch (h->opcode) {
	case FUSE_INIT: {
		struct fuse_init_in in = { 0 };

		if (plen < 16) {	/* major, minor, max_readahead, flags */
			err = -EINVAL;
			break;
		}
		memcpy(&in, p, plen < sizeof(in) ? plen : sizeof(in));
		do_init(h, &in);
		return;
	}
	case FUSE_FORGET: {
		if (plen >= sizeof(struct fuse_forget_in)) {
			lock();
			forget_locked(w, h->nodeid, ((struct fuse_forget_in *)p)->nlookup);
			unlock();
		}
		return;
	}
	case FUSE_BATCH_FORGET: {
		const struct fuse_batch_forget_in *in = (const void *)p;
		const struct fuse_forget_one *one = (const void *)(in + 1);
		uint32_t i, cnt;

		if (plen < sizeof(*in))
			return;
		cnt = (plen - sizeof(*in)) / sizeof(*one);
		if (in->count < cnt)
			cnt = in->count;
		lock();
		for (i = 0; i < cnt; i++)
			forget_locked(w, one[i].nodeid, one[i].nlookup);
		unlock();
		return;
	}
	case FUSE_INTERRUPT:
	case FUSE_NOTIFY_REPLY:
		return;		/* no reply */
	case FUSE_LOOKUP: {
		NAME(name, l1);
		lock();
		if (!(err = lookup(h->nodeid, name, l1, &n)))
			fill_entry(&er.e, n);
		unlock();
		send_entry(w, h->unique, err, &er, 0);
		return;
	}
	case FUSE_GETATTR: {
		struct fuse_attr_out out;

		memset(&out, 0, sizeof(out));
		lock();
		if ((n = get(h->nodeid))) {
			out.attr_valid = opt.tmo_sec;
			out.attr_valid_nsec = opt.tmo_nsec;
			fill_attr(&out.attr, n);
		}
		unlock();
		if (!n) {
			err = -ENOENT;
			break;
		}
		reply(h->unique, 0, &out, sizeof(out));
		return;
	}
	case FUSE_SETATTR: {
		ARG(struct fuse_setattr_in, in);
		do_setattr(w, h, in);
		return;
	}
	case FUSE_READLINK: {
		lock();
		n = get(h->nodeid);
		err = !n ? -ENOENT : !S_ISLNK(n->mode) ? -EINVAL : 0;
		if (!err) {
			l1 = n->size;
			memcpy(w->out, n->target, l1);
		}
		unlock();
		if (err)
			break;
		reply(h->unique, 0, w->out, l1);
		return;
	}
	case FUSE_SYMLINK: {
		NAME(name, l1);
		NAME(target, l2);
		if (l2 > SYMLINK_LEN) {
			err = -ENAMETOOLONG;
			break;
		}
		lock();
		if (!(err = make(h, name, l1, S_IFLNK | 0777, 0, target, &n)))
			fill_entry(&er.e, n);
		unlock();
		send_entry(w, h->unique, err, &er, 0);
		return;
	}
	case FUSE_MKNOD: {
		ARG(struct fuse_mknod_in, in);
		NAME(name, l1);
		uint32_t t = in->mode & S_IFMT;

		if (t != S_IFREG && t != S_IFIFO && t != S_IFSOCK && t != S_IFCHR && t != S_IFBLK) {
			err = -EINVAL;
			break;
		}
		lock();
		if (!(err = make(h, name, l1, in->mode & (S_IFMT | 07777), in->rdev, NULL, &n)))
			fill_entry(&er.e, n);
		unlock();
		send_entry(w, h->unique, err, &er, 0);
		return;
	}
	case FUSE_MKDIR: {
		ARG(struct fuse_mkdir_in, in);
		NAME(name, l1);
		lock();
		if (!(err = make(h, name, l1, S_IFDIR | (in->mode & 07777), 0, NULL, &n)))
			fill_entry(&er.e, n);
		unlock();
		send_entry(w, h->unique, err, &er, 0);
		return;
	}
	case FUSE_UNLINK:
	case FUSE_RMDIR: {
		NAME(name, l1);
		lock();
		err = do_unlink(w, h->nodeid, name, l1, h->opcode == FUSE_RMDIR);
		unlock();
		break;
	}
	case FUSE_RENAME: {
		ARG(struct fuse_rename_in, in);
		NAME(from, l1);
		NAME(to, l2);
		lock();
		err = do_rename(w, h->nodeid, from, l1, in->newdir, to, l2, 0);
		unlock();
		break;
	}
	case FUSE_RENAME2: {
		ARG(struct fuse_rename2_in, in);
		NAME(from, l1);
		NAME(to, l2);
		lock();
		err = do_rename(w, h->nodeid, from, l1, in->newdir, to, l2, in->flags);
		unlock();
		break;
	}
	case FUSE_LINK: {
		ARG(struct fuse_link_in, in);
		NAME(name, l1);
		struct node *dir;

		lock();
		n = get(in->oldnodeid);
		dir = get(h->nodeid);
		if (!n)
			err = -ENOENT;
		else if (S_ISDIR(n->mode))
			err = -EPERM;
		else if (!(err = check_dir(dir)) && !(err = check_name(name, l1))) {
			if (dfind(dir->ino, name, l1))
				err = -EEXIST;
			else if (!dadd(dir, name, l1, n))
				err = -ENOMEM;
		}
		if (!err) {
			n->nlink++;
			n->nlookup++;
			n->ctime = dir->mtime = dir->ctime = now();
			fill_entry(&er.e, n);
		}
		unlock();
		send_entry(w, h->unique, err, &er, 0);
		return;
	}
	case FUSE_OPEN:
	case FUSE_OPENDIR: {
		lock();
		n = get(h->nodeid);
		if (!n)
			err = -ENOENT;
		else if (h->opcode == FUSE_OPEN && S_ISDIR(n->mode))
			err = -EISDIR;
		else if (h->opcode == FUSE_OPENDIR && !S_ISDIR(n->mode))
			err = -ENOTDIR;
		else
			n->nopen++, err = 0;
		unlock();
		if (err)
			break;
		send_open(w, h->unique, n);
		return;
	}
	case FUSE_CREATE: {
		ARG(struct fuse_create_in, in);
		NAME(name, l1);
		struct node *dir;
		struct dent *d;
		int trunc = 0;

		lock();
		dir = get(h->nodeid);
		d = !check_dir(dir) && l1 <= NAME_LEN ? dfind(dir->ino, name, l1) : NULL;
		if (d && !(in->flags & O_EXCL) && S_ISREG(d->node->mode)) {
			n = d->node;	/* lost a race: open the existing file */
			n->nlookup++;
			n->nopen++;
			n->busy++;
			trunc = in->flags & O_TRUNC;
			err = 0;
		} else if (d && !(in->flags & O_EXCL) && S_ISDIR(d->node->mode)) {
			err = -EISDIR;
		} else {
			err = make(h, name, l1, S_IFREG | (in->mode & 07777), 0, NULL, &n);
			if (!err)
				n->nopen++, n->busy++;
		}
		unlock();
		if (!err) {
			if (trunc) {
				pthread_rwlock_wrlock(&n->lock);
				shrink(n, 0);
			}
			lock();
			if (trunc) {
				n->dlen = n->size = 0;
				n->mtime = n->ctime = now();
			}
			fill_entry(&er.e, n);
			n->busy--;
			unlock();
			if (trunc)
				pthread_rwlock_unlock(&n->lock);
			memset(&er.o, 0, sizeof(er.o));
			er.o.fh = n->ino;
			er.o.open_flags = opt.keep_cache ? FOPEN_KEEP_CACHE : 0;
		}
		send_entry(w, h->unique, err, &er, 1);
		return;
	}
	case FUSE_READ: {
		ARG(struct fuse_read_in, in);
		do_read(w, h, in);
		return;
	}
	case FUSE_WRITE: {
		ARG(struct fuse_write_in, in);
		struct fuse_write_out out = { .size = in->size };

		if ((err = do_write(w, h, in, p, plen)))
			break;
		reply(h->unique, 0, &out, sizeof(out));
		return;
	}
	case FUSE_STATFS: {
		struct fuse_statfs_out out;
		uint64_t used = atomic_load(&total_data) / 4096;

		memset(&out, 0, sizeof(out));
		out.st.bsize = out.st.frsize = 4096;
		out.st.namelen = NAME_LEN;
		out.st.blocks = MAX_DATA / 4096;
		out.st.bfree = out.st.bavail = used < out.st.blocks ? out.st.blocks - used : 0;
		out.st.files = 1ULL << 32;
		lock();
		out.st.ffree = out.st.files - ninodes;
		unlock();
		reply(h->unique, 0, &out, sizeof(out));
		return;
	}
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR: {
		lock();
		if ((n = get(h->nodeid))) {
			if (n->nopen)
				n->nopen--;
			maybe_free(w, n);
		}
		unlock();
		err = 0;
		break;
	}
	case FUSE_READDIR:
	case FUSE_READDIRPLUS: {
		ARG(struct fuse_read_in, in);
		do_readdir(w, h, in, h->opcode == FUSE_READDIRPLUS);
		return;
	}
	case FUSE_FALLOCATE: {
		ARG(struct fuse_fallocate_in, in);
		err = do_fallocate(w, h, in);
		break;
	}
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
	case FUSE_FLUSH:
	case FUSE_ACCESS:
	case FUSE_DESTROY:
		err = 0;
		break;
	default:		/* xattrs, locks, lseek, ioctl, poll, ...: ENOSYS */
		break;
	}
	reply(h->unique, err, NULL, 0);
}

/* Requests by opcode and READ bytes, printed at exit with MEMFS_STATS=1. */
static _Atomic unsigned long op_count[64], read_bytes;

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (;;) {
		ssize_t n = read(fuse_fd, w->in, w->insz);
		struct node *d;

		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == ENOENT)
				continue;
			if (errno != ENODEV) {
				fprintf(stderr, "memfs: reading /dev/fuse: %s\n", strerror(errno));
				w->rc = 1;
			}
			return NULL;
		}
		if ((size_t)n < sizeof(struct fuse_in_header)) {
			fprintf(stderr, "memfs: short request (%zd bytes)\n", n);
			continue;
		}
		{
			const struct fuse_in_header *h = (const void *)w->in;

			op_count[h->opcode < 64 ? h->opcode : 0]++;
			if (h->opcode == FUSE_READ &&
			    (size_t)n >= sizeof(*h) + sizeof(struct fuse_read_in))
				read_bytes += ((const struct fuse_read_in *)(h + 1))->size;
		}
		handle(w, (struct fuse_in_header *)w->in, w->in + sizeof(struct fuse_in_header),
		       n - sizeof(struct fuse_in_header));
		while ((d = w->dead)) {
			w->dead = d->next_dead;
			destroy(d);
		}
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: memfs [-t THREADS] [-o writeback|keep_cache|default_permissions|"
		"timeout=SECS|max_write=BYTES[,...]] MOUNTPOINT\n");
	exit(2);
}

static void parse_o(char *s)
{
	char *save, *o, *end;

	for (o = strtok_r(s, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (!strcmp(o, "writeback")) {
			opt.writeback = 1;
		} else if (!strcmp(o, "keep_cache")) {
			opt.keep_cache = 1;
		} else if (!strcmp(o, "default_permissions")) {
			opt.default_perms = 1;
		} else if (!strncmp(o, "timeout=", 8)) {
			double t = strtod(o + 8, &end);

			if (*end || end == o + 8 || !(t >= 0 && t < 1e9))
				usage();
			opt.tmo_sec = t;
			opt.tmo_nsec = (t - opt.tmo_sec) * 1e9;
		} else if (!strncmp(o, "max_write=", 10)) {
			unsigned long v = strtoul(o + 10, &end, 0);

			if (*end || v < 4096 || v > (64UL << 20))
				usage();
			opt.max_write = v;
		} else {
			fprintf(stderr, "memfs: unknown option %s\n", o);
			usage();
		}
	}
}

static int do_mount(const char *mnt)
{
	char opts[256];
	const char *type = "fuse.memfs";
	int i, fd = -1;

	for (i = 0; i < 2; i++, type = "fuse") {
		/* A failed mount may have used the descriptor up: start afresh. */
		if (fd >= 0)
			close(fd);
		fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			perror("memfs: /dev/fuse");
			return -1;
		}
		snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=%u,group_id=%u,allow_other%s",
			 fd, getuid(), getgid(), opt.default_perms ? ",default_permissions" : "");
		if (!mount("memfs", mnt, type, MS_NOSUID | MS_NODEV, opts))
			return fd;
	}
	fprintf(stderr, "memfs: mount %s: %s\n", mnt, strerror(errno));
	close(fd);
	return -1;
}

int main(int argc, char **argv)
{
	struct worker *w;
	struct node *root;
	size_t bufsz;
	uint64_t j;
	int c, i, rc = 0;

	while ((c = getopt(argc, argv, "t:o:h")) != -1) {
		if (c == 't') {
			opt.threads = atoi(optarg);
			if (opt.threads < 1 || opt.threads > 256)
				usage();
		} else if (c == 'o') {
			parse_o(optarg);
		} else {
			usage();
		}
	}
	if (optind != argc - 1)
		usage();

	/* Big file buffers come from mmap, so realloc moves them with mremap. */
	mallopt(M_MMAP_THRESHOLD, 256 << 10);
	zeros = mmap(NULL, ZERO_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	htab = calloc(1024, sizeof(*htab));
	hmask = 1023;
	root = new_node(S_IFDIR | 0755, getuid(), getgid());
	w = calloc(opt.threads, sizeof(*w));
	if (zeros == MAP_FAILED || !htab || !root || !w) {
		fprintf(stderr, "memfs: out of memory\n");
		return 1;
	}
	root->nlink = 2;
	root->parent = FUSE_ROOT_ID;

	/* Room for a WRITE of max_write with its headers, and at least what a
	 * kernel without FUSE_MAX_PAGES sends (32 pages). */
	bufsz = (opt.max_write > (128 << 10) ? opt.max_write : (128 << 10)) + 4096;
	for (i = 0; i < opt.threads; i++) {
		w[i].insz = w[i].outsz = bufsz;
		if (posix_memalign((void **)&w[i].in, 4096, bufsz) ||
		    posix_memalign((void **)&w[i].out, 4096, bufsz)) {
			fprintf(stderr, "memfs: out of memory\n");
			return 1;
		}
	}

	fuse_fd = do_mount(argv[optind]);
	if (fuse_fd < 0)
		return 1;
	for (i = 0; i < opt.threads; i++) {
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i])) {
			fprintf(stderr, "memfs: cannot start threads\n");
			umount2(argv[optind], MNT_DETACH);
			return 1;
		}
	}
	for (i = 0; i < opt.threads; i++) {
		pthread_join(w[i].tid, NULL);
		rc |= w[i].rc;
		free(w[i].in);
		free(w[i].out);
	}
	close(fuse_fd);
	if (getenv("MEMFS_STATS")) {
		fprintf(stderr, "memfs: requests by opcode:");
		for (j = 0; j < 64; j++)
			if (op_count[j])
				fprintf(stderr, " %zu:%lu", (size_t)j, op_count[j]);
		fprintf(stderr, "; READ bytes asked %lu\n", read_bytes);
	}

	/* Free everything, so leak checkers stay quiet. */
	for (j = 0; j <= hmask; j++) {
		struct dent *d, *next;

		for (d = htab[j]; d; d = next) {
			next = d->hnext;
			free(d);
		}
	}
	for (j = 0; j < tabsz; j++)
		if (tab[j])
			destroy(tab[j]);
	free(htab);
	free(tab);
	free(freeino);
	free(w);
	munmap((void *)zeros, ZERO_SIZE);
	return rc;
}
