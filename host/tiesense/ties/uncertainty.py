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


def percentiles(reps: np.ndarray, q, overwrite: bool = False) -> np.ndarray:
    """``np.nanquantile(reps, q, axis=0)`` (linear interpolation) of a 2-D array, the same numbers, faster.

    NumPy's ``nanquantile`` over many columns with a NaN among them falls back
    to one call per column. Here the columns without NaN get the order
    statistics they need from one ``np.partition`` (linear time), the others
    one sort (NaN last); both are interpolated with NumPy's own formula. A
    column with no number gives NaN.

    Examples
    --------
    >>> reps = np.array([[1.0, np.nan], [3.0, 2.0], [2.0, np.nan]])
    >>> percentiles(reps, [0.5]).tolist()
    [[2.0, 2.0]]
    """
    if reps.ndim != 2:
        raise ValueError("percentiles takes a 2-D array of replicates (rows) by statistics (columns)")
    n_rows, n_cols = reps.shape
    cols = np.ascontiguousarray(reps.T)  # one statistic per row: partition and sort run along memory (free
    out = np.full((len(q), n_cols), np.nan)  # for the Fortran-ordered replicates of bootstrap_counts)
    valid = n_rows - np.isnan(cols).sum(axis=1)
    whole = np.flatnonzero(valid == n_rows)
    partial = np.flatnonzero((valid > 0) & (valid < n_rows))
    if len(whole) and n_rows:
        kth = sorted({int(k) for level in q for k in _around(level, n_rows)})
        if len(whole) < n_cols:
            part = cols[whole]
            part.partition(kth, axis=1)
        elif overwrite or cols.base is None:  # a private copy, or the caller's to reorder
            part = cols
            part.partition(kth, axis=1)
        else:
            part = np.partition(cols, kth, axis=1)
        for i, level in enumerate(q):
            below, above = _around(level, n_rows)
            out[i, whole] = _lerp(part[:, below], part[:, above], level * (n_rows - 1) - below)
    if len(partial):
        ordered = np.sort(cols[partial], axis=1)
        at = np.arange(len(partial))
        count = valid[partial]
        for i, level in enumerate(q):
            virtual = level * (count - 1)
            below = np.floor(virtual).astype(np.int64)
            above = np.minimum(below + 1, count - 1)
            out[i, partial] = _lerp(ordered[at, below], ordered[at, above], virtual - below)
    return out


def _around(level: float, n: int) -> tuple[int, int]:
    below = int(np.floor(level * (n - 1)))
    return below, min(below + 1, n - 1)


def _lerp(a, b, t):
    """NumPy's quantile interpolation, term for term (so the results are bit-identical)."""
    diff = b - a
    with np.errstate(invalid="ignore"):
        return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def bootstrap_counts(respondent, statistic: Callable[[np.ndarray], object], *,
                     n_replicates: int = 1000, level: float = 0.95, seed=0) -> Interval:
    """The percentile bootstrap of :func:`bootstrap_respondents`, with ``statistic`` given how many times
    each respondent was drawn (an int array indexed like ``np.unique(respondent)``) instead of rows.

    For statistics that need not see the rows again (:class:`ResampledDyads`): the draws, and so the
    replicates, are those of :func:`bootstrap_respondents` with the same seed. The full sample is
    ``statistic`` of all ones.

    Examples
    --------
    >>> x = np.array([1.0, 2.0, 3.0, 4.0])
    >>> iv = bootstrap_counts([0, 1, 2, 3], lambda times: (times * x).sum() / times.sum(), n_replicates=200)
    >>> iv2 = bootstrap_respondents([0, 1, 2, 3], lambda rows: x[rows].mean(), n_replicates=200)
    >>> float(iv.estimate), bool(np.allclose([iv.low, iv.high], [iv2.low, iv2.high]))
    (2.5, True)
    """
    _check(n_replicates, level)
    n_resp = len(np.unique(np.asarray(respondent)))
    if n_resp == 0:
        raise ValueError("no respondents")
    estimate = np.asarray(statistic(np.ones(n_resp, dtype=np.int64)), dtype=np.float64)
    return _interval(estimate, _replicates(n_resp, statistic, estimate.shape, n_replicates, seed), level)


