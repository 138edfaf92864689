"""Pure-Python references for the estimator kernels: slow, obvious, straight from the definitions.

Each one computes the quantity from its textbook formula, not from the
recurrence or the vectorised form the fast code uses, so agreement between
the two is evidence for both.
"""
from __future__ import annotations

import math
from itertools import combinations


def decay_reference(events, half_life: float, at: float | None = None) -> dict:
    """``{(u, v): sum_i a_i * 2^(-(at - t_i) / h)}`` over events ``(u, v, t[, amount])``, u < v keys.

    ``at`` defaults to the latest event time; events may come in any order.
    """
    events = [tuple(e) for e in events]
    if at is None:
        at = max(e[2] for e in events) if events else 0.0
    out: dict = {}
    for e in events:
        a, b, t = e[0], e[1], e[2]
        amount = e[3] if len(e) > 3 else 1.0
        key = (min(a, b), max(a, b))
        out[key] = out.get(key, 0.0) + amount * 2.0 ** (-(at - t) / half_life)
    return out


def projection_reference(members: dict) -> dict:
    """Co-presence from ``{event: set of organisations}``.

    Returns ``{(a, b): (shared events, Newman weight sum 1/(n_e - 1))}`` for a < b.
    """
    out: dict = {}
    for orgs in members.values():
        orgs = sorted(set(orgs))
        ne = len(orgs)
        for a, b in combinations(orgs, 2):
            c, w = out.get((a, b), (0, 0.0))
            out[(a, b)] = (c + 1, w + 1.0 / (ne - 1))
    return out


def hypergeom_sf_reference(shared: int, n_a: int, n_b: int, n_events: int) -> float:
    """P(X >= shared) for X ~ Hypergeometric(N = n_events, K = n_a, draws = n_b), by exact sums."""
    total = math.comb(n_events, n_b)
    hit = sum(math.comb(n_a, x) * math.comb(n_events - n_a, n_b - x)
              for x in range(shared, min(n_a, n_b) + 1))
    return hit / total


def composite_reference(columns: dict, weights: dict, method: str = "minmax") -> list:
    """Survey composite row by row: standardise each column, weighted mean over present ones."""
    names = list(columns)
    n = len(columns[names[0]]) if names else 0
    std = {}
    for name in names:
        vals = [x for x in columns[name] if x == x]
        if vals:
            lo, hi = min(vals), max(vals)
            mu = sum(vals) / len(vals)
            sd = math.sqrt(sum((y - mu) ** 2 for y in vals) / len(vals))
        col = []
        for x in columns[name]:
            if x != x:
                col.append(None)
            elif method == "minmax":
                col.append((x - lo) / (hi - lo) if hi > lo else 0.0)
            else:
                col.append((x - mu) / sd if sd > 0 else 0.0)
        std[name] = col
    out = []
    for r in range(n):
        num = den = 0.0
        for name in names:
            z = std[name][r]
            if z is not None:
                num += weights.get(name, 0.0) * z
                den += weights.get(name, 0.0)
        out.append(num / den if den > 0 else float("nan"))
    return out
