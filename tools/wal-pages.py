#!/usr/bin/env python3
"""Which B-trees the commits in a SQLite store's write-ahead log wrote, per commit.

Usage: tools/wal-pages.py DB   (DB is a kuayu.db whose DB-wal holds recent commits)

Reads the frames of DB-wal that belong to its current generation (the salt of its
header: a checkpoint that starts the log over changes it, and older frames after the
new ones are left in the file), groups them into commits (a frame with a non-zero
"database size" field ends one), and names each page by the table or index it belongs
to (SQLite's `dbstat`, read from a copy of DB and its log, so the store is not
touched). Prints the pages each commit wrote on average, and how many of them each
B-tree accounts for.

Each B-tree a commit changes costs at least one page (8 KB in a kuayu store) written to
the log and, at the next checkpoint, to the file: this is how the indexes on the hot
path were counted for issue 12. To see a gateway's commits, run the benchmark with
`--store DIR --concurrency 1` (one unit a commit) and stop it with `kill -9` midway, so
the log is not checkpointed away at the end; then run this on DIR/SC/kuayu.db and
DIR/CQ/kuayu.db.
"""

import collections
import os
import shutil
import sqlite3
import struct
import sys
import tempfile


def frames(wal_path):
    """(page number, commit size) of each frame of the log's current generation."""
    with open(wal_path, "rb") as f:
        data = f.read()
    if len(data) < 32:
        return [], 0
    _magic, _version, page_size, _seq, salt1, salt2, _c1, _c2 = struct.unpack(">8I", data[:32])
    out, offset = [], 32
    while offset + 24 + page_size <= len(data):
        page, commit, s1, s2, _k1, _k2 = struct.unpack(">6I", data[offset : offset + 24])
        if (s1, s2) != (salt1, salt2):
            break
        out.append((page, commit))
        offset += 24 + page_size
    return out, page_size


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    db = sys.argv[1]
    wal = db + "-wal"
    if not os.path.exists(wal):
        sys.exit(f"{wal}: no write-ahead log (was the store closed cleanly, or checkpointed?)")
    found, page_size = frames(wal)
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "copy.db")
        shutil.copy(db, copy)
        shutil.copy(wal, copy + "-wal")
        conn = sqlite3.connect(copy)
        names = dict((page, name) for name, page in conn.execute("SELECT name, pageno FROM dbstat"))
        conn.close()
    commits, current = [], set()
    for page, commit in found:
        current.add(page)
        if commit:
            commits.append(current)
            current = set()
    if not commits:
        sys.exit(f"{wal}: no whole commit in the log's current generation")
    per_tree = collections.Counter()
    for pages in commits:
        for page in pages:
            per_tree[names.get(page, "(page freed or new since)")] += 1
    n = len(commits)
    print(f"{len(found)} frames of {page_size} bytes, {n} commits, "
          f"{sum(per_tree.values()) / n:.1f} pages a commit")
    for name, count in per_tree.most_common():
        print(f"{count / n:6.2f}  {name}")


if __name__ == "__main__":
    main()
