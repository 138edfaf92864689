"""Records and their conflicts: the batch write that deduplicates by id and digest, and the reads.

A record whose id is new is stored; the same id with the same digest is a
duplicate (stored once); the same id with another digest is a conflict, kept
in ``conflicts`` while the first version stays in ``records``. The write is
the host's hot path: one query per chunk of ids for those already stored, then
one prepared ``executemany`` per table.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Iterable

from .. import wire
from . import rows as _rows
from .connection import dicts

__all__ = ["RecordItem", "Outcome", "record_digest", "stored_digests", "write", "get", "all_records", "conflicts",
           "answers_of_form", "correct_clocks"]

#: Ids per ``IN (...)`` look-up, well below SQLite's limit on bound parameters.
CHUNK = 500

_INSERT_RECORD = ('INSERT INTO records (instance_id, device, seq, form, form_version, start, "end", answers, '
                  'digest, received_at, wire, clock, boot, uptime_s, duration_s) '
                  'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
# Unsynced version 2 records of a device and boot whose clock anchor is known get their time from it.
_CORRECT = ("UPDATE records SET start = strftime('%Y-%m-%dT%H:%M:%SZ', a.offset_s + records.uptime_s, 'unixepoch'), "
            "\"end\" = strftime('%Y-%m-%dT%H:%M:%SZ', a.offset_s + records.uptime_s + records.duration_s, 'unixepoch'), "
            "clock = 'corrected' FROM clock_anchors AS a "
            "WHERE records.clock = 'unsynced' AND records.device = ? AND a.device = records.device "
            "AND a.boot = records.boot")
# the same conflicting version received again is kept once
_INSERT_CONFLICT = ("INSERT INTO conflicts (instance_id, digest, stored_digest, device, seq, record, received_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (instance_id, digest) DO NOTHING")


def record_digest(rec: dict) -> str:
    """SHA-256 hex of ``wire.encode_record(rec)``: the identity of a record's content."""
    return hashlib.sha256(wire.encode_record(rec)).hexdigest()


@dataclass
class RecordItem:
    """A record that passed every check, ready to store."""

    record: dict
    received_at: str
    topic: str = ""
    digest: str = ""
    #: contract version 2 only: how the device's clock was set (``ntp``, ``host``, ``unsynced``), its boot
    #: counter and uptime at the start, and the survey's duration (see store.schema, clock_anchors)
    wire: int = 1
    clock: str | None = None
    boot: int | None = None
    uptime_s: int | None = None
    duration_s: int | None = None

    def __post_init__(self) -> None:
        if not self.digest:
            self.digest = record_digest(self.record)


@dataclass
class Outcome:
    """What happened to one record of a batch: ``status`` is a ``wire`` ack status."""

    device: str
    seq: int
    instance_id: str
    status: str
    digest: str = ""


def _chunks(seq: list, n: int = CHUNK):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def _marks(n: int) -> str:
    return ",".join("?" * n)


def stored_digests(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, str]:
    """``{instance_id: digest}`` of the given ids that are stored."""
    known: dict[str, str] = {}
    for chunk in _chunks(list(ids)):
        known.update(conn.execute(f"SELECT instance_id, digest FROM records WHERE instance_id IN ({_marks(len(chunk))})",
                                  chunk).fetchall())
    return known


def write(conn: sqlite3.Connection, items: list[RecordItem]) -> list[Outcome]:
    """Store ``items`` (inside the caller's write transaction); one :class:`Outcome` per item, in order."""
    if not items:
        return []
    known = stored_digests(conn, {it.record["id"] for it in items})
    new_rows, conflict_rows, outcomes, stored_records = [], [], [], []
    # answers of a record that passed wire.check_record: wire's fast canonical encoder gives wire.dumps' text
    encode = wire.encode_checked_record
    STORED, DUPLICATE, CONFLICT = wire.STORED, wire.DUPLICATE, wire.CONFLICT
    for it in items:
        r = it.record
        iid, digest = r["id"], it.digest
        stored = known.get(iid)
        if stored is None:
            known[iid] = digest
            status = STORED
            new_rows.append((iid, r["device"], r["seq"], r["form"], r["form_version"], r["start"], r["end"],
                             encode(r["answers"]).decode("utf-8"), digest, it.received_at, it.wire, it.clock,
                             it.boot, it.uptime_s, it.duration_s))
            stored_records.append(r)
        elif stored == digest:
            status = DUPLICATE
        else:
            status = CONFLICT
            conflict_rows.append((iid, digest, stored, r["device"], r["seq"], wire.dumps(r), it.received_at))
        outcomes.append(Outcome(r["device"], r["seq"], iid, status, digest))
    if new_rows:
        conn.executemany(_INSERT_RECORD, new_rows)
        _rows.write(conn, stored_records)  # the analysable rows, in the same transaction as their records
    if conflict_rows:
        conn.executemany(_INSERT_CONFLICT, conflict_rows)
    return outcomes


