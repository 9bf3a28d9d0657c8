#!/bin/bash
# O_DIRECT reads and writes through memfs (tests/bench/memfs.c), whose data
# goes straight between the daemon and the pages behind the caller's buffer:
# unaligned buffers and offsets, several iovecs, a buffer longer than one
# request (max_pages), a short read at the end of the file, and a buffer
# whose tail is not mapped (the bytes before it go, then EFAULT or a short
# count, as on the C module).
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/mount.sh"
MEMFS=$(cd "$(dirname "$0")/.." && pwd)/build/bench/memfs
T=${TMPDIR:-/tmp}/direct_io.$$
M=$T/mnt
mkdir -p "$M"
tap_plan 2
"$MEMFS" -t 2 "$M" &
pid=$!
wait_mount "$M" || { tap_fail "memfs mounts" "no mount"; tap_done; }
if out=$(python3 - "$M/f" 2>&1 <<'PY'
import mmap, os, sys
path = sys.argv[1]
data = bytes((i * 7 + i // 4096) & 0xff for i in range(3 << 20))
with open(path, "wb") as f:
    f.write(data)
fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
# Unaligned iovecs at an unaligned offset.
bufs = [bytearray(1000), bytearray(5003), bytearray(70001)]
n = os.preadv(fd, bufs, 123)
assert n == 76004, n
assert b"".join(bufs) == data[123:123 + n], "readv data"
# Longer than one READ: 2.5 MiB in one call.
big = bytearray(5 << 19)
assert os.readv(fd, [big]) == len(big)
assert big == data[:len(big)], "big read data"
# Short at the end of the file; the rest of the buffer is left alone.
tail = bytearray(b"\xaa" * 10000)
n = os.preadv(fd, [tail], len(data) - 4000)
assert n == 4000, n
assert tail[:4000] == data[-4000:] and tail[4000:] == b"\xaa" * 6000, "short read"
# A buffer whose second page is not mapped.
m = mmap.mmap(-1, 2 * 4096)
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
assert libc.munmap(ctypes.c_void_p(addr + 4096), 4096) == 0
r = libc.pread(fd, ctypes.c_void_p(addr + 100), 8000, 0)
err = ctypes.get_errno()
assert r == 3996 or (r == -1 and err == 14), (r, err)
if r == 3996:
    assert bytes(m[100:4096]) == data[:3996], "partial data"
print("read", r, err)
os.close(fd)
PY
); then
	tap_ok "O_DIRECT reads land in the reader's buffer ($out)"
else
	tap_fail "O_DIRECT reads land in the reader's buffer" "$out"
fi
if out=$(python3 - "$M/g" 2>&1 <<'PY'
import ctypes, mmap, os, sys
path = sys.argv[1]
data = bytes((i * 13 + i // 4096) & 0xff for i in range(3 << 20))
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644)
# One write longer than a request, then unaligned iovecs at an unaligned offset.
assert os.write(fd, data) == len(data)
parts = [data[5:1005], data[1005:6008], data[6008:76009]]
patch = [bytes(b ^ 0xff for b in p) for p in parts]
assert os.pwritev(fd, patch, 5) == 76004
want = data[:5] + b"".join(patch) + data[76009:]
# A buffer whose second page is not mapped: the first page's bytes go.
m = mmap.mmap(-1, 2 * 4096)
m[:4096] = b"\x5a" * 4096
libc = ctypes.CDLL(None, use_errno=True)
addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
assert libc.munmap(ctypes.c_void_p(addr + 4096), 4096) == 0
r = libc.pwrite(fd, ctypes.c_void_p(addr + 100), 8000, 1 << 20)
err = ctypes.get_errno()
assert r == 3996 or (r == -1 and err == 14), (r, err)
if r == 3996:
    want = want[:1 << 20] + b"\x5a" * 3996 + want[(1 << 20) + 3996:]
os.close(fd)
with open(path, "rb") as f:
    got = f.read()
assert got == want, "data read back"
print("write", r, err)
PY
); then
	tap_ok "O_DIRECT writes take the writer's buffer ($out)"
else
	tap_fail "O_DIRECT writes take the writer's buffer" "$out"
fi
umount "$M"
wait "$pid"
rm -rf "$T"
tap_done
