"""The dashboards in a real browser: Debian's chromium, headless, driven by Playwright (lessons.md: the
launch arguments, and DNS kept on this machine). A few tests, one server and one browser for all:

* log in, and the overview draws its six charts (new contacts from visits on the XLSForm visit form too) (plotly elements in the page, a screenshot that is not blank);
* the network page with 5,000 organisations and 20,000 ties renders with WebGL within a generous bound, and
  the actor type, tie type and partner location filters each change the view (the figures are printed: run
  with -s to see them);
* the fleet and data pages, and the overview in Korean, render (screenshots);
* choosing a survey wave changes the overview's charts (two waves of visits: the XLSForm visit form and its
  wave-2 version) and the drawn network (interview reports of two waves);
* a record stored while the overview is open appears on it without a reload (server-sent events).

Screenshots go to ``$TIESENSE_SCREENSHOTS`` when it is set (a directory, created), else to the test's
temporary directory; each is checked for content and its path printed. To look at them::

    TIESENSE_SCREENSHOTS=docs/screenshots .venv/bin/python -m pytest -s tests/test_web_pages_browser.py

(``docs/screenshots/`` is ignored by git: the PNGs are not committed.)

No skips: without /usr/bin/chromium the tests fail and say how to install it.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from tiesense import wire
from tiesense.ingest import IngestCore, Message
from tiesense.web.pages.bundles import BUNDLES

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--disable-quic",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
N_ORGS, N_TIES = 5000, 20000
#: Time to first render of the 5,000-node network, navigation start to plotly's promise, that fails the test.
NETWORK_BOUND_MS = 10_000
TYPES = ("sme", "startup", "large_firm", "university", "gri", "technopark", "regional_agency", "finance")
#: Kiosks whose presence records (one per 15 minutes with anyone about, over four days) draw the footfall chart.
PRESENCE_KIOSKS = ("kiosk-21", "kiosk-22")
REGIONS = ("Gyeongbuk", "Daegu", "Seoul", "Gyeonggi", "Busan", "Ulsan")
PASSWORD = "a long password"  # conftest's user ada (analyst)


def big_network(store, seed: int = 7) -> None:
    """A second roster version of N_ORGS organisations (codes 1-12 keep their types) and N_TIES composite
    estimates: a ring through every organisation plus random pairs, so every one is drawn."""
    rng = np.random.default_rng(seed)
    old = {1: "sme", 7: "university", 11: "gri", 12: "technopark"}
    rows = []
    for code in range(1, N_ORGS + 1):
        kind = ("sme" if code <= 6 else "university" if code <= 10 else old.get(code)) if code <= 12 else \
            TYPES[int(rng.integers(len(TYPES)))]
        rows.append({"code": code, "name": f"Org {code}", "actor_type": kind,
                     "region": REGIONS[int(rng.integers(len(REGIONS)))], "sector": None, "size": None})
    store.import_roster(rows, source="browser test")
    pairs = {(min(i, i % N_ORGS + 1), max(i, i % N_ORGS + 1)) for i in range(1, N_ORGS + 1)}
    while len(pairs) < N_TIES:
        a, b = (int(x) for x in rng.integers(1, N_ORGS + 1, size=2))
        if a != b:
            pairs.add((min(a, b), max(a, b)))
    value = rng.uniform(0.05, 1.0, size=len(pairs))
    stamp = "2026-11-30T12:00:00Z"
    store.replace_estimates("composite", [
        {"u": p[0], "v": p[1], "estimator": "composite", "value": float(w), "low": float(w) * 0.8,
         "high": min(1.0, float(w) * 1.2), "observations": 2, "confirmed": 1, "disagreement": 0.0,
         "updated_at": stamp} for p, w in zip(sorted(pairs), value)])


def presence_days(store, days: int = 4, seed: int = 11) -> int:
    """Presence records of :data:`PRESENCE_KIOSKS`, 08:00-19:00 UTC from 2026-11-23 (signed v2, through the
    ingest core as a kiosk sends them); returns how many."""
    import os as _os

    rng = np.random.default_rng(seed)
    start = 1795392000  # 2026-11-23T00:00:00Z
    stored = 0
    for device in PRESENCE_KIOSKS:
        parts, before = [], stored
        for day in range(days):
            for quarter in range(8 * 4, 19 * 4):
                busy = 3 if quarter // 4 in (9, 12, 13, 17) else 1
                approaches = int(rng.poisson(2.5 * busy))
                if not approaches:
                    continue
                completed = int(rng.binomial(approaches, 0.3))
                abandoned = int(rng.binomial(approaches - completed, 0.2))
                t = start + day * 86400 + quarter * 900
                rec = wire.make_record_v2("tp_presence", "2026113001", t, 900, 1, t - start + 60, wire.CLOCK_NTP,
                                          [900, approaches, 15 * approaches, completed + abandoned, completed,
                                           abandoned], wire.new_record_id(_os.urandom))
                parts.append(wire.sign_record(rec, len(parts) + 1, device, None))
        for i in range(0, len(parts), wire.MAX_BATCH_RECORDS):
            batch = wire.encode_batch_from_encoded(device, parts[i:i + wire.MAX_BATCH_RECORDS], wire.V2)
            stored += IngestCore().process(store, [Message(wire.topic_records(device), batch, time.time())]).stored
        assert stored - before == len(parts), "every presence record stored"
    return stored


@pytest.fixture(scope="module")
def server(web_template, tmp_path_factory):
    from tiesense.store import Store
    from tiesense.web import create_app
    from tiesense.web.server import ApiServer

    path = tmp_path_factory.mktemp("browser") / "dash.db"
    shutil.copyfile(web_template[0], path)
    store = Store(path)
    big_network(store)
    status = wire.encode_status(True, fw="0.9.1", role="kiosk", queue=0, battery_mv=3900, approaches=30, abandoned=4,
                                time="2026-11-30T10:00:00Z", version=2, clock=wire.CLOCK_NTP, flash_free=200_000,
                                storage_full=0, refused=0, errors=0)
    IngestCore().process(store, [Message(wire.topic_status("kiosk-01"), status, time.time())])
    presence = presence_days(store)
    for device, battery, flash in (("kiosk-21", 3950, 240_000), ("kiosk-22", 3250, 20_000)):  # 22: two alerts
        kiosk = wire.encode_status(True, fw="0.9.2", role="kiosk", queue=2, battery_mv=battery,
                                   time="2026-11-30T10:00:00Z", version=2, clock=wire.CLOCK_NTP, flash_free=flash,
                                   storage_full=0, refused=0, errors=0)
        IngestCore().process(store, [Message(wire.topic_status(device), kiosk, time.time())])
    new_form = new_visit_form_visits(store)
    waves = second_wave_visits(store) + wave_reports(store)
    api = ApiServer(create_app(store), "127.0.0.1", 0).start()
    # the template's visits and interviews, presence, new-form visits, the second wave's visits and the waves' reports
    api.records = 26 + presence + new_form + waves
    yield api, store
    api.stop()
    store.close()


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
                    "(apt-get install -y chromium; scripts/bootstrap --test installs it)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where the screenshots go: ``$TIESENSE_SCREENSHOTS`` (created) or the test's temporary directory."""
    chosen = os.environ.get("TIESENSE_SCREENSHOTS")
    if chosen:
        path = Path(chosen)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def page(server, browser):
    """One logged-in page (analyst ada), shared by the tests in this order."""
    api, _ = server
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    pg.base = api.url
    pg.records = api.records
    yield pg
    context.close()


