"""The park's roster goes into the forms at compile and publish time (issue 14, item 5).

A roster imported into a real SQLite store replaces the placeholder organisations of the shipped
instruments' roster list before pyxform reads them: the published form's choices are the roster's codes
and names plus the answers that are no organisation, the Korean names come with their glyphs, the
form records its roster version, a published version never takes another roster, and a kiosk refuses a
roster its keys cannot step through. The CPython reference engine then interviews with it."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
from click.testing import CliRunner

from tiesense import cli, wire
from tiesense.forms import FormRegistry, choices_of
from tiesense.ingest import IngestCore, Message
from tiesense.publishing import PublishError, compile_with_roster, publish
from tiesense.store import Store
from tiesense.store.roster import parse_csv
from tiesense.xlsform import FormRefused, compile_xlsform
from tiesense.xlsform.engine import Interview
from tiesense.xlsform.instruments import source
from tiesense.xlsform.roster import KIOSK_MAX, Roster

from .conftest import ROOT
from .xlsforms import by_name, write_xlsform

ROSTER_CSV = """code,name,actor_type,region,sector,size
7,Kumoh National Institute of Technology,university,Gyeongbuk,public,large
12,금오공과대학교 산학협력단,research_centre,Gyeongbuk,public,medium
31,Gumi Electronics & IT Research Institute,gri,Gyeongbuk,electronics,medium
205,뷁뷁 벤처,startup,Daegu,ict,micro
"""
CODES = ["7", "12", "31", "205"]
NAMES = {7: "Kumoh National Institute of Technology", 12: "금오공과대학교 산학협력단",
         31: "Gumi Electronics & IT Research Institute", 205: "뷁뷁 벤처"}
EN, KO = "label::English (en)", "label::Korean (ko)"
NOT_ORGS = ["not_listed", "new_1", "new_2", "new_3", "nobody"]  # fi_interview's roster rows of other kinds


@pytest.fixture
def park(tmp_path):
    """A host database with the roster above imported (version 1)."""
    path = tmp_path / "park.db"
    with Store(path) as store:
        assert store.import_roster(parse_csv(ROSTER_CSV), source="roster.csv") == (1, True)
    return path


def roster_list(form: dict) -> list[dict]:
    return choices_of(form, by_name(form)["partners"])


def test_publishing_the_interview_puts_the_roster_codes_and_names_in_its_roster_list(park):
    with Store(park) as store:
        compiled = compile_with_roster(store, source("fi_interview"), "handheld")
        with pytest.raises(PublishError) as shipped:  # under the shipped version, devices would never adopt it
            publish(store, compiled.form)
        assert ("is not newer than the version '2026120101' built into tiesense, which devices are staged with"
                in str(shipped.value) and "publish it as version 2026120102 (--version" in str(shipped.value))
        assert publish(store, compiled.form, version="2026120102") is True
        (stored,) = [f for f in store.forms() if f["id"] == "fi_interview"]
    choices = roster_list(stored)
    assert [c["name"] for c in choices] == CODES + NOT_ORGS
    for c in choices[:len(CODES)]:  # a name has no translation: every language shows the roster's name
        assert c["label"] == {"en": NAMES[int(c["name"])], "ko": NAMES[int(c["name"])]} and c["kind"] == "org"
    assert [c["kind"] for c in choices[len(CODES):]] == ["not_listed", "new", "new", "new", "nobody"]
    assert not {"101", "102", "103"} & {c["name"] for c in choices}  # the placeholders are gone
    # every select of the list sees the same organisations: respondent_org, partners and alters_tied
    assert {q: by_name(stored)[q].get("list") for q in ("respondent_org", "partners", "alters_tied")} == {
        "respondent_org": "roster", "partners": "roster", "alters_tied": "roster"}
    assert stored["roster_version"] == 1 and compiled.roster_list == "roster" and len(compiled.roster) == 4
    # the Korean names' glyphs ship with the form; 뷁 is in no text of the shipped interview
    placeholder_glyphs = compile_xlsform(source("fi_interview"), "handheld").form["glyphs"]["wide"]
    assert "뷁" not in placeholder_glyphs
    for ch in (NAMES[12] + NAMES[205]).replace(" ", ""):
        assert ch in stored["glyphs"]["wide"], ch
    # the form as devices receive it keeps the roster version (and decodes as any form)
    assert wire.decode_form(wire.encode_form(stored))["roster_version"] == 1


def test_the_roster_fills_choice_columns_named_like_its_fields_and_keeps_the_other_rows(tmp_path):
    survey = [{"type": "select_one actor_type", "name": "kind_of", "label": "Kind?", "required": "yes"},
              {"type": "select_one orgs", "name": "org", "label": "Organisation?", "required": "yes",
               "choice_filter": "actor_type = ${kind_of} or kind = 'none'"}]
    choices = [{"list_name": "actor_type", "name": "university", "label": "University"},
               {"list_name": "actor_type", "name": "gri", "label": "Research institute"},
               {"list_name": "orgs", "name": "1", "label": "Placeholder", "kind": "org", "actor_type": "gri"},
               {"list_name": "orgs", "name": "none", "label": "None of these", "kind": "none"}]
    src = write_xlsform(tmp_path / "f.xlsx", survey, choices,
                        {"form_id": "by_type", "version": "3", "roster_list": "orgs"})
    compiled = compile_xlsform(src, "kiosk", Roster.of(parse_csv(ROSTER_CSV), version=4))
    org = by_name(compiled.form)["org"]
    assert [(c["name"], c.get("actor_type"), c.get("kind")) for c in org["choices"]] == [
        ("7", "university", "org"), ("12", "research_centre", "org"), ("31", "gri", "org"),
        ("205", "startup", "org"), ("none", None, "none")]
    assert compiled.form["roster_version"] == 4
    iv = Interview(compiled.form, {"start": 0})
    assert iv.set("gri") is None and iv.next() is None
    assert [c["name"] for c in iv.choices()] == ["31", "none"]  # the filter reads the roster's actor type
    # a roster_list setting that names no list with organisation rows says what to change
    bad = write_xlsform(tmp_path / "bad.xlsx", survey, choices, {"form_id": "by_type", "version": "3",
                                                                 "roster_list": "organisations"})
    with pytest.raises(FormRefused, match="roster_list 'organisations' names no choice list with organisation"):
        compile_xlsform(bad, "kiosk")


def test_a_form_without_a_roster_list_is_untouched(tmp_path, park):
    survey = [{"type": "select_one yn", "name": "ok", "label": "OK?", "required": "yes"}]
    choices = [{"list_name": "yn", "name": "yes", "label": "Yes"}, {"list_name": "yn", "name": "no", "label": "No"}]
    src = write_xlsform(tmp_path / "plain.xlsx", survey, choices, {"form_id": "plain", "version": "1"})
    plain = compile_xlsform(src, "kiosk")
    with_roster = compile_xlsform(src, "kiosk", Roster.of(parse_csv(ROSTER_CSV), 1))
    assert with_roster.to_bytes() == plain.to_bytes() and "roster_version" not in with_roster.form
    assert with_roster.roster_list is None and with_roster.roster is None
    with Store(tmp_path / "empty.db") as empty:  # no roster needed for a form that names no organisation
        assert compile_with_roster(empty, src, "kiosk").to_bytes() == plain.to_bytes()


def test_a_form_with_a_roster_list_on_a_host_without_roster_says_to_import_one(tmp_path):
    with Store(tmp_path / "empty.db") as empty:
        with pytest.raises(PublishError, match="has the roster list 'roster'.*no roster: import one with tiesense "
                                               "roster import"):
            compile_with_roster(empty, source("tp_visit"), "kiosk")
        kept = compile_with_roster(empty, source("tp_visit"), "kiosk", roster=False)  # on purpose
    assert [c["name"] for c in choices_of(kept.form, by_name(kept.form)["visitor_org"])][:3] == ["101", "102", "103"]
    assert "roster_version" not in kept.form


def test_a_published_version_never_takes_another_roster(park):
    with Store(park) as store:
        assert publish(store, compile_with_roster(store, source("fi_interview"), "handheld").form,
                       version="2026120102") is True
        assert store.import_roster(parse_csv(ROSTER_CSV + "300,Daegu Techno Park,technopark,Daegu,,\n"))[0] == 2
        newer = compile_with_roster(store, source("fi_interview"), "handheld").form
        assert newer["roster_version"] == 2 and "300" in {c["name"] for c in roster_list(newer)}
        with pytest.raises(PublishError) as refused:
            publish(store, newer, version="2026120102")
        assert ("form 'fi_interview' version '2026120102' was published with roster version 1 and this one "
                "carries roster version 2" in str(refused.value))
        assert "raise the form's version (the settings sheet's version, e.g. 2026120103)" in str(refused.value)
        assert publish(store, newer, version="2026120103") is True  # a raised version takes it
        versions = {f["version"]: f["roster_version"] for f in store.forms() if f["id"] == "fi_interview"}
    assert versions == {"2026120102": 1, "2026120103": 2}


def test_a_kiosk_refuses_a_roster_its_keys_cannot_step_through(park):
    def roster(n: int) -> Roster:
        return Roster.of([{"code": i, "name": f"Tenant {i}", "actor_type": "sme"} for i in range(1, n + 1)])

    fits = compile_xlsform(source("tp_visit"), "kiosk", roster(KIOSK_MAX))
    orgs = [c for c in choices_of(fits.form, by_name(fits.form)["visitor_org"]) if c.get("kind") == "org"]
    assert len(orgs) == KIOSK_MAX
    with pytest.raises(FormRefused) as refused:
        compile_xlsform(source("tp_visit"), "kiosk", roster(KIOSK_MAX + 1))
    problems = refused.value.problems
    assert [(p.sheet, p.row, p.column) for p in problems] == [("survey", 5, "type"), ("survey", 8, "type")]
    assert "'visitor_org' selects from the roster list 'roster' (51 organisations) on a kiosk" in problems[0].feature
    assert "'met' selects" in problems[1].feature
    for p in problems:  # what to do instead: the actor-type question, a shorter roster, or the handheld
        assert "select_one actor_type" in p.instead and "--roster" in p.instead and "--for handheld" in p.instead
    # the handheld finds organisations by typing: the same roster compiles there
    assert compile_xlsform(source("tp_visit"), "handheld", roster(KIOSK_MAX + 1)).form["roster_version"] is None


def test_the_reference_engine_interviews_with_the_roster_and_the_record_names_its_codes(park):
    with Store(park) as store:
        form = compile_with_roster(store, source("fi_interview"), "handheld").form
    iv = Interview(form, {"start": 1764500000, "deviceid": "handheld-01"}, "ko")
    wanted = {"consent": "yes", "respondent_org": "12", "partners": ["7", "205"], "alters_tied": ["205"],
              "since_year": 2019}
    offered = {}
    while not iv.done:
        cur = iv.current()
        name, kind = cur["name"], cur["type"]
        offered.setdefault(name, [c["name"] for c in iv.choices()])
        if name in wanted:
            value = wanted[name]
        elif kind == "select_one":
            value = iv.choices()[0]["name"]
        elif kind == "select_multiple":
            value = [iv.choices()[0]["name"]]
        else:  # the notice; the interview's other questions are all selects here
            value = None
        if kind != "note":
            assert iv.set(value) is None, (name, value)
        assert iv.next() is None, name
    # the respondent's organisation is offered from the roster (and "not on the list"), the partners too
    assert offered["respondent_org"] == CODES + ["not_listed"]
    assert offered["partners"] == CODES + ["new_1", "new_2", "new_3", "nobody"]
    record = dict(zip(wire.answer_fields(form), iv.record_answers()))
    assert record["respondent_org"] == "12" and record["partners"] == ["7", "205"]
    passes = record["partner_loop"]
    fields = [q["name"] for q in by_name(form)["partner_loop"]["questions"] if q["type"] != "note"]
    assert [dict(zip(fields, p))["partner"] for p in passes] == ["7", "205"]  # one pass per roster code named
    assert dict(zip(fields, passes[0]))["alters_tied"] == ["205"]


def test_the_cli_compiles_and_publishes_with_the_roster(tmp_path):
    runner = CliRunner()
    db, csv = tmp_path / "park.db", tmp_path / "roster.csv"
    csv.write_text(ROSTER_CSV, encoding="utf-8")
    # before any import: the form's roster list needs one, and the message says how
    Store(db).close()
    refused = runner.invoke(cli.main, ["forms", "publish", str(source("fi_interview")), "--for", "handheld",
                                       "--db", str(db)])
    assert refused.exit_code == 1 and "import one with tiesense roster import" in refused.output
    assert runner.invoke(cli.main, ["roster", "import", str(csv), "--db", str(db)]).exit_code == 0
    out = tmp_path / "interview.json"
    compiled = runner.invoke(cli.main, ["forms", "compile", str(source("fi_interview")), "--for", "handheld",
                                        "--db", str(db), "--out", str(out)])
    assert compiled.exit_code == 0, compiled.output
    assert "with the 4 organisations of roster version 1" in compiled.output
    form = json.loads(out.read_bytes())
    assert [c["name"] for c in roster_list(form)] == CODES + NOT_ORGS and form["roster_version"] == 1
    from_file = runner.invoke(cli.main, ["forms", "compile", str(source("fi_interview")), "--for", "handheld",
                                         "--roster", str(csv)])
    assert from_file.exit_code == 0, from_file.output
    assert json.loads(from_file.stdout.splitlines()[0])["roster_version"] is None
    assert "with the 4 organisations of a roster file" in from_file.output
    both = runner.invoke(cli.main, ["forms", "compile", str(source("fi_interview")), "--for", "handheld",
                                    "--roster", str(csv), "--db", str(db)])
    assert both.exit_code == 1 and "give the roster once" in both.output
    shipped = runner.invoke(cli.main, ["forms", "publish", str(source("fi_interview")), "--for", "handheld",
                                       "--db", str(db)])
    assert shipped.exit_code == 1 and "publish it as version 2026120102 (--version" in shipped.output
    published = runner.invoke(cli.main, ["forms", "publish", str(source("fi_interview")), "--for", "handheld",
                                         "--db", str(db), "--version", "2026120102"])
    assert published.exit_code == 0, published.output
    assert "published: fi_interview version 2026120102, with roster version 1" in published.output
    with Store(db) as store:
        (stored,) = [f for f in store.forms() if f["id"] == "fi_interview"]
    assert stored == dict(form, version="2026120102")  # the published form is the one compile --db wrote
    # --no-roster keeps the placeholders: under the published version, that is other content
    again = runner.invoke(cli.main, ["forms", "publish", str(source("fi_interview")), "--for", "handheld",
                                     "--db", str(db), "--no-roster", "--version", "2026120102"])
    assert again.exit_code == 1
    assert ("was published with roster version 1 and this one carries its own organisation rows (no roster)"
            in again.output and "raise the form's version" in again.output)


def test_the_api_publishes_an_xlsform_with_the_hosts_roster(web):
    body = source("fi_interview").read_bytes()
    shipped = web.client.post("/api/forms/xlsform?for=handheld", content=body, headers=web.as_("admin"))
    assert shipped.status_code == 409 and "publish it as version 2026120102" in shipped.json()["error"]
    url = "/api/forms/xlsform?for=handheld&version=2026120102"
    r = web.client.post(url, content=body, headers=web.as_("admin"))
    assert r.status_code == 201, r.text
    assert r.json() == {"id": "fi_interview", "version": "2026120102", "created": True, "roster_version": 1}
    stored = web.client.get("/api/forms/fi_interview/2026120102", headers=web.as_("viewer")).json()
    assert [c["name"] for c in roster_list(stored)] == [str(c) for c in range(1, 13)] + NOT_ORGS
    assert roster_list(stored)[10]["label"] == {"en": "ETRI Gumi", "ko": "ETRI Gumi"}
    again = web.client.post(url, files={"file": ("fi_interview.md", body)}, headers=web.as_("admin"))
    assert again.status_code == 200 and again.json()["created"] is False  # the same roster: nothing new
    imported = web.client.post("/api/roster", content=ROSTER_CSV.encode(), headers={
        **web.as_("admin"), "Content-Type": "text/csv"})
    assert imported.status_code == 201 and imported.json()["version"] == 2
    refused = web.client.post(url, content=body, headers=web.as_("admin"))
    assert refused.status_code == 409
    assert "published with roster version 1 and this one carries roster version 2" in refused.json()["error"]
    assert "raise the form's version" in refused.json()["error"]
    kiosk = web.client.post("/api/forms/xlsform?for=kiosk&roster=false", content=source("tp_visit").read_bytes(),
                            headers=web.as_("admin"))
    assert kiosk.status_code == 201 and kiosk.json()["roster_version"] is None  # its placeholders, on purpose
    garbage = web.client.post(url, content=b"not a workbook", headers=web.as_("admin"))
    assert garbage.status_code == 422 and "cannot run on a handheld" in garbage.json()["error"]
    assert web.client.post(url, content=body, headers=web.as_("analyst")).status_code == 403


_DEVICE = """
import json, sys
from survey import unsupported
from form import Form
form = json.load(open(sys.argv[1]))
print(json.dumps(unsupported(form, True)))
e = Form(form, {"start": 1764500000, "today": "2026-11-30", "deviceid": "handheld-01"}, "ko")
e.set("yes")
e.next()
e.next()
print(json.dumps([e.current()["name"], [c["name"] for c in e.choices()]]))
"""


def test_the_device_engine_runs_the_form_with_the_roster(park, micropython, tmp_path):
    with Store(park) as store:
        form = compile_with_roster(store, source("fi_interview"), "handheld").form
    (tmp_path / "form.json").write_bytes(wire.encode(form))
    (tmp_path / "run.py").write_text(_DEVICE)
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([".frozen", str(ROOT / "firmware"),
                                                        str(ROOT / "host" / "tiesense")]))
    r = subprocess.run([micropython, "-X", "heapsize=190K", str(tmp_path / "run.py"), str(tmp_path / "form.json")],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    why, shown = (json.loads(line) for line in r.stdout.splitlines()[-2:])
    assert why is None  # the keys' check takes a form carrying roster_version
    assert shown == ["respondent_org", CODES + ["not_listed"]]


def test_an_organisation_name_the_font_cannot_draw_is_refused_once_naming_its_code():
    rows = parse_csv(ROSTER_CSV + "400,Smile \U0001F600 Labs,startup,,,\n")
    with pytest.raises(FormRefused) as refused:
        compile_xlsform(source("fi_interview"), "handheld", Roster.of(rows, 1))
    (problem,) = refused.value.problems  # once, though its name is in both languages and three selects
    assert (problem.sheet, problem.column) == ("roster", "name")
    assert problem.feature.startswith("organisation 400: no glyph for '\U0001F600' (U+1F600)")
    assert "import it again (tiesense roster import)" in problem.instead


def test_every_label_column_of_the_choices_sheet_gets_the_names_even_one_the_placeholders_leave_empty(tmp_path):
    survey = [{"type": "select_one roster", "name": "org", EN: "Organisation?", KO: "기관?", "required": "yes"}]
    choices = [{"list_name": "roster", "name": "1", EN: "Placeholder", "kind": "org"},  # no Korean label
               {"list_name": "roster", "name": "not_listed", EN: "Not on the list", KO: "목록에 없음",
                "kind": "not_listed"}]
    src = write_xlsform(tmp_path / "f.xlsx", survey, choices,
                        {"form_id": "one_lang", "version": "1", "default_language": "English (en)"})
    org = by_name(compile_xlsform(src, "kiosk", Roster.of(parse_csv(ROSTER_CSV), 1)).form)["org"]
    assert org["choices"][1] == {"name": "12", "label": {"en": NAMES[12], "ko": NAMES[12]}}  # no filter: no kind
    assert org["choices"][-1]["label"] == {"en": "Not on the list", "ko": "목록에 없음"}


def test_the_cli_publishes_the_kiosk_form_with_a_tenants_roster_when_the_parks_is_too_long(tmp_path):
    runner = CliRunner()
    db, park_csv, tenants_csv = tmp_path / "park.db", tmp_path / "park.csv", tmp_path / "tenants.csv"
    header = "code,name,actor_type\n"
    park_csv.write_text(header + "".join(f"{c},Firm {c},sme\n" for c in range(1, 121)), encoding="utf-8")
    tenants_csv.write_text(header + "".join(f"{c},Firm {c},sme\n" for c in range(1, 121, 4)), encoding="utf-8")
    assert runner.invoke(cli.main, ["roster", "import", str(park_csv), "--db", str(db)]).exit_code == 0
    visit = str(source("tp_visit"))
    too_long = runner.invoke(cli.main, ["forms", "publish", visit, "--for", "kiosk", "--db", str(db)])
    assert too_long.exit_code == 1
    assert "'visitor_org' selects from the roster list 'roster' (120 organisations) on a kiosk" in too_long.output
    assert "'met' selects from the roster list" in too_long.output
    both = runner.invoke(cli.main, ["forms", "publish", visit, "--for", "kiosk", "--db", str(db), "--no-roster",
                                    "--roster", str(tenants_csv)])
    assert both.exit_code == 1 and "give one of them" in both.output
    tenants = runner.invoke(cli.main, ["forms", "publish", visit, "--for", "kiosk", "--db", str(db),
                                       "--roster", str(tenants_csv)])
    assert tenants.exit_code == 0, tenants.output
    assert "published: tp_visit version 2026113001, with a roster file" in tenants.output
    with Store(db) as store:
        (stored,) = [f for f in store.forms() if f["id"] == "tp_visit"]
    orgs = [c["name"] for c in choices_of(stored, by_name(stored)["visitor_org"]) if c["kind"] == "org"]
    assert orgs == [str(c) for c in range(1, 121, 4)] and stored["roster_version"] is None


def test_a_visit_naming_a_roster_organisation_is_stored_with_its_code(park):
    with Store(park) as store:
        form = compile_with_roster(store, source("tp_visit"), "kiosk").form
        assert form["roster_version"] == 1
        assert publish(store, form) is True
        forms = FormRegistry.builtin()
        forms.add(form)
        answers = {"facility": "shared_lab", "visitor_org": "12", "purpose": "event", "met": ["31", "205"],
                   "new_contact": "yes", "satisfaction": "5"}
        rec = wire.make_record("kiosk-01", 1, "tp_visit", form["version"], "2026-11-30T10:00:00Z",
                               "2026-11-30T10:01:00Z", answers, wire.new_instance_id(os.urandom))
        report = IngestCore(forms=forms).process(store, [Message(wire.topic_records("kiosk-01"),
                                                                 wire.encode_batch("kiosk-01", [rec]), 0.0)])
        assert report.stored == 1, report
        (row,) = store.read(lambda c: c.execute("SELECT visitor_org, met FROM visits").fetchall())
        # a placeholder code is no answer now: the roster's codes are the choices
        stale = wire.make_record("kiosk-01", 2, "tp_visit", form["version"], "2026-11-30T10:02:00Z",
                                 "2026-11-30T10:03:00Z", dict(answers, visitor_org="101"),
                                 wire.new_instance_id(os.urandom))
        refused = IngestCore(forms=forms).process(store, [Message(wire.topic_records("kiosk-01"),
                                                                  wire.encode_batch("kiosk-01", [stale]), 0.0)])
    assert row[0] == 12 and json.loads(row[1]) == [31, 205]
    assert (refused.stored, refused.quarantined) == (0, 1)  # kept aside with its reason, not lost


def test_a_host_starts_on_a_database_where_a_built_in_version_was_published_with_the_roster(park, caplog):
    """A database from before publishing checked built-in versions: the park's own content stands for it."""
    from tiesense.service import Host

    with Store(park) as store:
        form = compile_with_roster(store, source("fi_interview"), "handheld").form
        assert form["version"] == "2026120101" and store.publish_form(form) is True  # the store alone: no checks
    with Host(park) as host:
        used = host.forms.get("fi_interview", "2026120101")
    assert [c["name"] for c in roster_list(used)] == CODES + NOT_ORGS
    assert "is built in and was published here with other content: the published one is used" in caplog.text
