"""Analysable rows (store.rows, migration 6): the real ingest core writes, with each record it stores, one row
per visit, per respondent, per reported tie and per alter-alter pair, into a real SQLite file.

Records are made by hand for the compiled instruments: positional answers per wire.answer_fields, a repeat's
value a list of passes."""
from __future__ import annotations

import copy
import os
import sqlite3

import pytest

from tiesense import wire
from tiesense.forms import FormRegistry, builtin_forms
from tiesense.ingest import IngestCore, Message
from tiesense.store import RecordItem, Store, now_iso, rows, schema
from tiesense.xlsform.instruments import compile_instrument

from .conftest import ROOT
from .test_store_migrations import release_0_1_0

KIOSK, HANDHELD = "kiosk-07", "handheld-03"
T0 = 1_795_000_000  # 2026-11-17, the host's clock in these tests


@pytest.fixture(scope="module")
def visit_form():
    return compile_instrument("tp_visit").form


@pytest.fixture(scope="module")
def interview_form():
    return compile_instrument("fi_interview").form


@pytest.fixture
def store(tmp_path, visit_form, interview_form):
    s = Store(tmp_path / "host.db")
    s.publish_form(visit_form)  # as the host does with every form it checks records against
    s.publish_form(interview_form)
    yield s
    s.close()


@pytest.fixture
def core(visit_form, interview_form):
    return IngestCore(FormRegistry(builtin_forms() + [visit_form, interview_form]))


def positional(form, answers):
    """A version 2 record's values: the answers by name, in the form's answer positions."""
    names = wire.answer_fields(form)
    assert set(answers) <= set(names), set(answers) - set(names)
    return [answers.get(n) for n in names]


def loop_pass(interview_form, **answers):
    (loop,) = [q for q in interview_form["questions"] if q["name"] == "partner_loop"]
    return positional(loop, answers)


def send(core, store, form, device, *answer_sets, at=T0, clock=wire.CLOCK_NTP, boot=1, first_seq=1):
    """Records of ``form`` answered on ``device`` as one version 2 message through the ingest core."""
    parts, ids = [], []
    for seq, answers in enumerate(answer_sets, first_seq):
        rid = wire.new_record_id(os.urandom)
        rec = wire.make_record_v2(form["id"], form["version"], int(at) - 600 + seq, 300, boot, 100 + seq, clock,
                                  positional(form, answers), rid)
        parts.append(wire.sign_record(rec, seq, device, None))
        ids.append(wire.instance_id_from_hex(rid))
    message = Message(wire.topic_records(device), wire.encode_batch_from_encoded(device, parts, wire.V2), float(at))
    report = core.process(store, [message])
    assert report.quarantined == 0, store.quarantined()[-1]["reason"]
    return report, ids


def interview(interview_form, partners, passes, **more):
    answers = {"consent": "yes", "wave": "1", "period": "last_12_months", "respondent_org": "102",
               "size_band": "small", "sector": "electronics", "rd_activity": "rd_unit", "partners": partners,
               "partner_loop": [loop_pass(interview_form, **p) for p in passes] if passes else None}
    answers.update(more)
    return answers


def tie(partner, alters=None, **more):
    answers = {"partner": partner, "tie_types": ["traded", "knowledge"], "frequency": "4", "since_year": 2019,
               "formality": "formal", "channel": "both", "closeness": "4", "trust": "5", "initiated": "they",
               "knowledge_flow": "both_ways", "importance": "3", "scope": "same_region", "alters_tied": alters}
    answers.update(more)
    return answers


