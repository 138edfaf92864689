"""The XLSForm compiler on real workbooks written with openpyxl: what compiles, what is refused
(every problem at once, each naming row, column and feature), kiosk against handheld, and the
built-in instruments written as XLSForm compiling to the forms the devices run today."""
from __future__ import annotations

import pytest

from tiesense import forms, wire
from tiesense.xlsform import FormRefused, compile_xlsform, vm
from tiesense.xlsform.subset import HANDHELD_ONLY, REFUSED_TYPES

from .conftest import ROOT
from .xlsforms import by_name, instrument_to_xlsform, write_xlsform

EN, KO = "label::English (en)", "label::Korean (ko)"
SETTINGS = {"form_id": "visit_x", "version": "2026113001", "form_title": "Visit", "default_language": "English (en)"}

SUPPORTED = [
    {"type": "start", "name": "started"},
    {"type": "deviceid", "name": "device"},
    {"type": "note", "name": "consent_note", EN: "Answers are anonymous.", KO: "응답은 익명입니다."},
    {"type": "select one yn", "name": "consent", EN: "Continue?", KO: "계속?", "required": "yes",
     "appearance": "quick"},
    {"type": "select all that apply from org", "name": "met", EN: "Whom did you meet?", KO: "누구를 만났습니까?",
     "relevant": "${consent} = 'yes'", "constraint": "count-selected(.) <= 2",
     "constraint_message::English (en)": "At most two", "required": "yes",
     "required_message::English (en)": "Pick at least one"},
    {"type": "integer", "name": "people", EN: "How many people?", KO: "몇 명?",
     "constraint": ". >= 1 and . <= 50", "hint::English (en)": "Count yourself", "guidance_hint": "Ask twice"},
    {"type": "decimal", "name": "hours", EN: "Hours spent", KO: "시간", "constraint": ". <= 12.5",
     "required": "${people} > 3"},
    {"type": "begin repeat", "name": "each", EN: "Partner", KO: "상대", "repeat_count": "count-selected(${met})"},
    {"type": "calculate", "name": "who", "calculation": "selected-at(${met}, position(..) - 1)"},
    {"type": "select_one yn", "name": "new", EN: "Is ${who} a new contact?", KO: "새 연락처?",
     "relevant": "string-length(${who}) > 0"},
    {"type": "end repeat"},
    {"type": "begin group", "name": "more", EN: "More", KO: "더", "relevant": "${people} > 2",
     "appearance": "field-list"},
    {"type": "range", "name": "satisfaction", EN: "Satisfied?", KO: "만족?", "parameters": "start=1 end=5 step=1",
     "appearance": "vertical"},
    {"type": "select_one org", "name": "host_org", EN: "Host", KO: "주최", "choice_filter": "kind = 'firm'",
     "appearance": "autocomplete"},
    {"type": "calculate", "name": "score", "calculation": "if(${satisfaction} >= 4, ${people} * 2 div 3, 0)"},
    {"type": "end group"},
    {"type": "trigger", "name": "done", EN: "Thank you: press OK", KO: "감사합니다"},
    {"type": "acknowledge", "name": "ack2", EN: "Really done", KO: "끝"},
    {"type": "today", "name": "day"},
    {"type": "end", "name": "ended"},
]
CHOICES = [
    {"list_name": "yn", "name": "yes", EN: "Yes", KO: "예"},
    {"list_name": "yn", "name": "no", EN: "No", KO: "아니오"},
    {"list_name": "org", "name": "o1", EN: "Org one", KO: "기관1", "kind": "firm"},
    {"list_name": "org", "name": "o2", EN: "Org two", KO: "기관2", "kind": "agency"},
    {"list_name": "org", "name": "o3", EN: "Org three", KO: "기관3", "kind": "firm"},
]


@pytest.fixture
def supported(tmp_path):
    return write_xlsform(tmp_path / "visit.xlsx", SUPPORTED, CHOICES, SETTINGS)


