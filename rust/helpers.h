/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One-line wrappers for the inline functions and macros that rust_fuse calls
 * and bindgen cannot see. No logic lives here (the role of the kernel's own
 * rust/helpers/).
 */
#ifndef RUST_FUSE_HELPERS_H
#define RUST_FUSE_HELPERS_H

#include <linux/fs.h>
#include <linux/pagemap.h>
#include <linux/pid_namespace.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uidgid.h>
#include <linux/writeback.h>

bool rust_fuse_kuid_has_mapping(struct user_namespace *ns, kuid_t uid);
bool rust_fuse_kgid_has_mapping(struct user_namespace *ns, kgid_t gid);
struct file *rust_fuse_get_file(struct file *f);

/* Credentials and tasks. */
uid_t rust_fuse_current_fsuid(struct user_namespace *ns, bool munged);
gid_t rust_fuse_current_fsgid(struct user_namespace *ns, bool munged);
pid_t rust_fuse_current_pid(struct pid_namespace *ns);
struct pid_namespace *rust_fuse_get_current_pid_ns(void);
void rust_fuse_put_pid_ns(struct pid_namespace *ns);
struct user_namespace *rust_fuse_get_user_ns(struct user_namespace *ns);
void rust_fuse_put_user_ns(struct user_namespace *ns);
bool rust_fuse_fatal_signal_pending(void);
bool rust_fuse_exiting_on_signal(void);
const struct cred *rust_fuse_current_cred(void);
kuid_t rust_fuse_make_kuid(struct user_namespace *ns, uid_t uid);
kgid_t rust_fuse_make_kgid(struct user_namespace *ns, gid_t gid);

pid_t rust_fuse_current_tgid(struct pid_namespace *ns);
kgid_t rust_fuse_current_fsgid_raw(void);
void *rust_fuse_current_files(void);
unsigned int rust_fuse_memalloc_nofs_save(void);
void rust_fuse_memalloc_nofs_restore(unsigned int flags);
pid_t rust_fuse_pid_to_init_ns(pid_t nr, struct pid_namespace *ns);

/* Memory. */
unsigned long rust_fuse_totalram_pages(void);

/* Time. */
u64 rust_fuse_get_jiffies_64(void);

/* Inodes. */
struct kmem_cache *rust_fuse_inode_cache_create(const char *name,
						unsigned int size,
						void (*ctor)(void *));
void *rust_fuse_alloc_inode_sb(struct super_block *sb,
			       struct kmem_cache *cache);
loff_t rust_fuse_i_size_read(const struct inode *inode);
void rust_fuse_i_size_write(struct inode *inode, loff_t size);
void rust_fuse_remove_inode_hash(struct inode *inode);
void rust_fuse_inode_set_times(struct inode *inode, s64 as, u32 an, s64 ms,
			       u32 mn, s64 cs, u32 cn);
unsigned long rust_fuse_inode_state(struct inode *inode);

/* Dentries. */
int rust_fuse_dentry_init_security(struct dentry *dentry, int mode,
				   const char **xattr_name, void **ctx,
				   u32 *ctxlen);
struct dentry *rust_fuse_dget(struct dentry *dentry);
bool rust_fuse_d_in_lookup(const struct dentry *dentry);
void rust_fuse_d_lookup_done(struct dentry *dentry);

struct dentry *rust_fuse_d_lookup_name(struct dentry *dir, const char *name,
				       unsigned int len);
void rust_fuse_dont_mount(struct dentry *dentry);
bool rust_fuse_d_mountpoint(const struct dentry *dentry);
void rust_fuse_inode_lock_parent(struct inode *inode);

/* Directories. */
bool rust_fuse_dir_emit(struct dir_context *ctx, const char *name, int len,
			u64 ino, unsigned int type);

/* Folios and readahead. */
unsigned int rust_fuse_readahead_batch(struct readahead_control *rac,
				       struct folio **folios, unsigned int n);
loff_t rust_fuse_folio_pos(struct folio *folio);
size_t rust_fuse_folio_size(struct folio *folio);
void rust_fuse_memcpy_to_folio(struct folio *folio, size_t offset,
			       const void *src, size_t len);
void rust_fuse_folio_zero_segment(struct folio *folio, size_t start,
				  size_t end);
size_t rust_fuse_copy_folio_from_iter(struct folio *folio, size_t offset,
				      size_t bytes, struct iov_iter *i);
