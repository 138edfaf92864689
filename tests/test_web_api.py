"""The web API over a real database of ingested records: k-anonymity, pagination, the roster, forms,
quarantine and its re-ingest, estimates, devices, and errors that say what to do."""
from __future__ import annotations

import base64

from tiesense import estimates, wire
from tiesense.forms import builtin_form
from tiesense.ingest import IngestCore, Message


def cells(body):
    return {c["key"]: c for c in body["items"]}


def test_a_cell_of_four_respondents_is_hidden_from_a_viewer_and_shown_to_an_analyst(web):
    url = "/api/aggregates/ties?by=respondent_actor_type"
    viewer = web.get(url, "viewer").json()
    assert viewer["k"] == 5 and viewer["suppressed"] == 1
    uni = cells(viewer)["university"]
    assert uni["suppressed"] and uni["respondents"] is None and uni["reports"] is None
    sme = cells(viewer)["sme"]
    assert not sme["suppressed"] and (sme["respondents"], sme["reports"]) == (6, 12)
    analyst = web.get(url, "analyst").json()
    assert analyst["k"] is None and cells(analyst)["university"]["respondents"] == 4
    # the same rule in the viewer's export
    body = web.get("/api/exports/aggregates/ties?by=respondent_actor_type&format=json", "viewer").json()
    assert {c["key"]: c["suppressed"] for c in body["cells"]} == {"sme": False, "university": True}




def test_visit_cells_count_each_visit_as_a_respondent(web):
    body = web.get("/api/aggregates/visits?by=facility", "viewer").json()
    got = cells(body)
    assert got["shared_lab"]["visits"] == 7 and not got["shared_lab"]["suppressed"]
    assert got["cafeteria"]["suppressed"] and got["cafeteria"]["visits"] is None
    r = web.get("/api/aggregates/visits?by=colour", "viewer")
    assert r.status_code == 422 and "facility" in r.json()["hint"]


def test_pages_have_a_total_and_a_next_link_that_walks_every_row(web):
    seen, url = [], "/api/visits?limit=3"
    while url:
        body = web.get(url, "analyst").json()
        assert body["total"] == 10 and body["limit"] == 3
        seen += [v["instance_id"] for v in body["items"]]
        url = body["next"]
    assert len(seen) == len(set(seen)) == 10
    assert web.get("/api/ties?limit=5&offset=15", "analyst").json()["items"].__len__() == 1
    r = web.get("/api/ties?limit=0", "analyst")
    assert r.status_code == 422 and r.json()["error"].startswith("invalid request: limit")


def test_ties_and_respondents_carry_the_roster(web):
    body = web.get("/api/ties?actor_type=university", "analyst").json()
    assert body["total"] == 4
    row = body["items"][0]
    assert row["respondent_actor_type"] == "university" and row["partner_name"] == "Gumi Techno Park"
    assert isinstance(row["tie_types"], list)
    resp = web.get("/api/respondents", "analyst").json()
    assert resp["total"] == 10 and resp["items"][0] == dict(resp["items"][0], code=1, name="SME 1", reports=2)


