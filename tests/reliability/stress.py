#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""stress.py - many client processes on one hmf-mount at once, every byte
checked (issue 6: stress under sanitizers).

Usage (/usr/bin/python3: it needs numpy):
  stress.py run MNT STATE [--clients N] [--seconds D] [--seed S]
  stress.py verify ROOT STATE

run: N client processes (default 8) work on MNT for D seconds (default 60,
or $HMF_STRESS_SECONDS) with a mix of operations, then each verifies every
byte it wrote and saves what it expects in STATE (a directory outside the
mount). Prints the operation counts per kind, the tolerated race errors and
every unexpected error; exits 1 on any unexpected error, wrong byte, hung
or crashed client.

verify: after the unmount, the backing ROOT holds exactly what the clients
expect: each array's data, its attributes in .hmf and a shape that agrees
with the data's size.

What a client does, at random (weights in OPS):
- its own files in MNT/stress/cI (and sub-groups sJ): pwrite patterns at
  random offsets (past the end: the hole reads as zeros) through O_RDWR
  (page cache) or O_WRONLY (direct) handles, pread and compare, truncate
  and ftruncate (shrink/grow), posix_fallocate (grow), np.memmap reads and
  read-write stores (flush = msync), create/unlink/rename (also over
  another own file, and between its sub-groups), mkdir/rmdir (ENOTEMPTY
  when it should), readdir (the exact set of names), stat (the exact size),
  set/get/list/removexattr (exact values, some of them not UTF-8), a dtype
  change through user.hmf.dtype (EINVAL when the size does not divide) and
  the shape it shows, fsync. A client's own things must never fail.
- its own region of the shared array MNT/stress/shared (fixed size): pwrite
  and pread-compare in its region, pread of anybody's (size only).
- its own slots of MNT/stress/grow, which all clients extend at once by
  writing past its end.
- the shared group MNT/stress/pool: create/unlink/rename/mkdir/rmdir/stat/
  readdir/truncate/read/write/xattrs on a small pool of names that every
  client uses, where ENOENT, EEXIST, ENOTEMPTY, ENOTDIR, EISDIR (and
  ENODATA for a missing attribute) are expected races and are tolerated.
- MNT/stress/shrink, which clients truncate (shrink and grow) while others
  read it: short reads are fine, any error is not.
- handles held across an unlink or a rename over their file: the old data
  reads back, and writes and fstat through them work.
