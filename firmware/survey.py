# tiesense firmware: the survey on four keys and a text screen.
#
# Runs any compiled form a kiosk can show (docs/forms.md) on the form engine
# (form.py), which does the skipping, checking, repeats and the record:
#   select_one       up/down move the cursor over the choices the form's
#                    choice_filter offers (wrapping), ok picks and goes on
#   select_multiple  up/down move over the choices and a "Done" row; ok on a
#                    choice ticks or unticks it (no more than the form's cap),
#                    ok on Done takes the ticked ones and goes on
#   integer, decimal, range  up/down step the value (a range by its step,
#                    a decimal by its "step" in thousandths if the form has
#                    one, else 1; within the form's min/max), ok takes it
#   note             ok continues; acknowledge: ok answers "OK" and goes on
#   back             the previous question shown, with its answer selected;
#                    on the first question it cancels the survey
# With a keyboard (a board with `keyboard` true: the handheld's CardKB), typed
# characters arrive as one-character keys and "del" as backspace:
#   text, date       typed into the answer (a date as YYYY-MM-DD); ok takes it
#   integer, decimal typed digits (and - and .) replace stepping; ok takes them
#   select_one/multiple  typing finds: the cursor goes to the first choice whose
#                    label or name starts with what was typed (a roster of
#                    hundreds by its first letters or its short code)
# calculate, start, end, today and deviceid questions are never shown: the
# engine fills them. A refusal (required, constraint) shows the form's message
# on the last line. Nothing is preselected, so every answer is a deliberate press.
#
# The survey is a state machine (press() per key, lines() for the screen) so
# an app can keep its own loop; run() is the plain loop that calls a
# `between` hook (the uplink's service step) while it waits for keys, and
# gives up after `idle_ms` without a key. After every ok that stored an
# answer or moved on, `on_answer(engine)` receives the form engine (the kiosk
# writes its write_state() to flash as its draft); Survey(..., draft=snapshot)
# resumes it.
# The record's id and start time are fixed when the survey starts (ODK:
# instanceID fixed when the record starts), with the boot, uptime and clock
# quality that let the host correct a start taken before the clock was set;
# a resumed survey keeps them.
import gc

import wire

gc.collect()  # room to load the engine (compiled at import when run from source, as on the unix port)
import expr  # noqa: E402
from answer import text  # noqa: E402
from form import Form, unknown_format  # noqa: E402

_KEY_TYPES = ("select_one", "select_multiple", "integer", "decimal", "range", "note", "calculate", "acknowledge",
              "start", "end", "today", "deviceid", "repeat")
_NUMBERS = ("integer", "decimal", "range")
_TYPED = ("text", "date", "integer", "decimal")  # typed on a keyboard
_ALLOWED = {"integer": "-0123456789", "decimal": "-.0123456789", "date": "-0123456789"}

label = text  # kiosk.py shows the form's title with it


def wrap(text, width):
    """Word-wrap ``text`` to screen lines: ``width`` is a number of characters, or the board's
    ``fits(line)`` (a pixel screen drawing wide glyphs measures pixels)."""
    fits = width if callable(width) else (lambda s: len(s) <= width)
    out = []
    line = ""
    for w in text.split():
        while not fits(w):
            if line:
                out.append(line)
                line = ""
            k = 1
            while k < len(w) and fits(w[:k + 1]):
                k += 1
            out.append(w[:k])
            w = w[k:]
        if not line:
            line = w
        elif fits(line + " " + w):
            line += " " + w
        else:
            out.append(line)
            line = w
    if line:
        out.append(line)
    return out


def unsupported(form, keyboard=False):
    """Why the keys cannot run ``form`` (the first question of a type they cannot answer), or None.
    A keyboard also answers text and date questions; a form whose layout (format) this
    firmware does not know is refused too."""
    why = unknown_format(form)
    if why:
        return why
    for q in form["questions"]:
        for c in [q] + (q.get("questions") or []):
            t = c.get("type")
            if t not in _KEY_TYPES and not (keyboard and t in ("text", "date")):
                return ("question '" + str(c.get("name")) + "': type " + str(t) + " not supported on "
                        + ("this device" if keyboard else "keys: compile the form --for kiosk"))
    return None


