"""The backup lifecycle, one operation a module, in the order things happen:

1. create    (create.py)    a hot, consistent snapshot, quick-checked, packed
                            (codec.py: zstd, optionally age-encrypted) and put
                            into the store; then its signed manifest
                            (manifest.py): only the manifest makes a file in
                            the store a backup.
2. verify    (verify.py)    signature, date and claims of the manifest, then
                            the file fetched, hashed, unpacked and its schema
                            read, before anything trusts it.
3. retain    (retention.py) keep the newest N, never the newest good or
                            drilled one; clear orphans.
4. restore   (restore.py)   verify once, keep what is there (safety backup,
                            or damaged files moved aside), load in one
                            transaction.
   drill     (drill.py)     the same load into a scratch database, checked and
                            timed (the RTO), never touching the live data.

store.py (STORAGES["backups"]: BACKUP_DIR or an S3-compatible bucket),
catalog.py (what the store holds), staging.py (scratch files), files.py
(hashing) and locks.py (one data operation per database at a time) serve
them all. Each operation returns a result with a one-line .summary and
.as_dict(), and raises OpsError for the operator.
"""
