"""Survey composite and dyad reconciliation against hand-computed cases and the reference."""
from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiesense.ties import estimators
from tiesense.ties.estimators import (DEFAULT_WEIGHTS, multiplexity, reconcile_dyads, standardise,
                                      survey_composite)
from tiesense.ties.reference_estimators import composite_reference

NAN = float("nan")


def test_doctests():
    res = doctest.testmod(estimators)
    assert res.attempted > 0 and res.failed == 0


def test_default_weights_favour_closeness_and_sum_to_one():
    assert max(DEFAULT_WEIGHTS, key=DEFAULT_WEIGHTS.get) == "closeness"
    assert sum(DEFAULT_WEIGHTS.values()) == pytest.approx(1.0)


def test_hand_computed_composite_minmax():
    # frequency 1..6, closeness 1..5: rows at the extremes and the middle
    got = survey_composite(frequency=[1, 6, 1], closeness=[1, 5, 3],
                           weights={"frequency": 1.0, "closeness": 3.0})
    np.testing.assert_allclose(got, [0.0, 1.0, 3 * 0.5 / 4])


def test_missing_component_reweights_over_present_ones():
    got = survey_composite(frequency=[1, 6, 6], closeness=[1, 5, NAN],
                           weights={"frequency": 1.0, "closeness": 3.0})
    assert got[2] == 1.0  # only frequency present: its own standardised value, not 1/4 of it
    all_missing = survey_composite(frequency=[1, NAN], closeness=[2, NAN])
    assert np.isnan(all_missing[1])


def test_anchors_keep_a_ties_value_whoever_else_answered():
    # the same answers score the same in a wave of weak ties and in a wave of strong ones
    weak = survey_composite(frequency=[2, 1, 1], closeness=[3, 1, 2], trust=[3, 1, 1], method="anchors")
    strong = survey_composite(frequency=[2, 6, 5], closeness=[3, 5, 5], trust=[3, 5, 4], method="anchors")
    assert weak[0] == strong[0]
    minmax = [survey_composite(frequency=f, closeness=c, trust=t)[0]
              for f, c, t in (([2, 1, 1], [3, 1, 2], [3, 1, 1]), ([2, 6, 5], [3, 5, 5], [3, 5, 4]))]
    assert minmax[0] > minmax[1]  # the sample's range decides, so waves do not compare
    # by hand: frequency 2 of 1..6 is 0.2, closeness 3 of 1..5 is 0.5, trust 3 is 0.5
    w = estimators.DEFAULT_WEIGHTS
    want = (w["frequency"] * 0.2 + w["closeness"] * 0.5 + w["trust"] * 0.5) / (w["frequency"] + w["closeness"] + w["trust"])
    assert weak[0] == pytest.approx(want)
    # per-row anchors: a 1-7 closeness scale of an adapted form next to the shipped 1-5
    got = standardise([4.0, 4.0], "anchors", (np.array([1.0, 1.0]), np.array([7.0, 5.0])))
    assert got.tolist() == [0.5, 0.75]
    assert standardise([0.0, 9.0], "anchors", (1.0, 5.0)).tolist() == [0.0, 1.0]  # clipped at the ends


def test_closeness_and_trust_are_separate_inputs():
    close_not_trusted = survey_composite(closeness=[5], trust=[1], method="anchors")[0]
    trusted_not_close = survey_composite(closeness=[1], trust=[5], method="anchors")[0]
    w = estimators.DEFAULT_WEIGHTS
    assert close_not_trusted == pytest.approx(w["closeness"] / (w["closeness"] + w["trust"]))
    assert trusted_not_close == pytest.approx(w["trust"] / (w["closeness"] + w["trust"]))


def test_zscore_centres_each_component():
    z = standardise([2.0, 4.0, 6.0, NAN], "zscore")
    assert np.nanmean(z) == pytest.approx(0.0)
    assert np.nanstd(z) == pytest.approx(1.0)
    assert standardise([3.0, 3.0], "zscore").tolist() == [0.0, 0.0]


