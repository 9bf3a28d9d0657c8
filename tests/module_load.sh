#!/bin/bash
# Loading and unloading the FUSE module under test (TESTVM_MODULE): what it
# registers, that it refuses to load twice or beside the other FUSE module
# (TESTVM_OTHER_MODULE) and leaves nothing behind then, and that it unloads
# and loads again cleanly.
. "$(dirname "$0")/lib/tap.sh"

MOD=$TESTVM_MODULE OTHER=$TESTVM_OTHER_MODULE
NAME=$(basename "$MOD" .ko) OTHER_NAME=$(basename "$OTHER" .ko)

# The line /proc/filesystems has for "fuse", exactly one of them.
fs_line() { grep -P '\tfuse$' /proc/filesystems; }
fs_count() { grep -cP '\tfuse$' /proc/filesystems; }

dev_ok() {
	[ "$(stat -c '%F %t:%T %a %U:%G' /dev/fuse)" = "character special file a:e5 600 root:root" ]
}

# /dev/fuse works: an unattached file answers read(2) with EPERM.
dev_works() {
	python3 -c '
import errno, os
fd = os.open("/dev/fuse", os.O_RDWR)
try:
    os.read(fd, 8192)
except OSError as e:
    assert e.errno == errno.EPERM, e
else:
    raise SystemExit("read succeeded")
'
}

registered() { [ "$(fs_count)" = 1 ] && dev_ok && dev_works; }
unregistered() { [ "$(fs_count)" = 0 ] && [ ! -e /dev/fuse ] && [ ! -e /sys/class/misc/fuse ]; }

# insmod FILE must fail with "Device or resource busy" / "File exists".
insmod_fails_with() {
	local out
	if out=$(insmod "$1" 2>&1); then
		echo "insmod $1 succeeded"
		return 1
	fi
	case "$out" in *"$2"*) return 0 ;; esac
	echo "insmod $1: $out (wanted: $2)"
	return 1
}

tap_plan 11

tap_check "proc_filesystems_line" test "$(fs_line)" = "$(printf 'nodev\tfuse')"
tap_check "dev_fuse_is_char_10_229" dev_ok
tap_check "misc_class_dev" test "$(cat /sys/class/misc/fuse/dev)" = "10:229"
tap_check "load_twice_fails_eexist" insmod_fails_with "$MOD" "File exists"
# What the kernel has registered: file systems, misc devices, sysfs, modules.
registrations() {
	cat /proc/filesystems
	ls /sys/class/misc /sys/fs
	cut -d' ' -f1 /proc/modules | sort
}

refused_leaves_nothing() {
	local before after
	before=$(registrations)
	insmod_fails_with "$OTHER" "Device or resource busy" || return 1
	after=$(registrations)
	[ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after"); return 1; }
}
tap_check "load_beside_other_fails_ebusy_leaves_nothing" refused_leaves_nothing
tap_check "still_works_after_refusal" registered

# Reverse roles: the other module first, then ours must refuse and leave nothing.
reverse() {
	rmmod "$NAME" || return 1
	unregistered || { echo "not unregistered after rmmod"; return 1; }
	insmod "$OTHER" || return 1
	local rc=0
	insmod_fails_with "$MOD" "Device or resource busy" || rc=1
	grep -qw "^$NAME" /proc/modules && { echo "$NAME loaded"; rc=1; }
	[ "$(fs_count)" = 1 ] || { echo "fuse registered $(fs_count) times"; rc=1; }
	dev_works || rc=1
	rmmod "$OTHER_NAME" || rc=1
	unregistered || { echo "not unregistered after rmmod $OTHER_NAME"; rc=1; }
	insmod "$MOD" || rc=1
	return $rc
}
tap_check "refuses_to_load_beside_other" reverse

# Someone else holds only the minor, or only the name: our load fails with
# EBUSY and leaves nothing registered (the fs type is rolled back when only the
# minor is taken).
SQUATTER=$(dirname "$0")/squatter/fuse_squatter.ko
squatted() {
	local rc=0 before after
	rmmod "$NAME" || return 1
	insmod "$SQUATTER" "$1=1" || { echo "insmod squatter $1 failed"; insmod "$MOD"; return 1; }
	before=$(registrations)
	insmod_fails_with "$MOD" "Device or resource busy" || rc=1
	after=$(registrations)
	[ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after"); rc=1; }
	rmmod fuse_squatter || rc=1
	insmod "$MOD" || rc=1
	registered || rc=1
	return $rc
}
tap_check "minor_taken_fails_ebusy_leaves_nothing" squatted take_minor
tap_check "fs_name_taken_fails_ebusy_leaves_nothing" squatted take_fs

aliases() {
	local a
	a=$(modinfo -F alias "$MOD")
	for want in devname:fuse char-major-10-229 fs-fuse; do
		grep -qx "$want" <<<"$a" || { echo "no alias $want in: $a"; return 1; }
	done
}
tap_check "module_aliases" aliases

cycles() {
	for i in $(seq 1 20); do
		rmmod "$NAME" || { echo "rmmod #$i failed"; return 1; }
		unregistered || { echo "still registered after rmmod #$i"; return 1; }
		insmod "$MOD" || { echo "insmod #$i failed"; return 1; }
		registered || { echo "not registered after insmod #$i"; return 1; }
	done
}
tap_check "unload_load_20_cycles" cycles

tap_done
