#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""tools/insn/report.py: the instruction profile of tools/insn-profile.

  report.py [--ops N] [--top N] [--callers SYM,...] C.log C.counts RUST.log RUST.counts

Each .log holds the guest's text symbols after a "### kallsyms" line; each
.counts the plugin's snapshots (COUNTS.0 .. COUNTS.N: the last minus the first
is the measured phase). Prints, per operation (divided by --ops): the total
instructions of each module, then the symbols whose counts differ most, with
their calls, and the callers of the --callers symbols.
"""
import argparse, bisect, glob, re

def snapshots(prefix):
    files = sorted(glob.glob(prefix + '.*'), key=lambda f: int(f.rsplit('.', 1)[1]))
    if not files:
        return [prefix]
    return [files[0], files[-1]] if len(files) > 1 else files

def read_counts(path):
    tb, edges = {}, {}
    for line in open(path):
        p = line.split()
        if p[0] == 'E':
            edges[(int(p[1], 16), int(p[2], 16))] = int(p[3])
        else:
            tb[int(p[0], 16)] = (int(p[1]), int(p[2]))
    return tb, edges

def phase(prefix):
    files = snapshots(prefix)
    tb, edges = read_counts(files[-1])
    if len(files) == 2:
        tb0, edges0 = read_counts(files[0])
        tb = {k: (v[0] - tb0.get(k, (0, 0))[0], v[1] - tb0.get(k, (0, 0))[1]) for k, v in tb.items()}
        edges = {k: v - edges0.get(k, 0) for k, v in edges.items()}
    return tb, edges

def clean(name):
    return re.sub(r'_R[A-Za-z0-9_]*?rust_fuse_main', '', name)

def load(log, prefix):
    syms, on = [], False
    for line in open(log, errors='replace'):
        if line.startswith('### kallsyms'):
            on = True
        elif on:
            p = line.split()
            if len(p) >= 3 and re.fullmatch(r'[0-9a-f]{16}', p[0]):
                syms.append((int(p[0], 16), clean(p[2]) + (' ' + p[3] if len(p) > 3 else '')))
    syms.sort()
    addrs = [a for a, _ in syms]

    def name_of(pc):
        if pc == 1:
            return '[user]'
        i = bisect.bisect_right(addrs, pc) - 1
        return syms[i][1] if i >= 0 else '?'

    tb, edges = phase(prefix)
    insns, calls, callers = {}, {}, {}
    for pc, (n, x) in tb.items():
        name = name_of(pc)
        insns[name] = insns.get(name, 0) + n
        i = bisect.bisect_right(addrs, pc) - 1
        if i >= 0 and syms[i][0] == pc:
            calls[name] = x
    for (site, target), n in edges.items():
        key = (name_of(target).split()[0], name_of(site))
        callers[key] = callers.get(key, 0) + n
    return insns, calls, callers

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ops', type=float, default=1)
    ap.add_argument('--top', type=int, default=50)
    ap.add_argument('--callers', default='')
    ap.add_argument('files', nargs=4)
    a = ap.parse_args()
    c, cc, ce = load(a.files[0], a.files[1])
    r, rc, re_ = load(a.files[2], a.files[3])
    d = a.ops
    ct, rt = sum(c.values()), sum(r.values())
    print(f'instructions per op: C {ct/d:.0f}, rust_fuse {rt/d:.0f} ({rt/ct:.3f} of C)')
    mod = lambda t, m: sum(v for k, v in t.items() if k.endswith(m))
    print(f'in the module: C [fuse] {mod(c, "[fuse]")/d:.0f}, rust_fuse [rust_fuse] {mod(r, "[rust_fuse]")/d:.0f}')
    print(f'{"C":>10} {"rust":>10} {"diff":>10} {"C calls":>8} {"r calls":>8}  symbol')
    for k in sorted(set(c) | set(r), key=lambda k: -abs(r.get(k, 0) - c.get(k, 0)))[:a.top]:
        print(f'{c.get(k, 0)/d:10.0f} {r.get(k, 0)/d:10.0f} {(r.get(k, 0) - c.get(k, 0))/d:+10.0f} '
              f'{cc.get(k, 0)/d:8.2f} {rc.get(k, 0)/d:8.2f}  {k[:100]}')
    for tgt in filter(None, a.callers.split(',')):
        for label, e in (('C', ce), ('rust_fuse', re_)):
            rows = sorted(((n, s) for (t, s), n in e.items() if t == tgt), reverse=True)
            print(f'--- callers of {tgt} with {label}, calls per op')
            for n, site in rows[:25]:
                if n / d >= 0.05:
                    print(f'{n/d:8.2f}  {site[:100]}')

main()
