"""Structural tie and cluster measures: the checked Python face of the CSR kernels.

Every function takes a :class:`~tiesense.ties.graph.Graph` (undirected,
weighted, CSR), checks and casts its arrays once, and hands them to a Cython
kernel (``_overlap``, ``_disparity``, ``_strength``, ``_constraint``,
``_paths``). Per-edge results are aligned with ``Graph.edges()`` (each
undirected edge once, ``u < v``, in CSR order); per-node results are indexed
by node ``0..n-1``.

Checking a graph costs a few passes over its arrays; it is done once per
``Graph`` object and remembered while the object lives, so treat a graph's
arrays as read-only after the first call.
"""
from __future__ import annotations

import os
import weakref

import numpy as np

from . import _constraint, _disparity, _overlap, _paths, _strength
from .graph import Graph

__all__ = [
    "BROKERAGE_ROLES",
    "backbone",
    "betweenness",
    "brokerage",
    "check_graph",
    "clustering",
    "common_neighbours",
    "constraint",
    "degree_centralization",
    "disparity",
    "effective_size",
    "overlap",
    "strength",
]

BROKERAGE_ROLES = ("coordinator", "itinerant", "gatekeeper", "representative", "liaison")

# id(graph) -> (weak reference, ids of its three arrays, weights checked)
_CHECKED: dict[int, tuple] = {}


def _forget(key: int) -> None:
    _CHECKED.pop(key, None)


