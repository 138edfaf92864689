"""Aggregates with k-anonymity: what a viewer may see of the surveys.

A cell (one value of the grouping key: a facility, an hour, a pair of actor
types) reports counts and means over the records in it. A cell built from
fewer than ``k`` distinct respondents is *suppressed* for a viewer: its key
stays (so a chart keeps its axis) but every number is None and
``suppressed`` is True. So no single firm's answers can be read off a chart
or an export. Analysts and admins see every cell.

Respondents are what is counted, not records: for interviews the distinct
respondent organisations behind a cell (one firm naming ten partners is one
respondent); for kiosk visits each visit (anonymous, one respondent each).
Tie cells are read from the analysable ``tie_reports`` rows, so they count
the reports of both interview instruments: an ``fi_partner`` record and each
partner pass of a handheld ``fi_interview``.

Visit cells are read from the analysable ``visits`` rows (:mod:`tiesense.store.rows`),
which hold every version of the visit form in the same columns: satisfaction
is an integer whether a version asked it as a range (2026112401) or as a
labelled select of "1".."5" (2026113001), so its mean spans both; a cell also
counts the visits that led to a new contact (``new_contact`` = ``yes``) and
the visits whose version asked (``contact_asked``).

Visit cells can be kept to one survey ``wave`` (the visits rows' ``wave``: the
record's ``wave`` answer, else its form's ``wave`` setting); :func:`visit_waves`
lists the waves present with the period each spans. A wave no visit belongs
to is an error (:class:`UnknownWave`, naming the waves present), not an empty
chart: a mistyped wave would otherwise read as "nobody came".

Suppressing small cells alone does not stop every inference: a viewer who
knows the total of a column and the other cells could subtract. Totals are
therefore given only over the cells shown (``shown``), never the grand total.

Examples
--------
>>> suppress([{"key": "sme", "respondents": 7, "reports": 20}, {"key": "gri", "respondents": 2, "reports": 3}], 5)
[{'key': 'sme', 'respondents': 7, 'reports': 20, 'suppressed': False}, {'key': 'gri', 'respondents': None, 'reports': None, 'suppressed': True}]
"""
from __future__ import annotations

import dataclasses
import functools
import re
import sqlite3

from .forms import builtin_forms, form_questions
from .store import Store, analysable
from .store.analysable import (TIE_KEYS, TIE_ROW_KEYS, VISIT_FORM, VISIT_KEYS, Filters, UnknownWave, row_where,
                               wave_order)

__all__ = ["DEFAULT_K", "suppress", "visit_cells", "visit_pairs", "tie_cells", "visit_keys", "visit_values",
           "tie_keys", "UnknownKey", "UnknownWave", "visit_waves", "wave_order", "cluster_respondents", "all_forms",
           "VISIT_ROW_KEYS", "VISIT_ROW_VALUES"]

#: Smallest number of respondents a viewer's cell may be built from.
DEFAULT_K = 5


class UnknownKey(KeyError):
    """A grouping key that is neither a question nor a known key; ``args[1]`` lists the keys."""


def suppress(cells: list[dict], k: int | None) -> list[dict]:
    """Cells with ``suppressed`` set; with ``k`` (not None), those from fewer than k respondents emptied."""
    out = []
    for c in cells:
        hide = k is not None and (c.get("respondents") or 0) < k
        row = {key: (v if key == "key" or not hide else None) for key, v in c.items()}
        row["suppressed"] = hide
        out.append(row)
    return out


@functools.lru_cache(maxsize=1)
def _builtin() -> tuple[dict, ...]:
    return tuple(builtin_forms())  # shipped files, read once per process (a version never changes)


def all_forms(store: Store) -> list[dict]:
    """Every form version the host knows: the published ones and the built-in instruments."""
    seen = {(f["id"], f["version"]): f for f in _builtin()}
    seen.update({(f["id"], f["version"]): f for f in store.forms()})
    return list(seen.values())


def _questions(store: Store, form: str, kinds: tuple[str, ...]) -> list[str]:
    return [q["name"] for q in form_questions(all_forms(store), form) if q["type"] in kinds]


_GROUPABLE = ("select_one", "range", "integer")


