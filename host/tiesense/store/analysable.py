"""Analysable rows: stored records read as the tables analysts work with, and their aggregates.

* records of any form, one row each with its answers expanded into columns
  (:func:`form_rows`): the visits of ``tp_visit``, the tie reports of
  ``fi_partner`` (one record per partner a respondent names);
* the tie reports of both interview instruments (``fi_partner``: one record
  per partner; ``fi_interview``, the handheld's: one pass per partner) with
  both organisations looked up in the current roster (:func:`tie_rows`), and
  the respondent organisations behind them, those who named nobody included
  (:func:`respondents`): read from the ``tie_reports`` and ``respondents`` rows;
* the dyad census of the handheld interview (:func:`alter_pairs`): one row
  per pair of partners a respondent named, read from the ``alter_pairs`` rows;
* counts and means per cell (:func:`visit_cells`; :func:`tie_cells` over the
  ``tie_reports`` rows of both instruments), each
  cell with the number of distinct respondents it is built from, which is what
  k-anonymity suppression (:mod:`tiesense.aggregates`) looks at.

Every read takes :class:`Filters` (device, site, form version, period, survey
wave, actor type...) and pages with ``limit``/``offset``, returning ``(rows, total)``.
A record's survey wave is that of its analysable rows (:mod:`tiesense.store.rows`:
its ``wave`` answer, else its form version's ``wave`` setting); a record with
neither belongs to no wave. A wave no row of the kind read belongs to is an
error (:class:`UnknownWave`, naming the waves present), not an empty page: a
mistyped wave would otherwise read as "nobody answered".
The fields named here are the interview's (``respondent_org``,
``partner_org``, ``tie_types``), the same that :mod:`tiesense.estimates` reads.
"""
from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, fields
from typing import Iterable

from .connection import dicts, page
from .roster import CURRENT
from .rows import TABLES

__all__ = ["VISIT_FORM", "INTERVIEW_FORM", "Filters", "UnknownWave", "waves", "wave_order", "form_rows", "tie_rows",
           "respondents", "alter_pairs", "visit_cells", "tie_cells", "VISIT_KEYS", "TIE_KEYS", "TIE_ROW_KEYS",
           "TIE_ITEMS", "NOT_ON_ROSTER", "respondent_count", "row_where"]

VISIT_FORM = "tp_visit"
INTERVIEW_FORM = "fi_partner"
RESPONDENT, PARTNER, TIE_TYPES = "respondent_org", "partner_org", "tie_types"
#: Actor type shown for a roster code that is not on the current roster.
NOT_ON_ROSTER = "(not on roster)"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


class UnknownWave(ValueError):
    """A survey wave no row belongs to (``args[0]``); ``args[1]`` lists the waves present."""


def wave_order(wave: str) -> tuple:
    """Sort key of wave names: numbers in numeric order, then the rest by name.

    Examples
    --------
    >>> sorted(["10", "2", "spring", "1"], key=wave_order)
    ['1', '2', '10', 'spring']
    """
    return (not wave.isdigit(), int(wave) if wave.isdigit() else 0, wave)


def _rows_of(form: str) -> str:
    """The analysable rows table holding one row per record of ``form``, where the record's wave is read:
    ``visits``, else (either interview instrument) ``respondents`` (:mod:`tiesense.store.rows`)."""
    return "visits" if form == VISIT_FORM else "respondents"


def waves(conn: sqlite3.Connection, table: str) -> list[str]:
    """The survey waves the rows of ``table`` (one of :data:`~tiesense.store.rows.TABLES`) belong to, in
    :func:`wave_order`; rows without a wave are not a wave.

    Examples
    --------
    >>> from tiesense.store import Store
    >>> Store(":memory:").read(waves, "tie_reports")
    []
    """
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; the analysable tables are {', '.join(TABLES)}")
    return sorted((w for (w,) in conn.execute(f"SELECT DISTINCT wave FROM {table} WHERE wave IS NOT NULL")),
                  key=wave_order)


def _wave_asked(conn: sqlite3.Connection, table: str, filters: Filters, total: int) -> None:
    """After a read of ``total`` rows: raise :class:`UnknownWave` if ``filters`` asked for a wave no row of
    ``table`` belongs to (asked only when nothing was found: a wave that exists may hold nothing here)."""
    if total or filters.wave is None:
        return
    if conn.execute(f"SELECT 1 FROM {table} WHERE wave = ? LIMIT 1", [filters.wave]).fetchone() is None:
        raise UnknownWave(filters.wave, waves(conn, table))


