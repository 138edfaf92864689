"""Exports: survey tables and the tie network for analysts; k-anonymous aggregates for viewers."""
from __future__ import annotations

import io
import json
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from ... import aggregates
from ...export import FORMATS, ExportError, cells_table, export, write_tables
from ..auth import Analyst, Viewer
from ..deps import SettingsDep, StoreDep
from ..errors import ApiError
from ..filters import FiltersDep
from .aggregates import k_for, unknown_wave

router = APIRouter(tags=["exports"])


def _download(data: bytes, fmt: str, stem: str) -> Response:
    media, ext = FORMATS[fmt]
    name = f"{stem}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.{ext}"
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/api/exports/aggregates/{kind}", response_class=Response,
            responses={200: {"content": {"text/csv": {}, "application/json": {}}}})
def export_aggregates(kind: Literal["visits", "ties"], store: StoreDep, settings: SettingsDep, who: Viewer,
                      filters: FiltersDep,
                      format: Annotated[Literal["csv", "xlsx", "json"], Query()] = "csv",
                      by: Annotated[str | None, Query(description="Grouping key, as /api/aggregates/...")] = None,
                      wave: Annotated[str | None, Query(min_length=1, max_length=64,
                                                        description="Visits only: cells of this survey wave, as "
                                                                    "/api/aggregates/visits")] = None):
    """Aggregate cells as a file; for a viewer, cells from fewer than k respondents are suppressed."""
    k = k_for(who, settings)
    if wave is not None and kind != "visits":
        raise ApiError(422, "wave filters the visit aggregates only",
                       "leave wave out for ties; /api/estimates?wave= keeps the ties reported in a wave")
    try:
        if kind == "visits":
            by = by or "facility"
            cells = aggregates.visit_cells(store, by, filters=filters, wave=wave, k=k)
        else:
            by = by or "actor_type_pair"
            cells = aggregates.tie_cells(store, by, filters=filters, k=k)
    except aggregates.UnknownKey as e:
        raise ApiError(422, f"cannot group {kind} by {e.args[0]!r}", f"by is one of: {', '.join(e.args[1])}") from None
    except aggregates.UnknownWave as e:
        raise unknown_wave(e) from None
    stem = f"tiesense-{kind}-by-{by}"
    if format == "json":
        body = json.dumps({"kind": kind, "by": by, "k": k, "cells": cells}, ensure_ascii=False).encode("utf-8")
        return _download(body, "json", stem)
    buf = io.BytesIO()
    write_tables([cells_table(f"{kind}_by_{by}", cells)], format, buf, single=True)
    data = buf.getvalue()
    if format == "csv":
        media = "text/csv; charset=utf-8"
        return Response(data, media_type=media,
                        headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'})
    return _download(data, "xlsx", stem)


@router.get("/api/exports/{fmt}", response_class=Response,
            responses={200: {"content": {m: {} for m, _ in FORMATS.values()}}})
def export_file(fmt: Literal["csv", "xlsx", "graphml", "gexf", "net", "dl", "json"], store: StoreDep,
                who: Analyst, filters: FiltersDep,
                labels: Annotated[bool, Query(description="Tables: question and choice labels instead of names")]
                = False,
                lang: Annotated[str, Query(description="Language of the labels")] = "en",
                table: Annotated[str | None, Query(description="csv: one table as a single CSV "
                                                               "(tp_visit, respondents, fi_partner)")] = None,
                estimator: Annotated[Literal["composite", "decayed_rate"], Query()] = "composite"):
    """The survey tables (csv: a zip of ODK-style CSVs, or one with ``table``; xlsx: one sheet per table) or
    the tie network (graphml, gexf, net for Pajek, dl for UCINET, json node-link), with organisation names."""
    buf = io.BytesIO()
    try:
        export(store, fmt, buf, labels=labels, lang=lang, table=table, estimator=estimator, filters=filters)
    except ExportError as e:
        raise ApiError(422, str(e), "see /openapi.json for the formats and tables") from None
    if fmt == "csv" and table is not None:
        return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{table}.csv"'})
    return _download(buf.getvalue(), fmt, "tiesense-ties" if fmt not in ("csv", "xlsx") else "tiesense-survey")
