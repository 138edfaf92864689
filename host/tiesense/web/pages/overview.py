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

A survey ``wave`` filter (the waves of the visits rows, :func:`tiesense.aggregates.visit_waves`)
keeps every visit chart and card to that wave's visits. Presence records
belong to no wave: under a wave filter the footfall and the kiosks cover the
period the wave's visits span (the hour of its first visit's end to the end
of the hour of its last), within the site and period asked for. When the
visits hold more than one wave, ``by_wave`` compares them (it is the one
chart a wave filter does not narrow, and it marks the wave chosen): visits,
mean satisfaction, new contacts and, for analysts, the response rate over
each wave's period, given only when no two waves' periods overlap (else
the presence records could not be told apart between them).
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
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
from ..routes.aggregates import k_for, unknown_wave
from .i18n import lang_of
from .render import render

__all__ = ["router", "overview_data", "choice_labels", "new_contacts", "wave_period"]

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
                  lang: str = "en", wave: str | None = None) -> dict:
    """Everything the overview draws, as JSON-ready dicts; ``k`` None for an analyst (nothing suppressed).

    Returns ``heatmap`` (cells keyed ``[facility, hour]``), ``footfall`` (columns ``hour``, ``approaches``
    and, when ``devices``, ``completed`` and ``response_rate``: the presence series over every kiosk),
    ``satisfaction`` (cells by facility with ``mean``, ``new_contacts`` and ``contact_asked``), ``new_contacts``
    (:func:`new_contacts` over the facility cells shown), ``weekly`` (cells by week), ``per_kiosk`` (visits per
    device, k-suppressed), ``kiosks`` (approaches, abandoned, completed surveys, records, response rate per
    device; only when ``devices``), ``labels`` (facility names in ``lang``), ``k`` and ``suppressed`` (cells hidden in all);
    ``wave`` (the one chosen, or None), ``waves`` (the waves present, to choose from), ``by_wave`` (cells by
    wave over the other filters, key None for visits without a wave; with ``period``, and for ``devices``
    ``approaches`` and ``response_rate`` over it when ``rate_attributed``) and ``compare_waves`` (True when
    the visits shown hold more than one wave). Every visit chart but ``by_wave`` is kept to ``wave``; the
    presence ones to its period (:func:`wave_period`). Raises :class:`tiesense.aggregates.UnknownWave` for
    a wave no visit belongs to.
    """
    waves = aggregates.visit_waves(store)
    if wave is not None and wave not in {w["wave"] for w in waves}:
        raise aggregates.UnknownWave(wave, [w["wave"] for w in waves])
    heatmap = aggregates.visit_pairs(store, "facility", "hour", filters=filters, wave=wave, k=k)
    heatmap = [c for c in heatmap if c["key"][0] is not None and c["key"][1] is not None]
    satisfaction = aggregates.visit_cells(store, "facility", value="satisfaction", filters=filters, wave=wave, k=k)
    weekly = aggregates.visit_cells(store, "week", value="satisfaction", filters=filters, wave=wave, k=k)
    per_kiosk = aggregates.visit_cells(store, "device", value=None, filters=filters, wave=wave, k=k)
    by_wave = _by_wave(store, k, filters, devices)
    sensed_filters = filters
    if wave is not None:
        period = next((c["period"] for c in by_wave if c["key"] == wave), None)
        sensed_filters = None if period is None else _within(filters, period)
    series = [] if sensed_filters is None else store.read(presence.park_hourly, sensed_filters)
    footfall = {"hour": [h.hour for h in series], "approaches": [h.approaches for h in series]}
    kiosks = None
    if devices:
        footfall["completed"] = [h.completed for h in series]
        footfall["response_rate"] = [_rate(h) for h in series]
        status, _ = store.read(store_devices.page_rows)
        sensed = {} if sensed_filters is None else \
            {k.device: k for k in store.read(presence.kiosks, None, sensed_filters)}
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
    hidden = sum(c["suppressed"] for part in (heatmap, satisfaction, weekly, per_kiosk, by_wave) for c in part)
    return {"heatmap": heatmap, "footfall": footfall, "satisfaction": satisfaction, "weekly": weekly, "per_kiosk": per_kiosk,
            "new_contacts": new_contacts(satisfaction),
            "kiosks": kiosks, "labels": choice_labels(store, analysable.VISIT_FORM, "facility", lang),
            "k": k, "suppressed": hidden, "visits": None if k is not None else sum(c["visits"] for c in per_kiosk),
            "wave": wave, "waves": [w["wave"] for w in waves], "by_wave": by_wave,
            "compare_waves": sum(c["key"] is not None for c in by_wave) > 1}


