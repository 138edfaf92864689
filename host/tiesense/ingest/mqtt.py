"""The MQTT adapter of the ingest: subscribe, hand batches to the core, acknowledge after the commit.

Two threads. paho's network thread runs ``on_message``, which only queues
``(topic, payload, received_at)``. The writer thread takes whatever is queued
(group commit: a busy broker gives big batches, a quiet one single
messages), lets :class:`~tiesense.ingest.core.IngestCore` check and store the
batch in one transaction, and only after the commit publishes the
application-level acks and releases the broker's PUBACKs. A host killed at
any moment has therefore acknowledged only what is on disk; what it had not
acknowledged, the devices send again and the broker delivers again.

Nothing on the network may stall it:

* An ack that cannot be published (the connection is down) is kept and
  published again after the reconnect; the devices also resend, and the host
  re-acks them. No later batch waits for an earlier ack. (paho also replays
  a QoS 1 publish it could not send, so a device may get such an ack twice; a
  device ignores an ack for a record it no longer holds.)
* PUBACKs are released for every committed batch, whatever happened to its
  acks, so the broker never stops delivering for want of them. A message
  received on an earlier connection is not PUBACKed on the new one: the broker
  delivers it again and the store recognises the duplicate.
* Losing the connection, a broker that forgot the host's session, and
  another client taking the host's client id are logged and counted in
  :attr:`Ingest.health` (the ``serve`` status line shows them).
"""
from __future__ import annotations

import collections
import logging
import queue
import sqlite3
import threading
import time
from typing import Callable, Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from .. import wire
from ..broker_address import BrokerAddress
from ..forms import FormRegistry
from ..store import Store
from .core import BatchReport, IngestCore, Message

__all__ = ["Ingest", "IngestError", "SESSION_EXPIRY_S"]

log = logging.getLogger(__name__)

# How long the broker keeps an MQTT 5 ingest session (and its queued messages)
# while the host is away.
SESSION_EXPIRY_S = 7 * 24 * 3600
# MQTT reason codes the adapter acts on.
_NOT_AUTHORIZED = (4, 5, 134, 135)  # 3.1.1 CONNACK 4/5, MQTT 5 0x86/0x87
_CLOSED_BEFORE_CONNACK = -1
# How long an MQTT 5 CONNECT may go unanswered before the host tries MQTT 3.1.1.
_PROBE_S = 1.5
_UNSUPPORTED_PROTOCOL = (1, 132, _CLOSED_BEFORE_CONNACK)  # 3.1.1 CONNACK 1, MQTT 5 CONNACK 0x84
_SESSION_TAKEN_OVER = 142  # MQTT 5 DISCONNECT 0x8E
# A broker that closes the connection and accepts the reconnect at once, with no
# refused attempt in between, either restarted quickly or let another client in
# with the host's client id (Mosquitto 2.0 closes the socket without saying so).
# Twice within a minute is not a restart: someone is using the host's id.
_READMITTED_S = 2.0
_TAKEOVER_WINDOW_S = 60.0
# Acks waiting for a reconnect; older ones are dropped first (the devices resend).
_UNSENT_MAX = 100_000
# Published acks remembered so that stop() can wait for the broker to take them.
_RECENT_MAX = 1_000


class IngestError(ConnectionError):
    """The ingest could not connect or subscribe to the broker."""


class _Received:
    __slots__ = ("message", "mid", "qos", "generation")

    def __init__(self, message: Message, mid: int, qos: int, generation: int):
        self.message = message
        self.mid = mid
        self.qos = qos
        self.generation = generation


