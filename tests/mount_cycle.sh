#!/bin/bash
# Load, mount, use, unmount and unload the FUSE module under test 50 times in
# one boot (hello_ll and passthrough_ll, alternately): every cycle works, and
# nothing leaks: kmemleak finds nothing (its scan runs here and again after
# the VM's last unload) and the slab caches that a mount touches hold no more
# objects at the end than after the first cycle.
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/mount.sh"
EX=$(cd "$(dirname "$0")/.." && pwd)/build/examples
MOD=$TESTVM_MODULE NAME=$(basename "$TESTVM_MODULE" .ko)
T=${TMPDIR:-/tmp}/mount_cycle.$$
M=$T/mnt SRC=$T/src
mkdir -p "$M" "$SRC/d"
for i in $(seq 1 50); do echo "$i" >"$SRC/d/f$i"; done


# One cycle: load, mount, use, unmount, unload.
cycle() {
	local n=$1 pid out
	insmod "$MOD" || return 1
	if [ $((n % 2)) = 0 ]; then
		"$EX/hello_ll" "$M" & pid=$!
		wait_mount "$M" || return 1
		out=$(cat "$M/hello") || return 1
		[ "$out" = "Hello World!" ] || return 1
	else
		"$EX/passthrough_ll" -o source="$SRC" "$M" & pid=$!
		wait_mount "$M" || return 1
		[ "$(ls "$M/d" | wc -l)" = 50 ] || return 1
		[ "$(cat "$M/d/f$n")" = "$n" ] || return 1
	fi
	umount "$M" || return 1
	wait $pid
	rmmod "$NAME"
}

# Objects in use in the slab caches that FUSE mounts allocate from.
slab_objects() {
	awk '$1 ~ /^(kmalloc-|dentry|inode_cache|fuse|rust_fuse|kmalloc-rcl-)/ && $1 !~ /cg/ { n += $2 } END { print n }' /proc/slabinfo
}

tap_plan 3
# The VM loaded the module: start from unloaded.
rmmod "$NAME"
failed=0 first=
for n in $(seq 1 50); do
	if ! cycle "$n" >"$T/log" 2>&1; then
		failed=$n
		break
	fi
	[ -n "$first" ] || { sync; first=$(slab_objects); }
done
if [ "$failed" = 0 ]; then tap_ok "50 load, mount, use, unmount, unload cycles"; else
	tap_fail "50 load, mount, use, unmount, unload cycles" "cycle $failed failed" "$(cat "$T/log")"
fi
sync
echo 2 >/proc/sys/vm/drop_caches
last=$(slab_objects)
# Slack for per-CPU caches and unrelated activity: a leak of a few objects per
# cycle would show 50 times over.
echo "# slab objects: $first after one cycle, $last after 50"
if [ "$last" -le $((first + 1000)) ]; then tap_ok "slab objects after 50 cycles"; else
	tap_fail "slab objects after 50 cycles" "more than 1000 objects more than after one cycle"
fi
echo scan >/sys/kernel/debug/kmemleak 2>/dev/null
sleep 6
echo scan >/sys/kernel/debug/kmemleak 2>/dev/null
leaks=$(grep -c '^unreferenced object' /sys/kernel/debug/kmemleak 2>/dev/null)
if [ "${leaks:-0}" = 0 ]; then tap_ok "kmemleak: no unreferenced objects"; else
	tap_fail "kmemleak: no unreferenced objects" "$(head -40 /sys/kernel/debug/kmemleak)"
fi
# Leave the module loaded, as the VM expects to unload it.
insmod "$MOD"
rm -rf "$T"
tap_done
