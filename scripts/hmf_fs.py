# SPDX-License-Identifier: MIT
"""hmf_fs - the original Python HMF package's API over a MOUNTED root.

Everything goes through ordinary file system calls on an hmf-mount mount
point: groups are directories, arrays are files holding their raw bytes,
attributes are the extended attributes ``user.<key>``, and an array's layout
is in ``user.hmf.dtype``, ``user.hmf.shape`` and ``user.hmf.order``. Needs
only the standard library and numpy (Linux: os.setxattr/os.getxattr).

    import numpy as np, hmf_fs
    f = hmf_fs.open_file('/mnt/hmf')
    f.set_group('/group1/groupA/groupZ')            # parents created (mkdir -p)
    f.set_array('/groupA/array1', np.arange(9))     # atomic, also on replace
    a = f.get_array('/groupA/array1')               # np.memmap, mode 'r'
    f.set_node_attr('/groupA', 'someAttribute', 'attributeValue')
    f.get_node_attr('/groupA', 'someAttribute')     # 'attributeValue'
    f.close()

Attribute values: str is stored as UTF-8, bytes-like values as they are,
anything else as str(value). get_node_attr returns a str when the stored
bytes are valid UTF-8, else bytes; a missing attribute raises KeyError.

Bulk ingest (``from_pandas`` + ``register_array`` + ``close``) writes the
DataFrame to a temporary CSV and submits one request (DESIGN.md section 5)
to the mount's control file ``/.hmf/ingest``; ``build_ingest_request`` is
the pure function that builds that request.
"""

import errno
import json
import os
import secrets
import tempfile

import numpy as np

__all__ = ['open_file', 'HMFMount', 'HMFIngestError', 'build_ingest_request',
           'submit_ingest']

_RESERVED = '.hmf'  # names starting with it are HMF's own (EINVAL)
_XATTR_DTYPE = 'user.hmf.dtype'
_XATTR_SHAPE = 'user.hmf.shape'
_XATTR_ORDER = 'user.hmf.order'
_INGEST_FILE = os.path.join('.hmf', 'ingest')


class HMFIngestError(RuntimeError):
    """An ingest request refused by the mount, or a job that failed."""


def open_file(mountpoint, mode='r+'):
    """Open the HMF root mounted at @mountpoint; mode 'r' or 'r+'."""
    return HMFMount(mountpoint, mode)


def _split(path):
    """The names of an HMF path ('/a/b' -> ['a', 'b']); '/' -> []."""
    if not isinstance(path, str) or not path.startswith('/'):
        raise ValueError("HMF path %r must start with '/'" % (path,))
    names = [n for n in path.split('/') if n]
    for n in names:
        if n in ('.', '..'):
            raise ValueError("HMF path %r: name %r is not allowed"
                             % (path, n))
        if n.startswith(_RESERVED):
            raise ValueError("HMF path %r: names starting with '.hmf' are "
                             "reserved" % (path,))
    return names


def _encode_value(value):
    """Attribute value -> bytes (str as UTF-8, bytes-like as is, else str)."""
    if isinstance(value, str):
        return value.encode('utf-8')
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return str(value).encode('utf-8')


def _decode_value(raw):
    """Attribute bytes -> str when valid UTF-8, else the bytes."""
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError:
        return raw


