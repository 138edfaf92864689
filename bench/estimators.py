"""Benchmark the survey composite and dyad reconciliation against their pure-Python references.

Usage (from the repository root)::

    .venv/bin/python -m bench.estimators --sizes 10k,100k
    .venv/bin/python -m bench.estimators --sizes 1M     # long profile

No graph library has these estimators, so the baseline is the obvious
pure-Python computation (:mod:`tiesense.ties.reference_estimators`, and a
dict-based reconciliation written here), timed in the same run. Above
``--ref-cap`` rows the reference runs on a random sample and its time is
scaled linearly (both are linear in the number of reports), which the table
marks. Results are checked equal to 1e-9 on the rows both computed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from tiesense.ties.estimators import DEFAULT_WEIGHTS, reconcile_dyads, survey_composite
from tiesense.ties.reference_estimators import composite_reference

from .structure import label, parse_size


def reports(m: int, seed: int = 7) -> dict:
    """m survey reports among m/5 organisations, with some answers missing."""
    rng = np.random.default_rng(seed)
    n = max(10, m // 5)
    r = rng.integers(0, n, m)
    p = (r + 1 + rng.integers(0, n - 1, m)) % n
    cols = {"frequency": rng.integers(1, 7, m).astype(float), "duration": rng.integers(0, 30, m).astype(float),
            "closeness": rng.integers(1, 6, m).astype(float), "multiplexity": rng.integers(1, 7, m).astype(float),
            "reciprocity": rng.integers(0, 2, m).astype(float)}
    for c in ("duration", "reciprocity"):
        cols[c][rng.random(m) < 0.1] = np.nan
    return {"respondent": r, "partner": p, **cols}


def reconcile_reference(respondent, partner, value) -> dict:
    """Mean of the two sides' mean reports per unordered dyad, with plain dicts."""
    side: dict = {}
    for a, b, x in zip(respondent, partner, value):
        side.setdefault((a, b), []).append(x)
    out: dict = {}
    for (a, b), xs in side.items():
        out.setdefault((min(a, b), max(a, b)), []).append(sum(xs) / len(xs))
    return {k: sum(v) / len(v) for k, v in out.items()}


def median_time(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(sizes, repeats: int, ref_cap: int) -> list[tuple]:
    rows = []
    names = ["frequency", "duration", "closeness", "multiplexity", "reciprocity"]
    for m in sizes:
        d = reports(m)
        cols = [d[k] for k in names]
        fast = survey_composite(*cols)
        t_fast = median_time(lambda: survey_composite(*cols), repeats)
        k = min(m, ref_cap)
        sample = {c: d[c][:k].tolist() for c in names}
        ref = composite_reference(sample, DEFAULT_WEIGHTS)
        want = survey_composite(*[d[c][:k] for c in names])
        assert np.allclose(ref, want, atol=1e-9, equal_nan=True), "composite disagrees with its reference"
        t_ref = median_time(lambda: composite_reference(sample, DEFAULT_WEIGHTS), min(repeats, 3)) * m / k
        rows.append(("composite", label(m), t_fast, t_ref, k < m))

        t_fast = median_time(lambda: reconcile_dyads(d["respondent"], d["partner"], fast, "mean"), repeats)
        rs, ps, vs = d["respondent"][:k].tolist(), d["partner"][:k].tolist(), fast[:k].tolist()
        got = reconcile_dyads(d["respondent"][:k], d["partner"][:k], fast[:k], "mean")
        ref_d = reconcile_reference(rs, ps, vs)
        assert all(abs(ref_d[(int(a), int(b))] - x) < 1e-9 for a, b, x in zip(got.u, got.v, got.value))
        t_ref = median_time(lambda: reconcile_reference(rs, ps, vs), min(repeats, 3)) * m / k
        rows.append(("reconcile (mean)", label(m), t_fast, t_ref, k < m))
    return rows


def _fmt(t: float) -> str:
    return f"{t * 1e3:.2f} ms" if t < 1 else f"{t:.2f} s"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.estimators", description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="10k,100k", help="numbers of survey reports, e.g. 10k,100k or 1M")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--ref-cap", default="100k", help="largest sample the pure-Python reference runs on")
    a = p.parse_args(argv)
    rows = run([parse_size(s) for s in a.sizes.split(",") if s.strip()], a.repeats, parse_size(a.ref_cap))
    print(f"tiesense estimator bench: median of {a.repeats}, {os.cpu_count()} cores")
    print("| estimator | reports | tiesense | pure Python | ratio |")
    print("|---|---|---|---|---|")
    for name, size, t_fast, t_ref, sampled in rows:
        print(f"| {name} | {size} | {_fmt(t_fast)} | {_fmt(t_ref)}{' (sampled, scaled)' if sampled else ''} "
              f"| {t_ref / t_fast:.0f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