@dataclass(frozen=True)
class Filters:
    """What rows to read; None means any.

    ``since`` and ``until`` bound a record's ``end`` (``since <= end < until``,
    ISO text such as ``2026-11-01`` or ``2026-11-24T10:00:00Z``); ``site`` is
    the site the device was provisioned for; ``wave`` the survey wave of the
    record's analysable rows; ``actor_type``, ``region`` and
    ``respondent`` are the respondent organisation's (interviews only),
    ``partner_actor_type`` the partner's.
    """

    form_version: str | None = None
    device: str | None = None
    site: str | None = None
    since: str | None = None
    until: str | None = None
    wave: str | None = None
    actor_type: str | None = None
    partner_actor_type: str | None = None
    region: str | None = None
    respondent: int | None = None

    def where(self, interview: bool, form: str | None = None) -> tuple[list[str], list]:
        """SQL conditions on ``records r`` (with its device's identity ``i`` and, for ``interview``, the
        roster rows ``ro`` and ``po``) and their parameters; ``form`` says which rows hold the wave."""
        where, params = [], []
        for col, val in (('r.form_version', self.form_version), ("r.device", self.device), ("i.site", self.site)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        if self.since is not None:
            where.append('r."end" >= ?')
            params.append(self.since)
        if self.until is not None:
            where.append('r."end" < ?')
            params.append(self.until)
        if self.wave is not None:  # the record's rows: those of its form's kind, else of either kind
            tables = [_rows_of(form)] if form is not None else ["visits", "respondents"]
            where.append("r.instance_id IN (" + " UNION ALL ".join(
                f"SELECT instance_id FROM {t} WHERE wave = ?" for t in tables) + ")")
            params += [self.wave] * len(tables)
        if interview:
            for col, val in (("coalesce(ro.actor_type, ?)", self.actor_type),
                             ("coalesce(po.actor_type, ?)", self.partner_actor_type)):
                if val is not None:
                    where.append(f"{col} = ?")
                    params += [NOT_ON_ROSTER, val]
            if self.region is not None:
                where.append("ro.region = ?")
                params.append(self.region)
            if self.respondent is not None:
                where.append(f"json_extract(r.answers, '$.{RESPONDENT}') = ?")
                params.append(self.respondent)
        return where, params

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))


_BASE = "FROM records r LEFT JOIN identities i ON i.name = r.device"
_ROSTER = (f" LEFT JOIN organisations ro ON ro.version = {CURRENT} AND ro.code = json_extract(r.answers, '$.{RESPONDENT}')"
           f" LEFT JOIN organisations po ON po.version = {CURRENT} AND po.code = json_extract(r.answers, '$.{PARTNER}')")


def _from(form: str, filters: Filters, interview: bool, extra_from: str = "") -> tuple[str, list]:
    where, params = filters.where(interview, form)
    sql = _BASE + (_ROSTER if interview else "") + extra_from + " WHERE r.form = ?"
    params = [form] + params
    if where:
        sql += " AND " + " AND ".join(where)
    return sql, params


def _answer_columns(questions: Iterable[str]) -> tuple[str, list, list[str]]:
    cols, params, names = [], [], []
    for q in questions:
        if not _NAME.match(q):
            raise ValueError(f"question name {q!r} cannot be a column")
        cols.append(f'json_extract(r.answers, ?) AS "{q}"')
        params.append(f'$."{q}"')
        names.append(q)
    return "".join(", " + c for c in cols), params, names


def _decode_lists(rows: list[dict], multi: Iterable[str]) -> list[dict]:
    multi = list(multi)
    for row in rows:
        for q in multi:
            if isinstance(row.get(q), str):
                row[q] = json.loads(row[q])
    return rows


_RECORD_COLUMNS = 'r.instance_id, r.device, i.site, r.seq, r.form, r.form_version, r.start, r."end", r.received_at'


