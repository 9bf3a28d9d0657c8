#!/bin/bash
# libfuse's unmodified example daemons for the daemon-to-kernel direction and
# the file interface beyond read/write: notifications (inval_inode,
# inval_entry with and without expire-only, poll wake-ups through select) and
# restricted ioctls (the fioc example). The daemons' own output is dropped.
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/mount.sh"
EX=$(cd "$(dirname "$0")/.." && pwd)/build/examples
T=${TMPDIR:-/tmp}/notify_examples.$$
M=$T/mnt
mkdir -p "$M"

# start NAME ARGS...: run example NAME in the foreground on $M.
start() {
	local name=$1
	shift
	"$EX/$name" -f "$@" "$M" >/dev/null 2>&1 &
	PID=$!
	wait_mount "$M"
}

stop() {
	umount "$M" 2>/dev/null || umount -l "$M"
	wait "$PID" 2>/dev/null
}

tap_plan 6

# ioctl: FIOC_GET_SIZE / FIOC_SET_SIZE through the daemon.
if start ioctl; then
	a=$("$EX/ioctl_client" "$M/fioc")
	"$EX/ioctl_client" "$M/fioc" 100 >/dev/null
	b=$("$EX/ioctl_client" "$M/fioc")
	if [ "$a" = 0 ] && [ "$b" = 100 ]; then
		tap_ok "ioctl: get and set the size through FUSE_IOCTL"
	else
		tap_fail "ioctl: get and set the size through FUSE_IOCTL" "got '$a' '$b'"
	fi
	if python3 -c 'import fcntl,sys; fcntl.ioctl(open(sys.argv[1]), 0x5401)' "$M/fioc" 2>/dev/null; then
		tap_fail "ioctl: an unknown command fails" "TCGETS succeeded"
	else
		tap_ok "ioctl: an unknown command fails"
	fi
	stop
else
	tap_fail "ioctl: mount" ""
	tap_fail "ioctl: an unknown command fails" "no mount"
fi

# notify_inval_inode: the kept page cache is dropped by the daemon's notification.
if start notify_inval_inode --update-interval=1; then
	a=$(cat "$M/current_time")
	sleep 2.5
	b=$(cat "$M/current_time")
	if [ -n "$a" ] && [ "$a" != "$b" ]; then
		tap_ok "notify inval_inode: cached contents are refreshed"
	else
		tap_fail "notify inval_inode: cached contents are refreshed" "'$a' then '$b'"
	fi
	stop
else
	tap_fail "notify inval_inode: mount" ""
fi
if start notify_inval_inode --update-interval=1 --no-notify; then
	a=$(cat "$M/current_time")
	sleep 2.5
	b=$(cat "$M/current_time")
	if [ -n "$a" ] && [ "$a" = "$b" ]; then
		tap_ok "without notifications the kept cache stays"
	else
		tap_fail "without notifications the kept cache stays" "'$a' then '$b'"
	fi
	stop
else
	tap_fail "notify inval_inode --no-notify: mount" ""
fi

# notify_inval_entry: an old name is gone at once, not at the 30 s time-out.
# (Its --only-expire mode needs protocol 7.38; Debian's libfuse speaks 7.31.)
for mode in ""; do
	if start notify_inval_entry --update-interval=1 --timeout=30 $mode; then
		f=$(ls "$M" | grep Time_is | head -1)
		stat "$M/$f" >/dev/null 2>&1
		sleep 2.5
		if [ -n "$f" ] && ! stat "$M/$f" >/dev/null 2>&1; then
			tap_ok "notify inval_entry ${mode:-(invalidate)}: the old name is gone"
		else
			tap_fail "notify inval_entry ${mode:-(invalidate)}: the old name is gone" "'$f' still there"
		fi
		stop
	else
		tap_fail "notify inval_entry $mode: mount" ""
	fi
done

# poll: select() on 16 files woken by the daemon's poll notifications.
if start poll; then
	if out=$(cd "$M" && timeout 60 "$EX/poll_client" 2>&1) && [ "$(echo "$out" | wc -l)" -ge 16 ]; then
		tap_ok "poll: select wakes on the daemon's notifications"
	else
		tap_fail "poll: select wakes on the daemon's notifications" "$(echo "$out" | tail -3)"
	fi
	stop
else
	tap_fail "poll: mount" ""
fi
rm -rf "$T"
tap_done
