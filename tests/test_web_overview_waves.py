"""The overview's survey-wave filter and by-wave comparison, and ``wave`` on ``/api/aggregates/visits``,
without a browser.

As a project runs a second wave: the shipped XLSForm visit form (wave 1) is published, then a later version
whose ``wave`` constant is 2; visits on each, and a kiosk's presence records around them, go through the real
ingest core onto the web template's database (whose 10 visits, on the built-in form, have no wave)."""
from __future__ import annotations

import copy
import os
import re

import pytest

from tiesense import wire
from tiesense.forms import FormRegistry, builtin_forms
from tiesense.ingest import IngestCore, Message
from tiesense.xlsform.instruments import compile_instrument

DEVICE = "kiosk-02"
# per wave: (form version, wave constant, visits as (end, facility, satisfaction, new contact))
WAVES = {
    "1": ("2026113001", 1000, [(f"2026-11-30T{8 + i:02d}:01:00Z", "shared_lab" if i < 4 else "meeting_room",
                                str(1 + (i * 3) % 5), "yes" if i % 2 else "no") for i in range(6)]),
    "2": ("2026120201", 2000, [(f"2026-12-02T{10 + i:02d}:01:00Z", "cafeteria", "5", "yes") for i in range(3)]),
}
TEMPLATE_VISITS = 10  # conftest's _web_records: no wave
# presence records of DEVICE: (hour start, approaches, completed), some hours outside either wave's visits
PRESENCE = ([(f"2026-11-30T{h:02d}", 4 + h % 3, 1 + h % 2) for h in range(7, 16)]
            + [(f"2026-12-02T{h:02d}", 7, 2) for h in range(9, 14)])


def wave_forms() -> dict[str, dict]:
    """The shipped visit form (wave 1) and the same form republished for wave 2 (a new version, wave 2)."""
    first = compile_instrument("tp_visit").form
    out = {}
    for wave, (version, constant, _) in WAVES.items():
        form = copy.deepcopy(first)
        form["version"] = version
        for q in form["questions"]:
            if q["name"] == "wave":
                q["calculation"] = [constant]
        out[wave] = form
    return out


def store_waves(web, waves=WAVES, presence=PRESENCE) -> None:
    forms = wave_forms()
    for form in forms.values():
        web.store.publish_form(form)
    records, seq = [], 0
    for wave, (version, _, visits) in waves.items():
        for end, facility, satisfaction, contact in visits:
            seq += 1
            start = end.replace(":01:00Z", ":00:00Z")
            records.append(wire.make_record(DEVICE, seq, "tp_visit", version, start, end,
                                            {"wave": wave, "facility": facility, "visitor_org": "101",
                                             "purpose": "use_facility", "met": ["nobody"], "new_contact": contact,
                                             "satisfaction": satisfaction}, wire.new_instance_id(os.urandom)))
    core = IngestCore(forms=FormRegistry(builtin_forms() + list(forms.values())))
    report = core.process(web.store, [Message(wire.topic_records(DEVICE), wire.encode_batch(DEVICE, records),
                                              1_795_000_000.0)])
    assert report.stored == len(records) and report.quarantined == 0
    if not presence:
        return
    parts = []
    for hour, approaches, completed in presence:
        t = _epoch(hour + ":15:00Z")
        rec = wire.make_record_v2("tp_presence", "2026113001", t, 900, 1, 60, wire.CLOCK_NTP,
                                  [900, approaches, 15 * approaches, completed, completed, 0],
                                  wire.new_record_id(os.urandom))
        parts.append(wire.sign_record(rec, len(parts) + 1, DEVICE, None))
    batch = wire.encode_batch_from_encoded(DEVICE, parts, wire.V2)
    stored = IngestCore().process(web.store, [Message(wire.topic_records(DEVICE), batch, 1_796_500_000.0)]).stored
    assert stored == len(parts), web.store.quarantined()[-1]["reason"]


