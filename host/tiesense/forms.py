"""Device forms on the host: the built-in instruments, look-up by (id, version), answer checks.

A device form is the compiled JSON a kiosk runs (``instruments/*.json``, or
an XLSForm compiled by :mod:`tiesense.xlsform`, docs/forms.md): an ``id``, a
``version`` and ``questions``, each with ``name``, ``type`` (``select_one``,
``select_multiple``, ``range``, ``integer``, ``note``, ``calculate``, and
from compiled forms ``decimal``, ``acknowledge``, ``text``, ``date``, the
metadata types and ``repeat``), ``required``, and ``choices`` (or ``list``,
the name of a choice list the form's ``lists`` holds once for every select
that uses it: :func:`choices_of` resolves either) or ``start``/``end``/``step``.
The host checks every record's answers against the exact form version the
device declared; a form id and version, once published, never changes.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

__all__ = ["INSTRUMENTS", "FormError", "FormRegistry", "load_form", "builtin_forms", "validate_answers", "choices_of"]

INSTRUMENTS = Path(__file__).resolve().parent / "instruments"

# Question types that take no answer from the respondent.
_NO_ANSWER = ("note",)


class FormError(ValueError):
    """A form file that lacks what the host needs to check records against it."""


def _check_form(form: Any, where: str) -> dict:
    if not isinstance(form, dict):
        raise FormError(f"{where}: a form must be a JSON object")
    for k in ("id", "version", "questions"):
        if k not in form:
            raise FormError(f"{where}: form lacks '{k}'")
    if not isinstance(form["id"], str) or not isinstance(form["version"], str):
        raise FormError(f"{where}: form 'id' and 'version' must be strings")
    if not isinstance(form["questions"], list):
        raise FormError(f"{where}: form 'questions' must be a list")
    names = set()
    for i, q in enumerate(form["questions"]):
        if not isinstance(q, dict) or not isinstance(q.get("name"), str) or not isinstance(q.get("type"), str):
            raise FormError(f"{where}: question {i} needs a 'name' and a 'type'")
        if q["name"] in names:
            raise FormError(f"{where}: question name '{q['name']}' appears twice")
        names.add(q["name"])
    return form


def load_form(path: str | Path) -> dict:
    """Read one compiled device form from a JSON file.

    Raises
    ------
    FormError
        If the file is not a form (no id, version or questions list).
    """
    path = Path(path)
    try:
        form = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise FormError(f"{path}: {e}") from None
    return _check_form(form, str(path))


def builtin_forms() -> list[dict]:
    """The instruments shipped with tiesense (``host/tiesense/instruments/*.json``), sorted by file name.

    A version devices in the field may still run stays shipped beside the newest (``<id>-<version>.json``),
    so their records are read against the layout they were answered on.

    Examples
    --------
    >>> for f in builtin_forms():
    ...     print(f["id"], f["version"])
    fi_interview 2026113001
    fi_interview 2026120101
    fi_partner 2026112401
    tp_presence 2026113001
    tp_visit 2026112401
    """
    return [load_form(p) for p in sorted(INSTRUMENTS.glob("*.json"))]


def builtin_form(form_id: str) -> dict:
    """The built-in instrument ``form_id`` (its newest shipped version).

    Examples
    --------
    >>> builtin_form("tp_visit")["questions"][0]["name"]
    'facility'
    """
    found = [f for f in builtin_forms() if f["id"] == form_id]
    if not found:
        raise FormError(f"no built-in form '{form_id}'; shipped: {', '.join(f['id'] for f in builtin_forms())}")
    return max(found, key=lambda f: (len(f["version"]), f["version"]))


class FormRegistry:
    """Forms the host knows, looked up by ``(form_id, version)``.

    Old versions stay registered: a record filled in on a form version that has
    since been replaced is still checked against the version it was answered on.
    """

    def __init__(self, forms: Iterable[dict] = ()):
        self._forms: dict[tuple[str, str], dict] = {}
        for f in forms:
            self.add(f)

    @classmethod
    def builtin(cls) -> "FormRegistry":
        """A registry holding the built-in instruments."""
        return cls(builtin_forms())

    def add(self, form: dict) -> None:
        """Register ``form`` under its id and version (replacing nothing already there)."""
        form = _check_form(form, "form")
        self._forms.setdefault((form["id"], form["version"]), form)

    def get(self, form_id: str, version: str) -> dict | None:
        """The form with this id and version, or None."""
        return self._forms.get((form_id, version))

    def versions(self, form_id: str) -> list[str]:
        """Registered versions of ``form_id``, sorted."""
        return sorted(v for (i, v) in self._forms if i == form_id)

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._forms

    def __iter__(self):
        return iter(list(self._forms.values()))

    def __len__(self) -> int:
        return len(self._forms)

    def problem(self, form_id: str, version: str) -> str | None:
        """Why ``(form_id, version)`` cannot be checked, or None if it is known."""
        if (form_id, version) in self._forms:
            return None
        known = self.versions(form_id)
        if not known:
            return f"unknown form '{form_id}'"
        return f"unknown version '{version}' of form '{form_id}' (known: {', '.join(known)})"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def choices_of(form: dict, q: dict) -> list:
    """The choices of select ``q`` of ``form``: its own ``choices``, or the form's shared list it names.

    Examples
    --------
    >>> form = {"lists": {"org": [{"name": "101"}, {"name": "102"}]}, "questions": [
    ...     {"name": "me", "type": "select_one", "list": "org"},
    ...     {"name": "ok", "type": "select_one", "choices": [{"name": "yes"}]}]}
    >>> [c["name"] for c in choices_of(form, form["questions"][0])], choices_of(form, form["questions"][1])
    (['101', '102'], [{'name': 'yes'}])
    >>> choices_of(form, {"name": "age", "type": "integer"})
    []
    """
    if "list" not in q:
        return q.get("choices") or []
    lists = form.get("lists") if isinstance(form, dict) else None
    if not isinstance(lists, dict) or q["list"] not in lists:
        raise FormError(f"question '{q.get('name')}' names the choice list '{q['list']}' that its form does not"
                        " hold in 'lists': compile the form again with tiesense forms compile")
    return lists[q["list"]]


def _choice_names(form: dict, q: dict) -> frozenset:
    return frozenset(c.get("name") if isinstance(c, dict) else c for c in choices_of(form, q))


# Per form: question name -> (question, its choice names). Forms are immutable once
# published, so this is computed once per form object; keyed by id() with the form
# kept alongside, so a reused id is never mistaken for another form.
_PREPARED: dict[int, tuple[dict, dict[str, tuple[dict, frozenset]]]] = {}


def _prepared(form: dict) -> dict[str, tuple[dict, frozenset]]:
    hit = _PREPARED.get(id(form))
    if hit is not None and hit[0] is form:
        return hit[1]
    questions = {q["name"]: (q, _choice_names(form, q)) for q in form["questions"]}
    if len(_PREPARED) > 1000:
        _PREPARED.clear()
    _PREPARED[id(form)] = (form, questions)
    return questions


def _check_answer(form: dict, q: dict, v: Any, choices: frozenset) -> str | None:
    name, kind = q["name"], q["type"]
    if kind == "select_one":
        if not isinstance(v, str):
            return f"'{name}' (select_one) must be one choice name, got {json.dumps(v)}"
        if v not in choices:
            return f"'{name}': choice '{v}' is not in the list"
    elif kind == "select_multiple":
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            return f"'{name}' (select_multiple) must be a list of choice names, got {json.dumps(v)}"
        bad = [x for x in v if x not in choices]
        if bad:
            return f"'{name}': choice '{bad[0]}' is not in the list"
        if len(set(v)) != len(v):
            return f"'{name}': a choice is selected twice"
        cap = q.get("max_selected")
        if _is_int(cap) and len(v) > cap:
            return f"'{name}': {len(v)} choices selected, at most {cap} allowed"
    elif kind == "range":
        if not _is_int(v):
            return f"'{name}' (range) must be an integer, got {json.dumps(v)}"
        start, end, step = q.get("start", 0), q.get("end", 10), q.get("step", 1)
        lo, hi = min(start, end), max(start, end)
        if not lo <= v <= hi:
            return f"'{name}': {v} is out of range {start}..{end}"
        if step and (v - start) % step:
            return f"'{name}': {v} is not on a step of {step} from {start}"
    elif kind in ("integer", "decimal"):  # a decimal is an integer number of thousandths (docs/forms.md)
        if not _is_int(v):
            return f"'{name}' ({kind}) must be an integer, got {json.dumps(v)}"
        lo, hi = q.get("min"), q.get("max")
        if _is_int(lo) and v < lo or _is_int(hi) and v > hi:
            return f"'{name}': {v} is out of range {lo}..{hi}"
    elif kind in ("start", "end"):
        if not _is_int(v) or v < 0:
            return f"'{name}' ({kind}) must be epoch seconds, got {json.dumps(v)}"
    elif kind in _TEXT:
        if not isinstance(v, str):
            return f"'{name}' ({kind}) must be text, got {json.dumps(v)}"
        if kind == "acknowledge" and v != "OK":
            return f"'{name}' (acknowledge) must be \"OK\" or null, got {json.dumps(v)}"
    elif kind == "repeat":
        return _check_passes(form, q, v)
    elif kind in _NO_ANSWER:
        return f"'{name}' is a {kind} and takes no answer"
    return None


# Types of compiled forms (tiesense.xlsform) whose answers are text.
_TEXT = ("text", "date", "today", "deviceid", "calculate", "acknowledge")


def _check_passes(form: dict, q: dict, v: Any) -> str | None:
    """A repeat's answer: at most ``max`` passes, each the positional answers of its questions."""
    name = q["name"]
    inner = [c for c in q.get("questions", []) if c.get("type") not in _NO_ANSWER]
    if not isinstance(v, list) or not all(isinstance(p, list) and len(p) == len(inner) for p in v):
        return f"'{name}' (repeat) must be a list of passes of {len(inner)} answers each, got {json.dumps(v)}"
    cap = q.get("max")
    if _is_int(cap) and len(v) > cap:
        return f"'{name}': {len(v)} passes, at most {cap} allowed"
    for k, answers in enumerate(v, 1):
        for c, a in zip(inner, answers):
            p = None if a is None else _check_answer(form, c, a, _choice_names(form, c))
            if p:
                return f"'{name}' pass {k}: {p}"
    return None


def validate_answers(form: dict, answers: Any) -> list[str]:
    """Problems with ``answers`` under ``form``; an empty list means they fit.

    Checks: every answer names a question of the form; every required question
    is answered (not null) unless the question has a ``relevant`` condition,
    which the device evaluates and may skip; a select_one answer is one listed
    choice name; a select_multiple answer is a list of distinct listed choice
    names (at most ``max_selected`` if the form sets it); a range answer is an
    integer within ``start``..``end`` on a ``step`` from ``start``; an integer
    answer is an integer (within ``min``..``max`` if the form sets them).
    Compiled forms (docs/forms.md) add: a decimal is an integer number of
    thousandths; ``start``/``end`` are epoch seconds; text, date, today,
    deviceid and calculate answers are text, an acknowledge is ``"OK"``; a
    repeat is a list of at most ``max`` passes, each checked like a record.
    A question whose ``required`` is an expression (``required_if``) is not
    required here: only the device knows whether it applied.

    Parameters
    ----------
    form : dict
        A compiled device form.
    answers : dict
        Question name to answer, as carried in a record's ``answers``.

    Returns
    -------
    list of str
        One line per problem, naming the question.

    Examples
    --------
    >>> form = {"id": "f", "version": "1", "questions": [
    ...     {"name": "score", "type": "range", "required": True, "start": 1, "end": 5, "step": 1}]}
    >>> validate_answers(form, {"score": 3})
    []
    >>> validate_answers(form, {"score": 9, "mood": "ok"})
    ["unknown question 'mood'", "'score': 9 is out of range 1..5"]
    >>> loop = {"id": "f", "version": "1", "questions": [{"name": "each", "type": "repeat", "max": 2, "questions": [
    ...     {"name": "n", "type": "note"}, {"name": "hours", "type": "decimal", "max": 12500}]}]}
    >>> validate_answers(loop, {"each": [[2500], [None]]}), validate_answers(loop, {"each": [[13000]]})
    ([], ["'each' pass 1: 'hours': 13000 is out of range None..12500"])
    """
    if not isinstance(answers, dict):
        return ["answers must be a JSON object"]
    questions = _prepared(form)
    problems = [f"unknown question '{k}'" for k in answers if k not in questions]
    for name, (q, choices) in questions.items():
        v = answers.get(name)
        if v is None:
            if q.get("required") and "relevant" not in q and q["type"] not in _NO_ANSWER + ("calculate",):
                problems.append(f"required question '{name}' is not answered")
            continue
        p = _check_answer(form, q, v, choices)
        if p:
            problems.append(p)
    return problems


def _resolved(form: dict, q: dict) -> dict:
    """``q`` itself, or when it (or a repeat's question) names a shared list a shallow copy carrying
    that list as ``choices``."""
    inner = q.get("questions")
    if "list" not in q and not (isinstance(inner, list) and any(isinstance(c, dict) and ("list" in c or "questions" in c)
                                                              for c in inner)):
        return q
    out = {k: v for k, v in q.items() if k != "list"}
    if "list" in q:
        out["choices"] = choices_of(form, q)
    if isinstance(inner, list):
        out["questions"] = [_resolved(form, c) if isinstance(c, dict) else c for c in inner]
    return out


def form_questions(forms: Iterable[dict], form_id: str) -> list[dict]:
    """The questions of every version of ``form_id`` that take an answer, each name once.

    The newest version's order comes first, then questions only older versions
    had (an export spanning versions has a column for each). A question keeps
    the newest version's definition (type, label, choices). A question that names a shared
    choice list (``list``) comes with ``choices`` resolved against its own version's form
    (the same list object, not a copy), so callers read ``choices`` whatever the format.

    Examples
    --------
    >>> old = {"id": "f", "version": "1", "questions": [{"name": "a", "type": "integer"},
    ...                                                 {"name": "gone", "type": "integer"}]}
    >>> new = {"id": "f", "version": "2", "questions": [{"name": "n", "type": "note"},
    ...                                                 {"name": "b", "type": "integer"}, {"name": "a", "type": "integer"}]}
    >>> [q["name"] for q in form_questions([old, new], "f")]
    ['b', 'a', 'gone']
    """
    versions = sorted((f for f in forms if f.get("id") == form_id),
                      key=lambda f: (len(f["version"]), f["version"]), reverse=True)
    out: dict[str, dict] = {}
    for f in versions:
        for q in f["questions"]:
            if q.get("type") not in _NO_ANSWER and q["name"] not in out:
                out[q["name"]] = _resolved(f, q)
    return list(out.values())