def test_the_subset_compiles_into_questions_choices_labels_and_programs(supported):
    c = compile_xlsform(supported, "kiosk")
    f = c.form
    # yn (consent, new) and org (met, host_org) serve two selects each: format 2, each list held once
    assert (f["id"], f["version"], f["format"], f["target"]) == ("visit_x", "2026113001", 2, "kiosk")
    assert sorted(f["lists"]) == ["org", "yn"]
    assert f["languages"] == ["en", "ko"] and f["title"] == {"en": "Visit"}
    assert wire.answer_fields(f) == ["started", "device", "consent", "met", "people", "hours", "each",
                                     "satisfaction", "host_org", "score", "done", "ack2", "day", "ended"]
    q = by_name(f)
    assert q["consent"]["type"] == "select_one" and q["consent"]["required"] is True
    assert q["consent"]["appearance"] == "quick"
    assert "choices" not in q["consent"] and q["consent"]["list"] == q["new"]["list"] == "yn"
    assert [ch["name"] for ch in forms.choices_of(f, q["consent"])] == ["yes", "no"]
    assert forms.choices_of(f, q["consent"])[1]["label"] == {"en": "No", "ko": "아니오"}
    assert q["consent_note"]["label"]["ko"] == "응답은 익명입니다."
    met = q["met"]
    assert met["type"] == "select_multiple" and met["max_selected"] == 2
    assert met["relevant"] == ["$", 2, "'", "yes", "="]
    assert met["constraint"] == [".", "cnt", 2000, "<="]
    assert met["constraint_message"] == {"en": "At most two"} and met["required_message"] == {"en": "Pick at least one"}
    assert (q["people"]["min"], q["people"]["max"]) == (1, 50) and q["people"]["hint"] == {"en": "Count yourself"}
    assert q["hours"]["decimals"] == 3 and q["hours"]["max"] == 12500
    assert q["hours"]["required"] is False and q["hours"]["required_if"] == ["$", 4, "i", 3000, ">"]
    each = q["each"]
    assert each["type"] == "repeat" and each["max"] == 2 and each["count"] == ["$", 3, "cnt"]
    assert [x["name"] for x in each["questions"]] == ["who", "new"]
    assert q["who"]["calculation"] == ["$", 3, "pos", 1000, "-", "at"]
    assert q["new"]["relevant"] == ["@", 0, "len", 0, ">"]
    # a group's relevance is part of each of its questions'; its label and appearance are kept
    assert q["satisfaction"]["relevant"] == ["$", 4, "i", 2000, ">"]
    assert f["groups"] == [{"name": "more", "label": {"en": "More", "ko": "더"}, "appearance": "field-list"}]
    assert q["satisfaction"]["group"] == 0
    assert (q["satisfaction"]["start"], q["satisfaction"]["end"], q["satisfaction"]["step"]) == (1, 5, 1)
    assert q["satisfaction"]["appearance"] == "vertical"
    assert q["host_org"]["choice_filter"] == ["c", "kind", "'", "firm", "="]
    # met has no choice_filter; host_org's reads kind: the shared items carry it
    assert q["met"]["list"] == q["host_org"]["list"] == "org"
    assert f["lists"]["org"][0] == {"name": "o1", "label": {"en": "Org one", "ko": "기관1"}, "kind": "firm"}
    assert "appearance" not in q["host_org"]
    assert any("autocomplete" in w and "ignored" in w for w in c.warnings)
    assert "survey row 7, column 'guidance_hint': ignored: guidance hints are for training printouts; the device" \
           " shows `hint`" in c.warnings
    assert q["done"]["type"] == "acknowledge" and q["ack2"]["type"] == "acknowledge"
    assert [q[n]["type"] for n in ("started", "device", "day", "ended")] == ["start", "deviceid", "today", "end"]
    # the size the CLI reports is the canonical JSON a device stores
    assert c.size == len(wire.encode(f)) == len(c.to_bytes())
    # the wire accepts it as a form message, and the host can check records against it
    assert wire.decode_form(wire.encode_form(f))["questions"] == f["questions"]
    forms.FormRegistry([f])


