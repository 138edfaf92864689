"""Benchmark the structural kernels against NetworkX, igraph and NetworKit.

Usage (from the repository root)::

    .venv/bin/python -m bench.structure --sizes 10k,100k
    .venv/bin/python -m bench.structure --sizes 1M          # long profile

One seeded random weighted graph per size (m requested edges, n = m / 10
nodes, weights uniform in [0.1, 10); self-loops dropped and repeats merged,
so the actual edge count is printed) is built once and handed to every
contender in its own format. Construction is not timed. Each contender's
call is repeated and the median wall time printed, then the ratio of each
contender to tiesense (above 1: tiesense is faster), the target verdict,
and the memory peak of one separate call.

Memory peak is the larger of tracemalloc's peak (sees numpy and Python
allocations) and the growth of the process's peak RSS (VmHWM, reset through
/proc/self/clear_refs; sees C and C++ heaps such as igraph's and
NetworKit's). Freed memory that is reused without growing the RSS is not
seen by the second, so treat small figures as lower bounds.

NetworkX is timed on a random sample of the nodes (or edges, or
betweenness sources) when the graph has more than ``NX_CAPS`` of them, and
its time scaled up to the whole graph; the table says so, and its results
are checked against tiesense on the sampled entries.
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from tiesense.ties import Graph, structure

CONTENDERS = ("tiesense", "networkx", "igraph", "networkit", "numpy")
MEASURES = ("overlap", "constraint", "disparity", "strength", "clustering", "betweenness")


def parse_size(text: str) -> int:
    """``10k`` -> 10000, ``1M`` -> 1000000, ``2500`` -> 2500."""
    text = text.strip()
    scale = {"k": 10**3, "K": 10**3, "m": 10**6, "M": 10**6}.get(text[-1:], 1)
    return int(float(text[:-1] if scale != 1 else text) * scale)


def label(m: int) -> str:
    if m >= 10**6 and m % 10**6 == 0:
        return f"{m // 10**6}M"
    if m >= 10**3 and m % 10**3 == 0:
        return f"{m // 10**3}k"
    return str(m)


def random_graph(m: int, seed: int = 42) -> Graph:
    """The benchmark graph: uniform random endpoints over n = m/10 nodes."""
    n = max(m // 10, 2)
    rng = np.random.default_rng(seed)
    u = rng.integers(0, n, m)
    v = rng.integers(0, n, m)
    w = rng.uniform(0.1, 10.0, m)
    return Graph.from_edges(u, v, w, n=n)


@dataclass
class Bundle:
    """The same graph in every contender's format."""

    g: Graph
    u: np.ndarray
    v: np.ndarray
    w: np.ndarray
    ig: object = None
    ig_pairs: list = None        # edges as the list of pairs igraph's API takes
    nk: object = None
    nk_uv: tuple = None          # NetworKit edge endpoints by edge id
    nx: object = None
    nx_nodes: list = field(default_factory=list)   # nodes NetworkX runs on
    nx_edges: list = field(default_factory=list)   # edges NetworkX runs on
    nx_scale: float = 1.0                          # whole graph / sample
    nk_dist: object = None       # NetworKit copy weighted by 1/w (betweenness)
    bt_k: int = 0                # NetworkX betweenness sources
    nx_pick: np.ndarray = None   # positions of the sample in tiesense's output
    threads: int = 1             # threads for NetworKit and tiesense betweenness


