"""Uncertainty: bootstrap over respondents and the Gamma-Poisson posterior."""
from __future__ import annotations

import doctest

import numpy as np
import pytest
from scipy import stats

from tiesense.ties import uncertainty
from tiesense.ties.cluster import ei_index
from tiesense.ties.uncertainty import (bootstrap_respondents, decayed_rate_interval, dyad_intervals,
                                       gamma_poisson_interval, measure_interval)


def test_doctests():
    res = doctest.testmod(uncertainty)
    assert res.attempted > 0 and res.failed == 0


def survey(n_resp, seed=0, n_orgs=60):
    """Each respondent names 4 partners; a dyad's true strength plus reporting noise."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.3, 1.0, (n_orgs, n_orgs))
    truth = (truth + truth.T) / 2
    r, p, x = [], [], []
    for a in rng.choice(n_orgs, n_resp, replace=False):
        for b in rng.choice(np.delete(np.arange(n_orgs), a), 4, replace=False):
            r.append(a)
            p.append(b)
            x.append(truth[a, b] + rng.normal(0, 0.05))
    return np.array(r), np.array(p), np.array(x)


def mean_strength(g):
    return g.data.mean()


def test_seeded_and_reproducible():
    r, p, x = survey(20)
    a = measure_interval(r, p, x, mean_strength, n=60, n_replicates=100, seed=7)
    b = measure_interval(r, p, x, mean_strength, n=60, n_replicates=100, seed=7)
    c = measure_interval(r, p, x, mean_strength, n=60, n_replicates=100, seed=8)
    np.testing.assert_array_equal(a.replicates, b.replicates)
    assert not np.array_equal(a.replicates, c.replicates)
    assert a.replicates.shape == (100,)


def test_interval_contains_estimate_and_narrows_with_more_respondents():
    widths = {}
    for n_resp in (8, 50):
        r, p, x = survey(n_resp, seed=1)
        iv = measure_interval(r, p, x, mean_strength, n=60, n_replicates=300, seed=0)
        assert iv.low <= iv.estimate <= iv.high
        widths[n_resp] = iv.high - iv.low
    assert widths[8] > 1.5 * widths[50]


def test_resampling_repeats_whole_respondents():
    seen = []

    def stat(rows):
        seen.append(rows.copy())
        return float(len(rows))

    resp = np.array([5, 5, 5, 9, 2])  # respondent 5 answered three rows
    bootstrap_respondents(resp, stat, n_replicates=50, seed=3)
    for rows in seen[1:]:
        counts = np.bincount(rows, minlength=5)
        assert counts[0] == counts[1] == counts[2]  # all of respondent 5's rows, or none, together
        assert counts[[0, 3, 4]].sum() == 3  # three respondents drawn each time


def test_vector_statistic_and_bad_arguments():
    iv = bootstrap_respondents([0, 1, 2], lambda rows: np.array([len(rows), 1.0]), n_replicates=20)
    assert iv.low.shape == (2,) and iv.low[1] == iv.high[1] == 1.0
    with pytest.raises(ValueError):
        bootstrap_respondents([0], lambda rows: 0.0, n_replicates=0)
    with pytest.raises(ValueError):
        bootstrap_respondents([0], lambda rows: 0.0, level=1.0)


def test_dyad_intervals_single_report_is_uncertain_confirmed_pair_less_so():
    r, p, x = survey(40, seed=2)
    d = dyad_intervals(r, p, x, n_replicates=300, seed=0)
    assert (d.low <= d.estimate + 1e-12).all() and (d.estimate <= d.high + 1e-12).all()
    single = d.n_reports == 1
    assert single.any()
    assert (d.low[single] == 0.0).all()  # not reported in > 2.5% of replicates
    assert (d.support[single] < 0.75).all()
    both = d.n_reports >= 2
    assert both.any()
    assert d.support[both].mean() > d.support[single].mean()


def test_ei_interval_from_survey():
    r, p, x = survey(30, seed=4)
    group = np.arange(60) % 3
    iv = measure_interval(r, p, x, lambda g: ei_index(g, group), n=60, n_replicates=200)
    assert -1 <= iv.low <= iv.estimate <= iv.high <= 1


def test_gamma_poisson_against_chi_square_and_conjugacy():
    k, t = np.array([0, 1, 5, 40]), np.array([2.0, 1.0, 4.0, 10.0])
    iv = gamma_poisson_interval(k, t)
    # Gamma(k + 1/2, rate t) = chi2(2k + 1) / (2t)
    np.testing.assert_allclose(iv.low, stats.chi2.ppf(0.025, 2 * k + 1) / (2 * t), rtol=1e-9)
    np.testing.assert_allclose(iv.high, stats.chi2.ppf(0.975, 2 * k + 1) / (2 * t), rtol=1e-9)
    np.testing.assert_allclose(iv.mean, (k + 0.5) / t)
    inf = gamma_poisson_interval(3, 2.0, prior_shape=2.0, prior_rate=1.0)
    assert float(inf.mean) == pytest.approx(5 / 3)
    with pytest.raises(ValueError):
        gamma_poisson_interval(1, 0.0)


def test_seen_once_is_not_certain_and_more_data_narrows():
    once = gamma_poisson_interval(1, 1.0)
    many = gamma_poisson_interval(100, 100.0)
    assert once.high / once.low > 20
    assert (many.high - many.low) < 0.2 * (once.high - once.low)
    assert once.low < 1.0 < once.high and many.low < 1.0 < many.high


def test_decayed_rate_exposure():
    h = 30.0
    iv = decayed_rate_interval(2.0, h, observed_for=h)  # exposure (h/ln2)(1 - 1/2)
    assert float(iv.rate) == pytest.approx(h / np.log(2) / 2)
    assert float(iv.mean) == pytest.approx(2.5 / (h / np.log(2) / 2))
    long = decayed_rate_interval(2.0, h)
    assert float(long.rate) == pytest.approx(h / np.log(2))
