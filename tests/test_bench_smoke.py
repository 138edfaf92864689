"""`python -m bench` runs every benchmark end to end at a tiny size, checking results against the baselines.

This is the one bench smoke run of the suite; the long profiles are documented in bench/README.md."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench import structure

ROOT = Path(__file__).resolve().parents[1]


def test_one_command_prints_structure_estimator_decay_ingest_and_web_tables():
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--sizes", "1500", "--repeats", "1", "--device-blocks", "24"],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=True,
    ).stdout
    assert "tiesense structure bench" in out and "tiesense estimator bench" in out
    est = [line for line in out.splitlines() if line.startswith("| composite") or line.startswith("| reconcile")]
    assert [line.split("|")[1].strip() for line in est] == ["composite", "reconcile (mean)"]
    for line in est:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1] == "1500" and cells[4].endswith("x")
    assert "DecayTable.observe   median" in out and "target <= 5 us/update" in out
    ingest = [line for line in out.splitlines() if line.startswith("| amqtt") or line.startswith("| Mosquitto")]
    assert "| batch | synchronous |" in out  # the store table
    assert len(ingest) == 4 and all(line.rstrip().rstrip("|").split("|")[-1].strip()[0].isdigit() for line in ingest)
    serial = [line for line in out.splitlines() if line.startswith("| 1024 |") or line.startswith("| 16384 |")]
    assert "tiesense serial offload bench: 150 records" in out and len(serial) == 2, out[-800:]
    check_structure_table(out)
    check_device_log_table(out)
    check_web_table(out)


def check_web_table(out: str) -> None:
    """The web bench: 300 organisations and 1,500 reports built, recomputed, served and drawn, every figure."""
    assert "tiesense web bench: 300 organisations, 1500 tie reports" in out
    rows = {}
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("tiesense web bench"))
    for line in lines[start + 1:]:
        if line.startswith("ties recompute said"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 5 and cells[2].endswith(" ms"):
            rows[cells[0]] = cells
    assert list(rows) == ["ties recompute", "GET /network, cold", "GET /network, cached", "GET /overview",
                          "GET /overview/data.json", "GET /api/health (baseline)",
                          "network page in chromium, from the overview", "network page in chromium, first visit",
                          "network page in chromium, first visit, full plotly.js"]
    assert rows["ties recompute"][1].startswith("20 replicates, ")
    assert int(rows["ties recompute"][1].split(", ")[1].split()[0]) > 1000  # dyads estimated from the reports
    assert all(float(r[2].split()[0].replace(",", "")) > 0 for r in rows.values())
    assert all(r[4].startswith("<= ") for label, r in rows.items() if "health" not in label)
    assert "dyads estimated (composite, mean, 20 bootstrap replicates)" in out


def check_device_log_table(out: str) -> None:
    """The device log fills 96 KiB to StorageFull, is acked empty, and fills again."""
    assert "tiesense device log bench: 24 blocks of 4096 bytes" in out
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and cells[0] in ("fill", "reopen", "ack all", "refill"):
            rows[cells[0]] = cells
    assert list(rows) == ["fill", "reopen", "ack all", "refill"]
    held = {k: int(v[1].replace(",", "")) for k, v in rows.items()}
    assert held["fill"] > 100 and held["reopen"] == held["fill"] and held["ack all"] == 0
    # as much again, give or take the few blocks littlefs keeps for a directory that held many segment files
    assert held["refill"] >= held["fill"] * 0.97
    assert rows["fill"][9] == rows["refill"][9] == "StorageFull"
    assert rows["ack all"][9] == "—"


def check_structure_table(out: str) -> None:
    """Every structural measure printed once at the size asked, every contender agreeing."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| measure"))
    head = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("| "):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    assert [c[0] for c in rows] == list(structure.MEASURES)
    agree = head.index("agree")
    for c in rows:
        assert c[1] == "1500"
        assert c[3].endswith("ms") or c[3].endswith(" s")       # tiesense timed
        assert "NO" not in c[agree], c                            # every contender agrees
        assert c[-1], c                                           # a target verdict
    by = {c[0]: c for c in rows}
    # who has what: NetworKit has no constraint or disparity, NetworkX has everything here
    assert by["constraint"][head.index("NetworKit")] == "—"
    assert by["disparity"][head.index("igraph")] == "—"
    assert all(by[m][head.index("NetworkX")] != "—" for m in structure.MEASURES)
