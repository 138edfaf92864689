"""The data page: records, quarantine and conflicts as tables, with downloads.

Downloads reuse the export package: the survey tables and the network are the
API's ``/api/exports/...`` files (:func:`tiesense.export.export`); quarantine
and conflicts are written here with :func:`tiesense.export.write_tables`
(CSV with a BOM, or XLSX). Records are for analysts, quarantine and
conflicts for admins (as the API); a viewer gets the k-anonymous aggregate
downloads (``/api/exports/aggregates/...``).
"""
from __future__ import annotations

import io
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from ...export import FORMATS, Table, write_tables
from ...store import quarantine as store_quarantine, records as store_records
from ..auth import Admin, Viewer
from ..deps import StoreDep
from .render import render

__all__ = ["router", "QUARANTINE_COLUMNS", "CONFLICT_COLUMNS"]

router = APIRouter(include_in_schema=False)

QUARANTINE_COLUMNS = ("id", "received_at", "last_received_at", "times", "topic", "device", "reason", "raw_length",
                      "raw_kept", "raw_digest", "instance_id", "seq")
CONFLICT_COLUMNS = ("id", "instance_id", "digest", "stored_digest", "device", "seq", "received_at")
ROWS = 50


@router.get("/data", response_class=HTMLResponse)
def data(request: Request, store: StoreDep, who: Viewer, offset: Annotated[int, Query(ge=0)] = 0):
    """Records (analysts), quarantine and conflicts (admins), downloads for each."""
    context: dict = {"offset": offset, "rows": ROWS}
    if who.role != "viewer":
        records, total = store.read(store_records.page_records, None, None, None, None, None, ROWS, offset)
        context["records"], context["records_total"] = records, total
    if who.role == "admin":
        context["quarantine"], context["quarantine_total"] = store.read(store_quarantine.page_rows, None, ROWS, 0)
        context["conflicts"], context["conflicts_total"] = store.read(store_records.page_conflicts, ROWS, 0)
    return render(request, who, "data.html", **context)


def _table(name: str, columns: tuple[str, ...], rows: list[dict]) -> Table:
    return Table(name, list(columns), len(rows), lambda: iter([[r.get(c) for c in columns] for r in rows]))


@router.get("/data/{what}.{fmt}")
def download(what: Literal["quarantine", "conflicts"], fmt: Literal["csv", "xlsx"], store: StoreDep, who: Admin):
    """Every quarantine or conflict row (without the payloads) as CSV or XLSX."""
    if what == "quarantine":
        rows, _ = store.read(store_quarantine.page_rows)
        table = _table("quarantine", QUARANTINE_COLUMNS, rows)
    else:
        rows, _ = store.read(store_records.page_conflicts)
        table = _table("conflicts", CONFLICT_COLUMNS, rows)
    buf = io.BytesIO()
    write_tables([table], fmt, buf, single=True)
    media = "text/csv; charset=utf-8" if fmt == "csv" else FORMATS["xlsx"][0]
    name = f"tiesense-{what}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.{fmt}"
    return Response(buf.getvalue(), media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})
