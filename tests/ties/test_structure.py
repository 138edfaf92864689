"""Structural kernels against their pure-Python references, NetworkX and igraph.

Every measure is compared to 1e-9 on Zachary's karate club (weighted by
interaction counts), Les Miserables (co-appearance weights), the Florentine
families (unweighted) and seeded random graphs, one with continuous weights
and one with Likert weights 1..5 (many equal path lengths).
"""
from __future__ import annotations

import igraph as ig
import networkx as nx
import numpy as np
import pytest

from tiesense.ties import Graph, reference, structure

TOL = dict(rtol=1e-9, atol=1e-9)


def _random(seed: int, likert: bool) -> nx.Graph:
    G = nx.gnm_random_graph(70, 260, seed=seed)
    rng = np.random.default_rng(seed)
    for a, b in G.edges():
        G[a][b]["weight"] = float(rng.integers(1, 6)) if likert else float(rng.uniform(0.1, 5.0))
    return G


GRAPHS = {
    "karate": nx.karate_club_graph,
    "lesmis": nx.les_miserables_graph,
    "florentine": nx.florentine_families_graph,
    "gnm": lambda: _random(7, likert=False),
    "gnm_likert": lambda: _random(11, likert=True),
}


@pytest.fixture(params=sorted(GRAPHS), scope="module")
def case(request):
    """``(name, networkx graph, Graph, igraph graph)``; nodes in Graph order."""
    G = GRAPHS[request.param]()
    for a, b, d in G.edges(data=True):
        d.setdefault("weight", 1.0)
        d["dist"] = 1.0 / d["weight"]
    g = Graph.from_networkx(G)
    u, v, w = g.edges()
    H = ig.Graph(n=g.n, edges=np.column_stack([u, v]).tolist())
    H.es["weight"] = w.tolist()
    H.es["dist"] = (1.0 / w).tolist()
    return request.param, G, g, H


def lists(g: Graph):
    return g.indptr.tolist(), g.indices.tolist(), g.data.tolist()


def by_node(g: Graph, values: dict) -> np.ndarray:
    return np.array([values[x] for x in g.labels], dtype=float)


# --- common neighbours, overlap, clustering ---

def test_common_neighbours_match_reference_and_networkx(case):
    _, G, g, _ = case
    got = structure.common_neighbours(g)
    indptr, indices, _ = lists(g)
    assert got.tolist() == reference.common_neighbours(indptr, indices)
    u, v, _ = g.edges()
    lab = g.labels
    want = [len(list(nx.common_neighbors(G, lab[a], lab[b]))) for a, b in zip(u, v)]
    assert got.tolist() == want


def test_overlap_matches_reference_networkx_and_igraph(case):
    _, G, g, H = case
    got, common = structure.overlap(g, return_common=True)
    indptr, indices, _ = lists(g)
    np.testing.assert_allclose(got, reference.overlap(indptr, indices), **TOL)
    u, v, _ = g.edges()
    lab = g.labels
    want = []
    for a, b in zip(u, v):
        c = len(list(nx.common_neighbors(G, lab[a], lab[b])))
        den = G.degree(lab[a]) + G.degree(lab[b]) - 2 - c
        want.append(c / den if den else 0.0)
    np.testing.assert_allclose(got, want, **TOL)
    # igraph's Jaccard of neighbourhoods J = c / (k_u + k_v - c) gives c back
    jac = np.array(H.similarity_jaccard(pairs=list(zip(u.tolist(), v.tolist())), loops=False))
    k = g.degree()
    ksum = k[u] + k[v]
    np.testing.assert_allclose(jac * ksum / (1.0 + jac), common, **TOL)


def test_clustering_matches_reference_networkx_and_igraph(case):
    _, G, g, H = case
    got = structure.clustering(g)
    np.testing.assert_allclose(got, reference.clustering(*lists(g)[:2]), **TOL)
    np.testing.assert_allclose(got, by_node(g, nx.clustering(G)), **TOL)
    np.testing.assert_allclose(got, H.transitivity_local_undirected(mode="zero"), **TOL)


def test_overlap_known_values():
    g = Graph.from_edges([0, 0, 1, 2], [1, 2, 2, 3])
    assert structure.overlap(g).tolist() == [1.0, 0.5, 0.5, 0.0]
    assert structure.common_neighbours(g).tolist() == [1, 1, 1, 0]


# --- disparity filter ---

def test_disparity_matches_reference(case):
    _, _, g, _ = case
    got = structure.disparity(g)
    np.testing.assert_allclose(got, reference.disparity(*lists(g)), **TOL)
    assert ((got >= 0) & (got <= 1)).all()


