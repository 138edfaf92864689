"""USB serial offload: the second ingest adapter, for a handheld that never saw Wi-Fi.

The device (``firmware/offload.py``) answers framed requests on its USB
serial line; this module asks. A pull is: ``HELLO`` (handshake: the first
bytes after opening a port can be lost, so it is retried), ``LIST`` (what the
device holds), then ``GET <after_seq> <max_bytes>`` over and over. Each
``RECORDS`` answer is byte for byte the MQTT records message of those
records, handed to :class:`~tiesense.ingest.core.IngestCore` as
``Message(wire.topic_records(device), payload, time.time())``: the same checks,
deduplication and SQLite transaction as over MQTT. Only after the commit is
each ack of ``report.outbox`` sent back as an ``ACK`` frame, carrying the
exact ack message (signed with the device's key from the store), which the
device verifies as it would over MQTT before it deletes anything.

Frames are lines, ``<VERB> <tag>[ <payload>] <crc32 as 8 hex>``; the tag
numbers the request and is echoed in its answer, so a late answer to an
earlier try is skipped. A frame that fails its CRC, a ``RETRY`` from the
device (it got a damaged request), an ``ERR`` (it could not do it, e.g. out
of memory) or no answer within ``timeout`` means the request is sent again:
every request is idempotent (a record resent is stored once, a repeated ack
removes nothing twice). Lines that are not
frames (the device's console shares the USB line) are skipped.

A cable pulled mid-transfer raises :class:`LinkLost`; nothing has left the
device without a verified ack, and the next pull resumes from whatever is
still pending there.

Examples
--------
>>> encode_frame("GET", 7, b"0 16384")
b'GET 7 0 16384 a59ef602\\n'
>>> decode_frame(b'GET 7 0 16384 a59ef602')
('GET', 7, b'0 16384')
"""
from __future__ import annotations

import binascii
import json
import time
from dataclasses import dataclass
from typing import Any, Callable

from .. import wire
from .core import IngestCore, Message

__all__ = ["PROTO", "BAUDRATE", "DEFAULT_CHUNK_BYTES", "OffloadError", "LinkLost", "DeviceInfo", "PullReport",
           "encode_frame", "decode_frame", "SerialLink", "SerialOffload", "open_port", "pull_store"]

#: The offload protocol's version (firmware/offload.py ``PROTO``).
PROTO = 1
#: USB CDC ignores it; a USB-serial adapter on a device's UART would not.
BAUDRATE = 115200
#: Bytes of records asked for per GET: about 100 visit records (a device caps it at wire.MAX_PAYLOAD
#: and wire.MAX_BATCH_RECORDS, and streams the chunk from flash without holding it in RAM).
DEFAULT_CHUNK_BYTES = 16384
#: Verbs a device answers with; a damaged line starting with one of them is a damaged frame, others are console.
REPLY_VERBS = ("HELLO", "LIST", "RECORDS", "END", "ACKED", "REFUSED", "RETRY", "ERR")


class OffloadError(RuntimeError):
    """The device cannot be pulled; the message says why and what to do."""


class LinkLost(OffloadError):
    """The serial line went away (cable pulled, device reset): pull again to resume."""


class _Retry(Exception):
    pass


def _crc(body: bytes) -> bytes:
    return b"%08x" % (binascii.crc32(body) & 0xFFFFFFFF)


def encode_frame(verb: str, tag: int, payload: bytes = b"") -> bytes:
    """One frame line, newline included."""
    body = f"{verb} {tag}".encode()
    if payload:
        body += b" " + payload
    return body + b" " + _crc(body) + b"\n"


def decode_frame(line: bytes) -> tuple[str, int, bytes]:
    """``(verb, tag, payload)`` of a frame line without its newline; ValueError if it is damaged."""
    i = line.rfind(b" ")
    if i < 0 or len(line) - i != 9:
        raise ValueError("not a frame")
    body = bytes(line[:i])
    if line[i + 1:] != _crc(body):
        raise ValueError("bad crc")
    parts = body.split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise ValueError("no tag")
    return parts[0].decode("ascii", "replace"), int(parts[1]), parts[2] if len(parts) > 2 else b""


@dataclass
class DeviceInfo:
    """What a device says it holds (its LIST answer)."""

    device: str
    fw: str
    role: str
    queue: int  # records waiting for the host's ack
    first: int | None  # the oldest pending seq
    last: int | None  # the newest seq the device has written
    signed: bool  # the device has a key: it signs records and verifies acks


