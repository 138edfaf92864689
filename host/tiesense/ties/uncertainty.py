"""Intervals for tie estimates and network measures, so a tie seen once is not shown as certain.

Two routes:

* bootstrap over respondents (:func:`bootstrap_respondents`, :func:`dyad_intervals`,
  :func:`measure_interval`): resample the responding organisations with
  replacement, recompute, and take the percentile interval. It captures
  who happened to answer the survey, the largest source of error in a
  cluster survey.
* a Bayesian posterior for interaction rates seen few times
  (:func:`gamma_poisson_interval`, :func:`decayed_rate_interval`): counts are
  Poisson with rate lambda, the prior is Gamma, the posterior is Gamma too.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats

from .estimators import reconcile_dyads
from .graph import Graph


@dataclass(frozen=True)
class Interval:
    """A point estimate with a percentile bootstrap interval.

    Attributes
    ----------
    estimate : float or array, the statistic on the full sample
    low, high : same shape, the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the replicates
    level : float
    replicates : array (n_replicates, ...) of the replicate statistics
    """

    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    level: float
    replicates: np.ndarray


def _check(n_replicates: int, level: float) -> None:
    if n_replicates < 1:
        raise ValueError("n_replicates must be at least 1")
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")


def bootstrap_respondents(respondent, statistic: Callable[[np.ndarray], object], *,
                          n_replicates: int = 1000, level: float = 0.95, seed=0) -> Interval:
    """Percentile bootstrap of ``statistic`` over respondents.

    Each replicate draws as many respondents as there are, with replacement,
    and passes ``statistic`` the row indices of their reports (a respondent
    drawn twice contributes its rows twice). ``statistic(rows)`` returns a
    float or a 1-D array of fixed length.

    Parameters
    ----------
    respondent : array, the respondent of each report row
    statistic : callable, row indices -> float or array
    n_replicates : int, default 1000
    level : float, default 0.95
    seed : int or numpy Generator, default 0 (results are reproducible)

    Examples
    --------
    >>> x = np.array([1.0, 2.0, 3.0, 4.0])
    >>> iv = bootstrap_respondents([0, 1, 2, 3], lambda rows: x[rows].mean(), n_replicates=200)
    >>> float(iv.estimate), bool(iv.low <= iv.estimate <= iv.high)
    (2.5, True)

    References
    ----------
    Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall, ch. 13.
    Snijders, T. A. B. & Borgatti, S. P. (1999). Non-parametric standard errors and tests
    for network statistics. Connections 22(2), 161-170.
    """
    _check(n_replicates, level)
    resp = np.asarray(respondent)
    _, code = np.unique(resp, return_inverse=True)
    code = code.ravel()
    n_resp = int(code.max()) + 1 if len(code) else 0
    if n_resp == 0:
        raise ValueError("no respondents")
    order = np.argsort(code, kind="stable")
    rng = np.random.default_rng(seed)
    estimate = np.asarray(statistic(np.arange(len(code))), dtype=np.float64)
    reps = np.empty((n_replicates,) + estimate.shape)
    for r in range(n_replicates):
        times = np.bincount(rng.integers(0, n_resp, n_resp), minlength=n_resp)
        rows = np.repeat(order, times[code[order]])
        reps[r] = statistic(rows)
    q = [(1 - level) / 2, (1 + level) / 2]
    with np.errstate(invalid="ignore"):
        low, high = np.nanquantile(reps, q, axis=0) if np.isnan(reps).any() else np.quantile(reps, q, axis=0)
    return Interval(estimate, low, high, level, reps)


@dataclass(frozen=True)
class DyadIntervals:
    """Per reconciled dyad: the estimate, its bootstrap interval and how often it was seen.

    Attributes
    ----------
    u, v : int64 arrays, ``u < v``
    estimate, low, high : float64 arrays
    support : float64, share of replicates in which at least one side reported the dyad
    n_reports : int64, reports in the full sample
    """

    u: np.ndarray
    v: np.ndarray
    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    support: np.ndarray
    n_reports: np.ndarray


def dyad_intervals(respondent, partner, value, mode: str = "mean", *, n_replicates: int = 1000,
                   level: float = 0.95, seed=0) -> DyadIntervals:
    """Bootstrap interval of every reconciled dyad value (:func:`~tiesense.ties.estimators.reconcile_dyads`).

    In a replicate where neither side of a dyad was drawn, the tie was not
    reported and counts as 0: a tie resting on one report gets an interval
    reaching down to 0, and a ``support`` well below 1.

    Examples
    --------
    >>> d = dyad_intervals([0, 1, 2, 3], [1, 0, 3, 4], [0.8, 0.6, 0.5, 0.5], n_replicates=400)
    >>> d.u.tolist(), d.estimate.tolist(), d.support.round(1).tolist()
    ([0, 2, 3], [0.7, 0.5, 0.5], [0.9, 0.7, 0.7])
    >>> d.low.tolist(), d.high.tolist()  # four respondents: nothing is certain
    ([0.0, 0.0, 0.0], [0.8, 0.5, 0.5])
    """
    r = np.asarray(respondent, dtype=np.int64)
    p = np.asarray(partner, dtype=np.int64)
    x = np.asarray(value, dtype=np.float64)
    full = reconcile_dyads(r, p, x, mode)
    if len(full) == 0:
        raise ValueError("no dyad to estimate")
    n = int(max(r.max(), p.max())) + 1
    keys = full.u * n + full.v

    def stat(rows):
        d = reconcile_dyads(r[rows], p[rows], x[rows], mode)
        out = np.zeros(len(full))
        pos = np.searchsorted(keys, d.u * n + d.v)
        out[pos] = d.value
        return np.concatenate([out, np.isin(keys, d.u * n + d.v).astype(np.float64)])

    iv = bootstrap_respondents(r, stat, n_replicates=n_replicates, level=level, seed=seed)
    k = len(full)
    support = iv.replicates[:, k:].mean(axis=0)
    return DyadIntervals(full.u, full.v, iv.estimate[:k], iv.low[:k], iv.high[:k], support, full.n_reports)


def measure_interval(respondent, partner, value, measure: Callable[[Graph], object], *,
                     n: int | None = None, mode: str = "mean", n_replicates: int = 1000,
                     level: float = 0.95, seed=0) -> Interval:
    """Bootstrap interval of a network measure computed on the reconciled survey graph.

    Each replicate reconciles the resampled reports into a :class:`Graph` on
    the same ``n`` nodes and calls ``measure(graph)`` (a float or fixed-length array).

    Examples
    --------
    >>> from tiesense.ties.cluster import ei_index
    >>> group = np.array([0, 0, 1, 1])
    >>> iv = measure_interval([0, 1, 2, 0], [1, 2, 3, 3], [1.0, 1.0, 1.0, 1.0],
    ...                       lambda g: ei_index(g, group), n=4, n_replicates=300)
    >>> float(iv.estimate), bool(iv.low <= iv.estimate <= iv.high)
    (0.0, True)
    """
    r = np.asarray(respondent, dtype=np.int64)
    p = np.asarray(partner, dtype=np.int64)
    x = np.asarray(value, dtype=np.float64)
    n = int(max(r.max(), p.max())) + 1 if n is None else n

    def stat(rows):
        return measure(reconcile_dyads(r[rows], p[rows], x[rows], mode).to_graph(n=n))

    return bootstrap_respondents(r, stat, n_replicates=n_replicates, level=level, seed=seed)


@dataclass(frozen=True)
class RateInterval:
    """Posterior of an interaction rate: mean and equal-tailed credible interval, with the Gamma parameters."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    shape: np.ndarray
    rate: np.ndarray


