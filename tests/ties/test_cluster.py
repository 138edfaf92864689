"""Cluster measures: hand-computed cases, NetworkX where it has the measure, hypothesis properties."""
from __future__ import annotations

import doctest

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiesense.ties import Graph, cluster
from tiesense.ties.cluster import (SCOPES, degree_centralization, ei_index, ei_index_by_group,
                                   horizontality, hub_dependence, scope_shares, tie_scope,
                                   triple_helix, type_density, wave_change)


def test_doctests():
    res = doctest.testmod(cluster)
    assert res.attempted > 0 and res.failed == 0


def karate():
    G = nx.karate_club_graph()
    g = Graph.from_networkx(G)
    club = np.array([G.nodes[x]["club"] for x in g.labels])
    return G, g, club


def test_ei_index_on_karate_club_hand_counted_with_networkx():
    G, g, club = karate()
    ext = sum(1 for a, b in G.edges() if G.nodes[a]["club"] != G.nodes[b]["club"])
    internal = G.number_of_edges() - ext
    assert ei_index(g, club) == pytest.approx((ext - internal) / (ext + internal))
    we = sum(d["weight"] for a, b, d in G.edges(data=True) if G.nodes[a]["club"] != G.nodes[b]["club"])
    wi = G.size(weight="weight") - we
    assert ei_index(g, club, weighted=True) == pytest.approx((we - wi) / (we + wi))
    assert ei_index(g, club) < -0.5  # the two factions are mostly closed


def test_ei_extremes_and_by_group():
    g = Graph.from_edges([0, 2], [1, 3])
    assert ei_index(g, [0, 0, 1, 1]) == -1.0
    assert ei_index(g, [0, 1, 0, 1]) == 1.0
    assert np.isnan(ei_index(Graph.from_edges([], [], n=3), [0, 0, 1]))
    h = Graph.from_edges([0, 0, 1, 2], [1, 2, 2, 3])  # triangle 0-1-2 plus 2-3
    by = ei_index_by_group(h, ["a", "a", "a", "b"])
    assert by == {"a": pytest.approx((1 - 3) / 4), "b": 1.0}


def test_scope_hand_computed():
    #         0: park 1 R1 KR, 1: park 1 R1 KR, 2: no park R1 KR, 3: R2 KR, 4: abroad
    park, region, country = [1, 1, -1, -1, -1], [1, 1, 1, 2, 9], ["KR", "KR", "KR", "KR", "DE"]
    g = Graph.from_edges([0, 0, 0, 0, 2], [1, 2, 3, 4, 3], [4.0, 2.0, 1.0, 1.0, 2.0])
    sc = tie_scope(g, park, region, country)
    assert sc[:4].tolist() == [0, 1, 2, 3]
    s = scope_shares(g, park, region, country)
    np.testing.assert_allclose(s.per_node[0], [0.5, 0.25, 0.125, 0.125])
    np.testing.assert_allclose(s.overall, [4, 2, 3, 1] / np.float64(10))
    np.testing.assert_allclose(scope_shares(g, park, region, country, weighted=False).overall,
                               [0.2, 0.2, 0.4, 0.2])
    assert len(SCOPES) == 4
    iso = scope_shares(Graph.from_edges([0], [1], n=3), [0, 0, 0], [0, 0, 0], [0, 0, 0])
    assert np.isnan(iso.per_node[2]).all()


def test_scope_rows_sum_to_networkx_strength():
    G, g, _ = karate()
    rng = np.random.default_rng(0)
    park, region, country = rng.integers(-1, 2, g.n), rng.integers(0, 3, g.n), rng.integers(0, 2, g.n)
    s = scope_shares(g, park, region, country)
    np.testing.assert_allclose(s.per_node.sum(axis=1), 1.0)
    sc = tie_scope(g, park, region, country)
    src = np.repeat(np.arange(g.n), g.degree())
    same_park = np.bincount(src, weights=g.data * (sc == 0), minlength=g.n)
    strength = np.array([G.degree(x, weight="weight") for x in g.labels])
    np.testing.assert_allclose(s.per_node[:, 0], same_park / strength)


def test_hub_dependence_star_and_even_split():
    star = Graph.from_edges([0, 0, 0, 0], [1, 2, 3, 4], [5.0, 1.0, 1.0, 1.0])
    h = hub_dependence(star)
    assert h.top_share[0] == pytest.approx(5 / 8)
    assert h.hhi[0] == pytest.approx((25 + 3) / 64)
    assert h.top_partner[0] == 1
    np.testing.assert_allclose(h.top_share[1:], 1.0)  # each spoke depends wholly on the hub
    np.testing.assert_allclose(h.hhi[1:], 1.0)
    even = hub_dependence(Graph.from_edges([0, 0, 0], [1, 2, 3], [2.0, 2.0, 2.0]))
    assert even.hhi[0] == pytest.approx(1 / 3)
    iso = hub_dependence(Graph.from_edges([0], [1], n=3))
    assert np.isnan(iso.hhi[2]) and iso.top_partner[2] == -1


def test_degree_centralization_against_networkx_degrees():
    assert degree_centralization(nx_graph(nx.star_graph(9))) == 1.0
    assert degree_centralization(nx_graph(nx.complete_graph(6))) == 0.0
    assert degree_centralization(nx_graph(nx.cycle_graph(7))) == 0.0
    G = nx.les_miserables_graph()
    k = np.array([d for _, d in G.degree()])
    n = G.number_of_nodes()
    assert degree_centralization(Graph.from_networkx(G)) == pytest.approx((k.max() - k).sum() / ((n - 1) * (n - 2)))


