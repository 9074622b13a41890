#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""ingest_check.py - tables for the ingest test and the pandas expectation.

  ingest_check.py make-csv PATH SEED ROWS   a table with ints, floats (random,
        17-digit, tiny/huge, empty), strings (quoted commas, quotes and
        newlines), CRLF line ends
  ingest_check.py make-npy PATH SEED ROWS   a structured NPY with the same kind
        of columns (no strings)
  ingest_check.py check MNT DEST SOURCE GROUPBY ORDERBY ASCENDING ARRAYS_JSON
        compare every array under MNT/DEST with what pandas gives:
        read_csv(float_precision="round_trip") (or np.load), a stable sort
        by (groupby, orderby), df[cols].values per group. Strings are compared
        as numpy bytes of the column's longest value; an empty string field is
        b"" here (pandas: NaN).
"""
import json
import os
import sys

import numpy as np


def make_frame(seed, rows):
    rng = np.random.default_rng(seed)
    import pandas as pd
    f = rng.standard_normal(rows) * 10.0 ** rng.integers(-300, 300, rows)
    f[rng.random(rows) < 0.05] = np.nan
    words = np.array(['plain', 'with,comma', 'with "quote"', 'multi\nline',
                      'x', 'longer text value'])
    return pd.DataFrame({
        'id': np.arange(rows, dtype=np.int64),
        'g': rng.integers(-3, 4, rows),
        't': np.round(rng.random(rows), 3),
        'f': f,
        'r': rng.random(rows),
        'small': rng.integers(0, 100, rows).astype(np.int32),
        's': words[rng.integers(0, len(words), rows)],
    })


def make_csv(path, seed, rows):
    df = make_frame(seed, rows)
    # repr of every float: round-trip exact; NaN as an empty field
    df.to_csv(path, index=False, float_format='%r', na_rep='',
              lineterminator='\r\n')


def make_npy(path, seed, rows):
    df = make_frame(seed, rows).drop(columns=['s'])
    rec = np.zeros(rows, dtype=[(c, df[c].dtype.str) for c in df.columns])
    for c in df.columns:
        rec[c] = df[c].values
    np.save(path, rec)


def read_source(source):
    import pandas as pd
    if source.endswith('.npy'):
        return pd.DataFrame(np.load(source))
    return pd.read_csv(source, float_precision='round_trip')


def group_name(v):
    # the engine's naming: decimal ints, shortest floats, bytes as they are
    if isinstance(v, (float, np.floating)):
        return repr(float(v)) if not float(v).is_integer() else '%g' % v
    return str(v)


def expected_values(df, cols, one):
    sub = df[cols]
    if any(sub[c].dtype == object for c in cols):
        width = max(df[c].fillna('').str.encode('utf-8').str.len().max()
                    for c in cols)
        vals = sub.fillna('').values.astype('S%d' % max(width, 1))
    else:
        vals = sub.values
    return vals[:, 0] if one else vals


def check(mnt, dest, source, groupby, orderby, ascending, arrays):
    df = read_source(source)
    keys = [k for k in (groupby, orderby) if k]
    if keys:
        asc = [True, ascending] if groupby and orderby else [
            ascending if orderby else True]
        df = df.sort_values(keys, ascending=asc, kind='stable',
                            na_position='last')
    groups = [(None, df)] if not groupby else list(df.groupby(groupby,
                                                              sort=True))
    bad = 0
    for key, part in groups:
        where = os.path.join(mnt, dest.strip('/'),
                             group_name(key) if groupby else '')
        for name, cols in arrays.items():
            one = isinstance(cols, str)
            want = expected_values(part, [cols] if one else cols, one)
            path = os.path.join(where, name)
            dtype = os.getxattr(path, 'user.hmf.dtype').decode()
            shape = tuple(json.loads(os.getxattr(path, 'user.hmf.shape')))
            got = np.fromfile(path, dtype=dtype).reshape(shape)
            if dtype != want.dtype.str or got.shape != want.shape or \
                    got.tobytes() != np.ascontiguousarray(want).tobytes():
                bad += 1
                print('MISMATCH %s: got %s %s, want %s %s' %
                      (path, dtype, got.shape, want.dtype.str, want.shape))
                print(got[:5], want[:5])
    print('%d groups, %d mismatches' % (len(groups), bad))
    return 1 if bad else 0


def main(argv):
    if argv[1] == 'make-csv':
        make_csv(argv[2], int(argv[3]), int(argv[4]))
    elif argv[1] == 'make-npy':
        make_npy(argv[2], int(argv[3]), int(argv[4]))
    elif argv[1] == 'check':
        return check(argv[2], argv[3], argv[4], argv[5] or None,
                     argv[6] or None, argv[7] == 'true', json.loads(argv[8]))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
