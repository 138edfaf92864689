"""`python -m bench` runs every benchmark end to end at a tiny size, checking results against the baselines."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_one_command_prints_structure_estimator_decay_and_ingest_tables():
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--sizes", "1500", "--repeats", "1"],
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
    assert len(ingest) == 2 and all(line.rstrip().rstrip("|").split("|")[-1].strip()[0].isdigit() for line in ingest)