def check_graph(g: Graph, weighted: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked, contiguous ``(indptr int64, indices int32, data float64)`` of ``g``.

    The kernels run without bounds checks, so this refuses any CSR they
    could misread: ``indptr`` must start at 0, never decrease and end at
    ``len(indices) == len(data)``; neighbours must lie in ``0..n-1``, be
    strictly increasing within a row and never the row's own node.
    Symmetry is checked through its cheap consequences: every node has as
    many stored in-entries as out-entries, with the same weight sum. With
    ``weighted`` the weights must also be finite and positive.

    Parameters
    ----------
    g : Graph
    weighted : bool
        Also check the weights (measures that divide by them).

    Returns
    -------
    tuple of numpy arrays

    Raises
    ------
    ValueError
        Naming the first property the arrays break.

    Examples
    --------
    >>> g = Graph.from_edges([0, 1], [1, 2], [1.0, 2.0])
    >>> [a.dtype.name for a in check_graph(g)]
    ['int64', 'int32', 'float64']
    """
    key = id(g)
    hit = _CHECKED.get(key)
    ids = (id(g.indptr), id(g.indices), id(g.data))
    if hit is not None and hit[0]() is g and hit[1] == ids and (hit[2] or not weighted):
        return g.indptr, g.indices, g.data
    indptr = np.ascontiguousarray(g.indptr, dtype=np.int64)
    indices = np.ascontiguousarray(g.indices, dtype=np.int32)
    data = np.ascontiguousarray(g.data, dtype=np.float64)
    if indptr.ndim != 1 or indices.ndim != 1 or data.ndim != 1 or len(indptr) < 1:
        raise ValueError("indptr, indices and data must be non-empty 1-D arrays")
    n = len(indptr) - 1
    nnz = len(indices)
    if indptr[0] != 0 or indptr[-1] != nnz or len(data) != nnz:
        raise ValueError("indptr must run from 0 to len(indices) == len(data)")
    deg = np.diff(indptr)
    if (deg < 0).any():
        raise ValueError("indptr must not decrease")
    if nnz:
        if indices.min() < 0 or indices.max() >= n:
            raise ValueError("neighbour ids must lie in 0..n-1")
        src = np.repeat(np.arange(n, dtype=np.int32), deg)
        if (src == indices).any():
            raise ValueError("self-loops are not allowed")
        step_ok = np.diff(indices) > 0
        step_ok |= np.diff(src) != 0  # a new row may start lower
        if not step_ok.all():
            raise ValueError("neighbours must be strictly increasing within each row")
        if not np.array_equal(np.bincount(indices, minlength=n), deg):
            raise ValueError("graph is not symmetric: in- and out-degrees differ")
        if weighted:
            if not (np.isfinite(data).all() and (data > 0).all()):
                raise ValueError("weights must be finite and positive")
            s_out = np.add.reduceat(data, indptr[:-1][deg > 0])
            s_in = np.bincount(indices, weights=data, minlength=n)[deg > 0]
            if not np.allclose(s_in, s_out, rtol=1e-12, atol=0.0):
                raise ValueError("graph is not symmetric: in- and out-strengths differ")
    if indptr is g.indptr and indices is g.indices and data is g.data:
        if hit is None or hit[0]() is not g:
            weakref.finalize(g, _forget, key)
        _CHECKED[key] = (weakref.ref(g), ids, weighted or (hit is not None and hit[2]))
    return indptr, indices, data


def common_neighbours(g: Graph) -> np.ndarray:
    """Number of common neighbours ``n_uv`` of every edge.

    Parameters
    ----------
    g : Graph

    Returns
    -------
    numpy.ndarray of int64, aligned with ``g.edges()``

    Examples
    --------
    >>> g = Graph.from_edges([0, 0, 1, 2], [1, 2, 2, 3])
    >>> common_neighbours(g).tolist()
    [1, 1, 1, 0]

    References
    ----------
    Onnela, J.-P. et al. (2007). Structure and tie strengths in mobile
    communication networks. PNAS 104(18), 7332-7336.
    """
    indptr, indices, _ = check_graph(g, weighted=False)
    return _overlap.edge_overlap(indptr, indices)[0]


def overlap(g: Graph, return_common: bool = False):
    """Onnela neighbourhood overlap of every edge.

    ``O_uv = n_uv / ((k_u - 1) + (k_v - 1) - n_uv)``, the share of the two
    ends' other contacts that they have in common; 0 when the denominator
    is 0 (an edge whose ends have no other contact). Weights are ignored.
    Common neighbours come from a merge of sorted neighbour lists that finds
    each triangle once.

    Parameters
    ----------
    g : Graph
    return_common : bool
        Also return the common-neighbour counts.

    Returns
    -------
    numpy.ndarray of float64 aligned with ``g.edges()``, or
    ``(overlap, common)`` with ``return_common``.

    Examples
    --------
    >>> g = Graph.from_edges([0, 0, 1, 2], [1, 2, 2, 3])
    >>> overlap(g).tolist()
    [1.0, 0.5, 0.5, 0.0]

    References
    ----------
    Onnela, J.-P., Saramaki, J., Hyvonen, J., Szabo, G., Lazer, D., Kaski,
    K., Kertesz, J. & Barabasi, A.-L. (2007). Structure and tie strengths in
    mobile communication networks. PNAS 104(18), 7332-7336.
    """
    indptr, indices, _ = check_graph(g, weighted=False)
    common, ovl = _overlap.edge_overlap(indptr, indices)
    return (ovl, common) if return_common else ovl


def clustering(g: Graph) -> np.ndarray:
    """Local clustering coefficient of every node (unweighted).

    ``C_i = 2 T_i / (k_i (k_i - 1))`` with ``T_i`` the triangles at ``i``
    (found by the same sorted merge as :func:`overlap`); 0 when
    ``k_i < 2``, as in NetworkX.

    Examples
    --------
    >>> g = Graph.from_edges([0, 0, 1, 2], [1, 2, 2, 3])
    >>> clustering(g).tolist()
    [1.0, 1.0, 0.3333333333333333, 0.0]

    References
    ----------
    Watts, D. J. & Strogatz, S. H. (1998). Collective dynamics of
    'small-world' networks. Nature 393, 440-442.
    """
    indptr, indices, _ = check_graph(g, weighted=False)
    return _overlap.local_clustering(indptr, indices)[1]


def disparity(g: Graph) -> np.ndarray:
    """Disparity-filter significance ``alpha`` of every edge.

    For an end ``i`` with degree ``k_i`` and strength ``s_i``, the share
    ``p = w_ij / s_i`` gives ``alpha_i = (1 - p) ** (k_i - 1)``: the chance
    that a uniform random split of ``s_i`` over ``k_i`` ties gives this tie
    at least ``p``. An edge is significant when either end finds it so, so
    its ``alpha`` is the minimum of the two. Convention: an end of degree 1
    has ``alpha_i = 1`` (a lone tie is no evidence; ``0 ** 0 = 1``), so an
    edge between two degree-1 nodes has ``alpha = 1`` and never enters a
    backbone.

    Returns
    -------
    numpy.ndarray of float64 in [0, 1], aligned with ``g.edges()``

    Examples
    --------
    >>> g = Graph.from_edges([0, 0, 0], [1, 2, 3], [8.0, 1.0, 1.0])
    >>> disparity(g).round(4).tolist()
    [0.04, 0.81, 0.81]

    References
    ----------
    Serrano, M. A., Boguna, M. & Vespignani, A. (2009). Extracting the
    multiscale backbone of complex weighted networks. PNAS 106(16),
    6483-6488.
    """
    indptr, indices, data = check_graph(g, weighted=True)
    return _disparity.disparity_alpha(indptr, indices, data)


def backbone(g: Graph, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges kept by the disparity filter at significance level ``alpha``.

    An edge is kept when its :func:`disparity` value is strictly below
    ``alpha``.

    Returns
    -------
    ``(u, v, w)`` arrays of the kept edges, in ``g.edges()`` order

    Examples
    --------
    >>> g = Graph.from_edges([0, 0, 0], [1, 2, 3], [8.0, 1.0, 1.0])
    >>> [a.tolist() for a in backbone(g, 0.05)]
    [[0], [1], [8.0]]

    References
    ----------
    Serrano, M. A., Boguna, M. & Vespignani, A. (2009). PNAS 106(16),
    6483-6488.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError("alpha must lie in [0, 1]")
    a = disparity(g)
    u, v, w = g.edges()
    keep = a < alpha
    return u[keep], v[keep], w[keep]


def strength(g: Graph, alpha: float = 1.0) -> np.ndarray:
    """Opsahl generalised degree ``k_i ** (1 - alpha) * s_i ** alpha``.

    ``alpha = 0`` is the degree, ``alpha = 1`` (default) the strength, the
    sum of tie weights; in between, many weak ties count for less than a
    few strong ones as ``alpha`` grows. Isolated nodes get 0.

    Examples
    --------
    >>> g = Graph.from_edges([0, 0], [1, 2], [4.0, 1.0])
    >>> strength(g).tolist(), strength(g, 0.5).tolist()
    ([5.0, 4.0, 1.0], [3.1622776601683795, 2.0, 1.0])

    References
    ----------
    Opsahl, T., Agneessens, F. & Skvoretz, J. (2010). Node centrality in
    weighted networks: generalizing degree and shortest paths. Social
    Networks 32(3), 245-251.
    """
    indptr, _, data = check_graph(g, weighted=alpha != 0.0)
    return _strength.strength(indptr, data, float(alpha))


def degree_centralization(g: Graph) -> float:
    """Freeman degree centralisation of the whole graph, in [0, 1].

    ``sum_i (k_max - k_i) / ((n - 1) (n - 2))``: 1 for a star (one hub, as in
    the Gumi supplier network), 0 when all degrees are equal. NaN for
    ``n < 3``, where the maximum is 0.

    Examples
    --------
    >>> degree_centralization(Graph.from_edges([0, 0, 0], [1, 2, 3]))
    1.0

    References
    ----------
    Freeman, L. C. (1979). Centrality in social networks: conceptual
    clarification. Social Networks 1(3), 215-239.
    """
    indptr, _, _ = check_graph(g, weighted=False)
    n = len(indptr) - 1
    if n < 3:
        return float("nan")
    k = np.diff(indptr)
    return float((k.max() * n - k.sum()) / ((n - 1) * (n - 2)))


def constraint(g: Graph) -> np.ndarray:
    """Burt's constraint of every node (weighted).

    ``c_i = sum_{j in N(i)} (p_ij + sum_{q in N(i) & N(j)} p_iq p_qj) ** 2``
    with ``p_ij = (w_ij + w_ji) / sum_k (w_ik + w_ki) = w_ij / s_i`` for
    symmetric ties: NetworkX's ``constraint(G, weight=...)``, which igraph's
    ``constraint(weights=...)`` also computes. High constraint means the
    contacts are few or tied to one another (no structural holes).
    Isolated nodes get NaN.

    Examples
    --------
    >>> g = Graph.from_edges([0, 0], [1, 2])
    >>> constraint(g).tolist()
    [0.5, 1.0, 1.0]

    References
    ----------
    Burt, R. S. (1992). Structural Holes: The Social Structure of
    Competition. Harvard University Press. Burt, R. S. (2004). Structural
    holes and good ideas. American Journal of Sociology 110(2), 349-399.
    """
    indptr, indices, data = check_graph(g, weighted=True)
    return _constraint.constraint(indptr, indices, data)


def effective_size(g: Graph) -> np.ndarray:
    """Burt's effective size of every node (weighted).

    ``e_i = sum_{j in N(i)} (1 - sum_{q in N(i)} p_iq m_jq)`` with
    ``p_iq = w_iq / s_i`` and ``m_jq = w_jq / max_x w_jx``: NetworkX's
    documented weighted definition (its per-node path,
    ``effective_size(G, nodes=..., weight=...)``). With unit weights it
    equals Borgatti's ``k - 2t/k``. Isolated nodes get NaN.

    Examples
    --------
    >>> effective_size(Graph.from_edges([0, 0], [1, 2])).tolist()
    [2.0, 1.0, 1.0]

    References
    ----------
    Burt, R. S. (1992). Structural Holes. Harvard University Press.
    Borgatti, S. (1997). Structural holes: unpacking Burt's redundancy
    measures. Connections 20(1), 35-38.
    """
    indptr, indices, data = check_graph(g, weighted=True)
    return _constraint.effective_size(indptr, indices, data)


def betweenness(g: Graph, normalized: bool = True, weighted: bool = True,
                rtol: float = 1e-10, threads: int | None = None) -> np.ndarray:
    """Shortest-path betweenness of every node, distances ``1 / weight``.

    Brandes' algorithm with one Dijkstra (binary heap) per source. A strong
    tie is a short distance. ``normalized=False`` counts each unordered pair
    once (NetworkX and igraph raw values for undirected graphs);
    ``normalized=True`` divides by ``(n - 1)(n - 2) / 2``, NetworkX's
    normalisation. ``weighted=False`` uses hop counts.

    Two path lengths tie when they differ by at most ``rtol`` times their
    sum. The default ``1e-10`` (igraph's) treats ``1/3 + 1/6`` and ``1/2`` as
    the same length even when floating point rounds them apart, which
    matters for small-integer survey weights; ``rtol=0`` is NetworkX's exact
    comparison.

    Sources are shared among ``threads`` OpenMP threads (default: every
    core this process may use); each thread keeps its own scratch arrays
    (``O(n + m)`` each), and results agree across thread counts up to the
    order of the final floating-point sum.

    Examples
    --------
    >>> g = Graph.from_edges([0, 1], [1, 2], [2.0, 2.0])
    >>> betweenness(g, normalized=False).tolist()
    [0.0, 1.0, 0.0]

    References
    ----------
    Brandes, U. (2001). A faster algorithm for betweenness centrality.
    Journal of Mathematical Sociology 25(2), 163-177. Opsahl, T. et al.
    (2010). Social Networks 32(3), 245-251 (distances as inverse weights).
    """
    if rtol < 0 or not np.isfinite(rtol):
        raise ValueError("rtol must be finite and non-negative")
    indptr, indices, data = check_graph(g, weighted=weighted)
    length = 1.0 / data if weighted else np.ones_like(data)
    if threads is None:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if threads < 1:
        raise ValueError("threads must be at least 1")
    bc = _paths.betweenness(indptr, indices, length, float(rtol), int(threads))
    n = len(indptr) - 1
    if normalized:
        if n > 2:
            bc /= (n - 1) * (n - 2)
    else:
        bc /= 2.0
    return bc


def brokerage(g: Graph, groups) -> dict[str, np.ndarray]:
    """Gould & Fernandez brokerage roles of every node, by actor group.

    For broker ``v`` count the two-paths ``a -> v -> b`` with ``a != b`` and
    no tie between ``a`` and ``b``, by group membership:

    - coordinator: ``a``, ``v``, ``b`` in one group;
    - itinerant (consultant): ``a`` and ``b`` in one group, ``v`` outside;
    - gatekeeper: ``v`` and ``b`` in one group, ``a`` outside;
    - representative: ``a`` and ``v`` in one group, ``b`` outside;
    - liaison: three different groups.

    Ties are undirected, so each is used as a pair of symmetric directed
    ties and both orders ``a -> v -> b`` and ``b -> v -> a`` count. Hence
    coordinator, itinerant and liaison counts are twice the number of
    unordered pairs, and gatekeeper and representative collapse: every
    unordered pair with one end inside the broker's group and one outside
    gives one of each, so the two columns are always equal.

    Parameters
    ----------
    g : Graph
    groups : sequence of length n
        Any hashable group label per node (actor type, region, park).

    Returns
    -------
    dict mapping each name in ``BROKERAGE_ROLES`` to an int64 array of
    length n

    Examples
    --------
    >>> g = Graph.from_edges([0, 1], [1, 2])
    >>> r = brokerage(g, ["firm", "park", "firm"])
    >>> r["itinerant"].tolist(), r["coordinator"].tolist()
    ([0, 2, 0], [0, 0, 0])

    References
    ----------
    Gould, R. V. & Fernandez, R. M. (1989). Structures of mediation: a formal
    approach to brokerage in transaction networks. Sociological Methodology
    19, 89-126.
    """
    indptr, indices, _ = check_graph(g, weighted=False)
    labels = list(groups)
    if len(labels) != len(indptr) - 1:
        raise ValueError("groups must give one label per node")
    index: dict = {}
    codes = np.fromiter((index.setdefault(x, len(index)) for x in labels),
                        dtype=np.int32, count=len(labels))
    ngroups = len(index)
    counts = _paths.brokerage(indptr, indices, codes, ngroups)
    return {role: np.ascontiguousarray(counts[:, i]) for i, role in enumerate(BROKERAGE_ROLES)}
