"""Footfall and response rate per kiosk and hour, from the kiosks' presence records.

Every kiosk logs one ``tp_presence`` record per interval in which anything
happened (``host/tiesense/instruments/tp_presence.json``): approaches the
presence sensor counted, dwell, surveys started, completed and abandoned.
They arrive like surveys (signed, through the same log and acks), so the
figures here are as complete as the records are. An hour a kiosk was online
without a record had no approaches and no surveys.

The response rate is completed surveys per approach: how many of the people
who came near the kiosk answered it (domain.md §4).
"""
from __future__ import annotations

from dataclasses import dataclass

from .store.connection import dicts

__all__ = ["PRESENCE_FORM", "Hour", "hourly"]

PRESENCE_FORM = "tp_presence"

_HOURLY = """
SELECT device, substr(start, 1, 13) || ':00:00Z' AS hour,
       sum(json_extract(answers, '$.approaches')) AS approaches,
       sum(json_extract(answers, '$.dwell_s')) AS dwell_s,
       sum(json_extract(answers, '$.started')) AS started,
       sum(json_extract(answers, '$.completed')) AS completed,
       sum(json_extract(answers, '$.abandoned')) AS abandoned,
       count(*) AS intervals,
       sum(CASE WHEN clock = 'unsynced' THEN 1 ELSE 0 END) AS unsynced
FROM records WHERE form = ? {where}
GROUP BY device, hour ORDER BY device, hour
"""


@dataclass(frozen=True)
class Hour:
    """One kiosk's counts in one hour (``hour`` is its start, UTC)."""

    device: str
    hour: str
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


def hourly(conn, device: str | None = None) -> list[Hour]:
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
    """
    where, params = "", [PRESENCE_FORM]
    if device is not None:
        where, params = "AND device = ?", params + [device]
    return [Hour(**row) for row in dicts(conn, _HOURLY.format(where=where), params)]
