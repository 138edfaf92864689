"""Co-presence: kernel vs reference vs NetworkX projections; hypergeometric test vs scipy."""
from __future__ import annotations

import doctest

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from tiesense.ties import _copresence, copresence
from tiesense.ties.copresence import (copresence as project, hypergeom_pvalue, incidence,
                                      session_events, time_bin_events, validate)
from tiesense.ties.reference_estimators import hypergeom_sf_reference, projection_reference


def test_doctests():
    for mod in (copresence, _copresence):
        res = doctest.testmod(mod)
        assert res.attempted > 0 and res.failed == 0


def davis():
    B = nx.davis_southern_women_graph()
    women = [n for n, d in B.nodes(data=True) if d["bipartite"] == 0]
    events = [n for n, d in B.nodes(data=True) if d["bipartite"] == 1]
    wi = {w: i for i, w in enumerate(women)}
    ei = {e: i for i, e in enumerate(events)}
    org, ev = [], []
    for a, b in B.edges():
        w, e = (a, b) if a in wi else (b, a)
        org.append(wi[w])
        ev.append(ei[e])
    return B, women, np.array(org), np.array(ev)


def as_dict(u, v, w, labels):
    return {frozenset((labels[a], labels[b])): x for a, b, x in zip(u.tolist(), v.tolist(), np.asarray(w).tolist())}


def test_davis_counts_equal_networkx_weighted_projection():
    B, women, org, ev = davis()
    cp = project(org, ev)
    want = nx.bipartite.weighted_projected_graph(B, women)
    got = as_dict(cp.u, cp.v, cp.shared, women)
    assert got == {frozenset((a, b)): d["weight"] for a, b, d in want.edges(data=True)}
    assert cp.n_events == 14
    assert cp.events_per_org.tolist() == [B.degree(w) for w in women]


def test_davis_newman_equals_networkx_collaboration_projection():
    B, women, org, ev = davis()
    cp = project(org, ev)
    want = nx.bipartite.collaboration_weighted_projected_graph(B, women)
    got = as_dict(cp.u, cp.v, cp.newman, women)
    assert got.keys() == {frozenset((a, b)) for a, b in want.edges()}
    for a, b, d in want.edges(data=True):
        assert got[frozenset((a, b))] == pytest.approx(d["weight"], rel=1e-12)
    g = cp.graph("newman", labels=women)
    assert g.m == want.number_of_edges()


def test_davis_counts_equal_igraph_projection_multiplicity():
    import igraph as ig

    B, women, org, ev = davis()
    nodes = list(B.nodes())
    index = {x: i for i, x in enumerate(nodes)}
    h = ig.Graph(n=len(nodes), edges=[(index[a], index[b]) for a, b in B.edges()])
    h.vs["type"] = [B.nodes[x]["bipartite"] == 1 for x in nodes]
    proj, _ = h.bipartite_projection(multiplicity=True)  # vertices: the women, in node order
    want = {frozenset((women[e.source], women[e.target])): e["weight"] for e in proj.es}
    cp = project(org, ev)
    assert as_dict(cp.u, cp.v, cp.shared, women) == want


def test_kernel_matches_reference_on_random_checkins():
    rng = np.random.default_rng(5)
    org = rng.integers(0, 30, 600)
    ev = rng.integers(0, 80, 600)
    cp = project(org, ev)
    members = {}
    for o, e in zip(org.tolist(), ev.tolist()):
        members.setdefault(e, set()).add(o)
    ref = projection_reference(members)
    got = {(a, b): (c, w) for a, b, c, w in zip(cp.u.tolist(), cp.v.tolist(), cp.shared.tolist(), cp.newman.tolist())}
    assert got.keys() == ref.keys()
    for key, (c, w) in ref.items():
        assert got[key][0] == c
        assert got[key][1] == pytest.approx(w, rel=1e-12)