def test_an_interview_gives_its_respondent_a_tie_per_partner_and_every_pair_of_partners(core, store,
                                                                                      interview_form):
    passes = [tie("101", ["103"]),
              tie("new_1", ["nobody"], partner_name="Hanbit Lab", partner_type="startup", tie_types=["people"],
                  frequency="1", closeness="2", trust="3", scope="abroad"),
              tie("103")]  # the last partner: no one named after it, the pairs question is not asked
    _, (iid,) = send(core, store, interview_form, HANDHELD, interview(interview_form, ["101", "new_1", "103"], passes))

    (resp,) = store.read(rows.rows, "respondents")
    assert {k: resp[k] for k in ("instance_id", "device", "form", "form_version", "wave", "consent", "period",
                                 "respondent_org", "size_band", "sector", "rd_activity", "named")} == {
        "instance_id": iid, "device": HANDHELD, "form": "fi_interview", "form_version": interview_form["version"],
        "wave": "1", "consent": "yes", "period": "last_12_months", "respondent_org": 102, "size_band": "small",
        "sector": "electronics", "rd_activity": "rd_unit", "named": 3}
    assert resp["end"] == store.rows("records")[0]["end"]

    ties = store.read(rows.rows, "tie_reports")
    assert [(t["pass"], t["respondent_org"], t["partner_org"], t["partner_name"], t["partner_type"]) for t in ties] == [
        (1, 102, 101, None, None), (2, 102, None, "Hanbit Lab", "startup"), (3, 102, 103, None, None)]
    first, new = ties[0], ties[1]
    assert (first["tie_types"], first["multiplexity"], first["frequency"], first["since_year"]) == (
        '["traded","knowledge"]', 2, 4, 2019)
    # closeness and trust are two items, ordinal answers are integers
    assert (first["closeness"], first["trust"], first["importance"]) == (4, 5, 3)
    assert (first["formality"], first["channel"], first["initiated"], first["knowledge_flow"], first["scope"]) == (
        "formal", "both", "they", "both_ways", "same_region")
    assert (new["tie_types"], new["multiplexity"], new["frequency"], new["closeness"], new["trust"], new["scope"]) == (
        '["people"]', 1, 1, 2, 3, "abroad")
    assert {t["wave"] for t in ties} == {"1"} and {t["instance_id"] for t in ties} == {iid}

    pairs = store.read(rows.rows, "alter_pairs")
    assert [(p["pass_a"], p["pass_b"], p["org_a"], p["name_a"], p["org_b"], p["name_b"], p["tied"]) for p in pairs] == [
        (1, 2, 101, None, None, "Hanbit Lab", 0),
        (1, 3, 101, None, 103, None, 1),
        (2, 3, None, "Hanbit Lab", 103, None, 0)]
    assert {p["respondent_org"] for p in pairs} == {102}


def test_a_respondent_who_names_nobody_has_a_row_and_no_ties(core, store, interview_form):
    send(core, store, interview_form, HANDHELD,
         interview(interview_form, ["nobody"], None),
         {"consent": "no", "wave": "1", "period": "last_12_months"},
         interview(interview_form, ["101"], [tie("101")], respondent_org="not_listed",
                   respondent_name="Daegu Precision", respondent_type="sme"))
    got = [(r["consent"], r["respondent_org"], r["respondent_name"], r["respondent_type"], r["named"])
           for r in store.read(rows.rows, "respondents")]
    assert sorted(got, key=str) == sorted([("yes", 102, None, None, 0), ("no", None, None, None, None),
                                           ("yes", None, "Daegu Precision", "sme", 1)], key=str)
    (only,) = store.read(rows.rows, "tie_reports")
    assert (only["respondent_org"], only["partner_org"]) == (None, 101)
    assert store.read(rows.rows, "alter_pairs") == []  # one partner: no pair


def test_a_visit_is_a_row_and_its_organisation_a_check_in_at_the_kiosk(core, store, visit_form):
    base = {"wave": "1", "facility": "networking_event", "purpose": "event", "new_contact": "yes"}
    send(core, store, visit_form, KIOSK,
         dict(base, visitor_org="101", met=["102", "not_listed"], satisfaction="5"),
         dict(base, visitor_org="not_listed", visitor_type="foreign_firm", met=["nobody"], satisfaction="2"))
    visits = store.read(rows.rows, "visits")
    assert [(v["visitor_org"], v["visitor_type"], v["met"], v["met_not_listed"], v["met_nobody"], v["satisfaction"])
            for v in visits] == [(101, None, "[102]", 1, 0, 5), (None, "foreign_firm", "[]", 0, 1, 2)]
    assert {(v["facility"], v["purpose"], v["new_contact"], v["wave"], v["device"]) for v in visits} == {
        ("networking_event", "event", "yes", "1", KIOSK)}
    assert store.read(rows.checkins) == [{"org": 101, "device": KIOSK, "end": visits[0]["end"], "wave": "1"}]
    # whom they met, one row per organisation, with SQLite's own JSON functions
    met = store.db.execute("SELECT v.visitor_org, j.value FROM visits AS v, json_each(v.met) AS j").fetchall()
    assert met == [(101, 102)]


