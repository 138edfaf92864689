"""The structure benchmark's graph sizes and generator (its table is checked in tests/test_bench_smoke.py)."""
from __future__ import annotations

from bench import structure as bench


def test_parse_size_and_graph_shape():
    assert bench.parse_size("10k") == 10_000 and bench.parse_size("1M") == 1_000_000
    assert bench.parse_size("2500") == 2500 and bench.label(100_000) == "100k"
    g = bench.random_graph(5000, seed=3)
    assert g.n == 500 and 4800 < g.m <= 5000
    h = bench.random_graph(5000, seed=3)
    assert (g.indices == h.indices).all() and (g.data == h.data).all()
