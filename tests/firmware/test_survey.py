# The survey engine (firmware/survey.py) on the real tp_visit form with
# scripted keys: straight answers, required answers, back, cancel, idle.
import json

import wire
from board.base import Board
from runner import check_eq, run
from survey import Survey, wrap

with open("host/tiesense/instruments/tp_visit.json") as f:
    FORM = json.load(f)


class KeyBoard(Board):
    """A board whose keys come from a list and whose clock is fixed."""

    def __init__(self, keys=()):
        Board.__init__(self, {})
        for k in keys:
            self.push_key(k)
        self.screens = []
        self.t = 1795500000  # 2026-11-24T...

    def show(self, lines):
        self.screens.append(lines)

    def time(self):
        return self.t


def answers_for(keys, idle_ms=2000):
    b = KeyBoard(keys)
    s = Survey(FORM, b, "en")
    return s, s.run(idle_ms), b


def test_straight_through():
    s, a, _ = answers_for(["down", "down", "ok", "down", "down", "down", "ok", "up", "up", "ok"])
    check_eq(a, {"facility": "incubation", "org_type": "startup", "satisfaction": 4})
    assert s.done and not s.abandoned


def test_required_refuses_empty_ok():
    b = KeyBoard()
    s = Survey(FORM, b, "en")
    check_eq(s.press("ok"), None)
    check_eq(s.i, 0, "still on the first question")
    check_eq(s.msg, "Answer required")
    check_eq(s.lines()[-1], "Answer required")
    s.press("up")  # from nothing, up lands on the last choice
    s.press("ok")
    check_eq(s.answers["facility"], "cafeteria")
    check_eq(s.i, 1)


def test_back_keeps_and_changes_answer():
    keys = ["down", "ok",  # facility: shared_lab
            "down", "ok",  # org_type: large_firm
            "back",  # back to org_type, large_firm selected
            "down", "ok",  # -> sme
            "back", "back",  # back to facility, shared_lab selected
            "down", "ok",  # -> incubation
            "ok",  # org_type keeps sme
            "down", "down", "ok"]  # satisfaction: 3 then 2
    s, a, _ = answers_for(keys)
    check_eq(a, {"facility": "incubation", "org_type": "sme", "satisfaction": 2})


def test_range_clamps():
    s, a, _ = answers_for(["down", "ok", "down", "ok"] + ["up"] * 9 + ["ok"])
    check_eq(a["satisfaction"], 5)
    s, a, _ = answers_for(["down", "ok", "down", "ok"] + ["down"] * 9 + ["ok"])
    check_eq(a["satisfaction"], 1)


def test_back_on_first_cancels():
    s, a, _ = answers_for(["down", "back"])
    check_eq(a, None)
    assert s.cancelled and not s.abandoned


def test_idle_abandons():
    calls = []
    b = KeyBoard(["down", "ok"])
    s = Survey(FORM, b, "en")
    a = s.run(60, between=lambda: calls.append(1))
    check_eq(a, None)
    assert s.abandoned
    assert calls, "the between hook ran while waiting"


def test_optional_question_may_be_skipped():
    form = {"id": "f", "version": "1", "questions": [
        {"name": "q", "type": "select_one", "label": "Pick", "choices": [{"name": "a", "label": "A"}]},
        {"name": "n", "type": "note", "label": "Thanks"}]}
    b = KeyBoard(["ok", "ok"])
    s = Survey(form, b)
    check_eq(s.run(1000), {"q": None})


def test_record_is_valid():
    s, a, b = answers_for(["down", "ok", "down", "ok", "up", "ok"])
    r = s.record("kiosk-01", 5)
    wire.check_record(r)
    check_eq(r["form"], "tp_visit")
    check_eq(r["form_version"], FORM["version"])
    check_eq(r["start"], wire.iso_utc(b.t))
    assert wire.valid_instance_id(r["id"])
    check_eq(r["answers"], {"facility": "shared_lab", "org_type": "large_firm", "satisfaction": 3})


def test_screen_shows_label_and_cursor():
    b = KeyBoard()
    s = Survey(FORM, b, "en")
    s.press("down")
    s.press("down")
    lines = s.lines()
    check_eq(len(lines), b.rows)
    check_eq(lines[0], "1/3")
    check_eq(lines[1], "Which facility")
    assert "> Incubation space"[:b.cols] in lines, lines
    for ln in lines:
        assert len(ln) <= b.cols, ln
    ko = Survey(FORM, KeyBoard(), "ko").lines()
    assert ko[1].startswith("오늘"), ko


def test_unsupported_type_refused():
    form = {"id": "f", "version": "1", "questions": [{"name": "t", "type": "text", "label": "x"}]}
    try:
        Survey(form, KeyBoard())
    except ValueError as e:
        assert "text" in str(e)
    else:
        raise AssertionError("text question accepted")


def test_wrap():
    check_eq(wrap("How satisfied are you with it?", 10), ["How", "satisfied", "are you", "with it?"])
    check_eq(wrap("abcdefghijkl", 5), ["abcde", "fghij", "kl"])


run(globals())