class HMFMount:
    """An HMF root seen through its mount point (see the module's doc)."""

    def __init__(self, mountpoint, mode='r+'):
        if mode not in ('r', 'r+'):
            raise ValueError("mode must be 'r' or 'r+', not %r" % (mode,))
        if not os.path.isdir(mountpoint):
            raise FileNotFoundError(errno.ENOENT, 'no such directory',
                                    mountpoint)
        self.mountpoint = os.path.abspath(mountpoint)
        self.mode = mode
        self.closed = False
        self._pdf = None
        self._ingest = None
        self._arrays = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.close()
        else:
            self.closed = True

    # ---- paths ----------------------------------------------------------

    def _full(self, path):
        return os.path.join(self.mountpoint, *_split(path))

    def _writable(self):
        if self.closed:
            raise ValueError('I/O operation on a closed HMF root')
        if self.mode == 'r':
            raise PermissionError(errno.EROFS, 'HMF root opened read-only',
                                  self.mountpoint)

    # ---- groups and arrays -----------------------------------------------

    def set_group(self, path):
        """Create the group @path and its missing parents (mkdir -p)."""
        self._writable()
        os.makedirs(self._full(path), exist_ok=True)

    def set_array(self, path, array):
        """Write @array at @path, replacing an existing array atomically.

        The bytes go to a temporary file in the same group, which gets its
        dtype, order and shape, and is then renamed over @path: readers see
        the old array or the new one, never a partial one (the new array
        starts without attributes). F-contiguous arrays (ndim >= 2) are
        stored in F order, anything else in C order.
        """
        self._writable()
        names = _split(path)
        if not names:
            raise ValueError("the root '/' is a group, not an array")
        a = np.asarray(array)
        if a.dtype.hasobject or a.dtype.fields is not None:
            raise TypeError('HMF arrays need a fixed-layout dtype, not %s'
                            % (a.dtype,))
        if a.ndim >= 2 and a.flags.f_contiguous and not a.flags.c_contiguous:
            order, body = 'F', a.T  # a.T of an F array is C-contiguous
        else:
            order, body = 'C', np.ascontiguousarray(a)
        parent = os.path.join(self.mountpoint, *names[:-1])
        os.makedirs(parent, exist_ok=True)
        target = os.path.join(parent, names[-1])
        while True:
            tmp = os.path.join(parent, '.tmp-hmf_fs-' + secrets.token_hex(8))
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                             | os.O_CLOEXEC, 0o666)
                break
            except FileExistsError:
                continue
        try:
            try:
                view = memoryview(body.reshape(-1).view(np.uint8))
                done = 0
                while done < len(view):
                    done += os.write(fd, view[done:done + (1 << 24)])
            finally:
                os.close(fd)
            # a file of n bytes is '|u1' [n]; the dtype reinterprets it as
            # 1-D, then the shape takes its final form
            os.setxattr(tmp, _XATTR_DTYPE, a.dtype.str.encode())
            if order == 'F':
                os.setxattr(tmp, _XATTR_ORDER, b'F')
            os.setxattr(tmp, _XATTR_SHAPE,
                        json.dumps(list(a.shape),
                                   separators=(',', ':')).encode())
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def get_layout(self, path):
        """(dtype, shape, order) of the array @path, from its xattrs."""
        full = self._full(path)
        dtype = np.dtype(os.getxattr(full, _XATTR_DTYPE).decode())
        shape = tuple(json.loads(os.getxattr(full, _XATTR_SHAPE)))
        order = os.getxattr(full, _XATTR_ORDER).decode()
        return dtype, shape, order

    def get_array(self, path, mode='r'):
        """The array @path as an np.memmap (mode 'r' or 'r+').

        An array of 0 bytes cannot be mapped: it comes back as an empty
        ndarray of its dtype and shape instead.
        """
        if self.closed:
            raise ValueError('I/O operation on a closed HMF root')
        if mode not in ('r', 'r+'):
            raise ValueError("mode must be 'r' or 'r+', not %r" % (mode,))
        if mode == 'r+':
            self._writable()
        full = self._full(path)
        dtype, shape, order = self.get_layout(path)
        if int(np.prod(shape, dtype=np.uint64)) * dtype.itemsize == 0:
            return np.zeros(shape, dtype=dtype, order=order)
        return np.memmap(full, dtype=dtype, mode=mode, shape=shape,
                         order=order)

    # ---- attributes ---------------------------------------------------

    def set_node_attr(self, path, key, value):
        """Set attribute @key of node @path (see the module's doc)."""
        self._writable()
        if not isinstance(key, str) or not key:
            raise ValueError('attribute keys are non-empty strings')
        if key.startswith('hmf.'):
            raise ValueError("attribute keys starting with 'hmf.' are "
                             "reserved")
        os.setxattr(self._full(path), 'user.' + key, _encode_value(value))

    def get_node_attr(self, path, key):
        """Attribute @key of node @path: str if valid UTF-8, else bytes."""
        try:
            raw = os.getxattr(self._full(path), 'user.' + key)
        except OSError as e:
            if e.errno == errno.ENODATA:
                raise KeyError(key) from None
            raise
        return _decode_value(raw)

    # ---- bulk ingest through /.hmf/ingest ---------------------------------

    def from_pandas(self, pdf, groupby=None, orderby=None, ascending=True,
                    dest='/', dtypes=None, threads=0, overwrite=False):
        """Start a bulk ingest of DataFrame @pdf (arrays: register_array).

        groupby: one sub-group of @dest per distinct value of that column;
        orderby: rows sorted by that column. Nothing is written before
        close().
        """
        self._writable()
        _split(dest)
        self._pdf = pdf
        self._arrays = {}
        self._ingest = dict(groupby=groupby, orderby=orderby,
                            ascending=ascending, dest=dest, dtypes=dtypes,
                            threads=threads, overwrite=overwrite)

    def register_array(self, name, columns):
        """Ingest the @columns (a list, or one column name) as array @name."""
        if self._pdf is None:
            raise ValueError('register_array() needs from_pandas() first')
        self._arrays[name] = columns

    def close(self):
        """Run the pending ingest, if any, and close the root."""
        if self.closed:
            return
        try:
            if self._pdf is not None and self._arrays:
                self._run_ingest()
        finally:
            self._pdf = None
            self._arrays = {}
            self.closed = True

    def _run_ingest(self):
        fd, csv = tempfile.mkstemp(prefix='hmf_fs-', suffix='.csv')
        os.close(fd)
        try:
            self._pdf.to_csv(csv, index=False, na_rep='nan')
            request = build_ingest_request(self._pdf, csv, self._arrays,
                                           **self._ingest)
            return submit_ingest(self.mountpoint, request)
        finally:
            os.unlink(csv)


