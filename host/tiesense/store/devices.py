"""Devices: the last status each device reported, one column per ``wire.STATUS_FIELDS``."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from .. import wire
from .connection import dicts

__all__ = ["StatusItem", "write", "rows", "online"]

_FIELDS = wire.STATUS_FIELDS[1:]  # "online" is stored as 0/1
_TEXT = ("fw", "role", "time")
_COLUMNS = ("device", "online", *_FIELDS, "last_seen")
_UPSERT = (f"INSERT INTO devices ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
           f"ON CONFLICT (device) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _COLUMNS[1:])}")


@dataclass
class StatusItem:
    """A decoded device status message."""

    device: str
    status: dict
    received_at: str


def _row(s: StatusItem) -> tuple:
    st = s.status
    values = []
    for k in _FIELDS:
        v = st.get(k)
        if k in _TEXT and v is not None and not isinstance(v, str):
            v = json.dumps(v)
        values.append(v)
    return (s.device, 1 if st.get("online") else 0, *values, s.received_at)


def write(conn: sqlite3.Connection, statuses: list[StatusItem]) -> None:
    """Replace each device's last status (inside the caller's write transaction); fields absent become NULL."""
    if statuses:
        conn.executemany(_UPSERT, [_row(s) for s in statuses])


def rows(conn: sqlite3.Connection) -> list[dict]:
    """Rows of ``devices`` by device id."""
    return dicts(conn, "SELECT * FROM devices ORDER BY device")


def online(conn: sqlite3.Connection) -> int:
    """Devices whose last status says online."""
    return conn.execute("SELECT count(*) FROM devices WHERE online = 1").fetchone()[0]


def page_rows(conn: sqlite3.Connection, limit: int | None = None, offset: int = 0) -> tuple[list[dict], int]:
    """``(rows, total)``: each device's last status by device id, with its ``site`` (if provisioned) and the
    number of ``records`` stored from it."""
    from .connection import page

    return page(conn, "SELECT d.*, i.site AS site, (SELECT count(*) FROM records r WHERE r.device = d.device) "
                      "AS records FROM devices d LEFT JOIN identities i ON i.name = d.device",
                [], "d.device", limit, offset)
