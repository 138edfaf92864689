"""Footfall and response rate per kiosk and hour, from the kiosks' presence records.

Every kiosk logs one ``tp_presence`` record per interval in which anything
happened (``host/tiesense/instruments/tp_presence.json``): approaches the
presence sensor counted, dwell, surveys started, completed and abandoned.
They arrive like surveys (signed, through the same log and acks), so the
figures here are as complete as the records are. An hour a kiosk was online
without a record had no approaches and no surveys.

The response rate is completed surveys per approach: how many of the people
who came near the kiosk answered it (domain.md §4).

Three views of the same sums, each one SQL aggregation: :func:`hourly` (per
kiosk and hour, what ``tiesense presence`` prints), :func:`kiosks` (per kiosk,
the overview's footfall and response rate) and :func:`park_hourly` (per hour
over every kiosk, the overview's footfall series). Each takes the analysable
:class:`~tiesense.store.analysable.Filters`' device, site and period.
"""
from __future__ import annotations

from dataclasses import dataclass

from .store.analysable import Filters
from .store.connection import dicts

__all__ = ["PRESENCE_FORM", "Counts", "Hour", "Kiosk", "hourly", "kiosks", "park_hourly"]

PRESENCE_FORM = "tp_presence"

_SUMS = """sum(json_extract(r.answers, '$.approaches')) AS approaches,
       sum(json_extract(r.answers, '$.dwell_s')) AS dwell_s,
       sum(json_extract(r.answers, '$.started')) AS started,
       sum(json_extract(r.answers, '$.completed')) AS completed,
       sum(json_extract(r.answers, '$.abandoned')) AS abandoned,
       count(*) AS intervals,
       sum(CASE WHEN r.clock = 'unsynced' THEN 1 ELSE 0 END) AS unsynced"""
_HOUR = "substr(r.start, 1, 13) || ':00:00Z'"
_QUERY = """
SELECT {keys}, {sums}
FROM records r LEFT JOIN identities i ON i.name = r.device
WHERE r.form = ? {where}
GROUP BY {group} ORDER BY {group}
"""


@dataclass(frozen=True)
class Counts:
    """What the presence records of a kiosk (or of every kiosk) add up to over some stretch of time."""

    approaches: int
    dwell_s: int
    started: int
    completed: int
    abandoned: int
    intervals: int
    unsynced: int  # intervals whose time the host could not correct (their hour may be wrong)

    @property
    def response_rate(self) -> float | None:
        """Completed surveys per approach; None without approaches."""
        return self.completed / self.approaches if self.approaches else None


@dataclass(frozen=True)
class Hour(Counts):
    """One kiosk's counts in one hour (``hour`` is its start, UTC); ``device`` None for every kiosk summed."""

    device: str | None = None
    hour: str = ""


@dataclass(frozen=True)
class Kiosk(Counts):
    """One kiosk's counts over every hour asked for, from ``first`` to ``last`` (hour starts, UTC)."""

    device: str = ""
    first: str = ""
    last: str = ""


def _read(conn, keys: str, group: str, device: str | None, filters: Filters) -> list[dict]:
    """Presence sums grouped by ``group``; ``filters``' device, site and period apply (``since <= end < until``)."""
    only = Filters(device=device if device is not None else filters.device, site=filters.site,
                   since=filters.since, until=filters.until)
    where, params = only.where(interview=False)
    sql = _QUERY.format(keys=keys, sums=_SUMS, where="".join(f" AND {w}" for w in where), group=group)
    return dicts(conn, sql, [PRESENCE_FORM] + params)


def hourly(conn, device: str | None = None, filters: Filters = Filters()) -> list[Hour]:
    """Footfall and responses per kiosk and hour, from the stored ``tp_presence`` records.

    Examples
    --------
    >>> import os
    >>> from tiesense import wire
    >>> from tiesense.ingest import IngestCore, Message
    >>> from tiesense.store import Store
    >>> store = Store(":memory:")
    >>> rec = wire.make_record_v2("tp_presence", "2026113001", 1795510200, 300, 1, 60, wire.CLOCK_NTP,
    ...                           [300, 8, 95, 3, 2, 1], wire.new_record_id(os.urandom))
    >>> msg = wire.encode_batch_from_encoded("kiosk-01", [wire.sign_record(rec, 1, "kiosk-01", None)], 2)
    >>> _ = IngestCore().process(store, [Message(wire.topic_records("kiosk-01"), msg, 1795510600.0)])
    >>> (h,) = hourly(store.conn)
    >>> h.hour, h.approaches, h.completed, h.response_rate
    ('2026-11-24T08:00:00Z', 8, 2, 0.25)
    >>> (k,) = kiosks(store.conn)
    >>> k.device, k.approaches, k.first == k.last == h.hour
    ('kiosk-01', 8, True)
    """
    return [Hour(**row) for row in _read(conn, f"r.device AS device, {_HOUR} AS hour", "device, hour", device,
                                         filters)]


def park_hourly(conn, filters: Filters = Filters()) -> list[Hour]:
    """Footfall and responses per hour over every kiosk (``device`` None): the park's time series."""
    return [Hour(**row) for row in _read(conn, f"{_HOUR} AS hour", "hour", None, filters)]


def kiosks(conn, device: str | None = None, filters: Filters = Filters()) -> list[Kiosk]:
    """Each kiosk's totals over the records asked for (one row per kiosk with presence records), by device."""
    keys = f"r.device AS device, min({_HOUR}) AS first, max({_HOUR}) AS last"
    return [Kiosk(**row) for row in _read(conn, keys, "device", device, filters)]