def test_multiplexity_counts_distinct_types_and_rejects_unknown():
    m = np.array([[1, 0, 1, 0, 0, 1], [0, 0, 0, 0, 0, 0]], dtype=bool)
    assert multiplexity(m).tolist() == [3.0, 0.0]
    with pytest.raises(ValueError, match="unknown tie type"):
        multiplexity([["gossip"]])


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown weight"):
        survey_composite(frequency=[1, 2], weights={"warmth": 1.0})
    with pytest.raises(ValueError, match="rows"):
        survey_composite(frequency=[1, 2], closeness=[1])
    with pytest.raises(ValueError, match="no component"):
        survey_composite()
    with pytest.raises(ValueError, match="standardise"):
        survey_composite(frequency=[1, 2], method="rank")


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30).flatmap(lambda n: st.tuples(
    *[st.lists(st.one_of(st.floats(0, 10), st.just(NAN)), min_size=n, max_size=n) for _ in range(5)])),
    st.sampled_from(["minmax", "zscore"]))
def test_property_composite_matches_reference(cols, method):
    columns = dict(zip(estimators.COMPONENTS, cols))
    got = survey_composite(**columns, method=method)
    want = composite_reference(columns, DEFAULT_WEIGHTS, method)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    if method == "minmax":
        ok = ~np.isnan(got)
        assert ((got[ok] >= -1e-12) & (got[ok] <= 1 + 1e-12)).all()


def test_reconcile_modes_hand_computed():
    # 0->1 twice from side 0 (averaged to 0.6), 1->0 once (0.2); 2->3 one side only
    r, p, x = [0, 0, 1, 2], [1, 1, 0, 3], [0.5, 0.7, 0.2, 0.9]
    want = {"mean": [0.4, 0.9], "min": [0.2, 0.9], "max": [0.6, 0.9]}
    for mode, vals in want.items():
        d = reconcile_dyads(r, p, x, mode=mode)
        assert d.u.tolist() == [0, 2] and d.v.tolist() == [1, 3]
        np.testing.assert_allclose(d.value, vals)
        assert d.n_reports.tolist() == [3, 1]
        assert d.confirmed.tolist() == [True, False]
        assert d.disagreement[0] == pytest.approx(0.4) and np.isnan(d.disagreement[1])
    c = reconcile_dyads(r, p, x, mode="confirmed")
    assert len(c) == 1 and c.u.tolist() == [0] and c.value[0] == pytest.approx(0.4)


def test_reconcile_ignores_self_reports_and_missing_values():
    d = reconcile_dyads([0, 1, 2], [0, 2, 1], [1.0, NAN, 0.3])
    assert d.u.tolist() == [1] and d.value.tolist() == [0.3] and d.confirmed.tolist() == [False]
    e = reconcile_dyads([], [], [])
    assert len(e) == 0
    with pytest.raises(ValueError, match="mode"):
        reconcile_dyads([0], [1], [1.0], mode="median")


def test_reconcile_to_graph():
    g = reconcile_dyads([0, 1, 2], [1, 0, 3], [0.2, 0.4, 1.0]).to_graph(n=5)
    assert g.n == 5 and g.m == 2
    u, v, w = g.edges()
    np.testing.assert_allclose(w, [0.3, 1.0])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.floats(0, 1)), min_size=1, max_size=40))
def test_property_reconcile_bounds_and_symmetry(rows):
    r, p, x = map(list, zip(*rows))
    lo, me, hi = (reconcile_dyads(r, p, x, mode=m) for m in ("min", "mean", "max"))
    assert (lo.value <= me.value + 1e-12).all() and (me.value <= hi.value + 1e-12).all()
    np.testing.assert_allclose(hi.value - lo.value, np.nan_to_num(me.disagreement), atol=1e-12)
    swapped = reconcile_dyads(p, r, x)  # who reported it flips, the dyad values do not
    np.testing.assert_allclose(swapped.value, me.value, atol=1e-12)
    assert (me.u < me.v).all()


def test_every_public_name_is_documented():
    """Docs are tested: each public function and class of the estimator modules is in docs/estimators.md."""
    import inspect
    from pathlib import Path

    from tiesense.ties import cluster, copresence, decay, uncertainty

    doc = (Path(__file__).resolve().parents[2] / "docs" / "estimators.md").read_text()
    missing, no_example = [], []
    for mod in (estimators, decay, copresence, uncertainty, cluster):
        for name, obj in vars(mod).items():
            if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if getattr(obj, "__module__", "").rsplit(".", 1)[-1].lstrip("_") != mod.__name__.rsplit(".", 1)[-1]:
                continue  # imported from elsewhere (Graph, dataclass helpers)
            if f"`{name}" not in doc and f"{name}(" not in doc:
                missing.append(f"{mod.__name__}.{name}")
            if inspect.isfunction(obj) and "Examples" not in (obj.__doc__ or ""):
                no_example.append(f"{mod.__name__}.{name}")
    assert missing == [], missing
    assert no_example == [], no_example
