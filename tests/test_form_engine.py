"""The form engine, differentially: the device's (firmware/form.py, under the real
micropython) and the host's reference (tiesense.xlsform.engine) run the same
compiled forms through the same generated answer scripts and must agree after
every step (the message or result, the position, the question shown with its
filled-in label, value and offered choices) and at the end (the record's
answers and the persisted snapshot, byte for byte).

Scripts are sequences of actions: set a value drawn from the current
question's domain (valid and invalid ones, wrong types included), next, back,
and "restore" (the interview resumed from its own snapshot, as after a power
cut). The default runs 60 scripts per form; the long profile:

    TIESENSE_ENGINE_EXAMPLES=2000 .venv/bin/python -m pytest tests/test_form_engine.py

Then direct tests, on both engines, of what users rely on: required answers
refuse, constraint messages show, what is not relevant is skipped and emptied,
one repeat pass per partner chosen, back out of a repeat, a restored interview
continues identically.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiesense import forms as builtin_forms
from tiesense import forms as forms_host
from tiesense import wire
from tiesense.forms import choices_of
from tiesense.xlsform import compile_xlsform
from tiesense.xlsform.engine import Interview

from .conftest import ROOT
from .test_xlsform import CHOICES as VISIT_CHOICES
from .test_xlsform import SETTINGS as VISIT_SETTINGS
from .test_xlsform import SUPPORTED as VISIT_SURVEY
from .xlsforms import instrument_to_xlsform, write_xlsform

EXAMPLES = int(os.environ.get("TIESENSE_ENGINE_EXAMPLES", "60"))
# the default profile draws the same scripts every run; a long profile draws new ones each time
REPEATABLE = "TIESENSE_ENGINE_EXAMPLES" not in os.environ
EN, KO = "label::English (en)", "label::Korean (ko)"
META = {"start": 1795500000, "today": "2026-11-30", "deviceid": "kiosk-07",
        "instance": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}
END = 1795500300

# A kiosk form with every kiosk type: a name generator (select_multiple with a cap and a
# choice_filter on an earlier answer) driving a repeat whose labels name each partner,
# "don't know" / "refused" as choices, and a number with its companion select; its yes/no list
# serves three selects (one in the repeat) and its organisations two with filters on different
# columns, so the compiled form holds both once ("lists", format 2).
KIOSK_SURVEY = [
    {"type": "start", "name": "started"},
    {"type": "today", "name": "day"},
    {"type": "deviceid", "name": "device"},
    {"type": "note", "name": "welcome", EN: "Welcome to ${device}", KO: "환영합니다"},
    {"type": "select_one yn", "name": "consent", EN: "Take part?", KO: "참여?", "required": "yes",
     "required_message::English (en)": "Please choose yes or no", "appearance": "quick"},
    {"type": "select_one region", "name": "region", EN: "Your region?", KO: "지역?", "required": "yes",
     "relevant": "${consent} = 'yes'"},
    {"type": "select_multiple org", "name": "partners", EN: "Whom did you work with?", KO: "누구와?",
     "relevant": "${consent} = 'yes'", "choice_filter": "zone = ${region} or zone = 'any'",
     "constraint": "count-selected(.) <= 2 and not(count-selected(.) > 1 and (selected(., 'dont_know')"
                   " or selected(., 'refused')))",
     "constraint_message::English (en)": "Two at most; don't know and refused go alone"},
    {"type": "begin repeat", "name": "each", EN: "Partner ${who_name}", KO: "상대 ${who_name}",
     "repeat_count": "count-selected(${partners})"},
    {"type": "calculate", "name": "who", "calculation": "selected-at(${partners}, position(..) - 1)"},
    {"type": "calculate", "name": "who_name", "calculation": "jr:choice-name(${who}, '${partners}')"},
    {"type": "range", "name": "freq", EN: "How often do you meet ${who}?", KO: "${who} 빈도?", "required": "yes",
     "parameters": "start=1 end=5 step=1", "relevant": "${who} != 'dont_know' and ${who} != 'refused'"},
    {"type": "select_one yn", "name": "new", EN: "Is ${who} a new contact?", KO: "새 연락처?",
     "relevant": "${freq} >= 3"},
    {"type": "integer", "name": "since", EN: "Since which year with ${who}?", KO: "몇 년부터?",
     "constraint": ". >= 1950 and . <= 2026", "constraint_message::English (en)": "A year from 1950 to 2026",
     "relevant": "${freq} != ''"},
    {"type": "end repeat"},
    {"type": "integer", "name": "staff", EN: "How many staff?", KO: "직원 수?", "constraint": ". >= 0 and . <= 500"},
    {"type": "select_one dkr", "name": "staff_dk", EN: "Why no staff count?", KO: "이유?", "required": "yes",
     "relevant": "${consent} = 'yes' and ${staff} = ''"},
    {"type": "decimal", "name": "hours", EN: "Hours a week at the park", KO: "주당 시간",
     "constraint": ". >= 0 and . <= 60.5", "required": "${staff} > 10",
     "required_message::English (en)": "Needed for a firm of more than 10"},
    {"type": "calculate", "name": "load", "calculation": "if(${staff} > 0, ${hours} div ${staff}, 0)"},
    {"type": "select_one org", "name": "host", EN: "Who hosted you today?", KO: "주최?",
     "relevant": "${staff} > 100", "choice_filter": "kind = 'firm' or zone = 'any'"},
    {"type": "select_one yn", "name": "again", EN: "Will you come again?", KO: "다시?", "relevant": "${staff} > 100"},
    {"type": "note", "name": "summary", EN: "${load} hours per person, ${hours} in all", KO: "요약"},
    {"type": "acknowledge", "name": "fin", EN: "Press OK to finish", KO: "확인", "required": "yes"},
    {"type": "end", "name": "ended"},
]
KIOSK_CHOICES = [
    {"list_name": "yn", "name": "yes", EN: "Yes", KO: "예"},
    {"list_name": "yn", "name": "no", EN: "No", KO: "아니오"},
    {"list_name": "region", "name": "north", EN: "North", KO: "북"},
    {"list_name": "region", "name": "south", EN: "South", KO: "남"},
    {"list_name": "org", "name": "o1", EN: "Hanbit Tech", KO: "한빛", "zone": "north", "kind": "firm"},
    {"list_name": "org", "name": "o2", EN: "Daegu TP", KO: "대구", "zone": "south", "kind": "agency"},
    {"list_name": "org", "name": "o3", EN: "Gumi Parts", KO: "구미", "zone": "north", "kind": "firm"},
    {"list_name": "org", "name": "dont_know", EN: "Don't know", KO: "모름", "zone": "any", "kind": "none"},
    {"list_name": "org", "name": "refused", EN: "Rather not say", KO: "거부", "zone": "any", "kind": "none"},
    {"list_name": "dkr", "name": "dont_know", EN: "Don't know", KO: "모름"},
    {"list_name": "dkr", "name": "refused", EN: "Rather not say", KO: "거부"},
]
KIOSK_SETTINGS = {"form_id": "engine_kiosk", "version": "2026113001", "form_title": "Engine kiosk",
                  "default_language": "English (en)"}

# A handheld form: text, date, a repeat counted by an integer, inside a group with a relevant.
HANDHELD_SURVEY = [
    {"type": "start", "name": "s"},
    {"type": "text", "name": "name", EN: "Your name", KO: "이름", "required": "yes",
     "constraint": "string-length(.) <= 12", "constraint_message::English (en)": "12 letters at most"},
    {"type": "date", "name": "visited", EN: "Date of the visit", KO: "방문일"},
    {"type": "integer", "name": "n", EN: "How many partners (up to 3)?", KO: "상대 수?", "required": "yes",
     "constraint": ". >= 0 and . <= 3"},
    {"type": "begin group", "name": "ties", EN: "Ties", KO: "관계", "relevant": "${n} > 0"},
    {"type": "select_one yn", "name": "formal", EN: "Formal ties, ${name}?", KO: "공식?"},
    {"type": "begin repeat", "name": "p", EN: "Partner", KO: "상대", "repeat_count": "${n}"},
    {"type": "text", "name": "pname", EN: "Partner's name", KO: "상대 이름", "required": "yes"},
    {"type": "select_one kind", "name": "pkind", EN: "What is ${pname}?", KO: "종류?",
     "choice_filter": "grp = 'both' or grp = ${formal}"},
    {"type": "decimal", "name": "share", EN: "Share of sales with ${pname} (%)", KO: "매출 비중",
     "constraint": ". >= 0 and . <= 100", "required": "position(..) = 1"},
    {"type": "calculate", "name": "plen", "calculation": "string-length(${pname})"},
    {"type": "end repeat"},
    {"type": "end group"},
    {"type": "select_multiple topic", "name": "topics", EN: "Topics", KO: "주제",
     "constraint": "count-selected(.) <= 2"},
    {"type": "note", "name": "bye", EN: "Thanks, ${name} (${topics})", KO: "감사"},
    {"type": "end", "name": "e"},
]
HANDHELD_CHOICES = [
    {"list_name": "yn", "name": "yes", EN: "Yes", KO: "예"},
    {"list_name": "yn", "name": "no", EN: "No", KO: "아니오"},
    {"list_name": "kind", "name": "supplier", EN: "Supplier", KO: "공급", "grp": "yes"},
    {"list_name": "kind", "name": "friend", EN: "Friend", KO: "지인", "grp": "no"},
    {"list_name": "kind", "name": "agency", EN: "Agency", KO: "기관", "grp": "both"},
    {"list_name": "topic", "name": "rd", EN: "R&D", KO: "연구"},
    {"list_name": "topic", "name": "export", EN: "Export", KO: "수출"},
    {"list_name": "topic", "name": "hiring", EN: "Hiring", KO: "채용"},
]
HANDHELD_SETTINGS = {"form_id": "engine_handheld", "version": "2026113001", "form_title": "Engine handheld",
                     "default_language": "English (en)"}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict[str, dict]:
    """The test forms, compiled from XLSForm workbooks: id -> device form."""
    d = tmp_path_factory.mktemp("forms")
    out = [compile_xlsform(write_xlsform(d / "k.xlsx", KIOSK_SURVEY, KIOSK_CHOICES, KIOSK_SETTINGS), "kiosk"),
           compile_xlsform(write_xlsform(d / "h.xlsx", HANDHELD_SURVEY, HANDHELD_CHOICES, HANDHELD_SETTINGS),
                           "handheld"),
           compile_xlsform(write_xlsform(d / "v.xlsx", VISIT_SURVEY, VISIT_CHOICES, VISIT_SETTINGS), "kiosk"),
           compile_xlsform(instrument_to_xlsform(builtin_forms.builtin_form("tp_visit"), d / "tp.xlsx"), "kiosk")]
    return {c.form["id"]: c.form for c in out}


# ------------------------------------------------------------ running scripts

def view(interview) -> list | None:
    cur = interview.current()
    if cur is None:
        return None
    return [cur["name"], cur["type"], cur["label"], cur["hint"], cur["value"], cur["pass"], cur["passes"],
            cur.get("repeat"), [c["name"] for c in interview.choices()]]


def act(interview, action, form, lang):
    """Apply one action; returns (result, the interview, which "restore" replaces)."""
    if action[0] == "set":
        return interview.set(action[1]), interview
    if action[0] == "next":
        return interview.next(), interview
    if action[0] == "back":
        return interview.back(), interview
    return None, Interview.restore(form, interview.state(), lang)


def step_result(result, interview) -> list:
    return [result, list(interview.position), interview.done, view(interview)]


def run_reference(form: dict, case: dict) -> list:
    iv = Interview(form, case["meta"], case["lang"])
    steps = []
    for a in case["actions"]:
        r, iv = act(iv, a, form, case["lang"])
        steps.append(step_result(r, iv))
    if iv.done:
        iv.finish(case["end"])
    return [steps, iv.record_answers(), iv.state().decode()]


_DEVICE = """
import sys, json
import form as engine

