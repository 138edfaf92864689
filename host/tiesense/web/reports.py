"""What the interview reports name, for the network's filters: the dyads some report names with a tie type,
a partner scope or in a survey wave, and the waves present.

``tie_estimates`` holds one row per dyad and estimator, not per tie type, scope or wave; these reads give
the dyads to keep, from the analysable ``tie_reports`` rows (both interview instruments, each row with its
``wave``: :mod:`tiesense.store.rows`). The network page and ``/api/estimates`` share them.

Examples
--------
>>> from tiesense.store import Store
>>> store = Store(":memory:")
>>> store.read(reported_dyads, wave="1").tolist(), store.read(report_waves)
([], [])
"""
from __future__ import annotations

import sqlite3

import numpy as np

__all__ = ["DYAD_BASE", "dyad_key", "reported_dyads", "report_waves"]

#: Dyad keys are ``u * DYAD_BASE + v`` (roster codes are at most 999,999: the interview form's bound).
DYAD_BASE = 1 << 20


def dyad_key(u: int, v: int) -> int:
    """The key of the dyad of roster codes ``u`` and ``v`` (either order).

    Examples
    --------
    >>> dyad_key(3, 2) == dyad_key(2, 3) == 2 * DYAD_BASE + 3
    True
    """
    return min(u, v) * DYAD_BASE + max(u, v)


def reported_dyads(conn: sqlite3.Connection, tie_type: str | None = None, scope: str | None = None,
                   wave: str | None = None) -> np.ndarray:
    """Sorted keys ``min * DYAD_BASE + max`` of the dyads with at least one interview report (a row of
    ``tie_reports``: both interview instruments) that names ``tie_type`` among its tie types, ``scope`` as the
    partner's location scope and belongs to survey ``wave``, each when given. Partners not on the roster
    and self-reports have no dyad."""
    where = ["respondent_org IS NOT NULL", "partner_org IS NOT NULL", "respondent_org != partner_org"]
    params: list = []
    if tie_type is not None:
        where.append("EXISTS (SELECT 1 FROM json_each(t.tie_types) WHERE value = ?)")
        params.append(tie_type)
    if scope is not None:
        where.append("t.scope = ?")
        params.append(scope)
    if wave is not None:
        where.append("t.wave = ?")
        params.append(str(wave))
    sql = (f"SELECT DISTINCT min(respondent_org, partner_org) * {DYAD_BASE} + max(respondent_org, partner_org) "
           f"FROM tie_reports t WHERE {' AND '.join(where)}")
    return np.unique(np.array([k for (k,) in conn.execute(sql, params).fetchall()], dtype=np.int64))


def report_waves(conn: sqlite3.Connection) -> list[str]:
    """The survey waves the interview reports (``tie_reports``) belong to, numbers in numeric order."""
    got = [w for (w,) in conn.execute("SELECT DISTINCT wave FROM tie_reports WHERE wave IS NOT NULL").fetchall()]
    return sorted(got, key=lambda w: (not w.isdigit(), int(w) if w.isdigit() else 0, w))
