#!/bin/bash
# READDIRPLUS with FUSE_READDIRPLUS_AUTO, as the C module decides it: a
# listing whose entries are used as it goes (find, rm -r, a stat per entry)
# stays on READDIRPLUS after its first batch, because each inode that
# READDIRPLUS linked advises it again for its directory when its entry is
# next used (C's FUSE_I_INIT_RDPLUS); a listing of names only falls back to
# READDIR. Counted by memfs (tests/bench/memfs.c, MEMFS_STATS=1).
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/mount.sh"
MEMFS=$(cd "$(dirname "$0")/.." && pwd)/build/bench/memfs
T=${TMPDIR:-/tmp}/readdir_plus.$$
M=$T/mnt
mkdir -p "$M"
tap_plan 3

# count OPCODE: requests of OPCODE in memfs's statistics line.
count() { grep -o " $1:[0-9]*" "$T/stats" | cut -d: -f2 | grep . || echo 0; }

# walk MODE: lists M with a fresh dentry cache; MODE stat also stats each
# entry as it comes. Prints memfs's counts when it exits.
walk() {
	MEMFS_STATS=1 "$MEMFS" -t 1 "$M" 2>"$T/stats" &
	local pid=$!
	wait_mount "$M" || { tap_fail "memfs mounts" "no mount"; tap_done; }
	python3 -c 'import os, sys
for i in range(1000): os.mknod(sys.argv[1] + "/file%04d" % i)' "$M"
	sync
	echo 2 >/proc/sys/vm/drop_caches
	python3 -c 'import os, sys
n = 0
for e in os.scandir(sys.argv[1]):
    if sys.argv[2] == "stat": os.stat(e.path)
    n += 1
assert n == 1000, n' "$M" "$1"
	umount "$M"
	wait "$pid"
}

walk stat
# FUSE_READDIR 28, FUSE_READDIRPLUS 44; the listing takes several batches.
plus=$(count 44) plain=$(count 28)
if [ "$plain" = 0 ] && [ "$plus" -ge 2 ]; then
	tap_ok "a listing that stats its entries stays on READDIRPLUS ($plus batches)"
else
	tap_fail "a listing that stats its entries stays on READDIRPLUS" "READDIRPLUS $plus, READDIR $plain: $(cat "$T/stats")"
fi
lookups=$(count 1)
# The mknods looked each name up once; the stats needed none.
if [ "$lookups" -le 1000 ]; then
	tap_ok "its stats need no LOOKUP"
else
	tap_fail "its stats need no LOOKUP" "$lookups LOOKUPs: $(cat "$T/stats")"
fi
walk names
plus=$(count 44) plain=$(count 28)
if [ "$plus" = 1 ] && [ "$plain" -ge 1 ]; then
	tap_ok "a listing of names only goes on with READDIR"
else
	tap_fail "a listing of names only goes on with READDIR" "READDIRPLUS $plus, READDIR $plain: $(cat "$T/stats")"
fi
rm -rf "$T"
tap_done
