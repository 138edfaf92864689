"""The structure benchmark runs end to end at a tiny size and prints every row."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench import structure as bench

ROOT = Path(__file__).resolve().parents[2]


def test_bench_prints_every_measure_with_agreeing_contenders():
    out = subprocess.run(
        [sys.executable, "-m", "bench.structure", "--sizes", "1500", "--repeats", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| measure")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in rows]
    assert [c[0] for c in cells] == list(bench.MEASURES)
    head = [c.strip() for c in out.splitlines()[1].strip("|").split("|")]
    agree = head.index("agree")
    for c in cells:
        assert c[1] == "1500"
        assert c[3].endswith("ms") or c[3].endswith(" s")       # tiesense timed
        assert "NO" not in c[agree], c                            # every contender agrees
        assert c[-1], c                                           # a target verdict
    by = {c[0]: c for c in cells}
    # who has what: NetworKit has no constraint or disparity, NetworkX has everything here
    assert by["constraint"][head.index("NetworKit")] == "—"
    assert by["disparity"][head.index("igraph")] == "—"
    assert all(by[m][head.index("NetworkX")] != "—" for m in bench.MEASURES)


def test_parse_size_and_graph_shape():
    assert bench.parse_size("10k") == 10_000 and bench.parse_size("1M") == 1_000_000
    assert bench.parse_size("2500") == 2500 and bench.label(100_000) == "100k"
    g = bench.random_graph(5000, seed=3)
    assert g.n == 500 and 4800 < g.m <= 5000
    h = bench.random_graph(5000, seed=3)
    assert (g.indices == h.indices).all() and (g.data == h.data).all()
