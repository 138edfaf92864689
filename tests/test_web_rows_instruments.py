"""``/api/ties``, ``/api/respondents`` and the tie aggregates over both interview instruments, without a browser.

The older ``fi_partner`` (one record per tie report) and the handheld's ``fi_interview`` (one record per
interview, one ``partner_loop`` pass per partner) both go through the real ingest core into a real SQLite file,
which writes their analysable rows (``respondents``, ``tie_reports``); the routes read those rows, so an
interview made on the handheld shows as one tie report per pass, beside the ``fi_partner`` reports.

Two survey waves, on a roster of the web tests' organisations and the shipped interview's placeholders
(101 Daeil Precision, sme; 102 Hanbit Display, large firm; 103 Nuri Sensors, start-up in Daegu):

* wave 1: 101 is interviewed on the handheld and names 102 and a partner not on the roster (Gumi Robotics);
  103 is interviewed and names nobody; SME 1 reports a tie to 102 on ``fi_partner``;
* wave 2: 102 is interviewed and names 101; 101 reports a tie to University 7 on ``fi_partner``.
"""
from __future__ import annotations

import csv
import io
import os
import zipfile
from datetime import datetime, timezone

import pytest

from tiesense import access, aggregates, wire
from tiesense.forms import FormRegistry, builtin_form, builtin_forms
from tiesense.ingest import IngestCore, Message
from tiesense.provisioning import provision
from tiesense.publishing import publish
from tiesense.store import Store, roster
from tiesense.web import Settings

from .conftest import WEB_ROSTER, WebEnv

HANDHELD, TABLET = "handheld-05", "handheld-06"  # interviews on the first (provisioned for site "east")
ROSTER = WEB_ROSTER + ("101,Daeil Precision,sme,Gyeongbuk,,\n102,Hanbit Display,large_firm,Gyeongbuk,,\n"
                       "103,Nuri Sensors,startup,Daegu,,\n")
DAY = {"1": datetime(2026, 12, 1, tzinfo=timezone.utc), "2": datetime(2026, 12, 2, tzinfo=timezone.utc)}


def iso(t: int) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def values(form: dict, answers: dict) -> list:
    names = wire.answer_fields(form)
    assert set(answers) <= set(names), set(answers) - set(names)
    return [answers.get(n) for n in names]


def tie(loop: dict, partner: str, alters=None, **more) -> list:
    """One pass of the interview's partner loop."""
    answers = {"partner": partner, "tie_types": ["traded", "knowledge"], "frequency": "4", "since_year": 2019,
               "formality": "formal", "channel": "both", "closeness": "4", "trust": "5", "initiated": "they",
               "knowledge_flow": "both_ways", "importance": "3", "scope": "same_region", "alters_tied": alters}
    answers.update(more)
    return values(loop, answers)


def interview(form: dict, wave: str, respondent: str, partners: list[str], passes: list[list]) -> dict:
    return {"consent": "yes", "wave": wave, "period": "last_12_months", "respondent_org": respondent,
            "size_band": "small", "sector": "electronics", "rd_activity": "rd_unit", "partners": partners,
            "partner_loop": passes or None}


class Sender:
    """Version 2 records through the real ingest core, one message each, with the device's seq counted on."""

    def __init__(self, store: Store, forms: list[dict], keys: dict[str, bytes]):
        self.store, self.keys, self.seq = store, keys, {}
        self.core = IngestCore(FormRegistry(builtin_forms() + forms))
        self.ends: list[str] = []

    def send(self, device: str, form: dict, answers: dict, end: int) -> str:
        seq = self.seq[device] = self.seq.get(device, 0) + 1
        rid = wire.new_record_id(os.urandom)
        rec = wire.make_record_v2(form["id"], form["version"], end - 900, 900, 1, 100 + seq, wire.CLOCK_NTP,
                                  values(form, answers), rid)
        part = wire.sign_record(rec, seq, device, self.keys.get(device))
        report = self.core.process(self.store, [Message(wire.topic_records(device),
                                                        wire.encode_batch_from_encoded(device, [part], wire.V2),
                                                        float(end + 60))])
        assert report.stored == 1, self.store.quarantined()[-1]["reason"]
        self.ends.append(iso(end))
        return wire.instance_id_from_hex(rid)


