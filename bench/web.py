"""The web side at a cluster's full size: the network and overview endpoints, the network page in a browser,
and ``tiesense ties recompute`` with bootstrap intervals (issue 15, item 6).

Usage (from the repository root)::

    .venv/bin/python -m bench.web                                   # 5,000 organisations, 50,000 tie reports
    .venv/bin/python -m bench.web --orgs 300 --reports 1500 --repeats 1 --replicates 20   # the smoke profile

One database file is built in a temporary directory through the store, as the
host fills it: a roster of ``--orgs`` organisations (actor types and regions of
the domain brief), ``--reports`` interview records (``fi_partner``; about two
thirds of the organisations respond, partners drawn with a preference for
well-connected ones, tie types and partner scopes as the form offers), a
fortnight of kiosk visits (``tp_visit``) and presence intervals
(``tp_presence``) from eight kiosks, and their status. Building is not timed.

Then, each figure the median of ``--repeats`` runs:

* ``ties recompute``: the CLI command (a fresh process, as a user runs it) with
  ``--replicates`` bootstrap replicates: composite estimates of every dyad,
  then node and cluster measures. Target 10 s at 5,000 / 50,000.
* the endpoints, over HTTP to a real uvicorn on loopback (the app of
  :func:`tiesense.web.create_app`, as ``tiesense serve`` runs it), with an
  analyst's token, keep-alive: ``GET /network`` (the page with its data:
  every node, edge, interval and card) *cold* (its view cache emptied before
  each request: what the first view after new data costs) and *cached* (the
  same view again, the data unchanged), and ``GET /overview`` plus its
  live-update JSON. Targets 200 ms and 300 ms. Their baseline, measured in
  the same run, is ``GET /api/health`` (the framework and the socket, no
  data): the ratio says how much of a figure is the page's own work. One
  untimed warm-up request each (the first request of a process loads numpy,
  the kernels and plotly).
* the network page in Debian's chromium (headless, Playwright; the test's
  launch arguments): navigation start to the frame after the drawing
  (``window.tiesense.networkFrameMs``), with the page's view cold, in a
  fresh browser context each time: *from the overview* (the overview opened
  first, as after a login, so plotly.js is in the browser's cache) and *first
  visit* (an empty cache: the page's plotly.js bundle, 1.6 MB, downloaded and
  compiled too), and the first visit again with the full plotly.js (4.6 MB)
  answered for the bundle: the baseline of the bundle, in the same run.
  Target 2 s. Run ``tiesense assets install`` first, or every row loads the
  full plotly.js (the bench prints which plotly.js version drew the page).

The table gives medians with the target and whether it holds. On the
project's 2-core machine other processes share the cores; run it quiet.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tiesense import wire
from tiesense.store import RecordItem, Store, now_iso

REGIONS = ("Gyeongbuk", "Daegu", "Seoul", "Gyeonggi", "Busan", "Ulsan", "Gyeongnam", "Chungbuk")
#: Actor types with the share of a cluster's roster each takes (firms most; domain.md section 2).
TYPE_SHARES = (("sme", 0.42), ("startup", 0.16), ("large_firm", 0.05), ("foreign_firm", 0.03),
               ("university", 0.06), ("gri", 0.05), ("research_centre", 0.03), ("national_agency", 0.02),
               ("regional_agency", 0.03), ("technopark", 0.01), ("innovation_council", 0.01),
               ("association", 0.04), ("finance", 0.04), ("services", 0.05))
TIE_TYPES = ("traded", "collaborative", "knowledge", "people", "support", "finance")
SCOPES = ("same_park", "same_park", "same_region", "other_region", "abroad")
FACILITIES = ("shared_lab", "incubation", "meeting_room", "training", "consulting", "business_support",
              "networking_event", "cafeteria")
KIOSKS = 8
DAYS = 14
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
TARGETS_MS = {"recompute": 10_000, "network": 200, "overview": 300, "browser": 2_000}


def _iid(tag: str) -> str:
    return wire.new_instance_id(lambda k: hashlib.sha256(tag.encode()).digest()[:k])


def roster(n_orgs: int, rng: random.Random) -> list[dict]:
    """``n_orgs`` organisations, codes 1..n, types by :data:`TYPE_SHARES`."""
    names, weights = zip(*TYPE_SHARES)
    return [{"code": c, "name": f"Org {c:05d}", "actor_type": rng.choices(names, weights)[0],
             "region": rng.choice(REGIONS), "sector": None, "size": None} for c in range(1, n_orgs + 1)]


def interview_items(n_orgs: int, n_reports: int, rng: random.Random) -> list[RecordItem]:
    """``n_reports`` fi_partner records: two thirds of the organisations respond; partners drawn with a
    preference for organisations already named (preferential attachment), never the respondent."""
    respondents = rng.sample(range(1, n_orgs + 1), max(1, (2 * n_orgs) // 3))
    named: list[int] = list(range(1, n_orgs + 1))  # every organisation can be named once at least
    received = now_iso()
    out = []
    for i in range(n_reports):
        r = respondents[i % len(respondents)]
        p = rng.choice(named)
        while p == r:
            p = rng.randint(1, n_orgs)
        named.append(p)
        day = 1 + i * DAYS // n_reports
        answers = {"respondent_org": r, "partner_org": p,
                   "tie_types": sorted(rng.sample(TIE_TYPES, rng.randint(1, 3))),
                   "frequency": rng.randint(1, 6), "since_year": rng.randint(2000, 2026),
                   "closeness": rng.randint(1, 5), "reciprocity": rng.choice(("mutual", "we", "they")),
                   "scope": rng.choice(SCOPES), "importance": rng.randint(1, 5)}
        rec = wire.make_record("handheld-01", i + 1, "fi_partner", "2026112401", f"2026-11-{day:02d}T10:00:00Z",
                               f"2026-11-{day:02d}T10:20:00Z", answers, _iid(f"bench-web-tie-{i}"))
        out.append(RecordItem(rec, received, wire.topic_records("handheld-01")))
    return out


def kiosk_items(rng: random.Random) -> list[RecordItem]:
    """A fortnight at :data:`KIOSKS` kiosks: visits, and presence intervals of 15 minutes, 08:00-19:00 UTC."""
    received, out, seq = now_iso(), [], {}
    for day in range(1, DAYS + 1):
        for k in range(KIOSKS):
            device = f"kiosk-{k + 1:02d}"
            for quarter in range(11 * 4):
                hour, minute = 8 + quarter // 4, (quarter % 4) * 15
                busy = 1.0 + 2.0 * (hour in (9, 12, 13, 17))
                approaches = int(rng.expovariate(1 / (3 * busy)))
                completed = sum(rng.random() < 0.3 for _ in range(approaches))
                abandoned = sum(rng.random() < 0.1 for _ in range(approaches - completed))
                if not approaches:
                    continue
                start = f"2026-11-{day:02d}T{hour:02d}:{minute:02d}:00Z"
                for v in range(completed):
                    seq[device] = seq.get(device, 0) + 1
                    out.append(RecordItem(wire.make_record(
                        device, seq[device], "tp_visit", "2026112401", start, start.replace(":00Z", ":40Z"),
                        {"facility": FACILITIES[(k + v + hour) % len(FACILITIES)], "org_type": "sme",
                         "satisfaction": rng.randint(2, 5)}, _iid(f"bench-web-{device}-{seq[device]}")),
                        received, wire.topic_records(device)))
                seq[device] = seq.get(device, 0) + 1
                out.append(RecordItem(wire.make_record(
                    device, seq[device], "tp_presence", "2026113001", start, start, {
                        "interval_s": 900, "approaches": approaches, "dwell_s": 20 * approaches,
                        "started": completed + abandoned, "completed": completed, "abandoned": abandoned},
                    _iid(f"bench-web-{device}-{seq[device]}")), received, wire.topic_records(device)))
    return out


def build(path: Path, n_orgs: int, n_reports: int, seed: int = 42) -> str:
    """The bench database at ``path``; returns an analyst's bearer token."""
    from tiesense import access
    from tiesense.ingest import IngestCore, Message

    rng = random.Random(seed)
    with Store(path) as store:
        store.import_roster(roster(n_orgs, rng), source="bench.web")
        items = interview_items(n_orgs, n_reports, rng) + kiosk_items(rng)
        for i in range(0, len(items), 2000):
            store.write_batch(items[i:i + 2000])
        core = IngestCore()
        for k in range(KIOSKS):
            device = f"kiosk-{k + 1:02d}"
            status = wire.encode_status(True, fw="0.9.1", role="kiosk", queue=0, battery_mv=3900,
                                        time="2026-11-30T10:00:00Z", version=2, clock=wire.CLOCK_NTP,
                                        flash_free=200_000, storage_full=0, refused=0, errors=0)
            core.process(store, [Message(wire.topic_status(device), status, time.time())])
        return access.create_token(store, "bench-analyst", "analyst")