#: Visits on the shipped XLSForm visit form (2026113001): (facility, new contact), both at the template's facilities.
NEW_FORM_VISITS = [("shared_lab", "yes"), ("shared_lab", "yes"), ("cafeteria", "no")]


def new_visit_form_visits(store) -> int:
    """Publish the XLSForm visit instrument and store NEW_FORM_VISITS on it (the overview spans both versions)."""
    from tiesense.forms import FormRegistry, builtin_forms
    from tiesense.xlsform.instruments import compile_instrument

    form = compile_instrument("tp_visit").form
    store.publish_form(form)
    records = [wire.make_record("kiosk-01", 100 + i, "tp_visit", form["version"], f"2026-11-30T{8 + i:02d}:00:00Z",
                                f"2026-11-30T{8 + i:02d}:01:00Z",
                                {"wave": "1", "facility": facility, "visitor_org": "101", "purpose": "event",
                                 "met": ["nobody"], "new_contact": contact, "satisfaction": "4"},
                                f"uuid:00000000-0000-4000-8000-0000000c0c0{i}")
               for i, (facility, contact) in enumerate(NEW_FORM_VISITS)]
    report = IngestCore(FormRegistry(builtin_forms() + [form])).process(
        store, [Message(wire.topic_records("kiosk-01"), wire.encode_batch("kiosk-01", records), time.time())])
    assert report.stored == len(records)
    return len(records)


