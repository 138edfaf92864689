"""Tie estimates from the database: recomputed on demand, updated live as records arrive.

The interview instrument ``fi_partner`` gives one record per partner a
respondent names (roster codes for both organisations). From those records:

* ``composite``: the survey composite (:func:`tiesense.ties.estimators.survey_composite`)
  of every report, reconciled per dyad (:func:`~tiesense.ties.estimators.reconcile_dyads`),
  with a bootstrap interval over respondents
  (:func:`~tiesense.ties.uncertainty.dyad_intervals`). Recomputed on demand
  (``tiesense ties recompute``): standardisation is over all reports, so a new
  report changes every value.
* ``decayed_rate``: reports per day, exponentially decayed with a half-life
  (:class:`~tiesense.ties.decay.DecayTable`), with a Gamma-Poisson interval
  (:func:`~tiesense.ties.uncertainty.decayed_rate_interval`). Updated
  incrementally by the host after each committed ingest batch, O(1) per record.

From the reconciled composite graph, :func:`recompute_measures` writes node
measures per organisation (``org_measures``) and cluster-level measures
(``cluster_measures``), each with a respondent-bootstrap interval.

Both estimators are written to the ``tie_estimates`` table that dashboards and exports
read: one row per (u, v, estimator) with ``u < v`` roster codes, value, low,
high, observations, confirmed, disagreement, updated_at.

Everything here reads and writes through a :class:`~tiesense.store.Store`
(which owns the tables and their SQL); this module holds the estimator wiring only.
"""
from __future__ import annotations

import calendar
import functools
import math
import threading
import time
from typing import Callable, Iterable

import numpy as np

from . import wire
from .forms import choices_of
from .store import Store
from .store import rows as _rows
from .ties import structure
from .ties.cluster import hub_dependence
from .ties.decay import DecayTable
from .ties.graph import Graph
from .ties.estimators import DEFAULT_ANCHORS, reconcile_dyads, survey_composite
from .ties.uncertainty import ResampledDyads, bootstrap_counts, decayed_rate_interval, dyad_intervals

#: The interview instruments whose tie reports feed the estimators: the firm-interaction
#: interview (one record per respondent, a pass per partner) and its one-record-per-partner predecessor.
INTERVIEW_FORMS = ("fi_interview", "fi_partner")
INTERVIEW_FORM = "fi_partner"  # the older instrument, kept readable
DAY = 86400.0
DEFAULT_HALF_LIFE_DAYS = 180.0
#: Reciprocity of a report: fi_partner asked it; fi_interview asks which way knowledge flows
#: (both ways is mutual), and where that went unanswered, who started the tie (both is mutual).
RECIPROCITY = {"mutual": 1.0, "we": 0.0, "they": 0.0}
FLOW_RECIPROCITY = {"both_ways": 1.0, "to_us": 0.0, "to_them": 0.0, "little": 0.0}
INITIATED_RECIPROCITY = {"both": 1.0, "we": 0.0, "they": 0.0}
#: Components whose scale a form sets (a range's start and end, or numbered choices).
SCALED = ("frequency", "closeness", "trust")


def _days(iso: str) -> float:
    """Days since the epoch of a wire timestamp (``2026-11-24T09:30:00Z``)."""
    return (_midnight(iso[:10]) + int(iso[11:13]) * 3600 + int(iso[14:16]) * 60 + int(iso[17:19])) / DAY \
        if len(iso) == 20 and iso[10] == "T" and iso[19] == "Z" else \
        calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")) / DAY


@functools.lru_cache(maxsize=4096)
def _midnight(date: str) -> int:
    """Seconds since the epoch at the start of a UTC day (``2026-11-24``); a survey wave has few days."""
    return calendar.timegm(time.strptime(date, "%Y-%m-%d"))


def _now_iso() -> str:
    return wire.iso_utc(time.time())


def _questions(qs: list) -> Iterable[dict]:
    for q in qs:
        yield q
        yield from _questions(q.get("questions") or [])


