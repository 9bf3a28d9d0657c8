/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Starting and stopping libfuse's example daemons from C tests: the daemon
 * runs in the foreground as a child, the test waits until the mount shows
 * in /proc/mounts, and stop_daemon() unmounts and reaps it.
 */
#ifndef RUST_FUSE_TEST_DAEMON_H
#define RUST_FUSE_TEST_DAEMON_H

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

/* The directory of build/examples, found from this program's path. */
static inline const char *examples_dir(void)
{
	static char dir[PATH_MAX];
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n < 0)
		return "build/examples";
	self[n] = 0;
	slash = strrchr(self, '/');
	if (slash)
		*slash = 0;
	snprintf(dir, sizeof(dir), "%s/../examples", self);
	return dir;
}

static inline int is_mounted(const char *mnt)
{
	char line[4096], want[PATH_MAX + 8];
	FILE *f = fopen("/proc/mounts", "r");
	int found = 0;

	if (!f)
		return 0;
	snprintf(want, sizeof(want), " %s fuse", mnt);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, want) != NULL;
	fclose(f);
	return found;
}

/*
 * Runs EXAMPLE (a file in build/examples) in the foreground on MNT with the
 * extra arguments ARGV (NULL-terminated); returns its pid once mounted, or -1.
 */
static inline pid_t start_daemon(const char *example, const char *mnt,
				 const char *const *argv)
{
	char path[PATH_MAX];
	const char *args[32];
	int n = 0, i;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", examples_dir(), example);
	args[n++] = path;
	args[n++] = "-f";
	for (i = 0; argv && argv[i] && n < 29; i++)
		args[n++] = argv[i];
	args[n++] = mnt;
	args[n] = NULL;
	pid = fork();
	if (pid == 0) {
		execv(path, (char *const *)args);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	for (i = 0; i < 200; i++) {
		int st;

		if (is_mounted(mnt))
			return pid;
		if (waitpid(pid, &st, WNOHANG) == pid)
			return -1;
		usleep(50000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* Unmounts MNT and reaps the daemon; returns its exit status. */
static inline int stop_daemon(pid_t pid, const char *mnt)
{
	int st = 0, i;

	for (i = 0; i < 100 && umount(mnt) != 0; i++)
		usleep(50000);
	if (is_mounted(mnt))
		umount2(mnt, MNT_DETACH);
	for (i = 0; i < 100; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return st;
		usleep(50000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return st;
}

#endif