#: Visits of the second survey wave (the visit form republished with wave 2): (facility, new contact), at the
#: template's facilities, on 2026-11-25 when the presence kiosks were counting (NEW_FORM_VISITS are wave 1, the template's visits have no wave).
WAVE_2_VISITS = [("shared_lab", "yes"), ("shared_lab", "no"), ("cafeteria", "no"), ("cafeteria", "no")]
#: Interview reports per survey wave (a partner interview version per wave): ring pairs of big_network, so
#: each has a composite estimate to draw.
WAVE_REPORTS = {"1": [(1, 2), (3, 4), (5, 6)], "2": [(7, 8)]}


def _ingest(store, device: str, records: list, forms: list) -> int:
    from tiesense.forms import FormRegistry, builtin_forms

    report = IngestCore(FormRegistry(builtin_forms() + forms)).process(
        store, [Message(wire.topic_records(device), wire.encode_batch(device, records), time.time())])
    assert report.stored == len(records), report
    return report.stored


def second_wave_visits(store) -> int:
    """Republish the XLSForm visit form as a new version whose ``wave`` constant is 2 (a project's second
    wave) and store WAVE_2_VISITS on it."""
    import copy

    from tiesense.xlsform.instruments import compile_instrument

    form = copy.deepcopy(compile_instrument("tp_visit").form)
    form["version"] = "2026112501"
    for q in form["questions"]:
        if q["name"] == "wave":
            q["calculation"] = [2000]  # the compiled constant 2
    store.publish_form(form)
    records = [wire.make_record("kiosk-21", 200 + i, "tp_visit", form["version"], f"2026-11-25T{10 + i:02d}:00:00Z",
                                f"2026-11-25T{10 + i:02d}:02:00Z",
                                {"wave": "2", "facility": facility, "visitor_org": "101", "purpose": "business_meeting",
                                 "met": ["nobody"], "new_contact": contact, "satisfaction": "5"},
                                wire.new_instance_id(os.urandom))
               for i, (facility, contact) in enumerate(WAVE_2_VISITS)]
    return _ingest(store, "kiosk-21", records, [form])


def wave_reports(store) -> int:
    """The partner interview published once per wave of WAVE_REPORTS (its ``wave`` setting) and the reports
    stored on each; the composite estimates are big_network's, not recomputed."""
    import copy

    from tiesense.forms import builtin_forms

    base = next(f for f in builtin_forms() if f["id"] == "fi_partner")
    forms, records = [], []
    for i, (wave, pairs) in enumerate(sorted(WAVE_REPORTS.items())):
        form = copy.deepcopy(base)
        form["version"], form["wave"] = f"20261201{i + 1:02d}", wave
        store.publish_form(form)
        forms.append(form)
        for r, p in pairs:
            records.append(wire.make_record(
                "handheld-03", len(records) + 1, "fi_partner", form["version"], "2026-11-29T10:00:00Z",
                "2026-11-29T10:20:00Z", {"respondent_org": r, "partner_org": p, "tie_types": ["knowledge"],
                                         "frequency": 3, "closeness": 3, "scope": "same_park"},
                wire.new_instance_id(os.urandom)))
    return _ingest(store, "handheld-03", records, forms)


