#!/usr/bin/env python3
"""WAL pages a callback costs the SQLite store: replays the statements the store runs for N
callbacks (register, terminal event, delivery), in commits of BATCH, on the schema of
Sources/Store/Schema.swift (every migration), through the system's libsqlite3, and prints the
WAL bytes and pages written per callback in each phase. Deterministic: the same schema gives the
same figures on any machine. Usage: python3 Tests/bench/wal_pages.py [N] [BATCH]
"""
import hashlib
import os
import re
import sqlite3
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def schema():
    source = open(os.path.join(ROOT, "Sources/Store/Schema.swift"), encoding="utf-8").read()
    return "\n".join(re.findall(r'"""\n(.*?)"""', source, re.S))


def main(n=20000, batch=64, page=4096):
    directory = tempfile.mkdtemp(prefix="wal-pages-")
    path = os.path.join(directory, "store.sqlite")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(f"PRAGMA page_size = {page}")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA wal_autocheckpoint = 0")
    db.execute("PRAGMA cache_size = -8192")
    db.executescript(schema())
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def token(i):
        return ("AQB" + hashlib.sha512(str(i).encode()).hexdigest() * 6)[:900]

    def digest(i):
        return hashlib.sha256(token(i).encode()).hexdigest()

    def job(i):
        return "training-job-" + hashlib.md5(str(i).encode()).hexdigest()[:20]

    def arn(i):
        return "arn:aws:states:us-east-1:123456789012:execution:sm:" + hashlib.md5(str(i * 7).encode()).hexdigest()

    now = 1_700_000_000_000
    upsert_closed = ("INSERT INTO closed (token_hash, closed_at, result) VALUES (?, ?, ?) ON CONFLICT (token_hash) "
                     "DO UPDATE SET closed_at = excluded.closed_at, result = excluded.result")

    def phase(name, items, step):
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for start in range(0, len(items), batch):
            db.execute("BEGIN IMMEDIATE")
            for item in items[start:start + batch]:
                step(item)
            db.execute("COMMIT")
        written = os.path.getsize(path + "-wal") / n
        return name, written

    def register(i):
        db.execute("SELECT 1 FROM closed WHERE token_hash = ?", (digest(i),)).fetchall()
        db.execute("SELECT * FROM early_events WHERE job_kind = ? AND job_name = ?", ("TrainingJob", job(i))).fetchall()
        db.execute("INSERT INTO pending (token_hash, task_token, job_kind, job_name, registered_at, execution_arn, heartbeat, "
                   "created_by_service) VALUES (?, ?, ?, ?, ?, ?, 0, 0) ON CONFLICT (token_hash) DO NOTHING",
                   (digest(i), token(i), "TrainingJob", job(i), now + i, arn(i)))

    def event(i):
        rows = db.execute("SELECT token_hash, task_token FROM pending WHERE job_kind = ? AND job_name = ? ORDER BY registered_at",
                          ("TrainingJob", job(i))).fetchall()
        for hashed, task_token in rows:
            db.execute("DELETE FROM pending WHERE token_hash = ?", (hashed,))
            db.execute(upsert_closed, (hashed, now + n + i, "queued"))
            db.execute("INSERT INTO outbox (token_hash, task_token, job_kind, job_name, action, payload, attempts, next_attempt_at, "
                       "created_at) VALUES (?, ?, ?, ?, 'success', ?, 0, ?, ?)",
                       (hashed, task_token, "TrainingJob", job(i), '{"TrainingJobStatus":"Completed","x":"' + "y" * 400 + '"}',
                        now + n + i, now + n + i))

    results = [phase("register", list(range(n)), register), phase("event", list(range(n)), event)]
    entries = db.execute("SELECT id, token_hash FROM outbox ORDER BY next_attempt_at, id").fetchall()

    def deliver(entry):
        db.execute("DELETE FROM outbox WHERE id = ?", (entry[0],))
        db.execute(upsert_closed, (entry[1], now + 2 * n, "succeeded"))

    results.append(phase("deliver", entries, deliver))
    total = sum(written for _, written in results)
    frame = page + 24
    print(f"WAL per callback, {n} callbacks in commits of {batch}, {page}-byte pages: "
          + ", ".join(f"{name} {written / frame:.1f} pages" for name, written in results)
          + f"; in all {total / frame:.1f} pages ({total / 1024:.1f} KiB)")
    db.close()
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass
    os.rmdir(directory)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
