"""Properties of the structural measures on random graphs (hypothesis).

Ranges ([0, 1] for overlap and disparity, non-negative betweenness), symmetry
of the edge measures, and invariance under relabelling the nodes: results
must move with the nodes, whatever order the CSR rows and merges see them in.
"""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tiesense.ties import Graph, reference, structure

TOL = dict(rtol=1e-9, atol=1e-9)


@st.composite
def graphs(draw, max_n: int = 18):
    """A random weighted graph and a permutation of its nodes."""
    n = draw(st.integers(2, max_n))
    pairs = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1))
    edges = draw(st.lists(pairs, max_size=3 * n))
    likert = draw(st.booleans())
    weight = st.integers(1, 5).map(float) if likert else st.floats(0.05, 20.0)
    w = [draw(weight) for _ in edges]
    perm = draw(st.permutations(range(n)))
    u = [a for a, _ in edges]
    v = [b for _, b in edges]
    return Graph.from_edges(u, v, w, n=n), np.array(perm)


def relabel(g: Graph, perm: np.ndarray) -> Graph:
    """Node i of ``g`` becomes node ``perm[i]``."""
    u, v, w = g.edges()
    return Graph.from_edges(perm[u], perm[v], w, n=g.n)


def edge_map(g: Graph, values, perm=None) -> dict:
    """``{frozenset(ends): value}``, ends mapped through ``perm`` when given."""
    u, v, _ = g.edges()
    if perm is not None:
        u, v = perm[u], perm[v]
    return {frozenset((a, b)): x for a, b, x in zip(u.tolist(), v.tolist(), np.asarray(values).tolist())}


def assert_same_edges(a: dict, b: dict):
    assert a.keys() == b.keys()
    keys = list(a)
    np.testing.assert_allclose([a[k] for k in keys], [b[k] for k in keys], **TOL)


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_overlap_in_unit_interval_symmetric_and_relabelling_invariant(gp):
    g, perm = gp
    o = structure.overlap(g)
    assert ((o >= 0) & (o <= 1)).all()
    # symmetric: reversing every id swaps the two ends of every edge
    rev = np.arange(g.n)[::-1].copy()
    assert_same_edges(edge_map(g, o, rev), edge_map(relabel(g, rev), structure.overlap(relabel(g, rev))))
    h = relabel(g, perm)
    assert_same_edges(edge_map(g, o, perm), edge_map(h, structure.overlap(h)))
    assert_same_edges(edge_map(g, structure.common_neighbours(g), perm),
                      edge_map(h, structure.common_neighbours(h)))


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_disparity_in_unit_interval_and_relabelling_invariant(gp):
    g, perm = gp
    a = structure.disparity(g)
    assert ((a >= 0) & (a <= 1)).all()
    np.testing.assert_allclose(a, reference.disparity(g.indptr.tolist(), g.indices.tolist(), g.data.tolist()), **TOL)
    h = relabel(g, perm)
    assert_same_edges(edge_map(g, a, perm), edge_map(h, structure.disparity(h)))


@settings(max_examples=100, deadline=None)
@given(graphs())
def test_node_measures_follow_relabelling(gp):
    g, perm = gp
    h = relabel(g, perm)
    for f in (structure.constraint, structure.effective_size, structure.clustering,
              structure.betweenness, structure.strength):
        np.testing.assert_allclose(f(h)[perm], f(g), equal_nan=True, err_msg=f.__name__, **TOL)
    groups = [i % 3 for i in range(g.n)]
    moved = [0] * g.n
    for i, p in enumerate(perm):
        moved[p] = groups[i]
    bg, bh = structure.brokerage(g, groups), structure.brokerage(h, moved)
    for role in structure.BROKERAGE_ROLES:
        assert bh[role][perm].tolist() == bg[role].tolist()


@settings(max_examples=100, deadline=None)
@given(graphs())
def test_betweenness_non_negative_and_matches_brute_force(gp):
    g, _ = gp
    b = structure.betweenness(g)
    assert (b >= 0).all()
    want = reference.betweenness(g.indptr.tolist(), g.indices.tolist(), g.data.tolist())
    np.testing.assert_allclose(b, want, **TOL)
    assert (structure.betweenness(g, weighted=False) >= 0).all()


@settings(max_examples=100, deadline=None)
@given(graphs())
def test_constraint_and_brokerage_match_references(gp):
    g, _ = gp
    ip, ix, d = g.indptr.tolist(), g.indices.tolist(), g.data.tolist()
    np.testing.assert_allclose(structure.constraint(g), reference.constraint(ip, ix, d), equal_nan=True, **TOL)
    np.testing.assert_allclose(structure.effective_size(g), reference.effective_size(ip, ix, d), equal_nan=True, **TOL)
    groups = [i % 2 for i in range(g.n)]
    got = structure.brokerage(g, groups)
    want = reference.brokerage(ip, ix, groups)
    for role in structure.BROKERAGE_ROLES:
        assert got[role].tolist() == want[role]