def build(g: Graph, nk_threads: int) -> Bundle:
    import igraph as ig
    import networkit as nk
    import networkx as nx

    u, v, w = g.edges()
    b = Bundle(g, u, v, w, threads=nk_threads)
    b.ig = ig.Graph(n=g.n, edges=np.column_stack([u, v]).tolist())
    b.ig.es["weight"] = w.tolist()
    b.ig.es["dist"] = (1.0 / w).tolist()
    b.ig_pairs = np.column_stack([u, v]).tolist()
    nk.setNumberOfThreads(nk_threads)
    G = nk.Graph(g.n, weighted=True)
    G.addEdges((w, (u.astype(np.int64), v.astype(np.int64))))
    G.indexEdges()
    eu = np.empty(G.upperEdgeIdBound(), dtype=np.int64)
    ev = np.empty_like(eu)

    def put(a, c, _w, eid):
        eu[eid] = a
        ev[eid] = c

    G.forEdges(put)
    b.nk, b.nk_uv = G, (eu, ev)
    X = nx.Graph()
    X.add_nodes_from(range(g.n))
    X.add_weighted_edges_from(zip(u.tolist(), v.tolist(), w.tolist()))
    for _, _, d in X.edges(data=True):
        d["dist"] = 1.0 / d["weight"]
    b.nx = X
    return b


def sample_for_networkx(b: Bundle, measure: str, cap: int, seed: int) -> None:
    """Point NetworkX at ``cap`` random nodes (or edges) of the graph, or all of them."""
    rng = np.random.default_rng(seed + 1)
    per_edge = measure in ("overlap", "disparity")
    total = b.g.m if per_edge else b.g.n
    take = total if cap <= 0 or cap >= total else cap
    pick = np.sort(rng.choice(total, take, replace=False)) if take < total else np.arange(total)
    b.nx_scale = total / max(take, 1)
    if per_edge:
        b.nx_edges = list(zip(b.u[pick].tolist(), b.v[pick].tolist()))
        b.nx_pick = pick
    else:
        b.nx_nodes = pick.tolist()
        b.nx_pick = pick
    return b


# --- contenders: measure -> contender -> (call, result as tiesense-aligned array or None) ---

def _nx_overlap(b: Bundle):
    import networkx as nx

    G = b.nx
    out = []
    for a, c in b.nx_edges:
        n_ac = sum(1 for _ in nx.common_neighbors(G, a, c))
        den = G.degree(a) + G.degree(c) - 2 - n_ac
        out.append(n_ac / den if den else 0.0)
    return np.array(out)


def _ig_overlap(b: Bundle):
    jac = np.array(b.ig.similarity_jaccard(pairs=b.ig_pairs, loops=False))
    k = np.array(b.ig.degree())
    ks = k[b.u] + k[b.v]
    common = np.rint(jac * ks / (1.0 + jac))
    den = ks - 2 - common
    return np.divide(common, den, out=np.zeros_like(common), where=den > 0)


def _nk_overlap(b: Bundle):
    import networkit as nk

    s = nk.sparsification.TriangleEdgeScore(b.nk)
    s.run()
    common = np.asarray(s.scores(), dtype=np.float64)
    k = np.diff(b.g.indptr)  # degrees: part of the graph, as nk's own degree() would be
    eu, ev = b.nk_uv
    den = k[eu] + k[ev] - 2 - common
    return np.divide(common, den, out=np.zeros_like(common), where=den > 0)


def _nk_to_edges(b: Bundle, per_id: np.ndarray) -> np.ndarray:
    """NetworKit per-edge-id values in ``g.edges()`` order."""
    eu, ev = b.nk_uv
    lo, hi = np.minimum(eu, ev), np.maximum(eu, ev)
    pos = np.lexsort((hi, lo))   # g.edges() is sorted by (u, v)
    return per_id[pos]


def _numpy_disparity(b: Bundle):
    g = b.g
    k = np.diff(g.indptr)
    s = np.add.reduceat(g.data, g.indptr[:-1]) if g.m else np.zeros(g.n)
    au = (1.0 - b.w / s[b.u]) ** (k[b.u] - 1)
    av = (1.0 - b.w / s[b.v]) ** (k[b.v] - 1)
    return np.minimum(au, av)


def _nx_disparity(b: Bundle):
    G = b.nx
    out = []
    for a, c in b.nx_edges:
        w = G[a][c]["weight"]
        al = []
        for x in (a, c):
            k = G.degree(x)
            al.append(1.0 if k == 1 else (1.0 - w / G.degree(x, weight="weight")) ** (k - 1))
        out.append(min(al))
    return np.array(out)