def drawn(pg, chart: str, selector: str) -> int:
    return pg.evaluate(f"document.querySelectorAll('#{chart} {selector}').length")


def not_blank(path: Path, min_bytes: int = 20_000) -> None:
    # A blank or single-colour screenshot compresses to a few kilobytes; charts with text and colour do not.
    assert path.stat().st_size > min_bytes, f"{path} looks blank ({path.stat().st_size} bytes)"


def test_login_then_the_overview_draws_its_charts(page, shots):
    page.goto(page.base + "/overview")
    assert "/login" in page.url
    page.fill("input[name=name]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-rendered~=overview]")
    assert page.url.endswith("/overview")
    assert drawn(page, "chart-heatmap", ".hm image") >= 1  # the heatmap's cells are drawn as an image
    assert page.evaluate("Plotly.version") == BUNDLES["overview"].version  # its partial bundle (bootstrap installs it)
    assert drawn(page, "chart-satisfaction", ".point path") == 2  # two facilities
    assert drawn(page, "chart-weekly", ".point path") >= 1
    assert drawn(page, "chart-contacts", ".point path") >= 1  # new contacts made, by facility
    made = sum(c == "yes" for _, c in NEW_FORM_VISITS + WAVE_2_VISITS)
    assert page.inner_text("#contacts-total").startswith(
        f"{made} visits led to a new contact, of {len(NEW_FORM_VISITS + WAVE_2_VISITS)} asked")
    assert drawn(page, "chart-kiosks", ".point path") >= 1
    assert drawn(page, "chart-footfall", ".point path") >= 2 * 4 * 10  # approaches and completed, every hour
    assert page.inner_text("#live").startswith(f"Records stored: {page.records}")
    out = shots / "overview.png"
    page.screenshot(path=str(out), full_page=True)
    not_blank(out)
    print(f"\noverview screenshot: {out}")
    assert not page.errors, page.errors


