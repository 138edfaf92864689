"""Re-ingest: a quarantined payload fed back through the ingest core once the host is fixed.

A record is quarantined for a reason the host may later remove: its form
version was not published yet, a device was not provisioned... Once fixed,
:func:`reingest` checks the kept bytes again with
:class:`~tiesense.ingest.IngestCore` (the same checks as live ingest, against
every form the host knows now) and, if they pass, stores them and forgets the
quarantine row in one transaction. If they still fail nothing is written
(the row keeps its count of receptions) and the new reason is returned.

For a record refused inside a message of several (``item`` >= 0), only that
record is checked and stored: the others were stored or have their own rows.
A payload whose bytes were cut (longer than the store keeps) cannot be
re-ingested: the device must send it again.
"""
from __future__ import annotations

import calendar
import hashlib
import time
from dataclasses import dataclass, field

from . import wire
from .aggregates import all_forms
from .forms import FormRegistry
from .ingest.core import BatchReport, IngestCore, Message
from .store import RecordItem, Store, quarantine

__all__ = ["Reingested", "NotQuarantined", "Truncated", "reingest"]


class NotQuarantined(LookupError):
    """No quarantine row has this id."""


class Truncated(ValueError):
    """Only a prefix of the payload was kept: it cannot be checked again."""


@dataclass
class Reingested:
    """What re-ingesting one quarantine row did: ``status`` is ``stored``, ``duplicate``, ``conflict``
    (the row is gone) or ``refused`` (the row stays; ``reason`` says why)."""

    quarantine_id: int
    status: str
    reason: str | None = None
    statuses: list[str] = field(default_factory=list)
    report: BatchReport | None = None


def _epoch(iso: str) -> float:
    return calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S"))


def reingest(store: Store, qid: int, core: IngestCore | None = None, on_batch=()) -> Reingested:
    """Check quarantine row ``qid`` again and store it if it passes now.

    Parameters
    ----------
    core : IngestCore
        Default: one checking against every form the host knows (published and built in).
    on_batch : callables
        Called with a :class:`~tiesense.ingest.BatchReport` of what was stored, as
        the ingest's subscribers are (live estimates).
    """
    row = store.read(quarantine.get, qid)
    if row is None:
        raise NotQuarantined(qid)
    raw = bytes(row["raw"])
    if row["raw_length"] is not None and len(raw) < row["raw_length"]:
        raise Truncated(f"only {len(raw)} of its {row['raw_length']} bytes were kept")
    core = core or IngestCore(FormRegistry(all_forms(store)))
    items, statuses, reason = [], [], None
    keys = store.device_keys()
    if row["item"] >= 0:
        parsed = wire.parse_topic(row["topic"])
        device = parsed[0] if parsed else ""
        try:
            version, _sender, records = wire.decode_records_message(raw)
            rec = records[row["item"]]
        except (wire.WireError, IndexError) as e:
            reason = str(e) or "the record is no longer in the message"
        else:
            if version == wire.V2:  # signed positional record: the same checks as on arrival
                item, reason = core.check_record_v2(rec, device, keys.get(device), _epoch(row["received_at"]))
                if item is not None:
                    item.received_at, item.topic = row["received_at"], row["topic"]
                    items.append(item)
            elif device in keys or core.require_signed:
                reason = "unsigned version 1 record from a device that must sign (see docs/protocol.md, Version 2)"
            else:
                encoded, reason = core.check_record(rec, device)
                if reason is None:
                    items.append(RecordItem(rec, row["received_at"], row["topic"],
                                            hashlib.sha256(encoded).hexdigest()))
            if reason is not None:
                reason = f"record {row['item']}: {reason}"
    else:
        prepared = core.prepare([Message(row["topic"], raw, _epoch(row["received_at"]))], keys)
        if prepared.quarantine:
            reason = prepared.quarantine[0].reason
        else:
            items, statuses = prepared.records, prepared.statuses
    if reason is not None:
        return Reingested(qid, "refused", reason)
    outcomes = store.reingest(qid, items, statuses)
    report = BatchReport(messages=1, statuses=len(statuses))
    for it, o in zip(items, outcomes):
        if o.status == wire.STORED:
            report.stored += 1
            report.stored_records.append(it.record)
        elif o.status == wire.DUPLICATE:
            report.duplicates += 1
        else:
            report.conflicts += 1
    for subscriber in on_batch:
        subscriber(report)
    kinds = [o.status for o in outcomes]
    status = (wire.CONFLICT if wire.CONFLICT in kinds else wire.STORED if wire.STORED in kinds
              else wire.DUPLICATE if kinds else "status")
    return Reingested(qid, status, None, kinds, report)
