#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench_ingest.py - hmf ingest of a CSV against the pandas path, side by side
in one run (scripts/bench ingest runs it; /usr/bin/python3 with numpy and
pandas).

  bench_ingest.py --hmf HMF --dir SCRATCH [--rows N (5000000)] [--rounds N (3)]
                  [--threads LIST (2,1)] [--baseline HMF2] [--no-pandas]
                  [--csv FILE] [--sample-ms MS (5)] [--report FILE] [--verbose]

The table: id int64, station int64 (1,000 distinct values), t float64 (2
decimals, some ties within a station), a, b, c float64 (16-17 significant
digits, like repr() of random doubles) and flag int32; written by numpy
(digits built column-wise, no per-value Python), about 80 bytes a row, so
~400 MB for 5,000,000 rows. --csv FILE uses an existing file of that
layout instead.

Contenders, each run once per round in an order that rotates (and reverses
every other round):
  hmf ingest, threads=T   `HMF ingest -q ROOT req.json` on a fresh root with
        {"groupby": "station", "orderby": "t", "arrays": {"arrayA": ["a",
        "b"], "arrayB": "c"}, "threads": T} (dest /ingest), one per --threads
        entry; --baseline HMF2 adds the same with another binary (an older
        build, for before/after figures in one run)
  pandas  a child /usr/bin/python3 doing what the seed package does:
        pd.read_csv(float_precision='round_trip'), sort_values(['station',
        't'], kind='stable'), groupby('station') and one np.memmap per group
        and array (arrayA: [n, 2] float64 of a, b; arrayB: [n] of c), no
        flush (the pages stay in the page cache, as hmf's do). Timed inside
        the child from read_csv to the last memmap (its interpreter and
        pandas import, ~0.5 s, are left out); the phases are reported too.

Before every run the filesystem is synced (so nobody inherits someone
else's writeback) and the CSV read once, untimed: the page cache is hot for
every contender alike. Outputs are kept until the end (each run writes a new
directory): on an ext4 without a journal, as here, a new inode skips those
freed in the last minutes one by one, and a run that followed the removal
of the previous output was several times slower.

Measured: wall time; CPU time (user + sys, from wait4 for hmf, from
getrusage inside the child for pandas), which moves less than wall time
when other work shares the machine; peak anonymous memory, /proc/PID/status
RssAnon sampled every --sample-ms ms (private heap and anonymous mappings,
huge pages included; not the CSV's file-backed mapping nor the page cache),
the max over the samples (subtracting the file-backed part from VmHWM would
mix two different moments); and peak RSS, VmHWM sampled the same way (it
counts the mapped CSV's pages too). Reported: medians over the rounds, MB/s
of CSV (wall) and MB per CPU-second, hmf/pandas speedups, 1 -> 2 thread
scaling, this build against --baseline.

Correctness: hmf.group_names, and every group's row count, match pandas';
the bytes of arrayA and arrayB of 12 groups (first, last, 10 at random)
have the same SHA-256 in the hmf output of every run and in pandas'.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

MB = 1e6
ARRAYS = {'arrayA': ['a', 'b'], 'arrayB': 'c'}
DEST = 'ingest'
HEADER = b'id,station,t,a,b,c,flag\n'


def log(*a):
    print(*a, flush=True)


def now():
    return time.perf_counter()


def loadavg():
    with open('/proc/loadavg') as f:
        return ' '.join(f.read().split()[:3])


# ---- the table --------------------------------------------------------------

def ndigits(v):
    """Decimal digits of each value of the uint64 array @v (0 has one)."""
    n = np.ones(v.shape, dtype=np.int64)
    p = np.uint64(10)
    for _ in range(19):
        m = v >= p
        if not m.any():
            break
        n += m
        p = p * np.uint64(10) if p < np.uint64(10**19) else p
    return n


def put_digits(out, end, v, nd):
    """Write @v in decimal right-aligned so that its last digit is at
    out[end - 1]; @nd digits each (leading zeros when nd is larger)."""
    v = v.astype(np.uint64, copy=True)
    k = 0
    idx = end - 1
    while True:
        live = nd > k
        if not live.any():
            break
        if not live.all():
            v, idx, nd = v[live], idx[live], nd[live]
        out[idx] = (v % np.uint64(10)).astype(np.uint8) + 48
        v //= np.uint64(10)
        idx = idx - 1
        k += 1


def make_fields(rng, lo, hi):
    """The text fields of rows lo..hi-1: a list of (kind, values...)."""
    n = hi - lo
    station = rng.integers(0, 1000, n).astype(np.uint64)
    t_cent = rng.integers(0, 8_640_000, n).astype(np.uint64)  # 0.01 s
    fields = [
        ('u', np.arange(lo, hi, dtype=np.uint64)),       # id
        ('u', station),                                  # station
        ('f', np.zeros(n, bool), t_cent // 100, t_cent % 100, 2),  # t
    ]
    # a: |x| < 1000, 13 decimals; b: < 10, 15; c: < 100, 14 decimals
    for int_hi, k in ((1000, 13), (10, 15), (100, 14)):
        neg = rng.random(n) < 0.5
        ip = rng.integers(0, int_hi, n).astype(np.uint64)
        fp = rng.integers(0, 10**k, n, dtype=np.int64).astype(np.uint64)
        fields.append(('f', neg, ip, fp, k))
    fields.append(('u', rng.integers(0, 2, n).astype(np.uint64)))  # flag
    return fields


def render(fields):
    """The CSV bytes of a block of rows."""
    lens = []
    for f in fields:
        if f[0] == 'u':
            lens.append(ndigits(f[1]))
        else:
            _, neg, ip, _, k = f
            lens.append(neg.astype(np.int64) + ndigits(ip) + 1 + k)
    rowlen = sum(lens) + len(fields)  # the commas and the LF
    start = np.zeros(len(rowlen), dtype=np.int64)
    np.cumsum(rowlen[:-1], out=start[1:])
    out = np.empty(int(rowlen.sum()), dtype=np.uint8)
    pos = start.copy()
    for i, f in enumerate(fields):
        end = pos + lens[i]
        if f[0] == 'u':
            put_digits(out, end, f[1], lens[i])
        else:
            _, neg, ip, fp, k = f
            put_digits(out, end, fp, np.full(len(fp), k))
            out[end - k - 1] = ord('.')
            ipd = ndigits(ip)
            put_digits(out, end - k - 1, ip, ipd)
            out[(end - k - 1 - ipd)[neg] - 1] = ord('-')
        out[end] = ord(',') if i + 1 < len(fields) else ord('\n')
        pos = end + 1
    return out


def make_csv(path, rows, seed=20240917):
    rng = np.random.default_rng(seed)
    block = 500_000
    with open(path, 'wb') as f:
        f.write(HEADER)
        for lo in range(0, rows, block):
            render(make_fields(rng, lo, min(rows, lo + block))).tofile(f)


# ---- the pandas path (run in a child process) -------------------------------

def pandas_child(csv, out):
    """What the seed package does; prints its phase times as JSON."""
    import resource

    def cpu():
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return ru.ru_utime + ru.ru_stime

    t0 = now()
    import pandas as pd
    t1 = now()
    c1 = cpu()
    df = pd.read_csv(csv, float_precision='round_trip',
                     dtype={'flag': np.int32})
    t2 = now()
    df = df.sort_values(['station', 't'], kind='stable')
    t3 = now()
    names = []
    sizes = []
    os.makedirs(out)
    for key, part in df.groupby('station', sort=True):
        g = os.path.join(out, str(key))
        os.mkdir(g)
        names.append(str(key))
        sizes.append(len(part))
        for name, cols in ARRAYS.items():
            vals = part[cols].values
            m = np.memmap(os.path.join(g, name), dtype=vals.dtype,
                          mode='w+', shape=vals.shape)
            m[:] = vals
            del m  # munmap; no flush, as hmf does not fsync either
    t4 = now()
    with open(os.path.join(out, 'groups.json'), 'w') as f:
        json.dump({'names': names, 'sizes': sizes}, f)
    print(json.dumps({'import': t1 - t0, 'read_csv': t2 - t1,
                      'sort': t3 - t2, 'write': t4 - t3, 'total': t4 - t1,
                      'cpu': cpu() - c1}))


# ---- running and measuring --------------------------------------------------

def status_kb(pid, keys=('RssAnon',)):
    try:
        with open('/proc/%d/status' % pid) as f:
            text = f.read()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(':')
        if k in keys:
            out[k] = int(v.split()[0])
    return out


def run_sampled(cmd, sample_s):
    """Run @cmd; returns (wall seconds, stdout, peak RssAnon kB, peak
    VmHWM kB, CPU seconds). Raises on a non-zero exit.

    VmHWM is read from /proc while the process lives: wait4's ru_maxrss
    would also count the memory of the forking Python process, which exec
    leaves in the child's signal->maxrss."""
    t0 = now()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = hwm = 0
    # the pipes are small: the children print one line each
    while True:
        pid, st, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        s = status_kb(p.pid, ('RssAnon', 'VmHWM'))
        if s:
            peak = max(peak, s.get('RssAnon', 0))
            hwm = max(hwm, s.get('VmHWM', 0))
        time.sleep(sample_s)
    wall = now() - t0
    p.returncode = os.waitstatus_to_exitcode(st)
    out = p.stdout.read().decode()
    err = p.stderr.read().decode()
    if p.returncode != 0:
        raise RuntimeError('%s: exit %d: %s' % (' '.join(cmd), p.returncode,
                                                err.strip()))
    return wall, out, peak, hwm, ru.ru_utime + ru.ru_stime


def syncfs(path):
    subprocess.run(['sync', '-f', path], check=True)


def warm(path):
    with open(path, 'rb', buffering=0) as f:
        while f.read(1 << 20):
            pass


def sha(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


class Bench:
    def __init__(self, a):
        self.a = a
        self.dir = os.path.abspath(a.dir)
        self.csv = os.path.abspath(a.csv) if a.csv else os.path.join(
            self.dir, 'table.csv')
        self.res = {}  # contender -> list of dicts
        self.ref = None  # pandas' output of the first round (or hmf's)
        self.ref_who = None
        self.out = []
        self.checked = 0
        self.nrun = 0
        self.outputs = []

    def emit(self, line=''):
        self.out.append(line)
        log(line)

    def prepare(self, kind):
        """A new output directory; the filesystem synced, the CSV hot."""
        self.nrun += 1
        out = os.path.join(self.dir, 'out-%02d-%s' % (self.nrun, kind))
        self.outputs.append(out)
        syncfs(self.dir)
        warm(self.csv)
        return out

    def run_hmf(self, binary, threads, tag):
        root = self.prepare(tag)
        subprocess.run([binary, 'init', root], check=True,
                       stdout=subprocess.DEVNULL)
        req = os.path.join(self.dir, 'req-%s.json' % tag)
        with open(req, 'w') as f:
            json.dump({'source': self.csv, 'format': 'csv', 'dest': '/' + DEST,
                       'arrays': ARRAYS, 'groupby': 'station',
                       'orderby': 't', 'threads': threads}, f)
        wall, out, anon, maxrss, cpu = run_sampled(
            [binary, 'ingest', '-q', root, req], self.a.sample_ms / 1e3)
        r = {'wall': wall, 'anon': anon, 'maxrss': maxrss, 'cpu': cpu,
             'line': out.strip()}
        self.verify(os.path.join(root, DEST), 'hmf', tag)
        return r

    def run_pandas(self):
        out = self.prepare('pandas')
        wall, text, anon, maxrss, cpu = run_sampled(
            [sys.executable, os.path.abspath(__file__), '--pandas-child',
             self.csv, out], self.a.sample_ms / 1e3)
        ph = json.loads(text.strip().splitlines()[-1])
        r = {'wall': ph['total'], 'process': wall, 'anon': anon,
             'maxrss': maxrss, 'cpu': ph['cpu'], 'phases': ph}
        if self.ref is None:
            self.ref = self.digest(out, 'pandas')
            self.ref_who = 'pandas'
        else:
            self.verify(out, 'pandas', 'pandas')
        return r

    def cleanup(self):
        """The outputs go only now: on this ext4 (no journal) a new inode
        skips the ones freed in the last minutes, one by one, which made
        a run that followed a removal several times slower."""
        for d in self.outputs:
            shutil.rmtree(d, ignore_errors=True)
        self.outputs = []

    # -- checks --------------------------------------------------------------

    def groups_of(self, base, kind):
        if kind == 'pandas':
            with open(os.path.join(base, 'groups.json')) as f:
                g = json.load(f)
            return g['names'], g['sizes']
        names = json.loads(self.attr(base, 'hmf.group_names'))
        sizes = json.loads(self.attr(base, 'hmf.group_sizes'))
        return names, sizes

    @staticmethod
    def attr(base, key):
        with open(os.path.join(base, '.hmf')) as f:
            m = json.load(f)
        return m['attributes'][key]

    def data_path(self, base, kind, g, name):
        if kind == 'pandas':
            return os.path.join(base, g, name)
        return os.path.join(base, g, name, 'data')

    def digest(self, base, kind):
        names, sizes = self.groups_of(base, kind)
        rnd = random.Random(7)
        pick = sorted(set([0, len(names) - 1] +
                          rnd.sample(range(len(names)), min(10, len(names)))))
        sums = {}
        for i in pick:
            for name in ARRAYS:
                sums[(names[i], name)] = sha(
                    self.data_path(base, kind, names[i], name))
        return names, sizes, sums

    def verify(self, base, kind, tag):
        got = self.digest(base, kind)
        if self.ref is None:
            if not self.a.pandas:
                self.ref = got
                self.ref_who = tag
            return
        names, sizes, sums = got
        rnames, rsizes, rsums = self.ref
        bad = []
        if names != rnames:
            bad.append('group names differ')
        if sizes != rsizes:
            bad.append('group sizes differ')
        for k, v in rsums.items():
            if sums.get(k) != v:
                bad.append('%s/%s differs' % k)
        if bad:
            raise RuntimeError('%s output != %s output: %s' % (
                tag, self.ref_who, '; '.join(bad[:5])))
        self.checked += 1

    # -- the rounds ----------------------------------------------------------

    def contenders(self):
        c = []
        for t in self.a.threads:
            c.append(('hmf t=%d' % t, lambda t=t: self.run_hmf(
                self.a.hmf, t, 't%d' % t)))
            if self.a.baseline:
                c.append(('baseline t=%d' % t, lambda t=t: self.run_hmf(
                    self.a.baseline, t, 'b%d' % t)))
        if self.a.pandas:
            c.append(('pandas', self.run_pandas))
        return c

    def run(self):
        os.makedirs(self.dir, exist_ok=True)
        if not self.a.csv:
            log('making %s: %d rows' % (self.csv, self.a.rows))
            t0 = now()
            make_csv(self.csv, self.a.rows)
            log('  %.1f MB in %.1f s' % (os.path.getsize(self.csv) / MB,
                                         now() - t0))
        self.size = os.path.getsize(self.csv)
        cont = self.contenders()
        if self.a.pandas:  # pandas first: its output is the reference
            cont = cont[-1:] + cont[:-1]
        k = len(cont)
        for r in range(self.a.rounds):
            order = [cont[(i + r) % k] for i in range(k)]
            if r % 2:
                order.reverse()
            for who, fn in order:
                res = fn()
                self.res.setdefault(who, []).append(res)
                if self.a.verbose:
                    log('  round %d %-14s %7.2f s  %6.1f MB/s  CPU %5.2f s'
                        '  RssAnon %5.0f MiB  VmHWM %5.0f MiB' % (
                            r + 1, who, res['wall'],
                            self.size / MB / res['wall'], res['cpu'],
                            res['anon'] / 1024, res['maxrss'] / 1024))

    def med(self, who, key='wall'):
        return statistics.median(x[key] for x in self.res[who])

    def report(self):
        mb = self.size / MB
        self.emit()
        self.emit('## Ingest: %d rows, %.0f MB of CSV (station: %s groups; '
                  'groupby station, orderby t, arrayA [a, b], arrayB c); '
                  'medians of %d rounds' % (
                      sum(self.ref[1]) if self.ref else self.a.rows, mb,
                      len(self.ref[0]) if self.ref else '?', self.a.rounds))
        self.emit('| contender | wall (median) | min-max | MB/s of CSV | '
                  'CPU (user+sys) | MB per CPU-s | peak RssAnon | x CSV | '
                  'peak RSS (VmHWM) |')
        self.emit('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
        for who in self.res:
            xs = [x['wall'] for x in self.res[who]]
            cpu = self.med(who, 'cpu')
            anon = max(x['anon'] for x in self.res[who]) / 1024
            rss = max(x['maxrss'] for x in self.res[who]) / 1024
            self.emit('| %s | %.2f s | %.2f-%.2f | %.0f | %.2f s | %.0f | '
                      '%.0f MiB | %.2f | %.0f MiB |' % (
                          who, self.med(who), min(xs), max(xs),
                          mb / self.med(who), cpu, mb / cpu, anon,
                          anon * 1.048576 / mb, rss))
        self.emit()
        if 'pandas' in self.res:
            ph = {k: statistics.median(x['phases'][k]
                                       for x in self.res['pandas'])
                  for k in ('read_csv', 'sort', 'write', 'import')}
            self.emit('pandas phases (medians): read_csv %.2f s, sort %.2f s,'
                      ' groupby + memmaps %.2f s (import, not counted: '
                      '%.2f s)' % (ph['read_csv'], ph['sort'], ph['write'],
                                   ph['import']))
            for who in self.res:
                if who != 'pandas':
                    self.emit('speedup %s / pandas: %.1fx wall, %.1fx CPU' % (
                        who, self.med('pandas') / self.med(who),
                        self.med('pandas', 'cpu') / self.med(who, 'cpu')))
        for pre in ('hmf', 'baseline'):
            t1, t2 = '%s t=1' % pre, '%s t=2' % pre
            if t1 in self.res and t2 in self.res:
                self.emit('%s: 1 -> 2 threads: %.2fx' % (
                    pre, self.med(t1) / self.med(t2)))
        for t in self.a.threads:
            h, b = 'hmf t=%d' % t, 'baseline t=%d' % t
            if h in self.res and b in self.res:
                self.emit('threads=%d: this build vs baseline: %.2fx faster '
                          '(wall), %.2fx less CPU' % (
                              t, self.med(b) / self.med(h),
                              self.med(b, 'cpu') / self.med(h, 'cpu')))
        self.emit('outputs checked against %s: %d runs agree (group names, '
                  'sizes, SHA-256 of 12 groups x 2 arrays)' % (
                      self.ref_who, self.checked))
        self.emit('load at the end: %s' % loadavg())


def main():
    if len(sys.argv) == 4 and sys.argv[1] == '--pandas-child':
        pandas_child(sys.argv[2], sys.argv[3])
        return 0
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--hmf', required=True, help='the hmf binary')
    p.add_argument('--dir', required=True, help='scratch directory')
    p.add_argument('--rows', type=int, default=5_000_000)
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--threads', default='2,1')
    p.add_argument('--baseline', help='another hmf binary, run alongside')
    p.add_argument('--no-pandas', dest='pandas', action='store_false')
    p.add_argument('--csv', help='use this CSV (same columns) instead')
    p.add_argument('--sample-ms', type=float, default=5)
    p.add_argument('--report', help='also write the tables to this file')
    p.add_argument('--verbose', action='store_true')
    a = p.parse_args()
    a.threads = [int(x) for x in a.threads.split(',') if x]
    if a.rows < 1000 or a.rounds < 1 or not a.threads:
        p.error('--rows >= 1000, --rounds >= 1, --threads non-empty')
    b = Bench(a)
    log('machine: %d CPUs; %s; load %s' % (
        os.cpu_count(), subprocess.run([a.hmf, '--version'],
                                       stdout=subprocess.PIPE,
                                       text=True).stdout.strip(), loadavg()))
    rc = 0
    try:
        b.run()
    except Exception as e:
        log('bench_ingest: %s' % e)
        rc = 1
    finally:
        b.cleanup()
    if b.res:
        b.report()
    if a.report:
        with open(a.report, 'w') as f:
            f.write('\n'.join(b.out) + '\n')
    return rc


if __name__ == '__main__':
    sys.exit(main())
