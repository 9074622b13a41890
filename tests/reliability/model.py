# SPDX-License-Identifier: MIT
"""model.py - a model-based random workload for a mounted HMF root.

A seed gives a random sequence of file system operations: mkdir, create
(O_CREAT|O_EXCL), open/close/reopen of kept descriptors, pwrite at random
offsets (growth and holes included), pread, fstat/stat, truncate and
ftruncate (grow and shrink), posix_fallocate, fsync, rename (files and
groups, over existing arrays, into their own subtree, RENAME_NOREPLACE and
RENAME_EXCHANGE through renameat2), unlink, rmdir (ENOTEMPTY included),
set/get/remove/list of user.* xattrs (the user.hmf.* layout of arrays
included) and listdir. Every operation is applied both to a fresh mount
(hmf-mount ROOT MNT -f -o create) and to an in-memory model of the tree
(groups, arrays with their bytes, dtype, order and attributes), and the
results are compared after every step: return values, errno names, bytes
read, sizes, directory listings, xattr values and lists. Every --check-every
operations, and at the end, the whole tree is compared through the mount
and in the backing root (each node's .hmf and data), the descriptors still
open are read back, and at the end the daemon must unmount cleanly (exit
0, no sanitizer report) and `hmf fsck ROOT` must find the root clean.

Arrays made through the mount are |u1 and the workload only ever sets
1-byte dtypes and 1-D shapes, so an array's size is its number of bytes
and its shape is [size] whatever the stored shape was (DESIGN section 2):
what the model predicts does not depend on when the daemon stores it.

On a mismatch it prints the seed and the operation's index, then shrinks:
the shortest failing prefix (binary search, each try on a fresh root and
mount), then removes what else it can (delta debugging). It prints the
result as a readable list, writes it as JSON (--replay runs such a file
again) and exits 1. tests/reliability/cases/ holds such files, one per bug
found, as regression tests (meson test model-regress).

--single runs the daemon single-threaded (-s); --nofile N gives it an fd
limit of N, so that with N around 120 it keeps evicting the inodes the
kernel holds (DESIGN section 8) while the workload runs.

Usage (always /usr/bin/python3: the python3 first on PATH may lack numpy;
this program itself needs only the standard library):
  /usr/bin/python3 tests/reliability/model.py --seed 1 --seed 5-8 --ops 5000 \\
      --mount-bin build/src/fuse/hmf-mount
  /usr/bin/python3 tests/reliability/model.py --long --hours 2 \\
      --mount-bin build/src/fuse/hmf-mount
  /usr/bin/python3 tests/reliability/model.py --replay FILE.json \\
      --mount-bin build/src/fuse/hmf-mount
  /usr/bin/python3 tests/reliability/model.py --print-ops --seed 3 --ops 50

--mount-bin defaults to $HMF_MOUNT, the hmf tool (for fsck) to $HMF_CLI or
the hmf next to hmf-mount (build/src/cli/hmf). meson runs it as the tests
model, model-evict, model-single and model-regress (suites reliability and
integration-multi). Exit status: 0 all seeds passed, 1 a mismatch (or a
daemon failure), 2 usage, 77 no FUSE here (a failure instead when CI is
set). The daemon is always unmounted and
stopped and the temporary directories removed, also on SIGINT/SIGTERM;
--keep keeps the root, the mountpoint and the daemon log of a failure.
"""
import argparse
import base64
import ctypes
import errno
import hashlib
import json
import mmap
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

SLOTS = 6  # descriptors kept open across operations
NAMES = ["a", "b", "c", "d", "e"]
ODD_NAMES = ["x y", "\u00e9t\u00e9", "f.dat", "L" * 255,
             "T" * 256]  # NAME_MAX: 255 bytes
RESERVED_NAME = ".hmfz"  # names starting with .hmf are refused (EINVAL)
MISSING_DIR = "zz"  # never created: paths through it are ENOENT
MAX_DEPTH = 3  # new nodes go into groups at most this deep
MAX_END = 3 << 20  # no array grows past 3 MiB
BIG_BUDGET = 16 << 20  # big writes and holes only while the tree is smaller
XATTR_SIZE_MAX = 65536
KEY_MAX = 246  # HMF attribute keys: 1..246 bytes of UTF-8

COMMON_XATTRS = [b"user.k1", b"user.k2", b"user.k3", b"user.hmf.x",
                 "user.\u00e9t\u00e9".encode()]
LAYOUT_XATTRS = [b"user.hmf.dtype", b"user.hmf.shape", b"user.hmf.order",
                 b"user.hmf.meta"]
ODD_XATTRS = [b"user.", b"user." + b"k" * KEY_MAX,
              b"user." + b"k" * (KEY_MAX + 1), b"user.\xff\xfe",
              b"other.hmfmodel"]
LAYOUT_LISTED = ["user.hmf.dtype", "user.hmf.shape", "user.hmf.order"]

# 1-byte dtypes as the mount accepts them, and their canonical form
DTYPES_1 = {
    b"|u1": "|u1", b"uint8": "|u1", b"u1": "|u1", b"B": "|u1", b"<u1": "|u1",
    b"|i1": "|i1", b"int8": "|i1", b"i1": "|i1", b"b": "|i1",
    b"|b1": "|b1", b"bool": "|b1", b"?": "|b1",
    b"|S1": "|S1", b"S1": "|S1", b"|V1": "|V1",
}
DTYPE_VALUES = list(DTYPES_1) + [b" |u1\n", b"bogus", b"<u3", b"|S0x"]

OPS = [  # (kind, weight)
    ("mkdir", 7), ("create", 8), ("open", 6), ("close", 3), ("reopen", 3),
    ("write", 14), ("pwrite", 5), ("read", 10), ("pread", 5), ("fstat", 3),
    ("stat", 5), ("truncate", 5), ("ftruncate", 3), ("fallocate", 2),
    ("fsync", 1), ("rename", 10), ("unlink", 5), ("rmdir", 4),
    ("chmod", 2), ("fchmod", 1), ("mmap_read", 3), ("mmap_write", 3),
    ("setxattr", 9), ("getxattr", 5), ("removexattr", 3), ("listxattr", 3),
    ("listdir", 4),
]
ACC_FLAGS = {"r": os.O_RDONLY, "w": os.O_WRONLY, "rw": os.O_RDWR}
EXTRA_FLAGS = {"": 0, "append": os.O_APPEND, "direct": os.O_DIRECT}
UMASK = 0o022  # set at start: new modes are predictable
MODES = [0o600, 0o644, 0o755, 0o700, 0o444, 0o640, 0o777, 0o000, 0o751]
RENAME_FLAGS = {"": 0, "noreplace": 1, "exchange": 2}


def ename(e):
    return errno.errorcode.get(e, str(e))


ENOTSUP = ename(errno.ENOTSUP)


class Interrupted(BaseException):
    """A signal asked us to stop: unwind through every finally."""

    def __init__(self, signum):
        BaseException.__init__(self, signum)
        self.signum = signum


# ---- the model ---------------------------------------------------------

class Group:
    def __init__(self, mode=0o755):
        self.children = {}
        self.xattrs = {}  # key (bytes, without "user.") -> value
        self.mode = mode & ~UMASK


class Array:
    def __init__(self, mode=0o644):
        self.data = bytearray()
        self.xattrs = {}
        self.dtype = "|u1"
        self.order = "C"
        self.mode = mode & ~UMASK


class Fd:
    def __init__(self, node, acc, path, extra=""):
        self.node = node
        self.acc = acc
        self.path = path
        self.extra = extra  # "append": every write goes to the end


def too_long(name):
    return len(name.encode()) > 255


def is_reserved(name):
    return name.startswith(".hmf")


def key_ok(key):
    """None, or the errno name of setting attribute @key."""
    if not key:
        return "EINVAL"
    if len(key) > KEY_MAX:
        return "ERANGE"
    try:
        key.decode("utf-8")
    except UnicodeDecodeError:
        return "EINVAL"
    return None


def layout_text(node, part):
    if part == "dtype":
        return node.dtype.encode()
    if part == "shape":
        return b"[%d]" % len(node.data)
    if part == "order":
        return node.order.encode()
    return ('{"dtype":"%s","shape":[%d],"order":"%s"}' % (
        node.dtype, len(node.data), node.order)).encode()


def grow(data, end):
    if end > len(data):
        data.extend(bytes(end - len(data)))