def _nx_nodes(fn):
    def call(b: Bundle):
        res = fn(b.nx, b.nx_nodes)
        return np.array([res[x] for x in b.nx_nodes])
    return call


def _nk_clustering(b: Bundle):
    import networkit as nk

    c = nk.centrality.LocalClusteringCoefficient(b.nk, turbo=True)
    c.run()
    return np.asarray(c.scores())


def _nk_betweenness(b: Bundle):
    import networkit as nk

    # NetworKit reads distances from the edge weights: a 1/w copy, built untimed
    bt = nk.centrality.Betweenness(b.nk_dist, normalized=False)
    bt.run()
    return np.asarray(bt.scores()) / 2.0  # NetworKit counts ordered pairs


def _nx_betweenness(b: Bundle):
    import networkx as nx

    G = b.nx
    if b.bt_k >= b.g.n:
        res = nx.betweenness_centrality(G, weight="dist", normalized=False)
        return np.array([res[x] for x in range(b.g.n)])
    # k sources only: the time scales by n / k, the values are an estimate
    nx.betweenness_centrality(G, k=b.bt_k, weight="dist", normalized=False, seed=1)
    return None


def contenders(measure: str) -> dict[str, Callable]:
    import networkx as nx

    if measure == "overlap":
        return {"tiesense": lambda b: structure.overlap(b.g), "networkx": _nx_overlap,
                "igraph": _ig_overlap, "networkit": _nk_overlap}
    if measure == "constraint":
        return {"tiesense": lambda b: structure.constraint(b.g),
                "networkx": _nx_nodes(lambda G, ns: nx.constraint(G, nodes=ns, weight="weight")),
                "igraph": lambda b: np.array(b.ig.constraint(weights="weight"))}
    if measure == "disparity":
        return {"tiesense": lambda b: structure.disparity(b.g), "networkx": _nx_disparity,
                "numpy": _numpy_disparity}
    if measure == "strength":
        return {"tiesense": lambda b: structure.strength(b.g),
                "networkx": _nx_nodes(lambda G, ns: dict(G.degree(ns, weight="weight"))),
                "igraph": lambda b: np.array(b.ig.strength(weights="weight")),
                "numpy": lambda b: np.bincount(np.concatenate([b.u, b.v]),
                                               weights=np.concatenate([b.w, b.w]), minlength=b.g.n)}
    if measure == "clustering":
        return {"tiesense": lambda b: structure.clustering(b.g),
                "networkx": _nx_nodes(lambda G, ns: nx.clustering(G, nodes=ns)),
                "igraph": lambda b: np.array(b.ig.transitivity_local_undirected(mode="zero")),
                "networkit": _nk_clustering}
    if measure == "betweenness":
        return {"tiesense": lambda b: structure.betweenness(b.g, normalized=False, threads=b.threads),
                "networkx": _nx_betweenness,
                "igraph": lambda b: np.array(b.ig.betweenness(weights="dist")),
                "networkit": _nk_betweenness}
    raise ValueError(measure)


def _nx_view(measure: str, b: Bundle, full: np.ndarray):
    """The entries of tiesense's result that the NetworkX sample covers."""
    return full if measure == "betweenness" else full[b.nx_pick]


# --- timing and memory ---

def _rss_peak_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def memory_peak_mib(call: Callable, b: Bundle) -> float:
    """Peak extra memory of one call (MiB): max of tracemalloc and RSS growth."""
    gc.collect()
    rss_ok = _reset_peak()
    base = _rss_kib()
    tracemalloc.start()
    try:
        call(b)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss = max(0, _rss_peak_kib() - base) * 1024 if rss_ok else 0
    return max(peak, rss) / 2**20