void *rust_fuse_kmap_local_page(struct page *page);
void rust_fuse_kunmap_local(const void *addr);
void rust_fuse_get_page(struct page *page);
void rust_fuse_put_page(struct page *page);
void rust_fuse_page_dirtied(struct page *page, bool user);
bool rust_fuse_user_backed_iter(const struct iov_iter *i);
size_t rust_fuse_iter_bvec_peek(const struct iov_iter *i, size_t max,
				struct page **page, size_t *off);
void rust_fuse_iter_bvec_advance(struct iov_iter *i, size_t n);
void rust_fuse_folio_mark_uptodate(struct folio *folio);
size_t rust_fuse_copy_folio_from_iter_atomic(struct folio *folio, size_t offset,
					     size_t bytes, struct iov_iter *i);
size_t rust_fuse_fault_in_iter_readable(const struct iov_iter *i, size_t bytes);
struct page *rust_fuse_folio_page(struct folio *folio, unsigned long n);
struct inode *rust_fuse_folio_inode(struct folio *folio);

struct folio *rust_fuse_filemap_grab_folio(struct address_space *mapping,
					   pgoff_t index);
struct folio *rust_fuse_filemap_get_folio(struct address_space *mapping,
					  pgoff_t index);
void rust_fuse_folio_put(struct folio *folio);
bool rust_fuse_folio_test_uptodate(struct folio *folio);
struct page *rust_fuse_copy_folio_page(struct folio *folio, unsigned long i);

/* Wait queues and poll. */
void rust_fuse_poll_wait(struct file *file, wait_queue_head_t *wq,
			 struct poll_table_struct *pt);

__poll_t rust_fuse_poll_requested_events(const struct poll_table_struct *pt);

/* iov_iter. */
size_t rust_fuse_iov_iter_count(const struct iov_iter *i);
size_t rust_fuse_copy_to_iter(const void *addr, size_t bytes,
			      struct iov_iter *i);
size_t rust_fuse_copy_from_iter(void *addr, size_t bytes, struct iov_iter *i);
void rust_fuse_iov_iter_revert(struct iov_iter *i, size_t bytes);

/* The write side. */
void rust_fuse_inode_lock(struct inode *inode);
void rust_fuse_inode_unlock(struct inode *inode);
ssize_t rust_fuse_generic_write_sync(struct kiocb *iocb, ssize_t count);
bool rust_fuse_iocb_is_dsync(const struct kiocb *iocb);
struct inode *rust_fuse_file_inode(const struct file *file);


/* Writeback, buffered writes and shared writable mappings. */
struct folio *rust_fuse_write_begin_folio(struct address_space *mapping,
					  pgoff_t index);
void rust_fuse_folio_start_writeback(struct folio *folio);
void rust_fuse_mapping_set_error(struct address_space *mapping, int error);
void rust_fuse_folio_lock(struct folio *folio);
struct address_space *rust_fuse_folio_mapping(struct folio *folio);
struct folio *rust_fuse_vmf_folio(struct vm_fault *vmf);
struct file *rust_fuse_vmf_file(struct vm_fault *vmf);
struct file *rust_fuse_vma_file(struct vm_area_struct *vma);
unsigned long rust_fuse_vma_flags(struct vm_area_struct *vma);
void rust_fuse_vma_set_ops(struct vm_area_struct *vma,
			   const struct vm_operations_struct *ops);
void rust_fuse_file_accessed(struct file *file);
int rust_fuse_wbc_sync_all(const struct writeback_control *wbc);
void rust_fuse_bdi_writeback_mod(struct backing_dev_info *bdi, s64 pages);
void rust_fuse_bdi_writeout_inc(struct backing_dev_info *bdi);

/* Pipes as the source of splice(2). */
unsigned int rust_fuse_pipe_occupancy(struct pipe_inode_info *pipe);
struct pipe_buffer *rust_fuse_pipe_front_buf(struct pipe_inode_info *pipe,
					     unsigned int i);
int rust_fuse_pipe_buf_confirm(struct pipe_inode_info *pipe,
			       struct pipe_buffer *buf);
void rust_fuse_pipe_release_front(struct pipe_inode_info *pipe);
void rust_fuse_pipe_wake_writers(struct pipe_inode_info *pipe);

void rust_fuse_init_delayed_work(struct delayed_work *dw, work_func_t fn);
bool rust_fuse_queue_delayed_work(struct delayed_work *dw, unsigned long delay);
unsigned int rust_fuse_default_request_timeout(void);
unsigned int rust_fuse_max_request_timeout(void);

#endif