def _replicates(n_resp: int, statistic, shape: tuple, n_replicates: int, seed) -> np.ndarray:
    """``statistic(times)`` of each replicate: each draws n_resp respondents with replacement.

    A 2-D result ``(n_replicates, k)`` is Fortran-ordered (each statistic's replicates together, which
    :func:`percentiles` reads along), filled a block of replicates at a time so the writes stay local.
    """
    rng = np.random.default_rng(seed)
    if len(shape) != 1:
        reps = np.empty((n_replicates,) + shape)
        for r in range(n_replicates):
            reps[r] = statistic(np.bincount(rng.integers(0, n_resp, n_resp), minlength=n_resp))
        return reps
    columns = np.empty((shape[0], n_replicates))  # (statistic, replicate); returned transposed
    block = np.empty((min(_BLOCK, n_replicates), shape[0]))
    for r in range(n_replicates):
        block[r % _BLOCK] = statistic(np.bincount(rng.integers(0, n_resp, n_resp), minlength=n_resp))
        if r % _BLOCK == _BLOCK - 1 or r == n_replicates - 1:
            start = r - r % _BLOCK
            columns[:, start:r + 1] = block[:r + 1 - start].T
    return columns.T


#: Replicates gathered before they are written into the statistics' rows.
_BLOCK = 32


def _interval(estimate: np.ndarray, reps: np.ndarray, level: float, overwrite: bool = False) -> Interval:
    q = [(1 - level) / 2, (1 + level) / 2]
    if reps.ndim == 2:
        low, high = percentiles(reps, q, overwrite)
    else:
        with np.errstate(invalid="ignore"):
            low, high = np.nanquantile(reps, q, axis=0) if np.isnan(reps).any() else np.quantile(reps, q, axis=0)
    return Interval(estimate, low, high, level, reps)


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
    estimate = np.asarray(statistic(np.arange(len(code))), dtype=np.float64)
    reps = _replicates(n_resp, lambda times: statistic(np.repeat(order, times[code[order]])), estimate.shape,
                       n_replicates, seed)
    return _interval(estimate, reps, level)


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


