# tiesense firmware: the form engine.
#
# Runs any compiled form (docs/forms.md, "The compiled form") with no screen
# and no keys: the key UI (survey.py) and the tests drive the same calls.
#   current()   the question shown now: name, type, label and hint with
#               ${name} filled in, its value, and the repeat pass it is in
#   choices()   the current select's choices that pass its choice_filter
#   set(v)      answer the current question; returns None, or the message
#               that refuses v (the form's constraint_message, else a default)
#   next()      go on, skipping what is not relevant, calculates and metadata;
#               refuses with the required or constraint message; at the end
#               every shown answer is checked again and done becomes true
#   back()      the previous shown question; False on the first
#   record_answers()  positional answers as wire.answer_fields() orders them
#   state() / Form.restore(form, snapshot)  a small JSON snapshot to write to
#               flash after every answer, and the form resumed from it
# Semantics (docs/forms.md, "On the device"): after every change the answers
# are settled in one pass in form order: a question that is not relevant is
# empty in the record (its answer is kept, so going back and making it
# relevant again shows it), a calculate stores string() of its program,
# metadata (start, end, today, deviceid) comes from `meta`, and a repeat has
# count passes (clamped to 0..max), each settled the same way in its own
# row. What each type accepts, and the default messages, are answer.py's.
# host/tiesense/xlsform/engine.py is the reference; a differential test
# (tests/test_form_engine.py) runs both on generated answer scripts.
import json

import expr
import wire
from answer import NOT_ALLOWED, NOTHING, REQUIRED, refusal, shown, text

SNAPSHOT_FORMAT = 1
# Compiled form layouts this engine runs (docs/forms.md, "The compiled form"); a form
# without "format" is format 1. Format 2 adds "lists": a choice list several selects
# share, held once and named by each select's "list".
FORMATS = (1, 2)


def unknown_format(form):
    """Why this firmware cannot read `form`'s layout, or None."""
    f = form.get("format", 1)
    if f in FORMATS:
        return None
    return ("form format %r unknown to this firmware (it reads formats %s): update the firmware, or"
            " compile the form with the host version that matches it" % (f, ", ".join(str(x) for x in FORMATS)))


def _resolve_lists(form):
    """Point each select that names a shared list at it (the same list object: no copy)."""
    lists = form.get("lists")
    if not lists:
        return
    for q in form["questions"]:
        for c in [q] + (q.get("questions") or []):
            name = c.get("list")
            if name is not None and "choices" not in c:
                if name not in lists:
                    raise ValueError("question '%s' names the choice list '%s' the form lacks:"
                                     " compile the form again" % (c["name"], name))
                c["choices"] = lists[name]

# Types never shown: their values come from programs or from the device.
_META = ("start", "end", "today", "deviceid")
_HIDDEN = ("calculate", "repeat", "start", "end", "today", "deviceid")


def _slots(questions):
    """Answer position of each question (-1 for a note), and how many there are."""
    out = []
    n = 0
    for q in questions:
        if q["type"] == "note":
            out.append(-1)
        else:
            out.append(n)
            n += 1
    return out, n


