"""Survey tables shaped like ODK Central and KoboToolbox exports, for CSV and XLSX.

One table per form, and for the interview its parent: ``tp_visit`` (one row
per visit), ``respondents`` (one row per respondent organisation of either
interview instrument, the parent) and ``fi_partner`` (one row per partner
named, the repeat, whose ``PARENT_KEY`` is its respondent's ``KEY``). Another form with records gets
a table of its own, and one more per repeat (``fi_interview-partner_loop``: a
row per pass, ``PARENT_KEY`` the record's ``KEY``, as ODK Central exports
repeats). A table spans every version of its form: a column for each
question any version asked, the newest version's order first, empty where a
record's version lacked it.

Columns follow ODK Central's CSV: ``SubmissionDate`` (when the host stored
it), ``start``, ``end``, ``deviceid``, the questions, ``meta-instanceID`` and
``KEY``. A select_multiple answer is one column of choice names separated by
spaces, then one 0/1 column per choice (``tie_types/traded``). With
``labels``, headers are question labels and select answers choice labels in
``lang`` (Kobo's "labels" export); otherwise names and codes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from .. import wire
from ..aggregates import all_forms
from ..forms import form_questions
from ..store import Store, analysable
from ..store.analysable import INTERVIEW_FORM

__all__ = ["Table", "survey_tables", "cells_table", "CHUNK"]

#: Rows read from the store at a time.
CHUNK = 2000


@dataclass
class Table:
    """One sheet: ``name``, header ``columns``, ``count`` rows produced by ``rows()``."""

    name: str
    columns: list[str]
    count: int
    rows: Callable[[], Iterator[list]]


def _label(obj: dict, lang: str) -> str | None:
    lab = obj.get("label")
    if isinstance(lab, dict):
        return lab.get(lang) or next(iter(lab.values()), None)
    return lab if isinstance(lab, str) else None


class _Columns:
    """The question columns of one form: headers, and how a row's answers become cells."""

    def __init__(self, questions: list[dict], labels: bool, lang: str):
        self.questions, self.labels, self.lang = questions, labels, lang
        self.headers: list[str] = []
        self.choice_label: dict[str, dict] = {}
        for q in questions:
            head = (_label(q, lang) or q["name"]) if labels else q["name"]
            self.headers.append(head)
            choices = [c for c in q.get("choices") or [] if isinstance(c, dict)]
            self.choice_label[q["name"]] = {c["name"]: _label(c, lang) or c["name"] for c in choices}
            if q["type"] == "select_multiple":
                for c in choices:
                    self.headers.append(f"{head}/{self.choice_label[q['name']][c['name']] if labels else c['name']}")

    def names(self) -> list[str]:
        return [q["name"] for q in self.questions]

    def multi(self) -> list[str]:
        return [q["name"] for q in self.questions if q["type"] == "select_multiple"]

    def cells(self, row: dict) -> list:
        out = []
        for q in self.questions:
            v, name = row.get(q["name"]), q["name"]
            look = self.choice_label[name] if self.labels else {}
            if q["type"] == "select_multiple":
                chosen = v or []
                out.append(None if v is None else " ".join(str(look.get(c, c)) for c in chosen))
                out.extend(None if v is None else int(c in chosen) for c in self.choice_label[name])
            elif q["type"] == "select_one" and v is not None:
                out.append(look.get(v, v))
            else:
                out.append(v)
        return out


_HEAD = ["SubmissionDate", "start", "end", "deviceid", "site", "form_version"]
_TAIL = ["meta-instanceID", "KEY"]


def _chunks(store: Store, fn, *args, count: int, **kwargs) -> Iterator[dict]:
    for offset in range(0, count, CHUNK):
        rows, _ = store.read(fn, *args, limit=CHUNK, offset=offset, **kwargs)
        yield from rows


