"""Store.write_batch throughput: records per second into SQLite, against the 0.1.0 path and a raw floor.

Usage (from the repository root)::

    .venv/bin/python -m bench.store                                  # 20000 records, batches of 64 and 1000
    .venv/bin/python -m bench.store --records 100000 --repeats 7

Each repeat writes ``--records`` new tp_visit records, in batches of
``--batch`` records (one transaction each), into a fresh file in a temporary
directory (WAL). The items (with their SHA-256 digests) are built before the
clock starts, as the ingest builds them before it calls the store. Three
writers, measured in the same run on the same records:

* ``tiesense``: :meth:`tiesense.store.Store.write_batch` (``BEGIN IMMEDIATE``,
  one look-up of known ids per chunk, prepared ``executemany``);
* ``0.1.0``: tiesense 0.1.0's path: the same look-up, then sqlite-utils'
  ``insert_all`` of dict rows inside ``db.atomic()``;
* ``floor``: ``executemany`` of ready-made tuples in ``BEGIN IMMEDIATE`` ...
  ``COMMIT``: no look-up, no Python per record; what SQLite itself costs.

Both ``synchronous=FULL`` (what the host runs: every commit synced) and
``synchronous=OFF`` (the CPU side alone: no fsync) are measured. The table
gives records/s from the median time over repeats, tiesense's speed-up over
0.1.0 (0.1.0 time / tiesense time) and its distance from the floor (tiesense
time / floor time).
"""
from __future__ import annotations

import argparse
import hashlib
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import sqlite_utils

from tiesense import wire
from tiesense.store import RecordItem, Store, now_iso


def items(n: int) -> list[RecordItem]:
    """``n`` distinct valid tp_visit records, with deterministic ids, digests computed."""
    out = []
    for i in range(n):
        iid = wire.new_instance_id(lambda k, i=i: hashlib.sha256(b"bench-%d" % i).digest()[:k])
        rec = wire.make_record(f"kiosk-{i % 8:02d}", i + 1, "tp_visit", "2026112401", "2026-11-24T09:00:00Z",
                               "2026-11-24T09:00:30Z",
                               {"facility": "shared_lab", "org_type": "sme", "satisfaction": 1 + i % 5}, iid)
        out.append(RecordItem(rec, now_iso(), wire.topic_records(rec["device"])))
    return out


def _batches(seq: list, size: int):
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


def run_tiesense(path: Path, recs: list[RecordItem], batch: int, sync: str) -> float:
    store = Store(path)
    store.conn.execute(f"PRAGMA synchronous = {sync}")
    start = time.perf_counter()
    for b in _batches(recs, batch):
        store.write_batch(b)
    took = time.perf_counter() - start
    store.close()
    return took


def run_0_1_0(path: Path, recs: list[RecordItem], batch: int, sync: str) -> float:
    """tiesense 0.1.0's Store._write_records, verbatim but for the lock, on the same schema."""
    Store(path).close()  # the schema
    db = sqlite_utils.Database(path)
    db.execute(f"PRAGMA synchronous = {sync}")
    start = time.perf_counter()
    for items_ in _batches(recs, batch):
        with db.atomic():
            ids = list({it.record["id"] for it in items_})
            known: dict[str, str] = {}
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                sql = "SELECT instance_id, digest FROM records WHERE instance_id IN (%s)" % ",".join("?" * len(chunk))
                known.update(db.execute(sql, chunk).fetchall())
            new_rows = []
            for it in items_:
                r = it.record
                if r["id"] not in known:
                    known[r["id"]] = it.digest
                    new_rows.append({
                        "instance_id": r["id"], "device": r["device"], "seq": r["seq"], "form": r["form"],
                        "form_version": r["form_version"], "start": r["start"], "end": r["end"],
                        "answers": wire.dumps(r["answers"]), "digest": it.digest, "received_at": it.received_at,
                    })
            if new_rows:
                db["records"].insert_all(new_rows, batch_size=500)
    took = time.perf_counter() - start
    db.close()
    return took


def run_floor(path: Path, recs: list[RecordItem], batch: int, sync: str) -> float:
    Store(path).close()  # the schema
    rows = [(it.record["id"], it.record["device"], it.record["seq"], it.record["form"], it.record["form_version"],
             it.record["start"], it.record["end"], wire.dumps(it.record["answers"]), it.digest, it.received_at)
            for it in recs]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {sync}")
    sql = ('INSERT INTO records (instance_id, device, seq, form, form_version, start, "end", answers, digest, '
           'received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
    start = time.perf_counter()
    for b in _batches(rows, batch):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, b)
        conn.execute("COMMIT")
    took = time.perf_counter() - start
    conn.close()
    return took


WRITERS = {"tiesense": run_tiesense, "0.1.0": run_0_1_0, "floor": run_floor}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.store", description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--batch", default="64,1000", help="records per write_batch call, comma-separated")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--synchronous", default="FULL,OFF", help="synchronous modes to measure, comma-separated")
    a = ap.parse_args(argv)
    recs = items(a.records)
    print(f"tiesense store bench: {a.records} records, median of {a.repeats} repeats, each on a fresh file")
    print("| batch | synchronous | tiesense rec/s | 0.1.0 rec/s | floor rec/s | tiesense vs 0.1.0 | "
          "tiesense time / floor |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for batch in (int(x) for x in a.batch.split(",")):
            for sync in a.synchronous.split(","):
                times: dict[str, list[float]] = {}
                for rep in range(a.repeats):
                    for name, fn in WRITERS.items():  # interleaved, so drift on a noisy machine hits all three
                        path = Path(d) / f"{name}-{rep}-{batch}-{sync}.db"
                        times.setdefault(name, []).append(fn(path, recs, batch, sync))
                        for suffix in ("", "-wal", "-shm"):
                            Path(str(path) + suffix).unlink(missing_ok=True)
                med = {k: statistics.median(v) for k, v in times.items()}
                rate = {k: a.records / t for k, t in med.items()}
                print(f"| {batch} | {sync} | {rate['tiesense']:,.0f} | {rate['0.1.0']:,.0f} | {rate['floor']:,.0f} | "
                      f"{med['0.1.0'] / med['tiesense']:.2f}x faster | {med['tiesense'] / med['floor']:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
