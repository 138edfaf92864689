"""Co-presence of organisations from kiosk check-ins, and its significance against chance.

A check-in is (organisation, place, time). Check-ins are first grouped into
*events* (:func:`time_bin_events` or :func:`session_events`), giving the
bipartite organisation x event incidence; two organisations are co-present
once per event they both attended. :func:`copresence` projects the incidence
(shared-event counts and Newman's 1/(n_e - 1) weights), and
:func:`validate` keeps the pairs that share more events than chance would
give (Tumminello et al. 2011).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._copresence import event_pairs
from .graph import Graph

CORRECTIONS = ("fdr", "bonferroni")
N_TESTS = ("all", "observed")


def _dense(*keys) -> np.ndarray:
    """Dense ids 0..k-1 for the distinct tuples of ``keys`` (sorted order)."""
    stacked = np.stack([np.asarray(k) for k in keys])
    if stacked.shape[1] == 0:
        return np.zeros(0, dtype=np.int64)
    _, inv = np.unique(stacked, axis=1, return_inverse=True)
    return inv.ravel().astype(np.int64)


def _checkins(place, time) -> tuple[np.ndarray, np.ndarray]:
    """Check-in arrays as int64 places and finite float64 times of one length."""
    place = np.asarray(place, dtype=np.int64)
    time = np.asarray(time, dtype=np.float64)
    if len(place) != len(time):
        raise ValueError("place and time must have the same length")
    if not np.isfinite(time).all():
        raise ValueError("times must be finite")
    return place, time


def time_bin_events(place, time, window: float) -> np.ndarray:
    """Event id of each check-in: same place and same fixed time bin ``floor(t / window)``.

    Examples
    --------
    >>> time_bin_events([0, 0, 0, 1], [5.0, 55.0, 65.0, 5.0], 60.0).tolist()
    [0, 0, 1, 2]
    """
    if not window > 0:
        raise ValueError("window must be positive")
    place, time = _checkins(place, time)
    return _dense(place, np.floor(time / window).astype(np.int64))


def session_events(place, time, gap: float) -> np.ndarray:
    """Event id of each check-in: a sliding window that chains check-ins at one place.

    Check-ins at the same place belong to one event while consecutive ones are
    at most ``gap`` apart (single linkage), so an event never splits a meeting
    at a bin edge, at the cost of chaining a steady stream into one long event.

    Examples
    --------
    >>> session_events([0, 0, 0, 1], [5.0, 55.0, 65.0, 5.0], 30.0).tolist()
    [0, 1, 1, 2]
    """
    if not gap >= 0:
        raise ValueError("gap must be non-negative")
    place, time = _checkins(place, time)
    if len(place) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((time, place))
    p, t = place[order], time[order]
    new = np.ones(len(p), dtype=bool)
    new[1:] = (p[1:] != p[:-1]) | (np.diff(t) > gap)
    out = np.empty(len(p), dtype=np.int64)
    out[order] = np.cumsum(new) - 1
    return out


def incidence(org, event, n_orgs: int | None = None) -> "scipy.sparse.csr_matrix":
    """Binary organisation x event incidence (repeated check-ins of one organisation at one event count once).

    Examples
    --------
    >>> incidence([0, 0, 1], [0, 0, 1]).toarray().tolist()
    [[1, 0], [0, 1]]
    """
    org = np.asarray(org, dtype=np.int64)
    event = np.asarray(event, dtype=np.int64)
    if len(org) != len(event):
        raise ValueError("org and event must have the same length")
    if len(org) and (org.min() < 0 or event.min() < 0):
        raise ValueError("ids must be non-negative")
    need = int(org.max(initial=-1) + 1)
    if n_orgs is None:
        n_orgs = need
    elif n_orgs < need:
        raise ValueError(f"n_orgs={n_orgs} but organisation id {need - 1} was seen")
    n_events = int(event.max(initial=-1) + 1)
    from scipy import sparse  # here, not at import: scipy costs ~0.5 s that `tiesense ties recompute` needs not

    m = sparse.csr_matrix((np.ones(len(org), dtype=np.int64), (org, event)), shape=(n_orgs, n_events))
    m.sum_duplicates()
    m.data[:] = 1
    return m


@dataclass(frozen=True)
class CoPresence:
    """Projected co-presence per pair ``u < v`` sharing at least one event.

    Attributes
    ----------
    u, v : int64 arrays
    shared : int64, number of events both attended (N_AB)
    newman : float64, sum over shared events of 1 / (n_e - 1)
    events_per_org : int64 array over organisations (N_A)
    n_events : int, total number of events (N), including single-attendee ones
    """

    u: np.ndarray
    v: np.ndarray
    shared: np.ndarray
    newman: np.ndarray
    events_per_org: np.ndarray
    n_events: int

    def __len__(self) -> int:
        return len(self.u)

    def graph(self, weight: str = "shared", labels=None) -> Graph:
        """The projection as a :class:`Graph` weighted by ``shared`` or ``newman``."""
        return Graph.from_edges(self.u, self.v, getattr(self, weight),
                                n=len(self.events_per_org), labels=labels)


def copresence(org, event, n_orgs: int | None = None) -> CoPresence:
    """Co-presence counts and Newman weights from check-ins grouped into events.

    ``shared_AB = |E_A ∩ E_B|`` and ``newman_AB = sum_{e in E_A ∩ E_B} 1 / (n_e - 1)``,
    where ``n_e`` is the number of distinct organisations at event ``e``.

    Examples
    --------
    >>> cp = copresence(org=[0, 1, 2, 0, 1], event=[0, 0, 0, 1, 1])
    >>> cp.u.tolist(), cp.v.tolist(), cp.shared.tolist(), cp.newman.tolist()
    ([0, 0, 1], [1, 2, 2], [2, 1, 1], [1.5, 0.5, 0.5])

    References
    ----------
    Newman, M. E. J. (2001). Scientific collaboration networks. II. Shortest paths,
    weighted networks, and centrality. Physical Review E 64, 016132.
    """
    inc = incidence(org, event, n_orgs)
    by_event = inc.T.tocsr()
    by_event.sort_indices()
    a, b, w = event_pairs(by_event.indptr.astype(np.int64), by_event.indices.astype(np.int32))
    n = inc.shape[0]
    key = a.astype(np.int64) * n + b
    uniq, inv = np.unique(key, return_inverse=True)
    shared = np.bincount(inv, minlength=len(uniq)).astype(np.int64)
    newman = np.bincount(inv, weights=w, minlength=len(uniq)).astype(np.float64)
    return CoPresence(uniq // n, uniq % n, shared, newman,
                      np.asarray(inc.sum(axis=1)).ravel().astype(np.int64), inc.shape[1])


@dataclass(frozen=True)
class ValidatedNetwork:
    """Pairs tested for over-expressed co-presence (all pairs with N_AB >= 1).

    Attributes
    ----------
    u, v, shared, newman : as in :class:`CoPresence`
    pvalue : float64, P(X >= N_AB), X ~ Hypergeometric(N, N_A, N_B)
    adjusted : float64, Bonferroni- or Benjamini-Hochberg-adjusted p-value over ``n_tests`` tests
    significant : bool, ``adjusted <= alpha``
    correction, alpha, n_tests : the settings used
    """

    u: np.ndarray
    v: np.ndarray
    shared: np.ndarray
    newman: np.ndarray
    pvalue: np.ndarray
    adjusted: np.ndarray
    significant: np.ndarray
    correction: str
    alpha: float
    n_tests: int
    n_orgs: int

    def graph(self, weight: str = "shared", labels=None) -> Graph:
        """The statistically validated network: significant pairs only."""
        s = self.significant
        return Graph.from_edges(self.u[s], self.v[s], getattr(self, weight)[s], n=self.n_orgs, labels=labels)


def hypergeom_pvalue(shared, n_a, n_b, n_events) -> np.ndarray:
    """P(X >= shared) for X ~ Hypergeometric(population N, N_A marked, N_B drawn).

    Examples
    --------
    >>> round(float(hypergeom_pvalue(2, 2, 2, 4)), 6)  # A and B each at 2 of 4 events, the same 2: 1 / C(4, 2)
    0.166667

    References
    ----------
    Tumminello, M., Miccichè, S., Lillo, F., Piilo, J. & Mantegna, R. N. (2011).
    Statistically validated networks in bipartite complex systems. PLoS ONE 6(3), e17994.
    """
    from scipy.stats import hypergeom  # here, not at import (see incidence)

    return hypergeom.sf(np.asarray(shared) - 1, n_events, n_a, n_b)


def _bh_adjust(p: np.ndarray, m: int) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values of ``p`` among ``m >= len(p)`` tests (the rest have p = 1)."""
    if len(p) == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, len(p) + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(p)
    out[order] = np.minimum(ranked, 1.0)
    return out


