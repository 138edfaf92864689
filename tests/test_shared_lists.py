"""Shared choice lists (docs/forms.md, "The compiled form"): a list two or more selects use is held once
in the form's ``lists`` (format 2) and named by each select's ``list``; everyone who reads choices on
the host resolves it (answer checks, form_questions across versions, scale ends, glyphs, preview)."""
from __future__ import annotations

import pytest

from tiesense import estimates, forms, wire
from tiesense.xlsform import compile_xlsform, glyphs

from .xlsforms import by_name, write_xlsform

EN, KO = "label::English (en)", "label::Korean (ko)"
SETTINGS = {"form_id": "ties_demo", "version": "2026113001", "form_title": "Ties",
            "default_language": "English (en)"}


def survey(lists: tuple[str, str, str]) -> list[dict]:
    """An interview whose three organisation questions take their choices from ``lists``."""
    me, partners, alters = lists
    return [
        {"type": f"select_one {me}", "name": "me", EN: "Which organisation are you?", KO: "어느 기관?",
         "required": "yes", "choice_filter": "kind = 'org' or kind = 'none'"},
        {"type": f"select_multiple {partners}", "name": "partners", EN: "Whom do you work with?", KO: "협력 상대?",
         "required": "yes", "choice_filter": "region = 'north' or kind = 'none'",
         "constraint": "count-selected(.) <= 3"},
        {"type": "begin repeat", "name": "each", EN: "About ${who}", KO: "${who}", "repeat_count": "count-selected(${partners})"},
        {"type": "calculate", "name": "who", "calculation": "selected-at(${partners}, position(..) - 1)"},
        {"type": f"select_multiple {alters}", "name": "alters", EN: "Do any of these work with ${who}?", KO: "함께?",
         "choice_filter": "name = selected-at(${partners}, position(..)) or name = selected-at(${partners},"
                          " position(..) + 1) or kind = 'none'"},
        {"type": "select_one scale", "name": "closeness", EN: "How close?", KO: "친밀도?"},
        {"type": "select_one scale", "name": "trust", EN: "How much trust?", KO: "신뢰?"},
        {"type": "end repeat"},
    ]


ORGS = [("o%d" % k, f"Organisation {k}", f"기관 {k}", "north" if k % 2 else "south") for k in range(1, 21)]


def choices(names: tuple[str, ...]) -> list[dict]:
    rows = []
    for name in names:
        rows += [{"list_name": name, "name": o, EN: en, KO: ko, "kind": "org", "region": region}
                 for o, en, ko, region in ORGS]
        rows.append({"list_name": name, "name": "none", EN: "Nobody", KO: "없음", "kind": "none", "region": "any"})
    return rows + [{"list_name": "scale", "name": str(n), EN: f"{n} point", KO: f"{n} 점"} for n in range(1, 6)]


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    d = tmp_path_factory.mktemp("shared")
    return compile_xlsform(write_xlsform(d / "s.xlsx", survey(("roster",) * 3), choices(("roster",)), SETTINGS),
                           "kiosk")


@pytest.fixture(scope="module")
def copied(tmp_path_factory):
    """The same interview with a copy of the roster per question: what every select carried before."""
    d = tmp_path_factory.mktemp("copied")
    names = ("roster_a", "roster_b", "roster_c")
    return compile_xlsform(write_xlsform(d / "c.xlsx", survey(names), choices(names), SETTINGS), "kiosk")


def test_a_list_three_selects_use_is_compiled_once_and_the_form_is_smaller(shared, copied):
    f, q = shared.form, by_name(shared.form)
    assert f["format"] == 2 and sorted(f["lists"]) == ["roster", "scale"]
    for name in ("me", "partners", "alters"):
        assert q[name]["list"] == "roster" and "choices" not in q[name], name
    assert q["closeness"]["list"] == q["trust"]["list"] == "scale"
    # the roster's items carry every column a filter reads (kind for me, region for partners, name for alters)
    assert f["lists"]["roster"][0] == {"name": "o1", "label": {"en": "Organisation 1", "ko": "기관 1"},
                                       "kind": "org", "region": "north"}
    assert shared.to_bytes().count("Organisation 7".encode()) == 1
    # with a roster per question only the scale is shared, and each roster copy has only its filter's column
    g = copied.form
    assert sorted(g["lists"]) == ["scale"]
    assert by_name(g)["me"]["choices"][0] == {"name": "o1", "label": {"en": "Organisation 1", "ko": "기관 1"},
                                              "kind": "org"}
    assert copied.to_bytes().count("Organisation 7".encode()) == 3
    assert (shared.size, copied.size) == (4437, 7616)
    assert shared.size == len(wire.encode(f))


