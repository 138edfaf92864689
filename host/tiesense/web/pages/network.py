"""The network page: organisations and their tie estimates, drawn with WebGL (plotly's ``scattergl``), and
the structural measures of what is shown as cards (brokers, constraint, E-I, hub dependence), each with its
definition and citation.

Nodes are the organisations of the ties shown, coloured by actor type (current roster), sized by strength
(the sum of the shown ties' values), hollow when the organisation never responded. Edges are the rows of
``tie_estimates`` of one estimator, at least ``threshold``, optionally only the disparity backbone at
``alpha`` (as ``/api/estimates``: alphas computed over all of the estimator's ties); the hover gives each
tie's interval. ``actor_type`` and ``region`` keep the ties touching an organisation of that type or region;
``tie_type``, ``scope`` and ``wave`` the ties some interview report names so, or reported in that survey wave.

Positions are computed here, in O(n): each actor type gets a disc on a circle (arcs as long as the discs),
and inside it the organisations are laid on a sunflower spiral, strongest at the centre. It is deterministic (the same view
draws the same picture) and does not depend on a force layout that would cost seconds at 5,000 nodes.

The page is for analysts (single organisations); a viewer sees the cluster measures, hidden under k
respondents as in ``/api/measures/cluster``.
"""
from __future__ import annotations

import base64
import math
import threading
import weakref
from collections import OrderedDict
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from ...store import analysable
from ..auth import Viewer
from ..deps import SettingsDep, StoreDep
from ..routes.estimates import cluster_rows
from . import network_query
from .i18n import MESSAGES, lang_of, translator
from .network_query import DYAD_BASE
from .overview import choice_labels
from .render import render

__all__ = ["router", "network_data", "network_view", "unpacked", "layout", "ESTIMATORS"]

router = APIRouter(include_in_schema=False)

ESTIMATORS = ("composite", "decayed_rate")
_GOLDEN = math.pi * (3 - math.sqrt(5))


