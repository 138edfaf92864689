"""Pages: every list takes ``limit`` and ``offset`` and answers with its ``total`` and the ``next`` page's URL."""
from __future__ import annotations

from typing import Any, Annotated

from fastapi import Depends, Query, Request
from pydantic import BaseModel

__all__ = ["Paging", "PagingDep", "Page", "CellPage", "page", "sliced"]


class Page(BaseModel):
    """One page of a list."""

    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
    next: str | None = None


class CellPage(Page):
    """One page of aggregate cells: grouped ``by``, suppressed under ``k`` (None: nothing suppressed),
    ``suppressed`` cells in all."""

    by: str
    k: int | None
    suppressed: int


class Paging:
    """``limit`` (1 to the settings' ``page_max``, default ``page_default``) and ``offset`` of a list."""

    def __init__(self, request: Request,
                 limit: Annotated[int | None, Query(ge=1, description="Rows per page (at most 1000 by default)")] = None,
                 offset: Annotated[int, Query(ge=0, description="Rows to skip")] = 0):
        settings = request.app.state.settings
        self.limit = min(limit or settings.page_default, settings.page_max)
        self.offset = offset
        self.request = request


PagingDep = Annotated[Paging, Depends(Paging)]


def page(paging: Paging, items: list, total: int) -> dict:
    """The response body of one page: ``items``, ``total``, ``limit``, ``offset``, ``next`` (None on the last)."""
    nxt = None
    if paging.offset + len(items) < total:
        nxt = str(paging.request.url.include_query_params(offset=paging.offset + paging.limit, limit=paging.limit))
    return {"items": items, "total": total, "limit": paging.limit, "offset": paging.offset, "next": nxt}


def sliced(paging: Paging, rows: list) -> dict:
    """A page of a list computed whole (cells, versions)."""
    return page(paging, rows[paging.offset:paging.offset + paging.limit], len(rows))