def validate(cp: CoPresence, alpha: float = 0.01, correction: str = "fdr",
             n_tests: str = "all") -> ValidatedNetwork:
    """Statistically validated co-presence network (Tumminello et al. 2011).

    For each pair with ``N_AB >= 1`` shared events, the p-value is the
    probability of at least ``N_AB`` shared events if B's ``N_B`` events were
    drawn at random from the ``N`` events, A having attended ``N_A``:
    ``p = sum_{X >= N_AB} C(N_A, X) C(N - N_A, N_B - X) / C(N, N_B)``.

    Parameters
    ----------
    alpha : float, default 0.01 (the level Tumminello et al. use)
    correction : {"fdr", "bonferroni"}
        ``fdr`` (default): Benjamini-Hochberg false discovery rate;
        ``bonferroni``: ``p <= alpha / n_tests``, the strictest.
    n_tests : {"all", "observed"}
        ``all`` (default): every pair of organisations that checked in at least
        once, ``N_A (N_A - 1) / 2``, as in Tumminello et al.; pairs never
        co-present have p = 1. ``observed``: only pairs sharing an event.

    Examples
    --------
    >>> org = [0, 1] * 6 + [2, 3, 4, 5, 2, 4]
    >>> event = list(np.repeat(np.arange(6), 2)) + [6, 7, 8, 9, 10, 11]
    >>> vn = validate(copresence(org, event), alpha=0.05)
    >>> [(int(a), int(b)) for a, b, s in zip(vn.u, vn.v, vn.significant) if s]
    [(0, 1)]

    References
    ----------
    Tumminello, M., Miccichè, S., Lillo, F., Piilo, J. & Mantegna, R. N. (2011).
    Statistically validated networks in bipartite complex systems. PLoS ONE 6(3), e17994.
    Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate.
    J. R. Stat. Soc. B 57(1), 289-300.
    """
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}, not {correction!r}")
    if n_tests not in N_TESTS:
        raise ValueError(f"n_tests must be one of {N_TESTS}, not {n_tests!r}")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    k = cp.events_per_org
    p = hypergeom_pvalue(cp.shared, k[cp.u], k[cp.v], cp.n_events)
    active = int((k > 0).sum())
    m = active * (active - 1) // 2 if n_tests == "all" else len(p)
    m = max(m, 1)
    adjusted = np.minimum(p * m, 1.0) if correction == "bonferroni" else _bh_adjust(p, m)
    return ValidatedNetwork(cp.u, cp.v, cp.shared, cp.newman, p, adjusted, adjusted <= alpha,
                            correction, float(alpha), m, len(k))