def scale_ends(form: dict | None) -> dict[str, tuple[float, float]]:
    """The ends of ``form``'s scales for :data:`SCALED` components, by question name: a range's start
    and end, or a select_one's smallest and largest numbered choice (``"1"`` ... ``"5"``).

    Examples
    --------
    >>> scale_ends({"questions": [{"name": "closeness", "type": "range", "start": 1, "end": 7},
    ...     {"name": "trust", "type": "select_one", "choices": [{"name": n} for n in ("1", "2", "3", "dont_know")]}]})
    {'closeness': (1.0, 7.0), 'trust': (1.0, 3.0)}
    """
    out: dict[str, tuple[float, float]] = {}
    for q in _questions((form or {}).get("questions") or []):
        name = q.get("name")
        if name not in SCALED:
            continue
        if q.get("type") == "range":
            lo, hi = float(q.get("start", 1)), float(q.get("end", 10))
        elif q.get("type") == "select_one":
            nums = [int(c["name"]) for c in choices_of(form, q)
                    if isinstance(c, dict) and str(c.get("name", "")).lstrip("-").isdigit()]
            if not nums:
                continue
            lo, hi = float(min(nums)), float(max(nums))
        else:
            continue
        if hi > lo:
            out[name] = (lo, hi)
    return out


_COLUMNS = ("respondent", "partner", "frequency", "duration", "closeness", "trust", "multiplexity", "reciprocity",
            "day")


def _num(x) -> float:
    return float(x) if isinstance(x, (int, float)) else np.nan


def _reports(rows: list[tuple], forms: dict[tuple[str, str], dict]) -> dict[str, np.ndarray]:
    """Tie reports (:data:`tiesense.store.rows.TIE_FIELDS` tuples) as parallel arrays, with per-row anchors."""
    cols: dict[str, list] = {k: [] for k in _COLUMNS}
    ends = {key: scale_ends(form) for key, form in forms.items()}
    lo: dict[str, list] = {k: [] for k in SCALED}
    hi: dict[str, list] = {k: [] for k in SCALED}
    for (resp, partner, freq, since, close, trust, mult, recip, flow, initiated, end, form, version) in rows:
        cols["respondent"].append(resp)
        cols["partner"].append(partner)
        cols["frequency"].append(_num(freq))
        cols["duration"].append(max(0, int(end[:4]) - since) if isinstance(since, int) else np.nan)
        cols["closeness"].append(_num(close))
        cols["trust"].append(_num(trust))
        cols["multiplexity"].append(_num(mult))
        r = RECIPROCITY.get(recip, FLOW_RECIPROCITY.get(flow, INITIATED_RECIPROCITY.get(initiated, np.nan)))
        cols["reciprocity"].append(r)
        cols["day"].append(_days(end))
        scale = ends.get((form, version), {})
        for k in SCALED:
            a, b = scale.get(k, DEFAULT_ANCHORS[k])
            lo[k].append(a)
            hi[k].append(b)
    out = {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}
    out["respondent"] = out["respondent"].astype(np.int64)
    out["partner"] = out["partner"].astype(np.int64)
    out["anchors"] = {k: (np.asarray(lo[k], dtype=np.float64), np.asarray(hi[k], dtype=np.float64)) for k in SCALED}
    return out


def _read_reports(conn, instance_ids=None) -> dict[str, np.ndarray]:
    got = _rows.ties_reported(conn, instance_ids)
    return _reports(got, _rows.forms_of(conn, {(r[-2], r[-1]) for r in got}))