def _by_wave(store, k: int | None, filters, devices: bool) -> list[dict]:
    """Visit cells by wave (the named waves in :func:`~tiesense.aggregates.wave_order`, visits without a wave
    last), each with its ``period``; for ``devices`` the presence ``approaches`` and ``response_rate`` over the
    period when ``rate_attributed`` (no two waves' periods overlap) and presence records fall in it."""
    cells = aggregates.visit_cells(store, "wave", value="satisfaction", filters=filters, k=k)
    periods = {w["wave"]: wave_period(w["first"], w["last"]) for w in aggregates.visit_waves(store, filters)}
    spans = sorted(periods.values())
    apart = all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    cells.sort(key=lambda c: (c["key"] is None, aggregates.wave_order(c["key"] or "")))
    for c in cells:
        c["period"] = None if c["suppressed"] else periods.get(c["key"])  # a small wave's times stay hidden too
        c["rate_attributed"] = bool(devices and apart and c["period"] is not None)
        c["approaches"] = c["response_rate"] = None
        sensed = store.read(presence.kiosks, None, _within(filters, c["period"])) if c["rate_attributed"] else []
        if sensed:  # no presence record in the period: no count (not a count of 0)
            approaches = sum(p.approaches for p in sensed)
            c["approaches"] = approaches
            c["response_rate"] = round(min(1.0, sum(p.completed for p in sensed) / approaches), 4) \
                if approaches else None
    return cells


def wave_period(first: str, last: str) -> list[str]:
    """``[since, until)`` whole UTC hours around a wave's visits: the hour of the first visit's end to the end of
    the hour of the last (presence records are read per hour).

    Examples
    --------
    >>> wave_period("2026-11-30T08:01:00Z", "2026-11-30T10:01:00Z")
    ['2026-11-30T08:00:00Z', '2026-11-30T11:00:00Z']
    """
    def hour(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(minute=0, second=0, microsecond=0)

    def iso(t: datetime) -> str:
        return t.strftime("%Y-%m-%dT%H:00:00Z")

    return [iso(hour(first)), iso(hour(last) + timedelta(hours=1))]


def _within(filters, period: list[str]):
    """``filters`` with the period narrowed to ``period`` (``[since, until)``, ISO text compares as time)."""
    since = period[0] if filters.since is None else max(filters.since, period[0])
    until = period[1] if filters.until is None else min(filters.until, period[1])
    return replace(filters, since=since, until=until)


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
    from dataclasses import fields

    return replace(filters, **{f.name: None for f in fields(filters) if getattr(filters, f.name) == ""})


def _sites(store) -> list[str]:
    rows, _ = store.read(store_devices.page_rows)
    return sorted({r["site"] for r in rows if r.get("site")})


#: The overview's survey wave filter; empty (the form's "any") means every wave.
WaveQuery = Annotated[str | None, Query(max_length=64, description="Only visits of this survey wave")]


def _data(request: Request, store, settings, who, filters, wave: str | None) -> dict:
    try:
        return overview_data(store, k_for(who, settings), _given(filters), devices=who.role != "viewer",
                             lang=lang_of(request), wave=wave or None)
    except aggregates.UnknownWave as e:
        raise unknown_wave(e) from None


@router.get("/overview", response_class=HTMLResponse)
def overview(request: Request, store: StoreDep, settings: SettingsDep, who: Viewer, filters: FiltersDep,
             wave: WaveQuery = None):
    """The park overview page (viewer and above; k-anonymous for viewers), filtered by site, period and wave."""
    data = _data(request, store, settings, who, filters, wave)
    filters = _given(filters)
    form = {"site": filters.site or "", "since": filters.since or "", "until": filters.until or "",
            "wave": wave or ""}
    return render(request, who, "overview.html", data=data, sites=_sites(store), form=form)


@router.get("/overview/data.json")
def overview_json(request: Request, store: StoreDep, settings: SettingsDep, who: Viewer, filters: FiltersDep,
                  wave: WaveQuery = None):
    """What the overview draws, as JSON (the live update redraws from it)."""
    return _data(request, store, settings, who, filters, wave)