class Survey:
    """One pass through `form` on `board`. See the module comment."""

    def __init__(self, form, board, lang="en", device="", on_answer=None, draft=None):
        self.keyboard = getattr(board, "keyboard", False)
        why = unsupported(form, self.keyboard)
        if why:
            raise ValueError(why)
        self.form = form
        self.board = board
        self.lang = lang
        self.on_answer = on_answer
        if draft is None:
            t = board.time()
            meta = {"start": t, "today": wire.iso_utc(t)[:10], "deviceid": device,
                    "instance": wire.new_record_id(board.urandom), "boot": board.boot,
                    "uptime": board.uptime_s(), "clock": board.clock}
            self.engine = Form(form, meta, lang)
        else:
            self.engine = Form.restore(form, draft, lang)
        m = self.engine.meta
        self.instance_id = m["instance"]
        self.start = m["start"]
        self.start_boot = m["boot"]
        self.start_uptime = m["uptime"]
        self.start_clock = m["clock"]
        self.msg = None
        self.done = False
        self.cancelled = False
        self.abandoned = False
        self.end = None
        self._enter()

    # ------------------------------------------------------------ state

    @property
    def i(self):
        """Index of the current question in the form (its repeat, inside one)."""
        return self.engine.pos[0]

    @property
    def answers(self):
        """The answers so far by question name (a repeat: its list of passes)."""
        out = {}
        for name, v in zip(wire.answer_fields(self.form), self.engine.record_answers()):
            out[name] = v
        return out

    def _enter(self):
        """Set the cursor from the current question's answer."""
        cur = self.engine.current()
        self.q = cur
        self.cursor = None
        self.ticked = None
        self.typed = None  # the characters typed into this question (a keyboard), or None
        self.find = ""  # what was typed to find a choice
        if cur is None:
            return
        t = cur["type"]
        v = cur["value"]
        if t == "select_one":
            self.options = self.engine.choices()
            for k, c in enumerate(self.options):
                if c["name"] == v:
                    self.cursor = k
        elif t == "select_multiple":
            self.options = self.engine.choices()
            self.ticked = list(v or [])
        elif t in _NUMBERS:
            self.cursor = v

    def _finish(self):
        self.done = True
        self.end = self.board.time()
        self.engine.finish(self.end)
        return "done"

    def press(self, key):
        """Apply one key; returns "done", "cancel" or None (still going)."""
        if self.done or self.cancelled:
            return None
        if self.engine.done:
            return self._finish()
        self.msg = None
        if key == "back":
            if not self.engine.back():
                self.cancelled = True
                return "cancel"
            self._enter()
        elif key in ("up", "down"):
            self._step(key == "up")
            self.typed = None
        elif key == "ok":
            return self._ok()
        elif key == "del" or len(key) == 1:
            self._type(key)
        return None

    def _type(self, key):
        """A character typed (or "del"): into a text, date or number answer, or to find a choice."""
        t = self.q["type"]
        if t == "select_one" or t == "select_multiple":
            self.find = self.find[:-1] if key == "del" else self.find + key
            want = self.find.lower()
            if want:
                for k, c in enumerate(self.options):
                    if text(c.get("label"), self.lang).lower().startswith(want) or c["name"].startswith(want):
                        self.cursor = k
                        return
                self.msg = "no choice starts with " + self.find
            return
        if t not in _TYPED:
            return
        if self.typed is None:
            v = self.q["value"]
            self.typed = "" if v is None else (expr.fmt(v) if t == "decimal" else str(v))
        if key == "del":
            self.typed = self.typed[:-1]
        elif t in _ALLOWED and key not in _ALLOWED[t]:
            self.msg = "digits only" if t == "integer" else ("digits and . only" if t == "decimal"
                                                            else "YYYY-MM-DD")
        elif len(self.typed) < 160:
            self.typed += key

    def _typed_value(self):
        """The typed answer as the engine takes it (None: empty), or raises ValueError saying why not."""
        t = self.q["type"]
        s = self.typed.strip()
        if not s:
            return None
        if t == "integer":
            try:
                return int(s)
            except ValueError:
                raise ValueError("a whole number, e.g. 12")
        if t == "decimal":
            v = expr.parse(s)
            if v is None:
                raise ValueError("a number, e.g. 2.5")
            return v
        return s

    def _step(self, up):
        t = self.q["type"]
        q = self.q["question"]
        if t == "select_one" or t == "select_multiple":
            n = len(self.options) + (1 if t == "select_multiple" else 0)  # the Done row
            if n == 0:
                return
            if self.cursor is None:
                self.cursor = n - 1 if up else 0
            else:
                self.cursor = (self.cursor + (-1 if up else 1)) % n
            return
        if t not in _NUMBERS:
            return
        if t == "range":
            lo, hi = min(q["start"], q["end"]), max(q["start"], q["end"])
            step = abs(q.get("step") or 1)
        else:
            lo, hi = q.get("min"), q.get("max")
            step = (q.get("step") or 1000) if t == "decimal" else 1
        if self.cursor is None:
            if t == "range":
                self.cursor = lo + ((hi - lo) // step // 2) * step
            else:
                self.cursor = lo if lo is not None else (0 if hi is None or hi >= 0 else hi)
            return
        v = self.cursor + (step if up else -step)
        if (lo is None or v >= lo) and (hi is None or v <= hi):
            self.cursor = v

    def _ok(self):
        e = self.engine
        t = self.q["type"]
        before = e.pos
        msg = None
        stored = False
        self.find = ""  # the next letters typed start a new search
        if t == "select_multiple" and self.cursor is not None and self.cursor < len(self.options):
            name = self.options[self.cursor]["name"]
            cap = self.q["question"].get("max_selected")
            if name in self.ticked:
                self.ticked.remove(name)
            elif cap is not None and len(self.ticked) >= cap:
                self.msg = "%d at most" % cap
            else:
                self.ticked.append(name)
            return None
        if t == "acknowledge":
            value = "OK"
        elif t == "select_one":
            value = None if self.cursor is None else self.options[self.cursor]["name"]
        elif t == "select_multiple":
            value = self.ticked or None
        elif self.typed is not None:
            try:
                value = self._typed_value()
            except ValueError as err:
                self.msg = str(err)
                return None
        elif t in _NUMBERS:
            value = self.cursor
        else:
            value = self.q["value"]  # a note, or a text left as it was: nothing new to store
        if t != "note" and value != self.q["value"]:
            msg = e.set(value)
            stored = msg is None
        if msg is None:
            msg = e.next()
        self.msg = msg
        if e.done:
            return self._finish()
        if (stored or e.pos != before) and self.on_answer is not None:
            self.on_answer(e)
        if stored or e.pos != before:
            self._enter()
        return None

    # ----------------------------------------------------------- screen

    def lines(self):
        b = self.board
        cols, rows = b.cols, b.rows
        cur = self.q
        if cur is None:
            return [""] * (rows - 1) + [self.msg or ""]
        n = 0
        at = 0
        here = self.engine.pos
        for p in self.engine.positions():
            n += 1
            if p == here:
                at = n
        head = "%d/%d" % (at, n)
        if cur["pass"]:
            head += " " + (cur.get("repeat") or "") + " " + "%d/%d" % (cur["pass"], cur["passes"])
        out = [head[:cols]] if rows > 4 else []  # a 4-line screen (the OLED drawing Korean) keeps its lines
        limit = 3 if rows <= 8 else rows // 2
        if cur["type"] != "note":
            limit = min(limit, max(1, rows - 3))  # leave room for at least one choice or the value
        out.extend(wrap(cur["label"], b.fits)[:limit])
        room = rows - len(out) - 1
        t = cur["type"]
        q = cur["question"]
        if t == "select_one" or t == "select_multiple":
            items = []
            for c in self.options:
                tick = ""
                if t == "select_multiple":
                    tick = "[x]" if c["name"] in self.ticked else "[ ]"
                items.append(tick + label(c.get("label"), self.lang))
            if t == "select_multiple":
                items.append("Done")
            c = self.cursor or 0
            first = max(0, min(c - room // 2, len(items) - room))
            for k in range(first, min(len(items), first + room)):
                mark = "> " if k == self.cursor else "  "
                out.append((mark + items[k])[:cols])
        elif self.typed is not None or t == "text" or t == "date":
            v = cur["value"]
            shown = self.typed if self.typed is not None else ("" if v is None else
                                                              (expr.fmt(v) if t == "decimal" else str(v)))
            out.extend(wrap(shown + "_", b.fits)[-max(1, min(3, room)):])
        elif t in _NUMBERS:
            v = "?" if self.cursor is None else (expr.fmt(self.cursor) if t == "decimal" else str(self.cursor))
            lo, hi = (q["start"], q["end"]) if t == "range" else (q.get("min"), q.get("max"))
            if t == "decimal":
                lo = None if lo is None else expr.fmt(lo)
                hi = None if hi is None else expr.fmt(hi)
            if lo is not None and hi is not None:
                out.append(("%s [ %s ] %s" % (lo, v, hi))[:cols])
            else:
                out.append(("[ %s ]" % v)[:cols])
        elif t == "acknowledge":
            out.append("> OK")
        while len(out) < rows - 1:
            out.append("")
        if self.msg:
            out.append(self.msg)
        elif self.find:
            out.append("find: " + self.find)
        else:
            out.append("type, ok, esc=back" if self.keyboard and t in _TYPED else "up/dn ok back")
        return out

    # ------------------------------------------------------------- loop

    def run(self, idle_ms, between=None, tick_ms=20):
        """Drive the survey from the board's keys until done, cancelled or idle.

        Returns the answers dict, or None (cancelled, or abandoned after
        `idle_ms` without a key: `abandoned` says which); an `idle_ms` of 0 never gives up.
        """
        b = self.board
        if self.engine.done:  # nothing to show: the form is all calculates and metadata
            self._finish()
            return self.answers
        b.show(self.lines())
        last = b.ticks_ms()
        while True:
            key = b.next_key()
            if key is not None:
                last = b.ticks_ms()
                r = self.press(key)
                if r == "done":
                    return self.answers
                if r == "cancel":
                    return None
                b.show(self.lines())
                continue
            if idle_ms and b.ticks_diff(b.ticks_ms(), last) > idle_ms:
                self.abandoned = True
                return None
            if not idle_ms and b.finished():  # a simulation ending a survey that never idles out:
                self.abandoned = True  # its draft stays for a resume, as after a power cut
                return None
            if between is not None:
                between()
            b.sleep_ms(tick_ms)

    def record(self):
        """The finished survey as a version 2 wire record, unsigned and without seq (log.append adds both)."""
        end = self.end if self.end is not None else self.start
        return wire.make_record_v2(self.form["id"], self.form["version"], self.start, max(0, end - self.start),
                                   self.start_boot, self.start_uptime, self.start_clock,
                                   self.engine.record_answers(), self.instance_id)