def test_compiled_programs_run_on_the_reference_machine(supported):
    f = compile_xlsform(supported, "kiosk").form
    q = by_name(f)
    top = [None] * len(wire.answer_fields(f))
    answers = dict(zip(wire.answer_fields(f), range(len(top))))
    assert vm.truth(vm.run(q["met"]["relevant"], vm.Context(top=top))) is False
    top[answers["consent"]] = "yes"
    top[answers["met"]] = ["o1", "o3"]
    top[answers["people"]] = 4
    top[answers["satisfaction"]] = 5
    assert vm.truth(vm.run(q["met"]["relevant"], vm.Context(top=top)))
    assert vm.run(q["met"]["constraint"], vm.Context(top=top, dot=["o1", "o3"])) is True
    assert vm.run(q["met"]["constraint"], vm.Context(top=top, dot=["o1", "o2", "o3"])) is False
    assert vm.run(q["each"]["count"], vm.Context(top=top)) == 2000
    assert [vm.run(q["who"]["calculation"], vm.Context(top=top, row=[None, None], pos=p)) for p in (1, 2)] == ["o1", "o3"]
    assert vm.string(vm.run(q["score"]["calculation"], vm.Context(top=top))) == "2.666"
    kept = [ch["name"] for ch in forms.choices_of(f, q["host_org"])
            if vm.truth(vm.run(q["host_org"]["choice_filter"], vm.Context(top=top, choice=ch)))]
    assert kept == ["o1", "o3"]
    assert vm.run(q["people"]["constraint"], vm.Context(top=top, dot=51)) is False


UNSUPPORTED = [  # (row, expected column, words the problem must contain)
    ({"type": "geopoint", "name": "where", "label": "Where?"}, "type", "geopoint"),
    ({"type": "image", "name": "pic", "label": "Photo"}, "type", "photo"),
    ({"type": "audio", "name": "voice", "label": "Say"}, "type", "audio"),
    ({"type": "barcode", "name": "code", "label": "Scan"}, "type", "barcode"),
    ({"type": "dateTime", "name": "when", "label": "When"}, "type", "dateTime"),
    ({"type": "integer", "name": "n", "label": "N", "default": "3"}, "default", "default"),
    ({"type": "integer", "name": "m", "label": "M", "relevant": "today() > ${n}"}, "relevant", "today()"),
    ({"type": "integer", "name": "k", "label": "K", "media::image": "k.png"}, "media::image", "media::image"),
    ({"type": "select_one yn", "name": "r", "label": "R", "parameters": "randomize=true"}, "parameters", "randomize"),
    ({"type": "begin repeat", "name": "loop1", "label": "Unbounded"}, "repeat_count", "unbounded"),
    ({"type": "integer", "name": "inside", "label": "Inside"}, None, None),
    ({"type": "end repeat"}, None, None),
    ({"type": "integer", "name": "outside", "label": "Out", "constraint": ". > ${inside}"}, "constraint", "inside repeat"),
    ({"type": "begin repeat", "name": "loop2", "label": "L2", "repeat_count": "${n}"}, "repeat_count", "no bound"),
    ({"type": "integer", "name": "inside2", "label": "Inside"}, None, None),
    ({"type": "end repeat"}, None, None),
    ({"type": "text", "name": "free", "label": "Say more"}, "type", "text on a kiosk"),
    ({"type": "date", "name": "day", "label": "Day"}, "type", "date on a kiosk"),
    ({"type": "select_one yn", "name": "yes_no", "label": "Y"}, None, None),
    ({"type": "integer", "name": "named", "label": "Named", "relevant": "jr:choice-name(${yes_no}, '${yes_no}') != ''"},
     "relevant", "in a calculate's calculation"),
    ({"type": "calculate", "name": "of_int", "calculation": "jr:choice-name(${n}, '${n}')"}, "calculation",
     "not a select"),
    ({"type": "calculate", "name": "unquoted", "calculation": "jr:choice-name(${yes_no}, ${yes_no})"},
     "calculation", "jr:choice-name(${partner}, '${partners}')"),
]