def form_rows(conn: sqlite3.Connection, form: str, questions: Iterable[str], multi: Iterable[str] = (),
              filters: Filters = Filters(), limit: int | None = None, offset: int = 0) -> tuple[list[dict], int]:
    """``(rows, total)``: the records of ``form``, oldest first, one column per question name.

    ``multi`` names the select_multiple questions, returned as lists. A
    question a record's version lacks is None. Raises :class:`UnknownWave` for a ``filters.wave`` no
    record of the form's kind (visits, or interviews) belongs to.
    """
    cols, col_params, _ = _answer_columns(questions)
    frm, params = _from(form, filters, form == INTERVIEW_FORM)
    rows, total = page(conn, f"SELECT {_RECORD_COLUMNS}{cols} {frm}", col_params + params,
                       'r."end", r.instance_id', limit, offset)
    _wave_asked(conn, _rows_of(form), filters, total)
    return _decode_lists(rows, multi), total


#: The tie items of a ``tie_reports`` row (:data:`~tiesense.store.rows.COLUMNS`), as :func:`tie_rows` lists them.
TIE_ITEMS = ("tie_types", "multiplexity", "frequency", "since_year", "formality", "channel", "closeness", "trust",
             "initiated", "knowledge_flow", "importance", "scope", "reciprocity")


def row_where(filters: Filters, a: str) -> tuple[list[str], list]:
    """(conditions, parameters) of the :class:`Filters` every table of analysable rows ``a`` (joined with the
    device's identity ``i``) takes: form version, device, site, wave, and the period on the row's ``end``."""
    where, params = [], []
    for col, val in ((f"{a}.form_version", filters.form_version), (f"{a}.device", filters.device),
                     ("i.site", filters.site), (f"{a}.wave", filters.wave)):
        if val is not None:
            where.append(f"{col} = ?")
            params.append(val)
    for op, val in ((">=", filters.since), ("<", filters.until)):
        if val is not None:
            where.append(f'{a}."end" {op} ?')
            params.append(val)
    return where, params


def _rows_where(filters: Filters, a: str) -> tuple[list[str], list]:
    """:class:`Filters` on the interview rows ``a`` (``respondents``, ``tie_reports`` or ``alter_pairs``, joined
    with the device's identity ``i`` and the respondent's current roster row ``ro``), all but
    ``partner_actor_type``, whose meaning depends on the rows (the caller adds it)."""
    where, params = row_where(filters, a)
    for col, val in (("ro.region", filters.region), (f"{a}.respondent_org", filters.respondent)):
        if val is not None:
            where.append(f"{col} = ?")
            params.append(val)
    if filters.actor_type is not None:
        where.append("coalesce(ro.actor_type, ?) = ?")
        params += [NOT_ON_ROSTER, filters.actor_type]
    return where, params


def _tie_where(filters: Filters, a: str, form: str | None = None) -> tuple[list[str], list]:
    """:class:`Filters` on the interview rows ``a`` (``t``: the tie reports; ``rs``: the respondents, outer-joined
    with their tie reports ``t``, NULL where a respondent named nobody) and the partner's roster row ``po``; of
    ``form`` only when given."""
    where, params = _rows_where(filters, a)
    if form is not None:
        where.append(f"{a}.form = ?")
        params.append(form)
    if filters.partner_actor_type is not None:  # a report with a partner of that type (not: no report at all)
        where.append('t."pass" IS NOT NULL AND coalesce(po.actor_type, ?) = ?')
        params += [NOT_ON_ROSTER, filters.partner_actor_type]
    return where, params


def _around(a: str) -> str:
    """Joins of the interview rows ``a``: the device's identity ``i``, the respondent's current roster row ``ro``."""
    return (f" LEFT JOIN identities i ON i.name = {a}.device"
            f" LEFT JOIN organisations ro ON ro.version = {CURRENT} AND ro.code = {a}.respondent_org")


_PARTNER_ROSTER = f" LEFT JOIN organisations po ON po.version = {CURRENT} AND po.code = t.partner_org"
#: The tie reports with the device's identity and both organisations' current roster rows (joins SQLite leaves
#: out where a query reads nothing of them: each matches at most one row).
_TIES = "FROM tie_reports t" + _around("t") + _PARTNER_ROSTER
#: The respondents rows with their tie reports, if any (a respondent who named nobody has none).
_RESPONDENTS = ("FROM respondents rs LEFT JOIN tie_reports t ON t.instance_id = rs.instance_id" + _around("rs")
                + _PARTNER_ROSTER)


def _sql_where(where: list[str]) -> str:
    return " WHERE " + " AND ".join(where) if where else ""