class Ingest:
    """Subscribe to every device's records and status; store, deduplicate, acknowledge.

    Parameters
    ----------
    store : Store
        Where rows go.
    broker_url : str or BrokerAddress
        ``mqtt://HOST:PORT``, ``mqtts://USER@HOST:PORT``..., or a
        :class:`~tiesense.broker_address.BrokerAddress` with credentials and TLS
        files (a string takes them from ``TIESENSE_MQTT_*`` in the environment).
    client_id : str
        MQTT client id; the session is persistent, so keep it stable across
        restarts and never share it with another client (:class:`~tiesense.service.Host`
        derives one from the database).
    shared_group : str or None
        Join ``$share/<group>/`` for records (MQTT 5, Mosquitto): workers of one
        group split the stream. Status stays a plain subscription, as retained
        messages are not sent to shared subscriptions.
    batch_max : int
        Most messages written in one transaction.
    forms : FormRegistry or None
        Forms records are checked against (default: the built-in instruments).
    on_batch : callable or list of callables
        Subscribers called with each committed :class:`~tiesense.ingest.core.BatchReport`,
        in the writer thread, after its acks are published. A subscriber that
        raises is logged and does not stop the ingest.
    protocol : {None, 4, 5}
        MQTT protocol level: 5 (MQTT 5), 4 (3.1.1), or None to try MQTT 5 and
        fall back to 3.1.1 when the broker does not speak it (amqtt).

    Examples
    --------
    >>> with Ingest(Store("t.db"), "mqtt://127.0.0.1:1883") as ing:   # doctest: +SKIP
    ...     time.sleep(10)
    ...     print(ing.stats)
    """

    def __init__(self, store: Store, broker_url: str | BrokerAddress, client_id: str = "tiesense-ingest",
                 shared_group: str | None = None, batch_max: int = 500, *,
                 forms: FormRegistry | None = None,
                 on_batch: Callable[[BatchReport], None] | Iterable[Callable[[BatchReport], None]] | None = None,
                 protocol: int | None = None, require_signed: bool = False):
        self.store = store
        self.address = broker_url if isinstance(broker_url, BrokerAddress) else BrokerAddress.parse(broker_url)
        self.broker_url = self.address.url  # without the password: safe in every message
        self.client_id = client_id
        self.shared_group = shared_group
        if shared_group is not None and (not shared_group or any(c in shared_group for c in "/+#")):
            raise ValueError(f"shared group {shared_group!r} must be a non-empty name without '/', '+' or '#'")
        if protocol not in (None, 4, 5):
            raise ValueError("protocol must be 4 (MQTT 3.1.1), 5 (MQTT 5) or None (try 5, fall back to 3.1.1)")
        if shared_group is not None and protocol == 4:
            raise ValueError("a shared group needs MQTT 5 (protocol=5)")
        self.protocol = protocol
        self.batch_max = max(1, int(batch_max))
        self.core = IngestCore(forms, require_signed=require_signed)
        if on_batch is None:
            self.subscribers: list[Callable[[BatchReport], None]] = []
        elif callable(on_batch):
            self.subscribers = [on_batch]
        else:
            self.subscribers = list(on_batch)
        self._queue: queue.SimpleQueue[_Received] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._subscribed = threading.Event()
        self._connack = threading.Event()
        self._refused: str | None = None
        self._refused_code: int | None = None
        self._generation = 0
        self._writer: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        self._v5 = False
        self._lost_at: float | None = None  # monotonic time the connection was lost, if not by the broker's word
        self._readmitted: list[float] = []  # monotonic times the broker let the host straight back in
        self._unsent: collections.deque[tuple[str, bytes]] = collections.deque(maxlen=_UNSENT_MAX)
        self._recent: collections.deque[mqtt.MQTTMessageInfo] = collections.deque(maxlen=_RECENT_MAX)
        self._lock = threading.Lock()
        self._stats = {"received": 0, "batches": 0, "stored": 0, "duplicates": 0, "conflicts": 0,
                       "quarantined": 0, "statuses": 0, "acks_sent": 0, "acked": 0, "ignored": 0, "errors": 0,
                       "acks_deferred": 0, "acks_resent": 0}
        self._health = {"connected": False, "since": None, "connects": 0, "disconnects": 0,
                        "session_lost": 0, "readmitted": 0, "taken_over": 0, "last_problem": None}

    # ---------------------------------------------------------- lifecycle

    @property
    def forms(self) -> FormRegistry:
        """The forms records are checked against."""
        return self.core.forms

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
        self._stopping.clear()
        deadline = time.monotonic() + timeout
        protocols = [self.protocol] if self.protocol else ([5] if self.shared_group else [5, 4])
        for i, level in enumerate(protocols):
            self._connect(level)
            fallback = i + 1 < len(protocols)
            # amqtt may neither answer an MQTT 5 CONNECT nor close the socket: give it a moment only
            wait = max(0.0, deadline - time.monotonic())
            answered = self._connack.wait(min(wait, _PROBE_S) if fallback else wait)
            if not answered and not fallback:
                break
            if fallback and (not answered or self._refused_code in _UNSUPPORTED_PROTOCOL):
                log.debug("%s does not speak MQTT 5; using MQTT 3.1.1", self.broker_url)
                self._drop_client()
                continue
            break
        while not self._subscribed.wait(0.05):
            if self._refused or time.monotonic() > deadline:
                reason = self._refused or (f"the broker at {self.broker_url} did not accept the ingest's "
                                           f"connection and subscriptions within {timeout:.0f} s")
                self.stop()
                raise IngestError(reason)
        self._writer = threading.Thread(target=self._run, name="tiesense-ingest-writer", daemon=True)
        self._writer.start()
        return self

    def _connect(self, level: int) -> None:
        v5 = level == 5
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
                             clean_session=None if v5 else False, manual_ack=True)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_connect_fail = self._on_connect_fail
        client.reconnect_delay_set(0.2, 5)
        # Acks of a whole batch may be in flight at once; the rest wait in paho's queue.
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        self._refused = None
        self._refused_code = None
        self._connack.clear()
        self._v5 = v5
        try:
            self.address.configure(client)
        except ValueError as e:
            raise IngestError(str(e)) from None
        try:
            if v5:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = SESSION_EXPIRY_S
                client.connect(self.address.host, self.address.port, keepalive=30, clean_start=False,
                               properties=props)
            else:
                client.connect(self.address.host, self.address.port, keepalive=30)
        except (OSError, ValueError) as e:
            raise IngestError(f"cannot reach the MQTT broker at {self.broker_url}: "
                              f"{getattr(e, 'strerror', None) or e}") from None
        self._client = client
        client.loop_start()

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def stop(self, timeout: float = 10.0) -> None:
        """Drain the queue, commit, publish the last acks, then disconnect."""
        if self._client is None:
            return
        self._stopping.set()
        if self._writer is not None:
            self._writer.join(timeout)
            self._writer = None
        deadline = time.monotonic() + timeout
        for info in list(self._recent):
            try:
                info.wait_for_publish(max(0.01, deadline - time.monotonic()))
            except (RuntimeError, ValueError):
                pass  # not connected: the device resends, the host re-acks
        self._drop_client()
        with self._lock:
            self._health["connected"] = False

    def __enter__(self) -> "Ingest":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def stats(self) -> dict[str, int]:
        """Counters since start: received (messages), batches, stored, duplicates, conflicts,
        quarantined, statuses, acks_sent (ack messages), acked (records acknowledged), ignored
        (the host's own forms, acks and commands echoed back), errors, acks_deferred (ack
        messages kept for a reconnect), acks_resent, and queued (messages waiting for the writer)."""
        with self._lock:
            out = dict(self._stats)
        out["queued"] = self._queue.qsize()
        return out

    @property
    def health(self) -> dict:
        """The connection as the host sees it: connected, since (epoch seconds of the last
        change), connects, disconnects, session_lost (reconnects that found no session at
        the broker), readmitted (drops the broker let straight back in: a quick restart or
        another client with this id), taken_over (another client with this client id:
        the broker said so, or readmitted twice within a minute), last_problem (one
        line, or None), and unsent (acks waiting for a reconnect)."""
        with self._lock:
            out = dict(self._health)
        out["unsent"] = len(self._unsent)
        return out

    @property
    def connected(self) -> bool:
        """Whether the MQTT connection is up."""
        return self._client is not None and self._client.is_connected()

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False, timeout: float = 10.0) -> None:
        """Publish through the ingest's connection and wait until the broker has it.

        Raises
        ------
        IngestError
            If the ingest is not started or the broker did not take the message in ``timeout``.
        """
        if self._client is None:
            raise IngestError("ingest is not started")
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError) as e:
            raise IngestError(f"could not publish on {topic}: {e}") from None
        if not info.is_published():
            raise IngestError(f"the broker did not take the message on {topic} within {timeout:.0f} s")

    # ----------------------------------------------------- paho callbacks

    def _problem(self, message: str, level: int = logging.WARNING) -> None:
        log.log(level, "%s", message)
        with self._lock:
            self._health["last_problem"] = message

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused_code = reason_code.value
            self._refused = f"the broker at {self.broker_url} refused the ingest's connection: {reason_code}"
            if reason_code.value in _NOT_AUTHORIZED:
                self._refused += (" (check the user name in the URL and the password: TIESENSE_MQTT_PASSWORD "
                                  "or --password-file; and that the broker's password and ACL files list this user)")
            self._connack.set()
            fallback = self.protocol is None and self._v5 and reason_code.value in _UNSUPPORTED_PROTOCOL
            self._problem(self._refused, logging.DEBUG if fallback else logging.ERROR)
            return
        lost_at, self._lost_at = self._lost_at, None
        with self._lock:
            self._generation += 1
            h = self._health
            first = h["connects"] == 0
            h["connects"] += 1
            h["connected"] = True
            h["since"] = time.time()
        self._connack.set()
        if not first and not flags.session_present:
            with self._lock:
                self._health["session_lost"] += 1
            self._problem(f"the broker at {self.broker_url} had no session for client id '{self.client_id}' "
                          "on reconnect (it restarted without persistence, or another client connected "
                          "with this id and a clean session): messages queued for the host may be gone; "
                          "devices resend what was not acknowledged")
        now = time.monotonic()
        if lost_at is not None and now - lost_at < _READMITTED_S:
            self._readmitted = [t for t in self._readmitted if now - t < _TAKEOVER_WINDOW_S] + [now]
            with self._lock:
                self._health["readmitted"] += 1
            if len(self._readmitted) >= 2:
                self._taken_over(f"the broker dropped the host and let it straight back in "
                                 f"{len(self._readmitted)} times within {_TAKEOVER_WINDOW_S:.0f} s")
            else:
                self._problem(f"the broker at {self.broker_url} dropped the host's connection and let it straight "
                              f"back in: a quick broker restart, or another client connecting with the host's "
                              f"client id '{self.client_id}'")
        if self._v5:
            subs = [(t, SubscribeOptions(qos=wire.QOS_RECORDS)) for t in self.subscriptions]
        else:
            subs = [(t, wire.QOS_RECORDS) for t in self.subscriptions]
        client.subscribe(subs)

    def _on_connect_fail(self, client, userdata) -> None:
        self._lost_at = None  # the broker is really away: a restart or an outage, not a takeover

    def _taken_over(self, how: str) -> None:
        with self._lock:
            self._health["taken_over"] += 1
        self._problem(f"another MQTT client connected with the host's client id '{self.client_id}' at "
                      f"{self.broker_url} ({how}); the host reconnected and the devices resend what it "
                      "missed. Give every host and tool its own client id", logging.ERROR)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        bad = [rc for rc in reason_codes if rc.is_failure]
        if bad:
            self._refused = f"the broker at {self.broker_url} refused the ingest's subscriptions: {bad}"
            self._problem(self._refused, logging.ERROR)
            return
        self._subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if not self._connack.is_set():
            # Closed before any CONNACK: some brokers (amqtt) answer an MQTT 5 CONNECT so.
            self._refused_code = _CLOSED_BEFORE_CONNACK
            self._refused = f"the broker at {self.broker_url} closed the connection before accepting it ({reason_code})"
            self._connack.set()
        with self._lock:
            was = self._health["connected"]
            self._health["connected"] = False
            if was:
                self._health["disconnects"] += 1
                self._health["since"] = time.time()
        if self._stopping.is_set() or not was:
            return
        if getattr(reason_code, "value", None) == _SESSION_TAKEN_OVER:
            self._taken_over("the broker said the session was taken over")
        else:
            if not flags.is_disconnect_packet_from_server:
                self._lost_at = time.monotonic()
            self._problem(f"lost the broker {self.broker_url} ({reason_code}); reconnecting")

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        # Never block here: queue the bytes and return.
        self._queue.put(_Received(Message(msg.topic, msg.payload, time.time()), msg.mid, msg.qos, self._generation))

    # ------------------------------------------------------------- writer

    def _run(self) -> None:
        while True:
            self._resend_unsent()
            batch = self._take()
            if batch:
                self._handle(batch)
            elif self._stopping.is_set():
                self._resend_unsent()
                return

    def _take(self) -> list[_Received]:
        """Whatever is queued, up to ``batch_max`` messages; waits only when nothing is."""
        try:
            first = self._queue.get(timeout=0.1)
        except queue.Empty:
            return []
        batch = [first]
        get = self._queue.get_nowait
        try:
            while len(batch) < self.batch_max:
                batch.append(get())
        except queue.Empty:
            pass
        return batch

    def _handle(self, batch: list[_Received]) -> None:
        messages = [r.message for r in batch]
        while True:
            try:
                report = self.core.process(self.store, messages)
                break
            except sqlite3.OperationalError as e:  # the disk, not the code: one line, no traceback
                log.error("could not write a batch of %d messages to the database (%s: is its disk full or "
                          "read-only?); nothing acknowledged, retrying every second", len(batch), e)
                with self._lock:
                    self._stats["errors"] += 1
                if self._stopping.wait(1.0):
                    return  # not committed, so not acknowledged: the devices resend
            except Exception:
                log.exception("could not write a batch of %d messages to the database; retrying", len(batch))
                with self._lock:
                    self._stats["errors"] += 1
                if self._stopping.wait(1.0):
                    return  # not committed, so not acknowledged: the devices resend
        # Committed: count it before anyone hears of it, so a device that has its ack never sees counters behind it
        with self._lock:
            s = self._stats
            s["received"] += len(batch)
            s["batches"] += 1
            s["stored"] += report.stored
            s["duplicates"] += report.duplicates
            s["conflicts"] += report.conflicts
            s["quarantined"] += report.quarantined
            s["statuses"] += report.statuses
            s["acked"] += report.acked
            s["ignored"] += report.ignored
        # Now, and only now, acknowledge: the devices first, then the broker.
        sent = self._send_acks((a.topic, a.payload) for a in report.outbox)
        generation = self._generation
        client = self._client
        for r in batch:
            if r.qos > 0 and r.generation == generation:
                try:
                    client.ack(r.mid, r.qos)
                except Exception:  # disconnected: the broker delivers it again after the reconnect
                    log.debug("PUBACK for mid %d failed", r.mid, exc_info=True)
        with self._lock:
            self._stats["acks_sent"] += sent
        for subscriber in self.subscribers:
            try:
                subscriber(report)
            except Exception:
                log.exception("on_batch subscriber %r failed", subscriber)

    def _send_acks(self, acks: Iterable[tuple[str, bytes]]) -> int:
        """Publish acks; keep for the reconnect those the client cannot take now. Returns how many went out."""
        client = self._client
        sent = 0
        for topic, payload in acks:
            info = client.publish(topic, payload, qos=wire.QOS_ACK) if client is not None else None
            if info is not None and info.rc == mqtt.MQTT_ERR_SUCCESS:
                self._recent.append(info)
                sent += 1
            else:
                self._unsent.append((topic, payload))
                with self._lock:
                    self._stats["acks_deferred"] += 1
        return sent

    def _resend_unsent(self) -> None:
        if not self._unsent or not self.connected:
            return
        pending = []
        while self._unsent:
            pending.append(self._unsent.popleft())
        sent = self._send_acks(pending)
        with self._lock:
            self._stats["acks_sent"] += sent
            self._stats["acks_resent"] += sent
        if sent:
            log.info("re-sent %d acknowledgements kept while the broker was away", sent)