def test_the_network_of_5000_organisations_renders_with_webgl_and_a_filter_changes_it(page, shots):
    start = time.perf_counter()
    page.goto(page.base + "/network")
    page.wait_for_selector("body[data-rendered~=network]", timeout=60_000)
    page.wait_for_function("() => window.tiesense.networkFrameMs", timeout=60_000)
    wall = (time.perf_counter() - start) * 1000
    assert page.evaluate("Plotly.version") == BUNDLES["network"].version  # drawn by the gl2d bundle
    t = page.evaluate("""() => { const n = performance.getEntriesByType('navigation')[0];
        return {first_render: window.tiesense.networkMs, draw: window.tiesense.networkDrawMs,
                frame: window.tiesense.networkFrameMs,
                response: n.responseEnd - n.requestStart, dom: n.domContentLoadedEventEnd,
                gl: document.querySelectorAll('#chart-network canvas').length}; }""")
    assert page.inner_text("#net-count").startswith(f"{N_ORGS:,}".replace(",", "") + " organisations, "
                                                   + f"{N_TIES} ties")
    assert t["gl"] >= 1, "scattergl drew no WebGL canvas"
    # the nodes really are on the canvas: pixels that are not the background
    painted = page.evaluate("""() => { const c = [...document.querySelectorAll('#chart-network .gl-container canvas')]
        .find(x => x.width > 100); const g = c.getContext('webgl') || c.getContext('webgl2'); if (!g) return -1;
        const px = new Uint8Array(4 * c.width * c.height);
        g.readPixels(0, 0, c.width, c.height, g.RGBA, g.UNSIGNED_BYTE, px);
        let n = 0; for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++; return n; }""")
    out = shots / "network-5000.png"  # the whole network as first drawn
    page.screenshot(path=str(out))
    not_blank(out)
    # hovering the middle of a tie shows its interval
    spot = page.evaluate("""() => { const el = document.getElementById('chart-network'), fl = el._fullLayout;
        const box = el.querySelector('.nsewdrag').getBoundingClientRect(), d = el.data[0];
        const x = fl.xaxis.r2p(d.x[0]), y = fl.yaxis.r2p(d.y[0]);
        return {x: box.left + x, y: box.top + y, text: d.text[0]}; }""")
    page.mouse.move(spot["x"], spot["y"])
    label = page.wait_for_selector("#chart-network .hoverlayer .hovertext", timeout=5000).text_content()
    assert "[" in label and "]" in label and " – " in label, label
    # a pan/zoom, timed: how fluid the view is at this size
    relayout = page.evaluate("""async () => { const el = document.getElementById('chart-network');
        const t0 = performance.now(); await Plotly.relayout(el, {'xaxis.range': [-20, 20], 'yaxis.range': [-20, 20]});
        return performance.now() - t0; }""")
    edges = page.evaluate("""() => { const c = document.querySelector('#chart-network .tiesense-edges canvas');
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++; return n; }""")
    print(f"\nnetwork {N_ORGS} organisations / {N_TIES} ties: drawn {t['first_render']:.0f} ms after navigation "
          f"start, next frame at {t['frame']:.0f} ms (server response {t['response']:.0f} ms, client draw "
          f"{t['draw']:.0f} ms), "
          f"{wall:.0f} ms wall from goto; zoom relayout {relayout:.0f} ms; screenshot {out}")
    assert t["frame"] < NETWORK_BOUND_MS, t
    assert painted > 10_000, f"the WebGL canvas has {painted} painted pixels"
    assert edges > 10_000, f"the edges' canvas has {edges} painted pixels"
    page.select_option("select[name=actor_type]", "university")
    page.click("#net-filters button[type=submit]")
    page.wait_for_selector("body[data-rendered~=network]")
    assert "actor_type=university" in page.url
    filtered = page.inner_text("#net-count")
    assert not filtered.startswith(f"{N_ORGS} organisations"), filtered
    # tie type and partner location: the ties some interview report names so (the template's 16 reports:
    # "traded" on the ring's pairs 1-2 ... 5-6, of which 2-3 and 5-6 at "same_region")
    page.select_option("select[name=actor_type]", "")
    page.select_option("select[name=tie_type]", "traded")
    page.click("#net-filters button[type=submit]")
    page.wait_for_selector("body[data-rendered~=network]")
    assert "tie_type=traded" in page.url
    support = page.inner_text("#net-count")
    page.select_option("select[name=scope]", "same_region")
    page.click("#net-filters button[type=submit]")
    page.wait_for_selector("body[data-rendered~=network]")
    both = page.inner_text("#net-count")
    counts = [int(text.split()[0]) for text in (filtered, support, both)]
    assert 0 < counts[1] < N_ORGS and 0 < counts[2] < counts[1], (filtered, support, both)
    assert both.endswith("2 ties shown"), both
    out = shots / "network-filtered.png"
    page.screenshot(path=str(out))
    not_blank(out, 10_000)
    print(f"filtered by tie type and scope: {both}; screenshot {out}")
    assert not page.errors, page.errors


def test_the_fleet_data_and_korean_overview_pages_render(page, shots):
    page.goto(page.base + "/fleet")
    assert {"battery_low", "storage_low"} <= set(page.eval_on_selector_all("#alerts code", "els => els.map(e => e.textContent)"))
    for path, name, selector in (("/fleet", "fleet", "#devices tbody tr"), ("/data", "data", "#records tbody tr"),
                                 ("/overview?lang=ko", "overview-ko", "body[data-rendered~=overview]")):
        page.goto(page.base + path)
        page.wait_for_selector(selector)
        out = shots / f"{name}.png"
        page.screenshot(path=str(out), full_page=True)
        not_blank(out, 10_000)
        print(f"\n{name} screenshot: {out}")
    assert "단지 개요" in page.inner_text("h1")
    page.goto(page.base + "/lang/en?next=%2Foverview")
    assert not page.errors, page.errors


def heatmap_total(pg) -> int:
    return pg.evaluate("""() => document.getElementById('chart-heatmap').data[0].z.flat()
        .reduce((a, b) => a + (b || 0), 0)""")