class Model:
    """What a careful local filesystem plus the HMF rules would answer."""

    def __init__(self, root_user):
        self.root = Group()
        self.fds = [None] * SLOTS
        self.root_user = root_user

    # -- walking
    def walk(self, node=None, path=()):
        node = node or self.root
        for name in sorted(node.children):
            child = node.children[name]
            yield path + (name,), child
            if isinstance(child, Group):
                yield from self.walk(child, path + (name,))

    def lookup(self, path):
        """(errno name or None, node or None) for @path."""
        node = self.root
        for name in path:
            if not isinstance(node, Group):
                return "ENOTDIR", None
            if too_long(name):
                return "ENAMETOOLONG", None
            node = node.children.get(name)
            if node is None:
                return "ENOENT", None
        return None, node

    def parent_of(self, path, name_too=True):
        """The group that holds @path, or an errno name; with @name_too
        the last name's length is checked too (its lookup comes next)."""
        err, p = self.lookup(path[:-1])
        if err is None and not isinstance(p, Group):
            err = "ENOTDIR"
        if err is None and name_too and too_long(path[-1]):
            err = "ENAMETOOLONG"
        return err, p

    def total_bytes(self):
        return sum(len(n.data) for _, n in self.walk()
                   if isinstance(n, Array))

    def drop(self, slot):
        self.fds[slot] = None

    # -- operations: each returns a result tuple as Real's do
    def apply(self, op):
        return getattr(self, "op_" + op[0])(*op[1:])

    def op_mkdir(self, path):
        err, p = self.parent_of(path)
        if err:
            return ("ERR", err)
        if path[-1] in p.children:
            return ("ERR", "EEXIST")
        if is_reserved(path[-1]):
            return ("ERR", "EINVAL")
        p.children[path[-1]] = Group()
        return ("OK",)

    def op_create(self, path, slot, acc):
        if slot >= 0:
            self.drop(slot)
        err, p = self.parent_of(path)
        if err:
            return ("ERR", err)
        if path[-1] in p.children:
            return ("ERR", "EEXIST")
        if is_reserved(path[-1]):
            return ("ERR", "EINVAL")
        node = p.children[path[-1]] = Array()
        if slot >= 0:
            self.fds[slot] = Fd(node, acc, path)
        return ("OK",)

    def _open(self, slot, path, acc, trunc, creat, extra):
        err, p = self.parent_of(path)
        if err:
            return ("ERR", err)
        node = p.children.get(path[-1])
        if node is None:
            if not creat:
                return ("ERR", "ENOENT")
            if is_reserved(path[-1]):
                return ("ERR", "EINVAL")
            node = p.children[path[-1]] = Array()
        elif isinstance(node, Group):
            if acc != "r" or trunc or creat:
                return ("ERR", "EISDIR")
            if extra == "direct":  # no O_DIRECT for directories
                return ("ERR", "EINVAL")
            return ("OK", "dir")
        elif trunc and acc != "r":
            del node.data[:]
        self.fds[slot] = Fd(node, acc, path, extra)
        return ("OK",)

    def op_open(self, slot, path, acc, trunc, creat, extra=""):
        self.drop(slot)
        return self._open(slot, path, acc, trunc, creat, extra)

    def op_close(self, slot):
        if self.fds[slot] is None:
            return ("SKIP",)
        self.drop(slot)
        return ("OK",)

    def op_reopen(self, slot):
        f = self.fds[slot]
        if f is None:
            return ("SKIP",)
        self.drop(slot)
        return self._open(slot, f.path, f.acc, False, False, f.extra)

    def op_write(self, slot, off, data):
        f = self.fds[slot]
        if f is None:
            return ("SKIP",)
        if f.acc == "r":
            return ("ERR", "EBADF")
        if f.extra == "append":  # Linux: pwrite on O_APPEND appends anyway
            off = len(f.node.data)
        grow(f.node.data, off)
        f.node.data[off:off + len(data)] = data
        return ("OK", len(data))

    def op_pwrite(self, path, off, data):
        err, node = self.lookup(path)
        if err:
            return ("ERR", err)
        if isinstance(node, Group):
            return ("ERR", "EISDIR")
        grow(node.data, off)
        node.data[off:off + len(data)] = data
        return ("OK", len(data))

    def op_read(self, slot, off, n):
        f = self.fds[slot]
        if f is None:
            return ("SKIP",)
        if f.acc == "w":
            return ("ERR", "EBADF")
        return ("OK", bytes(f.node.data[off:off + n]))

    def op_pread(self, path, off, n):
        err, node = self.lookup(path)
        if err:
            return ("ERR", err)
        if isinstance(node, Group):
            return ("ERR", "EISDIR")
        return ("OK", bytes(node.data[off:off + n]))

    def op_fstat(self, slot):
        f = self.fds[slot]
        if f is None:
            return ("SKIP",)
        return ("OK", len(f.node.data), oct(f.node.mode))

    def op_stat(self, path):
        err, node = self.lookup(path)
        if err:
            return ("ERR", err)
        if isinstance(node, Group):
            return ("OK", "dir", oct(node.mode))
        return ("OK", "file", len(node.data), oct(node.mode))

    def op_chmod(self, path, mode):
        err, node = self.lookup(path)
        if err:
            return ("ERR", err)
        node.mode = mode
        return ("OK",)

    def op_fchmod(self, slot, mode):
        f = self.fds[slot]
        if f is None:
            return ("SKIP",)
        f.node.mode = mode
        return ("OK",)

    def op_mmap_read(self, slot, off, n):
        f = self.fds[slot]
        if f is None or not f.node.data:
            return ("SKIP",)  # nothing to map
        if f.acc == "w":
            return ("ERR", "EACCES")
        return ("OK", bytes(f.node.data[off:off + n]))

    def op_mmap_write(self, slot, off, data):
        f = self.fds[slot]
        if f is None or off >= len(f.node.data):
            return ("SKIP",)  # a mapping cannot grow the file
        if f.acc != "rw":
            return ("ERR", "EACCES")
        n = min(len(data), len(f.node.data) - off)
        f.node.data[off:off + n] = data[:n]
        return ("OK", n)

    @staticmethod
    def _resize(node, size):
        if size < len(node.data):
            del node.data[size:]
        else:
            grow(node.data, size)

    def op_truncate(self, path, size):
        if size < 0:
            return ("ERR", "EINVAL")
        err, node = self.lookup(path)
        if err:
            return ("ERR", err)
        if isinstance(node, Group):
            return ("ERR", "EISDIR")
        self._resize(node, size)
        return ("OK",)

    def op_ftruncate(self, slot, size):
        f = self.fds[slot]
        if f is None:
            return ("SKIP",)
        if size < 0 or f.acc == "r":
            return ("ERR", "EINVAL")
        self._resize(f.node, size)
        return ("OK",)

    def op_fallocate(self, slot, off, n):
        f = self.fds[slot]
        if f is None:
            return ("SKIP",)
        if f.acc == "r":
            return ("ERR", "EBADF")
        grow(f.node.data, off + n)
        return ("OK",)

    def op_fsync(self, slot):
        if self.fds[slot] is None:
            return ("SKIP",)
        return ("OK",)

    def op_rename(self, src, dst, flags):
        err, sp = self.parent_of(src, False)
        if err:
            return ("ERR", err)
        err, dp = self.parent_of(dst, False)
        if err:
            return ("ERR", err)
        if too_long(src[-1]):
            return ("ERR", "ENAMETOOLONG")
        s = sp.children.get(src[-1])
        if s is None:
            return ("ERR", "ENOENT")
        if too_long(dst[-1]):
            return ("ERR", "ENAMETOOLONG")
        d = dp.children.get(dst[-1])
        if flags == "noreplace" and d is not None:
            return ("ERR", "EEXIST")
        if flags == "exchange" and d is None:
            return ("ERR", "ENOENT")
        # the kernel's ancestry checks (lock_rename's trap)
        if len(dst) > len(src) and dst[:len(src)] == src:
            return ("ERR", "EINVAL")
        if len(src) > len(dst) and src[:len(dst)] == dst:
            return ("ERR", "EINVAL" if flags == "exchange" else "ENOTEMPTY")
        if s is d:
            return ("OK",)
        if d is not None and flags == "exchange":
            sp.children[src[-1]], dp.children[dst[-1]] = d, s
            return ("OK",)
        if d is not None:
            if isinstance(s, Group) and isinstance(d, Array):
                return ("ERR", "ENOTDIR")
            if isinstance(s, Array) and isinstance(d, Group):
                return ("ERR", "EISDIR")
            if isinstance(d, Group) and d.children:
                return ("ERR", "ENOTEMPTY")
        elif is_reserved(dst[-1]):
            return ("ERR", "EINVAL")
        del sp.children[src[-1]]
        dp.children[dst[-1]] = s
        return ("OK",)

    def op_unlink(self, path):
        err, p = self.parent_of(path)
        if err:
            return ("ERR", err)
        node = p.children.get(path[-1])
        if node is None:
            return ("ERR", "ENOENT")
        if isinstance(node, Group):
            return ("ERR", "EISDIR")
        del p.children[path[-1]]
        return ("OK",)

    def op_rmdir(self, path):
        err, p = self.parent_of(path)
        if err:
            return ("ERR", err)
        node = p.children.get(path[-1])
        if node is None:
            return ("ERR", "ENOENT")
        if isinstance(node, Array):
            return ("ERR", "ENOTDIR")
        if node.children:
            return ("ERR", "ENOTEMPTY")
        del p.children[path[-1]]
        return ("OK",)

    def other_namespace(self, name, write):
        # trusted.* needs CAP_SYS_ADMIN; the daemon supports only user.*
        if name.startswith(b"trusted.") and not self.root_user:
            return "EPERM" if write else "ENODATA"
        return ENOTSUP

    @staticmethod
    def _layout_part(node, name):
        if isinstance(node, Array) and name.startswith(b"user.hmf."):
            part = name[len(b"user.hmf."):].decode("latin-1")
            if part in ("dtype", "shape", "order", "meta"):
                return part
        return None

    @staticmethod
    def _set_shape(node, shape):
        if not isinstance(shape, list) or len(shape) != 1 or \
                not isinstance(shape[0], int) or isinstance(shape[0], bool) \
                or shape[0] < 0:
            return "EINVAL"
        k = shape[0]
        if k != len(node.data) and len(node.data) != 0:
            return "EINVAL"
        grow(node.data, k)  # an empty array takes the shape, zero-filled
        return None

    def _set_layout(self, node, part, value):
        v = value.strip(b" \t\n\r\x0b\x0c")
        if part == "dtype":
            if v not in DTYPES_1:
                return "EINVAL"
            node.dtype = DTYPES_1[v]
            return None
        if part == "order":
            if v not in (b"C", b"F"):
                return "EINVAL"
            node.order = v.decode()
            return None
        if part == "shape":
            m = re.fullmatch(rb"\[([0-9]{1,9})\]", v)
            if not m:
                return "EINVAL"
            return self._set_shape(node, [int(m.group(1))])
        try:  # meta: a JSON object of dtype, shape and order
            obj = json.loads(v.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return "EINVAL"
        if not isinstance(obj, dict) or \
                set(obj) - {"dtype", "shape", "order"}:
            return "EINVAL"
        dt = obj.get("dtype")
        if dt is not None and (not isinstance(dt, str) or
                               dt.encode() not in DTYPES_1):
            return "EINVAL"
        order = obj.get("order")
        if order is not None and order not in ("C", "F"):
            return "EINVAL"
        if "shape" in obj:
            err = self._set_shape(node, obj["shape"])
            if err:
                return err
        if dt is not None:
            node.dtype = DTYPES_1[dt.encode()]
        if order is not None:
            node.order = order
        return None

    def op_setxattr(self, path, name, value, flags):
        if len(value) > XATTR_SIZE_MAX:
            return ("ERR", "E2BIG")  # the kernel checks before the lookup
        err, node = self.lookup(path)
        if err:
            return ("ERR", err)
        if not name.startswith(b"user."):
            return ("ERR", self.other_namespace(name, True))
        part = self._layout_part(node, name)
        if part:
            if flags & os.XATTR_CREATE:
                return ("ERR", "EEXIST")
            err = self._set_layout(node, part, value)
            return ("ERR", err) if err else ("OK",)
        key = name[5:]
        err = key_ok(key)
        if err:
            return ("ERR", err)
        if (flags & os.XATTR_CREATE) and key in node.xattrs:
            return ("ERR", "EEXIST")
        if (flags & os.XATTR_REPLACE) and key not in node.xattrs:
            return ("ERR", "ENODATA")
        node.xattrs[key] = bytes(value)
        return ("OK",)

    def op_getxattr(self, path, name):
        err, node = self.lookup(path)
        if err:
            return ("ERR", err)
        if not name.startswith(b"user."):
            return ("ERR", self.other_namespace(name, False))
        part = self._layout_part(node, name)
        if part:
            return ("OK", layout_text(node, part))
        if name[5:] not in node.xattrs:
            return ("ERR", "ENODATA")
        return ("OK", node.xattrs[name[5:]])

    def op_removexattr(self, path, name):
        err, node = self.lookup(path)
        if err:
            return ("ERR", err)
        if not name.startswith(b"user."):
            return ("ERR", self.other_namespace(name, True))
        if self._layout_part(node, name):
            return ("ERR", "EPERM")
        if name[5:] not in node.xattrs:
            return ("ERR", "ENODATA")
        del node.xattrs[name[5:]]
        return ("OK",)

    @staticmethod
    def xattr_list(node):
        names = [os.fsdecode(b"user." + k) for k in node.xattrs]
        if isinstance(node, Array):
            names += LAYOUT_LISTED
        return sorted(names)

    def op_listxattr(self, path):
        err, node = self.lookup(path)
        if err:
            return ("ERR", err)
        return ("OK", self.xattr_list(node))

    def op_listdir(self, path):
        err, node = self.lookup(path)
        if err:
            return ("ERR", err)
        if isinstance(node, Array):
            return ("ERR", "ENOTDIR")
        return ("OK", sorted(node.children))


# ---- the real file system ------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_renameat2 = _libc.renameat2
_renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                       ctypes.c_char_p, ctypes.c_uint]
AT_FDCWD = -100


