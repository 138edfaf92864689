"""Received messages to rows and acknowledgements: the ingest core, with no transport in it.

Every way records reach the host (the MQTT subscriber in
:mod:`tiesense.ingest.mqtt`, a USB serial offload from a handheld) is a thin
adapter over :class:`IngestCore`. An adapter hands over what it received as
:class:`Message` (topic or channel, payload bytes, receive time) and gets back
a :class:`BatchReport`: what was stored, what was quarantined and why, and the
acknowledgement messages to send back, one or more per device. Nothing here
knows about sockets, threads or MQTT sessions, so every rule can be tested
with plain function calls.

The order of work is the contract's promise: :meth:`IngestCore.prepare`
checks every message (pure, no I/O); the store writes the whole batch in one
transaction; only then does :meth:`IngestCore.acknowledge` fill in the acks.
An adapter that sends the acks of a batch only after :meth:`IngestCore.process`
returned has therefore acknowledged only what is committed.

Nothing a device sends can stop the core: whatever cannot be accepted becomes
a :class:`~tiesense.store.QuarantineItem` with a reason and the raw bytes, and
every record whose ``seq`` can be read is acknowledged as ``quarantined`` so
the device stops resending it (the host holds it durably, in quarantine).
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from .. import wire
from ..forms import FormRegistry, validate_answers
from ..store import QuarantineItem, RecordItem, StatusItem, now_iso

__all__ = ["Message", "AckMessage", "Prepared", "BatchReport", "IngestCore", "EARLIEST_SYNCED_START"]

#: A record whose device clock was synced cannot start before this (2024-01-01T00:00:00Z) ...
EARLIEST_SYNCED_START = 1704067200
#: ... nor later than this many seconds after the host received it.
FUTURE_SLACK_S = 86400
_CLOCK_NAMES = {wire.CLOCK_UNSYNCED: "unsynced", wire.CLOCK_NTP: "ntp", wire.CLOCK_HOST: "host"}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """One message as an adapter received it.

    ``topic`` is the MQTT topic, or for another transport the topic the same
    message would have had (``tiesense/v1/<device>/records`` or ``/status``):
    the device named there is who the transport says sent it.
    ``received_at`` is the host's clock in epoch seconds.
    """

    topic: str
    payload: bytes
    received_at: float


@dataclass(frozen=True)
class AckMessage:
    """A message the host owes a device: an acknowledgement on ``wire.topic_ack(device)``, or a
    signed "time" command on ``wire.topic_command(device)`` for a device whose clock is unsynced."""

    device: str
    topic: str
    payload: bytes


@dataclass
class Prepared:
    """A batch checked and turned into rows, before anything is written."""

    records: list[RecordItem] = field(default_factory=list)
    quarantine: list[QuarantineItem] = field(default_factory=list)
    statuses: list[StatusItem] = field(default_factory=list)
    # (ack device, seq, instance_id, status), status None: "the outcome of the next record"
    slots: list[tuple[str, int, Any, Any]] = field(default_factory=list)
    messages: int = 0
    ignored: int = 0
    #: devices that spoke contract version 2 in this batch (their acks are version 2, signed), with their keys
    v2_devices: dict[str, Any] = field(default_factory=dict)
    #: signed time commands owed to devices whose status said their clock is unsynced
    commands: list[AckMessage] = field(default_factory=list)
    #: the host's clock for the acks' "t": the latest receive time in the batch
    now: float = 0.0


@dataclass
class BatchReport:
    """What one committed batch did; what an adapter sends back and an ``on_batch`` subscriber reads.

    ``acks`` maps each device to its ``(seq, instance_id, status)`` entries in
    arrival order; ``outbox`` holds them encoded as ack messages;
    ``stored_records`` the record envelopes (dicts) stored for the first time.
    """

    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    quarantined: int = 0
    statuses: int = 0
    ignored: int = 0
    acks: dict[str, list[tuple[int, Any, str]]] = field(default_factory=dict)
    outbox: list[AckMessage] = field(default_factory=list)
    stored_records: list[dict] = field(default_factory=list)

    @property
    def stored_ids(self) -> list[str]:
        """Instance ids this batch stored for the first time."""
        return [iid for entries in self.acks.values() for (_seq, iid, status) in entries if status == wire.STORED]

    @property
    def acked(self) -> int:
        """Number of records acknowledged (any status)."""
        return sum(len(e) for e in self.acks.values())


def _readable_seq(rec: object) -> int | None:
    seq = rec.get("seq") if isinstance(rec, dict) else rec[0] if isinstance(rec, list) and rec else None
    if isinstance(seq, int) and not isinstance(seq, bool) and seq >= 1:
        return seq
    return None


def _readable_id(rec: object) -> str | None:
    iid = rec.get("id") if isinstance(rec, dict) else rec[1] if isinstance(rec, list) and len(rec) > 1 else None
    return iid if isinstance(iid, str) else None


class IngestCore:
    """Check, store and acknowledge batches of received messages.

    Parameters
    ----------
    forms : FormRegistry or None
        Forms records are checked against (default: the built-in instruments).
        Every version ever published should be registered: a record answered on
        a replaced version is checked against the version it names.
    max_payload : int
        Largest payload accepted, in bytes; a larger one is quarantined (the
        store keeps a bounded prefix, its length and SHA-256).

    Examples
    --------
    >>> from tiesense.store import Store
    >>> core = IngestCore()
    >>> report = core.process(Store(":memory:"), [Message("tiesense/v1/k1/records", b"{", 0.0)])
    >>> report.quarantined, report.outbox
    (1, [])
    """

    def __init__(self, forms: FormRegistry | None = None, *, max_payload: int = wire.MAX_PAYLOAD,
                 keys: Callable[[Any], Mapping[str, bytes]] | None = None, require_signed: bool = False):
        self.forms = forms if forms is not None else FormRegistry.builtin()
        self.max_payload = int(max_payload)
        self.require_signed = bool(require_signed)
        self._keys = keys
        self._fields: dict[int, list[str]] = {}  # id(form) -> its answer fields (forms are immutable)

    # ------------------------------------------------------------ batches

    def process(self, store, messages: Iterable[Message]) -> BatchReport:
        """Check ``messages``, write them to ``store`` in one transaction, and return the report.

        When this returns, every row is committed; send ``report.outbox`` then.
        If the store raises, nothing is committed and nothing is acknowledged:
        hand the same messages in again (the devices would resend them anyway).
        """
        keys = self._keys(store) if self._keys is not None else store.device_keys()
        prepared = self.prepare(messages, keys)
        outcomes = store.write_batch(prepared.records, prepared.quarantine, prepared.statuses)
        return self.acknowledge(prepared, outcomes)

    def prepare(self, messages: Iterable[Message], keys: Mapping[str, bytes] | None = None) -> Prepared:
        """Check every message and turn it into rows and ack slots. Pure: no I/O, no clock.

        ``keys`` maps each provisioned device to its secret key (bytes): its
        records must be signed with it, and its acks and commands are.
        """
        out = Prepared()
        keys = keys or {}
        for m in messages:
            out.messages += 1
            out.now = max(out.now, m.received_at)
            try:
                self._prepare_one(m, out, keys)
            except Exception as e:  # a bug in checking: keep the bytes, say so, and go on
                log.exception("could not check a message on %s", m.topic)
                out.quarantine.append(QuarantineItem(m.topic, f"internal error while checking: {e!r}",
                                                     bytes(m.payload), now_iso(m.received_at)))
        return out

    def acknowledge(self, prepared: Prepared, outcomes: list) -> BatchReport:
        """Fill the ack slots of a committed batch with the store's outcomes; encode the acks."""
        report = BatchReport(messages=prepared.messages, quarantined=len(prepared.quarantine),
                             statuses=len(prepared.statuses), ignored=prepared.ignored)
        it = iter(outcomes)
        items = iter(prepared.records)
        for device, seq, iid, status in prepared.slots:
            if status is None:
                o = next(it)
                item = next(items)
                # a version 2 device is acked with the id as it sent it (32 hex digits)
                seq, iid, status = o.seq, (iid if item.wire == wire.V2 else o.instance_id), o.status
                if status == wire.STORED:
                    report.stored += 1
                    report.stored_records.append(item.record)
                elif status == wire.DUPLICATE:
                    report.duplicates += 1
                else:
                    report.conflicts += 1
            report.acks.setdefault(device, []).append((seq, iid, status))
        t = int(prepared.now)
        for device, entries in report.acks.items():
            topic = wire.topic_ack(device)
            if device in prepared.v2_devices:
                payloads = wire.encode_acks(entries, wire.DEVICE_BATCH_BYTES, wire.V2, device,
                                            prepared.v2_devices[device], t)
            else:
                payloads = wire.encode_acks(entries, wire.DEVICE_BATCH_BYTES)
            for payload in payloads:
                report.outbox.append(AckMessage(device, topic, payload))
        report.outbox.extend(prepared.commands)
        return report

    # ------------------------------------------------------------ checking

    def _prepare_one(self, m: Message, out: Prepared, keys: Mapping[str, bytes]) -> None:
        at = now_iso(m.received_at)
        payload = m.payload

        def refuse(reason: str, device: str | None = None, item: int = -1, rec: object = None) -> None:
            out.quarantine.append(QuarantineItem(m.topic, reason, bytes(payload), at, device, item,
                                                 _readable_id(rec), _readable_seq(rec)))
            log.info("quarantined from %s: %s", m.topic, reason)

        parsed_topic = wire.parse_topic(m.topic)
        if parsed_topic is not None and parsed_topic[1] not in ("records", "status"):
            # Forms, acks and commands are the host's own messages. amqtt 0.12 sends a
            # connecting client the retained messages matching ANY session's
            # subscriptions, so the retained forms arrive here unasked: not input.
            log.debug("ignored a %s message on %s (not an ingest topic)", parsed_topic[1], m.topic)
            out.ignored += 1
            return
        if parsed_topic is None:
            refuse("topic outside the contract (expected tiesense/v1/<device>/records or /status)")
            return
        device, kind = parsed_topic
        if len(payload) > self.max_payload:
            refuse(f"payload of {len(payload)} bytes is over the limit of {self.max_payload} bytes", device)
            return
        if not payload:
            refuse(f"empty payload on a {kind} topic", device)
            return
        if kind == "status":
            try:
                status = wire.decode_status(payload)
            except wire.WireError as e:
                refuse(str(e), device)
                return
            out.statuses.append(StatusItem(device, status, at))
            if status["v"] == wire.V2 and status.get("online") and status.get("clock") == wire.CLOCK_UNSYNCED \
                    and status.get("nonce"):
                # no NTP on the device's network: lend it the host's clock, signed, for this connection only
                t = int(m.received_at)
                out.commands.append(AckMessage(device, wire.topic_command(device), wire.encode_command(
                    "time", "t%d" % t, {"t": t}, device=device, key=keys.get(device), nonce=status["nonce"], t=t)))
            return

        try:
            version, sender, records = wire.decode_records_message(payload)
        except wire.WireError as e:
            refuse(str(e), device)  # no seq to acknowledge: the device never sent a readable message
            return
        def held(rec: object) -> None:
            # a refused record whose seq can be read is acked as quarantined: the host holds it, stop resending
            seq = _readable_seq(rec)
            if seq is not None:
                out.slots.append((device, seq, _readable_id(rec), wire.QUARANTINED))

        if sender != device:
            # Readable but sent on another device's topic: keep all of it, and ack
            # on the topic's device so the publisher stops resending.
            refuse(f"device id mismatch: the topic is for '{device}' but the message says '{sender}'", device)
            for rec in records:
                held(rec)
            return
        key = keys.get(device)
        if version == wire.V2:
            out.v2_devices[device] = key
            for i, rec in enumerate(records):
                item, reason = self.check_record_v2(rec, device, key, m.received_at)
                if reason is None:
                    item.received_at, item.topic = at, m.topic
                    out.records.append(item)
                    out.slots.append((device, rec[0], rec[1], None))
                    continue
                refuse(f"record {i}: {reason}", device, i, rec)
                held(rec)
            return
        if key is not None or self.require_signed:
            why = ("its device is provisioned with a key, so its records must be signed (contract version 2): "
                   "stage the current firmware onto it" if key is not None else
                   "this host requires signed records (--require-signed): stage the current firmware onto the "
                   "device and provision it")
            refuse(f"unsigned version 1 records: {why}", device)
            for rec in records:
                held(rec)
            return
        for i, rec in enumerate(records):
            encoded, reason = self.check_record(rec, device)
            if reason is None:
                out.records.append(RecordItem(rec, at, m.topic, hashlib.sha256(encoded).hexdigest()))
                out.slots.append((device, rec["seq"], rec["id"], None))
                continue
            refuse(f"record {i}: {reason}", device, i, rec)
            held(rec)

    def check_record(self, rec: object, device: str) -> tuple[bytes, str | None]:
        """``(canonical bytes, None)`` for a record the host accepts from ``device``,
        else ``(b"", why not)``."""
        try:
            wire.check_record(rec)
        except wire.WireError as e:
            return b"", str(e)
        if rec["device"] != device:
            return b"", f"device id mismatch: the record says '{rec['device']}' in a message from '{device}'"
        form = self.forms.get(rec["form"], rec["form_version"])
        if form is None:
            return b"", self.forms.problem(rec["form"], rec["form_version"])
        problems = validate_answers(form, rec["answers"])
        if problems:
            return b"", (f"answers do not fit form '{rec['form']}' version '{rec['form_version']}': "
                         + "; ".join(problems))
        try:
            return wire.encode_checked_record(rec), None
        except UnicodeEncodeError:
            return b"", "record text is not valid Unicode (a lone surrogate escape such as \\ud800)"

    def answer_fields(self, form: dict) -> list[str]:
        """The answer positions of ``form`` (cached: a published form version never changes)."""
        names = self._fields.get(id(form))
        if names is None:
            names = self._fields[id(form)] = wire.answer_fields(form)
        return names

    def check_record_v2(self, rec: object, device: str, key: bytes | None,
                        received_at: float) -> tuple[RecordItem | None, str | None]:
        """``(row, None)`` for a version 2 record the host accepts from ``device``, else ``(None, why not)``.

        Checks, in order: the shape; the signature (with ``key``, the device's;
        without, only an empty signature passes, and none if signatures are
        required); the form version and the answers; the start time, which
        must be possible if the device says its clock was synced (an unsynced
        one is kept, flagged, and corrected once the device's clock anchor is
        known).
        """
        try:
            wire.check_record_v2(rec)
        except wire.WireError as e:
            return None, str(e)
        body = wire.record_body(rec)
        sig = rec[10]
        if key is not None:
            if not wire.signature_ok(key, wire.SIGN_RECORD, device, body, sig):
                return None, (f"signature does not verify with the key of '{device}' (forged, altered, or signed "
                              "by another device)")
        elif sig:
            return None, (f"signed, but '{device}' has no key on this host (never provisioned, or revoked): "
                          f"provision it with 'tiesense devices provision {device}'")
        elif self.require_signed:
            return None, "unsigned record: this host requires signed records (--require-signed)"
        seq, rid, form_id, version, start, duration, boot, uptime, clock, values = rec[:10]
        form = self.forms.get(form_id, version)
        if form is None:
            return None, self.forms.problem(form_id, version)
        names = self.answer_fields(form)
        if len(values) != len(names):
            return None, (f"{len(values)} answers for the {len(names)} answer fields of form '{form_id}' "
                          f"version '{version}'")
        answers = {n: v for n, v in zip(names, values) if v is not None}
        problems = validate_answers(form, answers)
        if problems:
            return None, f"answers do not fit form '{form_id}' version '{version}': " + "; ".join(problems)
        if clock != wire.CLOCK_UNSYNCED and not (EARLIEST_SYNCED_START <= start <= received_at + FUTURE_SLACK_S):
            return None, (f"impossible start time {wire.iso_utc(start, time.gmtime)} from a clock the device "
                          "says was synced")
        record = wire.make_record(device, seq, form_id, version, wire.iso_utc(start, time.gmtime),
                                  wire.iso_utc(start + duration, time.gmtime), answers,
                                  wire.instance_id_from_hex(rid))
        try:
            digest = hashlib.sha256(wire.encode_checked_record(rec)).hexdigest()
        except UnicodeEncodeError:
            return None, "record text is not valid Unicode (a lone surrogate escape such as \\ud800)"
        return RecordItem(record, "", digest=digest, wire=wire.V2, clock=_CLOCK_NAMES[clock], boot=boot,
                          uptime_s=uptime, duration_s=duration), None