def test_roster_import_makes_a_version_and_says_what_is_wrong(web):
    csv_text = "code,name,actor_type\n1,SME One,sme\n7,Kyungpook Univ,university\n"
    r = web.client.post("/api/roster", content=csv_text, headers={**web.as_("admin"), "Content-Type": "text/csv"})
    assert r.status_code == 201 and r.json() == {"version": 2, "created": True, "organisations": 2}
    up = web.client.post("/api/roster", files={"file": ("roster.csv", csv_text.encode(), "text/csv")},
                         headers=web.as_("admin"))
    assert up.json() == {"version": 2, "created": False, "organisations": 2}
    assert web.get("/api/organisations", "analyst").json()["total"] == 2
    assert web.get("/api/organisations?version=1&actor_type=sme", "analyst").json()["total"] == 6
    one = web.get("/api/organisations/7", "analyst").json()
    assert one["current"]["name"] == "Kyungpook Univ" and len(one["history"]) == 2
    from .test_web_store import workbook

    xlsx = workbook([["code", "name", "actor_type"], [1, "SME One", "sme"], [7, "Kyungpook Univ", "university"],
                     [9, "Daegu TP", "technopark"]])
    sheet = web.client.post("/api/roster", content=xlsx, headers={
        **web.as_("admin"), "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    assert sheet.status_code == 201 and sheet.json() == {"version": 3, "created": True, "organisations": 3}
    uploaded = web.client.post("/api/roster", files={"file": ("park.xlsx", xlsx, "application/octet-stream")},
                               headers=web.as_("admin"))
    assert uploaded.json() == {"version": 3, "created": False, "organisations": 3}
    bad = web.client.post("/api/roster", content="code,name\n1,x\n",
                          headers={**web.as_("admin"), "Content-Type": "text/csv"})
    assert bad.status_code == 422 and "actor_type" in bad.json()["error"]
    typo = web.client.post("/api/roster", content="code,name,actor_type\n1,SME One,SME\n",
                           headers={**web.as_("admin"), "Content-Type": "text/csv"})
    assert typo.status_code == 422 and "line 2: actor type 'SME'" in typo.json()["error"]
    assert "sme" in typo.json()["error"] and web.get("/api/roster/versions", "analyst").json()["total"] == 3
    assert web.client.post("/api/roster", content=csv_text, headers=web.as_("analyst")).status_code == 403


def newer_visit_form():
    form = dict(builtin_form("tp_visit"), version="2026120101")
    form["questions"] = form["questions"] + [{"name": "new_contact", "type": "select_one", "required": False,
                                              "choices": [{"name": "yes"}, {"name": "no"}]}]
    return form


def test_a_record_of_an_unpublished_form_version_is_stored_by_reingest_once_published(web):
    rec = wire.make_record("kiosk-02", 1, "tp_visit", "2026120101", "2026-12-01T09:00:00Z", "2026-12-01T09:01:00Z",
                           {"facility": "training", "org_type": "sme", "satisfaction": 5, "new_contact": "yes"},
                           "uuid:00000000-0000-4000-8000-000000000001")
    payload = wire.encode_batch("kiosk-02", [rec])
    IngestCore().process(web.store, [Message(wire.topic_records("kiosk-02"), payload, 1_795_000_000.0)])
    (q,) = web.get("/api/quarantine", "admin").json()["items"]
    assert "unknown version" in q["reason"]
    one = web.get(f"/api/quarantine/{q['id']}", "admin").json()
    assert base64.b64decode(one["raw_base64"]) == payload and not one["truncated"]
    assert web.get(f"/api/quarantine/{q['id']}/raw", "admin").content == payload
    still = web.client.post(f"/api/quarantine/{q['id']}/reingest", headers=web.as_("admin"))
    assert still.status_code == 409 and "unknown version" in still.json()["error"]
    published = web.client.post("/api/forms", json=newer_visit_form(), headers=web.as_("admin"))
    assert published.status_code == 201
    again = web.client.post("/api/forms", json=newer_visit_form(), headers=web.as_("admin"))
    assert again.status_code == 200 and again.json()["created"] is False
    changed = dict(newer_visit_form(), questions=newer_visit_form()["questions"][:2])
    assert web.client.post("/api/forms", json=changed, headers=web.as_("admin")).status_code == 409
    retyped = dict(newer_visit_form(), version="2026120201")
    retyped["questions"] = [dict(q, type="integer") if q["name"] == "new_contact" else q for q in retyped["questions"]]
    refused = web.client.post("/api/forms", json=retyped, headers=web.as_("admin"))
    assert refused.status_code == 409 and "makes 'new_contact' an integer" in refused.json()["error"]
    older = web.client.post("/api/forms", json=dict(newer_visit_form(), version="2026113099"), headers=web.as_("admin"))
    assert older.status_code == 409 and "not newer than the published version '2026120101'" in older.json()["error"]
    done = web.client.post(f"/api/quarantine/{q['id']}/reingest", headers=web.as_("admin"))
    assert done.status_code == 200 and done.json()["status"] == "stored"
    assert web.store.record(rec["id"]) == rec
    assert web.get("/api/quarantine", "admin").json()["total"] == 0
    assert web.client.post(f"/api/quarantine/{q['id']}/reingest", headers=web.as_("admin")).status_code == 404
    # the visit table now spans both versions: the new question is a column, empty for the old records
    visits = web.get("/api/visits?limit=100", "analyst").json()["items"]
    assert [v["new_contact"] for v in visits].count("yes") == 1 and visits[0]["new_contact"] is None


def test_conflicts_show_both_versions_and_what_differs(web):
    rec = web.store.records("kiosk-01")[0]
    changed = dict(rec, answers=dict(rec["answers"], satisfaction=1 if rec["answers"]["satisfaction"] != 1 else 2))
    IngestCore().process(web.store, [Message(wire.topic_records("kiosk-01"),
                                             wire.encode_batch("kiosk-01", [changed]), 1_795_000_000.0)])
    (c,) = web.get("/api/conflicts", "admin").json()["items"]
    one = web.get(f"/api/conflicts/{c['id']}", "admin").json()
    assert one["differs"] == ["satisfaction"] and one["stored"] == rec and one["record"] == changed


def test_estimates_with_intervals_and_the_backbone(web):
    assert web.get("/api/estimates?estimator=composite", "analyst").json()["total"] == 0
    n = estimates.recompute(web.store, n_replicates=20)
    estimates.recompute_measures(web.store, n_replicates=20)
    body = web.get("/api/estimates?estimator=composite&limit=5", "analyst").json()
    assert body["total"] == n == 16 and len(body["items"]) == 5
    top = body["items"][0]
    assert top["low"] <= top["value"] <= top["high"] and top["u"] < top["v"]
    values = [r["value"] for r in body["items"]]
    assert values == sorted(values, reverse=True)
    backbone = web.get("/api/estimates?estimator=composite&backbone=1.0&limit=1000", "analyst").json()
    assert all(0 <= r["alpha"] < 1.0 for r in backbone["items"]) and backbone["total"] <= n
    assert web.get("/api/estimates?backbone=0.05", "analyst").status_code == 422
    measures = web.get("/api/measures/organisations?measure=strength", "analyst").json()
    assert measures["total"] == 12
    cluster = web.get("/api/measures/cluster", "viewer").json()["items"]
    assert cluster[0]["measure"] == "degree_centralization" and not cluster[0]["suppressed"]


def test_devices_show_the_last_will_and_alerts(web):
    status = wire.encode_status(True, fw="0.1.0", role="kiosk", queue=80, battery_mv=3100,
                                time="2021-01-01T00:00:10Z", approaches=20)
    IngestCore().process(web.store, [Message(wire.topic_status("kiosk-01"), status, 1_795_000_000.0)])
    dev = web.get("/api/devices/kiosk-01", "analyst").json()
    assert dev["response_rate"] == 0.5  # 10 records for 20 approaches
    assert {a["alert"] for a in dev["alerts"]} >= {"battery_low", "queue", "clock_unsynced"}
    IngestCore().process(web.store, [Message(wire.topic_status("kiosk-01"), wire.encode_status(False),
                                             1_795_000_100.0)])
    feed = web.get("/api/devices/alerts", "analyst").json()
    assert [a["alert"] for a in feed["items"]] == ["offline"] and feed["total"] == 1
    assert web.get("/api/devices", "analyst").json()["items"][0]["online"] is False
    assert web.get("/api/devices/nope", "analyst").json()["hint"].startswith("GET /api/devices")


def test_unknown_routes_and_records_answer_json_with_a_hint(web):
    r = web.get("/api/records/uuid:nope", "analyst")
    assert r.status_code == 404 and set(r.json()) == {"error", "hint"}
    r = web.get("/api/nothing-here", "analyst")
    assert r.status_code == 404 and "openapi" in r.json()["hint"]
    assert web.get("/api/records?form=tp_visit&limit=2", "analyst").json()["total"] == 10