def renameat2(old, new, flags):
    if _renameat2(AT_FDCWD, os.fsencode(old), AT_FDCWD, os.fsencode(new),
                  flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


class Real:
    """The same operations on the mount."""

    def __init__(self, mnt):
        self.mnt = mnt
        self.fds = [None] * SLOTS  # (fd, acc, path)

    def p(self, path):
        return os.path.join(self.mnt, *path) if path else self.mnt

    def apply(self, op):
        try:
            return getattr(self, "op_" + op[0])(*op[1:])
        except OSError as e:
            return ("ERR", ename(e.errno))

    def drop(self, slot):
        f = self.fds[slot]
        self.fds[slot] = None
        if f is not None:
            os.close(f[0])  # an error here is a mismatch (the model: none)

    def close_all(self):
        errs = []
        for slot in range(SLOTS):
            try:
                self.drop(slot)
            except OSError as e:
                errs.append("close of fd%d: %s" % (slot, ename(e.errno)))
        return errs

    def op_mkdir(self, path):
        os.mkdir(self.p(path), 0o755)
        return ("OK",)

    def op_create(self, path, slot, acc):
        if slot >= 0:
            self.drop(slot)
        fd = os.open(self.p(path), os.O_CREAT | os.O_EXCL | ACC_FLAGS[acc],
                     0o644)
        if slot >= 0:
            self.fds[slot] = (fd, acc, path, "")
        else:
            os.close(fd)
        return ("OK",)

    def _open(self, slot, path, acc, trunc, creat, extra):
        flags = ACC_FLAGS[acc] | (os.O_TRUNC if trunc else 0) | \
            (os.O_CREAT if creat else 0) | EXTRA_FLAGS[extra]
        fd = os.open(self.p(path), flags, 0o644)
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            os.close(fd)
            return ("OK", "dir")
        self.fds[slot] = (fd, acc, path, extra)
        return ("OK",)

    def op_open(self, slot, path, acc, trunc, creat, extra=""):
        self.drop(slot)
        return self._open(slot, path, acc, trunc, creat, extra)

    def op_close(self, slot):
        if self.fds[slot] is None:
            return ("SKIP",)
        self.drop(slot)
        return ("OK",)

    def op_reopen(self, slot):
        f = self.fds[slot]
        if f is None:
            return ("SKIP",)
        self.drop(slot)
        return self._open(slot, f[2], f[1], False, False, f[3])

    def op_write(self, slot, off, data):
        if self.fds[slot] is None:
            return ("SKIP",)
        return ("OK", os.pwrite(self.fds[slot][0], data, off))

    def op_pwrite(self, path, off, data):
        fd = os.open(self.p(path), os.O_WRONLY)
        try:
            return ("OK", os.pwrite(fd, data, off))
        finally:
            os.close(fd)

    def op_read(self, slot, off, n):
        if self.fds[slot] is None:
            return ("SKIP",)
        return ("OK", os.pread(self.fds[slot][0], n, off))

    def op_pread(self, path, off, n):
        fd = os.open(self.p(path), os.O_RDONLY)
        try:
            return ("OK", os.pread(fd, n, off))
        finally:
            os.close(fd)

    def op_fstat(self, slot):
        if self.fds[slot] is None:
            return ("SKIP",)
        st = os.fstat(self.fds[slot][0])
        return ("OK", st.st_size, oct(stat.S_IMODE(st.st_mode)))

    def op_stat(self, path):
        st = os.stat(self.p(path))
        if stat.S_ISDIR(st.st_mode):
            return ("OK", "dir", oct(stat.S_IMODE(st.st_mode)))
        return ("OK", "file", st.st_size, oct(stat.S_IMODE(st.st_mode)))

    def op_chmod(self, path, mode):
        os.chmod(self.p(path), mode)
        return ("OK",)

    def op_fchmod(self, slot, mode):
        if self.fds[slot] is None:
            return ("SKIP",)
        os.fchmod(self.fds[slot][0], mode)
        return ("OK",)

    def _map(self, slot, prot):
        """(mapping, size) of a slot's file, or a SKIP result."""
        fd = self.fds[slot][0]
        size = os.fstat(fd).st_size
        if size == 0:
            return None, 0
        return mmap.mmap(fd, size, mmap.MAP_SHARED, prot), size

    def op_mmap_read(self, slot, off, n):
        if self.fds[slot] is None:
            return ("SKIP",)
        m, size = self._map(slot, mmap.PROT_READ)
        if m is None:
            return ("SKIP",)
        try:
            return ("OK", m[off:off + n])
        finally:
            m.close()

    def op_mmap_write(self, slot, off, data):
        if self.fds[slot] is None:
            return ("SKIP",)
        size = os.fstat(self.fds[slot][0]).st_size
        if off >= size:
            return ("SKIP",)
        m, size = self._map(slot, mmap.PROT_READ | mmap.PROT_WRITE)
        try:
            n = min(len(data), size - off)
            m[off:off + n] = data[:n]
            m.flush()  # msync(MS_SYNC): written back through the daemon
            return ("OK", n)
        finally:
            m.close()

    def op_truncate(self, path, size):
        os.truncate(self.p(path), size)
        return ("OK",)

    def op_ftruncate(self, slot, size):
        if self.fds[slot] is None:
            return ("SKIP",)
        os.ftruncate(self.fds[slot][0], size)
        return ("OK",)

    def op_fallocate(self, slot, off, n):
        if self.fds[slot] is None:
            return ("SKIP",)
        os.posix_fallocate(self.fds[slot][0], off, n)
        return ("OK",)

    def op_fsync(self, slot):
        if self.fds[slot] is None:
            return ("SKIP",)
        os.fsync(self.fds[slot][0])
        return ("OK",)

    def op_rename(self, src, dst, flags):
        if flags:
            renameat2(self.p(src), self.p(dst), RENAME_FLAGS[flags])
        else:
            os.rename(self.p(src), self.p(dst))
        return ("OK",)

    def op_unlink(self, path):
        os.unlink(self.p(path))
        return ("OK",)

    def op_rmdir(self, path):
        os.rmdir(self.p(path))
        return ("OK",)

    def op_setxattr(self, path, name, value, flags):
        os.setxattr(self.p(path), name, value, flags)
        return ("OK",)

    def op_getxattr(self, path, name):
        return ("OK", os.getxattr(self.p(path), name))

    def op_removexattr(self, path, name):
        os.removexattr(self.p(path), name)
        return ("OK",)

    def op_listxattr(self, path):
        return ("OK", sorted(os.listxattr(self.p(path))))

    def op_listdir(self, path):
        return ("OK", sorted(os.listdir(self.p(path))))


# ---- whole-tree comparisons ---------------------------------------------

def read_all(path):
    with open(path, "rb") as f:
        return f.read()


def check_mount(model, real):
    """Differences between the model and the tree seen through the mount."""
    diffs = []

    def cmp(what, exp, got):
        if exp != got:
            diffs.append("%s: expected %s, got %s" % (what, short(exp),
                                                      short(got)))

    def node_xattrs(path, node):
        rp = real.p(path)
        try:
            got = sorted(os.listxattr(rp))
        except OSError as e:
            got = ename(e.errno)
        cmp("listxattr /%s" % "/".join(path), model.xattr_list(node), got)
        for k, v in node.xattrs.items():
            try:
                g = os.getxattr(rp, b"user." + k)
            except OSError as e:
                g = ename(e.errno)
            cmp("xattr user.%r of /%s" % (k, "/".join(path)), v, g)
        if isinstance(node, Array):
            for part in ("dtype", "shape", "order", "meta"):
                try:
                    g = os.getxattr(rp, "user.hmf." + part)
                except OSError as e:
                    g = ename(e.errno)
                cmp("user.hmf.%s of /%s" % (part, "/".join(path)),
                    layout_text(node, part), g)

    def walk(path, group):
        try:
            got = sorted(os.listdir(real.p(path)))
        except OSError as e:
            got = ename(e.errno)
        cmp("listdir /%s" % "/".join(path), sorted(group.children), got)
        node_xattrs(path, group)
        for name in sorted(group.children):
            child, cp = group.children[name], path + (name,)
            try:
                st = os.stat(real.p(cp))
            except OSError as e:
                diffs.append("stat /%s: %s" % ("/".join(cp),
                                               ename(e.errno)))
                continue
            cmp("mode of /%s" % "/".join(cp), oct(child.mode),
                oct(stat.S_IMODE(st.st_mode)))
            if isinstance(child, Group):
                cmp("kind of /%s" % "/".join(cp), True,
                    stat.S_ISDIR(st.st_mode))
                walk(cp, child)
                continue
            cmp("kind of /%s" % "/".join(cp), True, stat.S_ISREG(st.st_mode))
            cmp("size of /%s" % "/".join(cp), len(child.data), st.st_size)
            try:
                got = read_all(real.p(cp))
            except OSError as e:
                got = ename(e.errno)
            cmp("bytes of /%s" % "/".join(cp), bytes(child.data), got)
            node_xattrs(cp, child)

    walk((), model.root)
    # the descriptors kept open, including those of removed arrays
    for slot, f in enumerate(model.fds):
        if f is None or real.fds[slot] is None:
            cmp("fd%d open" % slot, f is not None, real.fds[slot] is not None)
            continue
        fd = real.fds[slot][0]
        try:
            got = os.fstat(fd).st_size
        except OSError as e:
            got = ename(e.errno)
        cmp("fstat of fd%d" % slot, len(f.node.data), got)
        if f.acc != "w":
            try:
                got = os.pread(fd, len(f.node.data) + 10, 0)
            except OSError as e:
                got = ename(e.errno)
            cmp("bytes of fd%d" % slot, bytes(f.node.data), got)
    return diffs


def attr_value(v):
    if isinstance(v, str):
        return v.encode("utf-8")
    return base64.b64decode(v["base64"])


def check_backing(model, root, final):
    """Differences between the model and the backing root's files. With
    @final (unmounted, every file closed), stored shapes must be exact."""
    diffs = []

    def meta_of(d, what):
        try:
            with open(os.path.join(d, ".hmf"), "rb") as f:
                return json.load(f)
        except (OSError, ValueError) as e:
            diffs.append("%s/.hmf: %s" % (what, e))
            return None

    def walk(d, path, node):
        what = "ROOT/" + "/".join(path)
        m = meta_of(d, what)
        if m is None:
            return
        kind = "group" if isinstance(node, Group) else "array"
        if m.get("kind") != kind:
            diffs.append("%s: kind %s, expected %s" % (what, m.get("kind"),
                                                      kind))
            return
        try:
            attrs = {k.encode("utf-8"): attr_value(v)
                     for k, v in m.get("attributes", {}).items()}
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            attrs = "bad attributes: %s" % e
        if attrs != node.xattrs:
            diffs.append("%s: attributes %s, expected %s" % (
                what, short(attrs), short(node.xattrs)))
        ents = set(os.listdir(d))
        try:  # a group's mode is its directory's, an array's its data's
            mode = oct(stat.S_IMODE(os.stat(os.path.join(
                d, "data" if isinstance(node, Array) else "")).st_mode))
        except OSError as e:
            mode = ename(e.errno)
        if mode != oct(node.mode):
            diffs.append("%s: mode %s, expected %s" % (what, mode,
                                                      oct(node.mode)))
        if isinstance(node, Array):
            if ents != {".hmf", "data"}:
                diffs.append("%s: entries %s" % (what, sorted(ents)))
            shape = m.get("shape")
            if m.get("dtype") != node.dtype or m.get("order") != node.order \
                    or not isinstance(shape, list) or len(shape) != 1 or \
                    (final and shape != [len(node.data)]):
                diffs.append("%s: dtype %s shape %s order %s, expected "
                             "%s [%d] %s" % (what, m.get("dtype"), shape,
                                             m.get("order"), node.dtype,
                                             len(node.data), node.order))
            try:
                got = read_all(os.path.join(d, "data"))
            except OSError as e:
                got = ename(e.errno)
            if got != bytes(node.data):
                diffs.append("%s/data: %s, expected %s" % (
                    what, short(got), short(bytes(node.data))))
            return
        want = {".hmf"} | set(node.children)
        if not path:
            want.add(".hmf.d")
        if ents != want:
            diffs.append("%s: entries %s, expected %s" % (
                what, sorted(ents), sorted(want)))
        for name in sorted(set(node.children) & ents):
            walk(os.path.join(d, name), path + (name,), node.children[name])

    walk(root, (), model.root)
    return diffs


# ---- generating operations ------------------------------------------------

class Gen:
    def __init__(self, seed, root_user):
        self.rng = random.Random(seed)
        self.m = Model(root_user)
        self.root_user = root_user

    def nodes(self, kind=None):
        return [p for p, n in self.m.walk()
                if kind is None or isinstance(n, kind)]

    def groups(self):
        return [()] + self.nodes(Group)

    def name(self):
        r = self.rng.random()
        if r < 0.92:
            return self.rng.choice(NAMES)
        if r < 0.97:
            return self.rng.choice(ODD_NAMES)
        return RESERVED_NAME

    def mode(self):
        # the model knows no permission checks: they never deny root, and
        # never the owner with rwx
        m = self.rng.choice(MODES)
        return m if self.root_user else m | 0o700

    def bad_path(self):
        arrays = self.nodes(Array)
        if arrays and self.rng.random() < 0.5:
            return self.rng.choice(arrays) + (self.rng.choice(NAMES),)
        return self.rng.choice(self.groups()) + (MISSING_DIR,
                                                 self.rng.choice(NAMES))

    def target(self):
        """A name in an existing group (new or not), sometimes a bad one."""
        if self.rng.random() < 0.93:
            gs = [g for g in self.groups() if len(g) < MAX_DEPTH]
            return self.rng.choice(gs) + (self.name(),)
        return self.bad_path()

    def existing(self, kind=None, p=0.85):
        cand = self.nodes(kind)
        if cand and self.rng.random() < p:
            return self.rng.choice(cand)
        return self.target()

    def slot(self, need=None):
        """A slot, mostly an open one with access @need (r, w or rw)."""
        open_ = [i for i, f in enumerate(self.m.fds) if f is not None and
                 (need is None or need in f.acc)]
        if open_ and self.rng.random() < 0.9:
            return self.rng.choice(open_)
        return self.rng.randrange(SLOTS)

    def data_len(self, big):
        r = self.rng.random()
        if r < 0.6 or not big:
            return self.rng.randint(1, 64) if r < 0.8 else \
                self.rng.randint(65, 8192)
        if r < 0.9:
            return self.rng.randint(65, 8192)
        if r < 0.98:
            return self.rng.randint(8193, 200000)
        return self.rng.randint(200001, 1300000)

    def data(self, n):
        r = self.rng.random()
        if r < 0.15:
            return bytes([self.rng.randrange(256)]) * n
        return self.rng.randbytes(n)

    def offset(self, size, big):
        r = self.rng.random()
        if r < 0.35:
            return self.rng.randint(0, size)
        if r < 0.6:
            return size
        if r < 0.75:
            return max(0, self.rng.choice([4096, 8192, 65536, 131072,
                                           1 << 20]) +
                       self.rng.randint(-3, 3))
        if r < 0.85 or not big:
            return size + self.rng.randint(1, 300)
        return size + self.rng.randint(1, 200000)

    def size_of(self, path_or_slot):
        if isinstance(path_or_slot, int):
            f = self.m.fds[path_or_slot]
            node = f.node if f else None
        else:
            node = self.m.lookup(path_or_slot)[1]
        return len(node.data) if isinstance(node, Array) else 0

    def write_args(self, size):
        big = self.m.total_bytes() < BIG_BUDGET
        off = self.offset(size, big)
        n = self.data_len(big)
        off = min(off, MAX_END - 1)
        n = max(1, min(n, MAX_END - off))
        return off, self.data(n)

    def new_size(self, size):
        r = self.rng.random()
        big = self.m.total_bytes() < BIG_BUDGET
        if r < 0.12:
            return 0
        if r < 0.4:
            return self.rng.randint(0, size)
        if r < 0.5:
            return size
        if r < 0.6:
            return self.rng.choice([4095, 4096, 4097, 65536])
        if r < 0.62:
            return -1
        if r < 0.95 or not big:
            return size + self.rng.randint(1, 5000)
        return min(MAX_END, size + self.rng.randint(5001, 1 << 20))

    def read_args(self, size):
        r = self.rng.random()
        if r < 0.2:
            off, n = 0, size + self.rng.randint(0, 100)
        elif r < 0.8:
            off = self.rng.randint(0, size + 10)
            n = self.rng.randint(1, 5000)
        else:
            off = self.rng.randint(0, size + 10)
            n = self.rng.randint(1, 1 << 20)
        return off, max(1, min(n, 2 << 20))

    def xattr_name(self):
        r = self.rng.random()
        if r < 0.65:
            return self.rng.choice(COMMON_XATTRS)
        if r < 0.9:
            return self.rng.choice(LAYOUT_XATTRS)
        if r < 0.97:
            return self.rng.choice(ODD_XATTRS)
        return b"trusted.hmfmodel"

    def xattr_value(self, node, name, exists):
        rng = self.rng
        if isinstance(node, Array) and name in LAYOUT_XATTRS:
            part = name[len(b"user.hmf."):]
            size = len(node.data)
            r = rng.random()
            if r < 0.08:
                return rng.randbytes(rng.randint(0, 8))
            if part == b"dtype":
                return rng.choice(DTYPE_VALUES)
            if part == b"order":
                return rng.choice([b"C", b"F", b"F\n", b" C", b"X", b"CF"])
            if part == b"shape":
                k = rng.choice([size, size, rng.randint(0, 5000),
                                rng.randint(0, 70000)])
                if r < 0.15:
                    return b"[x]"
                if r < 0.2 and size >= 2:
                    return b"[]"
                return b"[%d]" % k
            k = rng.choice([size, rng.randint(0, 3000)])
            return rng.choice([
                b'{"order":"F"}', b'{"order":"C"}', b"{}",
                b'{"dtype":"|i1"}', b'{"dtype":"|u1","order":"C"}',
                b'{"shape":[%d]}' % k,
                b'{"dtype":"|u1","shape":[%d],"order":"C"}' % k,
                b'{"x":1}', b"[1]", b'{"order":"Q"}', b'{"dtype":"<u3"}'])
        r = rng.random()
        if r < 0.05:
            return b""
        if r < 0.45:
            return bytes(rng.choice(b"abcdefghij 0123456789_-")
                         for _ in range(rng.randint(1, 40)))
        if r < 0.55:
            return "\u00e9t\u00e9 \u20ac\U0001f600 ok".encode()[
                :rng.randint(1, 16)]
        if r < 0.8:
            return rng.randbytes(rng.randint(1, 64))
        if r < 0.97 or not exists:
            return rng.randbytes(rng.randint(65, 4000))
        return rng.randbytes(rng.choice([XATTR_SIZE_MAX, XATTR_SIZE_MAX + 1,
                                         rng.randint(4001, XATTR_SIZE_MAX)]))

    def rename_args(self):
        rng = self.rng
        src = self.existing(p=0.92)
        err, s = self.m.lookup(src)
        r = rng.random()
        if r < 0.35 or s is None:
            dst = self.target()
        elif r < 0.55:
            same = self.nodes(type(s))
            dst = rng.choice(same) if same else self.target()
        elif r < 0.65:
            dst = self.existing()
        elif r < 0.72:
            dst = src + (rng.choice(NAMES),)
        elif r < 0.78:
            dst = src[:rng.randint(1, len(src) - 1)] if len(src) >= 2 \
                else self.target()
        elif r < 0.8:
            dst = src
        else:
            dst = src[:-1] + (self.name(),)
        f = rng.random()
        flags = "" if f < 0.7 else "noreplace" if f < 0.88 else "exchange"
        return src, dst, flags

    def op(self):
        rng = self.rng
        kinds, weights = zip(*OPS)
        k = rng.choices(kinds, weights)[0]
        if k == "mkdir":
            return (k, self.existing(p=0.1))
        if k == "create":
            slot = rng.randrange(SLOTS) if rng.random() < 0.6 else -1
            return (k, self.existing(p=0.08), slot, rng.choice(["w", "rw"]))
        if k == "open":
            acc = rng.choice(["r", "r", "w", "rw", "rw"])
            trunc = acc != "r" and rng.random() < 0.12
            e = rng.random()
            extra = "append" if e < 0.08 and acc != "r" else \
                "direct" if e < 0.16 else ""
            return (k, rng.randrange(SLOTS), self.existing(Array, 0.85), acc,
                    trunc, rng.random() < 0.15, extra)
        if k in ("close", "reopen", "fstat", "fsync"):
            return (k, self.slot())
        if k == "chmod":
            return (k, () if rng.random() < 0.03 else self.existing(),
                    self.mode())
        if k == "fchmod":
            return (k, self.slot(), self.mode())
        if k == "mmap_read":
            slot = self.slot("r")
            return (k, slot) + self.read_args(self.size_of(slot))
        if k == "mmap_write":
            slot = self.slot("rw")
            size = self.size_of(slot)
            off = rng.randint(0, max(0, size - 1))
            return (k, slot, off, self.data(rng.randint(1, 9000)))
        if k == "write":
            slot = self.slot("w")
            return (k, slot) + self.write_args(self.size_of(slot))
        if k == "pwrite":
            path = self.existing(Array, 0.9)
            return (k, path) + self.write_args(self.size_of(path))
        if k == "read":
            slot = self.slot("r")
            return (k, slot) + self.read_args(self.size_of(slot))
        if k == "pread":
            path = self.existing(Array, 0.9)
            return (k, path) + self.read_args(self.size_of(path))
        if k == "stat":
            return (k, () if rng.random() < 0.05 else self.existing())
        if k == "truncate":
            path = self.existing(Array, 0.88)
            return (k, path, self.new_size(self.size_of(path)))
        if k == "ftruncate":
            slot = self.slot("w")
            return (k, slot, self.new_size(self.size_of(slot)))
        if k == "fallocate":
            slot = self.slot("w")
            size = self.size_of(slot)
            off = rng.randint(0, size + 5000)
            return (k, slot, off, max(1, min(rng.randint(1, 20000),
                                             MAX_END - off)))
        if k == "rename":
            return (k,) + self.rename_args()
        if k == "unlink":
            r = rng.random()
            return (k, self.existing(Array) if r < 0.75 else
                    self.existing(Group) if r < 0.88 else self.target())
        if k == "rmdir":
            r = rng.random()
            return (k, self.existing(Group) if r < 0.75 else
                    self.existing(Array) if r < 0.88 else self.target())
        if k in ("setxattr", "getxattr", "removexattr", "listxattr"):
            path = () if rng.random() < 0.1 else self.existing(p=0.93)
            node = self.m.lookup(path)[1]
            if k == "listxattr":
                return (k, path)
            name = self.xattr_name()
            if node is not None and node.xattrs and rng.random() < 0.4:
                name = b"user." + rng.choice(sorted(node.xattrs))
            if k != "setxattr":
                return (k, path, name)
            if node is None and name not in COMMON_XATTRS:
                name = COMMON_XATTRS[0]  # no E2BIG/ERANGE before ENOENT
            f = rng.random()
            flags = 0 if f < 0.7 else os.XATTR_CREATE if f < 0.85 else \
                os.XATTR_REPLACE
            return (k, path, name, self.xattr_value(node, name,
                                                    node is not None), flags)
        if k == "listdir":
            return (k, () if rng.random() < 0.15 else self.existing(Group))
        raise AssertionError(k)

    def ops(self, count):
        out = []
        for _ in range(count):
            op = self.op()
            self.m.apply(op)
            out.append(op)
        return out


# ---- printing and saving -------------------------------------------------

def short(v, limit=160):
    s = repr(v)
    if isinstance(v, (bytes, bytearray)) and len(v) > 48:
        s = "<%d bytes sha1 %s: %r...>" % (
            len(v), hashlib.sha1(v).hexdigest()[:10], bytes(v[:24]))
    return s if len(s) <= limit else s[:limit] + "...(%d chars)" % len(s)


def fmt_path(p):
    return "/" + "/".join(p)


def fmt_op(op):
    k = op[0]
    if k in ("mkdir", "stat", "unlink", "rmdir", "listdir", "listxattr"):
        return "%s %s" % (k, fmt_path(op[1]))
    if k == "create":
        return "create %s%s (O_CREAT|O_EXCL, %s)" % (
            fmt_path(op[1]), " as fd%d" % op[2] if op[2] >= 0 else "", op[3])
    if k == "open":
        fl = [op[3]] + (["O_TRUNC"] if op[4] else []) + \
            (["O_CREAT"] if op[5] else []) + \
            (["O_" + op[6].upper()] if op[6:] and op[6] else [])
        return "open fd%d = %s (%s)" % (op[1], fmt_path(op[2]), ", ".join(fl))
    if k in ("close", "reopen", "fstat", "fsync"):
        return "%s fd%d" % (k, op[1])
    if k == "chmod":
        return "chmod %s %o" % (fmt_path(op[1]), op[2])
    if k == "fchmod":
        return "fchmod fd%d %o" % (op[1], op[2])
    if k == "mmap_read":
        return "mmap fd%d, read @%d +%d" % (op[1], op[2], op[3])
    if k == "mmap_write":
        return "mmap fd%d, write @%d %s, msync" % (op[1], op[2], short(op[3]))
    if k == "write":
        return "pwrite fd%d @%d %s" % (op[1], op[2], short(op[3]))
    if k == "pwrite":
        return "pwrite %s @%d %s" % (fmt_path(op[1]), op[2], short(op[3]))
    if k == "read":
        return "pread fd%d @%d +%d" % (op[1], op[2], op[3])
    if k == "pread":
        return "pread %s @%d +%d" % (fmt_path(op[1]), op[2], op[3])
    if k == "truncate":
        return "truncate %s %d" % (fmt_path(op[1]), op[2])
    if k == "ftruncate":
        return "ftruncate fd%d %d" % (op[1], op[2])
    if k == "fallocate":
        return "posix_fallocate fd%d @%d +%d" % (op[1], op[2], op[3])
    if k == "rename":
        return "rename %s -> %s%s" % (fmt_path(op[1]), fmt_path(op[2]),
                                      " [%s]" % op[3] if op[3] else "")
    if k == "setxattr":
        fl = {0: "", os.XATTR_CREATE: " [XATTR_CREATE]",
              os.XATTR_REPLACE: " [XATTR_REPLACE]"}[op[4]]
        return "setxattr %s %s = %s%s" % (fmt_path(op[1]), short(op[2], 40),
                                          short(op[3]), fl)
    if k in ("getxattr", "removexattr"):
        return "%s %s %s" % (k, fmt_path(op[1]), short(op[2], 40))
    return repr(op)


def op_to_json(op):
    return [{"b": x.hex()} if isinstance(x, (bytes, bytearray)) else
            list(x) if isinstance(x, tuple) else x for x in op]


def dump_ops(path, ops, **info):
    """Save @ops as JSON, one op a line (what --replay reads)."""
    with open(path, "w") as f:
        f.write("{\n")
        for k, v in info.items():
            f.write(" %s: %s,\n" % (json.dumps(k), json.dumps(v)))
        f.write(' "ops": [\n  %s\n ]\n}\n' % ",\n  ".join(
            json.dumps(op_to_json(op), ensure_ascii=False) for op in ops))


def op_from_json(j):
    return tuple(bytes.fromhex(x["b"]) if isinstance(x, dict) else
                 tuple(x) if isinstance(x, list) else x for x in j)


# ---- mounting -------------------------------------------------------------

def is_mounted(mnt):
    try:
        with open("/proc/self/mounts") as f:
            return any(line.split()[1] == mnt for line in f)
    except OSError:
        return False


ACTIVE = []  # mounts to clean up, whatever happens


class Mount:
    """A fresh root and a running daemon on a fresh mountpoint."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.base = os.path.realpath(tempfile.mkdtemp(prefix="hmf-model."))
        self.root = os.path.join(self.base, "root")
        self.mnt = os.path.join(self.base, "mnt")
        self.logpath = os.path.join(self.base, "daemon.log")
        self.proc = None
        self.keep = False
        ACTIVE.append(self)
        os.mkdir(self.mnt)
        args = [cfg.mount_bin, self.root, self.mnt, "-f", "-o", "create"]
        if cfg.single:
            args.append("-s")
        if cfg.nofile:  # few fds: the daemon evicts inodes (DESIGN 8)
            args = ["prlimit", "--nofile=%d:%d" % (cfg.nofile, cfg.nofile),
                    "--"] + args
        with open(self.logpath, "wb") as log:
            self.proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)  # our signals are for us
        deadline = time.monotonic() + cfg.mount_timeout
        while not is_mounted(self.mnt):
            if self.proc.poll() is not None:
                raise RuntimeError("hmf-mount exited %d before mounting:\n%s"
                                   % (self.proc.returncode, self.log()))
            if time.monotonic() > deadline:
                raise RuntimeError("%s not mounted after %d s:\n%s" % (
                    self.mnt, cfg.mount_timeout, self.log()))
            time.sleep(0.02)

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def unmount(self):
        """Unmount cleanly; a list of problems (empty when all is well)."""
        errs = []
        r = subprocess.run(["fusermount3", "-u", self.mnt],
                           capture_output=True, text=True)
        if r.returncode != 0:
            errs.append("fusermount3 -u: %s" % r.stderr.strip())
            return errs
        try:
            rc = self.proc.wait(self.cfg.unmount_timeout)
        except subprocess.TimeoutExpired:
            errs.append("daemon still running %d s after unmount" %
                        self.cfg.unmount_timeout)
            return errs
        if rc != 0:
            errs.append("daemon exited %d after unmount" % rc)
        if re.search(SANITIZER_RE, self.log()):
            errs.append("sanitizer report in the daemon log")
        return errs

    def cleanup(self):
        """Always: unmount (lazily if need be), stop the daemon, remove."""
        if is_mounted(self.mnt):
            for args in (["fusermount3", "-u", self.mnt],
                         ["fusermount3", "-uz", self.mnt],
                         ["umount", "-l", self.mnt]):
                if subprocess.run(args, capture_output=True).returncode == 0:
                    break
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        if is_mounted(self.mnt):
            subprocess.run(["umount", "-l", self.mnt], capture_output=True)
        if self.keep:
            print("kept: %s (root, mnt, daemon.log)" % self.base)
        elif not is_mounted(self.mnt):
            shutil.rmtree(self.base, ignore_errors=True)
        else:
            print("cannot unmount %s: left in place" % self.mnt)
        if self in ACTIVE:
            ACTIVE.remove(self)

    def kill_daemon(self):
        """A hung request: killing the daemon aborts the connection."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()


class Watchdog:
    """Kills the daemon when one operation takes longer than @limit s."""

    def __init__(self, limit):
        self.limit = limit
        self.mount = None
        self.started = None
        self.fired = None
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def arm(self, mount, what):
        self.mount, self.what, self.started = mount, what, time.monotonic()

    def disarm(self):
        self.started = None

    def run(self):
        while not self.stop.wait(1):
            s, m = self.started, self.mount
            if s is not None and m is not None and \
                    time.monotonic() - s > self.limit:
                self.fired = "%s took over %d s: daemon killed" % (
                    self.what, self.limit)
                print("model: " + self.fired, flush=True)
                m.kill_daemon()
                self.started = None


# ---- running ---------------------------------------------------------------

class Failure:
    def __init__(self, index, what, details, sig):
        self.index = index  # the op after which it showed
        self.what = what
        self.details = details
        self.sig = sig  # what the shrinker keeps failing the same way
        self.log = ""

    def __str__(self):
        s = "after op %d: %s\n  %s" % (self.index, self.what,
                                       "\n  ".join(self.details[:20]))
        if len(self.details) > 20:
            s += "\n  ... %d more" % (len(self.details) - 20)
        return s


def full_check(model, real, mount, index, final):
    diffs = check_mount(model, real)
    diffs += check_backing(model, mount.root, False)
    if diffs:
        return Failure(index, "whole-tree check (final)" if final else
                       "whole-tree check", diffs, ("check",))
    return None


def run_ops(ops, cfg, watchdog, check_every, keep=False, stats=None):
    """Run @ops on a fresh mount; None, or the first Failure."""
    model = Model(os.geteuid() == 0)
    mount = Mount(cfg)
    real = Real(mount.mnt)
    fail = None
    try:
        for i, op in enumerate(ops):
            watchdog.arm(mount, "op %d (%s)" % (i, fmt_op(op)))
            exp = model.apply(op)
            got = real.apply(op)
            watchdog.disarm()
            if stats is not None:
                key = (op[0], exp[0] if exp[0] != "ERR" else exp[1])
                stats[key] = stats.get(key, 0) + 1
            if exp != got:
                fail = Failure(i, fmt_op(op), [
                    "expected %s" % short(exp, 300),
                    "got      %s" % short(got, 300)],
                    (op[0], exp[0], got[0], got[1] if got[0] == "ERR" else
                     None))
                break
            if check_every and (i + 1) % check_every == 0:
                watchdog.arm(mount, "check after op %d" % i)
                fail = full_check(model, real, mount, i, False)
                watchdog.disarm()
                if fail:
                    break
        if fail is None:
            i = len(ops) - 1
            watchdog.arm(mount, "final check")
            fail = full_check(model, real, mount, i, True)
            if fail is None:
                errs = real.close_all()
                for slot in range(SLOTS):
                    model.drop(slot)
                errs += mount.unmount()
                if not errs:
                    errs = check_backing(model, mount.root, True)
                if not errs and cfg.cli:
                    r = subprocess.run([cfg.cli, "fsck", mount.root],
                                       capture_output=True, text=True)
                    if r.returncode != 0:
                        errs = ["hmf fsck exited %d:" % r.returncode] + \
                            (r.stdout + r.stderr).strip().splitlines()
                if errs:
                    fail = Failure(i, "at the end", errs, ("end",))
            watchdog.disarm()
        if fail is not None:
            if watchdog.fired:
                fail.details.append(watchdog.fired)
                watchdog.fired = None
            fail.log = mount.log()
            mount.keep = keep
        return fail
    finally:
        watchdog.disarm()
        real.close_all()
        mount.cleanup()


def shrink(ops, fail, cfg, watchdog):
    """The shortest failing prefix, then ddmin on it (time-bounded)."""
    deadline = time.monotonic() + cfg.shrink_seconds
    runs = [0]

    def fails(cand):
        """Fails as @fail did: the same op and outcome (no slipping to
        another bug while shrinking)."""
        runs[0] += 1
        f = run_ops(cand, cfg, watchdog, 0)
        return f is not None and (f.sig == fail.sig or
                                  fail.sig in (("check",), ("end",)))

    hi = fail.index + 1
    if not fails(ops[:hi]):
        # ops[:hi] ends with the same whole-tree checks: a timing-dependent
        # failure, then; give it two more chances
        for _ in range(2):
            if fails(ops[:hi]):
                break
        else:
            print("model: the failure does not reproduce on a fresh mount "
                  "(timing-dependent?): not shrunk")
            return ops[:hi], runs[0]
    lo = 0  # ops[:lo] passes (the empty list does)
    while hi - lo > 1 and time.monotonic() < deadline:
        mid = (lo + hi) // 2
        if fails(ops[:mid]):
            hi = mid
        else:
            lo = mid
    cur = ops[:hi]
    print("model: shortest failing prefix: %d ops (%d runs)" % (len(cur),
                                                                runs[0]),
          flush=True)
    # ddmin: drop chunks of ops while it still fails
    n = 2
    while len(cur) > 1 and time.monotonic() < deadline:
        chunk = max(1, len(cur) // n)
        reduced = False
        for start in range(0, len(cur), chunk):
            if time.monotonic() >= deadline:
                break
            cand = cur[:start] + cur[start + chunk:]
            if cand and fails(cand):
                cur = cand
                n = max(n - 1, 2)
                reduced = True
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(len(cur), n * 2)
    return cur, runs[0]


SANITIZER_RE = (r"runtime error|AddressSanitizer|LeakSanitizer|"
                r"ThreadSanitizer|ERROR: .*Sanitizer")


def print_log(log):
    """The daemon's log: a sanitizer report from its start, else the end."""
    lines = log.strip().splitlines()
    if not lines:
        return
    for i, line in enumerate(lines):
        if re.search(SANITIZER_RE, line):
            print("daemon log (from the sanitizer report):")
            print("\n".join(lines[max(0, i - 2):i + 80]))
            return
    print("daemon log (last 30 lines):")
    print("\n".join(lines[-30:]))


def report_failure(seed, ops, fail, cfg, watchdog):
    print("\nmodel: MISMATCH with seed %s at op %d of %d" % (
        seed, fail.index, len(ops)))
    print(str(fail))
    print_log(fail.log)
    sys.stdout.flush()
    if cfg.no_shrink:
        small = ops[:fail.index + 1]
    else:
        print("model: shrinking (at most %d s)..." % cfg.shrink_seconds,
              flush=True)
        small, runs = shrink(ops, fail, cfg, watchdog)
        print("model: %d ops after %d runs" % (len(small), runs))
    again = run_ops(small, cfg, watchdog, 0, keep=cfg.keep)
    print("\nmodel: seed %s, minimal failing sequence (%d ops):" % (
        seed, len(small)))
    for i, op in enumerate(small):
        print("  %4d  %s" % (i, fmt_op(op)))
    if again:
        print(str(again))
    else:
        print("(the shrunk sequence did not fail again: timing-dependent?)")
    out = os.path.join(cfg.out_dir, "hmf-model-fail-seed-%s.json" % seed)
    try:
        dump_ops(out, small, seed=seed, about="found by seed %s" % seed)
        print("model: saved as %s (rerun with --replay %s)" % (out, out))
    except OSError as e:
        print("model: cannot save %s: %s" % (out, e))


def run_seed(seed, cfg, watchdog):
    t0 = time.monotonic()
    ops = Gen(seed, os.geteuid() == 0).ops(cfg.ops)
    stats = {}
    fail = run_ops(ops, cfg, watchdog, cfg.check_every, stats=stats)
    if fail is None:
        print("model: seed %s: %d ops ok in %.1f s" % (
            seed, len(ops), time.monotonic() - t0), flush=True)
        if cfg.verbose:  # how often each op had each outcome
            kinds = sorted({k for k, _ in stats})
            for k in kinds:
                print("  %-12s %s" % (k, " ".join(
                    "%s=%d" % (r, n) for (kk, r), n in sorted(stats.items())
                    if kk == k)))
        return True
    report_failure(seed, ops, fail, cfg, watchdog)
    return False


def parse_seeds(values):
    seeds = []
    for v in values:
        for part in v.split(","):
            m = re.fullmatch(r"(\d+)(?:(?:-|\.\.)(\d+))?", part.strip())
            if not m:
                raise argparse.ArgumentTypeError("bad seed %r" % part)
            a = int(m.group(1))
            b = int(m.group(2)) if m.group(2) else a
            seeds.extend(range(a, b + 1))
    return seeds


def on_signal(signum, frame):
    raise Interrupted(signum)


def main():
    ap = argparse.ArgumentParser(
        description="model-based random workload for hmf-mount",
        epilog="see the docstring at the top of this file")
    ap.add_argument("--seed", action="append", default=[],
                    help="N, A-B or a comma list; repeatable (default 1)")
    ap.add_argument("--ops", type=int, default=5000,
                    help="operations per seed (default 5000)")
    ap.add_argument("--long", action="store_true",
                    help="run seeds (from the first --seed, else a random "
                    "one) until --hours have passed")
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--mount-bin", default=os.environ.get("HMF_MOUNT"),
                    help="hmf-mount (default $HMF_MOUNT)")
    ap.add_argument("--cli", default=os.environ.get("HMF_CLI"),
                    help="the hmf tool, for fsck (default $HMF_CLI, else "
                    "../cli/hmf next to hmf-mount if there)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the root, mountpoint and log of a failure")
    ap.add_argument("--check-every", type=int, default=500,
                    help="whole-tree check every N ops (0: only at the end)")
    ap.add_argument("--single", action="store_true",
                    help="run the daemon single-threaded (-s)")
    ap.add_argument("--nofile", type=int, default=0,
                    help="run the daemon with this RLIMIT_NOFILE (e.g. 300: "
                    "it then evicts inodes all the time)")
    ap.add_argument("--replay", metavar="FILE", action="append",
                    help="run the ops saved after a failure (a .json file, "
                    "or a directory of them; repeatable)")
    ap.add_argument("--no-shrink", action="store_true")
    ap.add_argument("--shrink-seconds", type=int, default=600)
    ap.add_argument("--op-timeout", type=int, default=120,
                    help="an op taking longer is a hang: the daemon is "
                    "killed (default 120 s)")
    ap.add_argument("--out-dir", default=tempfile.gettempdir(),
                    help="where a failing sequence is saved")
    ap.add_argument("--print-ops", action="store_true",
                    help="print the generated ops of the seeds, run nothing")
    ap.add_argument("-v", "--verbose", action="store_true")
    cfg = ap.parse_args()
    try:
        seeds = parse_seeds(cfg.seed or ["1"])
    except argparse.ArgumentTypeError as e:
        ap.error(str(e))
    if cfg.print_ops:
        for s in seeds:
            for i, op in enumerate(Gen(s, os.geteuid() == 0).ops(cfg.ops)):
                print("%d %5d  %s" % (s, i, fmt_op(op)))
        return 0
    if not cfg.mount_bin:
        ap.error("give --mount-bin PATH (or set HMF_MOUNT), e.g. "
                 "build/src/fuse/hmf-mount")
    cfg.mount_bin = os.path.abspath(cfg.mount_bin)
    if not os.access(cfg.mount_bin, os.X_OK):
        print("model: %s is not executable" % cfg.mount_bin)
        return 1
    if not cfg.cli:
        guess = os.path.join(os.path.dirname(os.path.dirname(cfg.mount_bin)),
                             "cli", "hmf")
        cfg.cli = guess if os.access(guess, os.X_OK) else None
    if not os.path.exists("/dev/fuse") or not shutil.which("fusermount3"):
        if os.environ.get("CI"):
            print("model: FAIL: no /dev/fuse or fusermount3 (CI is set)")
            return 1
        print("model: SKIP: no /dev/fuse or fusermount3")
        return 77
    slow = any(os.environ.get(v) for v in ("ASAN_OPTIONS", "TSAN_OPTIONS",
                                           "UBSAN_OPTIONS"))
    cfg.mount_timeout = 60 if slow else 20
    cfg.unmount_timeout = 120 if slow else 60
    os.umask(UMASK)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    watchdog = Watchdog(cfg.op_timeout)
    t0 = time.monotonic()
    ok = True
    total = 0
    try:
        if cfg.replay:
            files = []
            for r in cfg.replay:
                if os.path.isdir(r):
                    files += sorted(os.path.join(r, f) for f in os.listdir(r)
                                    if f.endswith(".json"))
                else:
                    files.append(r)
            if not files:
                print("model: nothing to replay in %s" % cfg.replay)
                ok = False
            for path in files:
                with open(path) as f:
                    saved = json.load(f)
                ops = [op_from_json(o) for o in saved["ops"]]
                fail = run_ops(ops, cfg, watchdog, 0, keep=cfg.keep)
                total += len(ops)
                if fail:
                    print("model: replay of %s fails (%s):\n%s" % (
                        path, saved.get("about", ""), fail))
                    for i, op in enumerate(ops[:fail.index + 1]):
                        print("  %4d  %s" % (i, fmt_op(op)))
                    print_log(fail.log)
                    ok = False
                else:
                    print("model: replay of %s: %d ops ok" % (path, len(ops)))
        elif cfg.long:
            seed = seeds[0] if cfg.seed else random.SystemRandom().randrange(
                1, 10 ** 9)
            end = t0 + cfg.hours * 3600
            while ok and time.monotonic() < end:
                ok = run_seed(seed, cfg, watchdog)
                total += cfg.ops
                seed += 1
        else:
            for s in seeds:
                ok = run_seed(s, cfg, watchdog) and ok
                total += cfg.ops
                if not ok:
                    break
    except Interrupted as e:
        print("model: interrupted by signal %d" % e.signum)
        return 128 + e.signum
    except RuntimeError as e:  # the daemon did not start
        print("model: FAIL: %s" % e)
        return 1
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)  # nothing stops the cleanup
        watchdog.stop.set()
        for m in list(ACTIVE):
            m.cleanup()
    print("model: %s: %d ops in %.1f s" % ("ok" if ok else "FAILED", total,
                                           time.monotonic() - t0))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
