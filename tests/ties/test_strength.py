"""Opsahl strength kernel against its pure-Python reference and NetworkX."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from tiesense.ties import Graph, _strength, reference


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0, 1.5])
def test_strength_matches_reference_on_les_miserables(alpha):
    g = Graph.from_networkx(nx.les_miserables_graph())
    got = _strength.strength(g.indptr, g.data, alpha)
    want = reference.strength(g.indptr.tolist(), g.data.tolist(), alpha)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


def test_strength_alpha_one_is_networkx_weighted_degree():
    G = nx.les_miserables_graph()
    g = Graph.from_networkx(G)
    got = _strength.strength(g.indptr, g.data, 1.0)
    want = [G.degree(x, weight="weight") for x in g.labels]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_from_edges_sums_repeats_and_drops_loops():
    g = Graph.from_edges([0, 1, 2, 0], [1, 0, 2, 2], [1.0, 2.0, 5.0, 1.0])
    assert g.m == 2
    u, v, w = g.edges()
    assert list(zip(u.tolist(), v.tolist(), w.tolist())) == [(0, 1, 3.0), (0, 2, 1.0)]
