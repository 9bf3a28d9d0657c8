#!/bin/bash
# libfuse's own pytest suites, unmodified: 3.14 (Debian bookworm, protocol
# 7.31) and 3.17 (Debian trixie, protocol 7.40), built by tools/build-libfuse.
# Every pytest test becomes a TAP row named by version and test id: "ok" if it
# passed, "not ok" if it failed or errored, "not ok ... # SKIP" if pytest
# skipped it (a skip is never a pass).
. "$(dirname "$0")/lib/tap.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=${TMPDIR:-/tmp}/libfuse_suite.$$
mkdir -p "$T"
echo "TAP version 13"
export PYTHONDONTWRITEBYTECODE=1
# In the test VM the cache is found from the kernel build (tools/testvm sets
# TESTVM_KDIR); on the host, tools/build-libfuse prints the builds.
if [ -n "${TESTVM_KDIR:-}" ]; then
	BUILDS=$(ls -d "$(dirname "$(dirname "$TESTVM_KDIR")")"/libfuse/fuse3-*/build 2>/dev/null)
else
	BUILDS=$("$ROOT/tools/build-libfuse" 2>/dev/null)
fi
[ -n "$BUILDS" ] || tap_fail "libfuse builds" "none found: run tools/build-libfuse"
for build in $BUILDS; do
	ver=$(basename "$(dirname "$build")" | sed 's/^fuse3-//; s/-[0-9]*$//')
	out=$T/pytest-$ver.txt
	# The shipped pytest.ini stops at the first failure (-x): run everything.
	# pytest's own per-test time-out keeps one stuck test from eating the run.
	(cd "$build" && TMPDIR=$T timeout -k 10 900 python3 -m pytest -p no:cacheprovider \
		-o addopts="--verbose --tb=short -r a" --timeout=120 test/ >"$out" 2>&1)
	# One row per test: a test that passed its call but errored in its
	# tear-down has two result lines; the worse one counts.
	while read -r id result; do
		id=${id#test/}
		name="libfuse $ver $id"
		case $result in
		PASSED | XFAIL) tap_ok "$name" ;;
		SKIPPED) tap_skip "$name" "skipped by pytest (reasons below)" ;;
		*) tap_fail "$name" "$(grep -F "$result $id" "$out" | head -1 | cut -c1-300)" ;;
		esac
	done < <(grep -E '^(test/)?[^ ]+[.]py::[^ ]+ (PASSED|FAILED|SKIPPED|ERROR|XFAIL|XPASS)' "$out" |
		awk '{ r = $2; if (!($1 in res) || r == "FAILED" || r == "ERROR") res[$1] = r;
		       if (!($1 in seen)) { seen[$1] = 1; order[n++] = $1 } }
		     END { for (i = 0; i < n; i++) print order[i], res[order[i]] }')
	grep -E '^=+ .* in [0-9.]+s|^SKIPPED' "$out" | sed 's/^/# /'
	# What failed, for the log: pytest's failure and error sections.
	sed -n '/^=* \(FAILURES\|ERRORS\) =*$/,/^=* short test summary/p' "$out" | cut -c1-200 | sed 's/^/# /'
done
rm -rf "$T"
echo "1..$TAP_N"
[ "$TAP_FAIL" = 0 ] && [ "$TAP_N" -gt 0 ]
