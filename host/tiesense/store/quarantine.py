"""Quarantine: what the host received and refuses, kept with its reason and a bounded prefix of its bytes.

A payload is identified by the SHA-256 of all of it (``raw_digest``), so the
same payload received again, however long, only bumps ``times`` and
``last_received_at`` of its row (per topic and ``item``); ``raw`` keeps its
first ``keep_bytes`` bytes and ``raw_length`` its whole length.
"""
from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass

from .connection import dicts

__all__ = ["QuarantineItem", "DEFAULT_KEEP_BYTES", "write", "rows"]

#: Bytes of a refused payload kept in ``quarantine.raw`` unless the Store is told otherwise.
DEFAULT_KEEP_BYTES = 4096

_UPSERT = ("INSERT INTO quarantine (received_at, topic, device, reason, raw, raw_length, raw_digest, item, "
           "instance_id, seq, times, last_received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) "
           "ON CONFLICT (topic, raw_digest, item) DO UPDATE SET times = times + 1, "
           "last_received_at = excluded.last_received_at")


@dataclass
class QuarantineItem:
    """Something received that the host refuses; ``raw`` is the whole payload as received."""

    topic: str
    reason: str
    raw: bytes
    received_at: str
    device: str | None = None
    item: int = -1  # position of the refused record in its message; -1 for the whole message
    instance_id: str | None = None
    seq: int | None = None


def write(conn: sqlite3.Connection, items: list[QuarantineItem], keep_bytes: int = DEFAULT_KEEP_BYTES) -> None:
    """Keep ``items`` (inside the caller's write transaction)."""
    rows = []
    for q in items:
        raw = bytes(q.raw)
        rows.append((q.received_at, q.topic, q.device, q.reason, raw[:keep_bytes], len(raw),
                     hashlib.sha256(raw).hexdigest(), q.item, q.instance_id, q.seq, q.received_at))
    if rows:
        conn.executemany(_UPSERT, rows)


def rows(conn: sqlite3.Connection) -> list[dict]:
    """Rows of ``quarantine`` in arrival order (``raw`` as bytes, at most the kept prefix)."""
    return dicts(conn, "SELECT * FROM quarantine ORDER BY rowid")


def page_rows(conn: sqlite3.Connection, device: str | None = None, limit: int | None = None,
              offset: int = 0) -> tuple[list[dict], int]:
    """``(rows, total)``: quarantine rows without ``raw``, newest first, of one device or all."""
    from .connection import page

    where, params = ("WHERE device = ?", [device]) if device is not None else ("", [])
    return page(conn, "SELECT id, received_at, last_received_at, times, topic, device, reason, raw_length, "
                      f"length(raw) AS raw_kept, raw_digest, item, instance_id, seq FROM quarantine {where}",
                params, "id DESC", limit, offset)


def get(conn: sqlite3.Connection, qid: int) -> dict | None:
    """The quarantine row ``qid`` with its kept ``raw`` bytes, or None."""
    found = dicts(conn, "SELECT * FROM quarantine WHERE id = ?", [qid])
    return found[0] if found else None


def delete(conn: sqlite3.Connection, qid: int) -> bool:
    """Forget quarantine row ``qid`` (inside the caller's write transaction); False if there was none."""
    return conn.execute("DELETE FROM quarantine WHERE id = ?", [qid]).rowcount == 1