@pytest.fixture
def two(tmp_path):
    """The two waves of both instruments (see the module docstring) on a fresh database, with its web app."""
    path = tmp_path / "host.db"
    with Store(path) as store:
        store.import_roster(roster.parse_csv(ROSTER), source="test")
        tokens = {role: access.create_token(store, f"{role}-token", role) for role in ("viewer", "analyst")}
        first = builtin_form("fi_interview")
        second = dict(first, version="2026120301")
        partner_forms = {w: dict(builtin_form("fi_partner"), version=v)
                         for w, v in (("1", "2026120101"), ("2", "2026120202"))}
        assert publish(store, second)
        for wave, form in partner_forms.items():
            assert publish(store, form, wave=wave)
        key = wire.key_bytes(provision(store, HANDHELD, "east", broker_host="127.0.0.1", role="handheld").key)
        sender = Sender(store, [second, *partner_forms.values()], {HANDHELD: key})
        loop = next(q for q in first["questions"] if q["name"] == "partner_loop")
        t1, t2 = (int(DAY[w].timestamp()) for w in ("1", "2"))
        ids = {
            "I1": sender.send(HANDHELD, first, interview(first, "1", "101", ["102", "new_1"], [
                tie(loop, "102", ["new_1"]),
                tie(loop, "new_1", partner_name="Gumi Robotics", partner_type="startup", tie_types=["people"],
                    frequency="2", closeness="3", trust="3", scope="abroad")]), t1 + 9 * 3600),
            "P1": sender.send(TABLET, partner_forms["1"], {
                "respondent_org": 1, "partner_org": 102, "tie_types": ["traded"], "frequency": 5, "since_year": 2012,
                "closeness": 2, "reciprocity": "mutual", "scope": "same_region", "importance": 4}, t1 + 10 * 3600),
            "I2": sender.send(HANDHELD, first, interview(first, "1", "103", ["nobody"], []), t1 + 11 * 3600),
            "I3": sender.send(HANDHELD, second, interview(second, "2", "102", ["101"], [tie(loop, "101")]),
                              t2 + 9 * 3600),
            "P2": sender.send(TABLET, partner_forms["2"], {
                "respondent_org": 101, "partner_org": 7, "tie_types": ["knowledge"], "frequency": 3,
                "closeness": 5, "reciprocity": "we", "scope": "same_region", "importance": 2}, t2 + 10 * 3600),
        }
    env = WebEnv(path, tokens, Settings(k=2))
    env.ids, env.ends = ids, dict(zip(ids, sender.ends))
    yield env
    env.close()


def get(env, url: str, role: str = "analyst") -> dict:
    r = env.get(url, role)
    assert r.status_code == 200, r.text
    return r.json()


def reports(items: list[dict]) -> list[tuple]:
    return [(t["form"], t["pass"], t["respondent_org"], t["partner_org"], t["partner_name"]) for t in items]


# what each record reports, in end order: (form, pass, respondent, partner code, partner name)
I1 = [("fi_interview", 1, 101, 102, "Hanbit Display"), ("fi_interview", 2, 101, None, "Gumi Robotics")]
P1 = [("fi_partner", 1, 1, 102, "Hanbit Display")]
I3 = [("fi_interview", 1, 102, 101, "Daeil Precision")]
P2 = [("fi_partner", 1, 101, 7, "University 7")]