def test_disparity_by_hand_and_backbone():
    # star: hub 0 with weights 8, 1, 1; leaf 3 also tied to 4 (weight 1)
    g = Graph.from_edges([0, 0, 0, 3], [1, 2, 3, 4], [8.0, 1.0, 1.0, 1.0])
    a = structure.disparity(g)
    # (0,1): hub (1 - .8)^2 = .04, leaf degree 1 -> 1; (0,3): min(.81, (1 - .5)^1)
    np.testing.assert_allclose(a, [0.04, 0.81, 0.5, 0.5], **TOL)
    u, v, w = structure.backbone(g, alpha=0.05)
    assert (u.tolist(), v.tolist(), w.tolist()) == ([0], [1], [8.0])
    u, v, _ = structure.backbone(g, alpha=0.6)
    assert list(zip(u.tolist(), v.tolist())) == [(0, 1), (0, 3), (3, 4)]
    # a lone edge between two degree-1 nodes carries no evidence
    assert structure.disparity(Graph.from_edges([0], [1], [5.0])).tolist() == [1.0]
    with pytest.raises(ValueError):
        structure.backbone(g, alpha=1.5)


# --- strength and centralisation ---

@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_strength_matches_reference_networkx_and_igraph(case, alpha):
    _, G, g, H = case
    got = structure.strength(g, alpha)
    np.testing.assert_allclose(got, reference.strength(g.indptr.tolist(), g.data.tolist(), alpha), **TOL)
    if alpha == 1.0:
        np.testing.assert_allclose(got, by_node(g, dict(G.degree(weight="weight"))), **TOL)
        np.testing.assert_allclose(got, H.strength(weights="weight"), **TOL)
    if alpha == 0.0:
        np.testing.assert_allclose(got, H.degree(), **TOL)


def test_degree_centralization(case):
    _, G, g, _ = case
    got = structure.degree_centralization(g)
    assert got == pytest.approx(reference.degree_centralization(g.indptr.tolist()), abs=1e-12)
    k = np.array([d for _, d in G.degree()])
    n = len(k)
    assert got == pytest.approx((k.max() - k).sum() / ((n - 1) * (n - 2)), abs=1e-12)


def test_degree_centralization_extremes():
    star = Graph.from_networkx(nx.star_graph(9))
    assert structure.degree_centralization(star) == 1.0
    assert structure.degree_centralization(Graph.from_networkx(nx.complete_graph(6))) == 0.0
    assert np.isnan(structure.degree_centralization(Graph.from_edges([0], [1])))


# --- structural holes ---

def test_constraint_matches_reference_networkx_and_igraph(case):
    _, G, g, H = case
    got = structure.constraint(g)
    np.testing.assert_allclose(got, reference.constraint(*lists(g)), **TOL)
    np.testing.assert_allclose(got, by_node(g, nx.constraint(G, weight="weight")), **TOL)
    np.testing.assert_allclose(got, H.constraint(weights="weight"), **TOL)


def test_effective_size_matches_reference_and_networkx(case):
    _, G, g, _ = case
    got = structure.effective_size(g)
    np.testing.assert_allclose(got, reference.effective_size(*lists(g)), **TOL)
    # NetworkX's per-node path follows its documented weighted formula. Its
    # all-nodes fast path (nodes=None) divides the max-normalised mutual
    # weights by column maxima instead of row maxima (networkx 3.6 with
    # scipy sparse arrays; networkx/networkx PR #8906), so it is not the
    # yardstick for weighted graphs.
    want = nx.effective_size(G, nodes=list(G), weight="weight")
    np.testing.assert_allclose(got, by_node(g, want), **TOL)


def test_effective_size_unit_weights_is_borgatti(case):
    _, G, g, _ = case
    u, v, _ = g.edges()
    g1 = Graph.from_edges(u, v, n=g.n, labels=g.labels)
    np.testing.assert_allclose(structure.effective_size(g1), by_node(g1, nx.effective_size(G)), **TOL)


def test_isolated_nodes_get_nan_for_structural_holes():
    g = Graph.from_edges([0], [1], n=3)
    assert np.isnan(structure.constraint(g)[2]) and np.isnan(structure.effective_size(g)[2])
    assert structure.constraint(g)[:2].tolist() == [1.0, 1.0]


# --- betweenness ---

@pytest.mark.parametrize("normalized", [True, False])
def test_betweenness_exact_ties_match_networkx(case, normalized):
    _, G, g, _ = case
    got = structure.betweenness(g, normalized=normalized, rtol=0.0)
    want = nx.betweenness_centrality(G, weight="dist", normalized=normalized)
    np.testing.assert_allclose(got, by_node(g, want), **TOL)


def test_betweenness_default_ties_match_igraph_and_reference(case):
    _, _, g, H = case
    got = structure.betweenness(g, normalized=False)
    np.testing.assert_allclose(got, H.betweenness(weights="dist"), **TOL)
    want = reference.betweenness(*lists(g), normalized=False)
    np.testing.assert_allclose(got, want, **TOL)
    norm = structure.betweenness(g)
    np.testing.assert_allclose(norm, reference.betweenness(*lists(g)), **TOL)


def test_betweenness_hops_match_networkx_and_igraph(case):
    _, G, g, H = case
    got = structure.betweenness(g, weighted=False)
    np.testing.assert_allclose(got, by_node(g, nx.betweenness_centrality(G)), **TOL)
    raw = structure.betweenness(g, normalized=False, weighted=False)
    np.testing.assert_allclose(raw, H.betweenness(), **TOL)


