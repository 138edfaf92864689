"""The dashboards through FastAPI's TestClient: routing and login, roles (a viewer sees only k-suppressed
aggregates), the English/Korean catalogue and switch, fleet alerts and their feed, downloads, the live
event stream, and docs/dashboards.md listing every page. The browser tests are in test_web_pages_browser.py."""
from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path

import numpy as np

from tiesense import estimates, wire
from tiesense.ingest import IngestCore, Message
from tiesense.web.pages import ROUTERS
from tiesense.web.pages.i18n import MESSAGES
from tiesense.web.pages.network import unpacked

from .conftest import ROOT

PAGES = ("/overview", "/network", "/fleet", "/data")
HTML = {"Accept": "text/html"}


def page_paths() -> set[str]:
    return {r.path for router in ROUTERS for r in router.routes}


def status(web, device: str, **fields) -> None:
    payload = wire.encode_status(True, version=2, **fields)
    IngestCore().process(web.store, [Message(wire.topic_status(device), payload, 1_795_000_000.0)])


def login(web, name="ada"):
    r = web.client.post("/login", data={"name": name, "password": "a long password", "next": "/overview"},
                        follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/overview"


def test_every_page_sends_a_browser_without_a_session_to_the_login_and_back(web):
    for path in PAGES:
        r = web.client.get(path, headers=HTML, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/login?next=%2F{path[1:]}", path
        assert web.client.get(path).status_code == 401  # not a browser: the API's JSON error
    login(web)
    r = web.client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/overview"
    page = web.client.get("/overview")
    assert page.status_code == 200 and "Park overview" in page.text and "ada (analyst)" in page.text
    assert re.search(r'<script src="/assets/plotly(/overview)?\.js\?v=', page.text) and "cdn" not in page.text.lower()


def test_pages_are_html_not_api_routes(web):
    spec = web.client.get("/openapi.json").json()
    assert not set(spec["paths"]) & page_paths()


def test_plotly_js_is_served_from_the_installed_package(web):
    import plotly
    from plotly.offline import get_plotlyjs

    r = web.get("/assets/plotly.js", "viewer")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.content == get_plotlyjs().encode()  # the client undoes the gzip
    assert r.headers["content-encoding"] == "gzip" and plotly.__version__ in r.headers["etag"]
    assert web.get("/assets/plotly.js").status_code == 401
    assert web.get("/assets/nope.js", "viewer").status_code == 404


def test_the_catalogue_has_every_message_in_both_languages():
    assert set(MESSAGES["en"]) == set(MESSAGES["ko"])
    for key, text in MESSAGES["en"].items():  # the same placeholders; Korean word order may differ
        assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", MESSAGES["ko"][key])), key
    assert all(re.search(r"[\uac00-\ud7a3]", MESSAGES["ko"][k]) for k in ("nav.overview", "ov.heatmap", "fl.title"))


def test_the_language_switch_sticks_and_accept_language_chooses_first(web):
    login(web)
    assert "단지 개요" in web.client.get("/overview?lang=ko").text
    assert "Park overview" in web.client.get("/overview").text
    assert "단지 개요" in web.client.get("/overview", headers={"Accept-Language": "ko-KR,ko;q=0.9"}).text
    r = web.client.get("/lang/ko?next=%2Ffleet", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/fleet" and "tiesense_lang=ko" in r.headers["set-cookie"]
    fleet = web.client.get("/fleet").text
    assert "기기 현황" in fleet and '<html lang="ko">' in fleet
    assert web.client.get("/lang/en?next=//evil.example", follow_redirects=False).headers["location"] == "/overview"
    assert "Fleet" in web.client.get("/fleet").text


def test_a_viewer_sees_only_k_suppressed_cells_and_no_device_rows(web):
    viewer = web.get("/overview/data.json", "viewer").json()
    assert viewer["k"] == 5 and viewer["kiosks"] is None and viewer["visits"] is None
    sat = {c["key"]: c for c in viewer["satisfaction"]}
    assert sat["cafeteria"]["suppressed"] and sat["cafeteria"]["mean"] is None
    assert not sat["shared_lab"]["suppressed"] and sat["shared_lab"]["visits"] == 7
    # one visit per hour: every heatmap cell is under k for a viewer, shown to an analyst
    assert viewer["heatmap"] and all(c["suppressed"] and c["visits"] is None for c in viewer["heatmap"])
    analyst = web.get("/overview/data.json", "analyst").json()
    assert analyst["k"] is None and sum(c["visits"] for c in analyst["heatmap"]) == 10
    assert analyst["labels"]["shared_lab"] == "Shared equipment / test lab"
    assert web.get("/overview/data.json?lang=ko", "analyst").json()["labels"]["shared_lab"] == "공동 장비·시험실"
    page = web.get("/overview", "viewer").text
    assert "fewer than 5 respondents" in page
    # the same numbers as the API's aggregates
    api = {c["key"]: c for c in web.get("/api/aggregates/visits?by=facility", "viewer").json()["items"]}
    assert {k: (c["visits"], c["suppressed"]) for k, c in sat.items()} == \
        {k: (c["visits"], c["suppressed"]) for k, c in api.items()}


def test_a_viewer_gets_no_organisation_and_no_row_level_page(web):
    estimates.recompute(web.store, n_replicates=10)
    net = web.get("/network", "viewer")
    assert net.status_code == 200 and "SME 1" not in net.text and "Gumi Techno Park" not in net.text
    assert "page-data" not in net.text
    # cluster measures are hidden while fewer than k organisations responded (here 10 did: shown)
    fleet = web.get("/fleet", "viewer")
    assert fleet.status_code == 403 and "analyst" in fleet.text
    data = web.get("/data", "viewer").text
    assert 'id="records"' not in data and "/api/exports/aggregates/visits" in data
    assert web.get("/data/quarantine.csv", "viewer").status_code == 403


def test_the_network_for_an_analyst_has_nodes_edges_cards_and_filters(web):
    estimates.recompute(web.store, n_replicates=10)
    estimates.recompute_measures(web.store, n_replicates=10)
    page = web.get("/network", "analyst").text
    data = json.loads(re.search(r'<script id="page-data" type="application/json">(.*?)</script>', page, re.S)[1])
    nodes = data["nodes"]
    edges = {k: unpacked(data["edges"][k], "<i4" if k in ("u", "v", "observations") else "<f4").tolist()
             for k in ("u", "v", "value", "low", "high", "observations")}
    assert len(nodes["code"]) == 12 and len(edges["u"]) == data["edges"]["count"] == 16
    assert edges["observations"] == [1] * 16  # one report per dyad in conftest's interviews
    assert set(nodes["type"]) == {"sme", "university", "gri", "technopark"}
    assert all(lo <= v <= hi for v, lo, hi in zip(edges["value"], edges["low"], edges["high"]))
    # respondents: SMEs 1-6 and universities 7-10; ETRI (11) and the techno park (12) were only named
    assert [c for c, r in zip(nodes["code"], nodes["respondent"]) if not r] == [11, 12]
    assert all(v is not None and lo <= hi for v, lo, hi in nodes["measured"])  # strength, its bootstrap interval
    cards = data["cards"]
    assert cards["brokers"][0]["name"] in ("Gumi Techno Park", "ETRI Gumi")
    assert -1 <= cards["ei_type"] <= 1 and 0 <= cards["centralization"] <= 1
    # the template's network: SMEs 1-6 tie to ETRI (gri) but to no government body; universities to the techno park
    assert cards["helix"] == {"coverage": 0.0, "firms": 6, "to_academia": 6, "to_government": 0, "covered": 0}
    assert ["sme", "technopark"] in cards["missing"] and ["university", "technopark"] not in cards["missing"]
    for key in ("card.brokers.cite", "card.constraint.cite", "card.ei.cite", "card.hub.cite", "card.helix.cite",
                "card.missing.cite"):
        assert html.escape(MESSAGES["en"][key].split(" (")[0]) in page  # the citation is on the page, one click away
    assert page.count("<details>") == 6
    uni = web.get("/network?actor_type=university&threshold=&backbone=", "analyst").text
    assert "5 organisations, 4 ties shown" in uni
    backbone = web.get("/network?backbone=0.3", "analyst").text
    shown = int(re.search(r"(\d+) ties shown", backbone)[1])
    api = web.get("/api/estimates?estimator=composite&backbone=0.3&limit=1000", "analyst").json()["total"]
    assert shown == api


def test_tie_type_and_partner_location_keep_the_ties_some_report_names_so_and_a_new_estimate_shows_at_once(web):
    estimates.recompute(web.store, n_replicates=10)
    # conftest's reports: even ones name "support" (1-6 to ETRI 11, 8 and 10 to the techno park 12); odd ones
    # "traded", at "same_region" when their number is a multiple of 3 (2-3, 5-6, 9-12)
    support = web.get("/network?tie_type=support", "analyst").text
    assert "10 organisations, 8 ties shown" in support and "at least one interview report" in support
    both = web.get("/network?tie_type=traded&scope=same_region&threshold=", "analyst").text
    assert "6 organisations, 3 ties shown" in both
    data = json.loads(re.search(r'<script id="page-data" type="application/json">(.*?)</script>', both, re.S)[1])
    ends = np.concatenate([unpacked(data["edges"][k], "<i4") for k in ("u", "v")])
    names = {data["nodes"]["code"][i] for i in ends.tolist()}
    assert names == {2, 3, 5, 6, 9, 12}
    assert [c["code"] for c in data["scopes"]] == ["same_park", "same_region", "other_region", "abroad"]
    assert data["tie_types"][0] == {"code": "traded", "label": "Buying, supplying, licensing, contract R&D"}
    assert "관계 유형" in web.get("/network?lang=ko", "analyst").text
    # the page is cached under the data version: a changed estimate is on the next page, not the cached one
    assert "12 organisations, 16 ties shown" in web.get("/network", "analyst").text
    rows = [r for r in web.store.estimates("composite") if (r["u"], r["v"]) != (1, 2)]
    web.store.replace_estimates("composite", rows)
    assert "12 organisations, 15 ties shown" in web.get("/network", "analyst").text


def test_fleet_shows_every_device_and_the_alerts_on_the_page_and_as_a_feed(web):
    status(web, "kiosk-01", fw="0.9.1", role="kiosk", queue=3, battery_mv=3100, time="2026-11-30T10:00:00Z",
           approaches=20, clock=wire.CLOCK_UNSYNCED, flash_free=1000, storage_full=1, refused=2, errors=1)
    status(web, "kiosk-02", fw="0.9.1", role="kiosk", queue=0, battery_mv=4000, time="2026-11-30T10:00:00Z",
           approaches=5, clock=wire.CLOCK_NTP, flash_free=10_000, storage_full=0, refused=0, errors=0)
    feed = web.get("/api/devices/alerts", "analyst").json()
    got = {(a["device"], a["alert"]) for a in feed["items"]}
    assert {("kiosk-01", "storage_full"), ("kiosk-01", "clock_unsynced"), ("kiosk-01", "battery_low"),
            ("kiosk-02", "storage_low")} <= got
    assert not {a for d, a in got if a == "refused_rising"}  # the first look is the baseline
    status(web, "kiosk-01", fw="0.9.1", role="kiosk", clock=wire.CLOCK_NTP, time="2026-11-30T10:05:00Z", refused=7)
    feed = web.get("/api/devices/alerts?flash_min_bytes=100", "analyst").json()
    got = {(a["device"], a["alert"]): a for a in feed["items"]}
    assert "up by 5 to 7" in got[("kiosk-01", "refused_rising")]["message"]
    assert ("kiosk-02", "storage_low") not in got
    page = web.get("/fleet?flash_min_bytes=100", "analyst").text
    for text in ("kiosk-01", "kiosk-02", "refused_rising", "0.9.1", "NTP", "Free flash",
                 'href="/api/devices/alerts?flash_min_bytes=100"'):
        assert text in page, text
    assert "storage_low" not in page  # the page and the feed apply the same thresholds


def test_data_tables_and_downloads_by_role(web):
    rec = web.store.records("kiosk-01")[0]
    changed = dict(rec, answers=dict(rec["answers"], satisfaction=1 if rec["answers"]["satisfaction"] != 1 else 2))
    IngestCore().process(web.store, [
        Message(wire.topic_records("kiosk-01"), wire.encode_batch("kiosk-01", [changed]), 1_795_000_000.0),
        Message(wire.topic_records("kiosk-09"), b"not json", 1_795_000_000.0)])
    analyst = web.get("/data", "analyst").text
    assert 'id="records"' in analyst and "26 of 26 shown" in analyst
    assert 'id="quarantine"' not in analyst
    admin = web.get("/data", "admin").text
    assert 'id="quarantine"' in admin and 'id="conflicts"' in admin and rec["id"] in admin
    body = web.get("/data/quarantine.csv", "admin").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 1 and rows[0]["device"] == "kiosk-09"
    conflicts = web.get("/data/conflicts.xlsx", "admin")
    assert conflicts.status_code == 200 and conflicts.content[:2] == b"PK"
    assert web.get("/data/quarantine.csv", "analyst").status_code == 403


def test_the_event_stream_tells_an_analyst_the_new_records_and_a_viewer_only_that_something_changed(web):
    def events(role, last=None):
        headers = dict(web.as_(role), **({"Last-Event-ID": str(last)} if last is not None else {}))
        with web.client.stream("GET", "/events?timeout=0.2", headers=headers) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            text = "".join(r.iter_text())
        return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]

    (first,) = events("analyst")
    # the first event lists the newest five records (the page's "latest records" card at once), newest first
    assert first["first"] and first["records"] == 26 and [r["rowid"] for r in first["latest"]] == [26, 25, 24, 23, 22]
    (since,) = events("analyst", last=24)  # as the browser reconnects: what came after its last event
    assert not since["first"] and [r["form"] for r in since["latest"]] == ["fi_partner", "fi_partner"]
    (viewer,) = events("viewer", last=24)
    assert viewer == {"changed": True, "first": False}


def test_every_page_is_documented():
    doc = (ROOT / "docs" / "dashboards.md").read_text()
    for path in page_paths():
        assert f"`{path}`" in doc, path


def test_every_template_and_asset_is_package_data():
    """A wheel carries only the files pyproject's package-data names (lessons.md: not -e installs)."""
    import fnmatch
    import tomllib

    from tiesense.web import pages

    here = ROOT / "host" / "tiesense" / "web" / "pages"
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "tiesense.web.pages"]
    files = [p.relative_to(here).as_posix() for sub in ("templates", "static") for p in (here / sub).iterdir()]
    assert files and Path(pages.__file__).parent == here
    for f in files:
        assert any(fnmatch.fnmatch(f, pat) for pat in patterns), f


def test_an_open_event_stream_does_not_hold_a_stopping_server(web):
    """A browser keeps /events open; stopping the server (serve's Ctrl-C) must not wait for it."""
    import threading
    import time

    import httpx

    from tiesense.web.server import ApiServer

    api = ApiServer(web.app, "127.0.0.1", 0).start()
    got = []

    def listen():
        with httpx.stream("GET", f"{api.url}/events?timeout=120", headers=web.as_("viewer"), timeout=30) as r:
            for line in r.iter_lines():
                got.append(line)

    reader = threading.Thread(target=listen, daemon=True)
    reader.start()
    deadline = time.monotonic() + 10
    while not any(line.startswith("event: records") for line in got) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any(line.startswith("event: records") for line in got), got
    t0 = time.monotonic()
    api.stop()
    reader.join(timeout=5)
    assert time.monotonic() - t0 < 2.5 and not reader.is_alive()


def test_the_overview_filters_by_period_and_an_empty_field_means_any(web):
    every = web.get("/overview/data.json?site=&since=&until=", "analyst").json()
    assert sum(c["visits"] for c in every["heatmap"]) == 10
    late = web.get("/overview/data.json?since=2026-11-24T14:00:00Z", "analyst").json()
    assert sum(c["visits"] for c in late["heatmap"]) == 5  # visits ended 14:01 to 18:01
    page = web.get("/overview?since=2026-11-24&site=", "analyst").text
    assert 'value="2026-11-24"' in page and 'id="ov-filters"' in page


def test_a_viewer_sees_the_cluster_measures_only_from_k_respondents(web_template, tmp_path):
    import shutil

    from tiesense.web import Settings

    from .conftest import WebEnv

    shutil.copyfile(web_template[0], tmp_path / "k.db")
    for k, hidden in ((5, False), (11, True)):  # 10 organisations responded
        env = WebEnv(tmp_path / "k.db", web_template[1], Settings(k=k))
        try:
            estimates.recompute_measures(env.store, n_replicates=10)
            page = env.get("/network", "viewer").text
            value = env.get("/api/measures/cluster", "viewer").json()["items"][0]["value"]
            assert "degree_centralization" in page and ("fewer than 11 respondents" in page) == hidden
            assert (value is None) == hidden and (f"{value}" in page if value is not None else True)
        finally:
            env.close()


def test_footfall_and_response_rate_come_from_the_presence_records_when_a_kiosk_sends_them(web):
    import os
    import time as _time

    from tiesense import wire
    from tiesense.ingest import IngestCore, Message

    def presence(seq, start, counts):
        rec = wire.make_record_v2("tp_presence", "2026113001", start, 300, 1, seq * 300, wire.CLOCK_NTP,
                                  [300, *counts], wire.new_record_id(os.urandom))
        return wire.sign_record(rec, seq, "kiosk-88", None)

    # approaches, dwell_s, started, completed, abandoned: 12 approaches, 3 completed over two hours
    parts = [presence(1, 1795510200, [8, 40, 3, 2, 1]), presence(2, 1795514400, [4, 20, 1, 1, 0])]
    status = wire.encode_status(True, role="kiosk", approaches=999, abandoned=0, uptime_s=10, version=wire.V2,
                                boot=1, clock=wire.CLOCK_NTP, nonce="0a0b0c0d")
    IngestCore().process(web.store, [
        Message(wire.topic_status("kiosk-88"), status, _time.time()),
        Message(wire.topic_records("kiosk-88"), wire.encode_batch_from_encoded("kiosk-88", parts, 2), _time.time())])
    data = web.get("/overview/data.json", "analyst").json()
    (k,) = [k for k in data["kiosks"] if k["device"] == "kiosk-88"]
    assert (k["approaches"], k["abandoned"], k["response_rate"], k["source"]) == (12, 1, 0.25, "presence records")
    # the park's footfall series: one point per hour over every kiosk, completed surveys for analysts only
    f = data["footfall"]
    assert f["hour"] == ["2026-11-24T08:00:00Z", "2026-11-24T10:00:00Z"]
    assert (f["approaches"], f["completed"], f["response_rate"]) == ([8, 4], [2, 1], [0.25, 0.25])
    viewer = web.get("/overview/data.json", "viewer").json()["footfall"]
    assert viewer == {"hour": f["hour"], "approaches": [8, 4]}
    # the period filter applies to the presence records as to the visits
    later = web.get("/overview/data.json?since=2026-11-24T09:00:00Z", "analyst").json()
    assert later["footfall"]["approaches"] == [4]
    (k,) = [k for k in later["kiosks"] if k["device"] == "kiosk-88"]
    assert (k["approaches"], k["response_rate"]) == (4, 0.25)
    assert web.get("/overview/data.json?site=nowhere", "analyst").json()["footfall"]["hour"] == []


def test_connections_to_the_bound_socket_send_without_waiting_for_acks():
    """asyncio turns TCP_NODELAY on for accepted connections only when the listening socket's protocol is TCP;
    without it a response written in two parts waited ~40 ms for the client's delayed ACK (bench/web.py)."""
    import asyncio
    import socket

    from tiesense.web.server import bind

    async def accepted_nodelay() -> int:
        sock = bind("127.0.0.1", 0)
        seen = asyncio.get_running_loop().create_future()

        class Protocol(asyncio.Protocol):
            def connection_made(self, transport):
                seen.set_result(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

        server = await asyncio.get_running_loop().create_server(Protocol, sock=sock)
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        try:
            return await asyncio.wait_for(seen, 5)
        finally:
            writer.close()
            server.close()

    assert bind("127.0.0.1", 0).proto == socket.IPPROTO_TCP
    assert asyncio.run(accepted_nodelay()) != 0
