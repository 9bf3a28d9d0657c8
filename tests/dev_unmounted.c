// SPDX-License-Identifier: GPL-2.0
/*
 * A /dev/fuse file that no mount has attached: every operation fails as on
 * the C module (EPERM for read/write and the connection ioctls, EPOLLERR for
 * poll, EINVAL or EFAULT for a bad FUSE_DEV_IOC_CLONE, ENOTTY otherwise).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/fuse.h>

#include "kselftest_harness.h"

FIXTURE(dev)
{
	int fd;
};

FIXTURE_SETUP(dev)
{
	self->fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("open /dev/fuse: %s", strerror(errno));
}

FIXTURE_TEARDOWN(dev)
{
	EXPECT_EQ(0, close(self->fd));
}

TEST_F(dev, read_is_eperm)
{
	char buf[8192];

	EXPECT_EQ(-1, read(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(EPERM, errno);
}

TEST_F(dev, readv_is_eperm)
{
	char a[4096], b[4096];
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };

	EXPECT_EQ(-1, readv(self->fd, iov, 2));
	EXPECT_EQ(EPERM, errno);
}

TEST_F(dev, write_is_eperm)
{
	struct fuse_out_header h = { .len = sizeof(h), .error = 0, .unique = 2 };

	EXPECT_EQ(-1, write(self->fd, &h, sizeof(h)));
	EXPECT_EQ(EPERM, errno);
}

TEST_F(dev, nonblocking_read_is_eperm)
{
	char buf[8192];

	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, read(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(EPERM, errno);
}

TEST_F(dev, poll_is_err)
{
	struct pollfd p = { .fd = self->fd, .events = POLLIN | POLLOUT };

	EXPECT_EQ(1, poll(&p, 1, 1000));
	EXPECT_EQ(POLLERR, p.revents);
}

TEST_F(dev, lseek_is_espipe)
{
	EXPECT_EQ(-1, lseek(self->fd, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
}

TEST_F(dev, clone_of_itself_is_einval)
{
	uint32_t old = self->fd;

	EXPECT_EQ(-1, ioctl(self->fd, FUSE_DEV_IOC_CLONE, &old));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dev, clone_of_other_unattached_is_einval)
{
	uint32_t old = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, (int)old);
	EXPECT_EQ(-1, ioctl(self->fd, FUSE_DEV_IOC_CLONE, &old));
	EXPECT_EQ(EINVAL, errno);
	close(old);
}

TEST_F(dev, clone_of_non_fuse_file_is_einval)
{
	uint32_t old = open("/dev/null", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, (int)old);
	EXPECT_EQ(-1, ioctl(self->fd, FUSE_DEV_IOC_CLONE, &old));
	EXPECT_EQ(EINVAL, errno);
	close(old);
}

TEST_F(dev, clone_of_closed_fd_is_einval)
{
	uint32_t old = 1000;

	EXPECT_EQ(-1, ioctl(self->fd, FUSE_DEV_IOC_CLONE, &old));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dev, clone_bad_pointer_is_efault)
{
	EXPECT_EQ(-1, ioctl(self->fd, FUSE_DEV_IOC_CLONE, (void *)8));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(dev, backing_open_is_eperm)
{
	struct fuse_backing_map map = { .fd = 0 };

	EXPECT_EQ(-1, ioctl(self->fd, FUSE_DEV_IOC_BACKING_OPEN, &map));
	EXPECT_EQ(EPERM, errno);
}

TEST_F(dev, backing_close_is_eperm)
{
	uint32_t id = 1;

	EXPECT_EQ(-1, ioctl(self->fd, FUSE_DEV_IOC_BACKING_CLOSE, &id));
	EXPECT_EQ(EPERM, errno);
}

TEST_F(dev, unknown_ioctl_is_enotty)
{
	EXPECT_EQ(-1, ioctl(self->fd, _IO(229, 99), 0));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, FIONREAD, &(int){ 0 }));
	EXPECT_EQ(ENOTTY, errno);
}

TEST(many_opens_and_closes)
{
	for (int i = 0; i < 1000; i++) {
		int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

		ASSERT_LE(0, fd);
		ASSERT_EQ(0, close(fd));
	}
}

TEST_HARNESS_MAIN
