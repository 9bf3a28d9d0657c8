// SPDX-License-Identifier: GPL-2.0
/*
 * One-line wrappers for inline functions and macros (see helpers.h).
 */
#include <linux/backing-dev.h>
#include <linux/cred.h>
#include <linux/highmem.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/pipe_fs_i.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/uio.h>
#include <linux/workqueue.h>
#include <linux/user_namespace.h>
#include <linux/security.h>
#include "helpers.h"

#if defined(CONFIG_SMP) && defined(CONFIG_UNINLINE_SPIN_UNLOCK) && \
	!defined(CONFIG_INLINE_SPIN_LOCK) && !defined(CONFIG_PREEMPT_RT)
/* kernel_ext::spinlock takes a spinlock_t's raw lock at its address. */
static_assert(offsetof(spinlock_t, rlock) == 0);
#endif

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

uid_t rust_fuse_current_fsuid(struct user_namespace *ns, bool munged)
{
	return munged ? from_kuid_munged(ns, current_fsuid()) : from_kuid(ns, current_fsuid());
}

gid_t rust_fuse_current_fsgid(struct user_namespace *ns, bool munged)
{
	return munged ? from_kgid_munged(ns, current_fsgid()) : from_kgid(ns, current_fsgid());
}

pid_t rust_fuse_current_pid(struct pid_namespace *ns)
{
	return pid_nr_ns(task_pid(current), ns);
}

pid_t rust_fuse_current_tgid(struct pid_namespace *ns)
{
	return pid_nr_ns(task_tgid(current), ns);
}

kgid_t rust_fuse_current_fsgid_raw(void)
{
	return current_fsgid();
}

void *rust_fuse_current_files(void)
{
	return current->files;
}

unsigned int rust_fuse_memalloc_nofs_save(void)
{
	return memalloc_nofs_save();
}

void rust_fuse_memalloc_nofs_restore(unsigned int flags)
{
	memalloc_nofs_restore(flags);
}

pid_t rust_fuse_pid_to_init_ns(pid_t nr, struct pid_namespace *ns)
{
	pid_t ret;

	rcu_read_lock();
	ret = pid_nr_ns(find_pid_ns(nr, ns), &init_pid_ns);
	rcu_read_unlock();
	return ret;
}

struct pid_namespace *rust_fuse_get_current_pid_ns(void)
{
	return get_pid_ns(task_active_pid_ns(current));
}

void rust_fuse_put_pid_ns(struct pid_namespace *ns)
{
	put_pid_ns(ns);
}

struct user_namespace *rust_fuse_get_user_ns(struct user_namespace *ns)
{
	return get_user_ns(ns);
}

void rust_fuse_put_user_ns(struct user_namespace *ns)
{
	put_user_ns(ns);
}

bool rust_fuse_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

bool rust_fuse_exiting_on_signal(void)
{
	/* A group exit on a signal records its number; exit_group(n) records n << 8. */
	return (current->flags & PF_EXITING) && (current->signal->group_exit_code & 0x7f);
}

const struct cred *rust_fuse_current_cred(void)
{
	return current_cred();
}

kuid_t rust_fuse_make_kuid(struct user_namespace *ns, uid_t uid)
{
	return make_kuid(ns, uid);
}

kgid_t rust_fuse_make_kgid(struct user_namespace *ns, gid_t gid)
{
	return make_kgid(ns, gid);
}

unsigned long rust_fuse_totalram_pages(void)
{
	return totalram_pages();
}

u64 rust_fuse_get_jiffies_64(void)
{
	return get_jiffies_64();
}

struct kmem_cache *rust_fuse_inode_cache_create(const char *name,
						unsigned int size,
						void (*ctor)(void *))
{
	return kmem_cache_create(name, size, 0, SLAB_HWCACHE_ALIGN |
				 SLAB_ACCOUNT | SLAB_RECLAIM_ACCOUNT, ctor);
}

void *rust_fuse_alloc_inode_sb(struct super_block *sb,
			       struct kmem_cache *cache)
{
	return alloc_inode_sb(sb, cache, GFP_KERNEL);
}

loff_t rust_fuse_i_size_read(const struct inode *inode)
{
	return i_size_read(inode);
}

void rust_fuse_i_size_write(struct inode *inode, loff_t size)
{
	i_size_write(inode, size);
}

void rust_fuse_remove_inode_hash(struct inode *inode)
{
	remove_inode_hash(inode);
}