def _column_dtype(series):
    """numpy dtype.str of a DataFrame column worth passing in 'dtypes'."""
    dt = getattr(series, 'dtype', None)
    if isinstance(dt, np.dtype) and dt.kind in 'iuf':
        return dt.str
    return None  # left to the ingest's inference (int64, float64, |S<n>)


def build_ingest_request(pdf, source, arrays, groupby=None, orderby=None,
                         ascending=True, dest='/', dtypes=None, threads=0,
                         overwrite=False):
    """The ingest request (DESIGN.md section 5) for DataFrame @pdf.

    @source: absolute path of the CSV that pdf.to_csv(index=False) wrote;
    @arrays: name -> list of columns (2-D array) or one column (1-D).
    Integer and float columns keep their dtype ('dtypes'); @dtypes
    (column -> dtype) overrides. Pure: reads @pdf's columns, writes nothing.
    """
    if not os.path.isabs(source):
        raise ValueError('source %r is not an absolute path' % (source,))
    _split(dest)
    if not arrays:
        raise ValueError('no arrays registered')
    columns = list(pdf.columns)
    used = []
    out_arrays = {}
    for name, cols in arrays.items():
        if not isinstance(name, str) or not name or '/' in name \
                or name in ('.', '..') or name.startswith(_RESERVED):
            raise ValueError('bad array name %r' % (name,))
        picked = [cols] if isinstance(cols, str) else list(cols)
        if not picked:
            raise ValueError('array %r has no columns' % (name,))
        for c in picked:
            if c not in columns:
                raise KeyError('array %r: no column %r in the DataFrame'
                               % (name, c))
            used.append(c)
        out_arrays[name] = cols if isinstance(cols, str) else picked
    for what, c in (('groupby', groupby), ('orderby', orderby)):
        if c is not None and c not in columns:
            raise KeyError('%s: no column %r in the DataFrame' % (what, c))
    types = {}
    for c in dict.fromkeys(used):
        t = _column_dtype(pdf[c])
        if t is not None:
            types[c] = t
    for c, t in (dtypes or {}).items():
        types[c] = np.dtype(t).str
    request = {
        'source': source,
        'format': 'csv',
        'csv': {'delimiter': ',', 'header': True},
        'dest': dest,
        'arrays': out_arrays,
    }
    if types:
        request['dtypes'] = types
    if groupby is not None:
        request['groupby'] = groupby
    if orderby is not None:
        request['orderby'] = orderby
    request['ascending'] = bool(ascending)
    request['threads'] = int(threads)
    request['overwrite'] = bool(overwrite)
    return request


def submit_ingest(mountpoint, request):
    """Submit @request to <mountpoint>/.hmf/ingest and wait for its end.

    One write of the JSON document, then the final status is read on the
    same handle. Returns the status (a dict); raises HMFIngestError when
    the request is refused or the job fails.
    """
    doc = json.dumps(request, separators=(',', ':')).encode('utf-8')
    fd = os.open(os.path.join(mountpoint, _INGEST_FILE),
                 os.O_RDWR | os.O_CLOEXEC)
    try:
        try:
            n = os.write(fd, doc)
        except OSError as e:
            raise HMFIngestError('ingest request refused (%s): %s'
                                 % (os.strerror(e.errno),
                                    _read_all(fd).strip())) from None
        if n != len(doc):
            raise HMFIngestError('short write of the ingest request '
                                 '(%d of %d bytes)' % (n, len(doc)))
        answer = _read_all(fd)
    finally:
        os.close(fd)
    try:
        status = json.loads(answer)
    except ValueError:
        raise HMFIngestError('unreadable ingest answer: %r'
                             % (answer[:200],)) from None
    if not isinstance(status, dict) or status.get('state') != 'done' \
            or status.get('error'):
        err = status.get('error') if isinstance(status, dict) else None
        raise HMFIngestError('ingest failed: %s' % (err or answer.strip()))
    return status


def _read_all(fd):
    """Everything readable on @fd, as text ('' when reading fails)."""
    parts = []
    try:
        while True:
            b = os.read(fd, 1 << 16)
            if not b:
                break
            parts.append(b)
    except OSError:
        pass
    return b''.join(parts).decode('utf-8', 'replace')