def test_a_handheld_interview_and_an_fi_partner_record_are_rows_of_the_same_ties_list(two):
    body = get(two, "/api/ties?wave=1")
    assert body["total"] == 3 and reports(body["items"]) == I1 + P1
    first, new, partner = body["items"]
    # record columns, from the record and its device
    assert (first["instance_id"], first["device"], first["site"], first["form_version"], first["wave"]) == (
        two.ids["I1"], HANDHELD, "east", "2026120101", "1")
    assert first["end"] == new["end"] == two.ends["I1"] and first["seq"] == 1 and first["start"] < first["end"]
    assert (partner["instance_id"], partner["device"], partner["site"], partner["form_version"], partner["end"]) == (
        two.ids["P1"], TABLET, None, "2026120101", two.ends["P1"])
    assert all(t["received_at"] for t in body["items"])
    # both organisations from the roster; a partner not on it keeps the name and type given
    assert (first["respondent_name"], first["respondent_actor_type"], first["respondent_region"]) == (
        "Daeil Precision", "sme", "Gyeongbuk")
    assert (first["partner_actor_type"], first["partner_region"], first["partner_type"]) == (
        "large_firm", "Gyeongbuk", None)
    assert (new["partner_actor_type"], new["partner_region"], new["partner_type"]) == (None, None, "startup")
    assert (partner["respondent_name"], partner["respondent_actor_type"]) == ("SME 1", "sme")
    # the tie items, typed alike for both instruments; an item an instrument does not ask is None
    assert (first["tie_types"], first["multiplexity"], first["frequency"], first["closeness"], first["trust"],
            first["formality"], first["knowledge_flow"], first["reciprocity"]) == (
        ["traded", "knowledge"], 2, 4, 4, 5, "formal", "both_ways", None)
    assert (new["tie_types"], new["frequency"], new["closeness"], new["scope"]) == (["people"], 2, 3, "abroad")
    assert (partner["tie_types"], partner["multiplexity"], partner["frequency"], partner["since_year"],
            partner["closeness"], partner["trust"], partner["reciprocity"], partner["importance"]) == (
        ["traded"], 1, 5, 2012, 2, None, "mutual", 4)


def test_pages_of_ties_walk_both_instruments_and_the_waves_add_up(two):
    seen, totals, url = [], set(), "/api/ties?limit=2"
    while url:
        body = get(two, url)
        totals.add(body["total"])
        seen += [(t["instance_id"], t["pass"]) for t in body["items"]]
        url = body["next"]
    assert totals == {5} and len(set(seen)) == 5
    assert reports(get(two, "/api/ties")["items"]) == I1 + P1 + I3 + P2
    assert reports(get(two, "/api/ties?wave=2")["items"]) == I3 + P2


def test_respondents_of_both_instruments_one_row_each_and_who_named_nobody_has_no_partners(two):
    def rows(query=""):
        return [(r["code"], r["name"], r["reports"], r["partners"]) for r in get(two, f"/api/respondents{query}")["items"]]

    assert rows("?wave=1") == [(1, "SME 1", 1, 1), (101, "Daeil Precision", 2, 2), (103, "Nuri Sensors", 0, 0)]
    assert rows("?wave=2") == [(101, "Daeil Precision", 1, 1), (102, "Hanbit Display", 1, 1)]
    # 101 answered the handheld interview in wave 1 and fi_partner in wave 2: one row, its reports of both
    every = {r["code"]: r for r in get(two, "/api/respondents")["items"]}
    assert sorted(every) == [1, 101, 102, 103]
    assert (every[101]["reports"], every[101]["partners"]) == (3, 3)
    assert (every[101]["first_interview"], every[101]["last_interview"]) == (two.ends["I1"], two.ends["P2"])
    nobody = every[103]
    assert (nobody["actor_type"], nobody["region"], nobody["reports"], nobody["partners"]) == ("startup", "Daegu", 0, 0)
    assert nobody["first_interview"] == nobody["last_interview"] == two.ends["I2"]
    # who answered is what a cluster measure is built from: both instruments, the one who named nobody too
    assert aggregates.cluster_respondents(two.store) == 4


