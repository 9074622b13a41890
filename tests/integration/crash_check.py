#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""crash_check.py - the workload and the checks of crash_rounds.sh.

  crash_check.py run MNT JOURNAL SEED
        random metadata and data operations through the mount MNT (groups,
        arrays, writes, truncates, xattrs, dtypes, renames, unlinks, rmdirs)
        until one fails. Each operation is logged to JOURNAL before it starts
        ("B", with everything it writes) and after it returned ("D"), the
        journal fsync'd each time; the failure ends the journal ("F" with
        its errno) and the run (exit 0). A failure that is not a lost
        connection (the daemon was killed) exits 1.
  crash_check.py verify MNT JOURNAL
        replay JOURNAL and compare with what the mount shows: every
        operation that returned is there with its bytes, nothing else is;
        for the one in flight when the daemon died, either state (or a
        partial write of it) is accepted. Exit 1 on a difference.
  crash_check.py inflight JOURNAL
        the path whose data the operation in flight was changing (create,
        pwrite, truncate), if any: its stored shape may lag behind its data.
  crash_check.py sig MNT PATH OUT
        the signature of the subtree PATH of MNT (kinds, data digests,
        attributes) into the JSON file OUT.
  crash_check.py cmpsig MNT PATH SIGFILE
        prints "whole" when PATH matches SIGFILE, "absent" when PATH does not
        exist; else the differences, and exits 1.
  crash_check.py submit CTLFILE JSON
        one ingest request on the control file; prints the answer. Exit 0
        (done), 1 (failed or refused), 3 (the connection was lost).
  crash_check.py make-csv PATH ROWS SEED
        a table: id (int), g (50 groups), t (float), x (float), s (string).
