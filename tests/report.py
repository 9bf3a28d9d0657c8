#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Side-by-side report of one test run on the C fuse and one on rust_fuse.

    report.py C_OUTPUT C_STATUS RUST_OUTPUT RUST_STATUS [LINT [SELFTEST_TAP]]

C_OUTPUT and RUST_OUTPUT are what tests/run-in-vm printed in each VM;
C_STATUS and RUST_STATUS are tools/testvm's exit statuses (0: clean kernel
log and unload). LINT is the outcome of `make lint` (ok or FAIL) and
SELFTEST_TAP the TAP output of tests/testvm-selftest; their rows are shown on
both sides. Prints one row per subtest with the outcome on each module, then
"N passed, N failed". A row passes only when it is "ok" on both: a test
that fails, is skipped or is missing on either side counts as failed. The
one exception is a row listed in tests/same_on_both.txt (tests of libfuse's
suites that cannot pass on this kernel with either module) whose outcome is
the same non-ok outcome on both sides: it is shown with its reason and
counted neither as passed nor as failed. Exits 0 when no row failed.
"""

import os
import re
import sys

TAP_LINE = re.compile(r"^(not )?ok \d+ (.*?)(\s+#\s*(SKIP|skip).*)?$")


def read_lines(path):
    """The lines of `path`, none if it is missing."""
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return []


def tap_result(line):
    """(subtest, outcome) of a TAP result line, or None for any other line."""
    m = TAP_LINE.match(line)
    if not m:
        return None
    return m.group(2), "skip" if m.group(3) else ("FAIL" if m.group(1) else "ok")


def parse(path):
    """Returns {row: outcome} in order of appearance."""
    rows = {}
    test = None
    failed_subtests = False
    for line in read_lines(path):
        if line.startswith("### begin "):
            test = line.split(maxsplit=2)[2]
            failed_subtests = False
            continue
        if line.startswith("### end "):
            _, _, name, status = line.split()
            if status != "0" and not failed_subtests:
                rows[f"{name}: exit status"] = f"exit {status}"
            test = None
            continue
        if line.startswith("### leftover-mount "):
            rows[f"{line.split()[2]}: left a mount behind"] = "FAIL"
            continue
        result = tap_result(line)
        if test and result:
            subtest, outcome = result
            if outcome != "ok":
                failed_subtests = True
            rows[f"{test}: {subtest}"] = outcome
    return rows


def parse_flat(path, test):
    """Parses one test's plain TAP output (no markers) as `test`."""
    rows = {}
    for line in read_lines(path):
        result = tap_result(line)
        if result:
            rows[f"{test}: {result[0]}"] = result[1]
    if not rows:
        rows[f"{test}: ran"] = "FAIL"
    return rows


def read_same_on_both():
    """[(pattern, reason)] from tests/same_on_both.txt."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "same_on_both.txt")
    entries = []
    for line in read_lines(path):
        if line and not line.startswith("#"):
            pattern, _, reason = line.partition("\t")
            entries.append((pattern, reason.strip()))
    return entries


def same_on_both_reason(entries, name, c_outcome, rust_outcome):
    """The listed reason when `name` has the same non-ok outcome on both."""
    if c_outcome != rust_outcome or c_outcome in ("ok", "missing"):
        return None
    for pattern, reason in entries:
        if re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), name):
            return reason
    return None


def vm_outcome(status):
    return {"0": "ok", "1": "FAIL", "124": "timeout"}.get(status, f"exit {status}")


def main():
    c_out, c_status, r_out, r_status = sys.argv[1:5]
    c, r = parse(c_out), parse(r_out)
    if len(sys.argv) > 5:
        c["build: rustfmt and clippy clean (make lint)"] = sys.argv[5]
        r["build: rustfmt and clippy clean (make lint)"] = sys.argv[5]
    c["testvm: clean kernel log, module unloaded"] = vm_outcome(c_status)
    r["testvm: clean kernel log, module unloaded"] = vm_outcome(r_status)
    if len(sys.argv) > 6:
        selftest = parse_flat(sys.argv[6], "testvm-selftest")
        c.update(selftest)
        r.update(selftest)
    if len(sys.argv) > 7:
        c["bench: smoke run of tools/bench, table produced and parsed"] = sys.argv[7]
        r["bench: smoke run of tools/bench, table produced and parsed"] = sys.argv[7]
    names = list(dict.fromkeys(list(c) + list(r)))
    width = max([len(n) for n in names] + [4])
    print(f"{'test':<{width}}  {'C fuse':<9} {'rust_fuse':<9}")
    print(f"{'-' * width}  {'-' * 9} {'-' * 9}")
    known = read_same_on_both()
    passed = failed = same = 0
    for n in names:
        co, ro = c.get(n, "missing"), r.get(n, "missing")
        ok = co == "ok" and ro == "ok"
        reason = None if ok else same_on_both_reason(known, n, co, ro)
        if reason:
            same += 1
            mark = f"   <- same on both, not counted: {reason}"
        else:
            passed += ok
            failed += not ok
            mark = "" if ok else ("   <- differs" if co != ro else "   <- fails on both")
        print(f"{n:<{width}}  {co:<9} {ro:<9}{mark}")
    if same:
        print(f"{same} not counted: the same non-ok outcome on both modules, for the reason shown")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