def test_a_resent_or_conflicting_record_writes_no_rows_twice(core, store, interview_form):
    answers = interview(interview_form, ["101", "103"], [tie("101", ["103"]), tie("103")])
    rid = wire.new_record_id(os.urandom)

    def message(values):
        rec = wire.make_record_v2("fi_interview", interview_form["version"], T0 - 500, 300, 1, 100, wire.CLOCK_NTP,
                                  positional(interview_form, values), rid)
        part = wire.sign_record(rec, 1, HANDHELD, None)
        return Message(wire.topic_records(HANDHELD), wire.encode_batch_from_encoded(HANDHELD, [part], wire.V2), T0)

    def counts():
        return {t: len(store.read(rows.rows, t)) for t in rows.TABLES}

    first = core.process(store, [message(answers)])
    assert first.stored == 1 and counts() == {"visits": 0, "respondents": 1, "tie_reports": 2, "alter_pairs": 1}
    again = core.process(store, [message(answers), message(answers)])
    assert again.duplicates == 2 and counts() == {"visits": 0, "respondents": 1, "tie_reports": 2, "alter_pairs": 1}
    changed = copy.deepcopy(answers)
    changed["partner_loop"][0] = loop_pass(interview_form, **tie("101", ["nobody"]))
    conflict = core.process(store, [message(changed)])
    assert conflict.conflicts == 1
    assert [p["tied"] for p in store.read(rows.rows, "alter_pairs")] == [1]  # the first version's rows stay


def test_the_older_instruments_records_flatten_too(store):
    """Version 1 records of the built-in tp_visit and fi_partner, as kiosks and handhelds sent them before."""
    visit = wire.make_record(KIOSK, 1, "tp_visit", "2026112401", "2026-11-24T09:30:00Z", "2026-11-24T09:31:05Z",
                             {"facility": "cafeteria", "org_type": "university", "satisfaction": 3},
                             wire.new_instance_id(os.urandom))
    partner = wire.make_record(HANDHELD, 1, "fi_partner", "2026112401", "2026-11-24T09:30:00Z",
                               "2026-11-24T09:50:00Z", {"respondent_org": 11, "partner_org": 12,
                                                        "tie_types": ["traded", "people"], "frequency": 5,
                                                        "closeness": 4, "reciprocity": "mutual", "scope": "abroad"},
                               wire.new_instance_id(os.urandom))
    report = IngestCore().process(store, [Message(wire.topic_records(KIOSK), wire.encode_batch(KIOSK, [visit]), T0),
                                          Message(wire.topic_records(HANDHELD), wire.encode_batch(HANDHELD, [partner]),
                                                  T0)])
    assert report.stored == 2
    (v,) = store.read(rows.rows, "visits")
    assert (v["facility"], v["visitor_org"], v["visitor_type"], v["satisfaction"], v["wave"], v["met"]) == (
        "cafeteria", None, "university", 3, None, None)
    (r,) = store.read(rows.rows, "respondents")
    assert (r["instance_id"], r["respondent_org"], r["named"]) == (partner["id"], 11, 1)
    (t,) = store.read(rows.rows, "tie_reports")
    assert (t["pass"], t["respondent_org"], t["partner_org"], t["tie_types"], t["multiplexity"], t["frequency"],
            t["closeness"], t["trust"], t["reciprocity"], t["scope"]) == (
        1, 11, 12, '["traded","people"]', 2, 5, 4, None, "mutual", "abroad")


def _table(store, table):
    return sorted(tuple(r.values()) for r in store.read(rows.rows, table))


def test_the_migration_flattens_stored_records_as_the_ingest_does(tmp_path):
    """A database of tiesense 0.1.0 (tp_visit and fi_partner records) gets its rows when it is upgraded,
    the same rows the ingest writes for the same records in a new database."""
    with Store(release_0_1_0(tmp_path / "old.db")) as old:
        upgraded = {t: _table(old, t) for t in rows.TABLES}
        records, forms = old.records(), old.forms()
    assert (len(upgraded["visits"]), len(upgraded["respondents"]), len(upgraded["tie_reports"])) == (3, 6, 6)
    with Store(tmp_path / "new.db") as new:
        for f in forms:
            new.publish_form(f)
        new.write_batch([RecordItem(r, now_iso()) for r in records])
        assert {t: _table(new, t) for t in rows.TABLES} == upgraded


def test_the_migration_runs_once_and_a_backfill_writes_only_what_is_missing(tmp_path):
    path = release_0_1_0(tmp_path / "old.db")
    with Store(path) as s:
        before = {t: _table(s, t) for t in rows.TABLES}
        assert s.write(rows.backfill) == 0
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION
    conn.execute("DELETE FROM tie_reports")
    conn.execute("DELETE FROM respondents WHERE respondent_org = 11")
    conn.commit()
    conn.close()
    with Store(path) as s:
        assert s.write(rows.backfill) == 2 * 3  # the three records of respondent 11: their respondent and tie
        assert len(_table(s, "tie_reports")) == 3
        assert _table(s, "respondents") == before["respondents"]