def median_time(call: Callable, b: Bundle, repeats: int, warm_up: bool = True):
    """``(median seconds, last result)`` of ``repeats`` calls, after one untimed call."""
    if warm_up:
        call(b)  # imports, first-touch pages, tiesense's one-time graph check
    times = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        res = call(b)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), res


@dataclass
class Row:
    measure: str
    size: str
    m: int
    times: dict
    mem: dict
    agree: dict
    nx_sampled: bool
    verdict: str
    nx_scale: float = 1.0


def verdict(measure: str, times: dict) -> str:
    ts = times["tiesense"]
    notes = []
    peers = {k: times[k] for k in ("igraph", "networkit") if k in times}
    if peers:
        best = min(peers, key=peers.get)
        ratio = ts / peers[best]
        if ratio <= 1.5:
            notes.append(f"peer ok ({ratio:.2f}x {best})")
        else:
            notes.append(f"peer NOT met ({ratio:.2f}x {best})")
    if "networkx" in times:
        speed = times["networkx"] / ts
        notes.append(f"nx {'ok' if speed >= 50 else 'NOT met'} ({speed:.0f}x)")
    if not peers and "numpy" in times:
        ratio = ts / times["numpy"]
        notes.append(f"numpy {'ok' if ratio <= 1.5 else 'NOT met'} ({ratio:.2f}x)")
    return "; ".join(notes)


# NetworkX is timed on at most this many nodes (edges for overlap and
# disparity; sources for betweenness) and scaled to the whole graph: its
# constraint costs about 15 ms per node of degree 20, so all 100k nodes of
# the 1M graph would take half an hour per call.
NX_CAPS = {"overlap": 50_000, "disparity": 50_000, "strength": 0, "clustering": 20_000,
           "constraint": 50, "betweenness": 100}


def run(sizes: list[int], measures: list[str], repeats: int, nx_caps: dict,
        seed: int, nk_threads: int, betweenness_max: int, memory: bool, log=sys.stderr,
        bt_full_n: int = 300) -> list[Row]:
    rows = []
    for m_req in sizes:
        t0 = time.perf_counter()
        g = random_graph(m_req, seed)
        b = build(g, nk_threads)
        t_check = time.perf_counter()
        structure.check_graph(g)
        t_check = time.perf_counter() - t_check
        print(f"# {label(m_req)}: n={g.n} m={g.m} built in {time.perf_counter() - t0:.1f} s; "
              f"tiesense graph check (once per Graph, untimed below) {t_check * 1e3:.1f} ms",
              file=log, flush=True)
        for measure in measures:
            if measure == "betweenness" and g.m > betweenness_max:
                continue
            if measure == "betweenness":
                import networkit as nk

                D = nk.Graph(g.n, weighted=True)
                D.addEdges((1.0 / b.w, (b.u.astype(np.int64), b.v.astype(np.int64))))
                b.nk_dist = D
                cap = nx_caps.get("betweenness", 100)
                b.bt_k = g.n if cap <= 0 or g.n <= max(cap, bt_full_n) else cap
            if measure == "betweenness":
                scale = g.n / max(b.bt_k, 1)
            else:
                sample_for_networkx(b, measure, nx_caps.get(measure, 0), seed)
                scale = b.nx_scale
            calls = contenders(measure)
            times, mem, agree = {}, {}, {}
            ref = calls["tiesense"](b)
            for name, call in calls.items():
                slow = name == "networkx"  # pure Python: no warm-up, at most 3 calls
                times[name], got = median_time(call, b, min(repeats, 3) if slow else repeats,
                                               warm_up=not slow)
                if name == "networkx":
                    times[name] *= scale
                if memory:
                    mem[name] = memory_peak_mib(call, b)
                if name != "tiesense":
                    if got is None:
                        agree[name] = "n/c"
                        continue
                    want = ref
                    if name == "networkx":
                        want = _nx_view(measure, b, ref)
                    if name == "networkit" and measure == "overlap":
                        want = ref
                        got = _nk_to_edges(b, got)
                    ok = np.allclose(got, want, rtol=1e-9, atol=1e-9, equal_nan=True)
                    agree[name] = "yes" if ok else f"NO ({np.nanmax(np.abs(got - want)):.1e})"
                print(f"#   {measure:<11} {name:<9} {times[name]:.4g} s", file=log, flush=True)
            rows.append(Row(measure, label(m_req), g.m, times, mem, agree,
                            scale != 1.0, verdict(measure, times), scale))
        del b, g
        gc.collect()
    return rows


