"""The network page: organisations and their tie estimates, drawn with WebGL (plotly's ``scattergl``), and
the structural measures of what is shown as cards (brokers, constraint, E-I, hub dependence), each with its
definition and citation.

Nodes are the organisations of the ties shown, coloured by actor type (current roster), sized by strength
(the sum of the shown ties' values), hollow when the organisation never responded. Edges are the rows of
``tie_estimates`` of one estimator, at least ``threshold``, optionally only the disparity backbone at
``alpha`` (as ``/api/estimates``: alphas computed over all of the estimator's ties); the hover gives each
tie's interval. ``actor_type`` and ``region`` keep the ties touching an organisation of that type or region.

Positions are computed here, in O(n): each actor type gets a sector of a circle, and inside it the
organisations are laid on a sunflower spiral, strongest at the centre. It is deterministic (the same view
draws the same picture) and does not depend on a force layout that would cost seconds at 5,000 nodes.

The page is for analysts (single organisations); a viewer sees the cluster measures, hidden under k
respondents as in ``/api/measures/cluster``.
"""
from __future__ import annotations

import math
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from ...store import analysable
from ...store import estimates as store_estimates
from ...store import roster as store_roster
from ..auth import Viewer
from ..deps import SettingsDep, StoreDep
from ..routes.estimates import cluster_rows
from .render import render

__all__ = ["router", "network_data", "layout", "ESTIMATORS"]

router = APIRouter(include_in_schema=False)

ESTIMATORS = ("composite", "decayed_rate")
_GOLDEN = math.pi * (3 - math.sqrt(5))