def test_every_unsupported_row_is_refused_at_once_naming_row_column_and_feature(tmp_path):
    path = write_xlsform(tmp_path / "bad.xlsx", [r for r, _, _ in UNSUPPORTED],
                         [{"list_name": "yn", "name": "yes", "label": "Yes"}, {"list_name": "yn", "name": "no", "label": "No"}],
                         {"form_id": "bad", "version": "1", "public_key": "MIIB"})
    with pytest.raises(FormRefused) as e:
        compile_xlsform(path, "kiosk")
    problems = e.value.problems
    text = str(e.value)
    for i, (row, column, words) in enumerate(UNSUPPORTED):
        if column is None:
            continue
        hits = [p for p in problems if p.sheet == "survey" and p.row == i + 2 and p.column == column]
        assert hits and any(words in p.feature or words in p.instead for p in hits), (i + 2, column, problems)
        assert all(p.instead for p in hits)
    assert any(p.sheet == "settings" and p.column == "public_key" for p in problems)
    assert "survey row 2, column 'type': type geopoint" in text
    # each refusal says what to use instead
    assert "record the place as a select_one of sites" in text and "set repeat_count" in text


def test_text_and_date_compile_for_the_handheld_only(tmp_path):
    path = write_xlsform(tmp_path / "hh.xlsx", [
        {"type": "text", "name": "org_name", "label": "Organisation not listed", "appearance": "multiline"},
        {"type": "date", "name": "since", "label": "Since when?"},
        {"type": "integer", "name": "chars", "label": "x", "relevant": "string-length(${org_name}) > 3"},
    ], (), {"form_id": "hh", "version": "1"})
    with pytest.raises(FormRefused) as e:
        compile_xlsform(path, "kiosk")
    assert [(p.row, p.column) for p in e.value.problems] == [(2, "type"), (3, "type")]
    assert HANDHELD_ONLY["text"] in str(e.value)
    f = compile_xlsform(path, "handheld").form
    assert [q["type"] for q in f["questions"]] == ["text", "date", "integer"]
    assert f["questions"][0]["appearance"] == "multiline"
    assert f["questions"][2]["relevant"] == ["$", 0, "len", 3000, ">"]
    assert f["languages"] == ["und"]  # labels without a language


def test_legacy_spellings_pyxform_accepts_compile_and_a_language_without_a_code_is_warned_about(tmp_path):
    path = write_xlsform(tmp_path / "legacy.xlsx", [
        {"type": "select one from yn", "name": "a", "label:english": "A", "label:korean": "가"},
        {"type": "select all that apply from yn", "name": "b", "label:english": "B", "label:korean": "나"},
    ], [{"list name": "yn", "name": "yes", "label:english": "Yes", "label:korean": "예"}], {"form_id": "leg", "version": "1"})
    c = compile_xlsform(path, "kiosk")
    assert [q["type"] for q in c.form["questions"]] == ["select_one", "select_multiple"]
    assert c.form["questions"][0]["label"] == {"english": "A", "korean": "가"}
    assert c.form["languages"] == ["english", "korean"] and c.form["title"] == {"english": "leg"}
    assert any("machine-readable codes" in w for w in c.warnings)


def test_pyxform_errors_are_reported_as_refusals(tmp_path):
    path = write_xlsform(tmp_path / "broken.xlsx", [{"type": "integer", "name": "a", "label": "A",
                                                     "relevant": "${nope} > 1"}], (), {"form_id": "b", "version": "1"})
    with pytest.raises(FormRefused, match="pyxform refused the form.*nope"):
        compile_xlsform(path, "kiosk")


def test_a_form_needs_a_version(tmp_path):
    path = write_xlsform(tmp_path / "nov.xlsx", [{"type": "integer", "name": "a", "label": "A"}], (),
                         {"form_id": "nov"})
    with pytest.raises(FormRefused, match="settings, column 'version'"):
        compile_xlsform(path, "kiosk")


def test_every_refused_type_has_a_suggestion():
    assert all(len(why) > 15 for why in REFUSED_TYPES.values())