#: Columns of the ``visits`` rows a visit cell can be keyed by, for every version of the visit form.
VISIT_ROW_KEYS = ("facility", "visitor_type", "purpose", "new_contact", "satisfaction", "wave", "form_version")
#: Numeric columns of the ``visits`` rows a visit cell can average.
VISIT_ROW_VALUES = ("satisfaction",)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def visit_keys(store: Store) -> list[str]:
    """What visits can be grouped by: :data:`VISIT_ROW_KEYS`, the visit form's other select_one/range
    questions and :data:`~tiesense.store.analysable.VISIT_KEYS` (hour, week, device, site...)."""
    questions = [q for q in _questions(store, VISIT_FORM, ("select_one", "range")) if q not in VISIT_ROW_KEYS]
    return list(VISIT_ROW_KEYS) + questions + [k for k in VISIT_KEYS if k not in VISIT_ROW_KEYS]


def visit_values(store: Store) -> list[str]:
    """What a visit cell can average: :data:`VISIT_ROW_VALUES` and the visit form's other range/integer questions."""
    return list(VISIT_ROW_VALUES) + [q for q in _questions(store, VISIT_FORM, ("range", "integer"))
                                     if q not in VISIT_ROW_VALUES]


#: Record-level keys the ``visits`` rows answer themselves (the rest need the record: its start, its answers).
_ON_VISIT_ROWS = {"device": "v.device", "site": "i.site"}


def _visit_expr(name: str) -> tuple[str, list]:
    """The SQL of a visit key or value (a visits column, a record-level key, else a question's answer)."""
    if name in VISIT_ROW_KEYS or name in VISIT_ROW_VALUES:
        return f'v."{name}"', []
    if name in _ON_VISIT_ROWS:
        return _ON_VISIT_ROWS[name], []
    if name in VISIT_KEYS:
        return VISIT_KEYS[name], []
    if not _NAME.match(name):
        raise ValueError(f"question name {name!r} cannot be read")
    return "json_extract(r.answers, ?)", [f'$."{name}"']


def _visit_where(filters: Filters, wave: str | None = None) -> tuple[list[str], list]:
    """:class:`Filters` on the ``visits`` rows: form version, device, site (the device's), period (``end``);
    and the survey ``wave`` when given (``filters.wave`` is not read)."""
    return row_where(dataclasses.replace(filters, wave=wave), "v")


def _visit_cells(conn: sqlite3.Connection, by: list[str], value: str | None, filters: Filters,
                 wave: str | None = None) -> list[dict]:
    """Visit rows per value of the keys ``by``: ``key`` (a list when two), ``visits``, ``respondents`` (each
    visit is one anonymous respondent), ``mean`` of ``value``, ``new_contacts``, ``contact_asked``; of one
    survey ``wave`` when given (:class:`UnknownWave` when no visit at all belongs to it)."""
    keys, params = [], []
    for name in by:
        expr, p = _visit_expr(name)
        keys.append(expr)
        params += p
    mean, mparams = ("NULL", []) if value is None else _visit_expr(value)
    where, wparams = _visit_where(filters, wave)
    # the record (a wide row with its raw answers) is joined only when a key needs its start or an answer
    record = " JOIN records r ON r.instance_id = v.instance_id" if "r." in " ".join(keys + [mean]) else ""
    groups = ", ".join(str(i + 1) for i in range(len(keys)))
    sql = (f"SELECT {', '.join(f'{e} AS k{i}' for i, e in enumerate(keys))}, count(*) AS visits, "
           f"avg({mean}) AS mean, count(v.new_contact) AS contact_asked, "
           "coalesce(sum(v.new_contact = 'yes'), 0) AS new_contacts "
           f"FROM visits v LEFT JOIN identities i ON i.name = v.device{record}"
           + (" WHERE " + " AND ".join(where) if where else "") + f" GROUP BY {groups} ORDER BY {groups}")
    n = len(keys)
    rows = conn.execute(sql, params + mparams + wparams).fetchall()
    if not rows and wave is not None:  # nothing in this wave here: is it a wave at all? (asked only then)
        _known_wave(conn, wave)
    return [{"key": row[0] if n == 1 else list(row[:n]), "visits": row[n], "respondents": row[n],
             "mean": row[n + 1], "new_contacts": row[n + 3], "contact_asked": row[n + 2]} for row in rows]


