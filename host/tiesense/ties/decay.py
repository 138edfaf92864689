"""Decayed interaction rate per dyad: exponential decay with a half-life.

A dyad's rate at time ``T`` is ``sum_i a_i * 2^(-(T - t_i) / h)`` over its
observations ``(t_i, a_i)`` with ``t_i <= T``. Live ingest keeps it with
:class:`DecayTable` (O(1) per observation); :func:`decay_batch` recomputes it
from scratch over a time-sorted event array and gives the same numbers.
"""
from __future__ import annotations

import numpy as np

from ._decay import DecayTable, decay_events
from .graph import Graph

__all__ = ["DecayTable", "decay_batch", "decayed_graph"]

_MAX_ID = 2**31 - 1


def decay_batch(u, v, t, amount=None, *, half_life: float, at: float | None = None):
    """Decayed value of every dyad, recomputed from a time-sorted event array.

    Parameters
    ----------
    u, v : int arrays, the two organisations of each event (order within a pair is irrelevant)
    t : float array, event times, non-decreasing
    amount : float array, default 1 per event
    half_life : float, > 0, in the unit of ``t``
    at : float, time to decay to; default the time of the last event

    Returns
    -------
    (u, v, value) : arrays per unordered dyad ``u < v``, sorted by ``(u, v)``.
    Fed the same events in the same order, :meth:`DecayTable.snapshot` returns
    exactly the same numbers.

    Examples
    --------
    >>> u, v, w = decay_batch([3, 1, 0], [1, 3, 2], [0.0, 10.0, 10.0], [1.0, 2.0, 1.0],
    ...                       half_life=10.0, at=20.0)
    >>> u.tolist(), v.tolist(), w.tolist()
    ([0, 1], [2, 3], [0.5, 1.25])

    References
    ----------
    Exponential-decay ("forgetting") tie weights follow the time-decayed edge
    weights used for dynamic communication networks, e.g. Holme, P. & Saramäki, J.
    (2012). Temporal networks. Physics Reports 519(3), 97-125.
    """
    if not half_life > 0 or not np.isfinite(half_life):
        raise ValueError("half_life must be a positive finite number")
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    t = np.ascontiguousarray(t, dtype=np.float64)
    a = np.ones(len(t)) if amount is None else np.ascontiguousarray(amount, dtype=np.float64)
    if not (len(u) == len(v) == len(t) == len(a)):
        raise ValueError("u, v, t and amount must have the same length")
    if not (np.isfinite(t).all() and np.isfinite(a).all()):
        raise ValueError("t and amount must be finite")
    if len(t) and (np.diff(t) < 0).any():
        raise ValueError("events must be sorted by time")
    if (u == v).any() or (np.minimum(u, v) < 0).any() or (np.maximum(u, v) > _MAX_ID).any():
        raise ValueError("dyads need two distinct ids in [0, 2**31)")
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    if len(t) == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e.copy(), np.zeros(0)
    keys, dyad = np.unique((lo << 32) | hi, return_inverse=True)
    dyad = np.ascontiguousarray(dyad.ravel(), dtype=np.int64)
    value, last = decay_events(dyad, t, a, len(keys), float(half_life))
    at = float(t[-1]) if at is None else float(at)
    if at < t[-1]:
        raise ValueError(f"at={at} is before the last event {t[-1]}")
    value = value * np.exp2(-(at - last) * (1.0 / half_life))
    return keys >> 32, keys & _MAX_ID, value


def decayed_graph(table: DecayTable, t: float, n: int | None = None, labels=None) -> Graph:
    """The table's dyads decayed to ``t`` as a weighted :class:`Graph`.

    Examples
    --------
    >>> tab = DecayTable(1.0)
    >>> tab.observe(0, 2, 0.0)
    >>> decayed_graph(tab, 1.0, n=3).edges()[2].tolist()
    [0.5]
    """
    u, v, w = table.snapshot(t)
    return Graph.from_edges(u, v, w, n=n, labels=labels)