@pytest.mark.parametrize("name", ["tp_visit", "fi_partner"])
def test_the_builtin_instruments_written_as_xlsform_compile_to_todays_forms(tmp_path, name):
    today = forms.builtin_form(name)
    compiled = compile_xlsform(instrument_to_xlsform(today, tmp_path / f"{name}.xlsx"), "kiosk")
    f = compiled.form
    assert (f["id"], f["version"]) == (today["id"], today["version"])
    assert f["languages"] == today["languages"]
    assert wire.answer_fields(f) == wire.answer_fields(today)
    keys = ("name", "type", "label", "required", "choices", "min", "max", "start", "end", "step", "max_selected")
    for new, old in zip(f["questions"], today["questions"]):
        assert {k: new.get(k) for k in keys} == {k: old.get(k) for k in keys}
    # records valid under today's form are valid under the compiled one, and the other way round
    answers = {q["name"]: (q["choices"][0]["name"] if q["type"] == "select_one" else
                           [q["choices"][0]["name"]] if q["type"] == "select_multiple" else
                           q.get("start", q.get("min", 1))) for q in today["questions"]}
    assert forms.validate_answers(today, answers) == forms.validate_answers(f, answers) == []
    print(f"{name}: {compiled.size} bytes compiled, {len(wire.encode(today))} bytes hand-written")


def test_the_host_checks_records_of_a_compiled_form(supported):
    f = compile_xlsform(supported, "kiosk").form
    good = {"started": 1795000000, "device": "kiosk-01", "consent": "yes", "met": ["o1", "o3"], "people": 4,
            "hours": 2500, "each": [["o1", "yes"], ["o3", None]], "satisfaction": 4, "host_org": "o1",
            "score": "2.666", "done": "OK", "ack2": None, "day": "2026-11-30", "ended": 1795000060}
    assert forms.validate_answers(f, good) == []
    bad = dict(good, hours=2.5, each=[["o1", "yes"]] * 3, done="yes", met=["o1", "o2", "o3"])
    assert forms.validate_answers(f, bad) == [
        "'met': 3 choices selected, at most 2 allowed",
        "'hours' (decimal) must be an integer, got 2.5",
        "'each': 3 passes, at most 2 allowed",
        "'done' (acknowledge) must be \"OK\" or null, got \"yes\""]
    assert forms.validate_answers(f, dict(good, each=[["o1", "maybe"]])) == [
        "'each' pass 1: 'new': choice 'maybe' is not in the list"]


def test_or_other_and_media_on_choices_are_refused_at_their_rows(tmp_path):
    path = write_xlsform(tmp_path / "oo.xlsx", [
        {"type": "integer", "name": "n", "label": "N"},
        {"type": "select_one yn or_other", "name": "a", "label": "A"},
    ], [{"list_name": "yn", "name": "yes", "label": "Yes"}, {"list_name": "yn", "name": "no", "label": "No",
                                                            "media::image": "no.png"}],
        {"form_id": "oo", "version": "1"})
    with pytest.raises(FormRefused) as e:
        compile_xlsform(path, "handheld")
    assert [(p.sheet, p.row, p.column) for p in e.value.problems] == [("survey", 3, "type"), ("choices", 3, "media::image")]
    assert "add an 'other' choice" in str(e.value)


def test_entities_and_unknown_settings_are_refused(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", "label", "save_to"])
    ws.append(["integer", "n", "N", "n"])
    st = wb.create_sheet("settings")
    st.append(["form_id", "version", "instance_name"])
    st.append(["ent", "1", "concat(${n})"])
    en = wb.create_sheet("entities")
    en.append(["list_name", "label"])
    en.append(["orgs", "concat(${n})"])
    wb.save(tmp_path / "ent.xlsx")
    with pytest.raises(FormRefused) as e:
        compile_xlsform(tmp_path / "ent.xlsx", "kiosk")
    found = {(p.sheet, p.row, p.column) for p in e.value.problems}
    assert {("settings", None, "entity_version"), ("survey", 2, "save_to"), ("survey", None, "type")} == found
    assert "roster's choice list" in str(e.value)