def test_choosing_a_wave_changes_the_overview_and_the_network(page, shots):
    page.goto(page.base + "/overview")
    page.wait_for_selector("body[data-rendered~=overview]")
    every = heatmap_total(page)
    assert page.is_visible("#card-waves") and drawn(page, "chart-waves", ".point path") >= 2
    rows = page.eval_on_selector_all("#waves-table tbody tr", "trs => trs.map(t => t.cells[0].textContent)")
    assert rows == ["1", "2", "no wave"], rows
    totals = {}
    for wave, visits in (("1", len(NEW_FORM_VISITS)), ("2", len(WAVE_2_VISITS))):
        page.select_option("#ov-filters select[name=wave]", wave)
        page.click("#ov-filters button[type=submit]")
        page.wait_for_selector("body[data-rendered~=overview]")
        assert f"wave={wave}" in page.url
        totals[wave] = heatmap_total(page)
        assert totals[wave] == visits < every
        assert page.inner_text("#wave-note").startswith(f"Visits of survey wave {wave} only")
        assert page.inner_text("#waves-table tr.chosen td") == wave  # the comparison stays, the wave marked
    footfall = page.evaluate("() => document.getElementById('chart-footfall').data[0].x.filter(x => x).length")
    assert 0 < footfall < 11 * 4  # wave 2's hours on 2026-11-25, not the four days
    out = shots / "overview-wave-2.png"
    page.screenshot(path=str(out), full_page=True)
    not_blank(out)

    page.goto(page.base + "/network")
    page.wait_for_selector("body[data-rendered~=network]", timeout=60_000)
    shown = {}
    for wave, pairs in sorted(WAVE_REPORTS.items()):
        page.select_option("#net-filters select[name=wave]", wave)
        page.click("#net-filters button[type=submit]")
        page.wait_for_selector("body[data-rendered~=network]")
        assert f"wave={wave}" in page.url
        orgs = len({o for pair in pairs for o in pair})
        assert page.inner_text("#net-count") == f"{orgs} organisations, {len(pairs)} ties shown"
        # what plotly drew: one node per organisation, a hover point per tie
        drawn_now = page.evaluate("""() => { const d = document.getElementById('chart-network').data;
            return {ties: d[0].x.length, nodes: d[1].x.length}; }""")
        shown[wave] = drawn_now
        assert drawn_now == {"ties": len(pairs), "nodes": orgs}, drawn_now
    out = shots / "network-wave-2.png"
    page.screenshot(path=str(out))
    not_blank(out, 10_000)
    print(f"\noverview heatmap visits: any wave {every}, wave 1 {totals['1']}, wave 2 {totals['2']}; "
          f"network by wave {shown}; screenshots {shots}")
    assert not page.errors, page.errors


def test_a_new_record_appears_on_the_overview_without_a_reload(page, server):
    _, store = server
    page.goto(page.base + "/overview")
    page.wait_for_selector("body[data-rendered~=overview]")
    page.wait_for_function("() => window.tiesense.lastEvent && window.tiesense.lastEvent.first")
    page.evaluate("() => { window.stillHere = true; }")
    rec = wire.make_record("kiosk-07", 1, "tp_visit", "2026112401", "2026-11-30T11:00:00Z", "2026-11-30T11:01:00Z",
                           {"facility": "training", "org_type": "sme", "satisfaction": 4},
                           "uuid:00000000-0000-4000-8000-00000000b0b0")
    t0 = time.perf_counter()
    IngestCore().process(store, [Message(wire.topic_records("kiosk-07"), wire.encode_batch("kiosk-07", [rec]),
                                         time.time())])
    page.wait_for_selector(f"#latest li:has-text('{rec['id']}')", timeout=10_000)
    seen = (time.perf_counter() - t0) * 1000
    assert page.evaluate("() => window.stillHere === true")  # the same page: no reload
    assert page.inner_text("#live").startswith(f"Records stored: {page.records + 1}")
    page.wait_for_function("() => document.querySelectorAll('#chart-satisfaction .point path').length === 3")
    print(f"\nnew record on the page {seen:.0f} ms after it was stored")
    assert not page.errors, page.errors
