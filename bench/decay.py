"""Claimed figure: DecayTable.observe costs <= 5 microseconds per incremental update.

Run: .venv/bin/python bench/decay.py [--events 200000] [--nodes 5000] [--repeats 7]

Each repeat feeds a fresh table the same time-ordered stream of random dyads
(about 60% of updates hit an existing dyad) one ``observe`` call at a time, as
live ingest does, and divides the wall time by the number of events. The
median over repeats is reported, next to the pure-Python reference and the
batch recomputation over the same stream.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from tiesense.ties.decay import DecayTable, decay_batch
from tiesense.ties.reference_estimators import decay_reference


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--nodes", type=int, default=5_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--half-life", type=float, default=30.0)
    args = ap.parse_args()

    rng = np.random.default_rng(1)
    n_pairs = max(1, args.events // 3)
    pool_u = rng.integers(0, args.nodes, n_pairs)
    pool_v = (pool_u + 1 + rng.integers(0, args.nodes - 1, n_pairs)) % args.nodes
    pick = rng.integers(0, n_pairs, args.events)
    u, v = pool_u[pick].tolist(), pool_v[pick].tolist()
    t = np.cumsum(rng.exponential(0.01, args.events)).tolist()
    events = list(zip(u, v, t))

    per_update = []
    for _ in range(args.repeats):
        tab = DecayTable(args.half_life)
        observe = tab.observe
        start = time.perf_counter()
        for a, b, ti in events:
            observe(a, b, ti)
        per_update.append((time.perf_counter() - start) / args.events)
    med = statistics.median(per_update)

    many = []
    ua, va, ta = np.array(u), np.array(v), np.array(t)
    for _ in range(args.repeats):
        tab2 = DecayTable(args.half_life)
        start = time.perf_counter()
        for lo in range(0, args.events, 50):  # ingest batches of 50 records
            tab2.observe_many(ua[lo:lo + 50], va[lo:lo + 50], ta[lo:lo + 50])
        many.append((time.perf_counter() - start) / args.events)

    start = time.perf_counter()
    decay_reference(events, args.half_life)
    ref = (time.perf_counter() - start) / args.events

    batch = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        decay_batch(u, v, t, half_life=args.half_life)
        batch.append((time.perf_counter() - start) / args.events)

    print(f"events={args.events} dyads={len(tab)} nodes={args.nodes} repeats={args.repeats}")
    print(f"DecayTable.observe   median {med * 1e6:.3f} us/update  (min {min(per_update) * 1e6:.3f}, max {max(per_update) * 1e6:.3f})")
    print(f"observe_many (batches of 50) {statistics.median(many) * 1e6:.3f} us/update")
    print(f"pure-Python reference       {ref * 1e6:.3f} us/update")
    print(f"decay_batch (from scratch)  {statistics.median(batch) * 1e6:.3f} us/event")
    print(f"target <= 5 us/update: {'met' if med <= 5e-6 else 'NOT met'}")


if __name__ == "__main__":
    main()