def test_an_interview_whose_form_is_not_published_gets_its_rows_once_it_is(tmp_path, core, interview_form):
    adapted = copy.deepcopy(interview_form)  # a version the host knows only from a device's records, not built in
    adapted["version"] = "2026113099"
    core.forms.add(adapted)
    with Store(tmp_path / "host.db") as s:
        send(core, s, adapted, HANDHELD, interview(adapted, ["101", "103"], [tie("101", ["103"]), tie("103")]))
        assert s.read(rows.rows, "respondents") == [] and s.counts()["records"] == 1
        s.publish_form(adapted)
        assert s.write(rows.backfill) == 1 + 2 + 1
        assert [p["tied"] for p in s.read(rows.rows, "alter_pairs")] == [1]


def test_wave_to_wave_change_runs_on_the_rows(core, store, interview_form):
    wave2 = copy.deepcopy(interview_form)
    wave2["version"] = "2026120201"  # newer than the built-in interview it adapts
    (wave_q,) = [q for q in wave2["questions"] if q["name"] == "wave"]
    wave_q["calculation"] = [2000]  # the wave-2 form's constant
    store.publish_form(wave2)
    core.forms.add(wave2)
    # wave 1: 102 works with 101 and 103; wave 2: 102 names only 101, and 101 names 102 back and 103
    send(core, store, interview_form, HANDHELD, interview(interview_form, ["101", "103"], [tie("101", ["nobody"]),
                                                                                            tie("103")]))
    send(core, store, wave2, HANDHELD,
         interview(wave2, ["101"], [tie("101")], wave="2"),
         interview(wave2, ["102", "103"], [tie("102", ["103"]), tie("103")], wave="2", respondent_org="101"),
         first_seq=2)
    assert store.read(rows.tie_changes, "1", "2") == {"new": [(101, 103)], "lost": [(102, 103)],
                                                      "kept": [(101, 102)]}
    assert {r["wave"]: r["form_version"] for r in store.read(rows.rows, "respondents")} == {
        "1": interview_form["version"], "2": "2026120201"}
    assert len(store.read(rows.rows, "tie_reports", wave="2")) == 3
    # the query docs/instruments.md gives for ties new in wave 2 (each direction a respondent reported)
    guide = (ROOT / "docs" / "instruments.md").read_text(encoding="utf-8")
    query = guide.split("```sql\n", 1)[1].split("```", 1)[0]
    assert sorted(store.db.execute(query).fetchall()) == [(101, 102), (101, 103)]


def test_a_wave_set_when_publishing_names_the_rows_of_a_form_without_a_wave_question(store):
    form = copy.deepcopy(next(f for f in builtin_forms() if f["id"] == "fi_partner"))
    form["version"], form["wave"] = "2026120101", "2027"
    store.publish_form(form)
    rec = wire.make_record(HANDHELD, 1, "fi_partner", "2026120101", "2026-12-01T09:00:00Z", "2026-12-01T09:20:00Z",
                           {"respondent_org": 11, "partner_org": 13, "tie_types": ["finance"], "frequency": 1,
                            "closeness": 1, "scope": "same_park"}, wire.new_instance_id(os.urandom))
    report = IngestCore(FormRegistry(builtin_forms() + [form])).process(
        store, [Message(wire.topic_records(HANDHELD), wire.encode_batch(HANDHELD, [rec]), T0)])
    assert report.stored == 1
    assert [t["wave"] for t in store.read(rows.rows, "tie_reports")] == ["2027"]


def test_a_corrected_clock_moves_the_rows_with_their_record(core, store, visit_form):
    # the kiosk's RTC restarted at 2021-01-01 and it had no NTP: the record's time is the device's guess
    send(core, store, visit_form, KIOSK, {"wave": "1", "facility": "other", "visitor_org": "103", "purpose": "other",
                                          "met": ["nobody"], "new_contact": "no", "satisfaction": "3"},
         at=T0, clock=wire.CLOCK_UNSYNCED, boot=4)
    guessed = store.read(rows.rows, "visits")[0]["end"]
    assert guessed.startswith("2026-")  # as the device said; no anchor yet
    status = wire.encode_status(True, fw="0.2.0", role="kiosk", uptime_s=1000, time=None, version=wire.V2, boot=4,
                                clock=wire.CLOCK_UNSYNCED, nonce="0a1b2c3d")
    core.process(store, [Message(wire.topic_status(KIOSK), status, float(T0 + 50))])
    (record,) = store.rows("records")
    assert record["clock"] == "corrected" and record["end"] != guessed
    assert [c["end"] for c in store.read(rows.checkins)] == [record["end"]]


def test_unknown_tables_are_refused_naming_the_analysable_ones(store):
    with pytest.raises(ValueError, match="visits, respondents, tie_reports, alter_pairs"):
        store.read(rows.rows, "records")