def test_the_filters_read_both_instruments(two):
    def ties(query):
        return reports(get(two, f"/api/ties?{query}")["items"])

    def codes(query):
        return [(r["code"], r["reports"]) for r in get(two, f"/api/respondents?{query}")["items"]]

    assert ties("actor_type=sme") == I1 + P1 + P2 and ties("wave=1&actor_type=sme") == I1 + P1
    assert ties("partner_actor_type=large_firm") == [I1[0]] + P1
    assert codes("partner_actor_type=large_firm") == [(1, 1), (101, 1)]
    # a partner not on the roster; the respondent who named nobody named no such partner either
    assert ties("partner_actor_type=(not on roster)") == [I1[1]]
    assert codes("partner_actor_type=(not on roster)") == [(101, 1)]
    assert ties("respondent=101") == I1 + P2 and ties("wave=2&respondent=101") == P2
    assert codes("region=Daegu") == [(103, 0)] and ties("region=Daegu") == []
    assert ties(f"device={TABLET}") == P1 + P2 and ties("site=east") == I1 + I3
    assert codes("site=east") == [(101, 2), (102, 1), (103, 0)]
    assert ties("form_version=2026120301") == I3 and ties("form_version=2026120101") == I1 + P1
    assert ties(f"since={two.ends['P1']}&until={two.ends['P2']}") == P1 + I3
    assert codes(f"since={two.ends['I2']}&until=2026-12-02") == [(103, 0)]
    for route, rows in (("/api/ties", "tie report"), ("/api/respondents", "interview")):
        body = two.get(f"{route}?wave=3", "analyst").json()
        assert body == {"error": f"no {rows} belongs to survey wave '3'",
                        "hint": "wave is one of: 1, 2; leave it out for every wave"}


def test_the_tie_aggregates_count_the_reports_of_both_instruments(two):
    def cells(by, role="analyst"):
        return {c["key"]: c for c in get(two, f"/api/aggregates/ties?by={by}", role)["items"]}

    by_form = cells("form")
    assert {k: (c["reports"], c["respondents"], c["partners"]) for k, c in by_form.items()} == {
        "fi_interview": (3, 2, 3), "fi_partner": (2, 2, 2)}
    assert by_form["fi_interview"]["mean_closeness"] == pytest.approx((4 + 3 + 4) / 3)
    assert by_form["fi_partner"]["mean_frequency"] == pytest.approx((5 + 3) / 2)
    assert {k: (c["reports"], c["respondents"]) for k, c in cells("respondent_actor_type").items()} == {
        "sme": (4, 2), "large_firm": (1, 1)}
    assert {k: c["reports"] for k, c in cells("partner_actor_type").items()} == {
        "(not on roster)": 1, "large_firm": 2, "sme": 1, "university": 1}
    assert {k: c["reports"] for k, c in cells("tie_type").items()} == {"knowledge": 3, "people": 1, "traded": 3}
    assert {k: c["reports"] for k, c in cells("trust").items()} == {None: 2, 3: 1, 5: 2}  # fi_partner asks none
    assert {k: c["reports"] for k, c in cells("wave").items()} == {"1": 3, "2": 2}
    # k-anonymity as before (k=2 here): a viewer's cell from one respondent organisation is suppressed
    viewer = get(two, "/api/aggregates/ties?by=respondent_actor_type", "viewer")
    assert viewer["k"] == 2 and viewer["suppressed"] == 1
    shown = {c["key"]: c for c in viewer["items"]}
    assert shown["large_firm"]["suppressed"] and shown["large_firm"]["reports"] is None
    assert (shown["sme"]["suppressed"], shown["sme"]["reports"]) == (False, 4)
    bad = two.get("/api/aggregates/ties?by=colour", "viewer").json()
    assert bad["error"] == "cannot group by 'colour'" and "trust" in bad["hint"] and "tie_type" in bad["hint"]


def test_the_export_keeps_one_table_per_form_and_its_parent_lists_every_respondent(two):
    z = zipfile.ZipFile(io.BytesIO(two.get("/api/exports/csv", "analyst").content))

    def table(name):
        return list(csv.DictReader(io.StringIO(z.read(name).decode("utf-8-sig"))))

    partner, passes, parents = table("fi_partner.csv"), table("fi_interview-partner_loop.csv"), table("respondents.csv")
    # the fi_partner table holds its own records only: the interview's passes are its repeat's rows
    assert [(t["respondent_org"], t["partner_org"], t["tie_types"]) for t in partner] == [
        ("1", "102", "traded"), ("101", "7", "knowledge")]
    assert [p["partner"] for p in passes] == ["102", "new_1", "101"]
    assert [(r["respondent_org"], r["reports"], r["partners"]) for r in parents] == [
        ("1", "1", "1"), ("101", "3", "3"), ("102", "1", "1"), ("103", "0", "0")]
    assert {t["PARENT_KEY"] for t in partner} <= {r["KEY"] for r in parents}
