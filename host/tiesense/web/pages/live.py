"""Live updates: a server-sent event stream that says when records arrive.

``GET /events`` watches the records table: the highest rowid is read every
``LIVE_POLL_S`` (an index look-up, cheap at any size), and when it moves an
``event: records`` is sent. Watching the database rather than subscribing to
the ingest's ``on_batch`` makes it work the same in ``serve --api`` (the ingest
in this process) and ``serve --api-only`` (another process ingests), and sees
re-ingested quarantine records too.

What an event carries depends on the role, as the API's rules do: an analyst
gets the number of records and the newest ones (device, form, end, id); a
viewer only ``{"changed": true}``, since a grand total could be differenced
against the k-suppressed cells. The page then refetches what it draws.

A stream ends after ``timeout`` seconds (25 by default) with a ``retry`` of
one second, so the browser's EventSource reconnects at once (sending the last
event id); it ends at once when the server is stopping
(:func:`tiesense.web.server.closing`), so it never holds a shutdown open.
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from ..auth import Viewer
from ..deps import StoreDep

__all__ = ["router", "LIVE_POLL_S", "high_water", "newest"]

router = APIRouter(include_in_schema=False)

#: Seconds between two looks at the records table.
LIVE_POLL_S = 0.5
#: A comment line every this many seconds keeps proxies from closing an idle stream.
HEARTBEAT_S = 10.0


def high_water(conn) -> int:
    """The highest rowid of ``records`` (0 when empty): it moves when a record is stored."""
    return conn.execute("SELECT coalesce(max(rowid), 0) FROM records").fetchone()[0]


def newest(conn, after: int, limit: int = 5) -> tuple[int, list[dict]]:
    """``(count of records, the newest records stored after rowid after, newest first, at most limit)``."""
    total = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    rows = conn.execute('SELECT rowid, instance_id, device, form, "end" FROM records WHERE rowid > ? '
                        "ORDER BY rowid DESC LIMIT ?", [after, limit]).fetchall()
    return total, [{"rowid": r[0], "id": r[1], "device": r[2], "form": r[3], "end": r[4]} for r in rows]


def _event(kind: str, ident: int, data: dict) -> str:
    return f"id: {ident}\nevent: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.get("/events")
async def events(request: Request, store: StoreDep, who: Viewer,
                 timeout: Annotated[float, Query(gt=0, le=300)] = 25.0,
                 last_event_id: Annotated[str | None, Header()] = None):
    """Server-sent events: ``records`` when records were stored (see the module's description)."""
    analyst = who.role != "viewer"

    async def stream():
        yield "retry: 1000\n\n"
        seen = int(last_event_id) if (last_event_id or "").isdigit() else None
        end = time.monotonic() + timeout
        beat = time.monotonic()
        while time.monotonic() < end:
            if await request.is_disconnected() or getattr(request.app.state, "closing", False):
                return
            mark = await asyncio.to_thread(store.read, high_water)
            if mark != seen:
                if analyst:
                    # the first event lists the newest records there are (the page's "latest records" at once)
                    total, rows = await asyncio.to_thread(store.read, newest, seen if seen is not None else 0)
                    yield _event("records", mark, {"records": total, "latest": rows, "first": seen is None})
                else:
                    yield _event("records", mark, {"changed": seen is not None, "first": seen is None})
                seen, beat = mark, time.monotonic()
            elif time.monotonic() - beat > HEARTBEAT_S:
                yield ": still here\n\n"
                beat = time.monotonic()
            await asyncio.sleep(LIVE_POLL_S)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
