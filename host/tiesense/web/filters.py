"""The filters the analysable rows and the aggregates take, as query parameters.

:data:`FiltersDep` is what every filtered route takes; :data:`RowFiltersDep` adds the survey ``wave`` for
the routes that list analysable rows (visits, tie reports, respondents). The aggregate, overview and
export routes keep the ``wave`` parameter of their own, whose unknown-wave check reads the visits alone.
"""
from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import Depends, Query

from ..store.analysable import Filters

__all__ = ["FiltersDep", "RowFiltersDep"]


def filters(
    form_version: Annotated[str | None, Query(description="Only records of this form version")] = None,
    device: Annotated[str | None, Query(description="Only records from this device")] = None,
    site: Annotated[str | None, Query(description="Only records from devices provisioned for this site")] = None,
    since: Annotated[str | None, Query(description="Records that ended at or after this ISO time (2026-11-01)")] = None,
    until: Annotated[str | None, Query(description="Records that ended before this ISO time")] = None,
    actor_type: Annotated[str | None, Query(description="Interviews: the respondent's actor type on the roster")] = None,
    partner_actor_type: Annotated[str | None, Query(description="Interviews: the partner's actor type")] = None,
    region: Annotated[str | None, Query(description="Interviews: the respondent's region on the roster")] = None,
) -> Filters:
    return Filters(form_version=form_version, device=device, site=site, since=since, until=until,
                   actor_type=actor_type, partner_actor_type=partner_actor_type, region=region)


FiltersDep = Annotated[Filters, Depends(filters)]


def row_filters(
    filters: FiltersDep,
    wave: Annotated[str | None, Query(min_length=1, max_length=64,
                                      description="Only records of this survey wave (their analysable rows' wave: "
                                                  "the record's wave answer, else its form version's wave setting; "
                                                  "e.g. 1); a wave no row belongs to is a 422 naming the waves "
                                                  "present")] = None,
) -> Filters:
    return dataclasses.replace(filters, wave=wave)


RowFiltersDep = Annotated[Filters, Depends(row_filters)]