def layout(groups: list[str], strength: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of each node: a sector per group (by size, largest first), a sunflower spiral inside it.

    Examples
    --------
    >>> x, y = layout(["a", "a", "b"], np.array([1.0, 2.0, 1.0]))
    >>> len(x), bool(np.hypot(x[1] - x[0], y[1] - y[0]) > 0)
    (3, True)
    """
    n = len(groups)
    x, y = np.zeros(n), np.zeros(n)
    if n == 0:
        return x, y
    names, inverse, counts = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True,
                                       return_counts=True)
    order = np.argsort(-counts, kind="stable")
    # a group's centre on a circle, spaced by the group's size; its own radius grows with sqrt(size)
    total = counts.sum()
    ring = max(1.0, math.sqrt(total) * 0.9)
    angle = 0.0
    for g in order:
        members = np.flatnonzero(inverse == g)
        share = counts[g] / total
        mid = angle + math.pi * share
        angle += 2 * math.pi * share
        cx, cy = (ring * math.cos(mid), ring * math.sin(mid)) if len(names) > 1 else (0.0, 0.0)
        ranked = members[np.argsort(-strength[members], kind="stable")]
        k = np.arange(len(ranked))
        r = 0.5 * np.sqrt(k + 0.5)
        x[ranked] = cx + r * np.cos(k * _GOLDEN)
        y[ranked] = cy + r * np.sin(k * _GOLDEN)
    return x, y


def _num(x) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def _column(values) -> list:
    """A column of numbers (None allowed) rounded to 4 decimals, NaN and None as None: vectorised."""
    a = np.round(np.array([np.nan if x is None else x for x in list(values)], dtype=np.float64), 4)
    return [None if x != x else x for x in a.tolist()]


def _cards(g, types: list[str], regions: list[str], codes: list[int], names: list[str]) -> dict:
    from ...ties import structure
    from ...ties.cluster import ei_index, hub_dependence

    n = g.n
    if n == 0 or g.m == 0:
        return {}
    roles = structure.brokerage(g, types)
    total = sum(roles.values())
    top = [int(i) for i in np.argsort(-total, kind="stable")[:5] if total[i] > 0]
    brokers = [{"code": codes[i], "name": names[i], "type": types[i], "total": int(total[i]),
                **{role: int(v[i]) for role, v in roles.items()}} for i in top]
    c = structure.constraint(g)
    ok = np.flatnonzero(np.isfinite(c) & (g.degree() >= 2))
    ranked = ok[np.argsort(c[ok], kind="stable")]
    lowest = [{"code": codes[i], "name": names[i], "value": _num(c[i])} for i in ranked[:3]]
    highest = [{"code": codes[i], "name": names[i], "value": _num(c[i])} for i in ranked[::-1][:3]]
    hub = hub_dependence(g)
    dependent = int(np.sum(np.nan_to_num(hub.top_share) >= 0.8))
    region = [r or "?" for r in regions]
    return {"brokers": brokers, "constraint_low": lowest, "constraint_high": highest,
            "ei_region": _num(ei_index(g, region, weighted=True)),
            "ei_type": _num(ei_index(g, types, weighted=True)),
            "hub_dependent": dependent, "centralization": _num(structure.degree_centralization(g))}


def network_data(store, estimator: str = "composite", threshold: float | None = None,
                 backbone: float | None = None, actor_type: str | None = None, region: str | None = None) -> dict:
    """Nodes, edges (as node indices) and cards of the view asked for, as JSON-ready columns."""
    from ...estimates import disparity_alphas
    from ...ties.graph import Graph

    if backbone is not None:
        every, _ = store.read(store_estimates.page_estimates, estimator)
        alphas = disparity_alphas(every)
        rows = [r for r in every if alphas[(r["u"], r["v"])] < backbone
                and (threshold is None or r["value"] >= threshold)]
    else:
        rows, _ = store.read(store_estimates.page_estimates, estimator, threshold)
    orgs, _ = store.read(store_roster.organisations)
    roster = {o["code"]: o for o in orgs}
    if actor_type or region:
        def keep(code):
            o = roster.get(code) or {}
            return (not actor_type or o.get("actor_type") == actor_type) and (not region or o.get("region") == region)

        rows = [r for r in rows if keep(r["u"]) or keep(r["v"])]
    resp, _ = store.read(analysable.respondents)
    responded = {r["code"] for r in resp}
    u = np.array([r["u"] for r in rows], dtype=np.int64)
    v = np.array([r["v"] for r in rows], dtype=np.int64)
    w = np.array([r["value"] or 0.0 for r in rows], dtype=np.float64)
    codes = np.unique(np.concatenate([u, v])) if len(rows) else np.zeros(0, dtype=np.int64)
    ui, vi = np.searchsorted(codes, u), np.searchsorted(codes, v)
    strength = np.bincount(np.concatenate([ui, vi]), weights=np.concatenate([w, w]), minlength=len(codes))
    code_list = codes.tolist()
    types = [(roster.get(c) or {}).get("actor_type") or analysable.NOT_ON_ROSTER for c in code_list]
    regions = [(roster.get(c) or {}).get("region") for c in code_list]
    names = [(roster.get(c) or {}).get("name") or f"#{c}" for c in code_list]
    # the composite graph's node strength with its bootstrap interval, when tiesense ties recompute wrote it
    stored, _ = store.read(store_estimates.page_org_measures, "strength")
    interval = {r["org"]: (r["value"], r["low"], r["high"]) for r in stored}
    x, y = layout(types, strength)
    g = Graph.from_edges(ui, vi, np.maximum(w, 1e-3), n=len(codes)) if len(codes) else None
    cards = _cards(g, types, regions, code_list, names) if g is not None else {}
    return {
        "estimator": estimator, "threshold": threshold, "backbone": backbone,
        "nodes": {"code": code_list, "name": names, "type": types, "region": regions,
                  "strength": _column(strength),
                  "respondent": [c in responded for c in code_list],
                  "measured": [_column(interval.get(c, (None, None, None))) for c in code_list],
                  "x": np.round(x, 3).tolist(), "y": np.round(y, 3).tolist()},
        "edges": {"u": ui.tolist(), "v": vi.tolist(), "value": _column(r["value"] for r in rows),
                  "low": _column(r["low"] for r in rows), "high": _column(r["high"] for r in rows),
                  "observations": [r["observations"] for r in rows]},
        "cards": cards,
        "actor_types": sorted({o["actor_type"] for o in orgs if o.get("actor_type")}),
        "regions": sorted({o["region"] for o in orgs if o.get("region")}),
    }


def _float(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is None or math.isfinite(value) else None


@router.get("/network", response_class=HTMLResponse)
def network(request: Request, store: StoreDep, settings: SettingsDep, who: Viewer,
            estimator: Annotated[str, Query()] = "composite",
            threshold: Annotated[str | None, Query()] = None,
            backbone: Annotated[str | None, Query(description="alpha, 0 < alpha <= 1")] = None,
            actor_type: Annotated[str | None, Query()] = None,
            region: Annotated[str | None, Query()] = None):
    """The network page (analysts); a viewer gets the cluster measures, k-gated."""
    if who.role == "viewer":
        rows = cluster_rows(store, settings, who)
        return render(request, who, "network_viewer.html", measures=rows, hidden=any(r["suppressed"] for r in rows),
                      k=settings.k)
    if estimator not in ESTIMATORS:
        estimator = "composite"
    threshold, backbone = _float(threshold), _float(backbone)  # an empty field of the form is "no filter"
    if backbone is not None and not 0 < backbone <= 1:
        backbone = None
    data = network_data(store, estimator, threshold, backbone, actor_type or None, region or None)
    return render(request, who, "network.html", data=data, estimators=ESTIMATORS,
                  form={"estimator": estimator, "threshold": "" if threshold is None else threshold,
                        "backbone": backbone, "actor_type": actor_type or "", "region": region or ""})
