"""Analysable rows: each stored survey record flattened into the rows an analyst queries.

Besides its raw record (``records.answers``), every record of an instrument
is written as rows, in the same transaction that stores it (migration 6):

visits
    One per techno-park visit (``tp_visit``): facility, the visitor's
    organisation (``visitor_org``, a roster code; ``visitor_type`` when not
    listed), purpose, whom they met (``met``: a JSON array of roster codes,
    with ``met_not_listed`` and ``met_nobody``), new contact, satisfaction.
    The visitor's organisation, the device (the kiosk: a place) and ``end``
    are a check-in (:func:`checkins`), the input of co-presence.
respondents
    One per interview record, including respondents who named nobody
    (``named`` = 0) or did not consent (``consent`` = ``no``, ``named`` NULL):
    ``respondent_org`` (a roster code; ``respondent_name`` and
    ``respondent_type`` when not listed), ``period`` (the reference period),
    ``size_band``, ``sector``, ``rd_activity``. A ``fi_partner`` record (one
    partner per record, the older instrument) gives one respondent row with
    ``named`` = 1.
tie_reports
    One per partner a respondent named (``pass``: the partner's pass of the
    name generator, 1-based): ``partner_org`` (a roster code) or, for a
    partner not on the roster, ``partner_name`` and ``partner_type``;
    ``tie_types`` (JSON array) and ``multiplexity`` (how many), ``frequency``,
    ``since_year``, ``formality``, ``channel``, ``closeness``, ``trust``,
    ``initiated``, ``knowledge_flow``, ``importance``, ``scope``, and the
    older instrument's ``reciprocity``. Ordinal answers are integers.
alter_pairs
    One per pair of partners a respondent named (``pass_a`` < ``pass_b``, the
    dyad census): ``org_a``/``name_a``, ``org_b``/``name_b`` and ``tied``: 1
    if the respondent said they work with each other, 0 if not, NULL if the
    question went unanswered.

Every row carries ``instance_id``, ``device``, ``form``, ``form_version``,
``wave`` and ``end`` (kept equal to the record's, also when a clock is
corrected later). ``wave`` is the record's ``wave`` answer (a calculate
holding a constant in the shipped instruments), else the published form's
``wave`` setting, else NULL. Roster codes are integers; anything else a
roster question holds (``not_listed``, a new partner's slot) is not a code.

Rows are written for ``tp_visit``, ``fi_partner`` and ``fi_interview``
(:data:`FLATTENERS`), found by question name, so a form adapted from a
shipped instrument keeps its rows as long as it keeps the names. A repeat's
passes are positional, so an interview needs its form version (published, or
built in) to be flattened; a duplicate or conflicting record writes nothing.
"""
from __future__ import annotations

import functools
import json
import logging
import sqlite3
from typing import Any, Callable, Iterable

from .. import wire
from .connection import dicts

__all__ = ["TABLES", "COLUMNS", "FLATTENERS", "code", "flatten", "write", "backfill", "sync_ends", "rows", "checkins",
           "tie_changes", "ties_reported", "forms_of", "respondent_orgs"]

log = logging.getLogger(__name__)

#: The tables of analysable rows, in the order of the module docstring.
TABLES = ("visits", "respondents", "tie_reports", "alter_pairs")

_BASE = ("instance_id", "device", "form", "form_version", "wave", "end")
#: Columns of each table, in table order.
COLUMNS = {
    "visits": _BASE + ("facility", "visitor_org", "visitor_type", "purpose", "met", "met_not_listed",
                       "met_nobody", "new_contact", "satisfaction"),
    "respondents": _BASE + ("consent", "period", "respondent_org", "respondent_name", "respondent_type",
                            "size_band", "sector", "rd_activity", "named"),
    "tie_reports": _BASE + ("pass", "respondent_org", "partner_org", "partner_name", "partner_type", "tie_types",
                            "multiplexity", "frequency", "since_year", "formality", "channel", "closeness", "trust",
                            "initiated", "knowledge_flow", "importance", "scope", "reciprocity"),
    "alter_pairs": _BASE + ("pass_a", "pass_b", "respondent_org", "org_a", "name_a", "org_b", "name_b", "tied"),
}
_INSERT = {t: f'INSERT OR IGNORE INTO {t} ({", ".join(chr(34) + c + chr(34) for c in cols)}) '
              f'VALUES ({", ".join("?" * len(cols))})' for t, cols in COLUMNS.items()}