def view(e):
    cur = e.current()
    if cur is None:
        return None
    return [cur["name"], cur["type"], cur["label"], cur["hint"], cur["value"], cur["pass"], cur["passes"],
            cur.get("repeat"), [c["name"] for c in e.choices()]]

forms = json.loads(open(sys.argv[1]).read())
out = open(sys.argv[3], "w")
for line in open(sys.argv[2]):
    c = json.loads(line)
    f = forms[c["form"]]
    try:
        e = engine.Form(f, c["meta"], c["lang"])
        steps = []
        for a in c["actions"]:
            if a[0] == "set":
                r = e.set(a[1])
            elif a[0] == "next":
                r = e.next()
            elif a[0] == "back":
                r = e.back()
            else:
                e = engine.Form.restore(f, e.state(), c["lang"])
                r = None
            steps.append([r, list(e.pos), e.done, view(e)])
        if e.done:
            e.finish(c["end"])
        res = [steps, e.record_answers(), e.state().decode()]
    except Exception as ex:
        res = ["E", repr(ex)]
    out.write(json.dumps(res) + "\\n")
out.close()
"""


def run_on_device(micropython: str, tmp_path: Path, forms: dict, cases: list, heap: str = "4M") -> list:
    """Every case through firmware/form.py under micropython, one process for the batch."""
    src, dst, fp = tmp_path / "cases.jsonl", tmp_path / "results.jsonl", tmp_path / "forms.json"
    fp.write_bytes(wire.encode(forms))
    src.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8")
    script = tmp_path / "engine_device.py"
    script.write_text(_DEVICE)
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([".frozen", str(ROOT / "firmware"),
                                                        str(ROOT / "host" / "tiesense")]))
    r = subprocess.run([micropython, "-X", f"heapsize={heap}", str(script), str(fp), str(src), str(dst)],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    return [json.loads(line) for line in dst.read_text(encoding="utf-8").splitlines()]


# ------------------------------------------------------------ generated scripts

def value_for(q: dict | None, offered: list[str] = (), likely: bool = False, form: dict | None = None):
    """A strategy for a value offered to question ``q``: its domain, its edges and wrong types.

    ``offered``: the choices its filter lets through now; ``likely``: what a respondent
    enters (mostly valid, sometimes an edge), else anything.
    """
    wrong = st.sampled_from([None, "x", 7, True, [], 2.5])
    if q is None:
        return wrong
    t = q["type"]
    names = list(offered) or [c["name"] for c in choices_of(form or {}, q)]
    if t == "select_one":
        valid = st.sampled_from(names)
        edges = st.sampled_from(names + ["zz"])
    elif t == "select_multiple":
        valid = st.lists(st.sampled_from(names), min_size=1, max_size=min(len(names), q.get("max_selected", 9)),
                         unique=True)
        edges = st.lists(st.sampled_from(names + ["zz"]), max_size=4)
    elif t == "integer":
        lo, hi = q.get("min", -5), q.get("max", 60)
        valid = st.integers(lo, min(hi, lo + 80))
        edges = st.sampled_from([lo - 1, hi + 1, lo, hi])
    elif t == "decimal":
        valid = st.integers(0, 20000)
        edges = st.sampled_from([-1, 0, 12500, 60500, 60501, 100001])
    elif t == "range":
        valid = st.integers(min(q["start"], q["end"]), max(q["start"], q["end"]))
        edges = st.sampled_from([q["start"] - 1, q["end"] + 1])
    elif t == "text":
        valid = st.text(alphabet="abc 한", min_size=1, max_size=8)
        edges = st.text(alphabet="ab 한-", max_size=16) | st.just("a name of sixteen")
    elif t == "date":
        valid = st.sampled_from(["2026-11-30", "2025-01-01"])
        edges = st.sampled_from(["2026-02-31", "2026-13-01", "26-11-30", "", "2026-1-130"])
    elif t == "acknowledge":
        valid = st.just("OK")
        edges = st.just("ok")
    else:
        return st.none() if likely else wrong
    return st.one_of(valid, valid, valid, edges) if likely else st.one_of(valid, edges, wrong)


def script_for(form: dict, data, max_steps: int = 60) -> dict:
    """Draw one answer script for ``form``, stepping the reference to know the current question.

    Half the moves answer the current question and go on (as a respondent does), the rest
    offer any value, go on, go back, or restore the interview from its snapshot.
    """
    lang = data.draw(st.sampled_from(["en", "en", "ko"]))
    iv = Interview(form, META, lang)
    actions = []
    while len(actions) < max_steps and not (iv.done and data.draw(st.integers(0, 3)) > 0):
        roll = data.draw(st.integers(0, 99))
        cur = iv.current()
        q = cur and cur["question"]
        offered = [c["name"] for c in iv.choices()]
        if roll < 50:
            moves = ([["set", data.draw(value_for(q, offered, likely=True, form=form))], ["next"]]
                     if q and q["type"] != "note" else [["next"]])
        elif roll < 70:
            moves = [["set", data.draw(value_for(q, offered if roll < 60 else (), form=form))]]
        elif roll < 85:
            moves = [["next"]]
        elif roll < 96:
            moves = [["back"]]
        else:
            moves = [["restore"]]
        for action in moves:
            actions.append(action)
            _, iv = act(iv, action, form, lang)
    return {"form": form["id"], "meta": META, "lang": lang, "end": END, "actions": actions}


def test_the_device_and_the_reference_agree_on_generated_scripts(micropython, tmp_path, compiled):
    cases: list = []
    for form in compiled.values():
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=REPEATABLE,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(st.data())
        def collect(data):
            cases.append(script_for(form, data))  # noqa: B023 - run at once, in this iteration

        collect()
    expected = [run_reference(compiled[c["form"]], c) for c in cases]
    got = run_on_device(micropython, tmp_path, compiled, cases)
    assert len(got) == len(cases)
    wrong = [(c, e, g) for c, e, g in zip(cases, expected, got) if e != g]
    if wrong:
        c, e, g = wrong[0]
        first = next((k for k, (a, b) in enumerate(zip(e[0], g[0])) if a != b), None) if g[0] != "E" else None
        pytest.fail(f"{len(wrong)} of {len(cases)} scripts differ; first on form {c['form']} at step {first}:"
                    f"\nactions {c['actions'][:(first or 0) + 1]}\nreference {e[0][first] if first is not None else e}"
                    f"\ndevice    {g[0][first] if first is not None else g}")
    # the scripts reach what they are meant to test, on every form
    for form_id in compiled:
        runs = [e for c, e in zip(cases, expected) if c["form"] == form_id]
        assert any(steps and steps[-1][2] for steps, _, _ in runs), f"no script finished {form_id}"
        assert sum(1 for steps, _, _ in runs for s in steps if isinstance(s[0], str)) >= 5, form_id
    messages = {s[0] for steps, _, _ in expected for s in steps if isinstance(s[0], str)}
    assert {"Please choose yes or no", "Answer required", "Not one of the choices",
            "A year from 1950 to 2026", "12 letters at most"} <= messages, messages
    passes = {s[3][5] for steps, _, _ in expected for s in steps if s[3] and s[3][5]}
    assert {1, 2} <= passes, "no script reached a second repeat pass"


_HEAP = """
import gc, json, sys
import form as engine

