"""Records and their analysable rows: visits (kiosk surveys), tie reports, respondents and alter–alter pairs
(interviews).

The rows routes take :data:`~tiesense.web.filters.RowFiltersDep`: the filters of every route and the survey
``wave``; a wave no row of the kind listed belongs to is a 422 naming the waves present.
"""
from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Query

from ...aggregates import all_forms
from ...forms import form_questions
from ...store import analysable, records as store_records
from ...store.analysable import VISIT_FORM
from ..auth import Analyst
from ..deps import StoreDep
from ..errors import ApiError
from ..filters import RowFiltersDep
from ..paging import Page, PagingDep, page
from .aggregates import unknown_wave

router = APIRouter(tags=["records"])


def _rows_page(store, paging, rows: str, read, *args):
    """The page of analysable rows ``read(conn, *args, limit, offset)`` gives; a survey wave no row of the
    kind (``rows``) belongs to is a 422 naming the waves present."""
    try:
        found, total = store.read(read, *args, paging.limit, paging.offset)
    except analysable.UnknownWave as e:
        raise unknown_wave(e, rows) from None
    return page(paging, found, total)


def _columns(store, form: str) -> tuple[list[str], list[str]]:
    qs = form_questions(all_forms(store), form)
    return [q["name"] for q in qs], [q["name"] for q in qs if q["type"] == "select_multiple"]


@router.get("/api/records", response_model=Page)
def list_records(store: StoreDep, who: Analyst, paging: PagingDep,
                 form: str | None = None, device: str | None = None, form_version: str | None = None,
                 since: Annotated[str | None, Query(description="Ended at or after (ISO)")] = None,
                 until: Annotated[str | None, Query(description="Ended before (ISO)")] = None):
    """Stored records as devices sent them (envelopes with answers), by end time."""
    rows, total = store.read(store_records.page_records, form=form, device=device, form_version=form_version,
                             since=since, until=until, limit=paging.limit, offset=paging.offset)
    return page(paging, rows, total)


@router.get("/api/records/{instance_id}")
def get_record(instance_id: str, store: StoreDep, who: Analyst) -> dict:
    """One stored record (``uuid:...``)."""
    rec = store.record(instance_id)
    if rec is None:
        raise ApiError(404, f"no record {instance_id!r}", "instance ids look like uuid:...; GET /api/records lists them")
    return rec


@router.get("/api/visits", response_model=Page)
def list_visits(store: StoreDep, who: Analyst, paging: PagingDep, filters: RowFiltersDep):
    """Kiosk visit surveys (``tp_visit``), one row per visit with one column per question, over every form version;
    of one survey ``wave`` when given."""
    questions, multi = _columns(store, VISIT_FORM)
    return _rows_page(store, paging, "visit", analysable.form_rows, VISIT_FORM, questions, multi, filters)


@router.get("/api/ties", response_model=Page)
def list_ties(store: StoreDep, who: Analyst, paging: PagingDep, filters: RowFiltersDep,
              respondent: Annotated[int | None, Query(description="Reports by this roster code")] = None):
    """Tie reports of both interview instruments, one per partner named (an ``fi_partner`` record, or a pass of
    the handheld's ``fi_interview``, with its ``pass``), with both organisations from the roster and the tie
    items; of one survey ``wave`` when given."""
    if respondent is not None:
        filters = dataclasses.replace(filters, respondent=respondent)
    return _rows_page(store, paging, "tie report", analysable.tie_rows, filters)


@router.get("/api/respondents", response_model=Page)
def list_respondents(store: StoreDep, who: Analyst, paging: PagingDep, filters: RowFiltersDep):
    """Respondent organisations of both interview instruments: roster fields, reports, distinct partners, first
    and last interview (one who named nobody: 0 reports and partners); over the interviews of one survey
    ``wave`` when given."""
    return _rows_page(store, paging, "interview", analysable.respondents, filters)


@router.get("/api/alter-pairs", response_model=Page)
def list_alter_pairs(store: StoreDep, who: Analyst, paging: PagingDep, filters: RowFiltersDep,
                     respondent: Annotated[int | None, Query(description="Pairs named by this roster code")] = None):
    """Alter–alter pairs (the handheld interview's dyad census): one row per pair of partners a respondent
    named, whether the two work with each other, with names and actor types from the roster; of one survey
    ``wave`` when given. ``actor_type`` and ``region`` are the respondent's, ``partner_actor_type`` either
    partner's."""
    if respondent is not None:
        filters = dataclasses.replace(filters, respondent=respondent)
    return _rows_page(store, paging, "alter pair", analysable.alter_pairs, filters)