def test_betweenness_tie_tolerance_matters_on_karate():
    # Karate weights are small integers: 1/w path lengths that are equal as
    # reals can round apart; exact comparison (NetworkX) then drops a path
    # that igraph's and tiesense's default tolerance keeps.
    g = Graph.from_networkx(nx.karate_club_graph())
    exact = structure.betweenness(g, normalized=False, rtol=0.0)
    tolerant = structure.betweenness(g, normalized=False)
    assert np.abs(exact - tolerant).max() > 0.5


# --- brokerage ---

def _groups(name: str, G: nx.Graph, g: Graph) -> list:
    if name == "karate":
        return [G.nodes[x]["club"] if x % 5 else "agency" for x in g.labels]
    return [hash(str(x)) % 3 for x in g.labels]


def test_brokerage_matches_brute_force_reference(case):
    name, G, g, _ = case
    groups = _groups(name, G, g)
    got = structure.brokerage(g, groups)
    want = reference.brokerage(g.indptr.tolist(), g.indices.tolist(), groups)
    for role in structure.BROKERAGE_ROLES:
        assert got[role].tolist() == want[role], role
    # symmetric ties: gatekeeper and representative collapse
    assert (got["gatekeeper"] == got["representative"]).all()
    # every open ordered two-path has exactly one role
    k = g.degree()
    tri2 = np.array([sum(1 for a in G[x] for b in G[x] if a != b and G.has_edge(a, b)) for x in g.labels])
    total = sum(got[r] for r in structure.BROKERAGE_ROLES)
    assert total.tolist() == (k * (k - 1) - tri2).tolist()


def test_brokerage_by_hand():
    # firm 0 - park 1 - firm 2, park 1 - university 3, park 1 - park 4
    g = Graph.from_edges([0, 1, 1, 1], [1, 2, 3, 4])
    r = structure.brokerage(g, ["firm", "park", "firm", "uni", "park"])
    # broker 1: pairs {0,2} itinerant; {0,3},{2,3} liaison; {0,4},{2,4},{3,4} gatekeeper+representative
    assert r["itinerant"].tolist() == [0, 2, 0, 0, 0]
    assert r["liaison"].tolist() == [0, 4, 0, 0, 0]
    assert r["gatekeeper"].tolist() == [0, 3, 0, 0, 0]
    assert r["representative"].tolist() == [0, 3, 0, 0, 0]
    assert r["coordinator"].tolist() == [0] * 5
    with pytest.raises(ValueError):
        structure.brokerage(g, ["firm"])


# --- input checks ---

def test_check_graph_refuses_broken_csr():
    good = Graph.from_edges([0, 1], [1, 2], [1.0, 2.0])
    bad = [
        Graph(good.indptr, np.array([1, 0, 2, 5], dtype=np.int32), good.data),   # out of range
        Graph(good.indptr, np.array([1, 2, 0, 1], dtype=np.int32), good.data),   # row 1 unsorted, asymmetric
        Graph(np.array([0, 1, 3, 2]), good.indices, good.data),                   # decreasing indptr
        Graph(np.array([0, 1, 2, 4]), np.array([1, 0, 2, 1], dtype=np.int32), good.data),  # self-loop 2-2
        Graph(np.array([0, 1, 1, 1]), np.array([1], dtype=np.int32), np.array([1.0])),      # asymmetric
    ]
    for g in bad:
        with pytest.raises(ValueError):
            structure.overlap(g)
    unsorted = Graph(np.array([0, 1, 3, 4]), np.array([1, 2, 0, 1], dtype=np.int32), good.data)
    with pytest.raises(ValueError, match="increasing"):
        structure.overlap(unsorted)
    negative = Graph(good.indptr, good.indices, np.array([1.0, -1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="positive"):
        structure.disparity(negative)
    # overlap ignores weights, so it accepts them
    assert structure.overlap(negative).tolist() == [0.0, 0.0]


def test_betweenness_same_for_any_thread_count(case):
    _, _, g, _ = case
    one = structure.betweenness(g, threads=1)
    for t in (2, 3):
        np.testing.assert_allclose(structure.betweenness(g, threads=t), one, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError):
        structure.betweenness(g, threads=0)


def test_degree_centralization_agrees_with_cluster_module(case):
    from tiesense.ties import cluster

    _, _, g, _ = case
    assert structure.degree_centralization(g) == pytest.approx(cluster.degree_centralization(g), abs=1e-12)


# --- docs ---

def test_doctests_run():
    import doctest

    res = doctest.testmod(structure)
    assert res.attempted >= len(structure.__all__) - 2 and res.failed == 0


def test_every_public_name_is_documented():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "measures.md").read_text()
    for name in structure.__all__:
        if name in ("check_graph", "BROKERAGE_ROLES"):
            continue
        assert f"`{name}(" in text, name
        assert getattr(structure, name).__doc__.count("Examples") == 1, name