def test_repeated_checkins_count_once():
    inc = incidence([0, 0, 0, 1], [3, 3, 3, 3])
    assert inc.toarray().tolist() == [[0, 0, 0, 1], [0, 0, 0, 1]]
    cp = project([0, 0, 0, 1], [3, 3, 3, 3])
    assert cp.shared.tolist() == [1] and cp.newman.tolist() == [1.0]


def test_empty_and_bad_input():
    cp = project([], [])
    assert len(cp) == 0 and cp.newman.dtype == np.float64 and cp.n_events == 0
    vn = validate(cp)
    assert vn.significant.tolist() == [] and vn.graph().m == 0
    with pytest.raises(ValueError, match="n_orgs"):
        project([0, 5], [0, 0], n_orgs=3)
    with pytest.raises(ValueError, match="same length"):
        incidence([0, 1], [0])


def test_event_builders():
    place = [1, 1, 1, 1, 2]
    t = [0.0, 20.0, 50.0, 130.0, 10.0]
    assert time_bin_events(place, t, 60.0).tolist() == [0, 0, 0, 1, 2]
    assert session_events(place, t, 30.0).tolist() == [0, 0, 0, 1, 2]
    assert session_events(place, t, 10.0).tolist() == [0, 1, 2, 3, 4]
    # a bin edge splits a meeting; a session does not
    assert time_bin_events([0, 0], [59.0, 61.0], 60.0).tolist() == [0, 1]
    assert session_events([0, 0], [59.0, 61.0], 5.0).tolist() == [0, 0]
    with pytest.raises(ValueError):
        time_bin_events([0], [1.0], 0.0)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 40).flatmap(lambda n: st.tuples(
    st.just(n), st.integers(0, n), st.integers(0, n), st.integers(0, n))))
def test_property_pvalue_matches_scipy_and_exact_sum(args):
    n, na, nb, x = args
    x = min(x, na, nb)
    p = float(hypergeom_pvalue(x, na, nb, n))
    assert p == pytest.approx(float(stats.hypergeom(n, na, nb).sf(x - 1)), rel=1e-12, abs=1e-300)
    if na + nb - n <= x:  # reachable count: the exact sum applies
        assert p == pytest.approx(hypergeom_sf_reference(x, na, nb, n), rel=1e-9)


def planted(seed=0):
    """Orgs 0 and 1 always attend together; 2..19 attend at random."""
    rng = np.random.default_rng(seed)
    org, ev = [], []
    for e in range(60):
        if e < 12:
            org += [0, 1]
            ev += [e, e]
        for o in rng.choice(np.arange(2, 20), 3, replace=False):
            org.append(int(o))
            ev.append(e)
    return np.array(org), np.array(ev)


def test_planted_pair_is_validated_and_settings_are_ordered():
    cp = project(*planted())
    fdr = validate(cp)
    bon = validate(cp, correction="bonferroni")
    key = list(zip(cp.u.tolist(), cp.v.tolist()))
    i = key.index((0, 1))
    assert fdr.significant[i] and bon.significant[i]
    assert fdr.n_tests == bon.n_tests == 20 * 19 // 2
    # Bonferroni is never more permissive than FDR, and counting only observed pairs never less
    assert (bon.significant <= fdr.significant).all()
    assert (validate(cp, n_tests="all").significant <= validate(cp, n_tests="observed").significant).all()
    assert bon.significant.sum() <= 3
    g = fdr.graph()
    assert g.m == int(fdr.significant.sum())


def test_corrections_against_hand_and_scipy():
    cp = project(*planted(1))
    vn = validate(cp, alpha=0.05, correction="bonferroni")
    np.testing.assert_allclose(vn.adjusted, np.minimum(vn.pvalue * vn.n_tests, 1.0))
    assert (vn.significant == (vn.pvalue * vn.n_tests <= 0.05)).all()
    obs = validate(cp, alpha=0.05, n_tests="observed")
    np.testing.assert_allclose(obs.adjusted, stats.false_discovery_control(obs.pvalue), rtol=1e-12)
    with pytest.raises(ValueError):
        validate(cp, correction="holm")
