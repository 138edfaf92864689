"""The fleet page: every device's last status and its alerts (:mod:`tiesense.web.alerts`, the same as
``/api/devices``); the JSON feed is ``/api/devices/alerts`` with the same thresholds."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ..alerts import RulesDep, fleet as fleet_rows, refused_watch
from ..auth import Viewer
from ..deps import StoreDep
from .render import refuse, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/fleet", response_class=HTMLResponse)
def fleet(request: Request, store: StoreDep, who: Viewer, r: RulesDep):
    """The fleet page (analysts, as /api/devices)."""
    if who.role == "viewer":
        return refuse(request, who, "analyst")
    rows, _ = fleet_rows(store, r, refused_watch(request))
    query = request.url.query
    return render(request, who, "fleet.html", devices=rows, feed="/api/devices/alerts" + (f"?{query}" if query else ""))
