"""The fleet's alerts as the web side gives them (``/api/devices...`` and the fleet page): those of
:func:`tiesense.fleet.alerts` (offline by last will or silence, battery low, queue long, device clock
before 2025) and what the version 2 status adds:

* ``storage_full``: the device says its flash log is full (it refuses surveys);
* ``storage_low``: ``flash_free`` under ``flash_min_bytes``;
* ``clock_unsynced``: the status's ``clock`` is 0 (never set by NTP or the host);
* ``refused_rising``: the device's ``refused`` counter went up within the last
  ``refused_window_minutes``. The store keeps only each device's last status,
  so a rise is seen by this web process between two looks at the fleet (the
  API, the page): the first look after a start is the baseline.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request

from .. import wire
from ..fleet import Thresholds, alerts, response_rate
from ..store import devices as store_devices, now_iso

__all__ = ["Rules", "RulesDep", "RefusedWatch", "refused_watch", "device_alerts", "fleet"]


@dataclass(frozen=True)
class Rules:
    """When a device's status is an alert: :class:`tiesense.fleet.Thresholds` and the version 2 limits."""

    thresholds: Thresholds = Thresholds()
    flash_min_bytes: int = 32768
    refused_window_minutes: float = 60.0

    def asdict(self) -> dict:
        return {**self.thresholds.__dict__, "flash_min_bytes": self.flash_min_bytes,
                "refused_window_minutes": self.refused_window_minutes}


def rules(offline_minutes: Annotated[float, Query(gt=0)] = 15.0,
          battery_mv: Annotated[int, Query(ge=0)] = 3300,
          queue_max: Annotated[int, Query(ge=0)] = 50,
          flash_min_bytes: Annotated[int, Query(ge=0, description="storage_low under this many bytes free")]
          = 32768,
          refused_window_minutes: Annotated[float, Query(gt=0, description="refused_rising for this long after "
                                                                          "the counter went up")] = 60.0) -> Rules:
    return Rules(Thresholds(offline_minutes, battery_mv, queue_max), flash_min_bytes, refused_window_minutes)


RulesDep = Annotated[Rules, Depends(rules)]


class RefusedWatch:
    """Each device's ``refused`` counter as this process last saw it, and when it last rose."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen: dict[str, tuple[int, float | None, int]] = {}  # device -> (value, rose_at, by)

    def look(self, device: str, refused, now: float) -> tuple[float | None, int]:
        """``(when it last rose, by how much)`` after looking at ``refused`` now."""
        if not isinstance(refused, int):
            return None, 0
        with self.lock:
            value, rose_at, by = self.seen.get(device, (refused, None, 0))
            if refused > value:
                rose_at, by = now, refused - value
            self.seen[device] = (refused, rose_at, by)
            return rose_at, by


def refused_watch(request: Request) -> RefusedWatch:
    """The app's watch (one per app, made on first use)."""
    state = request.app.state
    if getattr(state, "refused_watch", None) is None:
        state.refused_watch = RefusedWatch()
    return state.refused_watch


def device_alerts(row: dict, now: str, r: Rules = Rules(), watch: RefusedWatch | None = None,
                  now_s: float | None = None) -> list[dict]:
    """The alerts of one ``devices`` row (``alert``, ``message``), most urgent first.

    Examples
    --------
    >>> row = {"device": "k1", "online": 1, "last_seen": "2026-11-30T10:00:00.000Z", "clock": 0,
    ...        "flash_free": 1000, "storage_full": 1}
    >>> [a["alert"] for a in device_alerts(row, "2026-11-30T10:01:00.000Z")]
    ['storage_full', 'clock_unsynced']
    """
    out = alerts(row, now, r.thresholds)
    have = {a["alert"] for a in out}
    if row.get("storage_full"):
        out.append({"alert": "storage_full", "message": f"{row['device']} says its flash is full: it refuses surveys"})
    elif isinstance(row.get("flash_free"), int) and row["flash_free"] < r.flash_min_bytes:
        out.append({"alert": "storage_low",
                    "message": f"{row['flash_free']} bytes of flash free (below {r.flash_min_bytes})"})
    if row.get("clock") == wire.CLOCK_UNSYNCED and "clock_unsynced" not in have:
        out.append({"alert": "clock_unsynced", "message": "the device's clock was never set (no NTP, no host time)"})
    if watch is not None:
        now_s = time.time() if now_s is None else now_s
        rose_at, by = watch.look(row["device"], row.get("refused"), now_s)
        if rose_at is not None and now_s - rose_at < r.refused_window_minutes * 60:
            out.append({"alert": "refused_rising",
                        "message": f"refused count up by {by} to {row.get('refused')} "
                                   f"{(now_s - rose_at) / 60:.0f} minutes ago"})
    return out


def fleet(store, r: Rules, watch: RefusedWatch | None = None, limit: int | None = None,
          offset: int = 0) -> tuple[list[dict], int]:
    """``(rows, total)``: each device's last status (by id) with ``online`` (bool), ``response_rate`` and
    ``alerts``."""
    rows, total = store.read(store_devices.page_rows, limit, offset)
    now = now_iso()
    return [dict(row, online=bool(row["online"]), response_rate=response_rate(row),
                 alerts=device_alerts(row, now, r, watch)) for row in rows], total