def _epoch(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def expected(wave: str) -> dict:
    _, _, visits = WAVES[wave]
    sat = [int(s) for _, _, s, _ in visits]
    return {"visits": len(visits), "mean": sum(sat) / len(sat), "new_contacts": sum(c == "yes" for *_, c in visits),
            "contact_asked": len(visits)}


def presence_in(since: str, until: str) -> tuple[int, int]:
    """Approaches and completed surveys of the presence records that end in ``[since, until)``."""
    inside = [(a, c) for hour, a, c in PRESENCE if since <= hour + ":30:00Z" < until]
    return sum(a for a, _ in inside), sum(c for _, c in inside)


@pytest.fixture
def waves(web):
    store_waves(web)
    return web


def test_the_overview_compares_the_waves_and_a_wave_keeps_every_visit_chart_to_it(waves):
    every = waves.get("/overview/data.json", "analyst").json()
    assert every["waves"] == ["1", "2"] and every["wave"] is None and every["compare_waves"] is True
    by = {c["key"]: c for c in every["by_wave"]}
    assert [c["key"] for c in every["by_wave"]] == ["1", "2", None]  # visits without a wave come last
    assert by[None]["visits"] == TEMPLATE_VISITS
    for wave in WAVES:
        want = expected(wave)
        assert {k: by[wave][k] for k in want} == pytest.approx(want)
    assert by["1"]["period"] == ["2026-11-30T08:00:00Z", "2026-11-30T14:00:00Z"]
    assert by["2"]["period"] == ["2026-12-02T10:00:00Z", "2026-12-02T13:00:00Z"]
    # the two periods do not overlap: each wave's response rate is the presence records' over its period
    for wave in WAVES:
        approaches, completed = presence_in(*by[wave]["period"])
        assert by[wave]["rate_attributed"] and by[wave]["approaches"] == approaches > 0
        assert by[wave]["response_rate"] == pytest.approx(round(completed / approaches, 4))
    assert by[None]["response_rate"] is None and not by[None]["rate_attributed"]

    totals = {}
    for wave in WAVES:
        one = waves.get(f"/overview/data.json?wave={wave}", "analyst").json()
        want = expected(wave)
        assert one["wave"] == wave and one["by_wave"] == every["by_wave"]  # the comparison is not narrowed
        assert sum(c["visits"] for c in one["heatmap"]) == want["visits"] == one["visits"]
        assert sum(c["visits"] for c in one["weekly"]) == want["visits"]
        assert {c["key"] for c in one["satisfaction"]} == {f for _, f, _, _ in WAVES[wave][2]}
        assert one["new_contacts"]["made"] == want["new_contacts"]
        assert [c["key"] for c in one["per_kiosk"]] == [DEVICE]
        # footfall and the kiosks over the hours of the wave's visits only
        since, until = by[wave]["period"]
        assert one["footfall"]["hour"] and all(since <= h < until for h in one["footfall"]["hour"])
        approaches, completed = presence_in(since, until)
        assert sum(one["footfall"]["approaches"]) == approaches
        kiosk = next(k for k in one["kiosks"] if k["device"] == DEVICE)
        assert (kiosk["approaches"], kiosk["completed"]) == (approaches, completed)
        totals[wave] = sum(one["footfall"]["approaches"])
    assert sum(c["visits"] for c in every["heatmap"]) == TEMPLATE_VISITS + sum(len(w[2]) for w in WAVES.values())
    assert sum(every["footfall"]["approaches"]) > sum(totals.values())  # hours outside both waves too
    # a wave within a period: both hold (wave 1's visits that ended from 11:00)
    late = waves.get("/overview/data.json?wave=1&since=2026-11-30T11:00:00Z", "analyst").json()
    assert sum(c["visits"] for c in late["heatmap"]) == 3
    assert min(late["footfall"]["hour"]) >= "2026-11-30T11:00:00Z"


def test_a_viewer_gets_wave_cells_only_from_k_visits(waves):
    viewer = waves.get("/overview/data.json", "viewer").json()
    by = {c["key"]: c for c in viewer["by_wave"]}
    assert viewer["k"] == 5
    # wave 2 has 3 visits (< k): no number and no period (its visits' times would show)
    assert by["2"]["suppressed"] and by["2"]["visits"] is None and by["2"]["mean"] is None
    assert by["2"]["period"] is None and by["2"]["new_contacts"] is None
    assert not by["1"]["suppressed"] and by["1"]["visits"] == 6 and by["1"]["period"] is not None
    assert all(c["response_rate"] is None and c["approaches"] is None for c in viewer["by_wave"])  # analysts' only
    assert viewer["suppressed"] >= 1
    small = waves.get("/overview/data.json?wave=2", "viewer").json()
    assert small["satisfaction"] and all(c["suppressed"] and c["visits"] is None for c in small["satisfaction"])
    assert small["footfall"]["hour"] == []  # its period is hidden, so is the footfall over it
    assert small["new_contacts"] == {"made": 0, "asked": 0, "share": None}


def test_overlapping_waves_get_no_response_rate(web):
    overlapping = {"1": WAVES["1"], "2": (WAVES["2"][0], WAVES["2"][1],
                                          [("2026-11-30T10:31:00Z", "cafeteria", "4", "no")])}
    store_waves(web, overlapping)
    data = web.get("/overview/data.json", "analyst").json()
    assert data["compare_waves"] and all(not c["rate_attributed"] and c["response_rate"] is None
                                         for c in data["by_wave"])


def test_one_wave_is_not_compared(web):
    store_waves(web, {"1": WAVES["1"]}, presence=[])
    data = web.get("/overview/data.json", "analyst").json()
    assert data["waves"] == ["1"] and data["compare_waves"] is False
    # no presence record in the wave's hours: no count, rather than 0 approaches
    one = next(c for c in data["by_wave"] if c["key"] == "1")
    assert one["rate_attributed"] and one["approaches"] is None and one["response_rate"] is None
    page = web.get("/overview", "analyst").text
    assert re.search(r'<section class="card wide" id="card-waves"[^>]* hidden>', page)


def test_the_overview_page_offers_the_waves_in_both_languages(waves):
    page = waves.get("/overview?wave=2&site=&since=", "analyst").text
    assert '<select name="wave"><option value="">any</option><option>1</option><option selected>2</option>' in page
    assert "Visits of survey wave 2 only" in page
    assert re.search(r'<section class="card wide" id="card-waves" data-none="no wave" data-axis="Survey wave">', page)
    assert "Survey wave" in page and "response rate" in page
    ko = waves.get("/overview?lang=ko&wave=1", "analyst").text
    assert 'data-none="차수 없음"' in ko and "조사 차수 1의 방문만" in ko and "조사 차수별 방문" in ko
    # an empty wave (the form's "any") is every wave
    assert waves.get("/overview/data.json?wave=", "analyst").json()["wave"] is None


def test_the_visit_aggregates_take_a_wave_and_refuse_an_unknown_one(waves):
    for wave in WAVES:
        api = waves.get(f"/api/aggregates/visits?by=facility&wave={wave}", "analyst").json()
        page = waves.get(f"/overview/data.json?wave={wave}", "analyst").json()
        assert api["items"] == page["satisfaction"] and sum(c["visits"] for c in api["items"]) == len(WAVES[wave][2])
    viewer = waves.get("/api/aggregates/visits?by=facility&wave=2", "viewer").json()
    assert viewer["suppressed"] == 1 and viewer["items"][0]["visits"] is None
    # paging over a wave's cells as over any (wave 1 has two facilities)
    first = waves.get("/api/aggregates/visits?by=facility&wave=1&limit=1", "analyst").json()
    assert first["total"] == 2 and len(first["items"]) == 1
    for url in ("/api/aggregates/visits?wave=9", "/overview/data.json?wave=9"):
        bad = waves.get(url, "analyst")
        assert bad.status_code == 422, url
        assert bad.json()["error"] == "no visit belongs to survey wave '9'"
        assert bad.json()["hint"].startswith("wave is one of: 1, 2;")
    # the viewers' aggregate download counts the same visits rows
    download = waves.get("/api/exports/aggregates/visits?by=facility&wave=1&format=json", "viewer").json()
    assert download["cells"] == waves.get("/api/aggregates/visits?by=facility&wave=1", "viewer").json()["items"]
    assert waves.get("/api/exports/aggregates/visits?wave=9", "viewer").status_code == 422
    ties = waves.get("/api/exports/aggregates/ties?wave=1", "viewer")
    assert ties.status_code == 422 and ties.json()["error"] == "wave filters the visit aggregates only"
    empty = waves.get("/api/aggregates/visits?wave=", "analyst")
    assert empty.status_code == 422 and "wave" in empty.json()["error"]
    spec = waves.get("/openapi.json").json()["paths"]["/api/aggregates/visits"]["get"]["parameters"]
    wave = next(p for p in spec if p["name"] == "wave")
    assert "survey wave" in wave["description"] and wave["in"] == "query"


def test_a_database_whose_visits_have_no_wave_names_none(web):
    bad = web.get("/api/aggregates/visits?wave=1", "analyst")
    assert bad.status_code == 422 and "no visit has a wave yet" in bad.json()["hint"]
    data = web.get("/overview/data.json", "analyst").json()
    assert data["waves"] == [] and not data["compare_waves"] and [c["key"] for c in data["by_wave"]] == [None]
