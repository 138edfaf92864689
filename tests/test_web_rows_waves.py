"""``wave`` on the analysable-rows routes (``/api/visits``, ``/api/ties``, ``/api/respondents``), without a browser.

As a project runs a second wave, through the real publish API and the real ingest core onto the web template's
database (whose 10 visits and 16 tie reports, on the built-in forms, belong to no wave):

* visits: wave 1 on the shipped XLSForm visit form, whose ``wave`` calculate each record answers; wave 2 on a
  newer version without that question, published with ``wave="2"`` (the form's ``wave`` setting gives it);
* tie reports: two versions of the built-in partner interview published with ``wave="1"`` and ``wave="2"``.
"""
from __future__ import annotations

import copy
import os

import pytest

from tiesense import wire
from tiesense.forms import FormRegistry, builtin_form, builtin_forms
from tiesense.ingest import IngestCore, Message
from tiesense.provisioning import provision
from tiesense.publishing import publish
from tiesense.xlsform.instruments import compile_instrument

TEMPLATE_VISITS, TEMPLATE_REPORTS = 10, 16  # conftest's _web_records: no wave
# per wave: (visit form version, visits as (end, facility)); the kiosk is provisioned for site "lobby"
VISITS = {"1": ("2026113001", [(f"2026-11-30T{8 + i:02d}:01:00Z", "shared_lab" if i < 4 else "meeting_room")
                               for i in range(7)]),
          "2": ("2026120201", [(f"2026-12-02T{10 + i:02d}:01:00Z", "cafeteria") for i in range(4)])}
# per wave: (interview form version, reports as (respondent, partner)); 1-6 are SMEs, 7-10 universities
REPORTS = {"1": ("2026120101", [(1, 2), (1, 3), (3, 4), (7, 1), (8, 2)]),
           "2": ("2026120202", [(1, 2), (3, 9), (5, 1)])}
KIOSK, HANDHELD = "kiosk-02", "handheld-02"


def visit_forms() -> dict[str, dict]:
    first = compile_instrument("tp_visit").form
    second = copy.deepcopy(first)
    second["version"] = VISITS["2"][0]
    second["questions"] = [q for q in second["questions"] if q["name"] != "wave"]
    return {"1": first, "2": second}


def store_waves(web) -> None:
    by_wave, forms = visit_forms(), []
    for wave, form in by_wave.items():  # wave 1's records say their wave; wave 2's form is published with it
        assert publish(web.store, form, wave=None if wave == "1" else wave)
        forms.append(form)
    for wave, (version, _) in REPORTS.items():
        form = dict(builtin_form("fi_partner"), version=version)
        assert publish(web.store, form, wave=wave)
        forms.append(form)
    # a provisioned kiosk (its site is the visits' site) sends signed version 2 records
    key = wire.key_bytes(provision(web.store, KIOSK, "lobby", broker_host="127.0.0.1").key)
    core = IngestCore(forms=FormRegistry(builtin_forms() + forms))
    visits = []
    for wave, (version, ends) in VISITS.items():
        fields = wire.answer_fields(by_wave[wave])
        for end, facility in ends:
            # "wave": the calculate's constant, sent only on wave 1's form (wave 2's has no such question)
            answers = {"wave": "1", "facility": facility, "visitor_org": "101", "purpose": "use_facility",
                       "met": ["nobody"], "new_contact": "no", "satisfaction": "4"}
            rec = wire.make_record_v2("tp_visit", version, _epoch(end) - 60, 60, 1, 100 + len(visits), wire.CLOCK_NTP,
                                      [answers.get(n) for n in fields],
                                      wire.new_record_id(os.urandom))
            visits.append(wire.sign_record(rec, len(visits) + 1, KIOSK, key))
    reports = []
    for wave, (version, pairs) in REPORTS.items():
        for r, p in pairs:
            day = "2026-12-01" if wave == "1" else "2026-12-02"
            reports.append(wire.make_record(HANDHELD, len(reports) + 1, "fi_partner", version, f"{day}T09:00:00Z",
                                            f"{day}T09:{10 + len(reports):02d}:00Z",
                                            {"respondent_org": r, "partner_org": p, "tie_types": ["knowledge"],
                                             "frequency": 3, "closeness": 4, "scope": "same_park"},
                                            wire.new_instance_id(os.urandom)))
    report = core.process(web.store, [
        Message(wire.topic_records(KIOSK), wire.encode_batch_from_encoded(KIOSK, visits, wire.V2), 1_796_500_000.0),
        Message(wire.topic_records(HANDHELD), wire.encode_batch(HANDHELD, reports), 1_795_000_000.0)])
    assert report.stored == len(visits) + len(reports), web.store.quarantined()[-1]["reason"]