void rust_fuse_inode_set_times(struct inode *inode, s64 as, u32 an, s64 ms,
			       u32 mn, s64 cs, u32 cn)
{
	inode_set_atime(inode, as, an);
	inode_set_mtime(inode, ms, mn);
	inode_set_ctime(inode, cs, cn);
}

unsigned long rust_fuse_inode_state(struct inode *inode)
{
	return READ_ONCE(inode->i_state);
}

struct dentry *rust_fuse_dget(struct dentry *dentry)
{
	return dget(dentry);
}

bool rust_fuse_d_in_lookup(const struct dentry *dentry)
{
	return d_in_lookup(dentry);
}

void rust_fuse_d_lookup_done(struct dentry *dentry)
{
	d_lookup_done(dentry);
}

bool rust_fuse_dir_emit(struct dir_context *ctx, const char *name, int len,
			u64 ino, unsigned int type)
{
	return dir_emit(ctx, name, len, ino, type);
}

/*
 * Takes up to n folios of the readahead window into folios[], locked, with the
 * window's references dropped as readahead_folio() drops them (the lock keeps
 * the folios in the cache): one walk of the page cache for the batch, where
 * readahead_folio() looks each up. Returns how many.
 */
unsigned int rust_fuse_readahead_batch(struct readahead_control *rac,
				       struct folio **folios, unsigned int n)
{
	struct page *pages[32];
	unsigned int i, got;

	got = __readahead_batch(rac, pages, min_t(unsigned int, n, ARRAY_SIZE(pages)));
	for (i = 0; i < got; i++) {
		folios[i] = page_folio(pages[i]);
		folio_put(folios[i]);
	}
	return got;
}

loff_t rust_fuse_folio_pos(struct folio *folio)
{
	return folio_pos(folio);
}

size_t rust_fuse_folio_size(struct folio *folio)
{
	return folio_size(folio);
}

void rust_fuse_memcpy_to_folio(struct folio *folio, size_t offset,
			       const void *src, size_t len)
{
	memcpy_to_folio(folio, offset, src, len);
}

void rust_fuse_folio_zero_segment(struct folio *folio, size_t start,
				  size_t end)
{
	folio_zero_segment(folio, start, end);
}

void *rust_fuse_kmap_local_page(struct page *page)
{
	return kmap_local_page(page);
}

void rust_fuse_kunmap_local(const void *addr)
{
	kunmap_local(addr);
}

void rust_fuse_put_page(struct page *page)
{
	put_page(page);
}

void rust_fuse_get_page(struct page *page)
{
	get_page(page);
}

void rust_fuse_page_dirtied(struct page *page, bool user)
{
	flush_dcache_page(page);
	if (user)
		set_page_dirty_lock(page);
}

bool rust_fuse_user_backed_iter(const struct iov_iter *i)
{
	return user_backed_iter(i);
}

/*
 * The next bytes of a bvec iterator, at most `max` and within one page: that
 * page and the offset in it, without a reference (the iterator's owner holds
 * its pages). 0 if the iterator is not a bvec one or is empty.
 */
size_t rust_fuse_iter_bvec_peek(const struct iov_iter *i, size_t max,
				struct page **page, size_t *off)
{
	const struct bio_vec *bv;
	size_t at;

	if (!iov_iter_is_bvec(i) || !i->count || !i->nr_segs)
		return 0;
	bv = i->bvec;
	if (i->iov_offset >= bv->bv_len)
		return 0;
	at = bv->bv_offset + i->iov_offset;
	/* nth_page() costs two section look-ups without SPARSEMEM_VMEMMAP. */
	*page = at < PAGE_SIZE ? bv->bv_page : nth_page(bv->bv_page, at / PAGE_SIZE);
	*off = at % PAGE_SIZE;
	return min3(max, min(i->count, bv->bv_len - i->iov_offset), PAGE_SIZE - *off);
}

/*
 * Advances a bvec iterator by `n` bytes within its current segment, `n` at
 * most what rust_fuse_iter_bvec_peek() returned: iov_iter_advance()'s bvec
 * step without its walk over the segments.
 */
void rust_fuse_iter_bvec_advance(struct iov_iter *i, size_t n)
{
	i->count -= n;
	i->iov_offset += n;
	if (i->iov_offset == i->bvec->bv_len) {
		i->iov_offset = 0;
		i->bvec++;
		i->nr_segs--;
	}
}