def layout(groups: list[str], strength: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of each node: a disc per group on a circle (largest first, from the top), a sunflower spiral
    inside each disc with the strongest node at its centre.

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
    # each group is a disc of radius about 0.5 sqrt(size) (the spiral below); the discs sit on a circle, each
    # taking an arc as long as its diameter and a gap, so the circle is evenly filled whatever the sizes
    radius = 0.5 * np.sqrt(counts + 0.5) + 0.6
    ring = max(1.0, 1.15 * 2 * radius.sum() / (2 * math.pi), 1.3 * radius.max())
    total = 2 * radius.sum()
    angle = math.pi / 2  # the largest group at the top
    for g in order:
        members = np.flatnonzero(inverse == g)
        share = 2 * radius[g] / total
        mid = angle - math.pi * share
        angle -= 2 * math.pi * share
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
    """A column of numbers (an array, or a list with None) rounded to 4 decimals, NaN and None as None."""
    if not isinstance(values, np.ndarray):
        values = np.array([np.nan if x is None else x for x in list(values)], dtype=np.float64)
    a = np.round(values.astype(np.float64, copy=False), 4)
    if not np.isnan(a).any():
        return a.tolist()
    return [None if x != x else x for x in a.tolist()]


def _cards(g, types: list[str], regions: list[str], codes: list[int], names: list[str]) -> dict:
    from ...ties import structure
    from ...ties.cluster import ACTOR_TYPES, ei_index, hub_dependence, triple_helix, type_density

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
    helix = triple_helix(g, types)
    density = type_density(g, types, [t for t in ACTOR_TYPES if t in set(types)] +
                           sorted(set(types).difference(ACTOR_TYPES)))
    return {"brokers": brokers, "constraint_low": lowest, "constraint_high": highest,
            "ei_region": _num(ei_index(g, region, weighted=True)),
            "ei_type": _num(ei_index(g, types, weighted=True)),
            "hub_dependent": dependent, "centralization": _num(structure.degree_centralization(g)),
            "helix": {"coverage": _num(helix.coverage), "firms": int(helix.firm.sum()),
                      "to_academia": int((helix.firm & helix.to_academia).sum()),
                      "to_government": int((helix.firm & helix.to_government).sum()),
                      "covered": int(helix.covered.sum())},
            "missing": [list(pair) for pair in density.missing if analysable.NOT_ON_ROSTER not in pair],
            "type_pairs": len(density.types) * (len(density.types) + 1) // 2}


def _packed(values: np.ndarray, dtype: str) -> str:
    """A column as the base64 of its little-endian bytes (``<i4``, ``<f4``; NaN for a missing number, -1 for a
    missing count): a browser reads it as an ``Int32Array`` or ``Float32Array`` at once, where 50,000 numbers
    as JSON text cost tens of milliseconds to write and to parse. :func:`unpacked` reads it back."""
    return base64.b64encode(np.ascontiguousarray(values, dtype=dtype).tobytes()).decode("ascii")


def unpacked(text: str, dtype: str) -> np.ndarray:
    """The array of a :func:`_packed` column.

    Examples
    --------
    >>> unpacked(_packed(np.array([0.5, np.nan]), "<f4"), "<f4").tolist()
    [0.5, nan]
    """
    return np.frombuffer(base64.b64decode(text), dtype=dtype)


def _keys(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.minimum(u, v) * DYAD_BASE + np.maximum(u, v)


def network_data(store, estimator: str = "composite", threshold: float | None = None,
                 backbone: float | None = None, actor_type: str | None = None, region: str | None = None,
                 tie_type: str | None = None, scope: str | None = None, wave: str | None = None,
                 lang: str = "en") -> dict:
    """Nodes, edges (as node indices) and cards of the view asked for, as JSON-ready columns.

    The edges' columns (``u``, ``v`` node indices, ``value``, ``low``, ``high``, ``observations``) are packed
    little-endian arrays in base64 (:func:`unpacked` reads them; ``count`` is their length): 50,000 ties
    are the bulk of the page.

    ``tie_type`` and ``scope`` keep the ties with at least one interview report naming that tie type or
    partner location scope (:func:`~.network_query.reported_dyads`); the value shown stays the
    estimator's over all of the dyad's reports (estimates per tie type are not stored). ``wave`` keeps the
    ties reported in interviews of that survey wave (``tie_reports.wave``); ``waves`` lists those present.
    """
    from ...estimates import disparity_alphas
    from ...ties.graph import Graph

    e = store.read(network_query.estimate_columns, estimator, None if backbone is not None else threshold)
    if backbone is not None and len(e["u"]):
        alphas = disparity_alphas([{"u": u, "v": v, "value": None if w != w else w}
                                   for u, v, w in zip(e["u"].tolist(), e["v"].tolist(), e["value"].tolist())])
        alpha = np.array([alphas[(u, v)] for u, v in zip(e["u"].tolist(), e["v"].tolist())])
        keep = alpha < backbone
        if threshold is not None:
            keep &= e["value"] >= threshold
        e = {k: col[keep] for k, col in e.items()}
    roster = store.read(network_query.roster_columns)
    if (actor_type or region) and len(e["u"]):
        on = np.ones(len(roster["code"]), dtype=bool)
        if actor_type:
            on &= np.array([t == actor_type for t in roster["actor_type"]], dtype=bool)
        if region:
            on &= np.array([r == region for r in roster["region"]], dtype=bool)
        chosen = roster["code"][on]
        keep = np.isin(e["u"], chosen) | np.isin(e["v"], chosen)
        e = {k: col[keep] for k, col in e.items()}
    if (tie_type or scope or wave) and len(e["u"]):
        named = store.read(network_query.reported_dyads, tie_type or None, scope or None, wave or None)
        keep = np.isin(_keys(e["u"], e["v"]), named)
        e = {k: col[keep] for k, col in e.items()}
    u, v = e["u"], e["v"]
    w = np.nan_to_num(e["value"], nan=0.0)
    codes = np.unique(np.concatenate([u, v]))
    ui, vi = np.searchsorted(codes, u), np.searchsorted(codes, v)
    strength = np.bincount(np.concatenate([ui, vi]), weights=np.concatenate([w, w]), minlength=len(codes))
    # roster fields of each node (a code not on the roster: its number, "(not on roster)")
    at = np.searchsorted(roster["code"], codes)
    listed = (at < len(roster["code"])) & (roster["code"][np.minimum(at, max(len(roster["code"]) - 1, 0))] == codes) \
        if len(roster["code"]) else np.zeros(len(codes), dtype=bool)
    code_list, at_list, listed_list = codes.tolist(), at.tolist(), listed.tolist()
    types = [roster["actor_type"][i] or analysable.NOT_ON_ROSTER if ok else analysable.NOT_ON_ROSTER
             for i, ok in zip(at_list, listed_list)]
    regions = [roster["region"][i] if ok else None for i, ok in zip(at_list, listed_list)]
    names = [roster["name"][i] or f"#{c}" if ok else f"#{c}" for c, i, ok in zip(code_list, at_list, listed_list)]
    responded = np.isin(codes, _respondents(store))
    # the composite graph's node strength with its bootstrap interval, when tiesense ties recompute wrote it
    m = store.read(network_query.measure_columns, "strength")
    pos = np.searchsorted(m["org"], codes)
    has = (pos < len(m["org"])) & (m["org"][np.minimum(pos, max(len(m["org"]) - 1, 0))] == codes) \
        if len(m["org"]) else np.zeros(len(codes), dtype=bool)

    def measured(col):
        return _column(np.where(has, m[col][np.minimum(pos, max(len(m["org"]) - 1, 0))], np.nan)
                       if len(m["org"]) else np.full(len(codes), np.nan))

    x, y = layout(types, strength)
    g = Graph.from_edges(ui, vi, np.maximum(w, 1e-3), n=len(codes)) if len(codes) else None
    cards = _cards(g, types, regions, code_list, names) if g is not None else {}
    t = translator(lang)
    actor_labels = {a: (t(f"actor.{a}") if f"actor.{a}" in MESSAGES["en"] else a)
                    for a in sorted(set(types) | {o for o in roster["actor_type"] if o})}
    tie_labels = choice_labels(store, analysable.INTERVIEW_FORM, "tie_types", lang)
    scope_labels = choice_labels(store, analysable.INTERVIEW_FORM, "scope", lang)
    return {
        "estimator": estimator, "threshold": threshold, "backbone": backbone,
        "nodes": {"code": code_list, "name": names, "type": types, "region": regions,
                  "strength": _column(strength),
                  "respondent": responded.tolist(),
                  "measured": [list(t) for t in zip(measured("value"), measured("low"), measured("high"))],
                  "x": np.round(x, 3).tolist(), "y": np.round(y, 3).tolist()},
        "edges": {"count": len(ui), "u": _packed(ui, "<i4"), "v": _packed(vi, "<i4"),
                  "value": _packed(e["value"], "<f4"), "low": _packed(e["low"], "<f4"),
                  "high": _packed(e["high"], "<f4"), "observations": _packed(e["observations"], "<i4")},
        "cards": cards,
        "actor_types": sorted({a for a in roster["actor_type"] if a}),
        "actor_labels": actor_labels,
        "regions": sorted({r for r in roster["region"] if r}),
        "tie_types": [{"code": c, "label": label} for c, label in tie_labels.items()],
        "scopes": [{"code": c, "label": label} for c, label in scope_labels.items()],
        "waves": store.read(network_query.report_waves),
    }


def _float(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is None or math.isfinite(value) else None


_RESPONDENTS: "weakref.WeakKeyDictionary[object, tuple]" = weakref.WeakKeyDictionary()


def _respondents(store) -> np.ndarray:
    """:func:`~.network_query.respondent_codes`, read again only when interviews were added or removed."""
    key = store.read(network_query.interview_version)
    kept = _RESPONDENTS.get(store)
    if kept is None or kept[0] != key:
        kept = (key, store.read(network_query.respondent_codes))
        _RESPONDENTS[store] = kept
    return kept[1]


#: Views already built, per store: {data version and view: (data, its JSON for the page)}, a few each.
_VIEWS: "weakref.WeakKeyDictionary[object, OrderedDict]" = weakref.WeakKeyDictionary()
_VIEWS_KEPT = 8
_VIEWS_LOCK = threading.Lock()


def network_view(store, estimator: str = "composite", **view) -> tuple[dict, Markup]:
    """:func:`network_data` and its JSON (HTML-safe, for the page's script tag), cached per store under the
    data version (:func:`~.network_query.data_version`): a page asked again before anything it shows was
    written is not computed again. Any new interview, estimate, measure or roster version makes a new key."""
    key = (estimator, store.read(network_query.data_version, estimator), tuple(sorted(view.items())))
    with _VIEWS_LOCK:
        kept = _VIEWS.setdefault(store, OrderedDict())
        if key in kept:
            kept.move_to_end(key)
            return kept[key]
    data = network_data(store, estimator, **view)
    built = (data, Markup(htmlsafe_json_dumps(data, separators=(",", ":"))))
    with _VIEWS_LOCK:
        kept[key] = built
        while len(kept) > _VIEWS_KEPT:
            kept.popitem(last=False)
    return built


@router.get("/network", response_class=HTMLResponse)
def network(request: Request, store: StoreDep, settings: SettingsDep, who: Viewer,
            estimator: Annotated[str, Query()] = "composite",
            threshold: Annotated[str | None, Query()] = None,
            backbone: Annotated[str | None, Query(description="alpha, 0 < alpha <= 1")] = None,
            actor_type: Annotated[str | None, Query()] = None,
            region: Annotated[str | None, Query()] = None,
            tie_type: Annotated[str | None, Query()] = None,
            scope: Annotated[str | None, Query()] = None,
            wave: Annotated[str | None, Query()] = None):
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
    lang = lang_of(request)
    data, payload = network_view(store, estimator, threshold=threshold, backbone=backbone,
                                 actor_type=actor_type or None, region=region or None, tie_type=tie_type or None,
                                 scope=scope or None, wave=wave or None, lang=lang)
    return render(request, who, "network.html", data=data, data_json=payload, estimators=ESTIMATORS,
                  form={"estimator": estimator, "threshold": "" if threshold is None else threshold,
                        "backbone": backbone, "actor_type": actor_type or "", "region": region or "",
                        "tie_type": tie_type or "", "scope": scope or "", "wave": wave or ""})
