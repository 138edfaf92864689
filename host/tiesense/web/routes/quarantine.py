"""Quarantine and conflicts: what the host refused or found twice, the raw bytes, and re-ingest after a fix."""
from __future__ import annotations

import base64

from fastapi import APIRouter, Request, Response

from ...reingest import NotQuarantined, Truncated, reingest
from ...store import quarantine as store_quarantine, records as store_records
from ..auth import Admin
from ..deps import StoreDep
from ..errors import ApiError
from ..paging import Page, PagingDep, page

router = APIRouter(tags=["quarantine"])


def _missing(qid: int) -> ApiError:
    return ApiError(404, f"no quarantine row {qid}", "GET /api/quarantine lists them (a re-ingested row is gone)")


def _row(store, qid: int) -> dict:
    row = store.read(store_quarantine.get, qid)
    if row is None:
        raise _missing(qid)
    return row


@router.get("/api/quarantine", response_model=Page)
def list_quarantine(store: StoreDep, who: Admin, paging: PagingDep, device: str | None = None):
    """What the host refused, newest first: topic, device, reason, length and SHA-256 of the payload, times received."""
    rows, total = store.read(store_quarantine.page_rows, device, paging.limit, paging.offset)
    return page(paging, rows, total)


@router.get("/api/quarantine/{qid}")
def get_quarantine(qid: int, store: StoreDep, who: Admin) -> dict:
    """One quarantine row with its kept bytes as base64 (``raw_base64``) and as text (``raw_text``, UTF-8 with
    replacement characters); ``truncated`` when only a prefix was kept."""
    row = _row(store, qid)
    raw = bytes(row.pop("raw"))
    return dict(row, raw_kept=len(raw), truncated=row["raw_length"] is not None and len(raw) < row["raw_length"],
                raw_base64=base64.b64encode(raw).decode("ascii"), raw_text=raw.decode("utf-8", "replace"))


@router.get("/api/quarantine/{qid}/raw", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}})
def get_quarantine_raw(qid: int, store: StoreDep, who: Admin) -> Response:
    """The kept bytes of one quarantined payload, exactly."""
    raw = bytes(_row(store, qid)["raw"])
    return Response(raw, media_type="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="quarantine-{qid}.bin"'})


@router.post("/api/quarantine/{qid}/reingest")
def reingest_quarantine(qid: int, request: Request, store: StoreDep, who: Admin) -> dict:
    """Check a quarantined payload again (after publishing its form version, say) and store it if it
    passes now; the row is then gone. 409 with the reason when it is still refused."""
    try:
        done = reingest(store, qid, on_batch=request.app.state.on_batch)
    except NotQuarantined:
        raise _missing(qid) from None
    except Truncated as e:
        raise ApiError(409, f"cannot re-ingest quarantine row {qid}: {e}",
                       "ask the device to send it again (tiesense command DEVICE sync), or delete the row") from None
    if done.status == "refused":
        raise ApiError(409, f"still refused: {done.reason}",
                       "fix what the reason names (publish the form version, provision the device...) and try again")
    return {"quarantine_id": qid, "status": done.status, "records": done.statuses}


@router.delete("/api/quarantine/{qid}", status_code=204)
def delete_quarantine(qid: int, store: StoreDep, who: Admin) -> Response:
    """Forget a quarantine row (junk that will never pass)."""
    if not store.write(store_quarantine.delete, qid):
        raise _missing(qid)
    return Response(status_code=204)


@router.get("/api/conflicts", response_model=Page)
def list_conflicts(store: StoreDep, who: Admin, paging: PagingDep):
    """Records received again under a stored id with other content, newest first."""
    rows, total = store.read(store_records.page_conflicts, paging.limit, paging.offset)
    return page(paging, rows, total)


@router.get("/api/conflicts/{cid}")
def get_conflict(cid: int, store: StoreDep, who: Admin) -> dict:
    """One conflict: the stored version (``stored``), the other (``record``) and the answers that differ."""
    row = store.read(store_records.conflict, cid)
    if row is None:
        raise ApiError(404, f"no conflict {cid}", "GET /api/conflicts lists them")
    a, b = (row["stored"] or {}).get("answers", {}), row["record"].get("answers", {})
    row["differs"] = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return row
