"""Devices: the last status each device reported, one column per ``wire.STATUS_FIELDS``."""
from __future__ import annotations

import calendar
import json
import sqlite3
import time
from dataclasses import dataclass

from .. import wire
from .connection import dicts

__all__ = ["StatusItem", "write", "rows", "online"]

_FIELDS = wire.STATUS_FIELDS[1:]  # "online" is stored as 0/1
_TEXT = ("fw", "role", "time", "nonce", "last_error")
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


# A synced anchor replaces one taken from the host's receive time; otherwise the first one stays.
_ANCHOR = ("INSERT INTO clock_anchors (device, boot, offset_s, synced, at) VALUES (?, ?, ?, ?, ?) "
           "ON CONFLICT (device, boot) DO UPDATE SET offset_s = excluded.offset_s, synced = excluded.synced, "
           "at = excluded.at WHERE excluded.synced > clock_anchors.synced")


def _epoch(iso: str) -> int:
    """Epoch seconds of a UTC time written ``YYYY-MM-DDTHH:MM:SS`` with anything after (Z, milliseconds)."""
    return calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S"))


def anchor(s: StatusItem) -> tuple | None:
    """The clock anchor a version 2 status gives: ``(device, boot, offset_s, synced, at)``, or None.

    The offset is epoch seconds at uptime 0 of that boot: from the device's
    own time if its clock was set (NTP or the host's time command), else from
    the host's clock when the status arrived (good to the network's delay).
    """
    st = s.status
    if not st.get("online") or st.get("boot") is None or st.get("uptime_s") is None:
        return None
    synced = 1 if st.get("clock") in (wire.CLOCK_NTP, wire.CLOCK_HOST) and st.get("time") else 0
    now = _epoch(st["time"]) if synced else _epoch(s.received_at)
    return (s.device, st["boot"], now - st["uptime_s"], synced, s.received_at)


def write(conn: sqlite3.Connection, statuses: list[StatusItem]) -> None:
    """Replace each device's last status (inside the caller's write transaction); fields absent become NULL.
    A version 2 status also records its boot's clock anchor."""
    if statuses:
        conn.executemany(_UPSERT, [_row(s) for s in statuses])
        anchors = [a for a in map(anchor, statuses) if a is not None]
        if anchors:
            conn.executemany(_ANCHOR, anchors)


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