_TIE_ORDER = ('"end"', "instance_id", '"pass"')


def tie_rows(conn: sqlite3.Connection, filters: Filters = Filters(), limit: int | None = None, offset: int = 0, *,
             form: str | None = None) -> tuple[list[dict], int]:
    """``(rows, total)``: tie reports of both interview instruments (the ``tie_reports`` rows: one per
    ``fi_partner`` record, one per partner pass of an ``fi_interview``), of ``form`` only when given, with
    both organisations from the current roster; by end time, record and pass.

    Each row: the record's ``instance_id``, ``device``, ``site``, ``seq``, ``form``, ``form_version``,
    ``wave``, ``start``, ``end``, ``received_at``; ``pass`` (the partner's pass of the name generator, 1 for
    ``fi_partner``); ``respondent_org`` with ``respondent_name`` (the roster's, else the name given),
    ``respondent_actor_type`` and ``respondent_region`` from the roster and ``respondent_type`` (the type
    given when not on the roster); ``partner_org``, ``partner_name``, ``partner_actor_type``,
    ``partner_region`` and ``partner_type`` alike; then the tie items (:data:`TIE_ITEMS`: ordinal answers
    as integers, ``tie_types`` a list, None where the instrument does not ask). Raises
    :class:`UnknownWave` for a ``filters.wave`` no tie report belongs to.

    Examples
    --------
    >>> from tiesense.store import Store
    >>> Store(":memory:").read(tie_rows, Filters(partner_actor_type="university"))
    ([], 0)
    """
    where, params = _tie_where(filters, "t", form)
    # the page is chosen on the narrow rows (filters and order), then only its rows are read wide: sorting every
    # report joined with its record and names took 340 ms a page at 50,000 reports, this 45 ms
    keys = (f'SELECT t.rowid AS id, t."end" AS "end", t.instance_id AS instance_id, t."pass" AS "pass" {_TIES}'
            + _sql_where(where))
    items = "".join(f', t."{c}"' for c in TIE_ITEMS)
    wide = ("SELECT t.instance_id, t.device, i.site, r.seq, t.form, t.form_version, t.wave, r.start, t.\"end\", "
            "r.received_at, t.\"pass\", t.respondent_org, coalesce(ro.name, rs.respondent_name) AS respondent_name, "
            "ro.actor_type AS respondent_actor_type, ro.region AS respondent_region, rs.respondent_type, "
            "t.partner_org, coalesce(po.name, t.partner_name) AS partner_name, po.actor_type AS partner_actor_type, "
            f"po.region AS partner_region, t.partner_type{items} {_TIES}"
            " LEFT JOIN respondents rs ON rs.instance_id = t.instance_id"
            " LEFT JOIN records r ON r.instance_id = t.instance_id"
            " WHERE t.rowid IN (SELECT value FROM json_each(?)) ORDER BY " + ", ".join(f"t.{c}" for c in _TIE_ORDER))
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")  # the page and its rows from one snapshot, as page() reads a total and its page
    try:
        chosen, total = page(conn, keys, params, ", ".join(_TIE_ORDER), limit, offset)
        rows = dicts(conn, wide, [json.dumps([c["id"] for c in chosen])]) if chosen else []
    finally:
        if own:
            conn.execute("COMMIT")
    _wave_asked(conn, "tie_reports", filters, total)
    return _decode_lists(rows, (TIE_TYPES,)), total


def respondents(conn: sqlite3.Connection, filters: Filters = Filters(), limit: int | None = None,
                offset: int = 0) -> tuple[list[dict], int]:
    """``(rows, total)``: one row per respondent organisation of either interview instrument (the
    ``respondents`` rows), by code: ``code``, roster fields (``name``, ``actor_type``, ``region``,
    ``sector``, ``size``), ``reports`` (tie reports), ``partners`` (distinct: by roster code, else by the
    name given), ``first_interview`` and ``last_interview`` (end times). A respondent who named nobody is
    listed with 0 reports and 0 partners; ``partner_actor_type`` keeps the reports with a partner of that
    type, and the respondents with one. Interviews without a respondent's roster code (not on the roster,
    or no consent) are not a row here: their tie reports are in :func:`tie_rows`. Raises
    :class:`UnknownWave` for a ``filters.wave`` no interview belongs to.

    Examples
    --------
    >>> from tiesense.store import Store
    >>> Store(":memory:").read(respondents, Filters(region="Daegu"))
    ([], 0)
    """
    where, params = _tie_where(filters, "rs")
    sql = ("SELECT rs.respondent_org AS code, ro.name AS name, ro.actor_type AS actor_type, ro.region AS region, "
           'ro.sector AS sector, ro.size AS size, count(t."pass") AS reports, '
           "count(DISTINCT coalesce(t.partner_org, t.partner_name)) AS partners, "
           'min(rs."end") AS first_interview, max(rs."end") AS last_interview '
           f"{_RESPONDENTS}{_sql_where(['rs.respondent_org IS NOT NULL'] + where)} GROUP BY rs.respondent_org")
    rows, total = page(conn, sql, params, "code", limit, offset)
    _wave_asked(conn, "respondents", filters, total)
    return rows, total


