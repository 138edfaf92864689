"""The filters the analysable rows and the aggregates take, as query parameters."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from ..store.analysable import Filters

__all__ = ["FiltersDep"]


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
