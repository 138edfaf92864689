"""Form look-up and answer checks against the real visit instrument."""
from __future__ import annotations

import pytest

from tiesense.forms import FormError, FormRegistry, builtin_form, builtin_forms, load_form, validate_answers

GOOD = {"facility": "shared_lab", "org_type": "sme", "satisfaction": 4}


@pytest.fixture(scope="module")
def visit() -> dict:
    return FormRegistry.builtin().get("tp_visit", "2026112401")


def test_builtin_instruments_load(visit):
    assert [(f["id"], f["version"]) for f in builtin_forms()] == [("fi_interview", "2026113001"),
                                                                   ("fi_interview", "2026120101"),
                                                                   ("fi_partner", "2026112401"),
                                                                   ("tp_presence", "2026113001"),
                                                                   ("tp_visit", "2026112401")]
    assert [q["name"] for q in visit["questions"]] == ["facility", "org_type", "satisfaction"]
    interview = [q["name"] for q in builtin_form("fi_partner")["questions"]]
    assert interview[:2] == ["respondent_org", "partner_org"] and "closeness" in interview


def test_interview_answers_are_checked_against_the_instrument():
    form = builtin_form("fi_partner")
    good = {"respondent_org": 11, "partner_org": 12, "tie_types": ["traded", "knowledge"], "frequency": 5,
            "closeness": 4, "scope": "abroad"}
    assert validate_answers(form, good) == []
    bad = validate_answers(form, dict(good, frequency=7, tie_types=["gossip"], scope=None))
    assert len(bad) == 3 and any("frequency" in p for p in bad) and any("gossip" in p for p in bad)


def test_lookup_by_id_and_version():
    reg = FormRegistry.builtin()
    assert ("tp_visit", "2026112401") in reg
    assert reg.get("tp_visit", "1") is None
    assert reg.problem("tp_visit", "2026112401") is None
    assert reg.problem("tp_visit", "1") == "unknown version '1' of form 'tp_visit' (known: 2026112401)"
    assert reg.problem("nope", "1") == "unknown form 'nope'"


@pytest.mark.parametrize("answers, problems", [
    (GOOD, []),
    (dict(GOOD, mood="happy"), ["unknown question 'mood'"]),
    ({"facility": "shared_lab", "satisfaction": 4}, ["required question 'org_type' is not answered"]),
    (dict(GOOD, org_type=None), ["required question 'org_type' is not answered"]),
    (dict(GOOD, facility="spa"), ["'facility': choice 'spa' is not in the list"]),
    (dict(GOOD, facility=3), ["'facility' (select_one) must be one choice name, got 3"]),
    (dict(GOOD, satisfaction=0), ["'satisfaction': 0 is out of range 1..5"]),
    (dict(GOOD, satisfaction=6), ["'satisfaction': 6 is out of range 1..5"]),
    (dict(GOOD, satisfaction="4"), ["'satisfaction' (range) must be an integer, got \"4\""]),
    (dict(GOOD, satisfaction=True), ["'satisfaction' (range) must be an integer, got true"]),
    ("not a dict", ["answers must be a JSON object"]),
])
def test_validate_answers_on_the_visit_form(visit, answers, problems):
    assert validate_answers(visit, answers) == problems


def test_validate_other_question_types():
    form = {"id": "f", "version": "1", "questions": [
        {"name": "tags", "type": "select_multiple", "choices": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
         "max_selected": 2},
        {"name": "count", "type": "integer", "min": 0, "max": 100},
        {"name": "even", "type": "range", "start": 0, "end": 10, "step": 2},
        {"name": "hello", "type": "note"},
        {"name": "partner", "type": "select_one", "required": True, "relevant": "${count} > 0",
         "choices": [{"name": "x"}]},
    ]}
    assert validate_answers(form, {"tags": ["a", "c"], "count": 5, "even": 4, "partner": "x"}) == []
    assert validate_answers(form, {}) == []  # nothing required without a relevance condition
    assert validate_answers(form, {"tags": ["a", "z"]}) == ["'tags': choice 'z' is not in the list"]
    assert validate_answers(form, {"tags": ["a", "a"]}) == ["'tags': a choice is selected twice"]
    assert validate_answers(form, {"tags": ["a", "b", "c"]}) == ["'tags': 3 choices selected, at most 2 allowed"]
    assert validate_answers(form, {"tags": "a"}) == ["'tags' (select_multiple) must be a list of choice names, got \"a\""]
    assert validate_answers(form, {"count": 101}) == ["'count': 101 is out of range 0..100"]
    assert validate_answers(form, {"count": [1]}) == ["'count' (integer) must be an integer, got [1]"]
    assert validate_answers(form, {"even": 3}) == ["'even': 3 is not on a step of 2 from 0"]
    assert validate_answers(form, {"hello": "hi"}) == ["'hello' is a note and takes no answer"]


def test_broken_form_files_are_refused(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"id": "x", "questions": []}')
    with pytest.raises(FormError, match="lacks 'version'"):
        load_form(p)
    p.write_text('{"id": "x", "version": "1", "questions": [{"name": "a", "type": "note"}, {"name": "a", "type": "note"}]}')
    with pytest.raises(FormError, match="appears twice"):
        load_form(p)
