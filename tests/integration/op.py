# SPDX-License-Identifier: MIT
"""op.py - one system call for the integration tests, reported by errno.

Usage: /usr/bin/python3 op.py OP ARGS...

Prints "OK" (plus a result for the queries) when the call succeeds, or the
errno name (EPERM, EINVAL, ...) when it fails, and exits 0 either way; a
usage mistake exits 2. Byte values are given and printed in hex so that
any byte, NUL and 0xff included, survives the shell; a value may also be
given as @FILE (its raw bytes) and "getxattr PATH NAME sha256" prints the
SHA-256 of the value instead of the value.
"""
import ctypes
import errno
import hashlib
import os
import stat
import sys

AT_FDCWD = -100
RENAME_FLAGS = {"noreplace": 1, "exchange": 2, "none": 0}
XATTR_FLAGS = {"create": os.XATTR_CREATE, "replace": os.XATTR_REPLACE,
               "none": 0}


def renameat2(old, new, flags):
    libc = ctypes.CDLL(None, use_errno=True)
    fn = libc.renameat2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                   ctypes.c_char_p, ctypes.c_uint]
    if fn(AT_FDCWD, os.fsencode(old), AT_FDCWD, os.fsencode(new),
          RENAME_FLAGS[flags]) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def value(arg):
    """HEX, or @FILE for the raw bytes of FILE."""
    if arg.startswith("@"):
        with open(arg[1:], "rb") as f:
            return f.read()
    return bytes.fromhex(arg)


def write_at(path, off, data):
    fd = os.open(path, os.O_WRONLY)
    try:
        n = os.pwrite(fd, data, off)
        if n != len(data):
            raise OSError(errno.EIO, "short write %d of %d" % (n, len(data)))
    finally:
        os.close(fd)


def read_all(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                return b"".join(chunks)
            chunks.append(b)
    finally:
        os.close(fd)


def run(op, a):
    if op == "mkdir":
        os.mkdir(a[0], int(a[1], 8) if len(a) > 1 else 0o777)
    elif op == "rmdir":
        os.rmdir(a[0])
    elif op == "unlink":
        os.unlink(a[0])
    elif op == "create":
        os.close(os.open(a[0], os.O_CREAT | os.O_EXCL | os.O_WRONLY,
                         int(a[1], 8) if len(a) > 1 else 0o666))
    elif op == "open_r":
        os.close(os.open(a[0], os.O_RDONLY))
    elif op == "open_w":
        os.close(os.open(a[0], os.O_WRONLY))
    elif op == "write":  # PATH OFFSET HEX
        write_at(a[0], int(a[1]), bytes.fromhex(a[2]))
    elif op == "read":
        return read_all(a[0]).hex()
    elif op == "truncate":
        os.truncate(a[0], int(a[1]))
    elif op == "chmod":
        os.chmod(a[0], int(a[1], 8))
    elif op == "chown":
        os.chown(a[0], int(a[1]), int(a[2]))
    elif op == "fsync":  # a file or a directory
        fd = os.open(a[0], os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    elif op == "utime":
        os.utime(a[0], None)
    elif op == "rename":  # OLD NEW [none|noreplace|exchange]
        if len(a) > 2 and a[2] != "none":
            renameat2(a[0], a[1], a[2])
        else:
            os.rename(a[0], a[1])
    elif op == "symlink":
        os.symlink(a[0], a[1])
    elif op == "link":
        os.link(a[0], a[1])
    elif op == "mkfifo":
        os.mkfifo(a[0])
    elif op == "mknod_chr":
        os.mknod(a[0], 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    elif op == "mknod_reg":
        os.mknod(a[0], 0o644 | stat.S_IFREG)
    elif op == "setxattr":  # PATH NAME HEX|@FILE [none|create|replace]
        os.setxattr(a[0], a[1], value(a[2]),
                    XATTR_FLAGS[a[3] if len(a) > 3 else "none"])
    elif op == "getxattr":  # PATH NAME [sha256]
        v = os.getxattr(a[0], a[1])
        return hashlib.sha256(v).hexdigest() if len(a) > 2 else v.hex()
    elif op == "removexattr":
        os.removexattr(a[0], a[1])
    elif op == "listxattr":
        return ",".join(sorted(os.listxattr(a[0])))
    elif op == "listdir":
        return ",".join(sorted(os.listdir(a[0])))
    elif op == "stat":
        st = os.stat(a[0])
        return "uid=%d gid=%d mode=%o size=%d" % (
            st.st_uid, st.st_gid, st.st_mode, st.st_size)
    else:
        print("op.py: unknown op %s" % op, file=sys.stderr)
        sys.exit(2)
    return None


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        res = run(sys.argv[1], sys.argv[2:])
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))
        return
    print("OK" if res is None else "OK " + res)


main()
