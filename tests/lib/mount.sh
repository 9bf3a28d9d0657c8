# shellcheck shell=bash
# Helpers for tests that mount FUSE daemons, sourced by tests/*.sh.
#
#   wait_mount DIR     wait (up to 10 s) until DIR is a FUSE mount

wait_mount() {
	local i
	for i in $(seq 1 100); do
		grep -q " $1 fuse" /proc/mounts && return 0
		sleep 0.1
	done
	return 1
}
