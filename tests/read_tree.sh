#!/bin/bash
# Read-only use of unmodified libfuse daemons (hello, hello_ll, passthrough,
# passthrough_ll, passthrough_fh, and passthrough_ll multithreaded with
# -o clone_fd): every path, type, size, mode, link target and checksum of a
# prepared tree (thousands of files, nested directories, symlinks, a 64 MiB
# file, names with spaces, 255 bytes or non-UTF-8 bytes) equals the source;
# statfs matches; concurrent readers of one file get the same data.
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/mount.sh"
EX=$(cd "$(dirname "$0")/.." && pwd)/build/examples
T=${TMPDIR:-/tmp}/read_tree.$$
SRC=$T/src M=$T/mnt
mkdir -p "$SRC" "$M"

make_tree() {
	local d i
	for d in a a/b a/b/c a/b/c/d a/b/c/d/e a/b/c/d/e/f g h; do mkdir -p "$SRC/$d"; done
	for d in a a/b/c g h; do
		for i in $(seq 1 500); do echo "$d file $i" >"$SRC/$d/f$i"; done
	done
	echo deep >"$SRC/a/b/c/d/e/f/deep"
	dd if=/dev/urandom of="$SRC/big" bs=1M count=64 status=none
	head -c 100000 /dev/urandom >"$SRC/g/medium"
	ln -s a/f1 "$SRC/rel-link"
	ln -s "$SRC/a/b" "$SRC/abs-link"
	ln -s does-not-exist "$SRC/dangling"
	echo space >"$SRC/with space"
	echo long >"$SRC/$(printf 'L%.0s' $(seq 1 255))"
	echo bytes >"$SRC/$(printf 'non-utf8-\xff\xfe')"
	chmod 0750 "$SRC/h"
	chmod 0604 "$SRC/a/f2"
	: >"$SRC/empty"
}

# One line per entry: path, type, size (files only), mode, link target.
listing() {
	(cd "$1" && find . -printf '%p|%y|%m|%l\n' | LC_ALL=C sort)
	(cd "$1" && find . -type f -printf '%p|%s\n' | LC_ALL=C sort)
}

checksums() {
	(cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
}

statfs_of() { stat -f -c '%b %f %a %c %d %S %l' "$1"; }


# check_tree NAME VIEW: VIEW (the source seen through the mount) equals SRC.
check_tree() {
	local name=$1 view=$2
	if diff <(listing "$SRC") <(listing "$view") >"$T/diff" 2>&1; then
		tap_ok "$name: paths, types, sizes, modes and link targets"
	else
		tap_fail "$name: paths, types, sizes, modes and link targets" "$(head -20 "$T/diff")"
	fi
	if diff <(checksums "$SRC") <(checksums "$view") >"$T/diff" 2>&1; then
		tap_ok "$name: checksums"
	else
		tap_fail "$name: checksums" "$(head -20 "$T/diff")"
	fi
	if [ "$(statfs_of "$SRC")" = "$(statfs_of "$view")" ]; then
		tap_ok "$name: statfs"
	else
		tap_fail "$name: statfs" "$(statfs_of "$SRC") vs $(statfs_of "$view")"
	fi
	local a b
	sha256sum "$view/big" >"$T/r1" &
	sha256sum "$view/big" >"$T/r2"
	wait
	a=$(cut -d' ' -f1 "$T/r1") b=$(cut -d' ' -f1 "$T/r2")
	if [ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" = "$(sha256sum "$SRC/big" | cut -d' ' -f1)" ]; then
		tap_ok "$name: two concurrent readers of one file"
	else
		tap_fail "$name: two concurrent readers of one file" "$a / $b"
	fi
}

# run_daemon NAME VIEW_SUFFIX CMD...: mounts with CMD, checks, unmounts.
run_daemon() {
	local name=$1 view=$M$2
	shift 2
	"$@" "$M" &
	local pid=$!
	if ! wait_mount "$M"; then
		tap_fail "$name: mount" "the daemon did not mount"
		kill $pid 2>/dev/null
		return
	fi
	check_tree "$name" "$view"
	umount "$M"
	wait $pid
}

check_hello() {
	local name=$1
	shift
	"$@" "$M" &
	local pid=$!
	wait_mount "$M"
	local out
	out=$(ls "$M"; stat -c '%n %F %s %a %h' "$M/hello"; cat "$M/hello"; \
		grep " $M " /proc/mounts | cut -d' ' -f1,3,4)
	local want="hello
$M/hello regular file 13 444 1
Hello World!
$name fuse.$name rw,nosuid,nodev,relatime,user_id=0,group_id=0"
	if [ "$out" = "$want" ]; then
		tap_ok "$name: listing, stat, content and /proc/mounts"
	else
		tap_fail "$name: listing, stat, content and /proc/mounts" "$out"
	fi
	umount "$M"
	wait $pid
}

# clone_fd: 16 readers at once, through a multithreaded daemon that clones
# /dev/fuse per thread.
check_clone_fd() {
	local name="passthrough_ll -o clone_fd, 16 concurrent readers"
	"$EX/passthrough_ll" -o source="$SRC",clone_fd "$M" &
	local pid=$!
	wait_mount "$M"
	local i bad=0 readers=()
	for i in $(seq 1 16); do
		(sha256sum "$M/big" | cut -d' ' -f1 >"$T/c$i"; cat "$M/g/f$i" >"$T/s$i") &
		readers+=($!)
	done
	wait "${readers[@]}"
	local want
	want=$(sha256sum "$SRC/big" | cut -d' ' -f1)
	for i in $(seq 1 16); do
		[ "$(cat "$T/c$i")" = "$want" ] || bad=$((bad + 1))
		cmp -s "$T/s$i" "$SRC/g/f$i" || bad=$((bad + 1))
	done
	if [ $bad = 0 ]; then tap_ok "$name"; else tap_fail "$name" "$bad wrong results"; fi
	umount "$M"
	wait $pid
}

tap_plan 19
# passthrough_ll keeps a descriptor per inode it knows.
ulimit -n 65536
make_tree
check_hello hello "$EX/hello"
check_hello hello_ll "$EX/hello_ll"
run_daemon passthrough "$SRC" "$EX/passthrough"
run_daemon passthrough_ll "" "$EX/passthrough_ll" -o source="$SRC"
run_daemon passthrough_fh "$SRC" "$EX/passthrough_fh"
run_daemon "passthrough_ll (single-threaded)" "" "$EX/passthrough_ll" -s -o source="$SRC"
check_clone_fd
rm -rf "$T"
tap_done
