"""The park overview: visits per facility and hour, footfall per hour, footfall and response rate per kiosk,
satisfaction by facility and the weekly trend.

Every number comes from the same library functions as ``/api/aggregates/visits``
(:func:`tiesense.aggregates.visit_cells`) and, like there, a viewer's cells
from fewer than k visits are suppressed (:func:`tiesense.aggregates.suppress`).
Visits are the analysable ``visits`` rows, so every version of the visit form
counts: satisfaction is an integer in both (a range, then a labelled select),
and the newer version's ``new_contact`` gives the new contacts made, per
facility and over the cells shown. The facility x hour heatmap is
:func:`tiesense.aggregates.visit_pairs`, suppressed under the same rule.

Footfall comes from the kiosks' presence records (``tp_presence``, one per
interval in which anything happened), summed in SQL by :mod:`tiesense.presence`
over the same site and period as the other charts: per hour over every kiosk
(:func:`~tiesense.presence.park_hourly`, the footfall series) and per kiosk
(:func:`~tiesense.presence.kiosks`), with the response rate completed surveys
per approach (at most 1: a sensor can miss someone who then answers). A kiosk
with no presence records yet (older firmware) falls back to the running count
of approaches in its *last* status and the response rate of
:func:`tiesense.fleet.response_rate`. Per-kiosk counts are device rows, shown
to analysts (as ``/api/devices`` is); a viewer sees visits per kiosk,
k-suppressed, and of the footfall series the approaches only (sensor counts,
not respondents; completed surveys per hour are visits, which the heatmap
suppresses under k).
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ... import aggregates
from ...fleet import response_rate
from ... import presence
from ...forms import form_questions
from ...store import analysable
from ...store import devices as store_devices
from ..auth import Viewer
from ..deps import SettingsDep, StoreDep
from ..filters import FiltersDep
from ..routes.aggregates import k_for
from .i18n import lang_of
from .render import render

__all__ = ["router", "overview_data", "choice_labels", "new_contacts"]

router = APIRouter(include_in_schema=False)


def choice_labels(store, form: str, question: str, lang: str) -> dict[str, str]:
    """``{choice name: label in lang}`` of a select question, from the forms the host knows."""
    for q in form_questions(aggregates.all_forms(store), form):
        if q["name"] == question:
            out = {}
            for c in q.get("choices") or []:
                label = c.get("label")
                out[c["name"]] = (label.get(lang) or label.get("en") or c["name"]) if isinstance(label, dict) \
                    else (label or c["name"])
            return out
    return {}


def overview_data(store, k: int | None, filters=analysable.Filters(), *, devices: bool = True,
                  lang: str = "en") -> dict:
    """Everything the overview draws, as JSON-ready dicts; ``k`` None for an analyst (nothing suppressed).

    Returns ``heatmap`` (cells keyed ``[facility, hour]``), ``footfall`` (columns ``hour``, ``approaches``
    and, when ``devices``, ``completed`` and ``response_rate``: the presence series over every kiosk),
    ``satisfaction`` (cells by facility with ``mean``, ``new_contacts`` and ``contact_asked``), ``new_contacts``
    (:func:`new_contacts` over the facility cells shown), ``weekly`` (cells by week), ``per_kiosk`` (visits per
    device, k-suppressed), ``kiosks`` (approaches, abandoned, completed surveys, records, response rate per
    device; only when ``devices``), ``labels`` (facility names in ``lang``), ``k`` and ``suppressed`` (cells hidden in all).
    """
    heatmap = aggregates.visit_pairs(store, "facility", "hour", filters=filters, k=k)
    heatmap = [c for c in heatmap if c["key"][0] is not None and c["key"][1] is not None]
    satisfaction = aggregates.visit_cells(store, "facility", value="satisfaction", filters=filters, k=k)
    weekly = aggregates.visit_cells(store, "week", value="satisfaction", filters=filters, k=k)
    per_kiosk = aggregates.visit_cells(store, "device", value=None, filters=filters, k=k)
    series = store.read(presence.park_hourly, filters)
    footfall = {"hour": [h.hour for h in series], "approaches": [h.approaches for h in series]}
    kiosks = None
    if devices:
        footfall["completed"] = [h.completed for h in series]
        footfall["response_rate"] = [_rate(h) for h in series]
        status, _ = store.read(store_devices.page_rows)
        sensed = {k.device: k for k in store.read(presence.kiosks, None, filters)}
        kiosks = []
        listed = set()
        for d in status:
            if not ((d.get("role") in (None, "kiosk") or d.get("approaches") is not None or d["device"] in sensed)
                    and filters.site in (None, d["site"]) and filters.device in (None, d["device"])):
                continue
            listed.add(d["device"])
            p = sensed.get(d["device"])
            if p is not None:
                kiosks.append(_kiosk(p, d["site"], d["records"]))
            else:  # older firmware: the running count of its last status, records stored per approach
                kiosks.append({"device": d["device"], "site": d["site"], "approaches": d["approaches"],
                               "abandoned": d["abandoned"], "completed": d["records"], "records": d["records"],
                               "response_rate": response_rate(d), "source": "last status"})
        for device, p in sensed.items():  # presence records from a kiosk that sent no status (yet)
            if device not in listed:
                kiosks.append(_kiosk(p, None, None))
        kiosks.sort(key=lambda k: k["device"])
    hidden = sum(c["suppressed"] for part in (heatmap, satisfaction, weekly, per_kiosk) for c in part)
    return {"heatmap": heatmap, "footfall": footfall, "satisfaction": satisfaction, "weekly": weekly, "per_kiosk": per_kiosk,
            "new_contacts": new_contacts(satisfaction),
            "kiosks": kiosks, "labels": choice_labels(store, analysable.VISIT_FORM, "facility", lang),
            "k": k, "suppressed": hidden, "visits": None if k is not None else sum(c["visits"] for c in per_kiosk)}


def new_contacts(cells: list[dict]) -> dict:
    """New contacts made during visits, over the cells shown (a viewer's suppressed cells left out, so no
    grand total can be differenced against them): ``made`` (visits answered ``yes``), ``asked`` (visits on
    a form version with the question) and ``share`` (made per asked; None when none was asked).

    Examples
    --------
    >>> new_contacts([{"new_contacts": 2, "contact_asked": 5, "suppressed": False},
    ...               {"new_contacts": None, "contact_asked": None, "suppressed": True}])
    {'made': 2, 'asked': 5, 'share': 0.4}
    """
    shown = [c for c in cells if not c["suppressed"]]
    made = sum(c["new_contacts"] for c in shown)
    asked = sum(c["contact_asked"] for c in shown)
    return {"made": made, "asked": asked, "share": round(made / asked, 4) if asked else None}


def _kiosk(p: presence.Kiosk, site: str | None, records: int | None) -> dict:
    return {"device": p.device, "site": site, "approaches": p.approaches, "abandoned": p.abandoned,
            "completed": p.completed, "records": records, "response_rate": _rate(p), "source": "presence records"}


def _rate(counts: presence.Counts) -> float | None:
    rate = counts.response_rate
    return None if rate is None else round(min(1.0, rate), 4)


def _given(filters: analysable.Filters) -> analysable.Filters:
    """The filters with a form's empty fields (``site=``) taken as not given."""
    from dataclasses import fields, replace

    return replace(filters, **{f.name: None for f in fields(filters) if getattr(filters, f.name) == ""})


def _sites(store) -> list[str]:
    rows, _ = store.read(store_devices.page_rows)
    return sorted({r["site"] for r in rows if r.get("site")})


@router.get("/overview", response_class=HTMLResponse)
def overview(request: Request, store: StoreDep, settings: SettingsDep, who: Viewer, filters: FiltersDep):
    """The park overview page (viewer and above; k-anonymous for viewers), filtered by site and period."""
    filters = _given(filters)
    data = overview_data(store, k_for(who, settings), filters, devices=who.role != "viewer", lang=lang_of(request))
    form = {"site": filters.site or "", "since": filters.since or "", "until": filters.until or ""}
    return render(request, who, "overview.html", data=data, sites=_sites(store), form=form)


@router.get("/overview/data.json")
def overview_json(request: Request, store: StoreDep, settings: SettingsDep, who: Viewer, filters: FiltersDep):
    """What the overview draws, as JSON (the live update redraws from it)."""
    return overview_data(store, k_for(who, settings), _given(filters), devices=who.role != "viewer",
                         lang=lang_of(request))