def _known_wave(conn: sqlite3.Connection, wave: str) -> None:
    if conn.execute("SELECT 1 FROM visits WHERE wave = ? LIMIT 1", [wave]).fetchone() is None:
        present = sorted((w for (w,) in conn.execute("SELECT DISTINCT wave FROM visits WHERE wave IS NOT NULL")),
                         key=wave_order)
        raise UnknownWave(wave, present)


def _visit_waves(conn: sqlite3.Connection, filters: Filters) -> list[dict]:
    where, params = _visit_where(filters)
    sql = ('SELECT v.wave, min(v."end"), max(v."end") FROM visits v LEFT JOIN identities i ON i.name = v.device '
           "WHERE " + " AND ".join(["v.wave IS NOT NULL"] + where) + " GROUP BY v.wave")
    rows = [{"wave": w, "first": first, "last": last} for w, first, last in conn.execute(sql, params).fetchall()]
    return sorted(rows, key=lambda r: wave_order(r["wave"]))


def visit_waves(store: Store, filters: Filters = Filters()) -> list[dict]:
    """The survey waves the visits rows (kept to ``filters``) belong to, in :func:`wave_order`: ``wave`` and
    the ``first`` and ``last`` visit's end (the period the wave's visits span). Visits without a wave are
    not a wave.

    Examples
    --------
    >>> visit_waves(Store(":memory:"))
    []
    """
    return store.read(_visit_waves, filters)


def tie_keys(store: Store) -> list[str]:
    """What tie reports can be grouped by, for both interview instruments: the ``tie_reports`` rows' columns
    (:data:`~tiesense.store.analysable.TIE_ROW_KEYS`: scope, frequency, closeness...) and
    :data:`~tiesense.store.analysable.TIE_KEYS` (actor types, region, month, tie type).

    Examples
    --------
    >>> tie_keys(Store(":memory:"))[:3], "actor_type_pair" in tie_keys(Store(":memory:"))
    (['scope', 'frequency', 'closeness'], True)
    """
    return list(TIE_ROW_KEYS) + list(TIE_KEYS)


def visit_cells(store: Store, by: str, *, value: str | None = "satisfaction", filters: Filters = Filters(),
                wave: str | None = None, k: int | None = None) -> list[dict]:
    """Visits per value of ``by`` (:func:`visit_keys`), over every version of the visit form: ``visits``,
    ``respondents``, the ``mean`` of ``value`` (:func:`visit_values`), ``new_contacts`` and ``contact_asked``;
    of survey ``wave`` only when given (:class:`UnknownWave` if no visit belongs to it); suppressed under ``k``.

    Examples
    --------
    >>> store = Store(":memory:")
    >>> visit_cells(store, "facility"), visit_cells(store, "wave", value=None)
    ([], [])
    """
    keys = visit_keys(store)
    if by not in keys:
        raise UnknownKey(by, keys)
    numeric = visit_values(store)
    if value is not None and value not in numeric:
        raise UnknownKey(value, numeric)
    return suppress(store.read(_visit_cells, [by], value, filters, wave), k)


def visit_pairs(store: Store, by: str, then: str, *, filters: Filters = Filters(), wave: str | None = None,
                k: int | None = None) -> list[dict]:
    """Visits per pair of values (``key`` ``[by, then]``, e.g. facility and hour), of survey ``wave`` only
    when given, suppressed under ``k``."""
    keys = visit_keys(store)
    for name in (by, then):
        if name not in keys:
            raise UnknownKey(name, keys)
    return suppress(store.read(_visit_cells, [by, then], None, filters, wave), k)


def tie_cells(store: Store, by: str, *, filters: Filters = Filters(), k: int | None = None) -> list[dict]:
    """Tie reports of both interview instruments (``fi_partner`` records and the handheld interview's partner
    passes, read from the ``tie_reports`` rows) per value of ``by`` (:func:`tie_keys`), suppressed under ``k``."""
    keys = tie_keys(store)
    if by not in keys:
        raise UnknownKey(by, keys)
    return suppress(store.read(analysable.tie_cells, by, filters), k)


def cluster_respondents(store: Store, filters: Filters = Filters()) -> int:
    """Distinct respondent organisations behind the interviews of either instrument, those who named nobody
    included: what a cluster-level measure is built from."""
    return store.read(analysable.respondent_count, filters)