def correct_clocks(conn: sqlite3.Connection, devices: Iterable[str]) -> int:
    """Give unsynced records of ``devices`` (and their analysable rows) their time from a known clock anchor;
    the number of records corrected."""
    corrected = 0
    for d in sorted(set(devices)):
        n = conn.execute(_CORRECT, [d]).rowcount
        if n:
            _rows.sync_ends(conn, d)
        corrected += n
    return corrected


def _envelope(row: dict) -> dict:
    return wire.make_record(row["device"], row["seq"], row["form"], row["form_version"], row["start"],
                            row["end"], json.loads(row["answers"]), row["instance_id"])


def get(conn: sqlite3.Connection, instance_id: str) -> dict | None:
    """The stored record with this id as it was sent (the envelope dict), or None."""
    rows = dicts(conn, "SELECT * FROM records WHERE instance_id = ?", [instance_id])
    return _envelope(rows[0]) if rows else None


def all_records(conn: sqlite3.Connection, device: str | None = None) -> list[dict]:
    """Stored records (envelope dicts), of one device or all, ordered by device and seq."""
    if device is None:
        rows = dicts(conn, "SELECT * FROM records ORDER BY device, seq")
    else:
        rows = dicts(conn, "SELECT * FROM records WHERE device = ? ORDER BY seq", [device])
    return [_envelope(r) for r in rows]


def conflicts(conn: sqlite3.Connection) -> list[dict]:
    """Rows of ``conflicts`` in arrival order."""
    return dicts(conn, "SELECT * FROM conflicts ORDER BY rowid")


def answers_of_form(conn: sqlite3.Connection, form: str) -> list[tuple[str, str]]:
    """``(answers JSON, end)`` of every stored record of ``form``, by end time then id."""
    return conn.execute('SELECT answers, "end" FROM records WHERE form = ? ORDER BY "end", instance_id',
                        [form]).fetchall()


def page_records(conn: sqlite3.Connection, form: str | None = None, device: str | None = None,
                 form_version: str | None = None, since: str | None = None, until: str | None = None,
                 limit: int | None = None, offset: int = 0) -> tuple[list[dict], int]:
    """``(records, total)``: stored records as envelopes (dicts) plus ``received_at``, by end time then id,
    filtered by form, device, form version and ``since <= end < until``."""
    from .connection import page

    where, params = [], []
    for col, val in (("form", form), ("device", device), ("form_version", form_version)):
        if val is not None:
            where.append(f"{col} = ?")
            params.append(val)
    if since is not None:
        where.append('"end" >= ?')
        params.append(since)
    if until is not None:
        where.append('"end" < ?')
        params.append(until)
    sql = "SELECT * FROM records" + (" WHERE " + " AND ".join(where) if where else "")
    rows, total = page(conn, sql, params, '"end", instance_id', limit, offset)
    return [dict(_envelope(r), received_at=r["received_at"], digest=r["digest"]) for r in rows], total


def page_conflicts(conn: sqlite3.Connection, limit: int | None = None, offset: int = 0) -> tuple[list[dict], int]:
    """``(rows, total)``: conflicts, newest first, without the conflicting record's text."""
    from .connection import page

    return page(conn, "SELECT rowid AS id, instance_id, digest, stored_digest, device, seq, received_at FROM conflicts",
                [], "rowid DESC", limit, offset)


def conflict(conn: sqlite3.Connection, cid: int) -> dict | None:
    """Conflict ``cid`` (its rowid) with ``record`` (the conflicting version, a dict) and ``stored`` (the
    version kept in ``records``), or None."""
    found = dicts(conn, "SELECT rowid AS id, * FROM conflicts WHERE rowid = ?", [cid])
    if not found:
        return None
    row = found[0]
    row["record"] = json.loads(row["record"])
    row["stored"] = get(conn, row["instance_id"])
    return row
