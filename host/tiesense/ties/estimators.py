"""Survey tie strength: the per-report composite and the reconciliation of the two sides of a dyad.

One row per reported tie (respondent organisation -> named partner). Missing
answers are ``NaN``. Nothing here needs a kernel: every step is one or two
vectorised numpy passes over the rows (a Cython kernel was measured not to pay,
see ``docs/estimators.md``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .graph import Graph

#: Component names, in the order used by :func:`component_scores`.
COMPONENTS = ("frequency", "duration", "closeness", "multiplexity", "reciprocity", "trust")

#: Default weights. Closeness carries the most weight because Marsden & Campbell
#: (1984) found closeness (emotional intensity) the best single indicator of tie
#: strength, with frequency and duration weaker indicators contaminated by
#: the context of the tie (neighbours, co-workers, kin); multiplexity and reciprocity follow
#: Granovetter's (1973) "reciprocal services". Trust is asked apart from closeness
#: (a partner can be close and little trusted, or trusted at arm's length): Levin &
#: Cross (2004) found benevolence- and competence-based trust to carry the effect
#: of strong ties on useful knowledge received, so it enters on its own.
DEFAULT_WEIGHTS = {
    "frequency": 0.15,
    "duration": 0.10,
    "closeness": 0.30,
    "multiplexity": 0.15,
    "reciprocity": 0.10,
    "trust": 0.20,
}

#: The ends of each component's scale, for ``method="anchors"``: the shipped instruments' scales
#: (frequency 1 yearly ... 6 daily; closeness and trust 1-5), one tie type up to all of
#: :data:`TIE_TYPES`, 0 to 20 years (older ties count as 20), reciprocity 0 one-sided to 1 mutual.
DEFAULT_ANCHORS = {
    "frequency": (1.0, 6.0),
    "duration": (0.0, 20.0),
    "closeness": (1.0, 5.0),
    "multiplexity": (1.0, 6.0),
    "reciprocity": (0.0, 1.0),
    "trust": (1.0, 5.0),
}

#: Tie types of the survey (domain brief, section 3); multiplexity counts distinct ones.
TIE_TYPES = ("traded", "collaborative", "knowledge", "people", "support", "finance")

#: The ordinal frequency scale the survey forms use.
FREQUENCY_SCALE = {1: "yearly", 2: "a few times a year", 3: "monthly",
                   4: "weekly", 5: "several times a week", 6: "daily"}

STANDARDISE = ("anchors", "minmax", "zscore")
MODES = ("mean", "min", "max", "confirmed")


def multiplexity(types) -> np.ndarray:
    """Number of distinct tie types per reported tie.

    Parameters
    ----------
    types : sequence of iterables of str, or 2-D boolean array (rows x len(TIE_TYPES))
        The tie types ticked for each reported tie. ``None`` marks a missing answer.

    Returns
    -------
    float64 array, ``NaN`` where the answer is missing.

    Examples
    --------
    >>> multiplexity([{"traded", "knowledge"}, ["people"], None, ["traded", "traded"]]).tolist()
    [2.0, 1.0, nan, 1.0]

    References
    ----------
    Granovetter, M. (1973). The strength of weak ties. American Journal of Sociology 78(6).
    """
    if isinstance(types, np.ndarray) and types.ndim == 2:
        return types.astype(bool).sum(axis=1).astype(np.float64)
    out = np.empty(len(types), dtype=np.float64)
    for i, t in enumerate(types):
        if t is None:
            out[i] = np.nan
            continue
        kinds = set(t)
        unknown = kinds.difference(TIE_TYPES)
        if unknown:
            raise ValueError(f"row {i}: unknown tie type(s) {sorted(unknown)}; expected {TIE_TYPES}")
        out[i] = len(kinds)
    return out


def standardise(x, method: str = "minmax", anchors=None) -> np.ndarray:
    """Standardise one component over all reported ties, ignoring ``NaN``.

    ``anchors`` maps the ends of the scale ``(lo, hi)`` to 0 and 1, clipping
    beyond them: a value means the same whoever else answered, so waves and
    parks compare (``lo`` and ``hi`` may be arrays, one pair per row, when rows
    come from forms with different scales). ``minmax`` maps the observed range
    to [0, 1]; ``zscore`` subtracts the mean and divides by the (population)
    standard deviation. With ``minmax`` and ``zscore`` a constant component
    carries no information and maps to 0, and every value depends on the
    sample.

    Examples
    --------
    >>> standardise([1.0, 3.0, np.nan, 5.0]).tolist()
    [0.0, 0.5, nan, 1.0]
    >>> standardise([1.0, 3.0, 5.0], "zscore").round(4).tolist()
    [-1.2247, 0.0, 1.2247]
    >>> standardise([2.0, 4.0, 9.0], "anchors", (1.0, 5.0)).tolist()
    [0.25, 0.75, 1.0]
    """
    if method not in STANDARDISE:
        raise ValueError(f"standardise must be one of {STANDARDISE}, not {method!r}")
    x = np.asarray(x, dtype=np.float64)
    out = np.full_like(x, np.nan)
    ok = ~np.isnan(x)
    if method == "anchors":
        if anchors is None:
            raise ValueError("method 'anchors' needs the scale's ends: anchors=(lo, hi)")
        lo = np.broadcast_to(np.asarray(anchors[0], dtype=np.float64), x.shape)
        hi = np.broadcast_to(np.asarray(anchors[1], dtype=np.float64), x.shape)
        if (hi[ok] <= lo[ok]).any():
            raise ValueError("each anchor pair needs lo < hi")
        out[ok] = np.clip((x[ok] - lo[ok]) / (hi[ok] - lo[ok]), 0.0, 1.0)
        return out
    if not ok.any():
        return out
    v = x[ok]
    if method == "minmax":
        lo, hi = v.min(), v.max()
        out[ok] = (v - lo) / (hi - lo) if hi > lo else 0.0
    else:
        sd = v.std()
        out[ok] = (v - v.mean()) / sd if sd > 0 else 0.0
    return out


def component_scores(frequency=None, duration=None, closeness=None, multiplexity=None,
                     reciprocity=None, trust=None, *, method: str = "minmax",
                     anchors: dict | None = None) -> dict[str, np.ndarray]:
    """Standardised components present in the input (``None`` means not asked at all).

    ``anchors`` (``method="anchors"``): component -> ``(lo, hi)``, scalars or
    per-row arrays; a component not named keeps :data:`DEFAULT_ANCHORS`.

    Examples
    --------
    >>> s = component_scores(frequency=[1, 6], closeness=[5, 1])
    >>> sorted(s), s["closeness"].tolist()
    (['closeness', 'frequency'], [1.0, 0.0])
    >>> component_scores(closeness=[4, 2], method="anchors")["closeness"].tolist()
    [0.75, 0.25]
    """
    given = dict(frequency=frequency, duration=duration, closeness=closeness,
                 multiplexity=multiplexity, reciprocity=reciprocity, trust=trust)
    ends = dict(DEFAULT_ANCHORS, **(anchors or {}))
    out = {}
    n = None
    for name in COMPONENTS:
        x = given[name]
        if x is None:
            continue
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional")
        if n is not None and len(x) != n:
            raise ValueError(f"{name} has {len(x)} rows, expected {n}")
        n = len(x)
        out[name] = standardise(x, method, ends[name] if method == "anchors" else None)
    return out


def survey_composite(frequency=None, duration=None, closeness=None, multiplexity=None,
                     reciprocity=None, trust=None, *, weights: dict | None = None,
                     method: str = "minmax", anchors: dict | None = None) -> np.ndarray:
    """Composite tie strength of each reported tie.

    Each component is standardised (``method``), then combined as a weighted
    mean over the components *present in that row*:

    ``S_r = sum_c w_c z_rc [z_rc present] / sum_c w_c [z_rc present]``

    so a missing answer re-weights the others rather than counting as zero. A
    row with no component present is ``NaN``.

    Parameters
    ----------
    frequency : array, ordinal contact frequency (:data:`FREQUENCY_SCALE`, 1 yearly ... 6 daily)
    duration : array, years since the tie started
    closeness : array, closeness (Likert 1-5)
    multiplexity : array, number of distinct tie types (:func:`multiplexity`)
    reciprocity : array, 0/1 or ordinal
    trust : array, trust in the partner (Likert 1-5), asked apart from closeness
    weights : dict, component -> weight (non-negative); default :data:`DEFAULT_WEIGHTS`
    method : {"minmax", "zscore", "anchors"}
        ``anchors`` maps each scale's ends (``anchors``, default
        :data:`DEFAULT_ANCHORS`) to 0 and 1, so a tie's value does not depend on
        the other ties of the sample and waves compare: what ``tiesense ties
        recompute`` uses. ``minmax`` (the default here) keeps the composite in
        [0, 1] over the observed ranges; ``zscore`` centres each component.
        ``anchors`` and ``minmax`` give values in [0, 1], usable directly as
        edge weights by strength, disparity and constraint, which need
        non-negative weights.
    anchors : dict, component -> (lo, hi), scalars or per-row arrays

    Returns
    -------
    float64 array, one value per row.

    Examples
    --------
    >>> survey_composite(frequency=[1, 6, 3], closeness=[5, 1, np.nan]).round(4).tolist()
    [0.6667, 0.3333, 0.4]
    >>> survey_composite(frequency=[1, 6, 2], closeness=[5, 1, 3], method="anchors").round(4).tolist()
    [0.6667, 0.3333, 0.4]
    >>> survey_composite(closeness=[5], trust=[1], method="anchors").round(4).tolist()
    [0.6]

    References
    ----------
    Granovetter, M. (1973). The strength of weak ties. American Journal of Sociology 78(6), 1360-1380.
    Marsden, P. V. & Campbell, K. E. (1984). Measuring tie strength. Social Forces 63(2), 482-501.
    Levin, D. Z. & Cross, R. (2004). The strength of weak ties you can trust. Management Science 50(11), 1477-1490.
    """
    w = dict(DEFAULT_WEIGHTS if weights is None else weights)
    unknown = set(w).difference(COMPONENTS)
    if unknown:
        raise ValueError(f"unknown weight(s) {sorted(unknown)}; components are {COMPONENTS}")
    if any(v < 0 for v in w.values()):
        raise ValueError("weights must be non-negative")
    scores = component_scores(frequency, duration, closeness, multiplexity, reciprocity, trust, method=method,
                              anchors=anchors)
    if not scores:
        raise ValueError("no component given")
    n = len(next(iter(scores.values())))
    num = np.zeros(n)
    den = np.zeros(n)
    for name, z in scores.items():
        wc = float(w.get(name, 0.0))
        ok = ~np.isnan(z)
        num[ok] += wc * z[ok]
        den[ok] += wc
    out = np.full(n, np.nan)
    has = den > 0
    out[has] = num[has] / den[has]
    return out


@dataclass(frozen=True)
class Dyads:
    """Reconciled value per unordered dyad ``u < v`` (parallel arrays).

    Attributes
    ----------
    u, v : int64 arrays, the two organisations, ``u < v``
    value : float64, the reconciled tie strength
    n_reports : int64, number of report rows about the dyad (both sides)
    disagreement : float64, |side u - side v|; ``NaN`` when only one side reported
    confirmed : bool, both sides reported the tie
    """

    u: np.ndarray
    v: np.ndarray
    value: np.ndarray
    n_reports: np.ndarray
    disagreement: np.ndarray
    confirmed: np.ndarray

    def __len__(self) -> int:
        return len(self.u)

    def to_graph(self, n: int | None = None, labels=None) -> Graph:
        """The dyads as an undirected weighted :class:`Graph` (weight = value)."""
        return Graph.from_edges(self.u, self.v, self.value, n=n, labels=labels)


def reconcile_dyads(respondent, partner, value, mode: str = "mean") -> Dyads:
    """Reconcile the reports of both sides of each tie into one value per dyad.

    Several rows from the same side about the same partner (two interviewees of
    one firm, a repeated interview) are first averaged into that side's value.
    The two side values are then combined by ``mode``:

    * ``mean`` (default): average of the sides present;
    * ``min``: the weaker report (conservative, the tie is as strong as both agree);
    * ``max``: the stronger report;
    * ``confirmed``: mean of both sides, and dyads reported by one side only are dropped.

    Rows with a ``NaN`` value or a self-report (``respondent == partner``) are ignored.

    Examples
    --------
    >>> d = reconcile_dyads([0, 1, 0, 2], [1, 0, 2, 3], [0.8, 0.4, 0.5, 0.9])
    >>> d.u.tolist(), d.v.tolist(), d.value.round(2).tolist()
    ([0, 0, 2], [1, 2, 3], [0.6, 0.5, 0.9])
    >>> d.confirmed.tolist(), d.disagreement.round(2).tolist(), d.n_reports.tolist()
    ([True, False, False], [0.4, nan, nan], [2, 1, 1])
    >>> reconcile_dyads([0, 1, 0], [1, 0, 2], [0.8, 0.4, 0.5], mode="confirmed").value.tolist()
    [0.6000000000000001]

    References
    ----------
    Marsden, P. V. (1990). Network data and measurement. Annual Review of Sociology 16, 435-463
    (informant agreement on reported ties).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    r = np.asarray(respondent, dtype=np.int64)
    p = np.asarray(partner, dtype=np.int64)
    x = np.asarray(value, dtype=np.float64)
    if not (len(r) == len(p) == len(x)):
        raise ValueError("respondent, partner and value must have the same length")
    keep = (r != p) & ~np.isnan(x)
    r, p, x = r[keep], p[keep], x[keep]
    lo = np.minimum(r, p)
    hi = np.maximum(r, p)
    side = (r != lo).astype(np.int64)  # 0: reported by the lower id, 1: by the higher
    empty = np.zeros(0, dtype=np.int64)
    if len(r) == 0:
        return Dyads(empty, empty.copy(), np.zeros(0), empty.copy(), np.zeros(0), np.zeros(0, dtype=bool))
    # One row per (dyad, side): average repeated reports from the same side.
    base = int(hi.max()) + 1
    if base < 2**31 and int(lo.min()) >= 0:
        # One int64 key per dyad: a 1-D unique is an order of magnitude faster than unique(axis=1).
        keys, dyad_id = np.unique(lo * base + hi, return_inverse=True)
        dyad_keys = np.stack([keys // base, keys % base])
    else:
        dyad_keys, dyad_id = np.unique(np.stack([lo, hi]), axis=1, return_inverse=True)
    dyad_id = dyad_id.ravel()
    nd = dyad_keys.shape[1]
    cell = dyad_id * 2 + side
    sums = np.bincount(cell, weights=x, minlength=2 * nd).reshape(nd, 2)
    counts = np.bincount(cell, minlength=2 * nd).reshape(nd, 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        sides = sums / counts  # NaN where a side did not report
    both = (counts > 0).all(axis=1)
    if mode == "min":
        val = np.nanmin(sides, axis=1)
    elif mode == "max":
        val = np.nanmax(sides, axis=1)
    else:
        val = np.nanmean(sides, axis=1)
    disagreement = np.where(both, np.abs(sides[:, 0] - sides[:, 1]), np.nan)
    n_reports = counts.sum(axis=1).astype(np.int64)
    sel = both if mode == "confirmed" else np.ones(nd, dtype=bool)
    return Dyads(dyad_keys[0][sel], dyad_keys[1][sel], val[sel], n_reports[sel],
                 disagreement[sel], both[sel])
