#!/bin/bash
# O_DIRECT reads through memfs (tests/bench/memfs.c), whose replies go
# straight into the pages behind the reader's buffer: unaligned buffers and
# offsets, several iovecs, a buffer longer than one READ (max_pages), a
# short read at the end of the file, and a read into a buffer whose tail is
# not mapped (the bytes before it arrive, then EFAULT or a short count, as
# on the C module).
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/mount.sh"
MEMFS=$(cd "$(dirname "$0")/.." && pwd)/build/bench/memfs
T=${TMPDIR:-/tmp}/direct_io.$$
M=$T/mnt
mkdir -p "$M"
tap_plan 1
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
umount "$M"
wait "$pid"
rm -rf "$T"
tap_done
