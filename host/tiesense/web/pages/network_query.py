"""The network page's reads: one SQL statement each, returned as NumPy columns, and the data version that
keys the page's cache.

The network page draws every tie of one estimator at once (50,000 at a cluster's full size), so it reads
the columns it draws and nothing else, as tuples rather than dicts; the store's paging functions serve
the API's row-by-row pages. ``tie_estimates`` holds one row per dyad and estimator, not per tie type,
partner scope or wave: :func:`reported_dyads` gives the dyads whose *reports* (``tie_reports`` rows) name
a tie type or scope, or belong to a survey wave, so the page can show those ties (with the estimate over
all their reports); :func:`report_waves` lists the waves to choose from.

Examples
--------
>>> from tiesense.store import Store
>>> store = Store(":memory:")
>>> cols = store.read(estimate_columns, "composite")
>>> len(cols["u"]), store.read(respondent_codes).tolist()
(0, [])
"""
from __future__ import annotations

import contextlib
import gc
import sqlite3

import numpy as np

from ...store.roster import CURRENT
from ...store.rows import respondent_orgs
from ..reports import DYAD_BASE, report_waves, reported_dyads

__all__ = ["DYAD_BASE", "interview_version", "data_version", "estimate_columns", "respondent_codes", "reported_dyads",
           "report_waves", "roster_columns", "measure_columns"]


@contextlib.contextmanager
def _no_gc():
    """The cyclic garbage collector paused (row tuples hold no cycles; reference counting frees them)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def interview_version(conn: sqlite3.Connection) -> tuple:
    """``(count, last rowid)`` of the respondents of both interview instruments (``respondents`` rows):
    changes when an interview is added or removed."""
    return conn.execute("SELECT count(*), max(rowid) FROM respondents").fetchone()


def data_version(conn: sqlite3.Connection, estimator: str) -> tuple:
    """What the page's data depends on, summarised cheaply: the interviews (:func:`interview_version`) and
    their tie reports (count, last row), the estimator's estimates (count, last update, sums of value and
    interval), the node measures and the roster version. Any write that changes the page changes this tuple."""
    return (
        interview_version(conn)
        + conn.execute("SELECT count(*), max(rowid) FROM tie_reports").fetchone()
        + conn.execute("SELECT count(*), max(updated_at), total(value), total(low), total(high) "
                       "FROM tie_estimates WHERE estimator = ?", [estimator]).fetchone()
        + conn.execute("SELECT count(*), max(updated_at), total(value) FROM org_measures "
                       "WHERE measure = 'strength'").fetchone()
        + conn.execute(f"SELECT {CURRENT}").fetchone()
    )


def estimate_columns(conn: sqlite3.Connection, estimator: str, min_value: float | None = None) -> dict:
    """``u, v, value, low, high, observations`` of every tie of ``estimator`` (at least ``min_value``) as
    arrays (value, low, high float64 with NaN for NULL; observations int64, -1 for NULL)."""
    sql = "SELECT u, v, value, low, high, observations FROM tie_estimates WHERE estimator = ?"
    params: list = [estimator]
    if min_value is not None:
        sql += " AND value >= ?"
        params.append(min_value)
    with _no_gc():  # 50,000 row tuples would set off the cyclic collector several times for nothing
        rows = conn.execute(sql, params).fetchall()
        columns = tuple(zip(*rows))
    if not rows:
        return {"u": np.zeros(0, np.int64), "v": np.zeros(0, np.int64), "value": np.zeros(0), "low": np.zeros(0),
                "high": np.zeros(0), "observations": np.zeros(0, np.int64)}
    u, v, value, low, high, obs = columns

    def floats(col):
        return np.array([np.nan if x is None else x for x in col], dtype=np.float64) if None in col \
            else np.array(col, dtype=np.float64)

    return {"u": np.array(u, dtype=np.int64), "v": np.array(v, dtype=np.int64), "value": floats(value),
            "low": floats(low), "high": floats(high),
            "observations": np.array([-1 if x is None else x for x in obs], dtype=np.int64)}


def respondent_codes(conn: sqlite3.Connection) -> np.ndarray:
    """The roster codes that answered at least one interview (either instrument: ``respondents`` rows), sorted."""
    return np.array(respondent_orgs(conn), dtype=np.int64)


def roster_columns(conn: sqlite3.Connection) -> dict:
    """``code`` (sorted int64 array), ``name``, ``actor_type``, ``region`` (lists) of the current roster."""
    rows = conn.execute(f"SELECT code, name, actor_type, region FROM organisations WHERE version = {CURRENT} "
                        "ORDER BY code").fetchall()
    code, name, kind, region = zip(*rows) if rows else ((), (), (), ())
    return {"code": np.array(code, dtype=np.int64), "name": list(name), "actor_type": list(kind),
            "region": list(region)}


def measure_columns(conn: sqlite3.Connection, measure: str) -> dict:
    """``org`` (sorted int64), ``value``, ``low``, ``high`` (float64, NaN for NULL) of one node measure."""
    rows = conn.execute("SELECT org, value, low, high FROM org_measures WHERE measure = ? ORDER BY org",
                        [measure]).fetchall()
    org, value, low, high = zip(*rows) if rows else ((), (), (), ())
    return {"org": np.array(org, dtype=np.int64),
            **{k: np.array([np.nan if x is None else x for x in col], dtype=np.float64)
               for k, col in (("value", value), ("low", low), ("high", high))}}
