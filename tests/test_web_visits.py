"""The overview and the visit aggregates read the analysable ``visits`` rows, so both versions of the visit
form count: the built-in 2026112401 (satisfaction a range) and the shipped XLSForm 2026113001 (satisfaction a
labelled select of "1".."5", new contact, purpose...), published and stored through the real ingest core."""
from __future__ import annotations

import os

import pytest

from tiesense import wire
from tiesense.forms import FormRegistry, builtin_forms
from tiesense.ingest import IngestCore, Message
from tiesense.xlsform.instruments import compile_instrument

from .conftest import _web_records

# visits on the new form: (facility, satisfaction answered, new contact answered)
NEW_VISITS = [("shared_lab", "5", "yes"), ("shared_lab", "5", "yes"), ("shared_lab", "4", "no"),
              ("shared_lab", "5", "yes"), ("shared_lab", "3", "not_sure"), ("meeting_room", "2", "yes")]


@pytest.fixture(scope="module")
def visit_form():
    return compile_instrument("tp_visit").form


def store_new_visits(web, form, device="kiosk-02"):
    """Publish the new visit form (as the host does) and store NEW_VISITS on it through the ingest core."""
    web.store.publish_form(form)
    records = [wire.make_record(device, i + 1, "tp_visit", form["version"], f"2026-11-30T{10 + i:02d}:00:00Z",
                                f"2026-11-30T{10 + i:02d}:01:00Z",
                                {"wave": "1", "facility": facility, "visitor_org": "101", "purpose": "use_facility",
                                 "met": ["nobody"], "new_contact": contact, "satisfaction": satisfaction},
                                wire.new_instance_id(os.urandom))
               for i, (facility, satisfaction, contact) in enumerate(NEW_VISITS)]
    core = IngestCore(forms=FormRegistry(builtin_forms() + [form]))
    report = core.process(web.store, [Message(wire.topic_records(device), wire.encode_batch(device, records),
                                              1_795_000_000.0)])
    assert report.stored == len(NEW_VISITS) and report.quarantined == 0, web.store.quarantined()[-1]["reason"]


def expected():
    """Per facility, from the raw answers of both versions: visits, mean satisfaction, new contacts, asked."""
    old, _ = _web_records()
    out: dict[str, list] = {}
    for r in old:
        out.setdefault(r["answers"]["facility"], []).append((int(r["answers"]["satisfaction"]), None))
    for facility, satisfaction, contact in NEW_VISITS:
        out.setdefault(facility, []).append((int(satisfaction), contact))
    return {f: {"visits": len(v), "mean": sum(s for s, _ in v) / len(v),
                "new_contacts": sum(c == "yes" for _, c in v), "contact_asked": sum(c is not None for _, c in v)}
            for f, v in out.items()}


def test_the_published_visit_form_breaks_nothing_and_both_versions_are_in_every_cell(web, visit_form):
    store_new_visits(web, visit_form)
    want = expected()
    analyst = web.get("/overview/data.json", "analyst")
    assert analyst.status_code == 200, analyst.text
    data = analyst.json()
    got = {c["key"]: c for c in data["satisfaction"]}
    assert set(got) == set(want) == {"shared_lab", "cafeteria", "meeting_room"}
    for facility, w in want.items():
        assert got[facility]["visits"] == w["visits"] and got[facility]["mean"] == pytest.approx(w["mean"])
        assert (got[facility]["new_contacts"], got[facility]["contact_asked"]) == (w["new_contacts"],
                                                                                    w["contact_asked"])
    # the older version never asked: its cafeteria visits have no new-contact answer
    assert got["cafeteria"]["contact_asked"] == 0
    made = sum(w["new_contacts"] for w in want.values())
    asked = sum(w["contact_asked"] for w in want.values())
    assert data["new_contacts"] == {"made": made, "asked": asked, "share": round(made / asked, 4)}
    assert data["visits"] == sum(w["visits"] for w in want.values())
    assert sum(c["visits"] for c in data["heatmap"]) == data["visits"]
    assert {c["key"] for c in data["per_kiosk"]} == {"kiosk-01", "kiosk-02"}
    # the API: the same cells, and cells by form version show each version's own mean
    api = web.get("/api/aggregates/visits?by=facility&value=satisfaction", "analyst")
    assert api.status_code == 200, api.text
    assert {c["key"]: (c["visits"], c["new_contacts"]) for c in api.json()["items"]} == \
        {f: (w["visits"], w["new_contacts"]) for f, w in want.items()}
    by_version = {c["key"]: c for c in web.get("/api/aggregates/visits?by=form_version", "analyst").json()["items"]}
    assert set(by_version) == {"2026112401", visit_form["version"]}
    assert by_version[visit_form["version"]]["mean"] == pytest.approx(
        sum(int(s) for _, s, _ in NEW_VISITS) / len(NEW_VISITS))
    # the filters apply to the rows: one kiosk, one form version, a period
    kiosk = web.get("/overview/data.json?device=kiosk-02", "analyst").json()
    assert kiosk["visits"] == len(NEW_VISITS) and kiosk["new_contacts"]["asked"] == len(NEW_VISITS)
    old = web.get("/overview/data.json?form_version=2026112401", "analyst").json()
    assert old["visits"] == 10 and old["new_contacts"] == {"made": 0, "asked": 0, "share": None}
    late = web.get("/overview/data.json?since=2026-11-30T12:00:00Z", "analyst").json()
    assert late["visits"] == len(NEW_VISITS) - 2  # the new visits ended 10:01 to 15:01
    # the page draws the new-contacts card
    page = web.get("/overview", "analyst").text
    assert 'id="chart-contacts"' in page and f"{made} visits led to a new contact, of {asked} asked" in page


def test_a_viewer_sees_new_contacts_only_over_the_cells_of_k_visits(web, visit_form):
    store_new_visits(web, visit_form)
    want = expected()
    data = web.get("/overview/data.json", "viewer").json()
    got = {c["key"]: c for c in data["satisfaction"]}
    shown = [f for f, w in want.items() if w["visits"] >= data["k"]]
    assert shown == ["shared_lab"]  # cafeteria (3 visits) and meeting_room (1) are under k = 5
    assert got["meeting_room"]["suppressed"] and got["meeting_room"]["new_contacts"] is None
    assert data["new_contacts"]["made"] == want["shared_lab"]["new_contacts"]
    assert data["new_contacts"]["asked"] == want["shared_lab"]["contact_asked"]
    api = web.get("/api/aggregates/visits?by=new_contact", "viewer").json()
    cells = {c["key"]: c for c in api["items"]}
    assert cells[None]["visits"] == 10  # the older version's visits: not asked
    assert cells["yes"]["suppressed"]  # 4 visits said yes: under k for a viewer
    # a question only the newer version has is a key; an unknown one is refused with the keys to use
    assert web.get("/api/aggregates/visits?by=purpose", "viewer").status_code == 200
    bad = web.get("/api/aggregates/visits?by=facility&value=purpose", "viewer")
    assert bad.status_code == 422 and "satisfaction" in bad.json()["hint"]
