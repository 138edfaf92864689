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
    b.boot = 4
    r = s.record()
    check_eq(r[0], 0, "seq is set by the log")
    wire.check_record_v2([1] + r[1:] + [""])
    check_eq(r[2:4], ["tp_visit", FORM["version"]])
    check_eq(r[4], b.t)
    check_eq(r[6], 4)
    check_eq(r[8], b.clock)
    assert wire.valid_instance_id(wire.instance_id_from_hex(r[1]))
    # positional: one value per answer field of the form, in form order
    check_eq(r[9], ["shared_lab", "large_firm", 3])


def test_signed_record_verifies_with_cpythons_hmac_output():
    # HMAC-SHA256 written on hashlib.sha256 must give RFC 4231's test vectors (case 2 and a 131-byte key)
    check_eq(wire.hmac_sha256(b"Jefe", b"what do ya want for nothing?"),
             bytes.fromhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"), "RFC 4231 case 2")
    check_eq(wire.hmac_sha256(b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First"),
             bytes.fromhex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"), "RFC 4231 case 6")
    s, a, b = answers_for(["down", "ok", "down", "ok", "up", "ok"])
    key = bytes(range(32))
    rec = s.record()
    line = wire.sign_record(rec, 7, "kiosk-01", key)
    arr = json.loads(line)
    check_eq(arr[0], 7)
    assert wire.signature_ok(key, wire.SIGN_RECORD, "kiosk-01", wire.record_body(arr), arr[10])
    assert not wire.signature_ok(key, wire.SIGN_RECORD, "kiosk-02", wire.record_body(arr), arr[10])
    check_eq(wire.record_id(line), rec[1].encode())


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


def test_compiled_programs_refused_until_the_engine_runs_them():
    q = {"name": "s", "type": "select_one", "label": "x", "choices": [{"name": "a", "label": "A"}],
         "relevant": ["$", 0, "'", "a", "="]}
    try:
        Survey({"id": "f", "version": "1", "questions": [q]}, KeyBoard())
    except ValueError as e:
        assert "relevant" in str(e)
    else:
        raise AssertionError("a question with a relevant program was accepted")


def test_wrap():
    check_eq(wrap("How satisfied are you with it?", 10), ["How", "satisfied", "are you", "with it?"])
    check_eq(wrap("abcdefghijkl", 5), ["abcde", "fghij", "kl"])


run(globals())