_PAIR_ROSTER = "".join(f" LEFT JOIN organisations {a} ON {a}.version = {CURRENT} AND {a}.code = ap.{col}"
                       for a, col in (("ro", "respondent_org"), ("oa", "org_a"), ("ob", "org_b")))


def _pair_where(filters: Filters) -> tuple[list[str], list]:
    """:class:`Filters` on the ``alter_pairs`` rows ``ap``: ``partner_actor_type`` keeps the pairs with a
    partner of that type on either side."""
    where, params = _rows_where(filters, "ap")
    if filters.partner_actor_type is not None:
        where.append("(coalesce(oa.actor_type, ?) = ? OR coalesce(ob.actor_type, ?) = ?)")
        params += [NOT_ON_ROSTER, filters.partner_actor_type] * 2
    return where, params


def alter_pairs(conn: sqlite3.Connection, filters: Filters = Filters(), limit: int | None = None,
                offset: int = 0) -> tuple[list[dict], int]:
    """``(rows, total)``: pairs of partners a respondent named (the handheld interview's dyad census), by end
    time, record and passes.

    Each row: ``instance_id``, ``device``, ``site``, ``form``, ``form_version``, ``wave``, ``end``,
    ``pass_a``/``pass_b`` (the partners' passes of the name generator), ``respondent_org`` with
    ``respondent_name`` and ``respondent_actor_type`` from the current roster, for each partner ``org_a``,
    ``name_a`` (the roster's name, else the one given) and ``actor_type_a`` (``_b`` alike), and ``tied``: 1
    if the respondent said the two work with each other, 0 if not, None if unanswered. Raises
    :class:`UnknownWave` for a ``filters.wave`` no pair belongs to.

    Examples
    --------
    >>> from tiesense.store import Store
    >>> Store(":memory:").read(alter_pairs, Filters(actor_type="sme"))
    ([], 0)
    """
    where, params = _pair_where(filters)
    sql = ('SELECT ap.instance_id, ap.device, i.site, ap.form, ap.form_version, ap.wave, ap."end", ap.pass_a, '
           "ap.pass_b, ap.respondent_org, ro.name AS respondent_name, ro.actor_type AS respondent_actor_type, "
           "ap.org_a, coalesce(oa.name, ap.name_a) AS name_a, oa.actor_type AS actor_type_a, "
           "ap.org_b, coalesce(ob.name, ap.name_b) AS name_b, ob.actor_type AS actor_type_b, ap.tied "
           f"FROM alter_pairs ap LEFT JOIN identities i ON i.name = ap.device{_PAIR_ROSTER}"
           + (" WHERE " + " AND ".join(where) if where else ""))
    rows, total = page(conn, sql, params, '"end", instance_id, pass_a, pass_b', limit, offset)
    _wave_asked(conn, "alter_pairs", filters, total)
    return rows, total


def respondent_count(conn: sqlite3.Connection, filters: Filters = Filters()) -> int:
    """Distinct respondent organisations (roster codes) behind the interviews of either instrument that pass
    ``filters``, including those who named nobody.

    Examples
    --------
    >>> from tiesense.store import Store
    >>> Store(":memory:").read(respondent_count)
    0
    """
    where, params = _tie_where(filters, "rs")
    # the tie reports are joined only to find a partner of a type: a respondent is one whether they named any
    frm = _RESPONDENTS if filters.partner_actor_type is not None else "FROM respondents rs" + _around("rs")
    return conn.execute(f"SELECT count(DISTINCT rs.respondent_org) {frm}{_sql_where(where)}", params).fetchone()[0]


