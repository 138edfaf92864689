"""The host's SQLite store: schema, one-transaction batch writes, and queries (via sqlite-utils).

Tables
------
records
    One row per survey record, keyed by its ODK-style ``instance_id``. ``digest``
    is the SHA-256 (hex) of the record's canonical encoding
    (``wire.encode_record``), so a retry is recognised byte for byte.
conflicts
    A record whose id is already stored with other content: kept, never
    overwriting the first, with both digests.
quarantine
    Everything the host received and could not accept, with the topic, the
    device if known, the reason and the raw payload bytes. A record refused
    inside an otherwise good message keeps the whole message as ``raw`` and its
    position as ``item``.
devices
    The last status each device reported.
forms
    Every form id + version the host published; a published id + version is
    immutable.

The file is opened in WAL mode with ``synchronous=FULL``: a batch the host has
acknowledged survives a power cut, not only a crash.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import sqlite_utils

from . import wire

__all__ = ["Store", "RecordItem", "QuarantineItem", "StatusItem", "FormConflict", "record_digest", "now_iso"]


class FormConflict(ValueError):
    """A form id + version was published before with other content."""


def now_iso(t: float | None = None) -> str:
    """UTC time as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (``t`` in epoch seconds, default now)."""
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


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

    def __post_init__(self) -> None:
        if not self.digest:
            self.digest = record_digest(self.record)


@dataclass
class QuarantineItem:
    """Something received that the host refuses, kept with its reason and raw bytes."""

    topic: str
    reason: str
    raw: bytes
    received_at: str
    device: str | None = None
    item: int = -1  # position of the refused record in its message; -1 for the whole message
    instance_id: str | None = None
    seq: int | None = None


@dataclass
class StatusItem:
    """A decoded device status message."""

    device: str
    status: dict
    received_at: str


@dataclass
class Outcome:
    """What happened to one record of a batch: ``status`` is a ``wire`` ack status."""

    device: str
    seq: int
    instance_id: str
    status: str
    digest: str = ""


_SCHEMA: dict[str, dict[str, Any]] = {
    "records": dict(
        columns={"instance_id": str, "device": str, "seq": int, "form": str, "form_version": str,
                 "start": str, "end": str, "answers": str, "digest": str, "received_at": str},
        pk="instance_id", not_null={"device", "seq", "form", "form_version", "start", "end", "answers",
                                    "digest", "received_at"},
    ),
    "conflicts": dict(
        columns={"instance_id": str, "digest": str, "stored_digest": str, "device": str, "seq": int,
                 "record": str, "received_at": str},
        pk=("instance_id", "digest"), not_null={"stored_digest", "device", "seq", "record", "received_at"},
    ),
    "quarantine": dict(
        columns={"id": int, "received_at": str, "topic": str, "device": str, "reason": str, "raw": bytes,
                 "raw_digest": str, "item": int, "instance_id": str, "seq": int, "times": int,
                 "last_received_at": str},
        pk="id", not_null={"received_at", "topic", "reason", "raw", "raw_digest", "item", "times"},
        defaults={"item": -1, "times": 1},
    ),
    "devices": dict(
        columns={"device": str, "online": int, "fw": str, "role": str, "queue": int, "heap_free": int,
                 "battery_mv": int, "uptime_s": int, "time": str, "approaches": int, "abandoned": int,
                 "last_seen": str},
        pk="device", not_null={"last_seen"},
    ),
    "forms": dict(
        columns={"form_id": str, "version": str, "spec": str, "digest": str, "published_at": str},
        pk=("form_id", "version"), not_null={"spec", "digest", "published_at"},
    ),
}

TABLES = tuple(_SCHEMA)


class Store:
    """The host database, one SQLite file in WAL mode.

    Parameters
    ----------
    path : str or Path
        SQLite file (created with its tables if missing).

    Notes
    -----
    One connection, shared by the threads of one process under a lock; other
    processes may read the file at the same time (WAL).

    Examples
    --------
    >>> s = Store(":memory:")
    >>> s.counts()["records"]
    0
    """

    def __init__(self, path: str | Path):
        self.path = str(path)
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        with self._lock:
            if self.path != ":memory:":
                self.db.enable_wal()
            self.db.execute("PRAGMA synchronous=FULL")
            self._create()

    def _create(self) -> None:
        with self.db.atomic():
            for name, spec in _SCHEMA.items():
                self.db[name].create(spec["columns"], pk=spec["pk"], not_null=spec.get("not_null"),
                                     defaults=spec.get("defaults"), if_not_exists=True)
            self.db["records"].create_index(["device", "seq"], if_not_exists=True)
            self.db["quarantine"].create_index(["topic", "raw_digest", "item"], unique=True, if_not_exists=True)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ writes

    def write_batch(self, records: Iterable[RecordItem] = (), quarantine: Iterable[QuarantineItem] = (),
                    statuses: Iterable[StatusItem] = ()) -> list[Outcome]:
        """Store a batch in ONE transaction and say what happened to each record.

        A record whose id is new is stored; the same id with the same digest is
        a duplicate (stored once); the same id with another digest is a
        conflict (kept in ``conflicts``, the first version stays in ``records``).
        Quarantine items are kept (an identical item received again only bumps
        its ``times``); statuses update ``devices``. When this returns, the
        batch is committed.

        Parameters
        ----------
        records : iterable of RecordItem
            Records that passed every check, in the order received.
        quarantine : iterable of QuarantineItem
        statuses : iterable of StatusItem

        Returns
        -------
        list of Outcome
            One per record, in order, with status ``stored``, ``duplicate`` or ``conflict``.
        """
        records, quarantine, statuses = list(records), list(quarantine), list(statuses)
        with self._lock, self.db.atomic():
            outcomes = self._write_records(records)
            for q in quarantine:
                self._write_quarantine(q)
            for s in statuses:
                self._write_status(s)
        return outcomes

    def _write_records(self, items: list[RecordItem]) -> list[Outcome]:
        if not items:
            return []
        ids = list({it.record["id"] for it in items})
        known: dict[str, str] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            sql = "SELECT instance_id, digest FROM records WHERE instance_id IN (%s)" % ",".join("?" * len(chunk))
            known.update(self.db.execute(sql, chunk).fetchall())
        new_rows, conflict_rows, outcomes = [], [], []
        for it in items:
            r = it.record
            iid = r["id"]
            if iid not in known:
                known[iid] = it.digest
                status = wire.STORED
                new_rows.append({
                    "instance_id": iid, "device": r["device"], "seq": r["seq"], "form": r["form"],
                    "form_version": r["form_version"], "start": r["start"], "end": r["end"],
                    "answers": wire.dumps(r["answers"]), "digest": it.digest, "received_at": it.received_at,
                })
            elif known[iid] == it.digest:
                status = wire.DUPLICATE
            else:
                status = wire.CONFLICT
                conflict_rows.append({
                    "instance_id": iid, "digest": it.digest, "stored_digest": known[iid], "device": r["device"],
                    "seq": r["seq"], "record": wire.dumps(r), "received_at": it.received_at,
                })
            outcomes.append(Outcome(r["device"], r["seq"], iid, status, it.digest))
        if new_rows:
            self.db["records"].insert_all(new_rows, batch_size=500)
        if conflict_rows:
            # the same conflicting version received again is kept once
            self.db["conflicts"].insert_all(conflict_rows, ignore=True, batch_size=500)
        return outcomes

    def _write_quarantine(self, q: QuarantineItem) -> None:
        raw = bytes(q.raw)
        self.db.execute(
            "INSERT INTO quarantine (received_at, topic, device, reason, raw, raw_digest, item, instance_id, seq, "
            "times, last_received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) "
            "ON CONFLICT (topic, raw_digest, item) DO UPDATE SET times = times + 1, "
            "last_received_at = excluded.last_received_at",
            [q.received_at, q.topic, q.device, q.reason, raw, hashlib.sha256(raw).hexdigest(), q.item,
             q.instance_id, q.seq, q.received_at],
        )

    def _write_status(self, s: StatusItem) -> None:
        st = s.status
        row = {"device": s.device, "online": 1 if st.get("online") else 0, "last_seen": s.received_at}
        for k in wire.STATUS_FIELDS[1:]:
            v = st.get(k)
            if k in ("fw", "role", "time") and v is not None and not isinstance(v, str):
                v = json.dumps(v)
            row[k] = v
        self.db["devices"].upsert(row, pk="device", alter=True)

    def publish_form(self, form: dict, published_at: str | None = None) -> bool:
        """Record that ``form`` is published; True if new, False if already there unchanged.

        Raises
        ------
        FormConflict
            If this form id + version was published with other content: a
            published version is immutable, give the changed form a new version.
        """
        spec = wire.dumps(form)
        digest = hashlib.sha256(spec.encode("utf-8")).hexdigest()
        with self._lock, self.db.atomic():
            row = self.db.execute("SELECT digest FROM forms WHERE form_id = ? AND version = ?",
                                  [form["id"], form["version"]]).fetchone()
            if row is not None:
                if row[0] != digest:
                    raise FormConflict(
                        f"form '{form['id']}' version '{form['version']}' was published with other content; "
                        "a published version is immutable: give the changed form a new version")
                return False
            self.db["forms"].insert({"form_id": form["id"], "version": form["version"], "spec": spec,
                                     "digest": digest, "published_at": published_at or now_iso()})
            return True

    # ----------------------------------------------------------- queries

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict]:
        with self._lock:
            cur = self.db.execute(sql, list(params))
            cols = [c[0] for c in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]

    def counts(self) -> dict[str, int]:
        """Row count of every table, plus ``online``: devices whose last status says online."""
        with self._lock:
            out = {t: self.db.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0] for t in TABLES}
            out["online"] = self.db.execute("SELECT count(*) FROM devices WHERE online = 1").fetchone()[0]
        return out

    def record(self, instance_id: str) -> dict | None:
        """The stored record with this id as it was sent (the envelope dict), or None."""
        rows = self._rows("SELECT * FROM records WHERE instance_id = ?", [instance_id])
        return _row_to_record(rows[0]) if rows else None

    def records(self, device: str | None = None) -> list[dict]:
        """Stored records (envelope dicts), of one device or all, ordered by device and seq."""
        if device is None:
            rows = self._rows("SELECT * FROM records ORDER BY device, seq")
        else:
            rows = self._rows("SELECT * FROM records WHERE device = ? ORDER BY seq", [device])
        return [_row_to_record(r) for r in rows]

    def rows(self, table: str, where: str | None = None, params: Iterable[Any] = ()) -> list[dict]:
        """Raw rows of one table (``where`` is an SQL condition with ``?`` parameters)."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}; tables: {', '.join(TABLES)}")
        sql = f"SELECT * FROM [{table}]" + (f" WHERE {where}" if where else "") + " ORDER BY rowid"
        return self._rows(sql, params)

    def conflicts(self) -> list[dict]:
        """Rows of ``conflicts`` in arrival order."""
        return self.rows("conflicts")

    def quarantined(self) -> list[dict]:
        """Rows of ``quarantine`` in arrival order (``raw`` as bytes)."""
        return self.rows("quarantine")

    def devices(self) -> list[dict]:
        """Rows of ``devices`` by device id."""
        return self._rows("SELECT * FROM devices ORDER BY device")

    def forms(self) -> list[dict]:
        """Every published form spec (dicts), by id and version."""
        return [json.loads(r["spec"]) for r in self._rows("SELECT spec FROM forms ORDER BY form_id, version")]


def _row_to_record(row: dict) -> dict:
    return wire.make_record(row["device"], row["seq"], row["form"], row["form_version"], row["start"],
                            row["end"], json.loads(row["answers"]), row["instance_id"])
