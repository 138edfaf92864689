"""Devices: the fleet with each device's last status, its last will, response rate and alerts
(:mod:`tiesense.web.alerts`)."""
from __future__ import annotations

from fastapi import APIRouter, Request

from ..alerts import RulesDep, fleet, refused_watch
from ..auth import Analyst
from ..deps import StoreDep
from ..errors import ApiError
from ..paging import Page, PagingDep, page, sliced

router = APIRouter(tags=["devices"])


@router.get("/api/devices", response_model=Page)
def list_devices(request: Request, store: StoreDep, who: Analyst, paging: PagingDep, r: RulesDep):
    """Every device that reported a status, by id: last status, site, records stored, response rate, alerts."""
    rows, total = fleet(store, r, refused_watch(request), paging.limit, paging.offset)
    return page(paging, rows, total)


@router.get("/api/devices/alerts", response_model=Page)
def device_alerts(request: Request, store: StoreDep, who: Analyst, paging: PagingDep, r: RulesDep):
    """Every current alert of the fleet, one item per (device, alert): a JSON feed for monitoring."""
    rows, _ = fleet(store, r, refused_watch(request))
    feed = [dict(a, device=d["device"], site=d["site"], last_seen=d["last_seen"]) for d in rows for a in d["alerts"]]
    return sliced(paging, feed)


@router.get("/api/devices/{device}")
def get_device(device: str, request: Request, store: StoreDep, who: Analyst, r: RulesDep) -> dict:
    """One device's last status with its alerts."""
    rows, _ = fleet(store, r, refused_watch(request))
    for d in rows:
        if d["device"] == device:
            return d
    raise ApiError(404, f"no status from device {device!r}", "GET /api/devices lists the devices that reported")
