#!/bin/bash
# libfuse's example daemons, built unmodified from Debian's libfuse3-dev
# (tests/Makefile), are present and run in the VM: each prints its usage or
# usage (null and cuse exit 1 after it), and is linked against Debian's libfuse3. They are the daemons of the
# mount tests (read_tree, mount_cycle).
. "$(dirname "$0")/lib/tap.sh"
EX=$(cd "$(dirname "$0")/.." && pwd)/build/examples
DAEMONS="hello hello_ll passthrough passthrough_ll passthrough_fh null poll ioctl
	notify_inval_entry notify_inval_inode notify_store_retrieve invalidate_path cuse"

tap_plan "$(echo $DAEMONS | wc -w)"
for d in $DAEMONS; do
	tap_check "$d" sh -c "ldd '$EX/$d' | grep -q libfuse3.so.3 && out=\$('$EX/$d' --help 2>&1); echo \"\$out\" | grep -qiE 'usage|mountpoint'"
done
tap_done
