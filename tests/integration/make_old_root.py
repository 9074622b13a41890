#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""make_old_root.py - a root in the original Python HMF package's layout,
as scripts/hmf-import-python assumes it (docs/import-python.md), and the
check of its import through a mount.

  make_old_root.py write OLDROOT [--layout nested|flat] [--corrupt WHAT]
  make_old_root.py check MOUNTPOINT

write: the node dictionary pickled to __specialHMF__memmapMap0..2 and flat
raw files named by path with '/' -> '__'. It holds the seed's getting
started (groupA/array1 = arange(9), group1/groupA/groupZ), a groupby layout
(g_1, g_2 with g_1__arrayA, ...), a 2-D float32 array, top-level arrays
(one named the way the package names them: '<root name>__<name>'), a
0-byte array with no file, and attributes of several types.
--corrupt: size (groupA__array1 one byte too long), missing (no
g_2__arrayB), map0 (Map0 is garbage: Map1 must be used), maps (all three
garbage), unsafe (an attribute that only --trust-pickle may unpickle).

check: every group, array (np.memmap with dtype/shape/order from the
user.hmf.* xattrs) and attribute of the mounted import equals the original.
"""

import argparse
import fractions
import json
import os
import pickle
import sys

import numpy as np


def arrays():
    """path -> ndarray of every array in the old root."""
    rng = np.random.default_rng(1234)
    return {
        '/groupA/array1': np.arange(9),
        '/group1/groupA/m': rng.standard_normal((5, 3)).astype('float32'),
        '/g_1/arrayA': np.arange(6, dtype='float64').reshape(3, 2) / 4,
        '/g_1/arrayB': np.array([7, 8, 9], dtype='int64'),
        '/g_2/arrayA': -np.arange(8, dtype='float64').reshape(4, 2),
        '/g_2/arrayB': np.array([1, 2, 3, 4], dtype='int64'),
        '/flags': np.array([True, False, True, True]),
        '/text': np.array(['ab', 'cdef', 'g']),
        '/empty': np.zeros((0,), dtype='int32'),
    }


GROUPS = ['/groupA', '/group1', '/group1/groupA', '/group1/groupA/groupZ',
          '/g_1', '/g_2']


def attributes(unsafe=False):
    """path -> attribute dict, as the package kept them (any values)."""
    a = {
        '/': {'title': 'old root'},
        '/groupA': {'someAttribute': 'attributeValue'},
        '/group1/groupA/groupZ': {
            'bytes': b'\xff\x00binary', 'utf8bytes': 'é'.encode(),
            'n': 42, 'x': 1.5, 'np': np.int64(7), 'lst': [1, 2],
            'unicode': 'température'},
        '/g_1': {'group_size': 3},
    }
    if unsafe:
        a['/g_2'] = {'ratio': fractions.Fraction(1, 3)}
    return a


def expected_bytes(v):
    """What get_node_attr through the mount must return for value @v."""
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    if isinstance(v, str):
        return v.encode()
    return str(v).encode()


def raw_name(root, path):
    names = path.strip('/').split('/')
    if path == '/text':  # the package's own naming of top-level arrays
        return os.path.basename(root) + '__' + names[0]
    return '__'.join(names)


def nested(root, unsafe):
    """The dict as BaseHMF builds it: root, then name -> node by 'nodes'."""
    attrs = attributes(unsafe)
    top = {'attributes': attrs['/'], 'nodes': {}, 'dirpath': root,
           'node_type': 'root'}

    def group(path):
        pos, dirpath = top, None
        for name in path.strip('/').split('/'):
            dirpath = name if dirpath is None else dirpath + '__' + name
            pos = pos['nodes'].setdefault(name, {
                'nodes': {}, 'attributes': {}, 'node_type': 'group',
                'dirpath': dirpath})
        return pos

    for g in GROUPS:
        group(g)['attributes'].update(attrs.get(g, {}))
    for path, x in arrays().items():
        parent, name = path.rsplit('/', 1)
        pos = group(parent) if parent else top
        # top-level arrays: the package joined the root's own dirpath
        dirpath = pos['dirpath'] + '__' + name
        pos['nodes'][name] = {
            'node_type': 'array', 'attributes': {}, 'nodes': {},
            'dirpath': dirpath, 'dtype': str(x.dtype), 'shape': x.shape}
    return top


def flat(root, unsafe):
    """The same tree keyed by path; /group1 and /group1/groupA implied."""
    attrs = attributes(unsafe)
    d = {'/': {'attributes': attrs['/'], 'node_type': 'root'}}
    for g in GROUPS:
        if g in ('/group1', '/group1/groupA'):
            continue
        d[g] = {'node_type': 'group', 'attributes': attrs.get(g, {})}
    for path, x in arrays().items():
        d[path] = {'dtype': str(x.dtype), 'shape': list(x.shape),
                   'dirpath': raw_name(root, path)}  # no node_type
    return d


def write(root, layout, corrupt):
    os.makedirs(root, exist_ok=True)
    root = os.path.abspath(root)
    unsafe = corrupt == 'unsafe'
    d = nested(root, unsafe) if layout == 'nested' else flat(root, unsafe)
    for i in range(3):
        with open(os.path.join(root, '__specialHMF__memmapMap%d' % i),
                  'wb') as f:
            if corrupt == 'maps' or (corrupt == 'map0' and i == 0):
                f.write(b'\x80\x05garbage, not a pickle')
            else:
                pickle.dump(d, f, pickle.HIGHEST_PROTOCOL)
    for path, x in arrays().items():
        if x.nbytes == 0:
            continue  # np.memmap cannot make an empty file: the package had none
        name = raw_name(root, path)
        if corrupt == 'missing' and name == 'g_2__arrayB':
            continue
        m = np.memmap(os.path.join(root, name), dtype=str(x.dtype),
                      mode='w+', shape=x.shape)
        m[:] = x[:]
        m.flush()
        del m
        if corrupt == 'size' and name == 'groupA__array1':
            with open(os.path.join(root, name), 'ab') as f:
                f.write(b'\0')


def check(mnt, unsafe):
    bad = []
    want_dirs = {g for g in GROUPS}
    want_files = set(arrays())
    got_dirs, got_files = set(), set()
    for dirpath, dirs, files in os.walk(mnt):
        rel = '/' + os.path.relpath(dirpath, mnt).replace(os.sep, '/')
        rel = '/' if rel == '/.' else rel
        for d in dirs:
            got_dirs.add(rel.rstrip('/') + '/' + d)
        for f in files:
            got_files.add(rel.rstrip('/') + '/' + f)
    if got_dirs != want_dirs:
        bad.append('groups: %s, expected %s' % (sorted(got_dirs),
                                                 sorted(want_dirs)))
    if got_files != want_files:
        bad.append('arrays: %s, expected %s' % (sorted(got_files),
                                                 sorted(want_files)))
    for path, x in arrays().items():
        p = mnt + path
        try:
            dt = np.dtype(os.getxattr(p, 'user.hmf.dtype').decode())
            shape = tuple(json.loads(os.getxattr(p, 'user.hmf.shape')))
            order = os.getxattr(p, 'user.hmf.order').decode()
        except OSError as e:
            bad.append('%s: %s' % (path, e))
            continue
        if dt != x.dtype or dt.str != x.dtype.str or shape != x.shape \
                or order != 'C':
            bad.append('%s: %s %s %s, expected %s %s C'
                       % (path, dt.str, shape, order, x.dtype.str, x.shape))
            continue
        if os.stat(p).st_size != x.nbytes:
            bad.append('%s: %d bytes, expected %d'
                       % (path, os.stat(p).st_size, x.nbytes))
            continue
        if x.nbytes == 0:
            continue
        got = np.memmap(p, dtype=dt, mode='r', shape=shape, order=order)
        if not np.array_equal(got, x):
            bad.append('%s: values differ' % path)
    for path, attrs in attributes(unsafe).items():
        p = mnt if path == '/' else mnt + path
        keys = sorted(k[5:] for k in os.listxattr(p) if k.startswith('user.'))
        if keys != sorted(attrs):
            bad.append('%s: attribute keys %s, expected %s'
                       % (path, keys, sorted(attrs)))
        for k, v in attrs.items():
            try:
                got = os.getxattr(p, 'user.' + k)
            except OSError as e:
                bad.append('%s: attribute %s: %s' % (path, k, e))
                continue
            if got != expected_bytes(v):
                bad.append('%s: attribute %s = %r, expected %r'
                           % (path, k, got, expected_bytes(v)))
    for b in bad:
        print('MISMATCH', b)
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    w = sub.add_parser('write')
    w.add_argument('root')
    w.add_argument('--layout', choices=['nested', 'flat'], default='nested')
    w.add_argument('--corrupt', choices=['size', 'missing', 'map0', 'maps',
                                         'unsafe'])
    c = sub.add_parser('check')
    c.add_argument('mountpoint')
    c.add_argument('--unsafe', action='store_true',
                   help='the root was written with --corrupt unsafe')
    args = ap.parse_args()
    if args.cmd == 'write':
        write(args.root, args.layout, args.corrupt)
        return 0
    return check(args.mountpoint, args.unsafe)


if __name__ == '__main__':
    sys.exit(main())
