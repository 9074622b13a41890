#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench_mount.py - hmf-mount against the backing filesystem, side by side
in one run (scripts/bench mount runs it; stdlib + numpy, /usr/bin/python3).

  bench_mount.py --mount HMF_MOUNT --dir SCRATCH [--size-mb N (2048)]
                 [--rounds N (3)] [--sections read,random,mmap,npy,meta,write,memory]
                 [--md-files N (20000)] [--rand-reads N (20000)]
                 [--mem-nodes N (1000000)] [--find-nodes N (100000)]
                 [--tree DIR] [--settle SECS (3)] [--no-compare] [--verbose]

One array of --size-mb MiB (<i8, 0, 1, 2, ...) is written once by cp
through a mount; its backing file ROOT/a/data is the native contender of
the read cases, kept hot in the page cache (read once, untimed, before
every case). Each section runs its contenders once per round, in an order
that rotates (and reverses every other round), so that the noise spreads over
all of them; a contender that reads "first after mount" mounts afresh, so
the mount's own page cache starts empty. Reported: the median of the
rounds and the ratio of the medians (native time / mount time, i.e. the
mount's speed as a fraction of native), never a threshold on a time.

  read     sequential 1 MiB read()s of the whole array: through a fresh
           mount (first, then again) vs the backing file (hot, twice)
  random   --rand-reads pread()s of 4 KiB at random aligned offsets, after
           2,000 untimed ones: the backing file; a fresh mount (its cache
           empty: one request per read); the mount after one sequential
           read (its cache full)
  mmap     np.memmap(<i8).sum() of the array: fresh mount (first, again)
           vs the backing file (a new mapping each time on both sides)
  npy      np.load(mmap_mode='r').sum() of the array shown as an NPY file
           (renamed to a.npy on the mount: DESIGN's NPY view) vs a native
           .npy file of the same data (first after mount, again)
  meta     --md-files x (create an empty file, setxattr user.k, stat) in a
           new directory, then unlink them all: in the mount vs in a plain
           directory of the same filesystem; and, to show what the on-disk
           format costs by itself, the system calls libhmf makes for the
           same work done straight on the backing filesystem (no FUSE)
  write    dd bs=1M and cp of a --size-mb file into the mount vs into a
           plain directory (time to exit, i.e. including close; no fsync on
           either side; the file is removed, syncfs'ed and --settle seconds
           waited before every case), and dd conv=notrunc over the existing
           array (no page allocated: the cost of the FUSE path alone)
  memory   a root of --mem-nodes nodes made directly on disk (the format of
           DESIGN section 2; --tree DIR keeps it for later runs): the time
           from starting hmf-mount -f to the mountpoint answering and to the
           first ls; the daemon's VmRSS/VmHWM after find over a subtree of
           --find-nodes nodes and after drop_caches (2) let the kernel
           forget its inodes (needs root; reported when it fails)

The option comparison (off with --no-compare) runs extra contenders:
-o read=splice and -o exclusive for reads, -o cached_writes for writes,
-o exclusive for metadata and client mmap. Every mount is unmounted and
every daemon stopped on exit (also on SIGINT/SIGTERM); the daemons' pids
are listed in SCRATCH/daemon.pids for the caller's own cleanup.
"""

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time

import numpy as np

MiB = 1 << 20
PAGE = 4096
CHUNK = 64 * MiB  # the source array is written in pieces of this size

GOALS = {  # ratio (mount speed / native speed) the issue asks for
    'read_first': 0.5,
    'read_again': 0.9,
    'write': 0.5,
    'mmap_first': 0.5,
    'mmap_again': 0.9,
    'meta': 0.1,
    'npy_again': 0.8,
}


SECTIONS = ('read', 'random', 'mmap', 'npy', 'meta', 'write', 'memory')


def log(*a):
    print(*a, flush=True)


def now():
    return time.perf_counter()


def median(xs):
    return statistics.median(xs) if xs else float('nan')


# ---- daemons --------------------------------------------------------------

class Daemon:
    """One hmf-mount -f process and its mount; stop() always cleans up."""

    live = []

    def __init__(self, b, opts=(), root=None):
        self.b = b
        self.opts = list(opts)
        self.root = root or b.root
        self.proc = None
        self.mount_secs = None

    def start(self):
        cmd = [self.b.binary, self.root, self.b.mnt, '-f']
        if self.opts:
            cmd += ['-o', ','.join(self.opts)]
        logf = open(self.b.daemon_log, 'ab')
        t0 = now()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=logf)
        logf.close()
        Daemon.live.append(self)
        with open(self.b.pids_file, 'a') as f:
            f.write('%d\n' % self.proc.pid)
        while not os.path.ismount(self.b.mnt):
            if self.proc.poll() is not None:
                raise RuntimeError('hmf-mount %s exited %d (log: %s)' % (
                    ' '.join(cmd[1:]), self.proc.returncode,
                    self.b.daemon_log))
            if now() - t0 > 30:
                raise RuntimeError('hmf-mount: no mount after 30 s')
            time.sleep(0.001)
        self.mount_secs = now() - t0
        return self

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if not self.proc:
            return
        mnt = self.b.mnt
        if os.path.ismount(mnt):
            r = subprocess.run(['fusermount3', '-u', mnt],
                               stderr=subprocess.DEVNULL)
            if r.returncode != 0:
                subprocess.run(['fusermount3', '-u', '-z', mnt],
                               stderr=subprocess.DEVNULL)
        try:
            # the daemon flushes the root (syncfs) when it ends
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if os.path.ismount(mnt):
            subprocess.run(['umount', '-l', mnt], stderr=subprocess.DEVNULL)
        if self in Daemon.live:
            Daemon.live.remove(self)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @classmethod
    def stop_all(cls):
        for d in list(cls.live):
            try:
                d.stop()
            except Exception as e:  # keep stopping the others
                log('bench_mount: stopping a daemon: %s' % e)


def proc_status(pid):
    out = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            k, _, v = line.partition(':')
            if k in ('VmRSS', 'VmHWM', 'RssAnon', 'RssFile', 'Threads'):
                out[k] = int(v.split()[0])  # kB, or a count
    out['fds'] = len(os.listdir('/proc/%d/fd' % pid))
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    out['cpu'] = (int(fields[11]) + int(fields[12])) / os.sysconf(
        'SC_CLK_TCK')
    return out


# ---- timed operations -----------------------------------------------------

def seq_read(path, expect):
    """Read @path with 1 MiB read()s; seconds, open to close."""
    buf = bytearray(MiB)
    mv = memoryview(buf)
    n = 0
    t0 = now()
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        while True:
            k = os.readv(fd, [mv])
            if k == 0:
                break
            n += k
    finally:
        os.close(fd)
    t = now() - t0
    if n != expect:
        raise RuntimeError('%s: read %d bytes, expected %d' % (path, n, expect))
    return t


def rand_read(path, offsets):
    """pread() 4 KiB at each offset; seconds for the reads alone."""
    buf = bytearray(PAGE)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        t0 = now()
        for off in offsets:
            if os.preadv(fd, [buf], off) != PAGE:
                raise RuntimeError('%s: short read at %d' % (path, off))
        return now() - t0
    finally:
        os.close(fd)


def mmap_sum(path, expect, load=lambda p: np.memmap(p, dtype='<i8', mode='r')):
    """Map @path (np.memmap, or @load), sum it; seconds, mapping included."""
    t0 = now()
    a = load(path)
    s = int(a.sum())
    del a  # munmap
    t = now() - t0
    if s != expect:
        raise RuntimeError('%s: sum %d, expected %d' % (path, s, expect))
    return t


def npy_sum(path, expect):
    return mmap_sum(path, expect, lambda p: np.load(p, mmap_mode='r'))


def metadata(d, n):
    """Create + setxattr + stat n files in new directory @d, unlink them."""
    os.mkdir(d)
    paths = [os.path.join(d, 'a%06d' % i) for i in range(n)]
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC
    tc = tx = ts = 0.0
    t0 = now()
    for p in paths:
        a = now()
        os.close(os.open(p, flags, 0o644))
        b = now()
        os.setxattr(p, 'user.k', b'v')
        c = now()
        os.stat(p)
        e = now()
        tc += b - a
        tx += c - b
        ts += e - c
    t1 = now()
    for p in paths:
        os.unlink(p)
    t2 = now()
    os.rmdir(d)
    return {'total': t2 - t0, 'create': tc, 'setxattr': tx, 'stat': ts,
            'unlink': t2 - t1}


def metadata_floor(d, n):
    """The same work in the on-disk format, straight on the backing
    filesystem without FUSE: the system calls libhmf makes (strace of the
    daemon) for a new array, a new attribute, a stat and a removal."""
    meta = (b'{"hmf":1,"kind":"array","dtype":"|u1","shape":[0],'
            b'"order":"C","attributes":{}}')
    meta_k = meta[:-2] + b'"k":"v"}}'
    excl = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    seq = iter(range(1 << 62))

    def tmp_in(parent):
        return os.path.join(parent, '.hmf.tmp.%016x' % next(seq))

    def put(path, data):
        fd = os.open(path, excl, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    os.mkdir(d)
    paths = [os.path.join(d, 'a%06d' % i) for i in range(n)]
    tc = tx = ts = 0.0
    t0 = now()
    for p in paths:
        a = now()
        t = tmp_in(d)
        os.mkdir(t)
        os.close(os.open(os.path.join(t, 'data'), excl, 0o644))
        put(os.path.join(t, '.hmf'), meta)
        os.rename(t, p)
        b = now()
        t = tmp_in(p)
        put(t, meta_k)
        os.rename(t, os.path.join(p, '.hmf'))
        c = now()
        os.stat(os.path.join(p, 'data'))
        e = now()
        tc += b - a
        tx += c - b
        ts += e - c
    t1 = now()
    for p in paths:
        t = tmp_in(d)
        os.rename(p, t)
        os.unlink(os.path.join(t, 'data'))
        os.unlink(os.path.join(t, '.hmf'))
        os.rmdir(t)
    t2 = now()
    os.rmdir(d)
    return {'total': t2 - t0, 'create': tc, 'setxattr': tx, 'stat': ts,
            'unlink': t2 - t1}


def run_timed(cmd):
    t0 = now()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t = now() - t0
    if r.returncode != 0:
        raise RuntimeError('%s: %s' % (' '.join(cmd), r.stderr.decode()))
    return t


def syncfs(path):
    subprocess.run(['sync', '-f', path], check=True)


# ---- the bench ------------------------------------------------------------

class Bench:
    def __init__(self, a):
        self.a = a
        self.binary = os.path.abspath(a.mount)
        self.dir = os.path.abspath(a.dir)
        self.root = os.path.join(self.dir, 'root')
        self.mnt = os.path.join(self.dir, 'mnt')
        self.native = os.path.join(self.dir, 'native')
        self.src = os.path.join(self.dir, 'src.bin')
        self.back = os.path.join(self.root, 'a', 'data')
        self.arr = os.path.join(self.mnt, 'a')
        self.daemon_log = os.path.join(self.dir, 'daemon.log')
        self.pids_file = os.path.join(self.dir, 'daemon.pids')
        self.size = a.size_mb * MiB
        self.count = self.size // 8
        self.expect = self.count * (self.count - 1) // 2
        self.res = {}  # (section, contender, metric) -> [seconds]
        self.notes = []
        self.out = []  # report lines (markdown)

    def record(self, section, who, metric, secs):
        self.res.setdefault((section, who, metric), []).append(secs)
        if self.a.verbose:
            log('  %-7s %-22s %-10s %8.3f s' % (section, who, metric, secs))

    def med(self, section, who, metric):
        return median(self.res.get((section, who, metric), []))

    def emit(self, line=''):
        self.out.append(line)
        log(line)

    def mount(self, opts=()):
        return Daemon(self, opts)

    def warm_back(self):
        seq_read(self.back, self.size)

    def rounds(self, contenders):
        """Each round runs every contender once, the order rotating and,
        every other round, reversed: no contender always follows the
        same one (whose writeback it would inherit)."""
        k = len(contenders)
        for r in range(self.a.rounds):
            if self.a.verbose:
                log(' round %d' % (r + 1))
            order = [contenders[(i + r) % k] for i in range(k)]
            if r % 2:
                order.reverse()
            for who, run in order:
                run(r)

    # -- setup ---------------------------------------------------------------

    def setup(self):
        for d in (self.root, self.mnt, self.native):
            os.makedirs(d, exist_ok=True)
        open(self.pids_file, 'w').close()
        log('making the %d MiB source array (<i8 0, 1, 2, ...)' %
            self.a.size_mb)
        with open(self.src, 'wb') as f:
            for start in range(0, self.count, CHUNK // 8):
                stop = min(self.count, start + CHUNK // 8)
                np.arange(start, stop, dtype='<i8').tofile(f)
        with Daemon(self, ['create']):
            t = run_timed(['cp', self.src, self.arr])
            os.setxattr(self.arr, 'user.hmf.dtype', b'<i8')
            shape = os.getxattr(self.arr, 'user.hmf.shape').decode()
        log('  cp into the mount: %.1f s; shape %s' % (t, shape))
        if os.path.getsize(self.back) != self.size:
            raise RuntimeError('backing file has the wrong size')
        syncfs(self.dir)

    # -- sections ------------------------------------------------------------

    def sec_read(self):
        log('\n-- read: sequential 1 MiB reads, %d MiB' % self.a.size_mb)

        def native(r):
            self.warm_back()
            self.record('read', 'native', 'first',
                        seq_read(self.back, self.size))
            self.record('read', 'native', 'again',
                        seq_read(self.back, self.size))

        def mount(opts):
            who = 'mount' + ''.join(' -o ' + o for o in opts)

            def run(r):
                self.warm_back()
                with self.mount(opts):
                    self.record('read', who, 'first',
                                seq_read(self.arr, self.size))
                    self.record('read', who, 'again',
                                seq_read(self.arr, self.size))
            return (who, run)

        cs = [('native', native), mount([])]
        if self.a.compare:
            cs += [mount(['read=splice']), mount(['exclusive'])]
        self.rounds(cs)

    def sec_npy(self):
        log('\n-- npy: np.load(mmap_mode=r).sum(), %d MiB' % self.a.size_mb)
        native_npy = os.path.join(self.dir, 'native.npy')
        with open(native_npy, 'wb') as f:
            np.lib.format.write_array_header_1_0(
                f, {'descr': '<i8', 'fortran_order': False,
                    'shape': (self.count,)})
            with open(self.src, 'rb') as g:
                while True:
                    buf = g.read(CHUNK)
                    if not buf:
                        break
                    f.write(buf)
        npy = self.arr + '.npy'
        back = os.path.join(self.root, 'a.npy', 'data')

        def warm():
            seq_read(back, self.size)

        def native(r):
            warm()
            seq_read(native_npy, os.path.getsize(native_npy))
            self.record('npy', 'native', 'first',
                        npy_sum(native_npy, self.expect))
            self.record('npy', 'native', 'again',
                        npy_sum(native_npy, self.expect))

        def mount(r):
            warm()
            with self.mount():
                self.record('npy', 'mount', 'first',
                            npy_sum(npy, self.expect))
                self.record('npy', 'mount', 'again',
                            npy_sum(npy, self.expect))

        with self.mount():
            os.rename(self.arr, npy)
        try:
            self.rounds([('native', native), ('mount', mount)])
        finally:
            with self.mount():
                os.rename(npy, self.arr)
            os.unlink(native_npy)

    def sec_random(self):
        n = self.a.rand_reads
        log('\n-- random: %d pread()s of 4 KiB' % n)
        pages = self.size // PAGE

        def offsets(r, salt):
            rng = random.Random(r * 1000 + salt)
            return [rng.randrange(pages) * PAGE for _ in range(n)]

        def native(r):
            self.warm_back()
            rand_read(self.back, offsets(r, 1)[:2000])
            self.record('random', 'native', 'hot',
                        rand_read(self.back, offsets(r, 0)))

        def mount(r):
            self.warm_back()
            with self.mount():
                rand_read(self.arr, offsets(r, 1)[:2000])
                self.record('random', 'mount', 'fresh',
                            rand_read(self.arr, offsets(r, 0)))
                seq_read(self.arr, self.size)
                self.record('random', 'mount', 'cached',
                            rand_read(self.arr, offsets(r, 2)))

        self.rounds([('native', native), ('mount', mount)])

    def sec_mmap(self):
        log('\n-- mmap: np.memmap(<i8).sum(), %d MiB' % self.a.size_mb)

        def native(r):
            self.warm_back()
            self.record('mmap', 'native', 'first',
                        mmap_sum(self.back, self.expect))
            self.record('mmap', 'native', 'again',
                        mmap_sum(self.back, self.expect))

        def mount(opts):
            who = 'mount' + ''.join(' -o ' + o for o in opts)

            def run(r):
                self.warm_back()
                with self.mount(opts):
                    self.record('mmap', who, 'first',
                                mmap_sum(self.arr, self.expect))
                    self.record('mmap', who, 'again',
                                mmap_sum(self.arr, self.expect))
            return (who, run)

        cs = [('native', native), mount([])]
        if self.a.compare:
            cs.append(mount(['exclusive']))
        self.rounds(cs)

    def sec_meta(self):
        n = self.a.md_files
        log('\n-- meta: %d x (create, setxattr, stat), then unlink' % n)

        def native(r):
            syncfs(self.dir)
            m = metadata(os.path.join(self.native, 'md'), n)
            for k, v in m.items():
                self.record('meta', 'native', k, v)

        def mount(opts):
            who = 'mount' + ''.join(' -o ' + o for o in opts)

            def run(r):
                syncfs(self.dir)
                with self.mount(opts):
                    m = metadata(os.path.join(self.mnt, 'md'), n)
                for k, v in m.items():
                    self.record('meta', who, k, v)
            return (who, run)

        def floor(r):
            syncfs(self.dir)
            m = metadata_floor(os.path.join(self.native, 'mdf'), n)
            for k, v in m.items():
                self.record('meta', 'format, no FUSE', k, v)

        cs = [('native', native), mount([]), ('format, no FUSE', floor)]
        if self.a.compare:
            cs.append(mount(['exclusive']))
        self.rounds(cs)

    def sec_write(self):
        log('\n-- write: dd bs=1M and cp of %d MiB; dd conv=notrunc over '
            'the array' % self.a.size_mb)
        settle = self.a.settle

        def prepare():
            syncfs(self.dir)
            time.sleep(settle)

        def new_file(who, tool, dest):
            prepare()
            if tool == 'dd':
                cmd = ['dd', 'if=' + self.src, 'of=' + dest, 'bs=1M',
                       'status=none']
            else:
                cmd = ['cp', self.src, dest]
            t = run_timed(cmd)
            if os.path.getsize(dest) != self.size:
                raise RuntimeError('%s: wrong size after %s' % (dest, tool))
            os.unlink(dest)
            self.record('write', who, tool, t)

        def overwrite(who, dest):
            prepare()
            self.record('write', who, 'overwrite', run_timed(
                ['dd', 'if=' + self.src, 'of=' + dest, 'bs=1M',
                 'conv=notrunc', 'status=none']))

        def native(r):
            for tool in ('dd', 'cp'):
                new_file('native', tool, os.path.join(self.native, 'w'))
            overwrite('native', self.back)

        def mount(opts):
            who = 'mount' + ''.join(' -o ' + o for o in opts)

            def run(r):
                with self.mount(opts):
                    for tool in ('dd', 'cp'):
                        new_file(who, tool, os.path.join(self.mnt, 'w'))
                    overwrite(who, self.arr)
            return (who, run)

        cs = [('native', native), mount([])]
        if self.a.compare:
            cs.append(mount(['cached_writes']))
        self.rounds(cs)

    # -- memory --------------------------------------------------------------

    def make_tree(self, tree):
        """ROOT with /find (find_nodes nodes) and /rest (the remainder of
        mem_nodes), groups of one group + 999 empty <f8 arrays; made by
        two processes writing the format directly."""
        marker = os.path.join(tree, 'tree.json')
        want = {'mem_nodes': self.a.mem_nodes,
                'find_nodes': self.a.find_nodes}
        try:
            with open(marker) as f:
                if json.load(f) == want:
                    log('reusing the tree in %s' % tree)
                    return os.path.join(tree, 'root')
        except (OSError, ValueError):
            pass
        root = os.path.join(tree, 'root')
        subprocess.run(['rm', '-rf', '--one-file-system', root], check=True)
        log('making a root of %d nodes in %s' % (self.a.mem_nodes, root))
        t0 = now()
        os.makedirs(root)
        group = b'{"hmf":1,"kind":"group","attributes":{}}'
        write_file(os.path.join(root, '.hmf'), group)
        os.mkdir(os.path.join(root, '.hmf.d'), 0o700)
        jobs = []
        rest = max(0, self.a.mem_nodes - self.a.find_nodes - 2)
        for sub, nodes in (('find', self.a.find_nodes - 1), ('rest', rest)):
            d = os.path.join(root, sub)
            os.mkdir(d)
            write_file(os.path.join(d, '.hmf'), group)
            g = 0
            while nodes > 0:
                k = min(1000, nodes)
                jobs.append((os.path.join(d, 'g%05d' % g), k - 1))
                nodes -= k
                g += 1
        # two workers (fork): half the groups each
        pids = []
        for w in range(2):
            pid = os.fork()
            if pid == 0:
                try:
                    for path, arrays in jobs[w::2]:
                        make_group(path, arrays)
                    os._exit(0)
                except BaseException as e:
                    print('make_tree: %s' % e, file=sys.stderr)
                    os._exit(1)
            pids.append(pid)
        ok = all(os.waitpid(p, 0)[1] == 0 for p in pids)
        if not ok:
            raise RuntimeError('making the tree failed')
        with open(marker, 'w') as f:
            json.dump(want, f)
        log('  made in %.0f s' % (now() - t0))
        return root

    def sec_memory(self):
        log('\n-- memory: a root of %d nodes, find over %d' % (
            self.a.mem_nodes, self.a.find_nodes))
        tree = self.a.tree or os.path.join(self.dir, 'tree')
        os.makedirs(tree, exist_ok=True)
        root = self.make_tree(tree)
        syncfs(root)
        ls = ['ls', self.mnt]
        mem = self.memres = {'mount': [], 'ls': [], 'native_ls': [],
                             'after_mount': None, 'busy': None}
        for r in range(self.a.rounds):
            # the native ls first: the dentries of ROOT are then as hot
            # for the daemon as for it
            mem['native_ls'].append(run_timed(['ls', root]))
            with Daemon(self, [], root=root) as d:
                t = run_timed(ls)
                mem['mount'].append(d.mount_secs)
                mem['ls'].append(d.mount_secs + t)
                if r == 0:
                    mem['after_mount'] = proc_status(d.pid)
                    mem['busy'] = self.wait_idle(d)
        with Daemon(self, [], root=root) as d:
            # the leftover cleaner walks the tree after every mount: let
            # it finish so that find has the daemon to itself
            self.wait_idle(d)
            mem['find'] = []
            for cycle in range(2):
                t0 = now()
                out = subprocess.run(['find', os.path.join(self.mnt, 'find')],
                                     stdout=subprocess.PIPE, check=True).stdout
                lines = out.count(b'\n')
                tf = now() - t0
                after_find = proc_status(d.pid)
                forgot = self.drop_caches(d)
                mem['find'].append({'secs': tf, 'lines': lines,
                                    'after_find': after_find,
                                    'after_forget': forgot})

    def wait_idle(self, d, limit=300):
        """Wait until the daemon used no CPU for a second; (seconds
        waited, CPU seconds used meanwhile)."""
        c0 = last = proc_status(d.pid)['cpu']
        t0 = now()
        quiet = 0
        while quiet < 4 and now() - t0 < limit:
            time.sleep(0.25)
            c = proc_status(d.pid)['cpu']
            quiet = quiet + 1 if c == last else 0
            last = c
        return (now() - t0 - quiet * 0.25, last - c0)

    def drop_caches(self, d):
        """Let the kernel forget the mount's inodes; the daemon's status
        once its fd count has settled (or None when not allowed)."""
        try:
            with open('/proc/sys/vm/drop_caches', 'w') as f:
                f.write('2\n')
        except OSError as e:
            self.notes.append('drop_caches failed: %s' % e)
            return None
        last, stable = None, 0
        t0 = now()
        while now() - t0 < 20 and stable < 4:
            time.sleep(0.25)
            st = proc_status(d.pid)
            stable = stable + 1 if last and st['fds'] == last['fds'] else 0
            last = st
        return last

    # -- report --------------------------------------------------------------

    def ratio_row(self, what, sec, metric, mwho, nwho, goal, nbytes=None,
                  nmetric=None):
        m = self.med(sec, mwho, metric)
        n = self.med(sec, nwho, nmetric or metric)
        ratio = n / m if m else float('nan')
        speed = ''
        if nbytes:
            speed = ' (%.2f / %.2f GB/s)' % (nbytes / n / 1e9,
                                            nbytes / m / 1e9)
        if goal is None:
            verdict = ''
        else:
            verdict = '>= %.2g: %s' % (goal, 'met' if ratio >= goal
                                        else '**not met**')
        self.emit('| %s | %.3f | %.3f%s | %.3f | %s |' % (
            what, n, m, speed, ratio, verdict))

    def header(self, title):
        self.emit()
        self.emit('### %s (median of %d rounds)' % (title, self.a.rounds))
        self.emit()
        self.emit('| case | native s | mount s (native / mount speed) '
                  '| ratio | goal |')
        self.emit('|---|---:|---:|---:|---|')

    def compare_table(self, sec, metrics, variants, base='mount'):
        have = [v for v in variants if (sec, v, metrics[0]) in self.res]
        if len(have) < 2:
            return
        self.emit()
        self.emit('Variants, %s (median s; in brackets: speed vs the default '
                  'mount):' % sec)
        self.emit()
        self.emit('| case | ' + ' | '.join(have) + ' |')
        self.emit('|---|' + '---:|' * len(have))
        for m in metrics:
            b = self.med(sec, base, m)
            cells = []
            for v in have:
                x = self.med(sec, v, m)
                cells.append('%.3f (%.2f)' % (x, b / x if x else 0))
            self.emit('| %s | %s |' % (m, ' | '.join(cells)))

    def report(self):
        sz = self.size
        self.emit()
        self.emit('## bench_mount results')
        if ('read', 'native', 'first') in self.res:
            self.header('Sequential 1 MiB reads of %d MiB' % self.a.size_mb)
            self.ratio_row('first read after mount', 'read', 'first',
                           'mount', 'native', GOALS['read_first'], sz)
            self.ratio_row('again', 'read', 'again', 'mount', 'native',
                           GOALS['read_again'], sz)
            self.compare_table('read', ['first', 'again'],
                               ['mount', 'mount -o read=splice',
                                'mount -o exclusive'])
        if ('random', 'native', 'hot') in self.res:
            self.header('%d random 4 KiB pread()s' % self.a.rand_reads)
            self.ratio_row('fresh mount (one request each)', 'random',
                           'fresh', 'mount', 'native', None, nmetric='hot')
            self.ratio_row('after one sequential read (cached)', 'random',
                           'cached', 'mount', 'native', None, nmetric='hot')
        if ('mmap', 'native', 'first') in self.res:
            self.header('Client np.memmap(<i8).sum() of %d MiB'
                        % self.a.size_mb)
            self.ratio_row('first after mount', 'mmap', 'first', 'mount',
                           'native', GOALS['mmap_first'], sz)
            self.ratio_row('again', 'mmap', 'again', 'mount', 'native',
                           GOALS['mmap_again'], sz)
            self.compare_table('mmap', ['first', 'again'],
                               ['mount', 'mount -o exclusive'])
        if ('npy', 'native', 'first') in self.res:
            self.header("np.load(mmap_mode='r').sum() of %d MiB as a.npy"
                        % self.a.size_mb)
            self.ratio_row('first after mount', 'npy', 'first', 'mount',
                           'native', None, sz)
            self.ratio_row('again (page cache warm)', 'npy', 'again',
                           'mount', 'native', GOALS['npy_again'], sz)
        if ('meta', 'native', 'total') in self.res:
            self.header('Metadata: %d x (create, setxattr, stat), unlink all'
                        % self.a.md_files)
            self.ratio_row('total', 'meta', 'total', 'mount', 'native',
                           GOALS['meta'])
            for m in ('create', 'setxattr', 'stat', 'unlink'):
                self.ratio_row('- of which %s' % m, 'meta', m, 'mount',
                               'native', None)
            self.ratio_row('the format on the backing fs, no FUSE (total)',
                           'meta', 'total', 'format, no FUSE', 'native', None)
            self.compare_table('meta', ['total', 'create', 'setxattr',
                                        'stat', 'unlink'],
                               ['mount', 'mount -o exclusive',
                                'format, no FUSE'])
        if ('write', 'native', 'dd') in self.res:
            self.header('Writes of %d MiB (new file; until the writer exits)'
                        % self.a.size_mb)
            self.ratio_row('dd bs=1M', 'write', 'dd', 'mount', 'native',
                           GOALS['write'], sz)
            self.ratio_row('cp', 'write', 'cp', 'mount', 'native',
                           GOALS['write'], sz)
            self.ratio_row('dd conv=notrunc over the array', 'write',
                           'overwrite', 'mount', 'native', None, sz)
            self.compare_table('write', ['dd', 'cp', 'overwrite'],
                               ['mount', 'mount -o cached_writes'])
        if getattr(self, 'memres', None):
            self.report_memory()
        for n in self.notes:
            self.emit()
            self.emit('Note: ' + n)

    def report_memory(self):
        m = self.memres
        self.emit()
        self.emit('### Memory and start-up (root of %d nodes; medians of %d)'
                  % (self.a.mem_nodes, self.a.rounds))
        self.emit()
        self.emit('| what | value |')
        self.emit('|---|---:|')
        self.emit('| start of hmf-mount -f to mountpoint answering | %.3f s |'
                  % median(m['mount']))
        self.emit('| start of hmf-mount -f to the first ls done | %.3f s |'
                  % median(m['ls']))
        self.emit('| ls of the backing ROOT (for scale) | %.3f s |'
                  % median(m['native_ls']))
        a = m['after_mount']
        self.emit('| daemon after mount + ls: VmRSS / VmHWM | %.1f / %.1f MB |'
                  % (a['VmRSS'] / 1024, a['VmHWM'] / 1024))
        self.emit('| after mount, no client: the daemon busy for (leftover '
                  'cleaner walking ROOT) | %.1f s, %.1f s CPU |' % m['busy'])
        for i, f in enumerate(m.get('find', [])):
            s, g = f['after_find'], f['after_forget']
            self.emit('| find #%d over %d nodes (%d lines) | %.2f s |' % (
                i + 1, self.a.find_nodes, f['lines'], f['secs']))
            self.emit('| - then VmRSS / VmHWM / RssAnon; open fds | '
                      '%.1f / %.1f / %.1f MB; %d |' % (
                          s['VmRSS'] / 1024, s['VmHWM'] / 1024,
                          s['RssAnon'] / 1024, s['fds']))
            if g:
                ok = 'met' if g['VmRSS'] < 64 * 1024 else '**not met**'
                self.emit('| - after drop_caches: VmRSS / VmHWM / RssAnon; '
                          'open fds (goal < 64 MB: %s) | %.1f / %.1f / %.1f '
                          'MB; %d |' % (ok, g['VmRSS'] / 1024,
                                        g['VmHWM'] / 1024,
                                        g['RssAnon'] / 1024, g['fds']))


def loadavg():
    with open('/proc/loadavg') as f:
        return ' '.join(f.read().split()[:3])


def write_file(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def make_group(path, arrays):
    write_dir = os.mkdir
    write_dir(path)
    write_file(os.path.join(path, '.hmf'),
               b'{"hmf":1,"kind":"group","attributes":{}}')
    meta = (b'{"hmf":1,"kind":"array","dtype":"<f8","shape":[0],'
            b'"order":"C","attributes":{}}')
    for i in range(arrays):
        a = os.path.join(path, 'a%03d' % i)
        write_dir(a)
        write_file(os.path.join(a, '.hmf'), meta)
        os.close(os.open(os.path.join(a, 'data'),
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                         0o644))


def machine(b):
    out = []
    ver = subprocess.run([b.binary, '--version'], stdout=subprocess.PIPE,
                         text=True).stdout.strip()
    with open('/proc/meminfo') as f:
        mem = int(f.readline().split()[1]) // 1024
    fs = subprocess.run(['stat', '-f', '-c', '%T', b.dir],
                        stdout=subprocess.PIPE, text=True).stdout.strip()
    src = subprocess.run(['df', '--output=source', b.dir],
                         stdout=subprocess.PIPE, text=True).stdout.split()[-1]
    fstype = '?'
    with open('/proc/mounts') as f:
        for line in f:
            p = line.split()
            if p[0] == src:
                fstype = p[2]
    out.append('machine: %d CPUs, %d MiB RAM, Linux %s, scratch on %s '
               '(%s, %s); %s; load %s' % (
                   os.cpu_count(), mem, os.uname().release, src, fstype, fs,
                   ver, loadavg()))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--mount', required=True, help='the hmf-mount binary')
    p.add_argument('--dir', required=True, help='scratch directory')
    p.add_argument('--size-mb', type=int, default=2048)
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--sections',
                   default=','.join(SECTIONS))
    p.add_argument('--md-files', type=int, default=20000)
    p.add_argument('--rand-reads', type=int, default=20000)
    p.add_argument('--mem-nodes', type=int, default=1000000)
    p.add_argument('--find-nodes', type=int, default=100000)
    p.add_argument('--tree', help='keep (and reuse) the big root here')
    p.add_argument('--settle', type=float, default=3.0,
                   help='seconds of rest before every write case')
    p.add_argument('--no-compare', dest='compare', action='store_false',
                   help='skip the option comparison')
    p.add_argument('--report', help='also write the tables to this file')
    p.add_argument('--verbose', action='store_true')
    a = p.parse_args()
    if a.size_mb < 1 or a.rounds < 1 or a.find_nodes < 2:
        p.error('--size-mb and --rounds must be >= 1, --find-nodes >= 2')
    secs = a.sections.split(',')
    bad = set(secs) - set(SECTIONS)
    if bad:
        p.error('unknown sections: %s' % ', '.join(sorted(bad)))

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    b = Bench(a)
    os.makedirs(b.dir, exist_ok=True)
    rc = 0
    try:
        for line in machine(b):
            b.emit(line)
        need_array = set(secs) - {'memory'}
        if need_array:
            b.setup()
        for s in SECTIONS:
            if s in secs:
                getattr(b, 'sec_' + s)()
                log('   (load average %s)' % loadavg())
    except Exception as e:
        log('bench_mount: %s' % e)
        rc = 1
    finally:
        Daemon.stop_all()
    b.report()
    b.emit()
    b.emit('load at the end: %s' % loadavg())
    if a.report:
        with open(a.report, 'w') as f:
            f.write('\n'.join(b.out) + '\n')
    return rc


if __name__ == '__main__':
    sys.exit(main())