#: Default Gamma prior: Jeffreys' prior for a Poisson rate, Gamma(1/2, 0) (improper, proper posterior once exposure > 0).
JEFFREYS = (0.5, 0.0)


def gamma_poisson_interval(count, exposure, *, level: float = 0.95, prior_shape: float = JEFFREYS[0],
                           prior_rate: float = JEFFREYS[1]) -> RateInterval:
    """Posterior interval of an interaction rate from ``count`` interactions over ``exposure`` time.

    With ``count ~ Poisson(lambda * exposure)`` and ``lambda ~ Gamma(a0, b0)``,
    the posterior is ``Gamma(a0 + count, b0 + exposure)``: mean
    ``(a0 + count) / (b0 + exposure)``, interval from its quantiles. The default
    prior is Jeffreys' ``Gamma(1/2, 0)``; pass a weakly informative ``(a0, b0)``
    (e.g. the cluster-wide mean rate times ``b0``) to shrink rare ties towards it.

    Examples
    --------
    >>> once = gamma_poisson_interval(1, 1.0)
    >>> round(float(once.mean), 3), round(float(once.low), 3), round(float(once.high), 3)
    (1.5, 0.108, 4.674)

    References
    ----------
    Gelman, A. et al. (2013). Bayesian Data Analysis, 3rd ed., section 2.6 (Poisson model, gamma prior).
    Jeffreys, H. (1946). An invariant form for the prior probability in estimation problems.
    Proc. R. Soc. A 186, 453-461.
    """
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    k = np.asarray(count, dtype=np.float64)
    t = np.asarray(exposure, dtype=np.float64)
    if (k < 0).any() or (t < 0).any():
        raise ValueError("count and exposure must be non-negative")
    if not prior_shape > 0 or prior_rate < 0:
        raise ValueError("prior_shape must be positive and prior_rate non-negative")
    shape = prior_shape + k
    rate = prior_rate + t
    if (rate <= 0).any():
        raise ValueError("exposure must be positive under an improper prior (prior_rate = 0)")
    lo = stats.gamma.ppf((1 - level) / 2, shape, scale=1.0 / rate)
    hi = stats.gamma.ppf((1 + level) / 2, shape, scale=1.0 / rate)
    return RateInterval(shape / rate, lo, hi, shape, rate)


def decayed_rate_interval(value, half_life: float, observed_for=np.inf, *, level: float = 0.95,
                          prior_shape: float = JEFFREYS[0], prior_rate: float = JEFFREYS[1]) -> RateInterval:
    """Posterior interval of the current rate behind a decayed value (:class:`~tiesense.ties.decay.DecayTable`).

    The decayed sum is read as an effective count over an effective exposure
    ``integral_0^T 2^(-s/h) ds = (h / ln 2)(1 - 2^(-T/h))``, ``T`` the time the
    kiosks have been observing (default: long enough to be ``h / ln 2``). Then
    :func:`gamma_poisson_interval` applies. The rate is per unit of time of ``h``.

    Examples
    --------
    >>> iv = decayed_rate_interval(1.0, half_life=30.0)  # one meeting just now, 30-day half-life
    >>> round(float(iv.mean), 4), float(iv.low) < 0.2 * float(iv.mean)
    (0.0347, True)
    """
    if not half_life > 0:
        raise ValueError("half_life must be positive")
    T = np.asarray(observed_for, dtype=np.float64)
    exposure = (half_life / np.log(2)) * (1 - np.exp2(-T / half_life))
    return gamma_poisson_interval(value, exposure, level=level, prior_shape=prior_shape, prior_rate=prior_rate)