size_t rust_fuse_copy_folio_from_iter(struct folio *folio, size_t offset,
				      size_t bytes, struct iov_iter *i)
{
	return copy_folio_from_iter(folio, offset, bytes, i);
}

void rust_fuse_folio_mark_uptodate(struct folio *folio)
{
	folio_mark_uptodate(folio);
}

size_t rust_fuse_copy_folio_from_iter_atomic(struct folio *folio, size_t offset,
					     size_t bytes, struct iov_iter *i)
{
	return copy_folio_from_iter_atomic(folio, offset, bytes, i);
}

size_t rust_fuse_fault_in_iter_readable(const struct iov_iter *i, size_t bytes)
{
	return fault_in_iov_iter_readable(i, bytes);
}

struct page *rust_fuse_folio_page(struct folio *folio, unsigned long n)
{
	/* Without SPARSEMEM_VMEMMAP nth_page() goes through the pfn: not for the head page. */
	return n ? folio_page(folio, n) : &folio->page;
}

struct inode *rust_fuse_folio_inode(struct folio *folio)
{
	return folio->mapping->host;
}

void rust_fuse_poll_wait(struct file *file, wait_queue_head_t *wq,
			 struct poll_table_struct *pt)
{
	poll_wait(file, wq, pt);
}

size_t rust_fuse_iov_iter_count(const struct iov_iter *i)
{
	return iov_iter_count(i);
}

size_t rust_fuse_copy_to_iter(const void *addr, size_t bytes,
			      struct iov_iter *i)
{
	return copy_to_iter(addr, bytes, i);
}

size_t rust_fuse_copy_from_iter(void *addr, size_t bytes, struct iov_iter *i)
{
	return copy_from_iter(addr, bytes, i);
}

void rust_fuse_iov_iter_revert(struct iov_iter *i, size_t bytes)
{
	iov_iter_revert(i, bytes);
}

void rust_fuse_inode_lock(struct inode *inode)
{
	inode_lock(inode);
}

void rust_fuse_inode_unlock(struct inode *inode)
{
	inode_unlock(inode);
}

ssize_t rust_fuse_generic_write_sync(struct kiocb *iocb, ssize_t count)
{
	return generic_write_sync(iocb, count);
}

bool rust_fuse_iocb_is_dsync(const struct kiocb *iocb)
{
	return iocb_is_dsync(iocb);
}

struct inode *rust_fuse_file_inode(const struct file *file)
{
	return file_inode(file);
}

int rust_fuse_dentry_init_security(struct dentry *dentry, int mode,
				   const char **xattr_name, void **ctx,
				   u32 *ctxlen)
{
	return security_dentry_init_security(dentry, mode, &dentry->d_name,
					     xattr_name, ctx, ctxlen);
}

__poll_t rust_fuse_poll_requested_events(const struct poll_table_struct *pt)
{
	return poll_requested_events(pt);
}

struct dentry *rust_fuse_d_lookup_name(struct dentry *dir, const char *name,
				       unsigned int len)
{
	struct qstr q = QSTR_INIT(name, len);

	q.hash = full_name_hash(dir, name, len);
	return d_lookup(dir, &q);
}

void rust_fuse_dont_mount(struct dentry *dentry)
{
	dont_mount(dentry);
}

bool rust_fuse_d_mountpoint(const struct dentry *dentry)
{
	return d_mountpoint(dentry);
}

void rust_fuse_inode_lock_parent(struct inode *inode)
{
	inode_lock_nested(inode, I_MUTEX_PARENT);
}

struct folio *rust_fuse_filemap_grab_folio(struct address_space *mapping,
					   pgoff_t index)
{
	return filemap_grab_folio(mapping, index);
}

struct folio *rust_fuse_filemap_get_folio(struct address_space *mapping,
					  pgoff_t index)
{
	return filemap_get_folio(mapping, index);
}

void rust_fuse_folio_put(struct folio *folio)
{
	folio_put(folio);
}

bool rust_fuse_folio_test_uptodate(struct folio *folio)
{
	return folio_test_uptodate(folio);
}

struct page *rust_fuse_copy_folio_page(struct folio *folio, unsigned long i)
{
	/* As write-back copies: no recursion into file systems for the memory. */
	struct page *page = alloc_page(GFP_NOFS | __GFP_HIGHMEM);

