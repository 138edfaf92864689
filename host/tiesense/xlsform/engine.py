"""The form engine's reference: a compiled form interviewed on the host, as a device interviews it.

``firmware/form.py`` runs compiled forms on the kiosks and handhelds;
this module is the same engine written for clarity on :mod:`tiesense.xlsform.vm`,
used to replay answer scripts and to check records. ``tests/test_form_engine.py``
runs generated scripts through both (the firmware under the real ``micropython``)
and requires identical positions, messages, views, records and snapshots.

The semantics (docs/forms.md, "On the device"):

* After every change the answers are **settled** in one pass in form order.
  A question that is not relevant is empty (``None``) in the record, while the
  answer given is kept, so making it relevant again shows it. A calculate
  stores XPath ``string()`` of its program; metadata (``start``, ``end``,
  ``today``, ``deviceid``) comes from the interview's ``meta``. A repeat has
  ``count`` passes (the whole part, clamped to ``0..max``), each settled the
  same way in its own row. An expression referring to a later question sees
  that question's answer as given (or a later calculate's previous value).
* **Navigation** walks the shown positions (relevant questions that are not
  calculates, metadata or repeats; inside a repeat, one position per pass and
  shown question) in form order. ``next()`` refuses with the required or
  constraint message; leaving the last position checks every shown answer
  again and stops at the first that fails.
* ``set(value)`` refuses a value outside the question's domain or its
  constraint, saying why, and stores nothing then.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterator, NamedTuple

from .. import wire
from ..forms import choices_of
from . import vm

__all__ = ["Position", "Interview", "Messages", "SNAPSHOT_FORMAT"]

SNAPSHOT_FORMAT = 1
META_TYPES = frozenset({"start", "end", "today", "deviceid"})
HIDDEN_TYPES = META_TYPES | {"calculate", "repeat"}
WHOLE_NUMBER_TYPES = frozenset({"integer", "range", "start", "end"})


class Messages:
    """The texts shown when a form gives none of its own."""

    REQUIRED = "Answer required"
    NOT_ALLOWED = "Answer not allowed"
    NOT_A_CHOICE = "Not one of the choices"
    WHOLE_NUMBER = "Enter a whole number"
    NUMBER = "Enter a number"
    TEXT = "Enter text"
    DATE = "Enter a date as YYYY-MM-DD"
    ACKNOWLEDGE = "Press OK to go on"
    NOTHING = "Nothing to answer here"

    @staticmethod
    def range(q: dict) -> str:
        return f"Choose from {q['start']} to {q['end']}"


class Position(NamedTuple):
    """Where an interview stands: a top-level question, the repeat pass (0 outside a repeat) and the question in it."""

    question: int
    pass_: int = 0
    inner: int = 0


def localized(texts: dict | str | None, lang: str) -> str:
    """``texts`` in ``lang``, else English, else the first language by code."""
    if isinstance(texts, str):
        return texts
    if not texts:
        return ""
    return texts.get(lang) or texts.get("en") or texts[min(texts)]


def as_label_text(value: Any, qtype: str) -> str:
    """How ``${name}`` shows a stored value in a label."""
    if value is None:
        return ""
    if qtype in WHOLE_NUMBER_TYPES:
        return str(value)
    if qtype == "decimal":
        return vm.to_decimal_text(value)
    return vm.string(value)


def is_iso_date(text: str) -> bool:
    """YYYY-MM-DD with a month 1..12 and a day 1..31 (what a date question takes)."""
    parts = text.split("-")
    if len(text) != 10 or [len(p) for p in parts] != [4, 2, 2] or not all(p.isdigit() and p.isascii() for p in parts):
        return False
    return 1 <= int(parts[1]) <= 12 and 1 <= int(parts[2]) <= 31


def _answer_positions(questions: list[dict]) -> dict[int, int]:
    """Question index -> its position among the answers (notes take none)."""
    taking = [k for k, q in enumerate(questions) if q["type"] != "note"]
    return {k: n for n, k in enumerate(taking)}


@dataclass
class _Pass:
    values: list  # effective answers of this pass
    relevant: list[bool]  # per question of the repeat


@dataclass
class Interview:
    """One interview of a compiled ``form``: answers given, where it stands, and the record they make.

    Examples
    --------
    >>> form = {"id": "f", "version": "1", "questions": [
    ...     {"name": "n", "type": "integer", "required": True, "label": {"en": "How many?"}},
    ...     {"name": "who", "type": "text", "required": False, "label": {"en": "Who, of ${n}?"},
    ...      "relevant": ["$", 0, "i", 1000, ">"]}]}
    >>> iv = Interview(form, {"start": 0})
    >>> iv.next(), iv.set(3), iv.next(), iv.current()["label"]
    ('Answer required', None, None, 'Who, of 3?')
    >>> iv.next(), iv.done, iv.record_answers()
    (None, True, [3, None])
    """

    form: dict
    meta: dict
    lang: str = "en"
    given: list = field(init=False)  # answers as given (calculates and metadata: as last settled)
    values: list = field(init=False)  # effective answers: what the record holds
    position: Position = field(init=False)
    _relevant: list[bool] = field(init=False)
    _passes: dict[int, list[_Pass]] = field(init=False)

    def __post_init__(self) -> None:
        self.meta = dict(self.meta)
        questions = self.form["questions"]
        self._slot = _answer_positions(questions)
        self._inner_slot = {k: _answer_positions(q["questions"]) for k, q in enumerate(questions)
                            if q["type"] == "repeat"}
        self._by_name: dict[str, tuple[int | None, int, str]] = {}
        for k, q in enumerate(questions):
            if k in self._slot:
                self._by_name[q["name"]] = (None, self._slot[k], q["type"])
            for j, c in enumerate(q.get("questions", []) if q["type"] == "repeat" else []):
                if j in self._inner_slot[k]:
                    self._by_name[c["name"]] = (k, self._inner_slot[k][j], c["type"])
        self._selects = {q["name"]: q for top in questions for q in [top, *top.get("questions", [])]
                         if q["type"] in ("select_one", "select_multiple")}
        self.given = [[] if q["type"] == "repeat" else None for k, q in enumerate(questions) if k in self._slot]
        self._settle()
        self.position = next(self.positions(), self._end)

    # ------------------------------------------------------------------ settling

    @property
    def _end(self) -> Position:
        return Position(len(self.form["questions"]))

    def _settle(self) -> None:
        """Recompute relevance, calculates, metadata and repeat passes, in form order."""
        self.values = values = list(self.given)
        self._relevant = []
        self._passes = {}
        for k, q in enumerate(self.form["questions"]):
            relevant = "relevant" not in q or vm.truth(vm.run(q["relevant"], vm.Context(top=values)))
            self._relevant.append(relevant)
            slot = self._slot.get(k)
            if slot is None:
                continue
            if q["type"] == "repeat":
                self._passes[k] = self._settle_repeat(k, q, values) if relevant else []
                values[slot] = [p.values for p in self._passes[k]] if relevant else None
            else:
                values[slot] = self._settled_value(q, relevant, self.given, slot, vm.Context(top=values))

    def _choice_label(self, select: str, value: Any) -> str:
        """jr:choice-name(): the label, in this interview's language, of ``value`` among the choices of the
        select named ``select`` (empty when no choice has that name)."""
        name = vm.string(value).strip()
        for c in choices_of(self.form, self._selects[select]) if select in self._selects else ():
            if c["name"] == name:
                return localized(c.get("label"), self.lang)
        return ""

    def _settled_value(self, q: dict, relevant: bool, given: list, slot: int, ctx: vm.Context) -> Any:
        """The effective value of one question; keeps ``given`` in step for calculates and metadata."""
        if not relevant:
            if q["type"] in HIDDEN_TYPES:
                given[slot] = None
            return None
        if q["type"] == "calculate":
            given[slot] = vm.string(vm.run(q["calculation"], vm.Context(top=ctx.top, row=ctx.row, dot=given[slot],
                                                                        pos=ctx.pos, label=self._choice_label)))
        elif q["type"] in META_TYPES:
            given[slot] = self.meta.get(q["type"])
        return given[slot]

    def _settle_repeat(self, k: int, q: dict, values: list) -> list[_Pass]:
        count = vm.number(vm.run(q["count"], vm.Context(top=values)))
        n = 0 if count is None else vm._trunc_div(count, vm.UNIT)
        n = min(max(n, 0), q["max"])
        rows = self.given[self._slot[k]]
        width = len(self._inner_slot[k])
        rows.extend([None] * width for _ in range(n - len(rows)))
        passes = []
        for number, given_row in enumerate(rows[:n], 1):
            row = list(given_row)
            relevance = []
            for j, c in enumerate(q["questions"]):
                ctx = vm.Context(top=values, row=row, pos=number)
                relevant = "relevant" not in c or vm.truth(vm.run(c["relevant"], ctx))
                relevance.append(relevant)
                if j in self._inner_slot[k]:
                    slot = self._inner_slot[k][j]
                    row[slot] = self._settled_value(c, relevant, given_row, slot, ctx)
            passes.append(_Pass(row, relevance))
        return passes

    # ----------------------------------------------------------------- positions

    def positions(self) -> Iterator[Position]:
        """Every shown position, in form order."""
        for k, q in enumerate(self.form["questions"]):
            if q["type"] == "repeat":
                for number, p in enumerate(self._passes[k], 1):
                    yield from (Position(k, number, j) for j, c in enumerate(q["questions"])
                                if p.relevant[j] and c["type"] not in HIDDEN_TYPES)
            elif self._relevant[k] and q["type"] not in HIDDEN_TYPES:
                yield Position(k)

    @property
    def done(self) -> bool:
        return self.position.question >= len(self.form["questions"])

    def _at(self, p: Position) -> tuple[dict, list | None, int | None, vm.Context]:
        """The question at ``p``, its pass's values (None outside a repeat), its answer slot and its context."""
        q = self.form["questions"][p.question]
        if not p.pass_:
            return q, None, self._slot.get(p.question), vm.Context(top=self.values)
        row = self._passes[p.question][p.pass_ - 1].values
        return (q["questions"][p.inner], row, self._inner_slot[p.question].get(p.inner),
                vm.Context(top=self.values, row=row, pos=p.pass_))

    def _value_at(self, p: Position) -> Any:
        q, row, slot, _ = self._at(p)
        return None if slot is None else (self.values if row is None else row)[slot]

    # ---------------------------------------------------------------------- view

    def _fill(self, text: str, row: list | None) -> str:
        """``${name}`` in a label replaced by the value it names (a repeat's own names: this pass's)."""
        def value_of(name: str) -> str | None:
            if name not in self._by_name:
                return None
            repeat, slot, qtype = self._by_name[name]
            if repeat is None:
                return as_label_text(self.values[slot], qtype)
            if row is not None and repeat == self.position.question:
                return as_label_text(row[slot], qtype)
            return ""

        out, rest = [], text
        while (start := rest.find("${")) >= 0 and (stop := rest.find("}", start + 2)) >= 0:
            shown = value_of(rest[start + 2:stop])
            out.append(rest[:stop + 1] if shown is None else rest[:start] + shown)
            rest = rest[stop + 1:]
        return "".join(out) + rest

    def current(self) -> dict | None:
        """The question shown now (name, type, label, hint, value, pass, passes, question), or None when done."""
        if self.done:
            return None
        q, row, slot, ctx = self._at(self.position)
        view = {"name": q["name"], "type": q["type"], "question": q,
                "label": self._fill(localized(q.get("label"), self.lang), row),
                "hint": self._fill(localized(q.get("hint"), self.lang), row),
                "value": self._value_at(self.position), "pass": self.position.pass_, "passes": 0}
        if self.position.pass_:
            view["passes"] = len(self._passes[self.position.question])
            view["repeat"] = self._fill(localized(self.form["questions"][self.position.question].get("label"),
                                                  self.lang), row)
        return view

    def choices(self) -> list[dict]:
        """The current select's choices its ``choice_filter`` lets through."""
        if self.done:
            return []
        q, _, _, ctx = self._at(self.position)
        listed = choices_of(self.form, q)
        if "choice_filter" not in q:
            return listed
        return [c for c in listed if vm.truth(vm.run(q["choice_filter"],
                                                     vm.Context(top=ctx.top, row=ctx.row, pos=ctx.pos, choice=c)))]

    # -------------------------------------------------------------------- answer

    def _admit(self, q: dict, value: Any) -> tuple[str | None, Any]:
        """(refusal or None, the value as stored) for ``value`` offered to ``q``, before its constraint."""
        kind = q["type"]
        whole = isinstance(value, int) and not isinstance(value, bool)
        if kind == "select_one":
            offered = {c["name"] for c in self.choices()}
            return (None if isinstance(value, str) and value in offered else Messages.NOT_A_CHOICE), value
        if kind == "select_multiple":
            if not isinstance(value, list):
                return Messages.NOT_A_CHOICE, value
            in_order = [c["name"] for c in self.choices() if c["name"] in value]
            if len(in_order) != len(value):  # not offered, named twice, or not a name
                return Messages.NOT_A_CHOICE, value
            return None, in_order or None
        if kind == "integer":
            return (None if whole else Messages.WHOLE_NUMBER), value
        if kind == "decimal":
            return (None if whole else Messages.NUMBER), value
        if kind == "range":
            low, high = sorted((q["start"], q["end"]))
            on_scale = whole and low <= value <= high and (value - q["start"]) % (q.get("step") or 1) == 0
            return (None if on_scale else Messages.range(q)), value
        if kind == "text":
            return (None, value or None) if isinstance(value, str) else (Messages.TEXT, value)
        if kind == "date":
            ok = isinstance(value, str) and (value == "" or is_iso_date(value))
            return (None, value or None) if ok else (Messages.DATE, value)
        if kind == "acknowledge":
            return (None if value == "OK" else Messages.ACKNOWLEDGE), value
        return Messages.NOTHING, value

    def _violates(self, q: dict, value: Any, ctx: vm.Context) -> str | None:
        if "constraint" in q and not vm.truth(vm.run(q["constraint"], vm.Context(
                top=ctx.top, row=ctx.row, dot=value, pos=ctx.pos))):
            return localized(q.get("constraint_message"), self.lang) or Messages.NOT_ALLOWED
        return None

    def set(self, value: Any) -> str | None:
        """Answer the current question (``None`` clears it); the refusal's message, or None when stored."""
        if self.done:
            return Messages.NOTHING
        q, row, slot, ctx = self._at(self.position)
        if slot is None:
            return Messages.NOTHING
        if value is not None:
            refusal, value = self._admit(q, value)
            refusal = refusal or (None if value is None else self._violates(q, value, ctx))
            if refusal:
                return refusal
        if row is None:
            self.given[slot] = value
        else:
            self.given[self._slot[self.position.question]][self.position.pass_ - 1][slot] = value
        self._settle()
        return None

    def problem_at(self, p: Position) -> str | None:
        """Why the interview cannot leave ``p`` (a required answer missing, a constraint failing), or None."""
        q, row, slot, ctx = self._at(p)
        if slot is None:
            return None
        value = self._value_at(p)
        if value is None:
            required = q.get("required") or ("required_if" in q and vm.truth(vm.run(q["required_if"], ctx)))
            return (localized(q.get("required_message"), self.lang) or Messages.REQUIRED) if required else None
        return self._violates(q, value, ctx)

    # ---------------------------------------------------------------- navigation

    def next(self) -> str | None:
        """Go on to the next shown question (or the end); the message that keeps it here, or None."""
        if self.done:
            return None
        problem = self.problem_at(self.position)
        if problem:
            return problem
        following = next((p for p in self.positions() if p > self.position), None)
        if following is not None:
            self.position = following
            return None
        for p in self.positions():  # leaving the last question: every shown answer must still hold
            problem = self.problem_at(p)
            if problem:
                self.position = p
                return problem
        self.position = self._end
        return None

    def back(self) -> bool:
        """Go to the previous shown question; False when there is none."""
        earlier = [p for p in self.positions() if p < self.position]
        if not earlier:
            return False
        self.position = earlier[-1]
        return True

    # -------------------------------------------------------------------- record

    def finish(self, end: int) -> None:
        """Set the end time (epoch seconds) that ``end`` questions record."""
        self.meta["end"] = end
        self._settle()

    def record_answers(self) -> list:
        """Answers positional over ``wire.answer_fields(form)``, as a version 2 record carries them."""
        return json.loads(json.dumps(self.values))

    def state(self) -> bytes:
        """A snapshot, canonical JSON bytes, to persist after every answer (:meth:`restore` resumes it)."""
        return wire.encode([SNAPSHOT_FORMAT, self.form["id"], self.form["version"],
                            [[k, self.meta[k]] for k in sorted(self.meta)], self.given, list(self.position)])

    @classmethod
    def restore(cls, form: dict, snapshot: bytes, lang: str = "en") -> "Interview":
        """The interview a :meth:`state` snapshot holds, on ``form`` (its form id and version)."""
        fmt, form_id, version, meta, given, position = json.loads(snapshot)
        if fmt != SNAPSHOT_FORMAT:
            raise ValueError(f"draft snapshot format {fmt!r} unknown: discard the draft")
        if (form_id, version) != (form["id"], form["version"]):
            raise ValueError(f"draft is for form {form_id} version {version}, not {form['id']} version"
                             f" {form['version']}: discard the draft")
        interview = cls(form, dict(meta), lang)
        if len(given) != len(interview.given):
            raise ValueError(f"draft has {len(given)} answers, the form {len(interview.given)}: discard the draft")
        interview.given = given
        interview._settle()
        interview.position = Position(*position)
        return interview
