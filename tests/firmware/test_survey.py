# The survey on keys (firmware/survey.py, on the form engine firmware/form.py)
# with scripted keys: the real tp_visit form (straight answers, required
# answers, back, cancel, idle), and the compiled form of docs/forms.md (skip
# logic, a capped select_multiple with its Done row, a repeat per partner,
# integer stepping, constraint messages, the draft hook and resuming a draft).
import io
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
        self.boot = 4

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
    b.boot = 5  # the record keeps the boot its survey started in (its uptime counts from that boot)
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


# The compiled form docs/forms.md shows (tests/test_xlsform_docs.py checks it against the compiler).
DOCS = {"format": 1, "id": "example", "version": "2026113001", "target": "kiosk",
        "title": {"en": "Example"}, "languages": ["en", "ko"],
        "questions": [
            {"name": "consent", "type": "select_one", "required": True, "appearance": "quick",
             "label": {"en": "Take part in a short survey?"},
             "choices": [{"name": "yes", "label": {"en": "Yes"}}, {"name": "no", "label": {"en": "No"}}]},
            {"name": "partners", "type": "select_multiple", "required": True,
             "label": {"en": "Whom did you work with?"},
             "relevant": ["$", 0, "'", "yes", "="],
             "constraint": [".", "cnt", 2000, "<="], "constraint_message": {"en": "Two at most"},
             "max_selected": 2,
             "choices": [{"name": "p1", "label": {"en": "Hanbit Tech"}}, {"name": "p2", "label": {"en": "Daegu TP"}},
                         {"name": "p3", "label": {"en": "Gumi Parts"}}]},
            {"name": "each", "type": "repeat", "label": {"en": "Partner"},
             "count": ["$", 1, "cnt"], "max": 2,
             "questions": [
                 {"name": "partner", "type": "calculate", "required": False,
                  "calculation": ["$", 1, "pos", 1000, "-", "at"]},
                 {"name": "since", "type": "integer", "required": True,
                  "label": {"en": "Since which year with ${partner}?"},
                  "constraint": [".", "i", 1950000, ">=", ".", "i", 2100000, "<=", "and"],
                  "min": 1950, "max": 2100}]},
            {"name": "hours", "type": "decimal", "required": False, "label": {"en": "Hours"}, "decimals": 3,
             "constraint": [".", 0, ">=", ".", 2000, "<=", "and"], "min": 0, "max": 2000},
            {"name": "fin", "type": "acknowledge", "required": True, "label": {"en": "Thanks: press OK"}}]}


def docs_survey(keys, **kw):
    b = KeyBoard(keys)
    s = Survey(DOCS, b, "en", **kw)
    return s, s.run(2000), b


def test_skip_logic_on_keys():
    s, a, _ = docs_survey(["down", "down", "ok", "ok", "ok"])  # consent: no; hours skipped; OK
    check_eq(a, {"consent": "no", "partners": None, "each": [], "hours": None, "fin": "OK"})


def test_select_multiple_ticks_with_a_cap_and_a_done_row():
    b = KeyBoard()
    s = Survey(DOCS, b, "en")
    s.press("down")
    s.press("ok")
    check_eq(s.q["name"], "partners")
    s.press("ok")  # nothing under the cursor yet: Done with nothing ticked
    check_eq(s.msg, "Answer required")
    for k in ("down", "ok", "down", "ok", "down", "ok"):  # tick p1, p2, then p3 over the cap
        s.press(k)
    check_eq(s.msg, "2 at most")
    check_eq(s.ticked, ["p1", "p2"])
    lines = s.lines()
    assert "> [ ]Gumi Parts" in lines and "  [x]Hanbit Tech" in lines, lines
    s.press("down")
    check_eq(s.lines()[-2], "> Done")
    s.press("ok")
    check_eq(s.q["name"], "since")
    check_eq(s.engine.record_answers()[1], ["p1", "p2"])


def test_a_repeat_pass_per_partner_with_the_partner_in_the_label_and_stepping():
    keys = ["down", "ok",  # consent yes
            "down", "ok", "down", "down", "ok", "down", "ok",  # partners p1, p3, then Done
            "up", "ok",  # since, pass 1: first step lands on the minimum, 1950
            "up", "up", "ok",  # pass 2: 1950, 1951
            "ok",  # hours: optional, left empty
            "ok"]  # acknowledge
    s, a, b = docs_survey(keys)
    check_eq(a["partners"], ["p1", "p3"])
    check_eq(a["each"], [["p1", 1950], ["p3", 1951]])
    check_eq(a["fin"], "OK")
    shown = ["\n".join(x) for x in b.screens]
    assert any("Since which year with p3?" in x.replace("\n", " ") and "Partner 2/2" in x for x in shown), shown


def test_decimal_steps_by_one_within_its_bounds():
    s, a, _ = docs_survey(["down", "down", "ok", "down", "up", "up", "up", "down", "ok", "ok"])
    check_eq(a["hours"], 1000)  # 0, 1, 2, (3 refused: max 2), back down to 1


def test_back_out_of_a_repeat_and_cancel():
    b = KeyBoard()
    s = Survey(DOCS, b, "en")
    for k in ("down", "ok", "down", "ok", "up", "ok"):
        s.press(k)
    check_eq(s.q["name"], "since")
    s.press("back")
    check_eq(s.q["name"], "partners")
    check_eq(s.ticked, ["p1"])
    s.press("back")
    check_eq(s.q["name"], "consent")
    check_eq(s.cursor, 0)
    check_eq(s.press("back"), "cancel")


def written(engine):
    """What the kiosk writes to its draft file: the engine's write_state()."""
    out = io.BytesIO()
    engine.write_state(out)
    return out.getvalue()


def test_each_answer_reaches_the_draft_hook_and_a_draft_resumes():
    drafts = []
    b = KeyBoard()
    s = Survey(DOCS, b, "en", device="kiosk-07", on_answer=lambda e: drafts.append(written(e)))
    for k in ("down", "ok", "down", "ok", "up", "ok"):
        s.press(k)
    check_eq(len(drafts), 2)  # consent, partners (the ticks are not answers yet)
    assert len(drafts[-1]) < 300, drafts[-1]
    # the power goes: a new board, the survey resumed from the last draft
    b2 = KeyBoard(["up", "ok", "ok", "ok"])
    b2.t += 600
    r = Survey(DOCS, b2, "en", draft=drafts[-1])
    check_eq(r.instance_id, s.instance_id)
    check_eq(r.q["name"], "since")
    a = r.run(2000)
    check_eq(a["each"], [["p1", 1950]])
    rec = r.record()
    check_eq(rec[4], b.t)  # the start of the interview, not of the resumed part
    check_eq(rec[5], 600)
    check_eq(rec[1], s.instance_id)


def test_a_draft_of_another_form_version_is_refused():
    drafts = []
    s = Survey(DOCS, KeyBoard(), "en", on_answer=lambda e: drafts.append(written(e)))
    s.press("down")
    s.press("ok")
    other = dict(DOCS)
    other["version"] = "2026120101"
    e = None
    try:
        Survey(other, KeyBoard(), "en", draft=drafts[0])
    except ValueError as x:
        e = x
    assert e is not None and "discard the draft" in str(e), e


def test_wrap():
    check_eq(wrap("How satisfied are you with it?", 10), ["How", "satisfied", "are you", "with it?"])
    check_eq(wrap("abcdefghijkl", 5), ["abcde", "fghij", "kl"])


run(globals())
