"""Tie estimates with their intervals, node measures and cluster measures."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ...aggregates import cluster_respondents
from ...store import estimates as store_estimates
from ..auth import Analyst, Viewer
from ..deps import SettingsDep, StoreDep
from ..errors import ApiError
from ..paging import Page, PagingDep, page, sliced
from ..reports import dyad_key, reported_dyads

router = APIRouter(tags=["estimates"])

ESTIMATORS = ("composite", "decayed_rate")


@router.get("/api/estimates", response_model=Page)
def list_estimates(store: StoreDep, who: Analyst, paging: PagingDep,
                   estimator: Annotated[str | None, Query(description="composite or decayed_rate (default: all)")]
                   = None,
                   threshold: Annotated[float | None, Query(description="Only ties with a value at least this")]
                   = None,
                   org: Annotated[int | None, Query(description="Only ties of this roster code")] = None,
                   backbone: Annotated[float | None, Query(gt=0, le=1, description=
                                       "Disparity-filter backbone at this significance (e.g. 0.05); needs estimator")]
                   = None,
                   wave: Annotated[str | None, Query(description="Only ties reported in interviews of this survey "
                                                                 "wave (the tie reports' wave, e.g. 1)")] = None):
    """Tie estimates per dyad (u < v, roster codes), strongest first: value, interval (low, high),
    observations, confirmed, disagreement. With ``backbone``, each row has its disparity ``alpha`` and only
    the backbone's ties are listed. With ``wave``, only the ties some interview report of that wave names
    (the value stays the estimate over all of the dyad's reports)."""
    if estimator is not None and estimator not in ESTIMATORS:
        raise ApiError(422, f"unknown estimator {estimator!r}", f"one of {', '.join(ESTIMATORS)}")
    if backbone is None and wave is None:
        rows, total = store.read(store_estimates.page_estimates, estimator, threshold, org, paging.limit,
                                 paging.offset)
        return page(paging, rows, total)
    if backbone is None:
        kept, _ = store.read(store_estimates.page_estimates, estimator, threshold, org)
    else:
        if estimator is None:
            raise ApiError(422, "a backbone is computed over one estimator's graph", "add estimator=composite "
                           "(or decayed_rate)")
        from ...estimates import disparity_alphas  # numpy: only when asked

        every, _ = store.read(store_estimates.page_estimates, estimator)
        alphas = disparity_alphas(every)
        kept = [dict(r, alpha=alphas[(r["u"], r["v"])]) for r in every
                if alphas[(r["u"], r["v"])] < backbone and (threshold is None or r["value"] >= threshold)
                and (org is None or org in (r["u"], r["v"]))]
    if wave is not None:
        named = set(store.read(reported_dyads, wave=wave).tolist())
        kept = [r for r in kept if dyad_key(r["u"], r["v"]) in named]
    return sliced(paging, kept)


@router.get("/api/measures/organisations", response_model=Page)
def org_measures(store: StoreDep, who: Analyst, paging: PagingDep,
                 measure: Annotated[str | None, Query(description="strength, degree, constraint, effective_size, "
                                                                  "top_partner_share, hhi, betweenness")] = None,
                 org: int | None = None):
    """Node measures per organisation with their bootstrap intervals (``tiesense ties recompute`` writes them)."""
    rows, total = store.read(store_estimates.page_org_measures, measure, org, paging.limit, paging.offset)
    return page(paging, rows, total)


@router.get("/api/measures/cluster", response_model=Page)
def cluster_measures(store: StoreDep, settings: SettingsDep, who: Viewer, paging: PagingDep):
    """Cluster-level measures with intervals. For a viewer they are suppressed while fewer than k
    organisations responded."""
    return sliced(paging, cluster_rows(store, settings, who))


def cluster_rows(store, settings, who) -> list[dict]:
    """The cluster measures as ``who`` may see them: values, intervals and the number of respondents
    emptied (``suppressed``) for a viewer while fewer than k organisations responded."""
    n = cluster_respondents(store)
    hide = who.role == "viewer" and n < settings.k
    return [dict({k: (None if hide and k in ("value", "low", "high") else v) for k, v in r.items()}, suppressed=hide,
                 respondents=None if hide else n) for r in store.cluster_measures()]