def time_recompute(path: Path, replicates: int, repeats: int) -> tuple[list[float], str]:
    """Wall seconds of ``tiesense ties recompute`` in a fresh process, per repeat; and its last output (the
    progress bar goes to stderr and is not kept)."""
    code = "import sys; from tiesense.cli import main; sys.argv[0] = 'tiesense'; main()"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    times, out = [], ""
    for _ in range(repeats):
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code, "ties", "recompute", "--db", str(path),
                               "--replicates", str(replicates)], capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - t0)
        if done.returncode:
            raise RuntimeError(f"tiesense ties recompute failed:\n{done.stdout}\n{done.stderr}")
        out = done.stdout  # the progress bar is on stderr
    return times, out


def time_get(client, url: str, repeats: int, before=None) -> tuple[list[float], int]:
    """Seconds per ``GET url`` after one untimed warm-up (``before()`` called untimed before each); and the
    body's size."""
    first = client.get(url)
    first.raise_for_status()
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        t0 = time.perf_counter()
        r = client.get(url)
        r.raise_for_status()
        _ = r.content
        times.append(time.perf_counter() - t0)
    return times, len(first.content)


def time_browser(base: str, token: str, repeats: int, via_overview: bool, full_plotly: bool = False) -> list[float]:
    """Milliseconds from navigation start to the frame after the network is drawn, a fresh context each time
    and the page's view cache emptied; ``via_overview``: the overview opened first in that context;
    ``full_plotly``: the page's plotly.js bundle answered by the server's full plotly.js instead (the
    baseline of the partial bundle, measured in the same run)."""
    from playwright.sync_api import sync_playwright

    from tiesense.web.pages import network

    if not os.access(CHROMIUM, os.X_OK):
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install -y chromium (or run with --no-browser)")
    out, bundles = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for i in range(repeats + 1):
                context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                              extra_http_headers={"Authorization": f"Bearer {token}"})
                page = context.new_page()
                if full_plotly:
                    page.route("**/assets/plotly/*.js*",
                               lambda route: route.fulfill(response=route.fetch(url=base + "/assets/plotly.js")))
                if via_overview:
                    page.goto(base + "/overview")
                    page.wait_for_selector("body[data-rendered~=overview]", timeout=60_000)
                network._VIEWS.clear()
                page.goto(base + "/network")
                page.wait_for_function("() => window.tiesense && window.tiesense.networkFrameMs", timeout=60_000)
                ms = page.evaluate("() => window.tiesense.networkFrameMs")
                bundles.append(page.evaluate("() => Plotly.version"))
                context.close()
                if i:  # the first is a warm-up (the server's first page, chromium's first start)
                    out.append(ms)
        finally:
            browser.close()
    print(f"  network page drawn with plotly.js {sorted(set(bundles))}", file=sys.stderr)
    return out


