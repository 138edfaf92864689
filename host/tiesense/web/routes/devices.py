"""Devices: the fleet with each device's last status, its last will, response rate and alerts."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ...fleet import Thresholds, alerts, response_rate
from ...store import devices as store_devices, now_iso
from ..auth import Analyst
from ..deps import StoreDep
from ..errors import ApiError
from ..paging import Page, PagingDep, page, sliced

router = APIRouter(tags=["devices"])


def thresholds(offline_minutes: Annotated[float, Query(gt=0)] = 15.0,
               battery_mv: Annotated[int, Query(ge=0)] = 3300,
               queue_max: Annotated[int, Query(ge=0)] = 50) -> Thresholds:
    return Thresholds(offline_minutes, battery_mv, queue_max)


ThresholdsDep = Annotated[Thresholds, Depends(thresholds)]


def _device(row: dict, now: str, t: Thresholds) -> dict:
    return dict(row, online=bool(row["online"]), response_rate=response_rate(row), alerts=alerts(row, now, t))


@router.get("/api/devices", response_model=Page)
def list_devices(store: StoreDep, who: Analyst, paging: PagingDep, t: ThresholdsDep):
    """Every device that reported a status, by id: last status, site, records stored, response rate, alerts."""
    rows, total = store.read(store_devices.page_rows, paging.limit, paging.offset)
    now = now_iso()
    return page(paging, [_device(r, now, t) for r in rows], total)


@router.get("/api/devices/alerts", response_model=Page)
def device_alerts(store: StoreDep, who: Analyst, paging: PagingDep, t: ThresholdsDep):
    """Every current alert of the fleet, one item per (device, alert): a JSON feed for monitoring."""
    rows, _ = store.read(store_devices.page_rows)
    now = now_iso()
    feed = [dict(a, device=r["device"], site=r["site"], last_seen=r["last_seen"])
            for r in rows for a in alerts(r, now, t)]
    return sliced(paging, feed)


@router.get("/api/devices/{device}")
def get_device(device: str, store: StoreDep, who: Analyst, t: ThresholdsDep) -> dict:
    """One device's last status with its alerts."""
    rows, _ = store.read(store_devices.page_rows)
    for r in rows:
        if r["device"] == device:
            return _device(r, now_iso(), t)
    raise ApiError(404, f"no status from device {device!r}", "GET /api/devices lists the devices that reported")