	if (page)
		copy_highpage(page, folio_page(folio, i));
	return page;
}

struct folio *rust_fuse_write_begin_folio(struct address_space *mapping,
					  pgoff_t index)
{
	return __filemap_get_folio(mapping, index, FGP_WRITEBEGIN,
				   mapping_gfp_mask(mapping));
}

void rust_fuse_folio_start_writeback(struct folio *folio)
{
	folio_start_writeback(folio);
}

void rust_fuse_mapping_set_error(struct address_space *mapping, int error)
{
	mapping_set_error(mapping, error);
}

void rust_fuse_folio_lock(struct folio *folio)
{
	folio_lock(folio);
}

struct address_space *rust_fuse_folio_mapping(struct folio *folio)
{
	return folio->mapping;
}

struct folio *rust_fuse_vmf_folio(struct vm_fault *vmf)
{
	return page_folio(vmf->page);
}

struct file *rust_fuse_vmf_file(struct vm_fault *vmf)
{
	return vmf->vma->vm_file;
}

struct file *rust_fuse_vma_file(struct vm_area_struct *vma)
{
	return vma->vm_file;
}

unsigned long rust_fuse_vma_flags(struct vm_area_struct *vma)
{
	return vma->vm_flags;
}

void rust_fuse_vma_set_ops(struct vm_area_struct *vma,
			   const struct vm_operations_struct *ops)
{
	vma->vm_ops = ops;
}

void rust_fuse_file_accessed(struct file *file)
{
	file_accessed(file);
}

int rust_fuse_wbc_sync_all(const struct writeback_control *wbc)
{
	return wbc->sync_mode == WB_SYNC_ALL;
}

/* Write-back a file system accounts itself (BDI_CAP_WRITEBACK_ACCT cleared). */
void rust_fuse_bdi_writeback_mod(struct backing_dev_info *bdi, s64 pages)
{
	wb_stat_mod(&bdi->wb, WB_WRITEBACK, pages);
}

void rust_fuse_bdi_writeout_inc(struct backing_dev_info *bdi)
{
	wb_writeout_inc(&bdi->wb);
}

unsigned int rust_fuse_pipe_occupancy(struct pipe_inode_info *pipe)
{
	return pipe_occupancy(pipe->head, pipe->tail);
}

struct pipe_buffer *rust_fuse_pipe_front_buf(struct pipe_inode_info *pipe,
					     unsigned int i)
{
	return pipe_buf(pipe, pipe->tail + i);
}

int rust_fuse_pipe_buf_confirm(struct pipe_inode_info *pipe,
			       struct pipe_buffer *buf)
{
	return pipe_buf_confirm(pipe, buf);
}

void rust_fuse_pipe_release_front(struct pipe_inode_info *pipe)
{
	pipe_buf_release(pipe, pipe_buf(pipe, pipe->tail));
	pipe->tail++;
}

void rust_fuse_pipe_wake_writers(struct pipe_inode_info *pipe)
{
	/* As splice's wakeup_pipe_writers(). */
	smp_mb();
	if (waitqueue_active(&pipe->wr_wait))
		wake_up_interruptible(&pipe->wr_wait);
	kill_fasync(&pipe->fasync_writers, SIGIO, POLL_OUT);
}

void rust_fuse_init_delayed_work(struct delayed_work *dw, work_func_t fn)
{
	INIT_DELAYED_WORK(dw, fn);
}

bool rust_fuse_queue_delayed_work(struct delayed_work *dw, unsigned long delay)
{
	return queue_delayed_work(system_wq, dw, delay);
}

/*
 * The request timeouts, in seconds (0: none), as 6.15's fs.fuse sysctls of the same names:
 * read when a connection's INIT is answered (rust/fuse/timeout.rs).
 */
static unsigned int default_request_timeout;
module_param(default_request_timeout, uint, 0644);
MODULE_PARM_DESC(default_request_timeout,
		 "Seconds a daemon may take to answer a request before its connection is aborted (0: no limit)");

static unsigned int max_request_timeout;
module_param(max_request_timeout, uint, 0644);
MODULE_PARM_DESC(max_request_timeout, "The most default_request_timeout may be (0: no cap)");

unsigned int rust_fuse_default_request_timeout(void)
{
	return READ_ONCE(default_request_timeout);
}

unsigned int rust_fuse_max_request_timeout(void)
{
	return READ_ONCE(max_request_timeout);
}
