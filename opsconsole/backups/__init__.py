"""The backup lifecycle, one operation a module, in the order things happen:

1. create    (create.py)    a hot, consistent snapshot written whole or not at
                            all, then its manifest (manifest.py): only the
                            manifest makes bytes on disk a backup.
2. verify    (verify.py)    size, sha256, engine and migrations checked before
                            anything trusts the file.
3. retain    (retention.py) keep the newest N, never the newest verified one.
4. restore   (restore.py)   verify once, safety backup, load in one transaction.
   drill     (drill.py)     the same load into a scratch database, checked and
                            timed (the RTO), never touching the live data.

files.py (durable writes, hashing) and locks.py (one data operation per
database at a time) serve them all. Each operation returns a result with a
one-line .summary and .as_dict(), and raises OpsError for the operator.
"""