gc.collect()
base = gc.mem_alloc()
f = json.loads(open(sys.argv[1]).read())
gc.collect()
form_heap = gc.mem_alloc() - base
engine_heap = 0
steps = 0
for line in open(sys.argv[2]):
    c = json.loads(line)
    gc.collect()
    before = gc.mem_alloc()
    e = engine.Form(f, c["meta"], c["lang"])
    for a in c["actions"]:
        if a[0] == "set":
            e.set(a[1])
        elif a[0] == "next":
            e.next()
        elif a[0] == "back":
            e.back()
        else:
            e = engine.Form.restore(f, e.state(), c["lang"])
        e.current()
        e.choices()
        steps += 1
        gc.collect()
        engine_heap = max(engine_heap, gc.mem_alloc() - before)
    e = c = None
print(json.dumps({"form_heap": form_heap, "engine_heap": engine_heap, "steps": steps}))
"""


def test_the_biggest_form_runs_within_a_pico_heap(micropython, tmp_path, compiled):
    """Generated scripts on the biggest test form under a Pico W's heap (190K, as tests/test_firmware.py)."""
    form = max(compiled.values(), key=lambda f: len(wire.encode(f)))
    cases: list = []

    @settings(max_examples=30, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def collect(data):
        cases.append(script_for(form, data))

    collect()
    (tmp_path / "form.json").write_bytes(wire.encode(form))
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases),
                                          encoding="utf-8")
    (tmp_path / "heap.py").write_text(_HEAP)
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([".frozen", str(ROOT / "firmware"),
                                                        str(ROOT / "host" / "tiesense")]))
    r = subprocess.run([micropython, "-X", "heapsize=190K", str(tmp_path / "heap.py"), str(tmp_path / "form.json"),
                        str(tmp_path / "cases.jsonl")], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    figures = json.loads(r.stdout.strip().splitlines()[-1])
    assert figures["steps"] >= 30 * 5
    # the engine's state between key presses is small beside the form it runs
    assert 0 < figures["engine_heap"] < figures["form_heap"], figures
    print(f"{form['id']}: {len(wire.encode(form))} bytes compiled, {figures['form_heap']} bytes of heap once loaded,"
          f" at most {figures['engine_heap']} held by the engine between steps ({figures['steps']} steps)")


# ------------------------------------------------------------ direct tests, both engines

def both(micropython, tmp_path, compiled, form_id, actions, lang="en"):
    """Run one script on the reference and on the device; they must agree; returns the result."""
    case = {"form": form_id, "meta": META, "lang": lang, "end": END, "actions": actions}
    expected = run_reference(compiled[form_id], case)
    got = run_on_device(micropython, tmp_path, compiled, [case])[0]
    assert got == expected
    return expected


def labels(steps):
    return [s[3] and s[3][2] for s in steps]


def test_required_refuses_with_the_forms_message_and_stays(micropython, tmp_path, compiled):
    steps, _, _ = both(micropython, tmp_path, compiled, "engine_kiosk",
                       [["back"], ["next"], ["next"], ["set", "yes"], ["next"]])
    assert steps[0][0] is False and steps[0][3][:3] == ["welcome", "note", "Welcome to kiosk-07"], "deviceid filled in"
    assert steps[1][3][0] == "consent" and steps[1][3][8] == ["yes", "no"]
    assert steps[2][0] == "Please choose yes or no" and steps[2][3][0] == "consent"
    assert steps[3][0] is None and steps[4][3][0] == "region"
    ko, _, _ = both(micropython, tmp_path, compiled, "engine_kiosk", [["next"], ["next"], ["next"]], lang="ko")
    assert ko[0][3][2] == "참여?" and ko[1][0] == "Please choose yes or no", "an English-only message in English"


def test_constraint_message_shown_and_nothing_stored(micropython, tmp_path, compiled):
    go = [["next"], ["set", "yes"], ["next"], ["set", "north"], ["next"]]
    steps, _, _ = both(micropython, tmp_path, compiled, "engine_kiosk",
                       go + [["set", ["o1", "o3", "dont_know"]], ["set", ["o1", "dont_know"]], ["set", ["o2"]],
                             ["set", ["o3", "o1"]], ["set", ["dont_know"]]])
    assert steps[4][3][8] == ["o1", "o3", "dont_know", "refused"], "the choice_filter keeps the north and 'any'"
    msg = "Two at most; don't know and refused go alone"
    assert steps[5][0] == msg and steps[6][0] == msg and steps[6][3][4] is None, "refused: nothing stored"
    assert steps[7][0] == "Not one of the choices", "o2 is filtered out (south)"
    assert steps[8][0] is None and steps[8][3][4] == ["o1", "o3"], "kept in the list's order"
    assert steps[9][0] is None and steps[9][3][4] == ["dont_know"], "don't know alone is an answer"


def test_a_list_three_selects_share_is_held_once_and_offered_alike(micropython, tmp_path, compiled):
    form = compiled["engine_kiosk"]
    assert form["format"] == 2 and sorted(form["lists"]) == ["org", "yn"]
    users = [q["name"] for q in form["questions"] + next(q for q in form["questions"] if q["name"] == "each")[
        "questions"] if q.get("list") == "yn"]
    assert sorted(users) == ["again", "consent", "new"]
    # the organisations carry both columns their two filters read
    assert form["lists"]["org"][1] == {"name": "o2", "label": {"en": "Daegu TP", "ko": "대구"}, "zone": "south",
                                       "kind": "agency"}
    go = [["next"], ["set", "yes"], ["next"], ["set", "south"], ["next"], ["set", ["o2"]], ["next"],
          ["set", 1], ["next"], ["next"], ["set", 120], ["next"], ["set", 30000], ["next"]]
    steps, answers, _ = both(micropython, tmp_path, compiled, "engine_kiosk",
                             go + [["set", "o2"], ["set", "o3"], ["next"], ["set", "maybe"], ["set", "yes"], ["next"],
                                  ["next"], ["set", "OK"], ["next"]])
    assert [x[3][0] for x in steps[:13]] == ["consent", "consent", "region", "region", "partners", "partners",
                                             "freq", "freq", "since", "staff", "staff", "hours", "hours"]
    assert steps[13][3][0] == "host" and steps[13][3][8] == ["o1", "o3", "dont_know", "refused"], "kind, not zone"
    assert steps[14][0] == "Not one of the choices" and steps[15][0] is None
    assert steps[16][3][0] == "again" and steps[16][3][8] == ["yes", "no"]
    assert steps[17][0] == "Not one of the choices" and steps[18][0] is None
    assert steps[-1][2] is True
    rec = dict(zip(wire.answer_fields(form), answers))
    assert (rec["partners"], rec["host"], rec["again"]) == (["o2"], "o3", "yes")
    assert forms_host.validate_answers(form, rec) == []


def test_non_relevant_is_skipped_and_emptied(micropython, tmp_path, compiled):
    fields = wire.answer_fields(compiled["engine_kiosk"])
    steps, answers, _ = both(micropython, tmp_path, compiled, "engine_kiosk",
                             [["next"], ["set", "no"], ["next"], ["next"], ["next"], ["next"], ["set", "OK"],
                              ["next"]])
    assert [s[3] and s[3][0] for s in steps] == ["consent", "consent", "staff", "hours", "summary", "fin", "fin",
                                                 None], "region, partners, the repeat and staff_dk are skipped"
    assert steps[4][3][2] == "0 hours per person,  in all", "a calculate and an empty answer in a label"
    rec = dict(zip(fields, answers))
    assert rec["region"] is None and rec["partners"] is None and rec["staff_dk"] is None
    assert rec["each"] == [], "no partner chosen: no passes"
    assert rec["started"] == META["start"] and rec["ended"] == END and rec["day"] == "2026-11-30"
    assert rec["device"] == "kiosk-07" and rec["load"] == "0" and rec["fin"] == "OK"
    # an answer made non-relevant is emptied in the record, and shown again when relevant again
    steps, answers, _ = both(micropython, tmp_path, compiled, "engine_kiosk",
                             [["next"], ["set", "yes"], ["next"], ["set", "south"], ["back"], ["set", "no"],
                              ["next"], ["back"], ["set", "yes"], ["next"], ["back"], ["set", "no"], ["next"],
                              ["next"], ["next"], ["next"], ["set", "OK"], ["next"]])
    assert steps[6][3][0] == "staff" and steps[7][3][0] == "consent"
    assert steps[9][3][0] == "region" and steps[9][3][4] == "south"
    assert steps[-1][2] is True and dict(zip(fields, answers))["region"] is None


def test_one_repeat_pass_per_partner_chosen_with_the_partner_in_the_label(micropython, tmp_path, compiled):
    go = [["next"], ["set", "yes"], ["next"], ["set", "north"], ["next"], ["set", ["o1", "o3"]], ["next"]]
    pass1 = [["set", 4], ["next"], ["set", "yes"], ["next"], ["set", 2019], ["next"]]
    pass2 = [["set", 1], ["next"], ["set", 1949], ["next"]]
    steps, answers, _ = both(micropython, tmp_path, compiled, "engine_kiosk", go + pass1 + pass2)
    assert steps[6][3][:3] + steps[6][3][5:8] == ["freq", "range", "How often do you meet o1?", 1, 2,
                                                 "Partner Hanbit Tech"]  # jr:choice-name: the label of o1
    assert steps[8][3][:3] == ["new", "select_one", "Is o1 a new contact?"]
    assert steps[10][3][:3] == ["since", "integer", "Since which year with o1?"]
    assert steps[12][3][2] == "How often do you meet o3?" and steps[12][3][5:8] == [2, 2, "Partner Gumi Parts"]
    assert steps[14][3][0] == "since", "'new' is not relevant when freq < 3"
    assert steps[15][0] == "A year from 1950 to 2026" and steps[15][3][4] is None
    assert steps[16][3][0] == "staff", "the refused year was not stored, and since is optional"
    rec = dict(zip(wire.answer_fields(compiled["engine_kiosk"]), answers))
    assert rec["each"] == [["o1", "Hanbit Tech", 4, "yes", 2019], ["o3", "Gumi Parts", 1, None, None]]
    ko, answers, _ = both(micropython, tmp_path, compiled, "engine_kiosk", go + pass1, lang="ko")
    assert ko[6][3][7] == "상대 한빛"  # the label in the interview's language, and so is the record's
    assert dict(zip(wire.answer_fields(compiled["engine_kiosk"]), answers))["each"][0][:2] == ["o1", "한빛"]
    # "don't know" chosen as the partner: its pass asks nothing
    steps, answers, _ = both(micropython, tmp_path, compiled, "engine_kiosk", go[:5] + [["set", ["refused"]],
                                                                                       ["next"]])
    assert steps[-1][3][0] == "staff"


def test_back_out_of_a_repeat_and_fewer_partners_fewer_passes(micropython, tmp_path, compiled):
    go = [["next"], ["set", "yes"], ["next"], ["set", "north"], ["next"], ["set", ["o1", "o3"]], ["next"]]
    steps, _, _ = both(micropython, tmp_path, compiled, "engine_kiosk",
                       go + [["set", 2], ["next"], ["back"], ["back"], ["set", ["o3"]], ["next"], ["next"],
                             ["next"]])
    assert steps[8][3][0] == "since" and steps[9][3][0] == "freq"
    assert steps[10][3][0] == "partners", "back from the first question of pass 1 leaves the repeat"
    assert steps[12][3][2] == "How often do you meet o3?" and steps[12][3][6] == 1, "one pass now"
    assert steps[12][3][4] == 2, "pass 1 keeps its answer"
    assert steps[14][3][0] == "staff"


def test_restore_after_a_snapshot_continues_identically(micropython, tmp_path, compiled):
    script = [["next"], ["set", "yes"], ["next"], ["set", "north"], ["next"], ["set", ["o1"]], ["next"],
              ["set", 3], ["next"], ["set", "no"]]
    rest = [["next"], ["set", 2001], ["next"], ["set", 12], ["next"], ["set", 7500], ["next"], ["next"],
            ["set", "OK"], ["next"]]
    plain = both(micropython, tmp_path, compiled, "engine_kiosk", script + rest)
    resumed = both(micropython, tmp_path, compiled, "engine_kiosk", script + [["restore"]] + rest)
    assert resumed[0][len(script)][1:] == plain[0][len(script) - 1][1:], "same position and view after restore"
    assert resumed[0][len(script) + 1:] == plain[0][len(script):]
    assert resumed[1:] == plain[1:]
    assert plain[0][-1][2] is True
    rec = dict(zip(wire.answer_fields(compiled["engine_kiosk"]), plain[1]))
    assert rec["each"] == [["o1", "Hanbit Tech", 3, "no", 2001]] and rec["hours"] == 7500 and rec["load"] == "0.625"
    assert len(plain[2]) < 400, "a snapshot small enough to write after every answer"


def test_handheld_text_date_and_a_repeat_counted_by_an_integer(micropython, tmp_path, compiled):
    steps, answers, _ = both(micropython, tmp_path, compiled, "engine_handheld",
                             [["set", "a very long name"], ["set", "Kim"], ["next"], ["set", "2026-02-30"],
                              ["set", "2026-13-01"], ["set", "2026-11-30"], ["next"], ["set", 2], ["next"],
                              ["set", "yes"], ["next"], ["next"], ["set", "Samsung"], ["next"], ["set", "friend"],
                              ["set", "supplier"], ["next"], ["next"], ["set", 12500], ["next"], ["set", "LG"],
                              ["next"], ["next"], ["next"], ["set", ["hiring", "rd"]], ["next"], ["next"]])
    assert steps[0][0] == "12 letters at most"
    assert steps[3][0] is None and steps[4][0] == "Enter a date as YYYY-MM-DD", "the shape is checked, not the calendar"
    assert steps[8][3][2] == "Formal ties, Kim?"
    assert steps[11][0] == "Answer required" and steps[11][3][0] == "pname" and steps[11][3][5:7] == [1, 2]
    assert steps[13][3][2] == "What is Samsung?" and steps[13][3][8] == ["supplier", "agency"], "filter reads ${formal}"
    assert steps[14][0] == "Not one of the choices"
    assert steps[17][0] == "Answer required", "share is required in pass 1 only"
    assert steps[22][3][0] == "share" and steps[22][3][5] == 2 and steps[23][3][0] == "topics"
    assert steps[24][3][4] == ["rd", "hiring"] and steps[25][3][2] == "Thanks, Kim (rd hiring)"
    assert steps[26][2] is True
    rec = dict(zip(wire.answer_fields(compiled["engine_handheld"]), answers))
    assert rec["p"] == [["Samsung", "supplier", 12500, "7"], ["LG", None, None, "2"]]
    assert rec["topics"] == ["rd", "hiring"] and rec["e"] == END and rec["visited"] == "2026-11-30"


def test_a_snapshot_of_another_form_version_is_refused_saying_what_to_do(compiled):
    iv = Interview(compiled["engine_kiosk"], META)
    other = dict(compiled["engine_kiosk"], version="2026120101")
    with pytest.raises(ValueError, match="discard the draft"):
        Interview.restore(other, iv.state())


def test_the_messages_and_the_draft_policy_are_documented():
    import re

    from tiesense.xlsform.engine import Messages

    section = (ROOT / "docs" / "forms.md").read_text(encoding="utf-8").split("## On the device", 1)[1]
    texts = {v for k, v in vars(Messages).items() if k.isupper()}
    for text in texts:
        assert f'"{text}"' in section, text
    assert '"Choose from S to E"' in section
    firmware = (ROOT / "firmware" / "answer.py").read_text()
    assert set(re.findall(r'^[A-Z_]+ = "([^"]+)"$', firmware, re.M)) == texts, "the device's texts are the host's"
    assert '"draft_policy": "discard"' in (ROOT / "firmware" / "config.py").read_text()
    assert "`draft_policy`" in section and "`discard` (default)" in section and "`resume`" in section
