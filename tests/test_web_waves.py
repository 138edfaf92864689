"""The network's survey-wave filter, without a browser: the page and ``/api/estimates`` keep the ties some
interview report of that wave names (``tie_reports.wave``), and the page offers the waves present.

Two later versions of the built-in partner interview are published with a ``wave`` setting (as a
project publishes a form per wave), reports stored on each through the real ingest core, and the
composite recomputed over every report."""
from __future__ import annotations

import copy
import json
import os
import re


from tiesense import estimates, wire
from tiesense.forms import FormRegistry, builtin_forms
from tiesense.ingest import IngestCore, Message
from tiesense.web.pages.network import unpacked

# (version, wave, reports as (respondent, partner)); the web template's 16 reports have no wave
WAVES = [("2026120101", "1", [(1, 2), (3, 4), (1, 7)]),
         ("2026120201", "2", [(1, 2), (3, 9)])]


def store_waves(web):
    base = next(f for f in builtin_forms() if f["id"] == "fi_partner")
    forms = []
    for version, wave, _ in WAVES:
        form = copy.deepcopy(base)
        form["version"], form["wave"] = version, wave
        web.store.publish_form(form)
        forms.append(form)
    core = IngestCore(FormRegistry(builtin_forms() + forms))
    seq = 0
    for version, wave, reports in WAVES:
        records = []
        for r, p in reports:
            seq += 1
            records.append(wire.make_record("handheld-02", seq, "fi_partner", version, f"2026-12-0{wave}T10:00:00Z",
                                            f"2026-12-0{wave}T10:20:00Z",
                                            {"respondent_org": r, "partner_org": p, "tie_types": ["knowledge"],
                                             "frequency": 3, "closeness": 3, "scope": "same_park"},
                                            wire.new_instance_id(os.urandom)))
        report = core.process(web.store, [Message(wire.topic_records("handheld-02"),
                                                  wire.encode_batch("handheld-02", records), 1_795_000_000.0)])
        assert report.stored == len(reports)
    estimates.recompute(web.store, n_replicates=10)


def dyads(reports) -> set[tuple[int, int]]:
    return {(min(r, p), max(r, p)) for r, p in reports}


def shown(page: str) -> set[tuple[int, int]]:
    data = json.loads(re.search(r'<script id="page-data" type="application/json">(.*?)</script>', page, re.S)[1])
    codes = data["nodes"]["code"]
    u, v = (unpacked(data["edges"][k], "<i4").tolist() for k in ("u", "v"))
    return {(min(codes[a], codes[b]), max(codes[a], codes[b])) for a, b in zip(u, v)}


def test_a_wave_keeps_the_ties_reported_in_it_on_the_page_and_in_the_api(web):
    store_waves(web)
    every = shown(web.get("/network", "analyst").text)
    assert dyads(WAVES[0][2] + WAVES[1][2]) <= every
    for _, wave, reports in WAVES:
        page = web.get(f"/network?wave={wave}&tie_type=&scope=", "analyst").text
        assert shown(page) == dyads(reports) != every
        assert f"{len({n for d in dyads(reports) for n in d})} organisations, {len(dyads(reports))} ties shown" in page
        assert f"<option selected>{wave}</option>" in page and "interviews of that wave" in page
        api = web.get(f"/api/estimates?estimator=composite&wave={wave}&limit=1000", "analyst").json()
        assert {(r["u"], r["v"]) for r in api["items"]} == dyads(reports) and api["total"] == len(dyads(reports))
    # the waves present are the choices; no wave (the template's reports) is "any", not a choice
    page = web.get("/network", "analyst").text
    data = json.loads(re.search(r'<script id="page-data" type="application/json">(.*?)</script>', page, re.S)[1])
    assert data["waves"] == ["1", "2"]
    assert re.search(r'<select name="wave"><option value="">any</option><option>1</option><option>2</option>', page)
    # wave and tie type together: one report of wave 2 must name both; none names "support"
    assert shown(web.get("/network?wave=2&tie_type=support", "analyst").text) == set()
    assert shown(web.get("/network?wave=2&tie_type=knowledge", "analyst").text) == dyads(WAVES[1][2])
    # a wave nobody reported in keeps nothing; the backbone path filters by wave too
    assert web.get("/api/estimates?estimator=composite&wave=9", "analyst").json()["total"] == 0
    backbone = web.get("/api/estimates?estimator=composite&backbone=1&wave=2&limit=1000", "analyst").json()
    assert {(r["u"], r["v"]) for r in backbone["items"]} <= dyads(WAVES[1][2])
    assert all("alpha" in r for r in backbone["items"])


def test_the_wave_filter_needs_an_analyst(web):
    store_waves(web)
    assert web.get("/api/estimates?wave=1", "viewer").status_code == 403
    viewer = web.get("/network?wave=1", "viewer")
    assert viewer.status_code == 200 and "page-data" not in viewer.text  # cluster measures only


def test_an_organisation_that_answered_the_new_interview_is_a_respondent_on_the_network_and_in_exports(web):
    # respondents come from the rows of both instruments: 102 answered fi_interview (the handheld's)
    import os

    from tiesense import wire
    from tiesense.forms import builtin_form
    from tiesense.ingest import IngestCore, Message
    from tiesense.store import rows
    from tiesense.web.pages.network_query import respondent_codes

    form = builtin_form("fi_interview")
    loop = next(q for q in form["questions"] if q["name"] == "partner_loop")
    one = {"partner": "101", "tie_types": ["traded"], "frequency": "4", "formality": "formal",
           "channel": "face_to_face", "closeness": "3", "trust": "4", "initiated": "we",
           "knowledge_flow": "both_ways", "importance": "3", "scope": "same_park", "alters_tied": ["nobody"]}
    answers = {"consent": "yes", "respondent_org": "102", "size_band": "small", "sector": "machinery",
               "rd_activity": "rd_unit", "partners": ["101"],
               "partner_loop": [[one.get(n) for n in wire.answer_fields(loop)]]}
    rec = wire.make_record("handheld-01", 1, "fi_interview", form["version"], "2026-11-30T10:00:00Z",
                           "2026-11-30T10:20:00Z", answers, wire.new_instance_id(os.urandom))
    before = set(web.store.read(rows.respondent_orgs))
    assert 102 not in before
    IngestCore().process(web.store, [Message(wire.topic_records("handheld-01"),
                                             wire.encode_batch("handheld-01", [rec]), 0.0)])
    assert set(web.store.read(rows.respondent_orgs)) == before | {102}
    assert 102 in web.store.read(respondent_codes).tolist()
