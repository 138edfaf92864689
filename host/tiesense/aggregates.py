"""Aggregates with k-anonymity: what a viewer may see of the surveys.

A cell (one value of the grouping key: a facility, an hour, a pair of actor
types) reports counts and means over the records in it. A cell built from
fewer than ``k`` distinct respondents is *suppressed* for a viewer: its key
stays (so a chart keeps its axis) but every number is None and
``suppressed`` is True. So no single firm's answers can be read off a chart
or an export. Analysts and admins see every cell.

Respondents are what is counted, not records: for interviews the distinct
respondent organisations behind a cell (one firm naming ten partners is one
respondent); for kiosk visits each visit (anonymous, one respondent each).

Suppressing small cells alone does not stop every inference: a viewer who
knows the total of a column and the other cells could subtract. Totals are
therefore given only over the cells shown (``shown``), never the grand total.

Examples
--------
>>> suppress([{"key": "sme", "respondents": 7, "reports": 20}, {"key": "gri", "respondents": 2, "reports": 3}], 5)
[{'key': 'sme', 'respondents': 7, 'reports': 20, 'suppressed': False}, {'key': 'gri', 'respondents': None, 'reports': None, 'suppressed': True}]
"""
from __future__ import annotations

import functools

from .forms import builtin_forms, form_questions
from .store import Store, analysable
from .store.analysable import INTERVIEW_FORM, TIE_KEYS, VISIT_FORM, VISIT_KEYS, Filters

__all__ = ["DEFAULT_K", "suppress", "visit_cells", "tie_cells", "visit_keys", "tie_keys", "UnknownKey",
           "cluster_respondents", "all_forms"]

#: Smallest number of respondents a viewer's cell may be built from.
DEFAULT_K = 5


class UnknownKey(KeyError):
    """A grouping key that is neither a question nor a known key; ``args[1]`` lists the keys."""


def suppress(cells: list[dict], k: int | None) -> list[dict]:
    """Cells with ``suppressed`` set; with ``k`` (not None), those from fewer than k respondents emptied."""
    out = []
    for c in cells:
        hide = k is not None and (c.get("respondents") or 0) < k
        row = {key: (v if key == "key" or not hide else None) for key, v in c.items()}
        row["suppressed"] = hide
        out.append(row)
    return out


@functools.lru_cache(maxsize=1)
def _builtin() -> tuple[dict, ...]:
    return tuple(builtin_forms())  # shipped files, read once per process (a version never changes)


def all_forms(store: Store) -> list[dict]:
    """Every form version the host knows: the published ones and the built-in instruments."""
    seen = {(f["id"], f["version"]): f for f in _builtin()}
    seen.update({(f["id"], f["version"]): f for f in store.forms()})
    return list(seen.values())


def _questions(store: Store, form: str, kinds: tuple[str, ...]) -> list[str]:
    return [q["name"] for q in form_questions(all_forms(store), form) if q["type"] in kinds]


_GROUPABLE = ("select_one", "range", "integer")


def visit_keys(store: Store) -> list[str]:
    """What visits can be grouped by: the visit form's select_one/range/integer questions and :data:`VISIT_KEYS`."""
    return _questions(store, VISIT_FORM, ("select_one", "range")) + list(VISIT_KEYS)


def tie_keys(store: Store) -> list[str]:
    """What tie reports can be grouped by: the interview's select_one/range questions and :data:`TIE_KEYS`."""
    return _questions(store, INTERVIEW_FORM, ("select_one", "range")) + list(TIE_KEYS)


def visit_cells(store: Store, by: str, *, value: str | None = "satisfaction", filters: Filters = Filters(),
                k: int | None = None) -> list[dict]:
    """Visits per value of ``by`` (:func:`visit_keys`), with the mean of question ``value``, suppressed under ``k``."""
    keys = visit_keys(store)
    if by not in keys:
        raise UnknownKey(by, keys)
    numeric = _questions(store, VISIT_FORM, ("range", "integer"))
    if value is not None and value not in numeric:
        raise UnknownKey(value, numeric)
    cells = store.read(analysable.visit_cells, by, keys, value, filters)
    return suppress(cells, k)


def tie_cells(store: Store, by: str, *, filters: Filters = Filters(), k: int | None = None) -> list[dict]:
    """Tie reports per value of ``by`` (:func:`tie_keys`), suppressed under ``k``."""
    keys = tie_keys(store)
    if by not in keys:
        raise UnknownKey(by, keys)
    return suppress(store.read(analysable.tie_cells, by, keys, filters), k)


def cluster_respondents(store: Store, filters: Filters = Filters()) -> int:
    """Distinct respondent organisations behind the interviews: what a cluster-level measure is built from."""
    return store.read(analysable.respondent_count, filters)
