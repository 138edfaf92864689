"""The fleet: each device's last status read as alerts a park's operator acts on.

A device's status is retained at the broker and its last will says
``online: false`` when its connection dies, so the ``devices`` table always
holds its last word. From it:

* ``offline``: the last will (or a clean goodbye) said offline, or nothing
  was heard for ``offline_minutes``;
* ``battery_low``: ``battery_mv`` under ``battery_mv``;
* ``queue``: more than ``queue_max`` records waiting on the device;
* ``clock_unsynced``: the device's clock says a year before 2025 (an rp2
  board restarts its clock at 2021-01-01 until NTP answers).

Examples
--------
>>> row = {"device": "k1", "online": 1, "battery_mv": 3100, "queue": 2, "time": "2021-01-01T00:05:00Z",
...        "last_seen": "2026-11-30T10:00:00.000Z", "approaches": 10, "records": 4}
>>> [a["alert"] for a in alerts(row, now="2026-11-30T10:01:00.000Z")]
['battery_low', 'clock_unsynced']
>>> response_rate(row)
0.4
"""
from __future__ import annotations

import calendar
import time
from dataclasses import dataclass

__all__ = ["Thresholds", "alerts", "response_rate"]


@dataclass(frozen=True)
class Thresholds:
    offline_minutes: float = 15.0
    battery_mv: int = 3300
    queue_max: int = 50


def _epoch(iso: str) -> float:
    return calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S"))


def alerts(row: dict, now: str | None = None, t: Thresholds = Thresholds()) -> list[dict]:
    """The alerts of one ``devices`` row (``alert``, ``message``), most urgent first."""
    out = []
    now_s = _epoch(now) if now else time.time()
    silent = (now_s - _epoch(row["last_seen"])) / 60 if row.get("last_seen") else None
    if not row.get("online"):
        out.append({"alert": "offline", "message": f"{row['device']} said offline (last will) at {row['last_seen']}"})
    elif silent is not None and silent > t.offline_minutes:
        out.append({"alert": "offline", "message": f"nothing from {row['device']} for {silent:.0f} minutes"})
    mv = row.get("battery_mv")
    if isinstance(mv, int) and mv < t.battery_mv:
        out.append({"alert": "battery_low", "message": f"battery at {mv} mV (below {t.battery_mv})"})
    q = row.get("queue")
    if isinstance(q, int) and q > t.queue_max:
        out.append({"alert": "queue", "message": f"{q} records waiting on the device (more than {t.queue_max})"})
    clock = row.get("time")
    if isinstance(clock, str) and clock[:4].isdigit() and int(clock[:4]) < 2025:
        out.append({"alert": "clock_unsynced", "message": f"device clock says {clock}: no NTP yet"})
    return out


def response_rate(row: dict) -> float | None:
    """Records stored per approach the presence sensor counted (None without approaches)."""
    a = row.get("approaches")
    if not isinstance(a, int) or a <= 0:
        return None
    return round(min(1.0, (row.get("records") or 0) / a), 4)