def nx_graph(G):
    return Graph.from_networkx(G)


def test_horizontality_hand_computed():
    types = ["sme", "sme", "startup", "large_firm", "technopark", "university"]
    g = Graph.from_edges([0, 0, 0, 0, 1], [1, 2, 3, 4, 3], [1.0, 1.0, 4.0, 2.0, 1.0], n=len(types))
    h = horizontality(g, types)
    np.testing.assert_allclose(h.per_node[0], [0.25, 0.5, 0.25, 0.0])
    np.testing.assert_allclose(h.per_node[1], [0.5, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(h.per_node[2], [1.0, 0.0, 0.0, 0.0])
    assert np.isnan(h.per_node[3]).all() and np.isnan(h.per_node[5]).all()
    # focal strength: 8 + 2 + 1 = 11; peer 2 + 1 + 1 = 4, large 4 + 1 = 5, state 2
    np.testing.assert_allclose(h.overall, [4 / 11, 5 / 11, 2 / 11, 0.0])


def test_triple_helix_and_type_density():
    types = np.array(["sme", "sme", "large_firm", "university", "gri", "regional_agency", "finance"])
    g = Graph.from_edges([0, 0, 1, 2, 3], [3, 5, 4, 5, 5], n=len(types))
    th = triple_helix(g, types)
    assert th.covered.tolist() == [True, False, False, False, False, False, False]
    assert th.to_academia[1] and not th.to_government[1]
    assert th.coverage == pytest.approx(1 / 3)
    td = type_density(g, types)
    i = {t: k for k, t in enumerate(td.types)}
    assert td.ties[i["sme"], i["university"]] == 1 and td.ties[i["university"], i["sme"]] == 1
    assert td.density[i["sme"], i["university"]] == pytest.approx(1 / 2)
    assert np.isnan(td.density[i["finance"], i["finance"]])
    assert ("finance", "large_firm") in td.missing and ("sme", "sme") in td.missing
    assert ("regional_agency", "university") not in td.missing
    assert td.ties.sum() == 2 * g.m  # no within-type tie here: each tie at (a, b) and (b, a)
    assert (td.ties == td.ties.T).all()


def test_type_density_within_type_matches_networkx_density():
    G, g, club = karate()
    td = type_density(g, club)
    for k, t in enumerate(td.types):
        sub = G.subgraph([x for x, c in zip(g.labels, club) if c == t])
        assert td.density[k, k] == pytest.approx(nx.density(sub))
    with pytest.raises(ValueError, match="not in types"):
        type_density(g, club, types=["Mr. Hi"])


def test_wave_change_hand_computed():
    g0 = Graph.from_edges([0, 0, 1], [1, 2, 2], [1.0, 2.0, 3.0], labels=["x", "y", "z"])
    g1 = Graph.from_edges([0, 0, 1, 2], [1, 2, 2, 3], [2.0, 3.0, 1.0, 1.0], labels=["z", "y", "x", "w"])
    # after: z-y 2 (was 3), z-x 3 (was 2), y-x 1 (was 1), x-w 1 (new)
    ch = wave_change(g0, g1)
    assert ch.new == [("w", "x")] and ch.lost == []
    assert ch.strengthened == [("x", "z")] and ch.weakened == [("y", "z")] and ch.stable == [("x", "y")]
    assert ch.new_members == ["w"] and ch.departed_members == []
    assert wave_change(g0, g1, tol=1.5).stable == [("x", "y"), ("x", "z"), ("y", "z")]


@st.composite
def weighted_graphs(draw):
    n = draw(st.integers(3, 12))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), min_size=1, max_size=30))
    w = draw(st.lists(st.floats(0.1, 10), min_size=len(pairs), max_size=len(pairs)))
    group = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    perm = draw(st.permutations(list(range(n))))
    u, v = zip(*pairs)
    return n, np.array(u), np.array(v), np.array(w), np.array(group), np.array(perm)


@settings(max_examples=80, deadline=None)
@given(weighted_graphs())
def test_property_ranges_and_relabelling(case):
    n, u, v, w, group, perm = case
    g = Graph.from_edges(u, v, w, n=n)
    gp = Graph.from_edges(perm[u], perm[v], w, n=n)  # node i becomes perm[i]
    gp_group = np.empty(n, dtype=group.dtype)
    gp_group[perm] = group
    for weighted in (False, True):
        e = ei_index(g, group, weighted)
        if g.m:
            assert -1 - 1e-12 <= e <= 1 + 1e-12
            assert ei_index(gp, gp_group, weighted) == pytest.approx(e)
    h, hp = hub_dependence(g), hub_dependence(gp)
    k = g.degree()
    tied = k > 0
    assert (h.hhi[tied] >= 1 / k[tied] - 1e-12).all() and (h.hhi[tied] <= 1 + 1e-12).all()
    assert (h.hhi[tied] <= h.top_share[tied] + 1e-12).all()
    np.testing.assert_allclose(hp.hhi[perm], h.hhi)
    np.testing.assert_allclose(hp.top_share[perm], h.top_share)
    c = degree_centralization(g)
    assert 0 <= c <= 1 and degree_centralization(gp) == pytest.approx(c)
