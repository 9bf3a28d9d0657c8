# shellcheck shell=bash
# TAP helpers for shell tests (KTAP/kselftest style), sourced by tests/*.sh.
#
#   tap_plan N         print the header and the plan
#   tap_ok NAME        a passed subtest
#   tap_fail NAME MSG  a failed subtest (MSG as a diagnostic)
#   tap_skip NAME WHY  a subtest that did not run: "skip" in the report,
#                      never a pass (it counts as failed in the totals)
#   tap_check NAME CMD...   run CMD; ok if it succeeds
#   tap_done           print the totals and exit 0 if every subtest passed

TAP_N=0 TAP_PASS=0 TAP_FAIL=0

tap_plan() {
	echo "TAP version 13"
	echo "1..$1"
}

tap_ok() {
	TAP_N=$((TAP_N + 1)) TAP_PASS=$((TAP_PASS + 1))
	echo "ok $TAP_N $1"
}

tap_fail() {
	local name=$1
	shift
	TAP_N=$((TAP_N + 1)) TAP_FAIL=$((TAP_FAIL + 1))
	printf '# %s\n' "$@"
	echo "not ok $TAP_N $name"
}

tap_skip() {
	TAP_N=$((TAP_N + 1)) TAP_FAIL=$((TAP_FAIL + 1))
	echo "not ok $TAP_N $1 # SKIP $2"
}

tap_check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		tap_ok "$name"
	else
		tap_fail "$name" "command failed: $*" "$out"
	fi
}

tap_done() {
	echo "# Totals: pass:$TAP_PASS fail:$TAP_FAIL"
	[ "$TAP_FAIL" = 0 ]
}
