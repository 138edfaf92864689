"""Cluster measures policy people ask about, over a :class:`Graph` plus node attribute arrays.

Local vs global (E-I index, partner scope), hub dependence (the Gumi star),
horizontality of SME ties, triple-helix coverage and missing links between
actor types, and change between survey waves. Every function is vectorised
over the CSR half-edges; attribute arrays are indexed by node id.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .graph import Graph
from .structure import degree_centralization  # one implementation, shared with the structural measures

__all__ = ["ACTOR_TYPES", "SCOPES", "HORIZONTALITY_CLASSES", "ei_index", "ei_index_by_group", "tie_scope",
           "scope_shares", "hub_dependence", "degree_centralization", "horizontality", "triple_helix",
           "type_density", "wave_change"]

#: Actor type codes of the roster (domain brief, section 2).
ACTOR_TYPES = ("large_firm", "sme", "startup", "foreign_firm", "university", "gri", "research_centre",
               "national_agency", "regional_agency", "technopark", "innovation_council",
               "association", "finance", "services")
FIRMS = frozenset({"large_firm", "sme", "startup", "foreign_firm"})
ACADEMIA = frozenset({"university", "gri", "research_centre"})
GOVERNMENT = frozenset({"national_agency", "regional_agency", "technopark", "innovation_council"})
LARGE_FIRMS = frozenset({"large_firm", "foreign_firm"})

#: Partner location scopes, nearest first (codes 0..3).
SCOPES = ("same_park", "same_region", "other_region", "abroad")


def _src(g: Graph) -> np.ndarray:
    return np.repeat(np.arange(g.n, dtype=np.int64), g.degree())


def _attr(x, g: Graph, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.shape != (g.n,):
        raise ValueError(f"{name} must have one entry per node ({g.n}), got shape {x.shape}")
    return x


def _weights(g: Graph, weighted: bool) -> np.ndarray:
    return g.data if weighted else np.ones(len(g.data))


def ei_index(g: Graph, group, weighted: bool = False) -> float:
    """Krackhardt-Stern E-I index of the whole network, ``(E - I) / (E + I)``.

    ``E`` counts ties (or sums tie strength, ``weighted=True``) between nodes of
    different groups, ``I`` within the same group. +1: all ties cross groups
    (open, "pipelines"); -1: all ties stay inside (closed, possible lock-in).
    ``NaN`` when the graph has no tie.

    Examples
    --------
    >>> g = Graph.from_edges([0, 0, 1, 2], [1, 2, 3, 3], [1.0, 3.0, 1.0, 1.0])
    >>> ei_index(g, ["a", "a", "b", "b"]), ei_index(g, ["a", "a", "b", "b"], weighted=True)
    (0.0, 0.3333333333333333)

    References
    ----------
    Krackhardt, D. & Stern, R. N. (1988). Informal networks and organizational
    crises: an experimental simulation. Social Psychology Quarterly 51(2), 123-140.
    """
    grp = _attr(group, g, "group")
    u, v, w = g.edges()
    w = w if weighted else np.ones(len(u))
    external = grp[u] != grp[v]
    e, i = w[external].sum(), w[~external].sum()
    return float((e - i) / (e + i)) if e + i > 0 else float("nan")


def ei_index_by_group(g: Graph, group, weighted: bool = False) -> dict:
    """E-I index of each group: its members' ties leaving the group vs staying in it.

    A tie inside the group counts once in ``I``; a tie to a non-member counts in ``E``.

    Examples
    --------
    >>> g = Graph.from_edges([0, 0, 1], [1, 2, 2])
    >>> ei_index_by_group(g, ["a", "a", "b"])
    {'a': 0.3333333333333333, 'b': 1.0}

    References
    ----------
    Krackhardt, D. & Stern, R. N. (1988). Social Psychology Quarterly 51(2), 123-140.
    """
    grp = _attr(group, g, "group")
    u, v, w = g.edges()
    w = w if weighted else np.ones(len(u))
    levels = np.unique(grp)
    out = {}
    for lev in levels:
        in_u, in_v = grp[u] == lev, grp[v] == lev
        i = w[in_u & in_v].sum()
        e = w[in_u ^ in_v].sum()
        key = lev.item() if hasattr(lev, "item") else lev
        out[key] = float((e - i) / (e + i)) if e + i > 0 else float("nan")
    return out


def tie_scope(g: Graph, park, region, country) -> np.ndarray:
    """Scope code (index into :data:`SCOPES`) of every stored half-edge of ``g``.

    Same park (both in the same park, park id >= 0), else same region, else
    other region of the same country, else abroad.

    Examples
    --------
    >>> g = Graph.from_edges([0, 0, 0], [1, 2, 3])
    >>> tie_scope(g, [7, 7, -1, -1], [1, 1, 1, 2], ["KR", "KR", "KR", "US"])[:3].tolist()
    [0, 1, 3]
    """
    park = _attr(park, g, "park")
    region = _attr(region, g, "region")
    country = _attr(country, g, "country")
    s, d = _src(g), g.indices
    scope = np.full(len(d), 3, dtype=np.int64)
    same_country = country[s] == country[d]
    scope[same_country] = 2
    scope[same_country & (region[s] == region[d])] = 1
    scope[(park[s] == park[d]) & (park[s] >= 0)] = 0
    return scope


@dataclass(frozen=True)
class ScopeShares:
    """Share of tie strength by partner scope.

    Attributes
    ----------
    per_node : (n, 4) float array, rows sum to 1 (``NaN`` for isolated nodes), columns :data:`SCOPES`
    overall : (4,) float array, share of the total tie strength (each tie once)
    """

    per_node: np.ndarray
    overall: np.ndarray


def scope_shares(g: Graph, park, region, country, weighted: bool = True) -> ScopeShares:
    """Local vs global: how a node's tie strength splits across same park, same region, other region, abroad.

    Examples
    --------
    >>> g = Graph.from_edges([0, 0], [1, 2], [3.0, 1.0])
    >>> s = scope_shares(g, [1, 1, -1], [5, 5, 5], ["KR"] * 3)
    >>> s.per_node[0].tolist(), s.overall.tolist()
    ([0.75, 0.25, 0.0, 0.0], [0.75, 0.25, 0.0, 0.0])

    References
    ----------
    Bathelt, H., Malmberg, A. & Maskell, P. (2004). Clusters and knowledge: local buzz,
    global pipelines and the process of knowledge creation. Progress in Human Geography 28(1), 31-56.
    """
    scope = tie_scope(g, park, region, country)
    w = _weights(g, weighted)
    s = _src(g)
    by = np.zeros((g.n, len(SCOPES)))
    np.add.at(by, (s, scope), w)
    tot = by.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_node = by / tot
    total = by.sum(axis=0)  # every tie counted from both ends: shares are unaffected
    overall = total / total.sum() if total.sum() > 0 else np.full(len(SCOPES), np.nan)
    return ScopeShares(per_node, overall)


@dataclass(frozen=True)
class HubDependence:
    """Per node: largest-partner share of strength, Herfindahl index over partners, and that partner.

    ``top_share`` and ``hhi`` are ``NaN`` and ``top_partner`` is -1 for isolated nodes.
    For a node with k partners, ``1/k <= hhi <= top_share <= 1``.
    """

    top_share: np.ndarray
    hhi: np.ndarray
    top_partner: np.ndarray


def hub_dependence(g: Graph) -> HubDependence:
    """Dependence of each organisation on its largest partner.

    ``top_share_i = max_j w_ij / s_i`` and ``HHI_i = sum_j (w_ij / s_i)^2``
    (Herfindahl-Hirschman concentration of the node's tie strength).

    Examples
    --------
    >>> h = hub_dependence(Graph.from_edges([0, 0, 0], [1, 2, 3], [2.0, 1.0, 1.0]))
    >>> float(h.top_share[0]), float(h.hhi[0]), int(h.top_partner[0])
    (0.5, 0.375, 1)

    References
    ----------
    Hirschman, A. O. (1945). National Power and the Structure of Foreign Trade; Herfindahl, O. C. (1950).
    """
    if (g.data < 0).any():
        raise ValueError("hub dependence needs non-negative weights")
    s = _src(g)
    deg = g.degree()
    strength = np.bincount(s, weights=g.data, minlength=g.n)
    top_share = np.full(g.n, np.nan)
    hhi = np.full(g.n, np.nan)
    top = np.full(g.n, -1, dtype=np.int64)
    has = (deg > 0) & (strength > 0)
    if len(g.data):
        with np.errstate(invalid="ignore", divide="ignore"):
            p = g.data / strength[s]
        hhi_all = np.bincount(s, weights=p * p, minlength=g.n)
        # largest weight per row, and the last half-edge of the row holding it (one pass each, no sort)
        rows = np.flatnonzero(deg > 0)
        starts = g.indptr[:-1][rows]
        row_max = np.maximum.reduceat(g.data, starts)
        at_max = np.where(g.data == np.repeat(row_max, deg[rows]), np.arange(len(g.data)), -1)
        pick = np.maximum.reduceat(at_max, starts)
        top_share[rows] = p[pick]
        top[rows] = g.indices[pick]
        hhi[has] = hhi_all[has]
        top_share[~has] = np.nan
        top[~has] = -1
    return HubDependence(top_share, hhi, top)


HORIZONTALITY_CLASSES = ("peer", "large_firm", "state", "other")


@dataclass(frozen=True)
class Horizontality:
    """Where SMEs' tie strength goes.

    Attributes
    ----------
    per_node : (n, 4) float array over :data:`HORIZONTALITY_CLASSES`; ``NaN`` rows for
        nodes that are not focal (not SMEs) or have no tie
    overall : (4,) float array, over all focal nodes' summed strength
    """

    per_node: np.ndarray
    overall: np.ndarray


def horizontality(g: Graph, actor_type, focal=("sme", "startup"), peers=("sme", "startup"),
                  weighted: bool = True) -> Horizontality:
    """Share of each SME's tie strength going to peer SMEs vs large firms, the state and others.

    Partner classes: ``peer`` (types in ``peers``), ``large_firm`` (large and
    foreign firms), ``state`` (national and regional agencies, techno-parks,
    innovation councils), ``other`` (academia, associations, finance,
    services). A low peer share is the vertical, hub-and-spoke pattern.

    Examples
    --------
    >>> g = Graph.from_edges([0, 0, 0], [1, 2, 3], [1.0, 2.0, 1.0])
    >>> h = horizontality(g, ["sme", "sme", "large_firm", "technopark"])
    >>> h.per_node[0].tolist(), h.overall.round(3).tolist()
    ([0.25, 0.5, 0.25, 0.0], [0.4, 0.4, 0.2, 0.0])
    """
    t = _attr(actor_type, g, "actor_type")
    s, d = _src(g), g.indices
    cls = np.full(g.n, 3, dtype=np.int64)
    cls[np.isin(t, list(GOVERNMENT))] = 2
    cls[np.isin(t, list(LARGE_FIRMS))] = 1
    cls[np.isin(t, list(peers))] = 0
    is_focal = np.isin(t, list(focal))
    w = _weights(g, weighted)
    by = np.zeros((g.n, len(HORIZONTALITY_CLASSES)))
    np.add.at(by, (s, cls[d]), w)
    tot = by.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_node = by / tot
    per_node[~is_focal] = np.nan
    focal_sum = by[is_focal].sum(axis=0)
    overall = focal_sum / focal_sum.sum() if focal_sum.sum() > 0 else np.full(4, np.nan)
    return Horizontality(per_node, overall)


@dataclass(frozen=True)
class TripleHelix:
    """Firms tied to academia, to government, and to both.

    Attributes
    ----------
    firm, to_academia, to_government, covered : bool arrays per node (covered = firm with both)
    coverage : float, covered firms / firms (``NaN`` without firms)
    """

    firm: np.ndarray
    to_academia: np.ndarray
    to_government: np.ndarray
    covered: np.ndarray
    coverage: float


def triple_helix(g: Graph, actor_type) -> TripleHelix:
    """Triple-helix coverage: the share of firms tied to both academia and government.

    Examples
    --------
    >>> g = Graph.from_edges([0, 0, 1], [2, 3, 2])
    >>> th = triple_helix(g, ["sme", "large_firm", "university", "regional_agency"])
    >>> th.covered.tolist(), th.coverage
    ([True, False, False, False], 0.5)

    References
    ----------
    Etzkowitz, H. & Leydesdorff, L. (2000). The dynamics of innovation: from National
    Systems and "Mode 2" to a Triple Helix of university-industry-government relations.
    Research Policy 29(2), 109-123.
    """
    t = _attr(actor_type, g, "actor_type")
    s, d = _src(g), g.indices
    firm = np.isin(t, list(FIRMS))
    acad = np.zeros(g.n, dtype=bool)
    gov = np.zeros(g.n, dtype=bool)
    acad[s[np.isin(t[d], list(ACADEMIA))]] = True
    gov[s[np.isin(t[d], list(GOVERNMENT))]] = True
    covered = firm & acad & gov
    return TripleHelix(firm, acad, gov, covered,
                       float(covered.sum() / firm.sum()) if firm.any() else float("nan"))


@dataclass(frozen=True)
class TypeDensity:
    """Ties and density between actor types.

    Attributes
    ----------
    types : list of the type codes (rows and columns)
    ties : (T, T) int array, number of ties between each pair of types (symmetric)
    density : (T, T) float, ties / possible pairs (``NaN`` where no pair is possible)
    missing : list of (type_a, type_b), a <= b in ``types`` order, possible but without any tie
    """

    types: list
    ties: np.ndarray
    density: np.ndarray
    missing: list


def type_density(g: Graph, actor_type, types=None) -> TypeDensity:
    """Density matrix between actor types and the type pairs with no tie at all.

    Density is ``ties_ab / (n_a n_b)`` between types and ``ties_aa / (n_a (n_a - 1) / 2)``
    within one. ``types`` fixes the rows (default: the types present, sorted).

    Examples
    --------
    >>> td = type_density(Graph.from_edges([0, 1], [2, 2]), ["sme", "sme", "university"])
    >>> td.types, td.density.tolist(), td.missing
    (['sme', 'university'], [[0.0, 1.0], [1.0, nan]], [('sme', 'sme')])
    """
    t = _attr(actor_type, g, "actor_type")
    types = sorted(set(t.tolist())) if types is None else list(types)
    index = {x: i for i, x in enumerate(types)}
    unknown = set(t.tolist()).difference(index)
    if unknown:
        raise ValueError(f"actor types {sorted(unknown)} are not in types")
    code = np.array([index[x] for x in t.tolist()], dtype=np.int64)
    T = len(types)
    u, v, _ = g.edges()
    ties = np.zeros((T, T), dtype=np.int64)
    np.add.at(ties, (code[u], code[v]), 1)
    ties = ties + ties.T - np.diag(np.diag(ties))
    size = np.bincount(code, minlength=T).astype(np.float64)
    possible = np.outer(size, size)
    np.fill_diagonal(possible, size * (size - 1) / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        density = np.where(possible > 0, ties / possible, np.nan)
    missing = [(types[a], types[b]) for a in range(T) for b in range(a, T)
               if possible[a, b] > 0 and ties[a, b] == 0]
    return TypeDensity(types, ties, density, missing)


@dataclass(frozen=True)
class WaveChange:
    """Change between two survey waves, ties as ``(label_a, label_b)`` with ``label_a <= label_b``.

    Attributes
    ----------
    new, lost, strengthened, weakened, stable : lists of label pairs
    new_members, departed_members : lists of labels
    """

    new: list
    lost: list
    strengthened: list
    weakened: list
    stable: list
    new_members: list
    departed_members: list


def _label_edges(g: Graph) -> dict:
    u, v, w = g.edges()
    lab = g.labels
    out = {}
    for a, b, x in zip(u.tolist(), v.tolist(), w.tolist()):
        la, lb = lab[a], lab[b]
        out[(la, lb) if la <= lb else (lb, la)] = x
    return out


def wave_change(before: Graph, after: Graph, tol: float = 0.0) -> WaveChange:
    """New, lost, strengthened and weakened ties, and new members, between two waves.

    Nodes are matched by ``labels`` (organisation ids), so the two graphs may
    number their nodes differently. A tie present in both waves is
    strengthened when ``w_after > w_before + tol``, weakened when
    ``w_after < w_before - tol``, otherwise stable. A member is a labelled node
    of the wave's roster, tied or not.

    Examples
    --------
    >>> g0 = Graph.from_edges([0, 1], [1, 2], [1.0, 2.0], labels=["a", "b", "c"])
    >>> g1 = Graph.from_edges([0, 0], [1, 2], [1.0, 3.0], labels=["b", "c", "d"])
    >>> ch = wave_change(g0, g1)
    >>> ch.new, ch.lost, ch.weakened, ch.new_members, ch.departed_members
    ([('b', 'd')], [('a', 'b')], [('b', 'c')], ['d'], ['a'])

    References
    ----------
    Andersson, T. et al. (2004). The Cluster Policies Whitebook. IKED: evaluation needs
    repeated measurement, one survey being "a static picture".
    """
    if len(set(before.labels)) != before.n or len(set(after.labels)) != after.n:
        raise ValueError("each graph needs one distinct label per node")
    e0, e1 = _label_edges(before), _label_edges(after)
    new = sorted(set(e1).difference(e0))
    lost = sorted(set(e0).difference(e1))
    both = sorted(set(e0).intersection(e1))
    up = [k for k in both if e1[k] > e0[k] + tol]
    down = [k for k in both if e1[k] < e0[k] - tol]
    stable = [k for k in both if abs(e1[k] - e0[k]) <= tol]
    m0, m1 = set(before.labels), set(after.labels)
    return WaveChange(new, lost, up, down, stable, sorted(m1 - m0), sorted(m0 - m1))