class Form:
    """One interview of `form`; `meta` gives start, today, deviceid (and end once known)."""

    def __init__(self, form, meta, lang="en"):
        why = unknown_format(form)
        if why:
            raise ValueError(why)
        _resolve_lists(form)
        self.form = form
        self.meta = dict(meta)
        self.lang = lang
        self.qs = form["questions"]
        self.slot, n = _slots(self.qs)
        self.inner = {}  # repeat index -> (slots, width)
        self.names = {}  # name -> (repeat index or -1, slot, type)
        self.selects = {}  # name -> select question (jr:choice-name looks its labels up)
        for i, q in enumerate(self.qs):
            for c in [q] + (q.get("questions") or []):
                if c["type"] in ("select_one", "select_multiple"):
                    self.selects[c["name"]] = c
            if self.slot[i] >= 0:
                self.names[q["name"]] = (-1, self.slot[i], q["type"])
            if q["type"] == "repeat":
                s, w = _slots(q["questions"])
                self.inner[i] = (s, w)
                for j, c in enumerate(q["questions"]):
                    if s[j] >= 0:
                        self.names[c["name"]] = (i, s[j], c["type"])
        self.raw = [None] * n
        for i in self.inner:
            self.raw[self.slot[i]] = []
        self.rel = [True] * len(self.qs)
        self.rel_rows = {}  # repeat index -> one list of relevance flags per pass
        self.top = None
        self.pos = (len(self.qs), 0, 0)
        self._settle()
        for p in self.positions():
            self.pos = p
            break

    # ------------------------------------------------------------ settle

    def _label(self, select, v):
        # jr:choice-name(): v's label among the choices of the select named `select`, in this language
        v = expr.string(v).strip()
        for c in (self.selects.get(select) or {}).get("choices") or ():
            if c["name"] == v:
                return text(c.get("label"), self.lang)
        return ""

    def _settle(self):
        raw = self.raw
        top = list(raw)
        self.top = top
        for i, q in enumerate(self.qs):
            rel = "relevant" not in q or expr.truth(expr.run(q["relevant"], top))
            self.rel[i] = rel
            s = self.slot[i]
            if s < 0:
                continue
            t = q["type"]
            if t == "repeat":
                if not rel:
                    top[s] = None
                    self.rel_rows[i] = []
                    continue
                n = expr.number(expr.run(q["count"], top))
                n = 0 if n is None else expr.tdiv(n, 1000)
                n = max(0, min(n, q["max"]))
                slots, width = self.inner[i]
                rows = raw[s]
                while len(rows) < n:
                    rows.append([None] * width)
                eff = []
                flags = []
                for k in range(n):
                    row, f = self._settle_row(q, slots, top, rows[k], k + 1)
                    eff.append(row)
                    flags.append(f)
                top[s] = eff
                self.rel_rows[i] = flags
            elif not rel:
                top[s] = None
                if t in _HIDDEN:
                    raw[s] = None
            elif t == "calculate":
                v = expr.string(expr.run(q["calculation"], top, None, raw[s], None, None, self._label))
                top[s] = v
                raw[s] = v
            elif t in _META:
                v = self.meta.get(t)
                top[s] = v
                raw[s] = v

    def _settle_row(self, q, slots, top, raw_row, k):
        row = list(raw_row)
        flags = []
        for j, c in enumerate(q["questions"]):
            rel = "relevant" not in c or expr.truth(expr.run(c["relevant"], top, row, None, k))
            flags.append(rel)
            s = slots[j]
            if s < 0:
                continue
            t = c["type"]
            if not rel:
                row[s] = None
                if t in _HIDDEN:
                    raw_row[s] = None
            elif t == "calculate":
                v = expr.string(expr.run(c["calculation"], top, row, raw_row[s], k, None, self._label))
                row[s] = v
                raw_row[s] = v
            elif t in _META:
                v = self.meta.get(t)
                row[s] = v
                raw_row[s] = v
        return row, flags

    # -------------------------------------------------------- positions

    def positions(self):
        """Every shown position (question, pass, question in the pass) in form order."""
        for i, q in enumerate(self.qs):
            t = q["type"]
            if t == "repeat":
                k = 0
                for flags in self.rel_rows.get(i, ()):
                    k += 1
                    for j, c in enumerate(q["questions"]):
                        if flags[j] and c["type"] not in _HIDDEN:
                            yield (i, k, j)
            elif self.rel[i] and t not in _HIDDEN:
                yield (i, 0, 0)

    def _where(self, p):
        """(question, row of effective answers or None, slot, pass or None) at position p."""
        i, k, j = p
        q = self.qs[i]
        if k == 0:
            return q, None, self.slot[i], None
        return q["questions"][j], self.top[self.slot[i]][k - 1], self.inner[i][0][j], k

    @property
    def done(self):
        return self.pos[0] >= len(self.qs)

    # ------------------------------------------------------------- view

    def _fill(self, s, row, k):
        if not s or "${" not in s:
            return s
        out = ""
        while True:
            a = s.find("${")
            b = s.find("}", a + 2) if a >= 0 else -1
            if b < 0:
                return out + s
            ref = self.names.get(s[a + 2:b])
            if ref is None:
                out += s[:b + 1]
            elif ref[0] < 0:
                out += s[:a] + shown(self.top[ref[1]], ref[2])
            elif row is not None and ref[0] == self.pos[0]:
                out += s[:a] + shown(row[ref[1]], ref[2])
            else:
                out += s[:a]
            s = s[b + 1:]

    def current(self):
        """The question shown now as a dict, or None when done."""
        if self.done:
            return None
        q, row, s, k = self._where(self.pos)
        out = {"name": q["name"], "type": q["type"], "question": q,
               "label": self._fill(text(q.get("label"), self.lang), row, k),
               "hint": self._fill(text(q.get("hint"), self.lang), row, k),
               "value": None if s < 0 else (self.top if row is None else row)[s],
               "pass": k or 0, "passes": 0}
        if k:
            out["passes"] = len(self.rel_rows[self.pos[0]])
            out["repeat"] = self._fill(text(self.qs[self.pos[0]].get("label"), self.lang), row, k)
        return out

    def choices(self):
        """The current select's choices that its choice_filter lets through (all when it has none)."""
        if self.done:
            return []
        q, row, s, k = self._where(self.pos)
        ch = q.get("choices") or []
        flt = q.get("choice_filter")
        if flt is None:
            return ch
        top = self.top
        return [c for c in ch if expr.truth(expr.run(flt, top, row, None, k, c))]

    # ------------------------------------------------------------ answer

    def set(self, value):
        """Answer the current question (None clears it); returns None or the refusal's message."""
        if self.done:
            return NOTHING
        q, row, s, k = self._where(self.pos)
        if s < 0:
            return NOTHING
        if value is not None:
            msg, value = refusal(q, value, self.choices())
            if msg is not None:
                return msg
        if value is not None and "constraint" in q and not expr.truth(
                expr.run(q["constraint"], self.top, row, value, k)):
            return text(q.get("constraint_message"), self.lang) or NOT_ALLOWED
        if row is None:
            self.raw[s] = value
        else:
            self.raw[self.slot[self.pos[0]]][k - 1][s] = value
        self._settle()
        return None

    def _check(self, p):
        """The message that stops an interview from leaving position p, or None."""
        q, row, s, k = self._where(p)
        if s < 0:
            return None
        v = (self.top if row is None else row)[s]
        if v is None:
            if q.get("required") or ("required_if" in q and expr.truth(
                    expr.run(q["required_if"], self.top, row, None, k))):
                return text(q.get("required_message"), self.lang) or REQUIRED
            return None
        if "constraint" in q and not expr.truth(expr.run(q["constraint"], self.top, row, v, k)):
            return text(q.get("constraint_message"), self.lang) or NOT_ALLOWED
        return None

    # -------------------------------------------------------- navigation

    def next(self):
        """Go to the next shown question; returns None, or the message that keeps it here."""
        if self.done:
            return None
        msg = self._check(self.pos)
        if msg is not None:
            return msg
        here = self.pos
        for p in self.positions():
            if p > here:
                self.pos = p
                return None
        for p in self.positions():  # the end: every shown answer must still hold
            msg = self._check(p)
            if msg is not None:
                self.pos = p
                return msg
        self.pos = (len(self.qs), 0, 0)
        return None

    def back(self):
        """Go to the previous shown question; False when there is none."""
        here = self.pos
        last = None
        for p in self.positions():
            if p >= here:
                break
            last = p
        if last is None:
            return False
        self.pos = last
        return True

    # ----------------------------------------------------------- record

    def finish(self, end):
        """Set the end time (epoch seconds) that `end` questions record."""
        self.meta["end"] = end
        self._settle()

    def record_answers(self):
        """The answers, positional over wire.answer_fields(form) (a repeat: a list of passes)."""
        out = []
        for v in self.top:
            if isinstance(v, list):  # a selection, or a repeat's passes: copies, not the engine's own
                v = [list(r) if isinstance(r, list) else r for r in v]
            out.append(v)
        return out

    def _snapshot(self):
        meta = [[k, self.meta[k]] for k in sorted(self.meta.keys())]
        f = self.form
        return [SNAPSHOT_FORMAT, f["id"], f["version"], meta, self.raw, list(self.pos)]

    def state(self):
        """A snapshot (canonical JSON bytes) that Form.restore() resumes from."""
        return wire.encode(self._snapshot())

    def write_state(self, stream):
        """The snapshot written to `stream` a piece at a time, as compact JSON (the same values as
        state()): after every answer of a long interview, no snapshot-sized string on the heap."""
        json.dump(self._snapshot(), stream, separators=(",", ":"))

    @staticmethod
    def restore(form, snapshot, lang="en"):
        """The interview a state() snapshot holds, on `form` (which must be its form id and version)."""
        s = json.loads(snapshot)
        if s[0] != SNAPSHOT_FORMAT:
            raise ValueError("draft snapshot format %r unknown: discard the draft" % (s[0],))
        if s[1] != form["id"] or s[2] != form["version"]:
            raise ValueError("draft is for form %s version %s, not %s version %s: discard the draft" % (
                s[1], s[2], form["id"], form["version"]))
        meta = {}
        for kv in s[3]:
            meta[kv[0]] = kv[1]
        f = Form(form, meta, lang)
        if len(s[4]) != len(f.raw):
            raise ValueError("draft has %d answers, the form %d: discard the draft" % (len(s[4]), len(f.raw)))
        f.raw = s[4]
        f._settle()
        f.pos = (s[5][0], s[5][1], s[5][2])
        return f