def _fmt_t(t):
    if t is None:
        return "—"
    return f"{t * 1e3:.2f} ms" if t < 1 else f"{t:.2f} s"


def table(rows: list[Row], memory: bool) -> str:
    head = ["measure", "size", "m", "tiesense", "NetworkX", "igraph", "NetworKit", "numpy",
            "nx/ts", "ig/ts", "nk/ts", "np/ts", "agree", "target"]
    if memory:
        head.insert(-2, "peak MiB ts/nx/ig/nk/np")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        t = r.times
        ts = t["tiesense"]
        nx_cell = _fmt_t(t.get("networkx"))
        if r.nx_sampled and "networkx" in t:
            nx_cell += f" (sample 1/{r.nx_scale:.0f}, scaled)"
        cells = [r.measure, r.size, str(r.m), _fmt_t(ts), nx_cell, _fmt_t(t.get("igraph")),
                 _fmt_t(t.get("networkit")), _fmt_t(t.get("numpy"))]
        for k in ("networkx", "igraph", "networkit", "numpy"):
            cells.append(f"{t[k] / ts:.1f}" if k in t else "—")
        if memory:
            cells.append("/".join(f"{r.mem[k]:.1f}" if k in r.mem else "—" for k in CONTENDERS))
        short = {"networkx": "nx", "igraph": "ig", "networkit": "nk", "numpy": "np"}
        cells.append(", ".join(f"{short[k]} {v}" for k, v in r.agree.items()) or "—")
        cells.append(r.verdict)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.structure", description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="10k,100k", help="edge counts, e.g. 10k,100k or 1M")
    p.add_argument("--measures", default="overlap,constraint,disparity,strength,clustering,betweenness",
                   help=f"comma list from {', '.join(MEASURES)}")
    p.add_argument("--repeats", type=int, default=5, help="timed calls per contender (median)")
    p.add_argument("--nx-cap", action="append", default=[], metavar="MEASURE=N",
                   help="NetworkX sample size for a measure (0: whole graph); defaults "
                   + ", ".join(f"{k}={v}" for k, v in NX_CAPS.items()))
    p.add_argument("--threads", type=int, default=2,
                   help="threads for NetworKit and for tiesense betweenness (other tiesense kernels and igraph use 1)")
    p.add_argument("--betweenness-max", default="20k", help="skip betweenness above this many edges")
    p.add_argument("--no-memory", action="store_true", help="skip the memory-peak calls")
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args(argv)
    measures = [x.strip() for x in a.measures.split(",") if x.strip()]
    bad = set(measures) - set(MEASURES)
    if bad:
        p.error(f"unknown measures: {', '.join(sorted(bad))}")
    sizes = [parse_size(s) for s in a.sizes.split(",") if s.strip()]
    caps = dict(NX_CAPS)
    for item in a.nx_cap:
        k, _, v = item.partition("=")
        if k not in MEASURES or not v:
            p.error(f"--nx-cap wants MEASURE=N, got {item!r}")
        caps[k] = parse_size(v)
    rows = run(sizes, measures, a.repeats, caps, a.seed,
               a.threads, parse_size(a.betweenness_max), not a.no_memory)
    print(f"tiesense structure bench: median of {a.repeats} (NetworkX: up to 3), seed {a.seed}, "
          f"threads: NetworKit {a.threads}, tiesense betweenness {a.threads}, everything else 1; "
          f"{os.cpu_count()} cores")
    print(table(rows, not a.no_memory))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