def _epoch(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


@pytest.fixture
def waves(web):
    store_waves(web)
    return web


def every_page(web, url: str) -> tuple[list[dict], list[int]]:
    """All items of a paged list, two per page, and the ``total`` each page reported."""
    items, totals = [], []
    nxt = url + ("&" if "?" in url else "?") + "limit=2"
    while nxt is not None:
        r = web.get(nxt, "analyst")
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        totals.append(body["total"])
        nxt = body["next"]
    return items, totals


def test_visits_of_a_wave_are_that_waves_visits_and_the_waves_add_up(waves):
    every, _ = every_page(waves, "/api/visits")
    assert len(every) == TEMPLATE_VISITS + sum(len(v) for _, v in VISITS.values())
    seen = set()
    for wave, (version, ends) in VISITS.items():
        items, totals = every_page(waves, f"/api/visits?wave={wave}")
        assert set(totals) == {len(ends)} and len(items) == len(ends)  # every page reports the wave's total
        assert [r["end"] for r in items] == [e for e, _ in ends]
        assert {r["form_version"] for r in items} == {version} and {r["device"] for r in items} == {KIOSK}
        seen |= {r["instance_id"] for r in items}
    no_wave = {r["instance_id"] for r in every} - seen
    assert len(no_wave) == TEMPLATE_VISITS  # the template's visits belong to no wave, and to neither filter


def test_tie_reports_and_respondents_of_a_wave_add_up_to_the_unfiltered_ones(waves):
    every, _ = every_page(waves, "/api/ties")
    assert len(every) == TEMPLATE_REPORTS + sum(len(p) for _, p in REPORTS.values())
    everyone, _ = every_page(waves, "/api/respondents")
    reports_by = {r["code"]: r["reports"] for r in everyone}
    counted: dict[int, int] = {}
    for wave, (version, pairs) in REPORTS.items():
        ties, totals = every_page(waves, f"/api/ties?wave={wave}")
        assert set(totals) == {len(pairs)}
        assert [(t["respondent_org"], t["partner_org"]) for t in ties] == pairs
        assert {t["form_version"] for t in ties} == {version}
        people, totals = every_page(waves, f"/api/respondents?wave={wave}")
        want = {r: sum(1 for rr, _ in pairs if rr == r) for r, _ in pairs}
        assert {p["code"]: p["reports"] for p in people} == want and set(totals) == {len(want)}
        for code, n in want.items():
            counted[code] = counted.get(code, 0) + n
    # the reports of no wave (the template's) are the rest
    template = {}
    for t in every:
        if t["form_version"] == builtin_form("fi_partner")["version"]:
            template[t["respondent_org"]] = template.get(t["respondent_org"], 0) + 1
    assert {c: counted.get(c, 0) + template.get(c, 0) for c in reports_by} == reports_by


def test_the_wave_combines_with_the_other_filters(waves):
    late = waves.get("/api/visits?wave=1&since=2026-11-30T11:00:00Z", "analyst").json()
    assert late["total"] == sum(e >= "2026-11-30T11:00:00Z" for e, _ in VISITS["1"][1]) == 4
    assert waves.get("/api/visits?wave=2&site=lobby", "analyst").json()["total"] == len(VISITS["2"][1])
    one = waves.get("/api/ties?wave=1&respondent=1", "analyst").json()
    assert [(t["respondent_org"], t["partner_org"]) for t in one["items"]] == [(1, 2), (1, 3)]
    universities = waves.get("/api/ties?wave=1&actor_type=university", "analyst").json()
    assert [(t["respondent_org"], t["partner_org"]) for t in universities["items"]] == [(7, 1), (8, 2)]
    # a wave that exists, under filters nothing passes: an empty page, not an error
    empty = waves.get("/api/visits?wave=2&site=elsewhere", "analyst")
    assert empty.status_code == 200 and empty.json()["total"] == 0 and empty.json()["items"] == []
    assert waves.get("/api/respondents?wave=2&region=Seoul", "analyst").json()["total"] == 0


@pytest.mark.parametrize("route, rows", [("/api/visits", "visit"), ("/api/ties", "tie report"),
                                         ("/api/respondents", "interview")])
def test_a_wave_no_row_belongs_to_is_a_422_naming_the_waves_present(waves, route, rows):
    r = waves.get(f"{route}?wave=3", "analyst")
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == f"no {rows} belongs to survey wave '3'"
    assert body["hint"] == "wave is one of: 1, 2; leave it out for every wave"


def test_before_any_wave_the_422_says_there_is_none(web):
    body = web.get("/api/ties?wave=1", "analyst").json()
    assert body["error"] == "no tie report belongs to survey wave '1'"
    assert body["hint"].startswith("wave is one of: none (no tie report has a wave yet)")


def test_the_rows_routes_document_wave_in_openapi(web):
    spec = web.client.get("/openapi.json").json()
    for route in ("/api/visits", "/api/ties", "/api/respondents"):
        params = {p["name"]: p for p in spec["paths"][route]["get"]["parameters"]}
        assert "wave" in params, route
        assert "survey wave" in params["wave"]["description"]
        assert params["wave"]["in"] == "query"
    # the routes with a wave of their own keep one wave parameter each
    for route in ("/api/aggregates/visits", "/api/exports/aggregates/{kind}"):
        names = [p["name"] for p in spec["paths"][route]["get"]["parameters"]]
        assert names.count("wave") == 1, route


# ------------------------------------------------------------------ alter-alter pairs
# the handheld interview, wave 1 on its built-in version (its wave calculate answers 1) and wave 2 on a newer
# version answering 2; per wave: (respondent, partners named, passes as (partner, partners it works with)), with
# the roster placeholders of the shipped form (101-103) and partners not on the roster (new_1, new_2)
INTERVIEWS = {"1": [("101", ["102", "103", "new_1"], [("102", ["103"]), ("103", ["nobody"]), ("new_1", None)]),
                    ("103", ["101", "new_2"], [("101", ["nobody"]), ("new_2", None)])],
              "2": [("102", ["101", "103"], [("101", ["103"]), ("103", None)])]}
NEW = {"new_1": "Gumi Robotics", "new_2": "Seorin Optics"}
# the pairs each wave's interviews give: (respondent, org_a, name_a, org_b, name_b, tied)
PAIRS = {"1": [(101, 102, "Hanbit Display", 103, "Nuri Sensors", 1),
               (101, 102, "Hanbit Display", None, "Gumi Robotics", 0),
               (101, 103, "Nuri Sensors", None, "Gumi Robotics", 0),
               (103, 101, "Daeil Precision", None, "Seorin Optics", 0)],
         "2": [(102, 101, "Daeil Precision", 103, "Nuri Sensors", 1)]}


@pytest.fixture
def interview_waves(web):
    from .conftest import WEB_ROSTER
    from .test_rows import interview, send, tie
    from tiesense.store import roster

    # the shipped interview's placeholder organisations (101-103) join the roster
    web.store.import_roster(roster.parse_csv(WEB_ROSTER + "101,Daeil Precision,sme,Gyeongbuk,,\n"
                                             "102,Hanbit Display,large_firm,Gyeongbuk,,\n"
                                             "103,Nuri Sensors,startup,Daegu,,\n"), source="test")
    first = builtin_form("fi_interview")
    second = dict(first, version="2026120301")
    assert publish(web.store, second)
    core = IngestCore(FormRegistry(builtin_forms() + [second]))
    seq = 1
    for wave, form in (("1", first), ("2", second)):
        answers = [interview(form, partners, [tie(p, alters, partner_name=NEW.get(p))
                                              for p, alters in passes], respondent_org=who, wave=wave)
                   for who, partners, passes in INTERVIEWS[wave]]
        send(core, web.store, form, HANDHELD, *answers, at=1_796_000_000 + 86_400 * int(wave), first_seq=seq)
        seq += len(answers)
    return web


def pairs_of(items: list[dict]) -> list[tuple]:
    return [(p["respondent_org"], p["org_a"], p["name_a"], p["org_b"], p["name_b"], p["tied"]) for p in items]


def test_alter_pairs_of_a_wave_are_that_waves_pairs_and_the_waves_add_up(interview_waves):
    every, totals = every_page(interview_waves, "/api/alter-pairs")
    assert set(totals) == {sum(len(p) for p in PAIRS.values())}
    assert pairs_of(every) == PAIRS["1"] + PAIRS["2"]
    for wave, pairs in PAIRS.items():
        items, totals = every_page(interview_waves, f"/api/alter-pairs?wave={wave}")
        assert pairs_of(items) == pairs and set(totals) == {len(pairs)}
        assert {p["wave"] for p in items} == {wave} and {p["device"] for p in items} == {HANDHELD}
    first = every[0]
    assert (first["respondent_name"], first["respondent_actor_type"], first["actor_type_a"], first["actor_type_b"],
            first["pass_a"], first["pass_b"]) == ("Daeil Precision", "sme", "large_firm", "startup", 1, 2)
    assert (every[1]["actor_type_b"], every[1]["pass_b"]) == (None, 3)  # not on the roster


def test_alter_pairs_take_the_other_filters_with_the_wave(interview_waves):
    def get(query):
        return pairs_of(interview_waves.get(f"/api/alter-pairs?{query}", "analyst").json()["items"])

    # partner_actor_type: a partner of that type on either side
    assert get("partner_actor_type=large_firm") == PAIRS["1"][:2]
    assert get("wave=2&partner_actor_type=sme") == PAIRS["2"]
    assert get("wave=1&respondent=103") == [PAIRS["1"][3]]
    assert get("actor_type=startup") == [PAIRS["1"][3]]  # 103, the respondent, is a start-up
    assert get("wave=2&region=Gyeongbuk") == PAIRS["2"] and get("region=Daegu") == [PAIRS["1"][3]]
    assert get("wave=2&actor_type=gri") == []  # a wave that exists: an empty page
    body = interview_waves.get("/api/alter-pairs?wave=3", "analyst").json()
    assert body == {"error": "no alter pair belongs to survey wave '3'",
                    "hint": "wave is one of: 1, 2; leave it out for every wave"}
    assert interview_waves.get("/api/alter-pairs", "viewer").status_code == 403