@dataclass
class PullReport:
    """One pull: what was received, what the host did with it, what is left on the device."""

    device: str = ""
    received: int = 0  # records received (a record resent after a failed try counts again)
    stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    quarantined: int = 0
    acked: int = 0  # records the device removed on the host's acks
    refused_acks: int = 0  # ack frames the device refused (did not verify with its key)
    chunks: int = 0
    retries: int = 0  # frames sent again (damaged, unanswered, or RETRY)
    remaining: int = 0  # records still on the device at the end
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Records received per second, from HELLO to the last ack."""
        return self.received / self.seconds if self.seconds > 0 else 0.0


class SerialLink:
    """Requests and answers over a pyserial-like port (``read``, ``write``, ``in_waiting``, ``timeout``).

    ``timeout`` is how long one try waits for its answer; ``retries`` how many
    more tries a request gets before :class:`OffloadError`.
    """

    def __init__(self, port: Any, timeout: float = 2.0, retries: int = 5):
        self.port = port
        self.timeout = timeout
        self.retries = retries
        self.tag = 0
        self.retried = 0  # frames sent again
        self.noise = 0  # console lines skipped
        self._buf = bytearray()

    def request(self, verb: str, payload: bytes = b"", timeout: float | None = None) -> tuple[str, bytes]:
        """Send a request until a clean answer with its tag arrives; ``(answer verb, payload)``."""
        why = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += 1
            self.tag = self.tag % 65535 + 1
            self._write(encode_frame(verb, self.tag, payload))
            try:
                return self._answer(self.tag, time.monotonic() + (timeout or self.timeout))
            except _Retry as e:
                why = str(e)
        if why.startswith("the device answered ERR"):
            raise OffloadError(f"the device {why[11:]} to {verb}, {self.retries + 1} times: the records it "
                               "still holds stay on it (docs/offload.md says what to do)")
        raise OffloadError(f"no clean answer to {verb} after {self.retries + 1} tries (last: {why}): is the device "
                           "running tiesense firmware with \"offload\": true, and no other program using the port?")

    def _write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except OSError as e:  # serial.SerialException is an OSError
            raise LinkLost(f"the serial line went away ({e})") from None

    def _answer(self, tag: int, deadline: float) -> tuple[str, bytes]:
        while True:
            line = self._readline(deadline)
            if line is None:
                raise _Retry("no answer in time")
            try:
                verb, t, payload = decode_frame(line)
            except ValueError:
                if line.split(b" ", 1)[0].decode("ascii", "replace") in REPLY_VERBS:
                    raise _Retry("damaged answer") from None
                self.noise += 1  # the device's console on the same line
                continue
            if verb == "RETRY":
                raise _Retry(f"the device got a damaged request ({payload.decode(errors='replace')})")
            if t != tag:
                continue  # a late answer to an earlier try
            if verb == "ERR":  # the device could not do it (e.g. MemoryError on a fragmented heap): ask again
                raise _Retry(f"the device answered ERR {payload.decode(errors='replace')}")
            return verb, payload

    def _readline(self, deadline: float) -> bytes | None:
        buf = self._buf
        while True:
            i = buf.find(b"\n")
            if i >= 0:
                line = bytes(buf[:i]).rstrip(b"\r")
                del buf[:i + 1]
                return line
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:  # the port's own read timeout is short (open_port: 50 ms), so the deadline is kept
                data = self.port.read(max(1, self.port.in_waiting))
            except OSError as e:
                raise LinkLost(f"the serial line went away ({e})") from None
            buf.extend(data)

    def drain(self) -> None:
        """Start clean: end whatever half line the device holds, drop whatever we hold."""
        self._write(b"\n")
        self._buf.clear()


def _seqs(payload: bytes) -> list[int]:
    try:
        _version, _device, records = wire.decode_records_message(payload)
    except wire.WireError as e:
        raise OffloadError(f"the device sent a records message the host cannot read ({e}); it is quarantined") \
            from None
    seqs = []
    for r in records:
        seq = r[0] if isinstance(r, list) and r else r.get("seq") if isinstance(r, dict) else None
        if isinstance(seq, int):
            seqs.append(seq)
    return seqs


class SerialOffload:
    """Pull one device's records over ``link`` into ``store`` through ``core``.

    Parameters
    ----------
    port : pyserial-like, or SerialLink
        The open port (:func:`open_port`), or a link over one.
    store : tiesense.store.Store or None
        Where records go; its device keys check the records and sign the acks
        (None: :meth:`list` only).
    core : IngestCore, optional
        Default: checks against the store's published forms and the built-in ones.
    """

    def __init__(self, port: Any, store, core: IngestCore | None = None, timeout: float = 2.0, retries: int = 5):
        self.link = port if isinstance(port, SerialLink) else SerialLink(port, timeout, retries)
        self.store = store
        self._core = core
        self.info: DeviceInfo | None = None
        self.hello: dict | None = None

    @property
    def core(self) -> IngestCore:
        if self._core is None:
            self._core = IngestCore(_registry(self.store))
        return self._core

    def handshake(self) -> dict:
        """HELLO until the device answers (the first bytes on a fresh port may be lost)."""
        self.link.drain()
        verb, payload = self.link.request("HELLO")
        if verb != "HELLO":
            raise OffloadError(f"the device answered HELLO with {verb} {payload[:80]!r}")
        hello = json.loads(payload)
        if hello.get("proto") != PROTO:
            raise OffloadError(f"the device speaks offload protocol {hello.get('proto')}, this host {PROTO}: "
                               "update the older side")
        if not wire.valid_device_id(hello.get("device")):
            raise OffloadError(f"the device gave an invalid id {hello.get('device')!r}")
        self.hello = hello
        return hello

    def list(self) -> DeviceInfo:
        """What the device holds now."""
        if self.hello is None:
            self.handshake()
        verb, payload = self.link.request("LIST")
        if verb != "LIST":
            raise OffloadError(f"the device answered LIST with {verb} {payload[:80]!r}")
        d = json.loads(payload)
        self.info = DeviceInfo(d["device"], d.get("fw", "?"), d.get("role", "?"), d["queue"], d.get("first"),
                               d.get("last"), bool(d.get("signed")))
        return self.info

    def pull(self, progress: Callable[[int], None] | None = None,
             chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> PullReport:
        """Transfer every pending record, store it, and ack it; ``progress(n)`` after each chunk's acks.

        Raises
        ------
        LinkLost
            The line went away; what was stored stays stored, and the device
            keeps what it did not see acked: pull again to resume.
        OffloadError
            The device does not answer cleanly, or speaks another protocol.
        """
        t0 = time.monotonic()
        info = self.list()
        device = info.device
        if info.signed and device not in self.store.device_keys():
            raise OffloadError(f"{device} signs its records, but this database holds no key for it: pull into the "
                               "host database that provisioned it (tiesense devices provision)")
        r = PullReport(device=device)
        topic = wire.topic_records(device)
        ack_topic = wire.topic_ack(device)
        after = 0
        try:
            while True:
                verb, payload = self.link.request("GET", f"{after} {int(chunk_bytes)}".encode())
                if verb == "END":
                    break
                if verb != "RECORDS":
                    raise OffloadError(f"the device answered GET with {verb} {payload[:120]!r}")
                batch = self.core.process(self.store, [Message(topic, payload, time.time())])
                seqs = _seqs(payload)  # after the core, which keeps an unreadable message in quarantine
                if not seqs or max(seqs) <= after:
                    raise OffloadError(f"the device sent no record after seq {after}: {payload[:120]!r}")
                r.chunks += 1
                r.received += len(seqs)
                r.stored += batch.stored
                r.duplicates += batch.duplicates
                r.conflicts += batch.conflicts
                r.quarantined += batch.quarantined
                for ack in batch.outbox:
                    if ack.topic != ack_topic:
                        continue
                    verb, answer = self.link.request("ACK", ack.payload)
                    if verb == "ACKED":
                        r.acked += json.loads(answer)["acked"]
                    elif verb == "REFUSED":
                        r.refused_acks += 1
                    else:
                        raise OffloadError(f"the device answered ACK with {verb} {answer[:120]!r}")
                after = max(seqs)
                if progress is not None:
                    progress(len(seqs))
            r.remaining = self.list().queue
        finally:
            r.retries = self.link.retried
            r.seconds = time.monotonic() - t0
        return r


def _registry(store):
    from ..forms import FormRegistry, builtin_forms

    forms = FormRegistry()
    for f in store.forms() + builtin_forms():  # every version ever published, as the host's ingest checks
        forms.add(f)
    return forms


def open_port(port: str, timeout: float = 0.05):
    """The device's serial port, opened with pyserial (``serial.Serial(port, 115200)``).

    Raises
    ------
    OffloadError
        pyserial missing, or the port cannot be opened (the message names it).
    """
    try:
        import serial
    except ImportError:  # pragma: no cover - a runtime dependency
        raise OffloadError("pyserial is not installed: pip install 'pyserial>=3.5'") from None
    try:
        return serial.Serial(port, BAUDRATE, timeout=timeout)
    except (serial.SerialException, OSError, ValueError) as e:
        raise OffloadError(f"cannot open {port}: {e}") from None


def pull_store(port: str, db_path, list_only: bool = False, progress_factory=None, timeout: float = 2.0,
               chunk_bytes: int = DEFAULT_CHUNK_BYTES):
    """Open ``port`` and ``db_path``, and list (``list_only``) or pull; returns DeviceInfo or PullReport.

    ``progress_factory(info)`` returns a context manager with ``update(n)`` (a click progress bar).
    """
    from ..store import Store

    ser = open_port(port)
    try:
        if list_only:  # the database is not needed (nor created) to look
            return SerialOffload(ser, None, timeout=timeout).list()
        with Store(db_path) as store:
            off = SerialOffload(ser, store, timeout=timeout)
            info = off.list()
            if progress_factory is None:
                return off.pull(chunk_bytes=chunk_bytes)
            with progress_factory(info) as bar:
                return off.pull(progress=bar.update, chunk_bytes=chunk_bytes)
    finally:
        ser.close()
