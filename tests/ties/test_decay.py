"""Decayed interaction rate: live table vs batch kernel vs the definition (pure-Python reference)."""
from __future__ import annotations

import doctest
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiesense.ties import _decay, decay
from tiesense.ties.decay import DecayTable, decay_batch, decayed_graph
from tiesense.ties.reference_estimators import decay_reference


def random_events(seed, n=2000, nodes=40):
    rng = np.random.default_rng(seed)
    u = rng.integers(0, nodes, n)
    v = (u + 1 + rng.integers(0, nodes - 1, n)) % nodes
    t = np.cumsum(rng.exponential(1.0, n))
    a = rng.uniform(0.1, 3.0, n)
    return u, v, t, a


def test_doctests():
    for mod in (decay, _decay):
        res = doctest.testmod(mod)
        assert res.attempted > 0 and res.failed == 0


def test_hand_computed_half_life():
    tab = DecayTable(half_life=7.0)
    tab.observe(2, 5, 0.0, 4.0)
    assert tab.value(5, 2, 7.0) == pytest.approx(2.0)
    assert tab.value(2, 5, 14.0) == pytest.approx(1.0)
    tab.observe(5, 2, 14.0, 1.0)  # 4 * 2^-2 + 1
    assert tab.value(2, 5, 14.0) == pytest.approx(2.0)
    assert tab.value(0, 1, 3.0) == 0.0
    assert len(tab) == 1


def test_incremental_equals_batch_exactly_on_sorted_events():
    u, v, t, a = random_events(0)
    tab = DecayTable(half_life=25.0, capacity=4)  # forces several regrowths
    for x, y, ti, ai in zip(u.tolist(), v.tolist(), t.tolist(), a.tolist()):
        tab.observe(x, y, ti, ai)
    at = float(t[-1]) + 3.0
    su, sv, sw = tab.snapshot(at)
    bu, bv, bw = decay_batch(u, v, t, a, half_life=25.0, at=at)
    np.testing.assert_array_equal(su, bu)
    np.testing.assert_array_equal(sv, bv)
    np.testing.assert_array_equal(sw, bw)  # same operations in the same order: bit-identical


def test_batch_matches_definition():
    u, v, t, a = random_events(1)
    ref = decay_reference(zip(u.tolist(), v.tolist(), t.tolist(), a.tolist()), 25.0)
    bu, bv, bw = decay_batch(u, v, t, a, half_life=25.0)
    assert len(bw) == len(ref)
    got = dict(zip(zip(bu.tolist(), bv.tolist()), bw.tolist()))
    for key, want in ref.items():
        assert got[key] == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_late_events_are_folded_in_exactly():
    u, v, t, a = random_events(2, n=500, nodes=10)
    order = np.random.default_rng(3).permutation(len(t))
    tab = DecayTable(10.0)
    for i in order:
        tab.observe(int(u[i]), int(v[i]), float(t[i]), float(a[i]))
    su, sv, sw = tab.snapshot(float(t[-1]))
    _, _, bw = decay_batch(u, v, t, a, half_life=10.0)
    np.testing.assert_allclose(sw, bw, rtol=1e-9, atol=1e-12)


def test_reads_before_last_observation_are_refused():
    tab = DecayTable(1.0)
    tab.observe(0, 1, 5.0)
    with pytest.raises(ValueError, match="before its last"):
        tab.value(0, 1, 4.0)
    with pytest.raises(ValueError, match="after the snapshot"):
        tab.snapshot(4.0)


@pytest.mark.parametrize("args", [(1, 1, 0.0), (-1, 2, 0.0), (0, 2**31, 0.0), (0, 1, float("nan"))])
def test_observe_rejects_bad_input(args):
    with pytest.raises(ValueError):
        DecayTable(1.0).observe(*args)


def test_bad_half_life_and_unsorted_batch():
    with pytest.raises(ValueError):
        DecayTable(0.0)
    with pytest.raises(ValueError, match="sorted"):
        decay_batch([0, 0], [1, 1], [2.0, 1.0], half_life=1.0)
    with pytest.raises(ValueError, match="before the last"):
        decay_batch([0], [1], [2.0], half_life=1.0, at=1.0)


def test_state_round_trip_and_pickle():
    u, v, t, a = random_events(4, n=300)
    tab = DecayTable(5.0)
    for x, y, ti, ai in zip(u.tolist(), v.tolist(), t.tolist(), a.tolist()):
        tab.observe(x, y, ti, ai)
    for clone in (DecayTable.from_state(5.0, *tab.state()), pickle.loads(pickle.dumps(tab))):
        clone.observe(0, 1, float(t[-1]) + 1.0)
        tab2 = pickle.loads(pickle.dumps(tab))
        tab2.observe(0, 1, float(t[-1]) + 1.0)
        for got, want in zip(clone.snapshot(float(t[-1]) + 2.0), tab2.snapshot(float(t[-1]) + 2.0)):
            np.testing.assert_array_equal(got, want)


def test_decayed_graph_weights():
    tab = DecayTable(2.0)
    tab.observe(0, 1, 0.0, 8.0)
    tab.observe(1, 2, 2.0, 1.0)
    g = decayed_graph(tab, 4.0, n=4)
    u, v, w = g.edges()
    assert list(zip(u.tolist(), v.tolist(), w.tolist())) == [(0, 1, 2.0), (1, 2, 0.5)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.floats(0, 100), st.floats(0.01, 10)),
                min_size=1, max_size=40),
       st.floats(0.5, 50))
def test_property_table_matches_definition_in_any_order(events, h):
    events = [e for e in events if e[0] != e[1]]
    tab = DecayTable(h)
    for x, y, ti, ai in events:
        tab.observe(x, y, ti, ai)
    at = max((e[2] for e in events), default=0.0) + 1.0
    ref = decay_reference(events, h, at=at)
    u, v, w = tab.snapshot(at)
    got = dict(zip(zip(u.tolist(), v.tolist()), w.tolist()))
    assert got.keys() == ref.keys()
    for key in ref:
        assert got[key] == pytest.approx(ref[key], rel=1e-9, abs=1e-12)
        assert got[key] > 0


def test_observe_many_equals_one_by_one():
    u, v, t, a = random_events(6, n=400)
    one, many = DecayTable(3.0), DecayTable(3.0)
    for x, y, ti, ai in zip(u.tolist(), v.tolist(), t.tolist(), a.tolist()):
        one.observe(x, y, ti, ai)
    many.observe_many(u[:200], v[:200], t[:200], a[:200])
    many.observe_many(u[200:], v[200:], t[200:], a[200:])
    for got, want in zip(many.snapshot(float(t[-1])), one.snapshot(float(t[-1]))):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="same length"):
        many.observe_many([0], [1, 2], [0.0])
    with pytest.raises(ValueError, match="bad dyad"):
        many.observe_many([0, 3], [1, 3], [1e9, 1e9])
    assert many.value(0, 1, 1e9) > 0  # the valid event before the bad one was applied
