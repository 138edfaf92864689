"""MQTT to validated, deduplicated rows: the host's ingest loop.

Two threads. paho's network thread runs ``on_message``, which only queues
``(topic, payload, received_at)``. The writer thread takes batches from the
queue, checks each record (``wire.check_record``, then the answers against the
form version the record names), writes the whole batch in one transaction,
commits, and only then publishes the acknowledgements (one message per device
per batch) and releases the MQTT PUBACKs. A host killed at any moment has
therefore acknowledged only what is on disk; what it had not acknowledged,
the devices send again and the broker delivers again.

Nothing a device sends can stop the loop: whatever cannot be accepted is kept
in ``quarantine`` with a reason and its raw bytes.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from . import wire
from .broker import parse_broker_url
from .forms import FormRegistry, validate_answers
from .store import QuarantineItem, RecordItem, StatusItem, Store, now_iso

__all__ = ["Ingest", "BatchReport", "IngestError"]

log = logging.getLogger(__name__)

# How long the broker keeps an MQTT 5 ingest session (and its queued messages)
# while the host is away.
SESSION_EXPIRY_S = 7 * 24 * 3600


class IngestError(ConnectionError):
    """The ingest could not connect or subscribe to the broker."""


@dataclass
class BatchReport:
    """What one committed batch did; passed to ``Ingest(on_batch=...)``."""

    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    quarantined: int = 0
    statuses: int = 0
    acks: dict[str, list[tuple[int, str | None, str]]] = field(default_factory=dict)


@dataclass
class _Message:
    topic: str
    payload: bytes
    received_at: float
    mid: int
    qos: int
    generation: int


@dataclass
class _Parsed:
    """One message turned into rows to write and ack slots to fill after the commit."""

    records: list[RecordItem] = field(default_factory=list)
    quarantine: list[QuarantineItem] = field(default_factory=list)
    statuses: list[StatusItem] = field(default_factory=list)
    # (ack device, seq, instance_id, status or None for "the next record outcome")
    slots: list[tuple[str, int, str | None, str | None]] = field(default_factory=list)
    ignored: int = 0


def _readable_seq(rec: object) -> int | None:
    if isinstance(rec, dict):
        seq = rec.get("seq")
        if isinstance(seq, int) and not isinstance(seq, bool) and seq >= 1:
            return seq
    return None


def _ack_payloads(entries: list[tuple[int, str | None, str]]) -> list[bytes]:
    """Ack messages for ``entries``: one, unless it would exceed ``wire.DEVICE_BATCH_BYTES``
    (a device's receive buffer), then as few as fit."""
    out, chunk = [], []
    for e in entries:
        if chunk and len(wire.encode_ack(chunk + [e])) > wire.DEVICE_BATCH_BYTES:
            out.append(wire.encode_ack(chunk))
            chunk = []
        chunk.append(e)
    if chunk:
        out.append(wire.encode_ack(chunk))
    return out


class Ingest:
    """Subscribe to every device's records and status; store, deduplicate, acknowledge.

    Parameters
    ----------
    store : Store
        Where rows go.
    broker_url : str
        ``mqtt://HOST:PORT``.
    client_id : str
        MQTT client id; the session is persistent, so keep it stable across restarts.
    shared_group : str or None
        Join ``$share/<group>/`` for records (MQTT 5, Mosquitto): workers of one
        group split the stream. Status stays a plain subscription, as retained
        messages are not sent to shared subscriptions.
    batch_max : int
        Most messages written in one transaction.
    batch_wait : float
        Seconds the writer waits for more messages before committing a batch.
    forms : FormRegistry or None
        Forms records are checked against (default: the built-in instruments).
    on_batch : callable or None
        Called with a :class:`BatchReport` after each committed batch, from the writer thread.

    Examples
    --------
    >>> with Ingest(Store("t.db"), "mqtt://127.0.0.1:1883") as ing:   # doctest: +SKIP
    ...     time.sleep(10)
    ...     print(ing.stats)
    """

    def __init__(self, store: Store, broker_url: str, client_id: str = "tiesense-ingest",
                 shared_group: str | None = None, batch_max: int = 200, batch_wait: float = 0.05, *,
                 forms: FormRegistry | None = None, on_batch: Callable[[BatchReport], None] | None = None):
        self.store = store
        self.broker_url = broker_url
        self.host, self.port = parse_broker_url(broker_url)
        self.client_id = client_id
        self.shared_group = shared_group
        if shared_group is not None and (not shared_group or any(c in shared_group for c in "/+#")):
            raise ValueError(f"shared group {shared_group!r} must be a non-empty name without '/', '+' or '#'")
        self.batch_max = max(1, int(batch_max))
        self.batch_wait = float(batch_wait)
        self.forms = forms if forms is not None else FormRegistry.builtin()
        self.on_batch = on_batch
        self._queue: queue.Queue[_Message] = queue.Queue()
        self._stopping = threading.Event()
        self._subscribed = threading.Event()
        self._refused: str | None = None
        self._generation = 0
        self._writer: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        self._pending: list[mqtt.MQTTMessageInfo] = []
        self._lock = threading.Lock()
        self._stats = {"received": 0, "batches": 0, "stored": 0, "duplicates": 0, "conflicts": 0,
                       "quarantined": 0, "statuses": 0, "acks_sent": 0, "acked": 0, "ignored": 0, "errors": 0}

    # ---------------------------------------------------------- lifecycle

    @property
    def subscriptions(self) -> list[str]:
        """The topic filters this ingest subscribes to."""
        records = wire.SUB_RECORDS
        if self.shared_group:
            records = f"$share/{self.shared_group}/{records}"
        return [records, wire.SUB_STATUS]

    def start(self, timeout: float = 10.0) -> "Ingest":
        """Connect, subscribe (QoS 1, persistent session) and start the writer.

        Raises
        ------
        IngestError
            If the broker cannot be reached or refuses the connection or subscriptions.
        """
        if self._client is not None:
            return self
        v5 = self.shared_group is not None
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
                             clean_session=None if v5 else False, manual_ack=True)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(0.2, 5)
        # Enough QoS 1 acks may be in flight to cover one whole batch.
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        try:
            if v5:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = SESSION_EXPIRY_S
                client.connect(self.host, self.port, keepalive=30, clean_start=False, properties=props)
            else:
                client.connect(self.host, self.port, keepalive=30)
        except (OSError, ValueError) as e:
            raise IngestError(f"cannot reach the MQTT broker at {self.broker_url}: {e.strerror or e}") from None
        self._client = client
        self._stopping.clear()
        self._writer = threading.Thread(target=self._run, name="tiesense-ingest-writer", daemon=True)
        self._writer.start()
        client.loop_start()
        deadline = time.monotonic() + timeout
        while not self._subscribed.wait(0.05):
            if self._refused or time.monotonic() > deadline:
                reason = self._refused or (f"the broker at {self.broker_url} did not accept the ingest's "
                                           f"connection and subscriptions within {timeout:.0f} s")
                self.stop()
                raise IngestError(reason)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Drain the queue, commit, publish the last acks, then disconnect."""
        client = self._client
        if client is None:
            return
        self._stopping.set()
        if self._writer is not None:
            self._writer.join(timeout)
            self._writer = None
        deadline = time.monotonic() + timeout
        for info in list(self._pending):
            try:
                info.wait_for_publish(max(0.01, deadline - time.monotonic()))
            except (RuntimeError, ValueError):
                pass  # not connected: the device resends, the host re-acks
        client.disconnect()
        client.loop_stop()
        self._client = None

    def __enter__(self) -> "Ingest":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def stats(self) -> dict[str, int]:
        """Counters since start: received (messages), batches, stored, duplicates, conflicts,
        quarantined, statuses, acks_sent (ack messages), acked (records acknowledged), ignored
        (the host's own forms, acks and commands echoed back), errors, and queued (messages
        waiting for the writer)."""
        with self._lock:
            out = dict(self._stats)
        out["queued"] = self._queue.qsize()
        return out

    @property
    def connected(self) -> bool:
        """Whether the MQTT connection is up."""
        return self._client is not None and self._client.is_connected()

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False, timeout: float = 10.0) -> None:
        """Publish through the ingest's connection and wait until the broker has it."""
        if self._client is None:
            raise IngestError("ingest is not started")
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout)

    # ----------------------------------------------------- paho callbacks

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = f"the broker at {self.broker_url} refused the ingest's connection: {reason_code}"
            log.error("%s", self._refused)
            return
        with self._lock:
            self._generation += 1
        if self.shared_group:
            subs = [(t, SubscribeOptions(qos=wire.QOS_RECORDS)) for t in self.subscriptions]
        else:
            subs = [(t, wire.QOS_RECORDS) for t in self.subscriptions]
        client.subscribe(subs)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        bad = [rc for rc in reason_codes if rc.is_failure]
        if bad:
            self._refused = f"the broker at {self.broker_url} refused the ingest's subscriptions: {bad}"
            log.error("%s", self._refused)
            return
        self._subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if not self._stopping.is_set():
            log.warning("lost the broker %s (%s); reconnecting", self.broker_url, reason_code)

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        # Never block here: queue the bytes and return.
        self._queue.put(_Message(msg.topic, bytes(msg.payload), time.time(), msg.mid, msg.qos, self._generation))

    # ------------------------------------------------------------- writer

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch:
                try:
                    self._handle(batch)
                except Exception:  # a bug must not stop the ingest; the devices resend
                    log.exception("ingest failed on a batch of %d messages; they stay unacknowledged", len(batch))
                    with self._lock:
                        self._stats["errors"] += 1
            elif self._stopping.is_set():
                return

    def _take(self) -> list[_Message]:
        try:
            first = self._queue.get(timeout=0.1)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.batch_wait
        while len(batch) < self.batch_max:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _handle(self, batch: list[_Message]) -> None:
        parsed: list[_Parsed] = []
        for m in batch:
            try:
                parsed.append(self._parse(m))
            except Exception as e:  # a bug in checking: keep the bytes, say so
                log.exception("could not parse a message on %s", m.topic)
                parsed.append(_Parsed(quarantine=[QuarantineItem(m.topic, f"internal error while checking: {e!r}",
                                                                 m.payload, now_iso(m.received_at))]))
        records = [r for p in parsed for r in p.records]
        quarantine = [q for p in parsed for q in p.quarantine]
        statuses = [s for p in parsed for s in p.statuses]
        while True:
            try:
                outcomes = self.store.write_batch(records, quarantine, statuses)
                break
            except Exception:
                log.exception("could not write a batch to %s; retrying", self.store.path)
                with self._lock:
                    self._stats["errors"] += 1
                if self._stopping.wait(1.0):
                    return  # not committed, so not acknowledged: the devices resend
        # Committed. Now, and only now, acknowledge.
        report = BatchReport(messages=len(batch), quarantined=len(quarantine), statuses=len(statuses))
        it = iter(outcomes)
        for p in parsed:
            for device, seq, iid, status in p.slots:
                if status is None:
                    o = next(it)
                    seq, iid, status = o.seq, o.instance_id, o.status
                    if status == wire.STORED:
                        report.stored += 1
                    elif status == wire.DUPLICATE:
                        report.duplicates += 1
                    else:
                        report.conflicts += 1
                report.acks.setdefault(device, []).append((seq, iid, status))
        acks_sent = 0
        for device, entries in report.acks.items():
            try:
                for payload in _ack_payloads(entries):
                    info = self._client.publish(wire.topic_ack(device), payload, qos=wire.QOS_ACK)
                    self._pending.append(info)
                    acks_sent += 1
            except Exception:
                log.exception("could not publish acks to %s; the device will resend and be re-acked", device)
        self._pending = [p for p in self._pending if not p.is_published()]
        generation = self._generation
        for m in batch:
            if m.qos > 0 and m.generation == generation:
                try:
                    self._client.ack(m.mid, m.qos)
                except Exception:
                    log.debug("PUBACK for mid %d failed", m.mid, exc_info=True)
        with self._lock:
            s = self._stats
            s["received"] += len(batch)
            s["batches"] += 1
            s["stored"] += report.stored
            s["duplicates"] += report.duplicates
            s["conflicts"] += report.conflicts
            s["quarantined"] += report.quarantined
            s["statuses"] += report.statuses
            s["acks_sent"] += acks_sent
            s["acked"] += sum(len(e) for e in report.acks.values())
            s["ignored"] += sum(p.ignored for p in parsed)
        if self.on_batch is not None:
            try:
                self.on_batch(report)
            except Exception:
                log.exception("on_batch callback failed")

    # ------------------------------------------------------------ checking

    def _parse(self, m: _Message) -> _Parsed:
        out = _Parsed()
        at = now_iso(m.received_at)

        def refuse(reason: str, device: str | None = None, item: int = -1, rec: object = None) -> None:
            iid = rec.get("id") if isinstance(rec, dict) and isinstance(rec.get("id"), str) else None
            out.quarantine.append(QuarantineItem(m.topic, reason, m.payload, at, device, item, iid,
                                                 _readable_seq(rec)))
            log.info("quarantined from %s: %s", m.topic, reason)

        parsed_topic = wire.parse_topic(m.topic)
        if parsed_topic is not None and parsed_topic[1] not in ("records", "status"):
            # Forms, acks and commands are the host's own messages. amqtt 0.12 sends a
            # connecting client the retained messages matching ANY session's
            # subscriptions, so the retained forms arrive here unasked: not input.
            log.debug("ignored a %s message on %s (not an ingest topic)", parsed_topic[1], m.topic)
            out.ignored += 1
            return out
        if parsed_topic is None:
            refuse("topic outside the contract (expected tiesense/v1/<device>/records or /status)")
            return out
        device, kind = parsed_topic
        if len(m.payload) > wire.MAX_PAYLOAD:
            refuse(f"payload of {len(m.payload)} bytes is over MAX_PAYLOAD ({wire.MAX_PAYLOAD} bytes)", device)
            return out
        if not m.payload:
            refuse(f"empty payload on a {kind} topic", device)
            return out
        if kind == "status":
            try:
                out.statuses.append(StatusItem(device, wire.decode_status(m.payload), at))
            except wire.WireError as e:
                refuse(str(e), device)
            return out

        try:
            sender, records = wire.decode_batch(m.payload)
        except wire.WireError as e:
            refuse(str(e), device)  # no seq to acknowledge: the device never sent a readable message
            return out
        if sender != device:
            # Readable but sent on another device's topic: keep all of it, and ack
            # on the topic's device so the publisher stops resending.
            refuse(f"device id mismatch: the topic is for '{device}' but the message says '{sender}'", device)
            for rec in records:
                seq = _readable_seq(rec)
                if seq is not None:
                    iid = rec.get("id") if isinstance(rec.get("id"), str) else None
                    out.slots.append((device, seq, iid, wire.QUARANTINED))
            return out
        for i, rec in enumerate(records):
            reason = self._check(rec, device)
            if reason is None:
                out.records.append(RecordItem(rec, at, m.topic))
                out.slots.append((device, rec["seq"], rec["id"], None))
                continue
            refuse(f"record {i}: {reason}", device, i, rec)
            seq = _readable_seq(rec)
            if seq is not None:
                iid = rec.get("id") if isinstance(rec.get("id"), str) else None
                out.slots.append((device, seq, iid, wire.QUARANTINED))
        return out

    def _check(self, rec: object, device: str) -> str | None:
        """Why ``rec`` cannot be stored, or None."""
        try:
            wire.check_record(rec)
        except wire.WireError as e:
            return str(e)
        if rec["device"] != device:
            return f"device id mismatch: the record says '{rec['device']}' in a message from '{device}'"
        problem = self.forms.problem(rec["form"], rec["form_version"])
        if problem:
            return problem
        problems = validate_answers(self.forms.get(rec["form"], rec["form_version"]), rec["answers"])
        if problems:
            return f"answers do not fit form '{rec['form']}' version '{rec['form_version']}': " + "; ".join(problems)
        try:
            wire.encode_record(rec)
        except wire.WireError as e:
            return str(e)
        return None
