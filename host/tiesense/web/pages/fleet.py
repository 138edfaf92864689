"""The fleet page: every device's last status and its alerts, on the page and as a JSON feed.

The alerts are :func:`tiesense.fleet.alerts` (offline by last will or
silence, battery low, queue long, device clock before 2025) plus what the
version 2 status adds, layered on here:

* ``storage_full``: the device says its flash log is full (it refuses surveys);
* ``storage_low``: ``flash_free`` under ``flash_min_bytes``;
* ``clock_unsynced``: the status's ``clock`` is 0 (never set by NTP or the host);
* ``refused_rising``: the device's ``refused`` counter went up within the last
  ``refused_window_minutes``. The store keeps only each device's last status,
  so the rise is seen by this web process between two looks (page, feed or the
  live stream's reloads): the first look after a start is the baseline.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from ... import wire
from ...fleet import Thresholds, alerts, response_rate
from ...store import devices as store_devices, now_iso
from ..auth import Analyst, Viewer
from ..deps import StoreDep
from ..routes.devices import ThresholdsDep
from .render import refuse, render

__all__ = ["router", "fleet_rows", "more_alerts", "Extra", "RefusedWatch"]

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Extra:
    """Thresholds of the alerts this page adds."""

    flash_min_bytes: int = 32768
    refused_window_minutes: float = 60.0


def extra(flash_min_bytes: Annotated[int, Query(ge=0)] = 32768,
          refused_window_minutes: Annotated[float, Query(gt=0)] = 60.0) -> Extra:
    return Extra(flash_min_bytes, refused_window_minutes)


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


def _watch(request: Request) -> RefusedWatch:
    state = request.app.state
    if getattr(state, "refused_watch", None) is None:
        state.refused_watch = RefusedWatch()
    return state.refused_watch


def more_alerts(row: dict, now: str, t: Thresholds, x: Extra, watch: RefusedWatch | None = None,
                now_s: float | None = None) -> list[dict]:
    """:func:`tiesense.fleet.alerts` of ``row`` and the alerts of the version 2 status fields.

    Examples
    --------
    >>> row = {"device": "k1", "online": 1, "last_seen": "2026-11-30T10:00:00.000Z", "clock": 0,
    ...        "flash_free": 1000, "storage_full": 1}
    >>> [a["alert"] for a in more_alerts(row, "2026-11-30T10:01:00.000Z", Thresholds(), Extra())]
    ['storage_full', 'clock_unsynced']
    """
    out = alerts(row, now, t)
    have = {a["alert"] for a in out}
    if row.get("storage_full"):
        out.append({"alert": "storage_full", "message": f"{row['device']} says its flash is full: it refuses surveys"})
    elif isinstance(row.get("flash_free"), int) and row["flash_free"] < x.flash_min_bytes:
        out.append({"alert": "storage_low",
                    "message": f"{row['flash_free']} bytes of flash free (below {x.flash_min_bytes})"})
    if row.get("clock") == wire.CLOCK_UNSYNCED and "clock_unsynced" not in have:
        out.append({"alert": "clock_unsynced", "message": "the device's clock was never set (no NTP, no host time)"})
    if watch is not None:
        now_s = time.time() if now_s is None else now_s
        rose_at, by = watch.look(row["device"], row.get("refused"), now_s)
        if rose_at is not None and now_s - rose_at < x.refused_window_minutes * 60:
            out.append({"alert": "refused_rising",
                        "message": f"refused count up by {by} to {row.get('refused')} "
                                   f"{(now_s - rose_at) / 60:.0f} minutes ago"})
    return out


def fleet_rows(store, t: Thresholds, x: Extra, watch: RefusedWatch | None = None) -> list[dict]:
    """Every device's last status with ``response_rate`` and ``alerts`` (:func:`more_alerts`)."""
    rows, _ = store.read(store_devices.page_rows)
    now = now_iso()
    return [dict(r, online=bool(r["online"]), response_rate=response_rate(r),
                 alerts=more_alerts(r, now, t, x, watch)) for r in rows]


ExtraDep = Annotated[Extra, Depends(extra)]


@router.get("/fleet", response_class=HTMLResponse)
def fleet(request: Request, store: StoreDep, who: Viewer, t: ThresholdsDep, x: ExtraDep):
    """The fleet page (analysts, as /api/devices)."""
    if who.role == "viewer":
        return refuse(request, who, "analyst")
    rows = fleet_rows(store, t, x, _watch(request))
    return render(request, who, "fleet.html", devices=rows, feed=f"/fleet/alerts.json?{request.url.query}")


@router.get("/fleet/alerts.json")
def fleet_alerts(request: Request, store: StoreDep, who: Analyst, t: ThresholdsDep, x: ExtraDep):
    """Every current alert, one item per (device, alert), with the thresholds used: a feed for monitoring."""
    rows = fleet_rows(store, t, x, _watch(request))
    items = [dict(a, device=r["device"], site=r["site"], last_seen=r["last_seen"]) for r in rows for a in r["alerts"]]
    return {"items": items, "total": len(items), "thresholds": {**t.__dict__, **x.__dict__}}