def _form_tables(store: Store, form: str, questions: list[dict], labels: bool, lang: str, filters) -> list[Table]:
    """The form's table, then one per repeat (ODK's: a row per pass, ``PARENT_KEY`` its record's ``KEY``,
    ``KEY`` the record's with ``/repeat[n]``); none for a form without records."""
    _, count = store.read(analysable.form_rows, form, [], (), filters, 0, 0)
    if not count:
        return []
    repeats = [q for q in questions if q["type"] == "repeat"]
    cols = _Columns([q for q in questions if q["type"] != "repeat"], labels, lang)
    read = cols.names() + [q["name"] for q in repeats]
    decode = cols.multi() + [q["name"] for q in repeats]

    def records():
        return _chunks(store, analysable.form_rows, form, read, decode, filters, count=count)

    def rows():
        for r in records():
            yield ([r["received_at"], r["start"], r["end"], r["device"], r["site"], r["form_version"]]
                   + cols.cells(r) + [r["instance_id"], r["instance_id"]])

    out = [Table(form, _HEAD + cols.headers + _TAIL, count, rows)]
    for rq in repeats:
        inner = [q for q in rq.get("questions") or [] if q.get("type") not in ("note", "repeat")]
        names = wire.answer_fields(rq)
        child = _Columns(inner, labels, lang)
        n = sum(len(r[rq["name"]] or []) for r in records())

        def passes(rq=rq, names=names, child=child):
            for r in records():
                for i, values in enumerate(r[rq["name"]] or [], 1):
                    d = dict(zip(names, values)) if isinstance(values, list) else {}
                    yield child.cells(d) + [r["instance_id"], f"{r['instance_id']}/{rq['name']}[{i}]"]

        out.append(Table(f"{form}-{rq['name']}", child.headers + ["PARENT_KEY", "KEY"], n, passes))
    return out


def _respondent_key(code) -> str:
    return f"respondent:{code}"


def survey_tables(store: Store, *, labels: bool = False, lang: str = "en", names: bool = True,
                  filters: analysable.Filters = analysable.Filters()) -> list[Table]:
    """Every table of the export (see the module's docstring); ``names`` adds organisation names."""
    forms = all_forms(store)
    out = []
    for form in sorted({f["id"] for f in forms}):
        questions = form_questions(forms, form)
        if form != INTERVIEW_FORM:
            out.extend(_form_tables(store, form, questions, labels, lang, filters))
            continue
        cols = _Columns(questions, labels, lang)
        # the parent: one row per respondent organisation
        _, n_resp = store.read(analysable.respondents, filters, 0, 0)
        resp_cols = ["KEY", "respondent_org"] + (["name"] if names else []) + [
            "actor_type", "region", "sector", "size", "reports", "partners", "first_interview", "last_interview"]

        def resp_rows(n=n_resp):
            for r in _chunks(store, analysable.respondents, filters, count=n):
                yield ([_respondent_key(r["code"]), r["code"]] + ([r["name"]] if names else [])
                       + [r["actor_type"], r["region"], r["sector"], r["size"], r["reports"], r["partners"],
                          r["first_interview"], r["last_interview"]])

        out.append(Table("respondents", resp_cols, n_resp, resp_rows))
        # the tie reports of fi_partner: its questions are columns of the tie_reports rows, with the same values
        _, n_ties = store.read(analysable.tie_rows, filters, 0, 0, form=form)
        org_cols = (["respondent_name", "partner_name"] if names else []) + ["respondent_actor_type",
                                                                             "partner_actor_type"]

        def tie_rows(n=n_ties, cols=cols, form=form):
            for r in _chunks(store, analysable.tie_rows, filters, count=n, form=form):
                yield ([r["received_at"], r["start"], r["end"], r["device"], r["site"], r["form_version"]]
                       + ([r["respondent_name"], r["partner_name"]] if names else [])
                       + [r["respondent_actor_type"], r["partner_actor_type"]] + cols.cells(r)
                       + [r["instance_id"], r["instance_id"], _respondent_key(r["respondent_org"])])

        out.append(Table(form, _HEAD + org_cols + cols.headers + _TAIL + ["PARENT_KEY"], n_ties, tie_rows))
    return out


def cells_table(name: str, cells: list[dict]) -> Table:
    """A table of aggregate cells (:mod:`tiesense.aggregates`), for a viewer's export."""
    columns = list(cells[0]) if cells else ["key", "suppressed"]
    return Table(name, columns, len(cells), lambda: iter([[c.get(k) for k in columns] for c in cells]))