- /.hmf/stats: valid JSON whose operation count never goes down.
Every few seconds, and at the end, a client re-reads everything it owns.
"""
import base64
import errno
import json
import os
import pickle
import random
import subprocess
import sys
import time
import traceback

import numpy as np

RACE_ERRNOS = {errno.ENOENT, errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR,
               errno.EISDIR}
REGION = 256 << 10          # each client's part of the shared array
SLOT = 4096 + 17            # one slot of the grow file (odd on purpose)
MAX_SLOTS = 256             # per client: the grow file stays below 9 MiB
MAX_FILE = 1 << 20          # own files stay below ~1.3 MiB
MAX_FILES = 12              # own files at most
VERIFY_EVERY = 3.0          # seconds between a client's full checks
WRITE_SIZES = [1, 7, 100, 4095, 4096, 4097, 65536 + 3, 131072, 300001]
DTYPES = {"|u1": 1, "<u2": 2, "<i4": 4, "<f8": 8}
POOL_FILES = ["f%d" % i for i in range(8)]
POOL_DIRS = ["d%d" % i for i in range(4)]


class Unexpected(Exception):
    """A failure that is not an expected race: the run fails."""


class Client:
    def __init__(self, mnt, cid, nclients, seconds, seed, state):
        self.mnt = mnt
        self.cid = cid
        self.n = nclients
        self.state = state
        self.rnd = random.Random(seed * 1000 + cid)
        self.deadline = time.monotonic() + seconds
        self.top = os.path.join(mnt, "stress")
        self.own = os.path.join(self.top, "c%d" % cid)
        self.pool = os.path.join(self.top, "pool")
        self.shared = os.path.join(self.top, "shared")
        self.grow = os.path.join(self.top, "grow")
        # the model: relative path -> bytearray / {key: bytes}
        self.files = {}
        self.xattrs = {}
        self.dtype = {}
        self.subdirs = set()
        self.region = bytearray(REGION)
        self.slots = []             # bytes of slot k, k = 0, 1, ...
        self.counter = 0
        self.ops = {}
        self.races = {}             # "op errno" -> count
        self.failures = []
        self.last_ops = 0

    # ---- bookkeeping ---------------------------------------------------

    def count(self, kind):
        self.ops[kind] = self.ops.get(kind, 0) + 1

    def race(self, kind, e):
        if e.errno not in RACE_ERRNOS:
            raise e
        key = "%s %s" % (kind, errno.errorcode.get(e.errno, e.errno))
        self.races[key] = self.races.get(key, 0) + 1

    def fail(self, msg):
        raise Unexpected(msg)

    def path(self, rel):
        return os.path.join(self.own, rel)

    def new_name(self):
        self.counter += 1
        d = ""
        if self.subdirs and self.rnd.random() < 0.3:
            d = self.rnd.choice(sorted(self.subdirs)) + "/"
        return "%sf%d" % (d, self.counter)

    def pattern(self, n):
        return self.rnd.randbytes(n)

    def pick_file(self):
        if not self.files:
            return None
        return self.rnd.choice(sorted(self.files))

    # ---- own files -------------------------------------------------------

    def op_create(self):
        if len(self.files) >= MAX_FILES:
            return self.op_unlink()
        rel = self.new_name()
        fd = os.open(self.path(rel), os.O_CREAT | os.O_EXCL | os.O_RDWR,
                     0o644)
        os.close(fd)
        self.files[rel] = bytearray()
        self.xattrs[rel] = {}
        self.dtype[rel] = {"|u1"}
        self.count("create")

    def op_write(self):
        rel = self.pick_file()
        if rel is None:
            return self.op_create()
        data = self.files[rel]
        n = self.rnd.choice(WRITE_SIZES)
        off = self.rnd.randrange(0, min(len(data), MAX_FILE) + 4097)
        buf = self.pattern(n)
        direct = self.rnd.random() < 0.3
        fd = os.open(self.path(rel), os.O_WRONLY if direct else os.O_RDWR)
        try:
            k = os.pwrite(fd, buf, off)
        finally:
            os.close(fd)
        if k != n:
            self.fail("short write %d of %d to %s at %d" % (k, n, rel, off))
        if off > len(data):
            data.extend(bytes(off - len(data)))
        data[off:off + n] = buf
        self.size_changed(rel)
        self.count("write_direct" if direct else "write")

    def op_read(self):
        rel = self.pick_file()
        if rel is None:
            return self.op_create()
        data = self.files[rel]
        off = self.rnd.randrange(0, len(data) + 10)
        n = self.rnd.choice(WRITE_SIZES)
        fd = os.open(self.path(rel), os.O_RDONLY)
        try:
            got = os.pread(fd, n, off)
        finally:
            os.close(fd)
        self.compare(rel, got, bytes(data[off:off + n]), off)
        self.count("read")

    def compare(self, what, got, want, off):
        if got == want:
            return
        i = next((i for i in range(min(len(got), len(want)))
                  if got[i] != want[i]), min(len(got), len(want)))
        self.fail("%s: %d bytes at %d differ from what was written: "
                  "first at %d (got %d bytes, wanted %d)"
                  % (what, len(got), off, off + i, len(got), len(want)))

    def resize_model(self, rel, size):
        data = self.files[rel]
        if size < len(data):
            del data[size:]
        else:
            data.extend(bytes(size - len(data)))
        self.size_changed(rel)

    def size_changed(self, rel):
        """A size its dtype does not divide shows as |u1 (DESIGN section
        2), and is stored so at the next sync of the shape (a release, which
        the kernel sends after close() returns): from then on either may
        show, until the next dtype change."""
        size = len(self.files[rel])
        if any(size % DTYPES[dt] for dt in self.dtype[rel]):
            self.dtype[rel].add("|u1")

    def op_truncate(self):
        rel = self.pick_file()
        if rel is None:
            return self.op_create()
        size = self.rnd.randrange(0, MAX_FILE)
        how = self.rnd.choice(["truncate", "ftruncate", "fallocate"])
        if how == "truncate":
            os.truncate(self.path(rel), size)
        else:
            fd = os.open(self.path(rel), os.O_RDWR)
            try:
                if how == "ftruncate":
                    os.ftruncate(fd, size)
                elif size > 0:
                    # grows only: a size below the current one is a no-op
                    os.posix_fallocate(fd, 0, size)
            finally:
                os.close(fd)
            if how == "fallocate":
                size = max(size, len(self.files[rel]))
        self.resize_model(rel, size)
        self.count(how)

    def op_memmap(self):
        rel = self.pick_file()
        if rel is None or not self.files[rel]:
            return self.op_write()
        data = self.files[rel]
        if self.rnd.random() < 0.5:
            m = np.memmap(self.path(rel), dtype=np.uint8, mode="r")
            got = m.tobytes()
            del m
            self.compare(rel + " (memmap)", got, bytes(data), 0)
            self.count("memmap_read")
            return
        m = np.memmap(self.path(rel), dtype=np.uint8, mode="r+")
        if len(m) != len(data):
            self.fail("%s: memmap of %d bytes, expected %d"
                      % (rel, len(m), len(data)))
        off = self.rnd.randrange(0, len(data))
        n = min(self.rnd.choice(WRITE_SIZES), len(data) - off)
        buf = self.pattern(n)
        m[off:off + n] = np.frombuffer(buf, dtype=np.uint8)
        m.flush()
        del m
        data[off:off + n] = buf
        self.count("memmap_write")

    def op_unlink(self):
        rel = self.pick_file()
        if rel is None:
            return self.op_create()
        os.unlink(self.path(rel))
        del self.files[rel], self.xattrs[rel], self.dtype[rel]
        self.count("unlink")

    def op_rename(self):
        rel = self.pick_file()
        if rel is None:
            return self.op_create()
        if len(self.files) > 1 and self.rnd.random() < 0.4:
            # over another own file: it is replaced atomically
            dst = self.rnd.choice([f for f in self.files if f != rel])
            kind = "rename_replace"
        else:
            dst = self.new_name()
            kind = "rename"
        os.rename(self.path(rel), self.path(dst))
        self.files[dst] = self.files.pop(rel)
        self.xattrs[dst] = self.xattrs.pop(rel)
        self.dtype[dst] = self.dtype.pop(rel)
        self.count(kind)

    def read_fd(self, fd, size):
        out = bytearray()
        while True:
            b = os.pread(fd, 1 << 20, len(out))
            if not b:
                return bytes(out)
            out += b

    def op_held(self):
        """A handle open across an unlink or a rename over its file keeps
        the old data (as on a local filesystem; DESIGN section 4)."""
        rel = self.pick_file()
        if rel is None:
            return self.op_create()
        old = bytes(self.files[rel])
        fd = os.open(self.path(rel), os.O_RDWR)
        try:
            others = [f for f in self.files if f != rel]
            if others and self.rnd.random() < 0.5:
                src = self.rnd.choice(others)
                os.rename(self.path(src), self.path(rel))
                self.files[rel] = self.files.pop(src)
                self.xattrs[rel] = self.xattrs.pop(src)
                self.dtype[rel] = self.dtype.pop(src)
                kind = "held_replaced"
            else:
                os.unlink(self.path(rel))
                del self.files[rel], self.xattrs[rel], self.dtype[rel]
                kind = "held_unlinked"
            self.compare(rel + " (" + kind + ")", self.read_fd(fd, len(old)),
                         old, 0)
            buf = self.pattern(self.rnd.choice(WRITE_SIZES[:6]))
            off = self.rnd.randrange(0, len(old) + 1)
            if os.pwrite(fd, buf, off) != len(buf):
                self.fail("%s: short write to a held handle" % kind)
            want = bytearray(old)
            want[off:off + len(buf)] = buf
            if os.fstat(fd).st_size != len(want):
                self.fail("%s: fstat size %d, expected %d"
                          % (kind, os.fstat(fd).st_size, len(want)))
            self.compare(rel + " (" + kind + ")", self.read_fd(fd, 0),
                         bytes(want), 0)
        finally:
            os.close(fd)
        self.count(kind)

    def op_mkdir(self):
        free = ["s%d" % i for i in range(4) if "s%d" % i not in self.subdirs]
        if not free:
            return self.op_rmdir()
        d = self.rnd.choice(free)
        os.mkdir(self.path(d))
        self.subdirs.add(d)
        self.count("mkdir")

    def op_rmdir(self):
        if not self.subdirs:
            return self.op_mkdir()
        d = self.rnd.choice(sorted(self.subdirs))
        inside = [f for f in self.files if f.startswith(d + "/")]
        try:
            os.rmdir(self.path(d))
        except OSError as e:
            if inside and e.errno == errno.ENOTEMPTY:
                self.count("rmdir_notempty")
                return
            raise
        if inside:
            self.fail("rmdir %s succeeded with %s in it" % (d, inside))
        self.subdirs.discard(d)
        self.count("rmdir")

    def op_readdir(self):
        want = {f.split("/")[0] for f in self.files} | self.subdirs
        got = set(os.listdir(self.own))
        if got != want:
            self.fail("readdir %s: extra %s, missing %s"
                      % (self.own, sorted(got - want), sorted(want - got)))
        for d in self.subdirs:
            want = {f.split("/")[1] for f in self.files
                    if f.startswith(d + "/")}
            got = set(os.listdir(self.path(d)))
            if got != want:
                self.fail("readdir %s: extra %s, missing %s"
                          % (d, sorted(got - want), sorted(want - got)))
        self.count("readdir")

    def op_stat(self):
        rel = self.pick_file()
        if rel is None:
            return self.op_create()
        st = os.stat(self.path(rel))
        if st.st_size != len(self.files[rel]):
            self.fail("stat %s: size %d, expected %d"
                      % (rel, st.st_size, len(self.files[rel])))
        self.count("stat")

    def op_setxattr(self):
        rel = self.pick_file()
        if rel is None:
            return self.op_create()
        key = "user.k%d" % self.rnd.randrange(4)
        if self.rnd.random() < 0.5:
            val = ("v%d-" % self.counter).encode() * self.rnd.randrange(1, 50)
        else:
            val = self.pattern(self.rnd.randrange(0, 300))  # not UTF-8
        os.setxattr(self.path(rel), key, val)
        self.xattrs[rel][key] = val
        self.count("setxattr")

    def op_getxattr(self):
        rel = self.pick_file()
        if rel is None:
            return self.op_create()
        key = "user.k%d" % self.rnd.randrange(4)
        want = self.xattrs[rel].get(key)
        try:
            got = os.getxattr(self.path(rel), key)
        except OSError as e:
            if e.errno == errno.ENODATA and want is None:
                self.count("getxattr_nodata")
                return
            raise
        if got != want:
            self.fail("getxattr %s %s: %r, expected %r"
                      % (rel, key, got[:40], want and want[:40]))
        self.count("getxattr")

    def op_listxattr(self):
        rel = self.pick_file()
        if rel is None:
            return self.op_create()
        got = set(os.listxattr(self.path(rel)))
        layout = {"user.hmf.dtype", "user.hmf.shape", "user.hmf.order"}
        want = set(self.xattrs[rel]) | layout
        if got != want:
            self.fail("listxattr %s: %s, expected %s"
                      % (rel, sorted(got), sorted(want)))
        self.count("listxattr")

    def op_removexattr(self):
        rel = self.pick_file()
        if rel is None or not self.xattrs[rel]:
            return self.op_setxattr()
        key = self.rnd.choice(sorted(self.xattrs[rel]))
        os.removexattr(self.path(rel), key)
        del self.xattrs[rel][key]
        self.count("removexattr")

    def op_dtype(self):
        rel = self.pick_file()
        if rel is None:
            return self.op_create()
        dt = self.rnd.choice(sorted(DTYPES))
        size = len(self.files[rel])
        try:
            os.setxattr(self.path(rel), "user.hmf.dtype", dt.encode())
        except OSError as e:
            if e.errno == errno.EINVAL and size % DTYPES[dt]:
                self.count("set_dtype_einval")
                return
            raise
        if size % DTYPES[dt]:
            self.fail("dtype %s accepted for %s of %d bytes"
                      % (dt, rel, size))
        self.dtype[rel] = {dt}
        self.count("set_dtype")
        self.check_layout(rel)

    def check_layout(self, rel):
        """The shape shown agrees with the size (DESIGN section 2)."""
        p = self.path(rel)
        dt = os.getxattr(p, "user.hmf.dtype").decode()
        shape = json.loads(os.getxattr(p, "user.hmf.shape"))
        size = len(self.files[rel])
        if dt not in DTYPES or int(np.prod(shape)) * DTYPES[dt] != size:
            self.fail("%s: dtype %s shape %s for %d bytes"
                      % (rel, dt, shape, size))
        if dt not in self.dtype[rel]:
            self.fail("%s: dtype %s, expected one of %s (%d bytes)"
                      % (rel, dt, sorted(self.dtype[rel]), size))
        self.count("layout")

    def op_layout(self):
        rel = self.pick_file()
        if rel is None:
            return self.op_create()
        self.check_layout(rel)

    def op_fsync(self):
        rel = self.pick_file()
        if rel is None:
            return self.op_create()
        fd = os.open(self.path(rel), os.O_RDWR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self.count("fsync")

    # ---- the shared array and the grow file ------------------------------

    def op_shared_write(self):
        n = self.rnd.choice(WRITE_SIZES[:7])
        off = self.rnd.randrange(0, REGION - n + 1)
        buf = self.pattern(n)
        fd = os.open(self.shared, self.rnd.choice([os.O_RDWR, os.O_WRONLY]))
        try:
            k = os.pwrite(fd, buf, self.cid * REGION + off)
        finally:
            os.close(fd)
        if k != n:
            self.fail("shared: short write %d of %d" % (k, n))
        self.region[off:off + n] = buf
        self.count("shared_write")

    def op_shared_read(self):
        fd = os.open(self.shared, os.O_RDONLY)
        try:
            if self.rnd.random() < 0.5:
                off = self.rnd.randrange(0, REGION)
                n = self.rnd.choice(WRITE_SIZES)
                got = os.pread(fd, n, self.cid * REGION + off)
                want = bytes(self.region[off:off + n])
                if off + n > REGION:
                    got = got[:REGION - off]
                self.compare("shared region %d" % self.cid, got, want, off)
                self.count("shared_read")
            else:
                # anybody's: only the length is known
                off = self.rnd.randrange(0, self.n * REGION)
                n = self.rnd.choice(WRITE_SIZES)
                got = os.pread(fd, n, off)
                if len(got) != min(n, self.n * REGION - off):
                    self.fail("shared: read %d at %d gave %d bytes"
                              % (n, off, len(got)))
                self.count("shared_read_any")
        finally:
            os.close(fd)

    def slot_off(self, k):
        return (k * self.n + self.cid) * SLOT

    def op_grow(self):
        if len(self.slots) < MAX_SLOTS:
            k = len(self.slots)
            self.slots.append(b"")
            kind = "grow_append"
        else:
            k = self.rnd.randrange(MAX_SLOTS)
            kind = "grow_rewrite"
        buf = self.pattern(SLOT)
        fd = os.open(self.grow, os.O_WRONLY if k % 2 else os.O_RDWR)
        try:
            n = os.pwrite(fd, buf, self.slot_off(k))
        finally:
            os.close(fd)
        if n != SLOT:
            self.fail("grow: short write %d" % n)
        self.slots[k] = buf
        self.count(kind)

    def op_grow_read(self):
        if not self.slots:
            return self.op_grow()
        k = self.rnd.randrange(len(self.slots))
        fd = os.open(self.grow, os.O_RDONLY)
        try:
            got = os.pread(fd, SLOT, self.slot_off(k))
        finally:
            os.close(fd)
        self.compare("grow slot %d" % k, got, self.slots[k], self.slot_off(k))
        self.count("grow_read")

    # ---- the shared pool: races expected ---------------------------------

    def pool_name(self, files=True):
        if files and self.rnd.random() < 0.3:
            return "%s/%s" % (self.rnd.choice(POOL_DIRS),
                              self.rnd.choice(POOL_FILES))
        names = POOL_FILES if files else POOL_DIRS
        if self.rnd.random() < 0.15:
            names = POOL_FILES + POOL_DIRS  # the wrong kind on purpose
        return self.rnd.choice(names)

    def op_pool(self):
        kind = self.rnd.choice(["create", "unlink", "rename", "mkdir",
                                "rmdir", "stat", "readdir", "write",
                                "read", "truncate", "setxattr", "getxattr",
                                "listxattr"])
        kind = "pool_" + kind
        p = os.path.join(self.pool, self.pool_name(
            kind not in ("pool_mkdir", "pool_rmdir")))
        try:
            if kind == "pool_create":
                os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY,
                                 0o644))
            elif kind == "pool_unlink":
                os.unlink(p)
            elif kind == "pool_rename":
                q = os.path.join(self.pool, self.pool_name())
                # (not into itself: that EINVAL is no race)
                if q != p and not q.startswith(p + "/"):
                    os.rename(p, q)
            elif kind == "pool_mkdir":
                os.mkdir(p)
            elif kind == "pool_rmdir":
                os.rmdir(p)
            elif kind == "pool_stat":
                os.stat(p)
            elif kind == "pool_readdir":
                os.listdir(self.pool)
            elif kind == "pool_write":
                fd = os.open(p, os.O_WRONLY)
                try:
                    off = self.rnd.randrange(0, 65536)
                    buf = self.pattern(self.rnd.choice(WRITE_SIZES[:6]))
                    if os.pwrite(fd, buf, off) != len(buf):
                        self.fail("pool: short write")
                finally:
                    os.close(fd)
            elif kind == "pool_read":
                fd = os.open(p, os.O_RDONLY)
                try:
                    # the file may shrink meanwhile: any length is fine,
                    # a failure is not
                    os.pread(fd, 1 << 17, self.rnd.randrange(0, 65536))
                finally:
                    os.close(fd)
            elif kind == "pool_truncate":
                os.truncate(p, self.rnd.randrange(0, 1 << 17))
            elif kind == "pool_setxattr":
                os.setxattr(p, "user.c%d" % self.cid, b"x" * 10)
            elif kind == "pool_getxattr":
                try:
                    os.getxattr(p, "user.c%d" % self.rnd.randrange(self.n))
                except OSError as e:
                    if e.errno != errno.ENODATA:
                        raise
            elif kind == "pool_listxattr":
                os.listxattr(p)
            self.count(kind)
        except OSError as e:
            if e.errno not in RACE_ERRNOS:
                self.fail("%s %s: %s" % (kind, e.filename,
                                         errno.errorcode.get(e.errno,
                                                             e.errno)))
            self.race(kind, e)

    def op_shrink(self):
        """Reads of one file that others truncate at the same time: short
        reads are fine, failures are not."""
        p = os.path.join(self.top, "shrink")
        if self.rnd.random() < 0.3:
            os.truncate(p, self.rnd.choice([0, 4096, 123457, 1 << 20,
                                            3 << 20]))
            self.count("shrink_truncate")
            return
        fd = os.open(p, os.O_RDONLY)
        try:
            got = os.pread(fd, 1 << 20, self.rnd.randrange(0, 3 << 20))
        finally:
            os.close(fd)
        if len(got) > 1 << 20:
            self.fail("shrink: read more than asked")
        self.count("shrink_read")

    # ---- the control directory -------------------------------------------

    def op_stats(self):
        with open(os.path.join(self.mnt, ".hmf", "stats"), "rb") as f:
            text = f.read()
        try:
            s = json.loads(text)
        except ValueError:
            self.fail("/.hmf/stats is not JSON: %r" % text[:200])
        if s["operations"] < self.last_ops:
            self.fail("/.hmf/stats: operations went from %d down to %d"
                      % (self.last_ops, s["operations"]))
        self.last_ops = s["operations"]
        self.count("stats")

    # ---- checks ------------------------------------------------------------

    def verify_all(self):
        for rel, data in sorted(self.files.items()):
            with open(self.path(rel), "rb") as f:
                got = f.read()
            self.compare(rel, got, bytes(data), 0)
            self.check_layout(rel)
            for key, val in self.xattrs[rel].items():
                if os.getxattr(self.path(rel), key) != val:
                    self.fail("%s: attribute %s changed" % (rel, key))
        fd = os.open(self.shared, os.O_RDONLY)
        try:
            got = os.pread(fd, REGION, self.cid * REGION)
            self.compare("shared region %d" % self.cid, got,
                         bytes(self.region), self.cid * REGION)
            st = os.fstat(fd)
            if st.st_size != self.n * REGION:
                self.fail("shared: size %d, expected %d"
                          % (st.st_size, self.n * REGION))
        finally:
            os.close(fd)
        fd = os.open(self.grow, os.O_RDONLY)
        try:
            for k, want in enumerate(self.slots):
                got = os.pread(fd, SLOT, self.slot_off(k))
                self.compare("grow slot %d" % k, got, want, self.slot_off(k))
        finally:
            os.close(fd)
        self.op_readdir()
        self.count("verify_all")

    OPS = [
        ("op_write", 14), ("op_read", 10), ("op_truncate", 4),
        ("op_memmap", 4), ("op_create", 3), ("op_unlink", 2),
        ("op_rename", 3), ("op_mkdir", 1), ("op_rmdir", 1),
        ("op_readdir", 2), ("op_stat", 4), ("op_setxattr", 3),
        ("op_getxattr", 3), ("op_listxattr", 2), ("op_removexattr", 1),
        ("op_dtype", 2), ("op_layout", 1), ("op_fsync", 1),
        ("op_shared_write", 6), ("op_shared_read", 6), ("op_grow", 4),
        ("op_grow_read", 3), ("op_pool", 16), ("op_stats", 1),
        ("op_held", 2), ("op_shrink", 4),
    ]

    def run(self):
        os.mkdir(self.own)
        names = [o for o, w in self.OPS]
        weights = [w for o, w in self.OPS]
        next_verify = time.monotonic() + VERIFY_EVERY
        while time.monotonic() < self.deadline:
            op = self.rnd.choices(names, weights)[0]
            try:
                getattr(self, op)()
            except Unexpected as e:
                self.failures.append("%s: %s" % (op, e))
            except OSError as e:
                self.failures.append("%s: unexpected %s: %s" % (
                    op, errno.errorcode.get(e.errno, e.errno),
                    traceback.format_exc(limit=3).strip().splitlines()[-3:]))
            if len(self.failures) >= 20:
                break
            if time.monotonic() >= next_verify:
                try:
                    self.verify_all()
                except (Unexpected, OSError) as e:
                    self.failures.append("verify_all: %r" % e)
                next_verify = time.monotonic() + VERIFY_EVERY
        try:
            self.verify_all()
        except (Unexpected, OSError) as e:
            self.failures.append("final verify_all: %r" % e)

    def save(self):
        model = {
            "files": {r: bytes(d) for r, d in self.files.items()},
            "xattrs": self.xattrs,
            "dtype": {r: sorted(d) for r, d in self.dtype.items()},
            "subdirs": sorted(self.subdirs), "region": bytes(self.region),
            "slots": self.slots,
        }
        with open(os.path.join(self.state, "model%d.pickle" % self.cid),
                  "wb") as f:
            pickle.dump(model, f)
        with open(os.path.join(self.state, "result%d.json" % self.cid),
                  "w") as f:
            json.dump({"ops": self.ops, "races": self.races,
                       "failures": self.failures}, f)


def client_main(argv):
    mnt, state = argv[0], argv[3]
    c = Client(mnt, int(argv[1]), int(argv[2]), float(argv[4]),
               int(argv[5]), state)
    try:
        c.run()
    except Exception:
        c.failures.append("crashed: " + traceback.format_exc())
    c.save()
    return 1 if c.failures else 0


def add_counts(total, part):
    for k, v in part.items():
        total[k] = total.get(k, 0) + v


def run_main(mnt, state, nclients, seconds, seed):
    top = os.path.join(mnt, "stress")
    os.mkdir(top)
    os.mkdir(os.path.join(top, "pool"))
    for d in POOL_DIRS[:2]:
        os.mkdir(os.path.join(top, "pool", d))
    with open(os.path.join(top, "shared"), "wb") as f:
        f.truncate(nclients * REGION)
    open(os.path.join(top, "grow"), "wb").close()
    open(os.path.join(top, "shrink"), "wb").close()
    print("stress: %d clients for %g s on %s (seed %d)"
          % (nclients, seconds, mnt, seed), flush=True)
    start = time.monotonic()
    procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__),
                               "client", mnt, str(c), str(nclients), state,
                               str(seconds), str(seed)])
             for c in range(nclients)]
    # a client stuck in the mount is a failure, not a hang of the test
    limit = start + seconds + 120
    bad = []
    for c, p in enumerate(procs):
        try:
            rc = p.wait(timeout=max(1, limit - time.monotonic()))
        except subprocess.TimeoutExpired:
            bad.append("client %d still running %d s after its end: hung"
                       % (c, 120))
            p.kill()
            p.wait()
            continue
        if rc != 0:
            bad.append("client %d exited %d" % (c, rc))
    elapsed = time.monotonic() - start
    ops, races, failures = {}, {}, list(bad)
    for c in range(nclients):
        try:
            with open(os.path.join(state, "result%d.json" % c)) as f:
                r = json.load(f)
        except (OSError, ValueError) as e:
            failures.append("client %d left no result: %s" % (c, e))
            continue
        add_counts(ops, r["ops"])
        add_counts(races, r["races"])
        failures += ["client %d: %s" % (c, m) for m in r["failures"]]
    total = sum(ops.values())
    print("operations by kind (all clients, %.1f s):" % elapsed)
    for k in sorted(ops):
        print("  %-18s %9d" % (k, ops[k]))
    print("  %-18s %9d  (%.0f/s)" % ("total", total, total / elapsed))
    print("tolerated races (expected errnos in the shared pool):")
    for k in sorted(races):
        print("  %-28s %7d" % (k, races[k]))
    with open(os.path.join(state, "summary.json"), "w") as f:
        json.dump({"clients": nclients, "seconds": elapsed, "ops": ops,
                   "races": races, "failures": failures}, f, indent=1)
    if failures:
        print("FAILURES (%d):" % len(failures))
        for m in failures[:60]:
            print("  " + m)
        return 1
    print("stress: every byte verified, no unexpected error")
    return 0


def verify_main(root, state):
    """After the unmount: the backing root holds what the clients expect."""
    bad = []
    nfiles = 0
    models = sorted(f for f in os.listdir(state) if f.startswith("model"))
    if not models:
        print("verify: no models in %s" % state)
        return 1
    for name in models:
        cid = int(name[len("model"):-len(".pickle")])
        with open(os.path.join(state, name), "rb") as f:
            m = pickle.load(f)
        base = os.path.join(root, "stress", "c%d" % cid)
        for rel, data in m["files"].items():
            nfiles += 1
            d = os.path.join(base, rel)
            with open(os.path.join(d, "data"), "rb") as f:
                got = f.read()
            if got != data:
                bad.append("%s/data: %d bytes, expected %d, differ"
                           % (d, len(got), len(data)))
            with open(os.path.join(d, ".hmf")) as f:
                meta = json.load(f)
            dt = meta.get("dtype")
            shape = meta.get("shape")
            if dt not in m["dtype"][rel] or \
                    int(np.prod(shape)) * DTYPES.get(dt, 0) != len(data):
                bad.append("%s/.hmf: dtype %s shape %s for %d bytes "
                           "(expected dtype in %s)" % (d, dt, shape, len(data),
                                                    m["dtype"][rel]))
            attrs = {}
            for k, v in meta.get("attributes", {}).items():
                if isinstance(v, dict):
                    v = base64.b64decode(v["base64"])
                else:
                    v = v.encode()
                attrs["user." + k] = v
            if attrs != m["xattrs"][rel]:
                bad.append("%s/.hmf: attributes %s, expected %s"
                           % (d, sorted(attrs), sorted(m["xattrs"][rel])))
        want = {r.split("/")[0] for r in m["files"]} | set(m["subdirs"])
        got = {e for e in os.listdir(base) if not e.startswith(".hmf")}
        if got != want:
            bad.append("%s: entries %s, expected %s"
                       % (base, sorted(got), sorted(want)))
        with open(os.path.join(root, "stress", "shared", "data"), "rb") as f:
            f.seek(cid * REGION)
            if f.read(REGION) != m["region"]:
                bad.append("shared/data: region %d differs" % cid)
        with open(os.path.join(root, "stress", "grow", "data"), "rb") as f:
            for k, want in enumerate(m["slots"]):
                f.seek((k * len(models) + cid) * SLOT)
                if f.read(SLOT) != want:
                    bad.append("grow/data: slot %d of client %d differs"
                               % (k, cid))
                    break
    if bad:
        print("verify: %d problems in the backing root:" % len(bad))
        for b in bad[:40]:
            print("  " + b)
        return 1
    print("verify: the backing root holds every byte (%d arrays of %d "
          "clients, the shared array and the grow file)"
          % (nfiles, len(models)))
    return 0


def main():
    a = sys.argv[1:]
    if a[:1] == ["client"]:
        return client_main(a[1:])
    if a[:1] == ["verify"] and len(a) == 3:
        return verify_main(a[1], a[2])
    if a[:1] == ["run"] and len(a) >= 3:
        opts = {"--clients": 8, "--seed": 1,
                "--seconds": float(os.environ.get("HMF_STRESS_SECONDS", 60))}
        rest = a[3:]
        while rest:
            if rest[0] not in opts or len(rest) < 2:
                break
            opts[rest[0]] = float(rest[1]) if rest[0] == "--seconds" \
                else int(rest[1])
            rest = rest[2:]
        if not rest:
            return run_main(a[1], a[2], opts["--clients"], opts["--seconds"],
                            opts["--seed"])
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