def interview_reports(store: Store, instance_ids: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """Every tie report between two roster organisations (of ``instance_ids``' records, else all) as
    parallel arrays, in time order, from the ``tie_reports`` rows of both interview instruments.

    Keys: respondent, partner (roster codes), frequency, duration (years since
    ``since_year`` at the interview), closeness, trust, multiplexity (number of
    tie types), reciprocity (1 mutual, 0 one-sided, NaN unanswered), day (days
    since the epoch at the end of the interview: when it was answered, not
    when the host received it), and ``anchors``: per-row ``(lo, hi)`` of each
    :data:`SCALED` component from the form it was answered on. A self-report
    and a partner not on the roster are left out.
    """
    return store.read(_read_reports, instance_ids)


def composite(r: dict[str, np.ndarray], *, weights: dict | None = None, method: str = "anchors") -> np.ndarray:
    """The survey composite of each report of :func:`interview_reports` (``method``: anchors, minmax, zscore)."""
    return survey_composite(r["frequency"], r["duration"], r["closeness"], r["multiplexity"], r["reciprocity"],
                            r["trust"], weights=weights, method=method,
                            anchors=r["anchors"] if method == "anchors" else None)


def recompute(store: Store, *, mode: str = "mean", n_replicates: int = 500, level: float = 0.95,
              seed: int = 0, weights: dict | None = None, method: str = "anchors",
              progress: Callable[[int], None] | None = None) -> int:
    """Recompute the ``composite`` estimate of every dyad from the stored interviews; return the number of dyads.

    Replaces every ``composite`` row of ``tie_estimates`` in one transaction.

    Parameters
    ----------
    store : Store
    mode : dyad reconciliation, one of mean, min, max, confirmed
    n_replicates, level, seed : the respondent bootstrap behind each interval
    weights : composite weights (default :data:`tiesense.ties.estimators.DEFAULT_WEIGHTS`)
    method : standardisation: ``anchors`` (default: the scales' ends, so waves compare), minmax, zscore
    progress : called with 1 after each bootstrap replicate (a progress bar's ``update``), or None
    """
    rows = _dyad_rows(interview_reports(store), mode, n_replicates, level, seed, weights, method, progress)
    store.replace_estimates("composite", rows)
    return len(rows)


def _dyad_rows(r: dict, mode: str, n_replicates: int, level: float, seed: int, weights: dict | None,
               method: str, progress) -> list[dict]:
    rows = []
    if len(r["respondent"]):
        value = composite(r, weights=weights, method=method)
        dy = reconcile_dyads(r["respondent"], r["partner"], value, mode)
        if len(dy):
            iv = dyad_intervals(r["respondent"], r["partner"], value, mode, n_replicates=n_replicates,
                                level=level, seed=seed, progress=progress)
            stamp = _now_iso()
            disagreement = [None if x != x else x for x in dy.disagreement.tolist()]
            for u, v, val, lo, hi, n, c, d in zip(dy.u.tolist(), dy.v.tolist(), dy.value.tolist(), iv.low.tolist(),
                                                  iv.high.tolist(), dy.n_reports.tolist(), dy.confirmed.tolist(),
                                                  disagreement):
                rows.append({"u": u, "v": v, "estimator": "composite", "value": val, "low": lo, "high": hi,
                             "observations": n, "confirmed": int(c), "disagreement": d, "updated_at": stamp})
    return rows


def recompute_all(store: Store, *, mode: str = "mean", n_replicates: int = 500, level: float = 0.95,
                  seed: int = 0, weights: dict | None = None, method: str = "anchors",
                  progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """:func:`recompute` then :func:`recompute_measures` with the same arguments, reading the interviews once
    and computing the dyads' intervals while betweenness runs; returns (dyads, organisations measured).

    What ``tiesense ties recompute`` runs; ``progress`` is called with 1 after each of the
    ``2 * n_replicates`` replicates (dyads, then measures). The tables are written as the two functions
    write them, the estimates first.
    """
    r = interview_reports(store)
    dyads: list[dict] = []
    org_rows, cluster_rows = _measure_rows(
        r, store.read(_respondent_codes), mode, n_replicates, level, seed, weights, method, progress,
        meanwhile=lambda: dyads.extend(_dyad_rows(r, mode, n_replicates, level, seed, weights, method, progress)))
    store.replace_estimates("composite", dyads)
    store.replace_measures(org_rows, cluster_rows)
    return len(dyads), len(org_rows) // (len(ORG_MEASURES) + 1) if org_rows else 0


def recompute_copresence(store: Store, *, window_hours: float = 1.0, alpha: float = 0.01,
                         correction: str = "fdr") -> int:
    """Co-presence of roster organisations from kiosk check-ins; writes the ``copresence`` estimator.

    A visit (``visits``: the visitor's organisation, the kiosk as the place,
    the visit's end) is a check-in; check-ins at one kiosk within the same
    ``window_hours`` bin are one event (:func:`~tiesense.ties.copresence.time_bin_events`).
    Each pair that shared an event gets a row: ``value`` the Newman weight
    (sum of 1/(n_e - 1) over shared events), ``observations`` the events
    shared, ``confirmed`` 1 when the pair shares more events than chance would
    give (hypergeometric test, Tumminello et al. 2011, ``correction`` over
    every pair of organisations that checked in, at level ``alpha``), else 0.
    Replaces every ``copresence`` row; returns the number of pairs.
    """
    from .ties.copresence import copresence, time_bin_events, validate

    got = store.read(_rows.checkins)
    rows = []
    if got:
        codes, org = np.unique(np.array([c["org"] for c in got], dtype=np.int64), return_inverse=True)
        _, place = np.unique(np.array([c["device"] for c in got]), return_inverse=True)
        seconds = np.array([_days(c["end"]) * DAY for c in got])
        event = time_bin_events(place, seconds, window_hours * 3600.0)
        vn = validate(copresence(org.ravel(), event, len(codes)), alpha=alpha, correction=correction)
        stamp = _now_iso()
        for i in range(len(vn.u)):
            rows.append({"u": int(codes[vn.u[i]]), "v": int(codes[vn.v[i]]), "estimator": "copresence",
                         "value": float(vn.newman[i]), "low": None, "high": None,
                         "observations": int(vn.shared[i]), "confirmed": int(bool(vn.significant[i])),
                         "disagreement": None, "updated_at": stamp})
    store.replace_estimates("copresence", rows)
    return len(rows)


#: Node measures written to ``org_measures`` (all with bootstrap intervals but betweenness).
ORG_MEASURES = ("strength", "degree", "constraint", "effective_size", "top_partner_share", "hhi", "betweenness")
#: Weight given to a reported tie whose composite is 0 (weakest on every component), so it
#: still counts as a tie in measures that divide by weights (constraint; betweenness distance 1/w).
WEIGHT_FLOOR = 1e-3


def _node_stats(g: Graph) -> np.ndarray:
    hub = hub_dependence(g)
    return np.concatenate([structure.strength(g, 1.0), structure.strength(g, 0.0), structure.constraint(g),
                           structure.effective_size(g), hub.top_share, hub.hhi,
                           [structure.degree_centralization(g)]])


def recompute_measures(store: Store, *, mode: str = "mean", n_replicates: int = 200, level: float = 0.95,
                       seed: int = 0, weights: dict | None = None, method: str = "anchors",
                       progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Node and cluster measures on the reconciled composite graph, with bootstrap intervals.

    Organisations are the roster codes that appear in interviews. Per node:
    strength (sum of composite weights), degree, Burt's constraint, effective
    size, largest-partner share and Herfindahl index (hub dependence), all with
    a percentile interval from ``n_replicates`` respondent bootstrap
    replicates; weighted betweenness (distance 1/w) as a point value. For the
    cluster: Freeman degree centralisation with its interval. Replaces the
    ``org_measures`` and ``cluster_measures`` tables in one transaction; returns
    (organisations, cluster rows). ``progress`` is called with 1 after each replicate.

    Each replicate's graph is cut from the full sample's
    (:meth:`~tiesense.ties.uncertainty.ResampledDyads.graph`), and betweenness
    runs in a thread beside the replicates (its kernel releases the GIL), so
    both cores work.
    """
    org_rows, cluster_rows = _measure_rows(interview_reports(store), store.read(_respondent_codes), mode,
                                           n_replicates, level, seed, weights, method, progress)
    store.replace_measures(org_rows, cluster_rows)
    return len(org_rows) // (len(ORG_MEASURES) + 1) if org_rows else 0, len(cluster_rows)


def _measure_rows(r: dict, respondents: Iterable[int], mode: str, n_replicates: int, level: float, seed: int,
                  weights: dict | None, method: str, progress,
                  meanwhile: Callable[[], None] | None = None) -> tuple[list[dict], list[dict]]:
    """The rows of ``org_measures`` and ``cluster_measures`` (``respondents``: the codes that answered an
    interview, for the ``responded`` flag); ``meanwhile`` runs while betweenness does."""
    answered = set(respondents)
    stamp = _now_iso()
    org_rows, cluster_rows = [], []
    if len(r["respondent"]):
        codes = np.unique(np.concatenate([r["respondent"], r["partner"]]))
        ri = np.searchsorted(codes, r["respondent"])
        pi = np.searchsorted(codes, r["partner"])
        n = len(codes)
        value = composite(r, weights=weights, method=method)
        resampled = ResampledDyads(ri, pi, value, mode)
        full = resampled.full
        g = Graph.from_edges(full.u, full.v, np.maximum(full.value, WEIGHT_FLOOR), n=n)
        between = np.zeros(n)

        def betweenness():  # one thread: the replicates have the other core
            between[:] = structure.betweenness(g, normalized=True, weighted=True, threads=1)

        worker = threading.Thread(target=betweenness, name="tiesense-betweenness")
        worker.start()
        calls = iter(range(n_replicates + 1))  # the first call is the full sample, not a replicate

        def stat(times):
            out = _node_stats(resampled.graph(times, n, WEIGHT_FLOOR))
            if next(calls) and progress is not None:
                progress(1)
            return out

        try:
            if meanwhile is not None:
                meanwhile()
            iv = bootstrap_counts(ri, stat, n_replicates=n_replicates, level=level, seed=seed)
        finally:
            worker.join()

        def nums(x: np.ndarray) -> list:
            return [v if math.isfinite(v) else None for v in np.asarray(x, dtype=np.float64).tolist()]

        orgs = codes.tolist()
        for k, name in enumerate(ORG_MEASURES[:-1]):
            sl = slice(k * n, (k + 1) * n)
            for org, v, lo, hi in zip(orgs, nums(iv.estimate[sl]), nums(iv.low[sl]), nums(iv.high[sl])):
                org_rows.append({"org": org, "measure": name, "value": v, "low": lo, "high": hi, "updated_at": stamp})
        for org, v in zip(orgs, nums(between)):
            org_rows.append({"org": org, "measure": "betweenness", "value": v, "low": None, "high": None,
                             "updated_at": stamp})
        # Non-respondents: their measures come from what others reported about them only, so say so.
        for org in orgs:
            org_rows.append({"org": org, "measure": "responded", "value": float(org in answered), "low": None,
                             "high": None, "updated_at": stamp})
        (v,), (lo,), (hi,) = nums(iv.estimate[-1:]), nums(iv.low[-1:]), nums(iv.high[-1:])
        cluster_rows.append({"measure": "degree_centralization", "value": v, "low": lo, "high": hi,
                             "updated_at": stamp})
    elif meanwhile is not None:
        meanwhile()
    return org_rows, cluster_rows


def _respondent_codes(conn) -> list[int]:
    return [r[0] for r in conn.execute("SELECT DISTINCT respondent_org FROM respondents WHERE respondent_org "
                                       "IS NOT NULL")]



class LiveTies:
    """The ``decayed_rate`` estimate, kept current by the host as records are stored.

    Built from the store at start (every stored interview replayed), then
    :meth:`on_batch` (a subscriber to committed ingest batches) observes
    each newly stored ``fi_partner`` record in O(1) and rewrites the rows of
    the dyads it touched.

    Parameters
    ----------
    store : Store
        The host's store, shared (LiveTies reads and writes through it, never closes it).
    half_life_days : float

    Examples
    --------
    >>> import os
    >>> from tiesense.ingest import IngestCore, Message
    >>> store = Store(":memory:")
    >>> live = LiveTies(store)
    >>> rec = wire.make_record("handheld-01", 1, "fi_partner", "2026112401", "2026-11-24T10:00:00Z",
    ...     "2026-11-24T10:30:00Z", {"respondent_org": 11, "partner_org": 12, "tie_types": ["traded"],
    ...     "frequency": 4, "closeness": 3, "scope": "same_park"}, wire.new_instance_id(os.urandom))
    >>> msg = Message(wire.topic_records("handheld-01"), wire.encode_batch("handheld-01", [rec]), 0.0)
    >>> live.on_batch(IngestCore().process(store, [msg]))
    >>> live.on_batch(IngestCore().process(store, [msg]))  # a duplicate: not observed again
    >>> live.counts
    {(11, 12): 1}
    """

    def __init__(self, store: Store, half_life_days: float = DEFAULT_HALF_LIFE_DAYS):
        if not isinstance(store, Store):
            raise TypeError(f"LiveTies takes the host's tiesense.store.Store, not {type(store).__name__}")
        self.store = store
        self.half_life = half_life_days
        self.table = DecayTable(half_life_days)
        self.first_day: float | None = None
        self.counts: dict[tuple[int, int], int] = {}
        self.last: dict[tuple[int, int], float] = {}
        r = interview_reports(self.store)
        self._observe(r["respondent"], r["partner"], r["day"])
        self._write(set(self.counts))

    def _observe(self, u, v, day) -> set[tuple[int, int]]:
        touched = set()
        if len(u):
            self.table.observe_many(u, v, day)
            first = float(np.min(day))
            self.first_day = first if self.first_day is None else min(self.first_day, first)
            for a, b, d in zip(np.minimum(u, v).tolist(), np.maximum(u, v).tolist(), day.tolist()):
                self.counts[(a, b)] = self.counts.get((a, b), 0) + 1
                self.last[(a, b)] = max(d, self.last.get((a, b), d))
                touched.add((a, b))
        return touched

    def _write(self, dyads: set[tuple[int, int]]) -> None:
        if not dyads:
            return
        now = time.time() / DAY
        stamp = _now_iso()
        observed_for = max(now - (self.first_day or now), 1.0)
        pairs = sorted(dyads)
        # a device clock ahead of the host's must not fail the read: read at the later of the two
        values = np.array([self.table.value(u, v, max(now, self.last[(u, v)])) for u, v in pairs])
        iv = decayed_rate_interval(values, self.half_life, observed_for)  # one vectorised call
        self.store.upsert_estimates(
            {"u": u, "v": v, "estimator": "decayed_rate", "value": float(iv.mean[i]), "low": float(iv.low[i]),
             "high": float(iv.high[i]), "observations": self.counts[(u, v)], "confirmed": None,
             "disagreement": None, "updated_at": stamp}
            for i, (u, v) in enumerate(pairs))

    def observe_records(self, records: list[dict]) -> set[tuple[int, int]]:
        """Observe the tie reports of stored interview records (dicts with ``id``); write their dyads."""
        r = interview_reports(self.store, [rec["id"] for rec in records])
        touched = self._observe(r["respondent"], r["partner"], r["day"])
        self._write(touched)
        return touched

    def on_batch(self, report) -> None:
        """Ingest subscriber: observe the interviews this batch stored for the first time.

        ``report.stored_records`` holds the records the batch stored (not the
        duplicates or conflicts); their tie reports were written in the same
        transaction, so they are read back by record id.
        """
        interviews = [r for r in report.stored_records if r["form"] in INTERVIEW_FORMS]
        if interviews:
            self.observe_records(interviews)


def estimates(store: Store, estimator: str | None = None) -> list[dict]:
    """Rows of ``tie_estimates`` (all estimators, or one), strongest first."""
    return store.estimates(estimator)


def disparity_alphas(rows: list[dict]) -> dict[tuple[int, int], float]:
    """Disparity-filter significance of each tie among ``rows`` (tie_estimates rows of one estimator).

    The graph is the rows' ties weighted by their value (floored at
    :data:`WEIGHT_FLOOR`); a tie is in the backbone at level ``alpha`` when its
    value here is below ``alpha`` (Serrano, Boguna & Vespignani 2009; see
    :func:`tiesense.ties.structure.disparity`). Keyed by ``(u, v)``.
    """
    if not rows:
        return {}
    u = np.array([r["u"] for r in rows], dtype=np.int64)
    v = np.array([r["v"] for r in rows], dtype=np.int64)
    w = np.maximum(np.array([r["value"] if r["value"] is not None else 0.0 for r in rows], dtype=np.float64),
                   WEIGHT_FLOOR)
    codes = np.unique(np.concatenate([u, v]))
    g = Graph.from_edges(np.searchsorted(codes, u), np.searchsorted(codes, v), w, n=len(codes))
    a = structure.disparity(g)
    eu, ev, _ = g.edges()
    return {(int(codes[i]), int(codes[j])): float(x) for i, j, x in zip(eu.tolist(), ev.tolist(), a.tolist())}