class ResampledDyads:
    """The reconciled dyads of a respondent bootstrap replicate, from the full sample's sides.

    :func:`~tiesense.ties.estimators.reconcile_dyads` averages the reports of
    each side of a dyad, and every report of a side comes from one respondent
    (the side's own organisation). A replicate that draws that respondent
    (any number of times) keeps the side's value; one that does not, loses
    the side. So a replicate's dyads follow from which respondents were drawn,
    without re-reconciling its rows: :meth:`replicate` is a few vectorised
    operations over the dyads instead of a sort of every report.

    Parameters
    ----------
    respondent, partner, value : parallel arrays of the reports
    mode : as :func:`~tiesense.ties.estimators.reconcile_dyads`

    Attributes
    ----------
    full : Dyads, the full sample's reconciliation
    respondents : int64, the distinct respondents (what ``times`` is indexed by)

    Examples
    --------
    >>> rd = ResampledDyads([0, 1, 0, 2], [1, 0, 2, 3], [0.8, 0.4, 0.5, 0.9])
    >>> rd.respondents.tolist(), rd.full.value.round(2).tolist()
    ([0, 1, 2], [0.6, 0.5, 0.9])
    >>> value, present = rd.replicate(np.array([0, 3, 1]))  # respondent 0 not drawn, 1 three times, 2 once
    >>> value.tolist(), present.tolist()
    ([0.4, 0.0, 0.9], [True, False, True])
    """

    def __init__(self, respondent, partner, value, mode: str = "mean"):
        r = np.asarray(respondent, dtype=np.int64)
        p = np.asarray(partner, dtype=np.int64)
        x = np.asarray(value, dtype=np.float64)
        self.mode = mode
        self.full = reconcile_dyads(r, p, x, mode)
        self.respondents = np.unique(r)
        # every side of every dyad reported at all (confirmed mode: of the confirmed dyads only)
        every = self.full if mode != "confirmed" else reconcile_dyads(r, p, x, "mean")
        keep = (r != p) & ~np.isnan(x)
        r, p, x = r[keep], p[keep], x[keep]
        lo, hi = np.minimum(r, p), np.maximum(r, p)
        base = int(hi.max(initial=0)) + 1
        dyad = np.searchsorted(every.u * base + every.v, lo * base + hi)
        cell = dyad * 2 + (r != lo)
        nd = len(every)
        sums = np.bincount(cell, weights=x, minlength=2 * nd).reshape(nd, 2)
        counts = np.bincount(cell, minlength=2 * nd).reshape(nd, 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            sides = sums / counts
        if mode == "confirmed":
            both = (counts > 0).all(axis=1)
            sides, counts = sides[both], counts[both]
            ends = (self.full.u, self.full.v)
        else:
            ends = (every.u, every.v)
        self._sides = sides
        self._reported = counts > 0
        # the respondent behind each side, as an index into self.respondents (-1: the side never reported)
        self._who = [np.where(self._reported[:, k], np.searchsorted(self.respondents, ends[k]), -1)
                     for k in (0, 1)]

    def replicate(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(value, present)`` of every dyad of :attr:`full` in a replicate that drew respondent
        ``respondents[i]`` ``times[i]`` times: the reconciled value (0 where the replicate has no report of
        the dyad, or in ``confirmed`` mode not both sides) and whether it has the dyad."""
        drawn = np.append(np.asarray(times) > 0, False)  # index -1: a side never reported is never drawn
        s0, s1 = self._sides[:, 0], self._sides[:, 1]
        a, b = drawn[self._who[0]], drawn[self._who[1]]
        both = a & b
        with np.errstate(invalid="ignore"):
            if self.mode == "min":
                pair = np.minimum(s0, s1)
            elif self.mode == "max":
                pair = np.maximum(s0, s1)
            else:
                pair = (s0 + s1) / 2
        if self.mode == "confirmed":
            return np.where(both, pair, 0.0), both
        return np.where(both, pair, np.where(a, s0, np.where(b, s1, 0.0))), a | b

    def graph(self, times: np.ndarray, n: int, floor: float = 0.0) -> Graph:
        """The replicate's dyads as a :class:`Graph` on nodes ``0..n-1``, weights ``max(value, floor)``: what
        ``reconcile_dyads(...).to_graph(n)`` gives for the replicate's rows, cut from the full sample's CSR
        arrays (no sort).

        Examples
        --------
        >>> rd = ResampledDyads([0, 1, 0, 2], [1, 0, 2, 3], [0.8, 0.4, 0.5, 0.9])
        >>> g = rd.graph(np.array([0, 3, 1]), n=4)
        >>> g.m, g.edges()[0].tolist(), g.edges()[1].tolist(), g.edges()[2].tolist()
        (2, [0, 2], [1, 3], [0.4, 0.9])
        """
        if getattr(self, "_csr_n", None) != n:
            full = Graph.from_edges(self.full.u, self.full.v, np.arange(len(self.full), dtype=np.float64), n=n)
            self._csr_n, self._csr = n, full
            self._half_dyad = full.data.astype(np.int64)  # each half-edge's dyad (the weights were the indices)
            self._half_src = np.repeat(np.arange(n, dtype=np.int64), full.degree())
        value, present = self.replicate(times)
        keep = present[self._half_dyad]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(self._half_src[keep], minlength=n), out=indptr[1:])
        weight = np.maximum(value, floor)[self._half_dyad[keep]]
        return Graph(indptr, self._csr.indices[keep], np.ascontiguousarray(weight), self._csr.labels)


def dyad_intervals(respondent, partner, value, mode: str = "mean", *, n_replicates: int = 1000,
                   level: float = 0.95, seed=0, progress: Callable[[int], None] | None = None) -> DyadIntervals:
    """Bootstrap interval of every reconciled dyad value (:func:`~tiesense.ties.estimators.reconcile_dyads`).

    In a replicate where neither side of a dyad was drawn, the tie was not
    reported and counts as 0: a tie resting on one report gets an interval
    reaching down to 0, and a ``support`` well below 1. Replicates come from
    :class:`ResampledDyads` (the draws of :func:`bootstrap_respondents` with
    the same seed); ``progress``, when given, is called with 1 after each.

    Examples
    --------
    >>> d = dyad_intervals([0, 1, 2, 3], [1, 0, 3, 4], [0.8, 0.6, 0.5, 0.5], n_replicates=400)
    >>> d.u.tolist(), d.estimate.tolist(), d.support.round(1).tolist()
    ([0, 2, 3], [0.7, 0.5, 0.5], [0.9, 0.7, 0.7])
    >>> d.low.tolist(), d.high.tolist()  # four respondents: nothing is certain
    ([0.0, 0.0, 0.0], [0.8, 0.5, 0.5])
    """
    _check(n_replicates, level)
    resampled = ResampledDyads(respondent, partner, value, mode)
    full = resampled.full
    if len(full) == 0:
        raise ValueError("no dyad to estimate")
    k = len(full)
    seen = np.zeros(k)

    def stat(times):
        value, present = resampled.replicate(times)
        seen[:] += present
        if progress is not None:
            progress(1)
        return value

    reps = _replicates(len(resampled.respondents), stat, (k,), n_replicates, seed)
    iv = _interval(full.value, reps, level, overwrite=True)  # the replicates are not returned
    return DyadIntervals(full.u, full.v, full.value, iv.low, iv.high, seen / n_replicates, full.n_reports)


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
    from scipy import stats  # here, not at import: scipy.stats costs ~0.5 s that the bootstrap needs not

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
