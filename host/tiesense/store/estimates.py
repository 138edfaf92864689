"""Estimates: tie strength per dyad (``tie_estimates``) and the measures of the composite graph
(``org_measures``, ``cluster_measures``), as written by :mod:`tiesense.estimates`.

Rows are dicts keyed by column name; :data:`TIE_COLUMNS`, :data:`ORG_COLUMNS`
and :data:`CLUSTER_COLUMNS` say which keys each table needs.
"""
from __future__ import annotations

import sqlite3
from typing import Iterable

from .connection import dicts

__all__ = ["TIE_COLUMNS", "ORG_COLUMNS", "CLUSTER_COLUMNS", "replace_estimator", "upsert", "estimates",
           "replace_measures", "org_measures", "cluster_measures"]

TIE_COLUMNS = ("u", "v", "estimator", "value", "low", "high", "observations", "confirmed", "disagreement",
               "updated_at")
ORG_COLUMNS = ("org", "measure", "value", "low", "high", "updated_at")
CLUSTER_COLUMNS = ("measure", "value", "low", "high", "updated_at")


def _insert(table: str, columns: tuple[str, ...], tail: str = "") -> str:
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
            + (" " + tail if tail else ""))


_INSERT_TIE = _insert("tie_estimates", TIE_COLUMNS)
_UPSERT_TIE = _insert("tie_estimates", TIE_COLUMNS, "ON CONFLICT (u, v, estimator) DO UPDATE SET "
                      + ", ".join(f"{c} = excluded.{c}" for c in TIE_COLUMNS[3:]))
_INSERT_ORG = _insert("org_measures", ORG_COLUMNS)
_INSERT_CLUSTER = _insert("cluster_measures", CLUSTER_COLUMNS)


def replace_estimator(conn: sqlite3.Connection, estimator: str, rows: Iterable[dict]) -> None:
    """Make ``rows`` the only rows of ``estimator`` (inside the caller's write transaction)."""
    rows = list(rows)
    wrong = {r["estimator"] for r in rows} - {estimator}
    if wrong:
        raise ValueError(f"replacing estimator {estimator!r} with rows of {sorted(wrong)}")
    conn.execute("DELETE FROM tie_estimates WHERE estimator = ?", [estimator])
    conn.executemany(_INSERT_TIE, rows)


def upsert(conn: sqlite3.Connection, rows: Iterable[dict]) -> None:
    """Insert or replace these (u, v, estimator) rows (inside the caller's write transaction)."""
    conn.executemany(_UPSERT_TIE, rows)


def estimates(conn: sqlite3.Connection, estimator: str | None = None) -> list[dict]:
    """Rows of ``tie_estimates`` (all estimators, or one), strongest first."""
    where, params = ("WHERE estimator = ?", [estimator]) if estimator else ("", [])
    return dicts(conn, f"SELECT * FROM tie_estimates {where} ORDER BY value DESC, u, v", params)


def replace_measures(conn: sqlite3.Connection, org_rows: Iterable[dict], cluster_rows: Iterable[dict]) -> None:
    """Make these the only rows of ``org_measures`` and ``cluster_measures`` (inside the caller's transaction)."""
    conn.execute("DELETE FROM org_measures")
    conn.execute("DELETE FROM cluster_measures")
    conn.executemany(_INSERT_ORG, org_rows)
    conn.executemany(_INSERT_CLUSTER, cluster_rows)


def org_measures(conn: sqlite3.Connection) -> list[dict]:
    """Rows of ``org_measures`` in the order written."""
    return dicts(conn, "SELECT * FROM org_measures ORDER BY rowid")


def cluster_measures(conn: sqlite3.Connection) -> list[dict]:
    """Rows of ``cluster_measures`` in the order written."""
    return dicts(conn, "SELECT * FROM cluster_measures ORDER BY rowid")


def page_estimates(conn: sqlite3.Connection, estimator: str | None = None, min_value: float | None = None,
                   org: int | None = None, limit: int | None = None, offset: int = 0) -> tuple[list[dict], int]:
    """``(rows, total)``: tie estimates, strongest first, of one estimator or all, at least ``min_value``,
    touching organisation ``org``."""
    from .connection import page

    where, params = [], []
    if estimator is not None:
        where.append("estimator = ?")
        params.append(estimator)
    if min_value is not None:
        where.append("value >= ?")
        params.append(min_value)
    if org is not None:
        where.append("(u = ? OR v = ?)")
        params += [org, org]
    sql = "SELECT * FROM tie_estimates" + (" WHERE " + " AND ".join(where) if where else "")
    return page(conn, sql, params, "value DESC, u, v, estimator", limit, offset)


def page_org_measures(conn: sqlite3.Connection, measure: str | None = None, org: int | None = None,
                      limit: int | None = None, offset: int = 0) -> tuple[list[dict], int]:
    """``(rows, total)``: node measures by organisation and measure, filtered."""
    from .connection import page

    where, params = [], []
    for col, val in (("measure", measure), ("org", org)):
        if val is not None:
            where.append(f"{col} = ?")
            params.append(val)
    sql = "SELECT * FROM org_measures" + (" WHERE " + " AND ".join(where) if where else "")
    return page(conn, sql, params, "org, measure", limit, offset)
