#!/bin/bash
# Buffered writes without the writeback cache go through the page cache, as
# on the C module: what was written is mapped back from the cache, without a
# READ to the daemon (memfs counts its requests), and the daemon stores it
# (read back with O_DIRECT, which bypasses the cache): whole pages, a page
# written in part, an unaligned overwrite of a cached page, a write of
# several pages in one call.
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/mount.sh"
MEMFS=$(cd "$(dirname "$0")/.." && pwd)/build/bench/memfs
T=${TMPDIR:-/tmp}/write_cache.$$
M=$T/mnt
mkdir -p "$M"
tap_plan 2

# Runs the python script on stdin against a fresh memfs mount; the daemon's
# request counts are in $T/stats afterwards.
run() {
	MEMFS_STATS=1 "$MEMFS" -t 2 "$M" 2>"$T/stats" &
	local pid=$! out rc
	wait_mount "$M" || { echo "no mount"; return 1; }
	out=$(python3 - "$M/f" 2>&1)
	rc=$?
	umount "$M"
	wait "$pid"
	echo "$out"
	return $rc
}

if out=$(run <<'PY'
import ctypes, os, sys
path = sys.argv[1]
data = bytes((i * 7 + i // 4096) & 0xff for i in range(64 << 10))
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
assert os.write(fd, data) == len(data)
assert os.pwrite(fd, b"\x11" * 50, 8192 + 100) == 50
want = bytearray(data)
want[8292:8342] = b"\x11" * 50
# A mapping, not read(2), nor Python's mmap (which calls fstat): those
# revalidate the attributes first, and the daemon's new mtime
# (FUSE_AUTO_INVAL_DATA) drops the cache on both modules; a page fault
# takes the cached pages as they are.
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
addr = libc.mmap(None, len(want), 1, 1, fd, 0)  # PROT_READ, MAP_SHARED
assert addr not in (None, ctypes.c_void_p(-1).value), ctypes.get_errno()
assert ctypes.string_at(addr, len(want)) == bytes(want), "read back"
os.close(fd)
PY
) && ! grep -q ' 15:' "$T/stats"; then
	tap_ok "written data is read back from the page cache"
else
	tap_fail "written data is read back from the page cache" "$out" "$(cat "$T/stats")"
fi

if out=$(run <<'PY'
import mmap, os, sys
path = sys.argv[1]
data = bytes((i * 13 + i // 4096) & 0xff for i in range((256 << 10) + 100))
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
assert os.write(fd, data) == len(data)
# In part into a page that is not cached, and across a page boundary.
assert os.pwrite(fd, b"\x22" * 5000, (300 << 10) + 10) == 5000
want = data + bytes((300 << 10) + 10 - len(data)) + b"\x22" * 5000
assert os.pread(fd, len(want), 0) == want, "cached read"
os.close(fd)
fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 512 << 10)
n = os.preadv(fd, [buf], 0)
assert n == len(want), n
assert buf[:n] == want, "the daemon's data"
os.close(fd)
PY
); then
	tap_ok "the daemon stores what went through the page cache"
else
	tap_fail "the daemon stores what went through the page cache" "$out"
fi
rm -rf "$T"
tap_done