#: The name generator's repeat in an interview, and the select it passes over.
PARTNER_LOOP, PARTNERS = "partner_loop", "partners"
#: What a respondent who named nobody selects.
NOBODY = "nobody"


def code(value: Any) -> int | None:
    """A roster code (or an ordinal answer) as an integer; None for anything else.

    Examples
    --------
    >>> code(101), code("101"), code("not_listed"), code("new_1"), code(None), code("9" * 19)
    (101, 101, None, None, None, None)
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value if -2 ** 63 <= value < 2 ** 63 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _first_text(answers: dict, *names: str) -> str | None:
    return next((answers[n] for n in names if isinstance(answers.get(n), str)), None)


def _json_list(values: list) -> str:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def _choices(value: Any) -> list[str] | None:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else None


def _wave(answers: dict, form: dict | None) -> str | None:
    wave = answers.get("wave")
    if wave is None and form is not None:
        wave = form.get("wave")
    return None if wave is None else str(wave)


# ------------------------------------------------------------------ flatteners

def _visit(answers: dict, form: dict | None, base: tuple) -> dict[str, list[tuple]]:
    met = _choices(answers.get("met"))
    satisfaction = answers.get("satisfaction")
    return {"visits": [base + (
        _text(answers.get("facility")), code(answers.get("visitor_org")),
        _first_text(answers, "visitor_type", "org_type"),  # org_type: the 2026112401 version's question
        _text(answers.get("purpose")),
        None if met is None else _json_list([c for c in map(code, met) if c is not None]),
        None if met is None else int("not_listed" in met), None if met is None else int(NOBODY in met),
        _text(answers.get("new_contact")), code(satisfaction))]}


def _tie(base: tuple, pass_no: int, respondent: int | None, partner_org: int | None, partner_name: str | None,
         d: dict) -> tuple:
    types = _choices(d.get("tie_types"))
    return base + (pass_no, respondent, partner_org, partner_name, _text(d.get("partner_type")),
                   None if types is None else _json_list(types), None if types is None else len(types),
                   code(d.get("frequency")), code(d.get("since_year")), _text(d.get("formality")),
                   _text(d.get("channel")), code(d.get("closeness")), code(d.get("trust")),
                   _text(d.get("initiated")), _text(d.get("knowledge_flow")), code(d.get("importance")),
                   _text(d.get("scope")), _text(d.get("reciprocity")))


def _partner_record(answers: dict, form: dict | None, base: tuple) -> dict[str, list[tuple]]:
    """The older instrument: one record per partner named, respondent and partner as roster codes."""
    respondent = code(answers.get("respondent_org"))
    return {"respondents": [base + (None, None, respondent, None, None, None, None, None, 1)],
            "tie_reports": [_tie(base, 1, respondent, code(answers.get("partner_org")), None, answers)]}


def _passes(answers: dict, form: dict | None) -> list[dict] | None:
    """The partner loop's passes as dicts by question name, or None when the form's structure is unknown."""
    passes = answers.get(PARTNER_LOOP)
    if not passes:
        return []
    loop = next((q for q in (form or {}).get("questions", []) if q.get("name") == PARTNER_LOOP), None)
    if loop is None:
        return None
    names = wire.answer_fields(loop)
    return [dict(zip(names, p)) for p in passes if isinstance(p, list)]


def _interview(answers: dict, form: dict | None, base: tuple) -> dict[str, list[tuple]]:
    """One interview: the respondent, a tie report per pass, and the pairs of the dyad census."""
    passes = _passes(answers, form)
    if passes is None:  # no rows rather than a respondent without ties: backfill() writes them once it is known
        log.warning("record %s: form %s version %s is neither published nor built in, so its partner passes "
                    "cannot be read and it has no rows yet: publish the form, then store.write(rows.backfill)",
                    base[0], base[2], base[3])
        return {}
    partners = _choices(answers.get(PARTNERS))
    named = None if partners is None else (0 if NOBODY in partners else len(partners))
    respondent = code(answers.get("respondent_org"))
    out: dict[str, list[tuple]] = {"respondents": [base + (
        _text(answers.get("consent")), _text(answers.get("period")), respondent,
        _text(answers.get("respondent_name")), _text(answers.get("respondent_type")),
        _text(answers.get("size_band")), _text(answers.get("sector")), _text(answers.get("rd_activity")), named)]}
    if not named:
        return out
    # who each pass is about: its own `partner` calculate, else the name generator's choice at that position
    slots, people = [], []
    for i, slot in enumerate(partners):
        d = passes[i] if i < len(passes) else {}
        slot = _text(d.get("partner")) or slot
        org = code(slot)
        name = _text(d.get("partner_name")) if org is None else None
        slots.append(slot)
        people.append((org, name if name is not None else (slot if org is None else None)))
        if i < len(passes):
            out.setdefault("tie_reports", []).append(_tie(base, i + 1, respondent, people[i][0], people[i][1], d))
    for a in range(len(partners)):
        tied = _choices(passes[a].get("alters_tied")) if a < len(passes) else None
        for b in range(a + 1, len(partners)):
            said = None if tied is None else int(slots[b] in tied)
            out.setdefault("alter_pairs", []).append(
                base + (a + 1, b + 1, respondent) + people[a] + people[b] + (said,))
    return out


#: Form id -> the function that flattens one of its records: ``(answers, form or None, base) -> {table: rows}``.
FLATTENERS: dict[str, Callable[[dict, dict | None, tuple], dict[str, list[tuple]]]] = {
    "tp_visit": _visit,
    "fi_partner": _partner_record,
    "fi_interview": _interview,
}


def flatten(record: dict, form: dict | None = None) -> dict[str, list[tuple]]:
    """The analysable rows of one record (an envelope dict), by table; ``{}`` for a form without rows.

    ``form`` is the device form the record was answered on (its repeats' structure, its ``wave``).

    Examples
    --------
    >>> rec = wire.make_record("kiosk-01", 1, "tp_visit", "2026113001", "2026-11-30T10:00:00Z",
    ...                        "2026-11-30T10:00:40Z", {"wave": "1", "facility": "shared_lab",
    ...                        "visitor_org": "101", "met": ["102", "not_listed"], "satisfaction": "4"},
    ...                        "uuid:00010203-0405-4607-8809-0a0b0c0d0e0f")
    >>> flatten(rec)["visits"][0][6:]
    ('shared_lab', 101, None, None, '[102]', 1, 0, None, 4)
    """
    flattener = FLATTENERS.get(record.get("form"))
    answers = record.get("answers")
    if flattener is None or not isinstance(answers, dict):
        return {}
    base = (record["id"], record["device"], record["form"], record["form_version"], _wave(answers, form),
            record["end"])
    return flattener(answers, form, base)


@functools.lru_cache(maxsize=1)
def _builtin() -> tuple[dict, ...]:
    from ..forms import builtin_forms

    return tuple(builtin_forms())  # shipped files, read once per process (a version never changes)


def _forms(conn: sqlite3.Connection, keys: set[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """The device forms of ``keys`` (id, version): published ones first, then the built-in instruments."""
    found: dict[tuple[str, str], dict] = {}
    for form_id, version in keys:
        row = conn.execute("SELECT spec FROM forms WHERE form_id = ? AND version = ?", [form_id, version]).fetchone()
        if row is not None:
            found[(form_id, version)] = json.loads(row[0])
    missing = keys - set(found)
    if missing:
        found.update({(f["id"], f["version"]): f for f in _builtin() if (f["id"], f["version"]) in missing})
    return found


def write(conn: sqlite3.Connection, records: Iterable[dict]) -> int:
    """Write the rows of newly stored ``records`` (inside the caller's write transaction); the rows written.

    A row already there is kept (``INSERT OR IGNORE``), so writing a record twice writes its rows once.
    """
    records = [r for r in records if r.get("form") in FLATTENERS]
    if not records:
        return 0
    forms = _forms(conn, {(r["form"], r["form_version"]) for r in records})
    batch: dict[str, list[tuple]] = {}
    for r in records:
        for table, rows_ in flatten(r, forms.get((r["form"], r["form_version"]))).items():
            batch.setdefault(table, []).extend(rows_)
    written = 0
    for table in TABLES:
        if batch.get(table):
            written += conn.executemany(_INSERT[table], batch[table]).rowcount
    return written


def backfill(conn: sqlite3.Connection) -> int:
    """Write the rows of stored records that have none yet (inside the caller's write transaction); the rows
    written. For an interview stored before its form version was published: ``store.write(rows.backfill)``."""
    from .records import _envelope

    forms = ", ".join("?" * len(FLATTENERS))
    missing = dicts(conn, f"SELECT * FROM records WHERE form IN ({forms}) AND instance_id NOT IN "
                          "(SELECT instance_id FROM visits UNION ALL SELECT instance_id FROM respondents) "
                          "ORDER BY rowid", list(FLATTENERS))
    return write(conn, [_envelope(r) for r in missing])


def sync_ends(conn: sqlite3.Connection, device: str) -> None:
    """Give the rows of ``device``'s records their record's ``end`` again (after a clock correction)."""
    for table in TABLES:
        conn.execute(f'UPDATE {table} SET "end" = r."end" FROM records AS r WHERE r.instance_id = {table}.instance_id '
                     f'AND {table}.device = ? AND {table}."end" != r."end"', [device])


# ------------------------------------------------------------------ reads

def rows(conn: sqlite3.Connection, table: str, form: str | None = None, wave: str | None = None) -> list[dict]:
    """Rows of one of :data:`TABLES`, of one form and wave or all, by end time and instance id.

    Examples
    --------
    >>> from tiesense.store import Store
    >>> Store(":memory:").read(rows, "tie_reports", wave="1")
    []
    """
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; the analysable tables are {', '.join(TABLES)}")
    where, params = [], []
    for col, val in (("form", form), ("wave", wave)):
        if val is not None:
            where.append(f"{col} = ?")
            params.append(str(val))
    order = {"tie_reports": ', "pass"', "alter_pairs": ", pass_a, pass_b"}.get(table, "")
    return dicts(conn, f"SELECT * FROM {table}" + (" WHERE " + " AND ".join(where) if where else "")
                 + f' ORDER BY "end", instance_id{order}', params)


#: What :func:`ties_reported` reads of each tie report, in order.
TIE_FIELDS = ("respondent_org", "partner_org", "frequency", "since_year", "closeness", "trust", "multiplexity",
              "reciprocity", "knowledge_flow", "initiated", "end", "form", "form_version")


def ties_reported(conn: sqlite3.Connection, instance_ids: Iterable[str] | None = None) -> list[tuple]:
    """Tie reports between two roster organisations (:data:`TIE_FIELDS`), every one or those of
    ``instance_ids``, by end time, record and pass; self-reports and partners not on the roster left out."""
    sql = ("SELECT " + ", ".join(f'"{c}"' for c in TIE_FIELDS) + " FROM tie_reports WHERE respondent_org IS NOT NULL"
           " AND partner_org IS NOT NULL AND respondent_org != partner_org")
    params: list = []
    if instance_ids is not None:
        params = list(instance_ids)
        if not params:
            return []
        sql += f" AND instance_id IN ({', '.join('?' * len(params))})"
    return conn.execute(sql + ' ORDER BY "end", instance_id, "pass"', params).fetchall()


def forms_of(conn: sqlite3.Connection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """The device forms of ``keys`` (form id, version): published ones, else the built-in instruments."""
    return _forms(conn, set(keys))


def respondent_orgs(conn: sqlite3.Connection) -> list[int]:
    """The roster codes that answered at least one interview, either instrument, sorted."""
    return [r[0] for r in conn.execute("SELECT DISTINCT respondent_org FROM respondents WHERE respondent_org "
                                       "IS NOT NULL ORDER BY respondent_org")]


def checkins(conn: sqlite3.Connection) -> list[dict]:
    """Visits as check-ins: ``org`` (a roster code), ``device`` (the kiosk, a place) and ``end``, by time.

    Visitors not on the roster are left out: co-presence is between organisations of the roster.
    """
    return dicts(conn, 'SELECT visitor_org AS org, device, "end", wave FROM visits WHERE visitor_org IS NOT NULL '
                       'ORDER BY "end", instance_id')


def tie_changes(conn: sqlite3.Connection, before: str, after: str) -> dict[str, list[tuple[int, int]]]:
    """Reported ties between two waves: ``new``, ``lost`` and ``kept`` dyads ``(u, v)``, ``u < v``, sorted.

    A dyad is a pair of roster codes one of them reported in that wave (either direction); ties to
    partners not on the roster have no code and are left out.
    """
    def dyads(wave: str) -> set[tuple[int, int]]:
        got = conn.execute("SELECT DISTINCT min(respondent_org, partner_org), max(respondent_org, partner_org) "
                           "FROM tie_reports WHERE wave = ? AND respondent_org IS NOT NULL AND partner_org IS NOT NULL "
                           "AND respondent_org != partner_org", [str(wave)]).fetchall()
        return {(u, v) for u, v in got}

    a, b = dyads(before), dyads(after)
    return {"new": sorted(b - a), "lost": sorted(a - b), "kept": sorted(a & b)}
