# tiesense firmware: the survey engine.
#
# Runs one compiled form (host/tiesense/instruments/*.json, sent to devices
# on wire.topic_form) on four keys and a text screen:
#   select_one  up/down move the cursor over the choices (wrapping), ok picks
#   range       up/down step the value between start and end, ok takes it
#   note        ok continues
#   back        returns to the previous question with its answer selected;
#               on the first question it cancels the survey
# A required question refuses ok until it has an answer ("Answer required").
# Nothing is preselected, so a required answer is always a deliberate press.
#
# The engine is a state machine (press() per key, lines() for the screen) so
# an app can keep its own loop; run() is the plain loop that calls a
# `between` hook (the uplink's service step) while it waits for keys, and
# gives up after `idle_ms` without a key.
# The record's id and start time are fixed when the survey starts (ODK:
# instanceID fixed when the record starts), with the boot, uptime and clock
# quality that let the host correct a start taken before the clock was set.
import wire

_TYPES = ("select_one", "range", "note")
# Programs of compiled forms (docs/forms.md) this engine does not run yet: a form
# that has them is refused rather than asked without its skips and checks.
_PROGRAMS = ("relevant", "constraint", "required_if", "calculation", "choice_filter", "count")


def label(obj, lang):
    """A label dict (or plain string) in `lang`, else English, else any."""
    if isinstance(obj, str):
        return obj
    if not obj:
        return ""
    return obj.get(lang) or obj.get("en") or obj[sorted(obj.keys())[0]]


def wrap(text, width):
    """Word-wrap to lines of at most `width` characters."""
    out = []
    line = ""
    for w in text.split():
        while len(w) > width:
            if line:
                out.append(line)
                line = ""
            out.append(w[:width])
            w = w[width:]
        if not line:
            line = w
        elif len(line) + 1 + len(w) <= width:
            line += " " + w
        else:
            out.append(line)
            line = w
    if line:
        out.append(line)
    return out


def unsupported(form):
    """Why this engine cannot run ``form`` (the first question of a type it lacks), or None."""
    for q in form["questions"]:
        if q.get("type") not in _TYPES:
            return "question '" + str(q.get("name")) + "': type " + str(q.get("type")) + " not supported"
        for k in _PROGRAMS:
            if k in q:
                return "question '" + str(q.get("name")) + "': " + k + " not supported"
    return None


class Survey:
    """One pass through `form` on `board`. See the module comment."""

    def __init__(self, form, board, lang="en"):
        why = unsupported(form)
        if why:
            raise ValueError(why)
        self.form = form
        self.board = board
        self.lang = lang
        self.qs = form["questions"]
        self.i = 0
        self.answers = {}
        self.msg = None
        self.done = False
        self.cancelled = False
        self.abandoned = False
        self.instance_id = wire.new_record_id(board.urandom)
        self.start = board.time()
        self.start_uptime = board.uptime_s()
        self.start_clock = board.clock
        self.end = None
        self._enter()

    # ------------------------------------------------------------ state

    def _enter(self):
        q = self.qs[self.i]
        a = self.answers.get(q["name"])
        self.cursor = None
        if q["type"] == "select_one" and a is not None:
            for k, c in enumerate(q["choices"]):
                if c["name"] == a:
                    self.cursor = k
        elif q["type"] == "range":
            self.cursor = a

    def press(self, key):
        """Apply one key; returns "done", "cancel" or None (still going)."""
        if self.done or self.cancelled:
            return None
        q = self.qs[self.i]
        t = q["type"]
        self.msg = None
        if key == "back":
            if self.i == 0:
                self.cancelled = True
                return "cancel"
            self.i -= 1
            self._enter()
        elif key in ("up", "down"):
            if t == "select_one":
                n = len(q["choices"])
                if self.cursor is None:
                    self.cursor = 0 if key == "down" else n - 1
                else:
                    self.cursor = (self.cursor + (1 if key == "down" else -1)) % n
            elif t == "range":
                lo, hi, step = q["start"], q["end"], q.get("step", 1) or 1
                if self.cursor is None:
                    self.cursor = lo + ((hi - lo) // step // 2) * step
                else:
                    v = self.cursor + (step if key == "up" else -step)
                    if lo <= v <= hi:
                        self.cursor = v
        elif key == "ok":
            if t == "note":
                value = None
            elif self.cursor is None:
                if q.get("required"):
                    self.msg = "Answer required"
                    return None
                value = None
            elif t == "select_one":
                value = q["choices"][self.cursor]["name"]
            else:
                value = self.cursor
            if t != "note":
                self.answers[q["name"]] = value
            if self.i + 1 < len(self.qs):
                self.i += 1
                self._enter()
            else:
                self.done = True
                self.end = self.board.time()
                return "done"
        return None

    # ----------------------------------------------------------- screen

    def lines(self):
        b = self.board
        cols, rows = b.cols, b.rows
        q = self.qs[self.i]
        out = ["%d/%d" % (self.i + 1, len(self.qs))]
        text = wrap(label(q.get("label"), self.lang), cols)
        out.extend(text[:3])
        room = rows - len(out) - 1
        if q["type"] == "select_one":
            ch = q["choices"]
            c = self.cursor or 0
            first = max(0, min(c - room // 2, len(ch) - room))
            for k in range(first, min(len(ch), first + room)):
                mark = "> " if k == self.cursor else "  "
                out.append((mark + label(ch[k].get("label"), self.lang))[:cols])
        elif q["type"] == "range":
            v = "?" if self.cursor is None else str(self.cursor)
            out.append(("%d [ %s ] %d" % (q["start"], v, q["end"]))[:cols])
        while len(out) < rows - 1:
            out.append("")
        out.append(self.msg or "up/dn ok back")
        return out

    # ------------------------------------------------------------- loop

    def run(self, idle_ms, between=None, tick_ms=20):
        """Drive the survey from the board's keys until done, cancelled or idle.

        Returns the answers dict, or None (cancelled, or abandoned after
        `idle_ms` without a key: `abandoned` says which).
        """
        b = self.board
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
            if b.ticks_diff(b.ticks_ms(), last) > idle_ms:
                self.abandoned = True
                return None
            if between is not None:
                between()
            b.sleep_ms(tick_ms)

    def record(self):
        """The finished survey as a version 2 wire record, unsigned and without seq (log.append adds both)."""
        end = self.end if self.end is not None else self.start
        a = self.answers
        return wire.make_record_v2(self.form["id"], self.form["version"], self.start, max(0, end - self.start),
                                   self.board.boot, self.start_uptime, self.start_clock,
                                   [a.get(n) for n in wire.answer_fields(self.form)], self.instance_id)
