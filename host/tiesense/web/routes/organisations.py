"""Organisations: the roster (list, one organisation with its history, versions, import from CSV or XLSX)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from ...store import roster
from ..auth import Admin, Analyst
from ..deps import StoreDep
from ..errors import ApiError
from ..paging import Page, PagingDep, page, sliced

router = APIRouter(tags=["organisations"])

_NO_ROSTER = "import one: POST /api/roster with a CSV or XLSX (code,name,actor_type,region,sector,size)"


@router.get("/api/organisations", response_model=Page)
def list_organisations(store: StoreDep, who: Analyst, paging: PagingDep,
                       actor_type: str | None = None, region: str | None = None, sector: str | None = None,
                       q: Annotated[str | None, Query(description="Part of the name")] = None,
                       version: Annotated[int | None, Query(description="Roster version (default: current)")] = None):
    """Organisations of the current roster (or ``version``), by code."""
    rows, total = store.read(roster.organisations, version=version, actor_type=actor_type, region=region,
                             sector=sector, q=q, limit=paging.limit, offset=paging.offset)
    return page(paging, rows, total)


@router.get("/api/organisations/{code}")
def get_organisation(code: int, store: StoreDep, who: Analyst) -> dict:
    """One organisation as the current roster has it, with ``history``: its row in every version."""
    history = store.read(roster.organisation, code)
    if not history:
        raise ApiError(404, f"no organisation {code} on any roster", "GET /api/organisations lists the roster; "
                       + _NO_ROSTER)
    current = store.read(roster.current_version)
    now = history[0] if history[0]["version"] == current else None
    return {"code": code, "current": now, "history": history}


@router.get("/api/roster/versions", response_model=Page)
def roster_versions(store: StoreDep, who: Analyst, paging: PagingDep):
    """Every roster import, newest first."""
    return sliced(paging, store.read(roster.versions))


@router.post("/api/roster", status_code=201, openapi_extra={"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string",
                                                                                    "format": "binary"}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string",
                                                                                  "format": "binary"}}}}}}})
async def import_roster(request: Request, store: StoreDep, who: Admin) -> dict:
    """Import a roster (``code,name,actor_type[,region,sector,size]``) as a new version.

    The body is the CSV (``Content-Type: text/csv``) or an XLSX workbook (its sheet ``roster``, else the
    first), or a form upload with the file in ``file``. The same rows as the current version make no new
    version (``created`` false).
    """
    kind = request.headers.get("content-type", "")
    source = None
    if kind.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(422, "no file in the upload", "send the CSV or XLSX in a form field called file")
        data, source = await upload.read(), upload.filename
    else:
        data = await request.body()
    filename = source or ("roster.xlsx" if kind.startswith("application/vnd.openxmlformats") else None)
    try:
        rows = await run_in_threadpool(roster.parse, data, filename)
    except roster.RosterError as e:
        raise ApiError(422, str(e), "fix the file and send it again; columns: " + ", ".join(roster.COLUMNS)) from None
    version, created = store.import_roster(rows, source=source or f"api:{who.name}")
    return {"version": version, "created": created, "organisations": len(rows)}