def _ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000


def _verdict(ms: float, target: float) -> str:
    return f"<= {target:,.0f} ms: {'yes' if ms <= target else 'NO'}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__.split("\n")[0])
    p.add_argument("--orgs", type=int, default=5000)
    p.add_argument("--reports", type=int, default=50_000)
    p.add_argument("--repeats", type=int, default=5, help="timed runs per figure (recompute: at most 3)")
    p.add_argument("--replicates", type=int, default=500, help="bootstrap replicates of ties recompute")
    p.add_argument("--no-browser", action="store_true", help="skip the chromium figure")
    p.add_argument("--keep", metavar="FILE", help="also copy the bench database to FILE")
    a = p.parse_args(argv)

    import httpx

    from tiesense.web import create_app
    from tiesense.web.server import ApiServer

    with tempfile.TemporaryDirectory(prefix="tiesense-bench-web-") as tmp:
        path = Path(tmp) / "web.db"
        t0 = time.perf_counter()
        token = build(path, a.orgs, a.reports)
        built = time.perf_counter() - t0
        print(f"tiesense web bench: {a.orgs} organisations, {a.reports} tie reports, {KIOSKS} kiosks x {DAYS} days "
              f"(built in {built:.1f} s, not timed); medians of {a.repeats}")
        rec_times, rec_out = time_recompute(path, a.replicates, min(a.repeats, 3))
        if a.keep:
            shutil.copyfile(path, a.keep)
        with Store(path) as probe:
            ties = probe.conn.execute("SELECT count(*) FROM tie_estimates WHERE estimator = 'composite'").fetchone()[0]
        store = Store(path)
        server = ApiServer(create_app(store), "127.0.0.1", 0).start()
        rows = []
        try:
            client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
            health, _ = time_get(client, "/api/health", a.repeats)
            base_ms = _ms(health)
            rows.append(("ties recompute", f"{a.replicates} replicates, {ties} dyads", _ms(rec_times), "",
                         _verdict(_ms(rec_times), TARGETS_MS["recompute"])))
            from tiesense.web.pages import network

            for label, url, target, before in (
                    ("GET /network, cold", "/network", "network", network._VIEWS.clear),
                    ("GET /network, cached", "/network", "network", None),
                    ("GET /overview", "/overview", "overview", None),
                    ("GET /overview/data.json", "/overview/data.json", "overview", None)):
                times, size = time_get(client, url, a.repeats, before)
                rows.append((label, f"{size / 1024:,.0f} KiB", _ms(times), f"{_ms(times) / base_ms:.0f}x",
                             _verdict(_ms(times), TARGETS_MS[target])))
            rows.append(("GET /api/health (baseline)", "", base_ms, "1x", ""))
            client.close()
            if not a.no_browser:
                for label, via, full in (("network page in chromium, from the overview", True, False),
                                         ("network page in chromium, first visit", False, False),
                                         ("network page in chromium, first visit, full plotly.js", False, True)):
                    ms = statistics.median(time_browser(server.url, token, a.repeats, via, full))
                    rows.append((label, "navigation to drawn frame", ms, "", _verdict(ms, TARGETS_MS["browser"])))
        finally:
            server.stop()
            store.close()
    print()
    print("| figure | size | median | vs baseline | target |")
    print("|---|---|---|---|---|")
    for label, size, ms, ratio, verdict in rows:
        print(f"| {label} | {size} | {ms:,.0f} ms | {ratio} | {verdict} |")
    print()
    print("ties recompute said: " + " / ".join(line.strip() for line in rec_out.strip().splitlines()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