#: Keys visits can be grouped by, besides any question of the visit form.
VISIT_KEYS = {
    "hour": "substr(r.start, 12, 2)",
    "weekday": "strftime('%w', substr(r.start, 1, 19))",
    "week": "strftime('%Y-W%W', substr(r.start, 1, 19))",
    "month": "substr(r.start, 1, 7)",
    "device": "r.device",
    "site": "i.site",
}

#: Keys tie reports can be grouped by, besides :data:`TIE_ROW_KEYS`.
TIE_KEYS = {
    "respondent_actor_type": f"coalesce(ro.actor_type, '{NOT_ON_ROSTER}')",
    "partner_actor_type": f"coalesce(po.actor_type, '{NOT_ON_ROSTER}')",
    "actor_type_pair": f"coalesce(ro.actor_type, '{NOT_ON_ROSTER}') || ' / ' || coalesce(po.actor_type, '{NOT_ON_ROSTER}')",
    "respondent_region": "ro.region",
    "month": 'substr(t."end", 1, 7)',
    "tie_type": "je.value",
}
#: Columns of the ``tie_reports`` rows a tie cell can be keyed by, the same for both interview instruments
#: (a column an instrument does not ask is a None key for its reports: ``reciprocity`` is ``fi_partner``'s,
#: ``trust``, ``formality``, ``channel``, ``initiated`` and ``knowledge_flow`` the handheld interview's).
TIE_ROW_KEYS = ("scope", "frequency", "closeness", "trust", "importance", "multiplexity", "formality", "channel",
                "initiated", "knowledge_flow", "reciprocity", "form", "form_version", "wave")


def _key(keys: dict, by: str, questions: Iterable[str]) -> tuple[str, list]:
    if by in keys:
        return keys[by], []
    if by in set(questions) and _NAME.match(by):
        return "json_extract(r.answers, ?)", [f'$."{by}"']
    raise KeyError(by)


def visit_cells(conn: sqlite3.Connection, by: str, questions: Iterable[str], value: str | None = None,
                filters: Filters = Filters()) -> list[dict]:
    """Visits per value of ``by``: ``key``, ``visits``, ``respondents`` (each visit is one anonymous respondent)
    and ``mean`` of the numeric question ``value``; by key.

    Raises KeyError if ``by`` is neither a question nor one of :data:`VISIT_KEYS`.
    """
    expr, kparams = _key(VISIT_KEYS, by, questions)
    mean, mparams = ("avg(json_extract(r.answers, ?))", [f'$."{value}"']) if value else ("NULL", [])
    frm, params = _from(VISIT_FORM, filters, False)
    sql = (f"SELECT {expr} AS key, count(*) AS visits, count(*) AS respondents, {mean} AS mean "
           f"{frm} GROUP BY 1 ORDER BY 1")
    return dicts(conn, sql, kparams + mparams + params)


def tie_cells(conn: sqlite3.Connection, by: str, filters: Filters = Filters()) -> list[dict]:
    """Tie reports of both interview instruments (the ``tie_reports`` rows) per value of ``by``: ``key``,
    ``reports``, ``respondents`` (distinct respondent organisations on the roster), ``partners`` (distinct:
    by roster code, else by the name given), ``mean_closeness``, ``mean_frequency``; by key.

    Raises KeyError if ``by`` is neither one of :data:`TIE_ROW_KEYS` nor of :data:`TIE_KEYS`.

    Examples
    --------
    >>> from tiesense.store import Store
    >>> Store(":memory:").read(tie_cells, "tie_type")
    []
    """
    if by in TIE_KEYS:
        expr = TIE_KEYS[by]
    elif by in TIE_ROW_KEYS:
        expr = f't."{by}"'
    else:
        raise KeyError(by)
    each = ", json_each(t.tie_types) je" if by == "tie_type" else ""
    where, params = _tie_where(filters, "t")
    sql = (f"SELECT {expr} AS key, count(*) AS reports, count(DISTINCT t.respondent_org) AS respondents, "
           "count(DISTINCT coalesce(t.partner_org, t.partner_name)) AS partners, "
           "avg(t.closeness) AS mean_closeness, avg(t.frequency) AS mean_frequency "
           f"{_TIES}{each}{_sql_where(where)} GROUP BY 1 ORDER BY 1")
    return dicts(conn, sql, params)