"""
import base64
import copy
import errno
import hashlib
import json
import os
import random
import sys

LOST = (errno.ENOTCONN, errno.ECONNABORTED)
ITEMSIZE = {'|u1': 1, '<i2': 2, '<i4': 4, '<f4': 4, '<f8': 8, '<i8': 8}
# an array's layout, listed as xattrs; other user.hmf.* are attributes
LAYOUT = ('user.hmf.dtype', 'user.hmf.shape', 'user.hmf.order',
          'user.hmf.meta')
MAX_ARRAYS = 40
MAX_GROUPS = 12


def rbytes(seed, n):
    return random.Random(seed).randbytes(n)


def b64(b):
    return base64.b64encode(b).decode()


def unb64(s):
    return base64.b64decode(s)


def parent_of(p):
    return p.rsplit('/', 1)[0] or '/'


def join(d, name):
    return (d.rstrip('/') + '/' + name) if d != '/' else '/' + name


def under(p, top):
    return p == top or p.startswith(top.rstrip('/') + '/')


# ---- the model -----------------------------------------------------------

def new_model():
    return {'/': {'kind': 'g', 'attrs': {}}}


def op_value(op):
    return rbytes(op['seed'], op['n'])


def apply(m, op):
    """Apply the journal record @op to the model @m (in place)."""
    o = op['op']
    if o == 'mkdir':
        m[op['p']] = {'kind': 'g', 'attrs': {}}
    elif o == 'create':
        m[op['p']] = {'kind': 'a', 'attrs': {}, 'dtype': '|u1',
                      'data': bytearray(op_value(op))}
    elif o == 'pwrite':
        d = m[op['p']]['data']
        v = op_value(op)
        off = op['off']
        if len(d) < off + len(v):
            d.extend(bytes(off + len(v) - len(d)))
        d[off:off + len(v)] = v
    elif o == 'truncate':
        d = m[op['p']]['data']
        if op['size'] < len(d):
            del d[op['size']:]
        else:
            d.extend(bytes(op['size'] - len(d)))
    elif o == 'setxattr':
        m[op['p']]['attrs'][op['k']] = op_value(op)
    elif o == 'rmxattr':
        del m[op['p']]['attrs'][op['k']]
    elif o == 'dtype':
        m[op['p']]['dtype'] = op['dtype']
    elif o in ('unlink', 'rmdir'):
        del m[op['p']]
    elif o == 'rename':
        src, dst = op['src'], op['dst']
        moved = {p: n for p, n in m.items() if under(p, src)}
        for p in list(m):
            if under(p, dst):
                del m[p]
        for p in moved:
            del m[p]
        for p, n in moved.items():
            m[dst + p[len(src):]] = n
    else:
        raise ValueError('unknown op %r' % o)


# ---- the workload ----------------------------------------------------------

class Journal:
    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                          | os.O_APPEND, 0o644)

    def log(self, rec):
        os.write(self.fd, (json.dumps(rec) + '\n').encode())
        os.fsync(self.fd)


def pick_op(m, rng, n):
    groups = sorted(p for p, x in m.items() if x['kind'] == 'g')
    arrays = sorted(p for p, x in m.items() if x['kind'] == 'a')
    nodes = sorted(m)
    seed = rng.getrandbits(48)

    def fresh(parent):
        while True:
            p = join(parent, rng.choice('abcdefghijk') + str(rng.randrange(30)))
            if p not in m:
                return p
    choices = []
    if len(groups) < MAX_GROUPS:
        choices += ['mkdir'] * 2
    if len(arrays) < MAX_ARRAYS:
        choices += ['create'] * 4
    if arrays:
        choices += ['pwrite'] * 4 + ['truncate', 'dtype', 'unlink'] + \
            ['rename'] * 2
    choices += ['setxattr'] * 3 + ['rename_group']
    if any(m[p]['attrs'] for p in nodes):
        choices.append('rmxattr')
    empty = [g for g in groups if g != '/' and
             not any(parent_of(p) == g for p in m if p != '/')]
    if empty:
        choices.append('rmdir')
    o = rng.choice(choices)
    if o == 'mkdir':
        return {'op': o, 'p': fresh(rng.choice(groups))}
    if o == 'create':
        size = rng.choice([0, 8, 4096, rng.randrange(0, 64 << 10, 8),
                           rng.randrange(0, 400 << 10, 8),
                           rng.randrange(0, 3 << 20, 8)])
        return {'op': o, 'p': fresh(rng.choice(groups)), 'seed': seed,
                'n': size, 'mode': rng.choice(['w', 'rw'])}
    if o == 'pwrite':
        p = rng.choice(arrays)
        size = len(m[p]['data'])
        return {'op': o, 'p': p, 'off': rng.randrange(0, size + 9, 8),
                'seed': seed, 'n': rng.randrange(8, 128 << 10, 8),
                'mode': rng.choice(['w', 'rw'])}
    if o == 'truncate':
        p = rng.choice(arrays)
        return {'op': o, 'p': p,
                'size': rng.randrange(0, len(m[p]['data']) + 8193, 8)}
    if o == 'dtype':
        return {'op': o, 'p': rng.choice(arrays),
                'dtype': rng.choice(sorted(ITEMSIZE))}
    if o == 'unlink':
        return {'op': o, 'p': rng.choice(arrays)}
    if o == 'rmdir':
        return {'op': o, 'p': rng.choice(empty)}
    if o == 'setxattr':
        return {'op': o, 'p': rng.choice(nodes),
                'k': 'user.k%d' % rng.randrange(6), 'seed': seed,
                'n': rng.choice([1, 20, rng.randrange(1, 3000)])}
    if o == 'rmxattr':
        p = rng.choice([p for p in nodes if m[p]['attrs']])
        return {'op': o, 'p': p, 'k': rng.choice(sorted(m[p]['attrs']))}
    if o == 'rename':
        src = rng.choice(arrays)
        others = [a for a in arrays if a != src]
        if others and rng.random() < 0.3:
            dst = rng.choice(others)  # replaces an existing array
        else:
            dst = fresh(rng.choice(groups))
        return {'op': o, 'src': src, 'dst': dst}
    # rename_group: a group (with what it holds) to a new name elsewhere
    movable = [g for g in groups if g != '/']
    if not movable:
        return {'op': 'mkdir', 'p': fresh(rng.choice(groups))}
    src = rng.choice(movable)
    targets = [g for g in groups if not under(g, src)]
    return {'op': 'rename', 'src': src, 'dst': fresh(rng.choice(targets))}


def write_file(path, data, off, mode, create):
    flags = os.O_WRONLY if mode == 'w' else os.O_RDWR
    if create:
        flags |= os.O_CREAT | os.O_EXCL
    fd = os.open(path, flags, 0o644)
    try:
        done = 0
        while done < len(data):
            done += os.pwrite(fd, data[done:], off + done)
    finally:
        os.close(fd)


def do_op(mnt, op):
    o = op['op']
    at = (lambda p: mnt + p) if mnt != '/' else (lambda p: p)
    if o == 'mkdir':
        os.mkdir(at(op['p']))
    elif o == 'create':
        write_file(at(op['p']), op_value(op), 0, op['mode'], True)
    elif o == 'pwrite':
        write_file(at(op['p']), op_value(op), op['off'], op['mode'], False)
    elif o == 'truncate':
        os.truncate(at(op['p']), op['size'])
    elif o == 'setxattr':
        os.setxattr(at(op['p']), op['k'], op_value(op))
    elif o == 'rmxattr':
        os.removexattr(at(op['p']), op['k'])
    elif o == 'dtype':
        os.setxattr(at(op['p']), 'user.hmf.dtype', op['dtype'].encode())
    elif o == 'unlink':
        os.unlink(at(op['p']))
    elif o == 'rmdir':
        os.rmdir(at(op['p']))
    elif o == 'rename':
        os.rename(at(op['src']), at(op['dst']))


def run(mnt, journal, seed):
    rng = random.Random(seed)
    m = new_model()
    j = Journal(journal)
    i = 0
    while True:
        op = pick_op(m, rng, i)
        op['i'] = i
        j.log(dict(op, t='B'))
        try:
            do_op(mnt, op)
        except OSError as e:
            j.log({'t': 'F', 'i': i, 'errno': e.errno,
                   'error': '%s: %s' % (errno.errorcode.get(e.errno, '?'),
                                        e.strerror)})
            if e.errno in LOST:
                return 0
            print('op %d %s failed: %s' % (i, json.dumps(op), e),
                  file=sys.stderr)
            return 1
        j.log({'t': 'D', 'i': i})
        apply(m, op)
        i += 1


# ---- what the mount shows ---------------------------------------------------

def read_tree(mnt, top='/'):
    """{path: node} of the subtree @top of the mount, as the model has it."""
    out = {}

    def attrs_of(fs):
        a = {}
        for k in os.listxattr(fs):
            if k in LAYOUT:
                continue
            a[k] = os.getxattr(fs, k)
        return a

    def visit(p):
        fs = mnt + (p if p != '/' else '')
        if os.path.isdir(fs):
            out[p] = {'kind': 'g', 'attrs': attrs_of(fs)}
            for name in sorted(os.listdir(fs)):
                visit(join(p, name))
        else:
            with open(fs, 'rb') as f:
                data = f.read()
            out[p] = {'kind': 'a', 'attrs': attrs_of(fs), 'data': data,
                      'dtype': os.getxattr(fs, 'user.hmf.dtype').decode(),
                      'shape': json.loads(os.getxattr(fs, 'user.hmf.shape'))}
    visit(top)
    return out


def node_diff(p, want, got, data_ok=None):
    """Differences of one node (strings); @data_ok overrides the data test."""
    if want['kind'] != got['kind']:
        return ['%s: a %s, expected a %s' % (p, got['kind'], want['kind'])]
    d = []
    if want['attrs'] != got['attrs']:
        d.append('%s: attributes %s, expected %s' % (
            p, sorted(got['attrs']), sorted(want['attrs'])) +
            ('' if sorted(got['attrs']) != sorted(want['attrs'])
             else ' (values differ)'))
    if want['kind'] == 'g':
        return d
    data = got['data']
    if data_ok is not None:
        if not data_ok(data):
            d.append('%s: %d bytes, not a state of the write in flight' %
                     (p, len(data)))
    elif bytes(want['data']) != data:
        first = next((i for i in range(min(len(data), len(want['data'])))
                      if data[i] != want['data'][i]),
                     min(len(data), len(want['data'])))
        d.append('%s: %d bytes, expected %d; first difference at %d' %
                 (p, len(data), len(want['data']), first))
    isz = ITEMSIZE[want['dtype']]
    if len(data) % isz == 0:
        if got['dtype'] != want['dtype'] or got['shape'] != [len(data) // isz]:
            d.append('%s: dtype %s shape %s, expected %s [%d]' % (
                p, got['dtype'], got['shape'], want['dtype'],
                len(data) // isz))
    return d


def tree_diff(want, got, loose=None):
    """Differences between two trees; @loose: {path: data predicate}."""
    loose = loose or {}
    d = []
    for p in sorted(set(want) | set(got)):
        if p not in got:
            d.append('%s: missing' % p)
        elif p not in want:
            d.append('%s: unexpected %s' % (p, got[p]['kind']))
        else:
            d += node_diff(p, want[p], got[p], loose.get(p))
    return d


def write_pred(before, op):
    """Data states of an interrupted pwrite: each byte old or new."""
    v = op_value(op)
    off = op['off']
    old = bytes(before)
    hi = max(len(old), off + len(v))

    def ok(data):
        if len(data) < len(old) or len(data) > hi or len(data) % 8:
            return False
        if data[:min(off, len(data))] != old[:min(off, len(data))]:
            return False
        if len(data) > off + len(v) and \
                data[off + len(v):] != old[off + len(v):len(data)]:
            return False
        for i in range(off, min(len(data), off + len(v))):
            if data[i] != v[i - off] and \
                    data[i] != (old[i] if i < len(old) else 0):
                return False
        return True
    return ok


def candidates(m0, op):
    """(name, model, loose) states allowed after the interrupted @op."""
    m1 = copy.deepcopy(m0)
    apply(m1, op)
    out = [('before', m0, None), ('after', m1, None)]
    o = op['op']
    if o == 'create':
        v = op_value(op)

        def ok(data):
            return len(data) <= len(v) and all(
                a == b or a == 0 for a, b in zip(data, v))
        out.append(('created, partly written', m1, {op['p']: ok}))
    elif o == 'pwrite':
        out.append(('partly written', m1,
                    {op['p']: write_pred(m0[op['p']]['data'], op)}))
    elif o == 'rename' and op['dst'] in m0:
        # replacing a node: RENAME_EXCHANGE, then the old one removed
        # from the source name (docs/decisions.md); killed in between,
        # the source name still holds the old target
        m2 = copy.deepcopy(m1)
        for p, n in m0.items():
            if under(p, op['dst']):
                m2[op['src'] + p[len(op['dst']):]] = copy.deepcopy(n)
        out.append(('exchanged, old target not yet removed', m2, None))
    return out


def inflight(journal):
    recs = [json.loads(line) for line in open(journal)]
    done = {r['i'] for r in recs if r['t'] == 'D'}
    for r in recs:
        if r['t'] == 'B' and r['i'] not in done and \
                r['op'] in ('create', 'pwrite', 'truncate'):
            print(r['p'])
    return 0


def verify(mnt, journal):
    recs = [json.loads(line) for line in open(journal)]
    begun = {r['i']: r for r in recs if r['t'] == 'B'}
    done = {r['i'] for r in recs if r['t'] == 'D'}
    failed = [r for r in recs if r['t'] == 'F']
    m = new_model()
    pending = [i for i in sorted(begun) if i not in done]
    if len(pending) > 1 or (pending and pending[0] != max(begun)):
        print('journal: operations %s never returned' % pending)
        return 1
    for i in sorted(done):
        apply(m, begun[i])
    got = read_tree(mnt)
    inflight = begun[pending[0]] if pending else None
    why = ''
    if failed:
        why = ' (%s)' % failed[0]['error']
    if not inflight:
        diff = tree_diff(m, got)
        state = 'nothing in flight'
    else:
        diffs = []
        for name, want, loose in candidates(m, inflight):
            d = tree_diff(want, got, loose)
            if not d:
                state = 'in flight: %s%s -> %s' % (
                    inflight['op'], why, name)
                diff = []
                break
            diffs.append((name, d))
        else:
            diff = ['in flight: %s' % json.dumps(inflight)]
            for name, d in diffs:
                diff += ['  as "%s": %s' % (name, x) for x in d[:8]]
    if diff:
        print('%d operations returned; the mount differs:' % len(done))
        print('\n'.join(diff[:40]))
        return 1
    print('%d operations returned, %d nodes match; %s' %
          (len(done), len(got), state))
    return 0


# ---- ingest --------------------------------------------------------------------

def signature(mnt, top):
    t = read_tree(mnt, top)
    sig = {}
    for p, n in t.items():
        rel = p[len(top):] or '/'
        s = {'kind': n['kind'],
             'attrs': {k: b64(v) for k, v in sorted(n['attrs'].items())}}
        if n['kind'] == 'a':
            s.update(dtype=n['dtype'], shape=n['shape'],
                     sha256=hashlib.sha256(n['data']).hexdigest())
        sig[rel] = s
    return sig


def cmpsig(mnt, top, path):
    if not os.path.lexists(mnt + top):
        print('absent')
        return 0
    want = json.load(open(path))
    got = signature(mnt, top)
    if got == want:
        print('whole (%d nodes)' % len(got))
        return 0
    print('neither whole nor absent:')
    for p in sorted(set(want) | set(got)):
        if want.get(p) != got.get(p):
            print('  %s: got %s, expected %s' % (
                p, json.dumps(got.get(p))[:200], json.dumps(want.get(p))[:200]))
    return 1


def submit(ctl, req):
    fd = -1
    try:
        fd = os.open(ctl, os.O_RDWR)
        os.write(fd, req.encode())
        answer = os.read(fd, 1 << 20).decode()
    except OSError as e:
        print('%s: %s' % (errno.errorcode.get(e.errno, '?'), e.strerror))
        return 3 if e.errno in LOST else 1
    finally:
        try:
            if fd >= 0:
                os.close(fd)
        except OSError:
            pass
    print(answer)
    return 0 if json.loads(answer).get('state') == 'done' else 1


def make_csv(path, rows, seed):
    import numpy as np
    rng = np.random.default_rng(seed)
    words = np.array(['alpha', 'beta', 'gamma, quoted', 'delta'])
    cols = {
        'id': np.arange(rows),
        'g': rng.integers(0, 50, rows),
        't': np.round(rng.random(rows), 4),
        'x': np.round(rng.standard_normal(rows), 6),
        's': words[rng.integers(0, len(words), rows)],
    }
    with open(path, 'w') as f:
        f.write('id,g,t,x,s\n')
        lines = ['%d,%d,%r,%r,"%s"' % r for r in zip(
            cols['id'].tolist(), cols['g'].tolist(), cols['t'].tolist(),
            cols['x'].tolist(), cols['s'].tolist())]
        f.write('\n'.join(lines))
        f.write('\n')


def main(argv):
    cmd = argv[1]
    if cmd == 'run':
        return run(argv[2], argv[3], int(argv[4]))
    if cmd == 'verify':
        return verify(argv[2], argv[3])
    if cmd == 'inflight':
        return inflight(argv[2])
    if cmd == 'sig':
        with open(argv[4], 'w') as f:
            json.dump(signature(argv[2], argv[3]), f, sort_keys=True)
        return 0
    if cmd == 'cmpsig':
        return cmpsig(argv[2], argv[3], argv[4])
    if cmd == 'submit':
        return submit(argv[2], argv[3])
    if cmd == 'make-csv':
        make_csv(argv[2], int(argv[3]), int(argv[4]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