def test_a_list_only_one_select_uses_stays_inline_and_the_form_stays_format_1(tmp_path):
    c = compile_xlsform(write_xlsform(tmp_path / "one.xlsx", survey(("roster",) * 3)[:1], choices(("roster",)),
                                      SETTINGS), "kiosk")
    assert c.form["format"] == 1 and "lists" not in c.form  # a format 1 device still runs it
    assert [ch["name"] for ch in c.form["questions"][0]["choices"]][-2:] == ["o20", "none"]


def test_answers_of_a_shared_list_are_checked_on_the_host(shared):
    f = shared.form
    one_pass = [None, ["o3", "none"], "4", "5"]
    good = {"me": "o1", "partners": ["o1", "o3"], "each": [one_pass, [None, ["none"], "2", None]]}
    assert forms.validate_answers(f, good) == []
    assert forms.validate_answers(f, dict(good, me="zz")) == ["'me': choice 'zz' is not in the list"]
    bad_pass = [None, ["o99"], "4", "5"]
    assert forms.validate_answers(f, dict(good, each=[bad_pass])) == [
        "'each' pass 1: 'alters': choice 'o99' is not in the list"]
    forms.FormRegistry([f])


def test_form_questions_resolve_each_question_against_its_own_version(shared, copied):
    old = dict(copied.form, version="2026113000")
    new = shared.form
    qs = {q["name"]: q for q in forms.form_questions([old, new], "ties_demo")}
    assert qs["me"]["choices"] is new["lists"]["roster"] and "list" not in qs["me"]
    inner = {c["name"]: c for c in qs["each"]["questions"]}
    assert inner["alters"]["choices"] is new["lists"]["roster"]
    assert inner["trust"]["choices"] is new["lists"]["scale"]
    # a question only the older version has keeps its own choices
    older = dict(old, questions=old["questions"] + [dict(by_name(old)["me"], name="gone")])
    qs = {q["name"]: q for q in forms.form_questions([older, new], "ties_demo")}
    assert [c["name"] for c in qs["gone"]["choices"]][:2] == ["o1", "o2"]
    assert "list" in by_name(new)["me"]  # the published form itself is left as it is


def test_a_select_naming_a_list_its_form_lacks_says_to_compile_again(shared):
    f = dict(shared.form, lists={})
    with pytest.raises(forms.FormError, match="'roster'.*compile the form again"):
        forms.choices_of(f, by_name(f)["me"])


def test_scale_ends_and_glyphs_read_shared_lists(shared):
    assert estimates.scale_ends(shared.form) == {"closeness": (1.0, 5.0), "trust": (1.0, 5.0)}
    texts = {(q, c, lang): t for q, c, _, lang, t in glyphs.form_texts(shared.form) if c is not None}
    assert texts[("alters", "o20", "ko")] == "기관 20" and texts[("trust", "5", "ko")] == "5 점"
    drawn = set(shared.form["glyphs"]["wide"])
    assert set("기관점없음") <= drawn


def test_the_preview_draws_a_shared_lists_choices(shared, tmp_path, micropython):
    from tiesense import preview

    shown = preview.preview_question(shared.form, "me", "en", tmp_path / "me.png", micropython=micropython)
    assert shown.png.is_file()
    assert shown.lines["handheld"][:3] == ["Which organisation are you?", "> Organisation 1", "  Organisation 2"]


def test_an_interview_with_200_organisations_loads_in_a_device_heap_only_with_its_roster_shared(tmp_path,
                                                                                                  micropython):
    from bench.form_heap import copied_per_question, parsed_heap, with_roster
    from tiesense.xlsform.instruments import source

    src = tmp_path / "fi_200.md"
    src.write_text(with_roster(source("fi_interview").read_text(encoding="utf-8"), 200), encoding="utf-8")
    c = compile_xlsform(str(src), "handheld")
    roster = c.form["lists"]["roster"]
    assert [o["name"] for o in roster if o["kind"] == "org"] == [str(1000 + k) for k in range(200)]
    copies = wire.encode(copied_per_question(c.form))
    assert (c.size, len(copies)) == (49104, 97247)
    held = parsed_heap(micropython, c.to_bytes(), "400K", tmp_path)
    assert held is not None and held > c.size  # parsed objects outweigh their JSON
    assert parsed_heap(micropython, copies, "400K", tmp_path) is None  # a copy per question does not fit
