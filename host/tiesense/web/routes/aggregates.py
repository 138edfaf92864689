"""Aggregates: counts and means per cell, k-anonymous for viewers."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ... import aggregates
from ...access import Principal
from ..auth import Viewer
from ..deps import SettingsDep, StoreDep
from ..errors import ApiError
from ..filters import FiltersDep
from ..paging import CellPage, PagingDep, sliced

router = APIRouter(tags=["aggregates"])


def k_for(who: Principal, settings) -> int | None:
    """The k a caller's cells are suppressed under: the settings' for a viewer, none above."""
    return settings.k if who.role == "viewer" else None


def _cells(paging, cells: list[dict], by: str, k: int | None) -> dict:
    body = sliced(paging, cells)
    body.update(by=by, k=k, suppressed=sum(c["suppressed"] for c in cells))
    return body


def _unknown(e: aggregates.UnknownKey, what: str) -> ApiError:
    return ApiError(422, f"cannot group by {e.args[0]!r}" if what == "by" else f"{e.args[0]!r} is not a number question",
                    f"{what} is one of: {', '.join(e.args[1])}")


def unknown_wave(e: aggregates.UnknownWave, rows: str = "visit") -> ApiError:
    """The 422 of a survey wave no row of the kind asked for (``rows``: visit, tie report, interview, alter
    pair) belongs to, naming the waves present."""
    present = ", ".join(e.args[1]) or f"none (no {rows} has a wave yet)"
    return ApiError(422, f"no {rows} belongs to survey wave {e.args[0]!r}",
                    f"wave is one of: {present}; leave it out for every wave")


@router.get("/api/aggregates/visits", response_model=CellPage)
def visit_cells(store: StoreDep, settings: SettingsDep, who: Viewer, paging: PagingDep, filters: FiltersDep,
                by: Annotated[str, Query(description="facility, purpose, new_contact, satisfaction, wave, form_version, "
                                                     "hour, weekday, week, month, device, site...")]
                = "facility",
                value: Annotated[str | None, Query(description="Numeric question to average")] = "satisfaction",
                wave: Annotated[str | None, Query(min_length=1, max_length=64,
                                                  description="Only visits of this survey wave (the visits rows' "
                                                              "wave, e.g. 1); a wave no visit belongs to is a 422 "
                                                              "naming the waves present")] = None):
    """Visits per cell over every version of the visit form, with the mean of ``value`` and the new contacts
    made (``new_contacts``; ``contact_asked``: visits on a version that asks); of one survey ``wave`` when
    given; for a viewer, cells of fewer than k visits are suppressed."""
    try:
        cells = aggregates.visit_cells(store, by, value=value, filters=filters, wave=wave, k=k_for(who, settings))
    except aggregates.UnknownKey as e:
        raise _unknown(e, "by" if e.args[0] == by else "value") from None
    except aggregates.UnknownWave as e:
        raise unknown_wave(e) from None
    return _cells(paging, cells, by, k_for(who, settings))


@router.get("/api/aggregates/ties", response_model=CellPage)
def tie_cells(store: StoreDep, settings: SettingsDep, who: Viewer, paging: PagingDep, filters: FiltersDep,
              by: Annotated[str, Query(description="respondent_actor_type, partner_actor_type, actor_type_pair, "
                                                   "scope, tie_type, month, frequency, closeness, trust, form, "
                                                   "wave...")] = "actor_type_pair"):
    """Tie reports of both interview instruments per cell (reports, respondents, partners, mean closeness and
    frequency); for a viewer, cells built from fewer than k respondent organisations are suppressed."""
    try:
        cells = aggregates.tie_cells(store, by, filters=filters, k=k_for(who, settings))
    except aggregates.UnknownKey as e:
        raise _unknown(e, "by") from None
    return _cells(paging, cells, by, k_for(who, settings))
