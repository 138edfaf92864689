# tiesense wire contract: MQTT topics, the record envelope, acknowledgements,
# device status, commands and form distribution.
#
# This one file is the contract. The host imports it as ``tiesense.wire``; devices
# carry the same file as ``wire.py`` (``tiesense firmware stage`` copies it, compiled).
# It must therefore run unchanged under CPython and MicroPython: no f-strings
# with format specs, no typing, no dataclasses, only ``json`` and ``sys``.
#
# Encoding is canonical JSON (keys sorted, no spaces, UTF-8 without escapes
# for non-ASCII), so the same record gives the same bytes on every side and a
# digest of those bytes identifies its content. docs/protocol.md explains it.
#
# Two contract versions travel on the same topics, told apart by each
# message's "v": version 1 (records as JSON objects, nothing signed) and
# version 2 (positional records, HMAC-SHA256 signatures both ways, clock
# quality; docs/protocol.md, "Version 2"). This firmware speaks VERSION; the
# host reads every version in VERSIONS, since devices in the field may still
# send the older one.
import json
import sys

VERSION = 2
VERSIONS = (1, 2)
V1 = 1
V2 = 2
PREFIX = "tiesense/v1"  # the topic tree, unchanged by contract version 2

# Largest payload the host accepts on any topic; larger ones are quarantined.
MAX_PAYLOAD = 65536
# Devices keep each records message under this many bytes (Pico W heap): a kiosk's default, and the size
# of the host's acks.
DEVICE_BATCH_BYTES = 1024
# The most a device may set (its batch_bytes): a handheld's interview record (10 partners' passes and their
# alter pairs: about 1.7 KB) must fit one message.
DEVICE_BATCH_BYTES_MAX = 4096
# Largest number of records in one message.
MAX_BATCH_RECORDS = 64

QOS_RECORDS = 1
QOS_ACK = 1
QOS_STATUS = 1
QOS_COMMAND = 1
QOS_FORM = 1

# Per-record outcomes the host acknowledges. Every one of them means "the host
# holds this record durably; delete it from the device".
STORED = "stored"
DUPLICATE = "duplicate"
CONFLICT = "conflict"
QUARANTINED = "quarantined"
ACK_STATUSES = (STORED, DUPLICATE, CONFLICT, QUARANTINED)

# Commands the host may send to a device. "time" (version 2) gives the host's
# clock to a device that has no NTP: args {"t": epoch seconds}.
COMMANDS = ("sync", "status", "reboot", "identify", "time")

# Answer values a record may carry: int, str, list of int/str, or null.
# Floats are refused: the RP2040 port has single-precision floats, so they
# would not round-trip identically.

_CPYTHON = sys.implementation.name == "cpython"


class WireError(ValueError):
    """A payload that breaks the contract; the message says which rule."""


# ---------------------------------------------------------------- topics

def topic_records(device):
    return PREFIX + "/" + device + "/records"


def topic_ack(device):
    return PREFIX + "/" + device + "/ack"


def topic_status(device):
    return PREFIX + "/" + device + "/status"


def topic_command(device):
    return PREFIX + "/" + device + "/cmd"


def topic_form(form_id):
    return PREFIX + "/forms/" + form_id


# Subscriptions: the host takes every device's records and status; a device
# takes its own acks and commands and every published form.
SUB_RECORDS = PREFIX + "/+/records"
SUB_STATUS = PREFIX + "/+/status"
SUB_FORMS = PREFIX + "/forms/+"


def parse_topic(topic):
    """Split a tiesense topic into ``(device_or_form_id, kind)``.

    ``kind`` is one of records, ack, status, cmd, form. Returns None for a
    topic outside the contract.
    """
    if not topic.startswith(PREFIX + "/"):
        return None
    rest = topic[len(PREFIX) + 1:].split("/")
    if len(rest) != 2:
        return None
    if rest[0] == "forms":
        return (rest[1], "form") if rest[1] else None
    if rest[1] in ("records", "ack", "status", "cmd") and valid_device_id(rest[0]):
        return (rest[0], rest[1])
    return None


def valid_device_id(device):
    """Device ids are 1-32 characters of a-z, 0-9, '-' and '_', starting alphanumeric."""
    if not isinstance(device, str) or not 0 < len(device) <= 32:
        return False
    for i, c in enumerate(device):
        if "a" <= c <= "z" or "0" <= c <= "9":
            continue
        if i > 0 and c in "-_":
            continue
        return False
    return True


# ------------------------------------------------------- canonical JSON

def _dump_str(s):
    if _CPYTHON:
        return json.dumps(s, ensure_ascii=False)
    return json.dumps(s)


def _plain(obj):
    """True when ``obj`` holds no dict and no float: lists, strings, integers, booleans and None only."""
    if isinstance(obj, (list, tuple)):
        for x in obj:
            if not _plain(x):
                return False
        return True
    return not isinstance(obj, (dict, float))


def dumps(obj):
    """Canonical JSON text: sorted keys, no spaces, non-ASCII kept as is.

    Floats are refused (see above); so are keys that are not strings.
    """
    if not _CPYTHON and isinstance(obj, list) and _plain(obj):
        # a positional record or a snapshot: MicroPython's json writes it exactly as below, in one
        # buffer instead of a string per value (a handheld's 4 KB record in a Pico's heap)
        return json.dumps(obj, separators=(",", ":"))
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, int):
        return str(obj)
    if isinstance(obj, str):
        return _dump_str(obj)
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join([dumps(x) for x in obj]) + "]"
    if isinstance(obj, dict):
        keys = sorted(obj.keys())
        for k in keys:
            if not isinstance(k, str):
                raise WireError("object keys must be strings")
        return "{" + ",".join([_dump_str(k) + ":" + dumps(obj[k]) for k in keys]) + "}"
    if isinstance(obj, float):
        raise WireError("floats are not allowed on the wire; use integers (e.g. tenths)")
    raise WireError("cannot encode " + str(type(obj)))


def encode(obj):
    """Canonical JSON bytes of ``obj``."""
    return dumps(obj).encode("utf-8")


def _loads(payload, what, versions=(V1,)):
    if isinstance(payload, (bytes, bytearray, memoryview)):
        try:
            payload = bytes(payload).decode("utf-8")
        except MemoryError:  # a device short of heap: not the sender's fault, and not to be called so
            raise
        except Exception:
            raise WireError(what + " is not UTF-8")
    try:
        obj = json.load(payload) if hasattr(payload, "read") else json.loads(payload)
    except MemoryError:  # as above: a big form on a small heap is not malformed
        raise
    except Exception:
        raise WireError(what + " is not JSON")
    if not isinstance(obj, dict):
        raise WireError(what + " must be a JSON object")
    v = obj.get("v")
    if v not in versions or isinstance(v, bool):
        raise WireError(what + ": unsupported contract version " + str(v) + " (this side reads "
                        + ", ".join([str(x) for x in versions]) + ")")
    return obj


# -------------------------------------------------------------- records

_HEX = "0123456789abcdef"


def new_instance_id(urandom):
    """An ODK-style instanceID: "uuid:" + a version 4 UUID.

    ``urandom`` is ``os.urandom`` (passed in so a board can supply its own).
    """
    b = bytearray(urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = "".join([_HEX[x >> 4] + _HEX[x & 15] for x in b])
    return "uuid:" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]


def valid_instance_id(iid):
    if not isinstance(iid, str) or len(iid) != 41 or not iid.startswith("uuid:"):
        return False
    u = iid[5:]
    if u[8] != "-" or u[13] != "-" or u[18] != "-" or u[23] != "-":
        return False
    # every other character a lower-case hex digit: stripping them all leaves nothing
    if (u[0:8] + u[9:13] + u[14:18] + u[19:23] + u[24:36]).strip(_HEX):
        return False
    return u[14] == "4" and u[19] in "89ab"


def iso_utc(t, gmtime=None):
    """Epoch seconds to "YYYY-MM-DDTHH:MM:SSZ"."""
    if gmtime is None:
        import time
        gmtime = time.gmtime
    y, mo, d, h, mi, s = gmtime(int(t))[:6]
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (y, mo, d, h, mi, s)


_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _valid_iso(t):
    # YYYY-MM-DDTHH:MM:SSZ in ASCII digits, and a real time of day on a real calendar day
    if not isinstance(t, str) or len(t) != 20 or len(t.encode()) != 20:
        return False
    if t[4] != "-" or t[7] != "-" or t[10] != "T" or t[13] != ":" or t[16] != ":" or t[19] != "Z":
        return False
    y, mo, d, h, mi, s = t[0:4], t[5:7], t[8:10], t[11:13], t[14:16], t[17:19]
    if not (y.isdigit() and mo.isdigit() and d.isdigit() and h.isdigit() and mi.isdigit() and s.isdigit()):
        return False
    y, mo, d = int(y), int(mo), int(d)
    if not 1 <= mo <= 12 or not 1 <= d <= _DAYS[mo - 1] or int(h) > 23 or int(mi) > 59 or int(s) > 59:
        return False
    return mo != 2 or d < 29 or (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0))


RECORD_FIELDS = ("answers", "device", "end", "form", "form_version", "id", "seq", "start")


def make_record(device, seq, form, form_version, start, end, answers, instance_id):
    """The record envelope as a dict (check it with :func:`check_record`)."""
    return {
        "id": instance_id,
        "seq": seq,
        "device": device,
        "form": form,
        "form_version": form_version,
        "start": start,
        "end": end,
        "answers": answers,
    }


def _valid_scalar(x):
    return isinstance(x, str) or (isinstance(x, int) and not isinstance(x, bool))


def _valid_choices(v):
    for x in v:
        if not _valid_scalar(x):
            return False
    return True


def _valid_pass(p):
    # one pass of a repeat: its questions' answers by position (docs/forms.md)
    for x in p:
        if not (x is None or _valid_scalar(x) or (isinstance(x, list) and _valid_choices(x))):
            return False
    return True


def _valid_answer(v):
    if v is None or _valid_scalar(v):
        return True
    if isinstance(v, list):
        if v and isinstance(v[0], list):  # a repeat: a list of passes
            for p in v:
                if not (isinstance(p, list) and _valid_pass(p)):
                    return False
            return True
        return _valid_choices(v)
    return False


def check_record(rec):
    """Raise WireError naming the first rule ``rec`` breaks; return it if none.

    This checks the envelope only; whether the answers fit the form is the
    host's business (``tiesense.forms``).
    """
    if not isinstance(rec, dict):
        raise WireError("record must be a JSON object")
    for k in RECORD_FIELDS:
        if k not in rec:
            raise WireError("record lacks field '" + k + "'")
    for k in rec:
        if k not in RECORD_FIELDS:
            raise WireError("record has unknown field '" + str(k) + "'")
    if not valid_instance_id(rec["id"]):
        raise WireError("record id must be 'uuid:' + a v4 UUID in lower case")
    seq = rec["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise WireError("record seq must be a positive integer")
    if not valid_device_id(rec["device"]):
        raise WireError("record device id is invalid")
    for k in ("form", "form_version"):
        if not isinstance(rec[k], str) or not 0 < len(rec[k]) <= 64:
            raise WireError("record " + k + " must be a string of 1-64 characters")
    for k in ("start", "end"):
        if not _valid_iso(rec[k]):
            raise WireError("record " + k + " must be a UTC time like 2026-11-24T09:30:00Z")
    if rec["end"] < rec["start"]:
        raise WireError("record ends before it starts")
    answers = rec["answers"]
    if not isinstance(answers, dict):
        raise WireError("record answers must be a JSON object")
    for k in answers:
        if not _valid_answer(answers[k]):
            raise WireError("answer '" + str(k) + "' must be an integer, a string, a list of them, a repeat's "
                            "passes (lists of those or null), or null")
    return rec


def encode_record(rec):
    """Canonical bytes of one record (what a device stores and a digest covers)."""
    return encode(rec)


if _CPYTHON:
    _CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def encode_checked_record(rec):
    """:func:`encode_record` of a record that passed :func:`check_record`, fast on CPython.

    A checked record holds only strings, integers, lists of them and null, so
    the C JSON encoder with sorted keys and no spaces gives the canonical bytes.
    """
    if _CPYTHON:
        return _CANONICAL.encode(rec).encode("utf-8")
    return encode(rec)


def encode_batch_from_encoded(device, encoded_records, version=V1):
    """A records message from records already encoded (:func:`encode_record`, or
    :func:`sign_record` for version 2).

    Devices keep records encoded in their log and splice them in without
    re-encoding; the result is byte-identical to :func:`encode_batch`.
    """
    parts = [b'{"device":', _dump_str(device).encode("utf-8"), b',"records":[']
    first = True
    for r in encoded_records:
        if not first:
            parts.append(b",")
        parts.append(bytes(r))
        first = False
    parts.append(b'],"v":' + str(version).encode() + b"}")
    return b"".join(parts)


def encode_batch(device, records, version=V1):
    """A records message (device -> host) carrying ``records`` (dicts in version 1, arrays in 2)."""
    return encode({"v": version, "device": device, "records": records})


def decode_records_message(payload):
    """Parse a records message of any version into ``(version, device, [record, ...])``.

    Raises WireError if the message itself is broken. Records are returned
    unchecked: run :func:`check_record` (version 1) or :func:`check_record_v2`
    on each, so one bad record does not condemn the others in its batch.
    """
    obj = _loads(payload, "records message", VERSIONS)
    device = obj.get("device")
    if not valid_device_id(device):
        raise WireError("records message has no valid device id")
    records = obj.get("records")
    if not isinstance(records, list) or not records:
        raise WireError("records message must carry a non-empty 'records' list")
    if len(records) > MAX_BATCH_RECORDS:
        raise WireError("records message carries more than " + str(MAX_BATCH_RECORDS) + " records")
    return obj["v"], device, records


def decode_batch(payload):
    """:func:`decode_records_message` without the version: ``(device, [record, ...])``."""
    return decode_records_message(payload)[1:]


# ------------------------------------------------------------ signatures
#
# Every signature is HMAC-SHA256 (RFC 2104) under a secret key, over
#     purpose + "\n" + who + "\n" + canonical bytes of the message without its signature
# written as base64url without padding (43 characters). ``purpose`` is one of
# the SIGN_* labels below, so a MAC made for one kind of message never
# verifies as another; ``who`` is the device id (records, acks, commands) or
# the site (forms), so bytes copied to another device's topic fail.

SIGN_RECORD = "record"
SIGN_ACK = "ack"
SIGN_COMMAND = "cmd"
SIGN_FORM = "form"

if _CPYTHON:
    import base64 as _base64
    import hashlib as _hashlib
    import hmac as _hmac

    def hmac_sha256(key, msg):
        """HMAC-SHA256 of ``msg`` under ``key`` (bytes)."""
        return _hmac.new(bytes(key), bytes(msg), _hashlib.sha256).digest()

    def _hmac_parts(key, parts):
        h = _hmac.new(bytes(key), None, _hashlib.sha256)
        for p in parts:
            h.update(p)
        return h.digest()

    def _b64url(b):
        return _base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    def _same(a, b):
        return _hmac.compare_digest(a, b)
else:
    import binascii as _binascii
    import hashlib as _hashlib

    def hmac_sha256(key, msg):
        """HMAC-SHA256 of ``msg`` under ``key`` (bytes), from hashlib.sha256: MicroPython has no hmac."""
        return _hmac_parts(key, (msg,))

    def _hmac_parts(key, parts):
        # the HMAC of the parts' concatenation, without concatenating them
        if len(key) > 64:
            key = _hashlib.sha256(key).digest()
        k = bytearray(64)
        k[:len(key)] = key
        inner = bytearray(64)
        outer = bytearray(64)
        for i in range(64):
            inner[i] = k[i] ^ 0x36
            outer[i] = k[i] ^ 0x5C
        h = _hashlib.sha256(inner)
        for p in parts:
            h.update(p)
        o = _hashlib.sha256(outer)
        o.update(h.digest())
        return o.digest()

    def _b64url(b):
        return _binascii.b2a_base64(b).rstrip(b"\n=").decode().replace("+", "-").replace("/", "_")

    def _same(a, b):
        # constant time in the length: every character is compared
        if len(a) != len(b):
            return False
        d = 0
        for i in range(len(a)):
            d |= ord(a[i]) ^ ord(b[i])
        return d == 0


def key_bytes(key):
    """A key as bytes: a hex string (site.json, the identities table) or bytes; None stays None."""
    if key is None or isinstance(key, (bytes, bytearray)):
        return key
    try:
        return bytes(bytearray([int(key[i:i + 2], 16) for i in range(0, len(key), 2)]))
    except ValueError:
        raise WireError("a key must be hex digits")


def sign(key, purpose, who, body):
    """The signature (base64url text) of ``body`` bytes for ``purpose`` and ``who``."""
    # the prefix and the body hashed in turn: a 4 KB record is never copied to be signed
    return _b64url(_hmac_parts(bytes(key), ((purpose + "\n" + who + "\n").encode(), body)))


def signature_ok(key, purpose, who, body, sig):
    """True if ``sig`` is :func:`sign` of ``body``; constant-time comparison."""
    return isinstance(sig, str) and _same(sign(key, purpose, who, body), sig)


# ------------------------------------------------------- records, version 2
#
# A version 2 record is an array, in this order:
#   [seq, id, form, form_version, start, duration_s, boot, uptime_s, clock, answers, sig]
# id          a v4 UUID as 32 lower-case hex digits (the host shows it as ODK's "uuid:...")
# start       epoch seconds (UTC) by the device's clock when the survey started
# duration_s  seconds from start to the last answer
# boot        the device's boot counter; uptime_s: seconds since that boot at start
# clock       how far start can be trusted: CLOCK_UNSYNCED (the clock was never set
#             since boot: the host corrects start from boot + uptime_s and the
#             device's status, or flags it), CLOCK_NTP, CLOCK_HOST (set by the
#             host's signed "time" command)
# answers     one value per answer field of the form version (answer_fields()),
#             in order; null where not asked
# sig         sign(device key, SIGN_RECORD, device, canonical bytes of the first
#             ten elements as an array), or "" from a device without a key

RECORD_V2_FIELDS = ("seq", "id", "form", "form_version", "start", "duration_s", "boot", "uptime_s", "clock",
                    "answers", "sig")
CLOCK_UNSYNCED = 0
CLOCK_NTP = 1
CLOCK_HOST = 2
CLOCKS = (CLOCK_UNSYNCED, CLOCK_NTP, CLOCK_HOST)
# Question types that take no answer, so have no position in a version 2 record.
NO_ANSWER_TYPES = ("note",)


def answer_fields(form):
    """Names of the questions of ``form`` that take an answer, in form order: the
    positions of a version 2 record's answers."""
    return [q["name"] for q in form["questions"] if q.get("type") not in NO_ANSWER_TYPES]


def new_record_id(urandom):
    """A version 4 UUID as 32 lower-case hex digits (a version 2 record id)."""
    iid = new_instance_id(urandom)
    return iid[5:13] + iid[14:18] + iid[19:23] + iid[24:28] + iid[29:]


def instance_id_from_hex(h):
    """ODK's "uuid:8-4-4-4-12" form of a 32-hex-digit record id."""
    return "uuid:" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]


def make_record_v2(form, form_version, start, duration_s, boot, uptime_s, clock, answers, record_id):
    """A version 2 record without seq (0 until the log gives one) and without signature."""
    return [0, record_id, form, form_version, start, duration_s, boot, uptime_s, clock, answers]


def sign_record(rec, seq, device, key):
    """Set ``rec``'s seq and return its signed version 2 bytes (what the log stores and the wire carries).

    ``key`` is the device key (bytes) or None for a device without one (empty signature).
    """
    rec[0] = seq
    body = encode(rec[:10])
    sig = (sign(key, SIGN_RECORD, device, body) if key else "").encode()
    out = bytearray(len(body) + len(sig) + 3)  # one buffer of the record's size, not one per piece
    out[:len(body)] = body
    seal_record(out, len(body), sig)
    return bytes(out) if _CPYTHON else out


def seal_record(buf, n, sig):
    """Close the record JSON in the first ``n`` bytes of ``buf`` with its signature ``sig`` (bytes): ``,"sig"]``
    over its final ``]``. ``buf`` needs ``len(sig) + 3`` bytes more; returns the signed record's length."""
    end = n - 1
    buf[end:end + 2] = b',"'
    end += 2
    buf[end:end + len(sig)] = sig
    end += len(sig)
    buf[end:end + 2] = b'"]'
    return end + 2


def _nonneg_int(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def check_record_v2(rec):
    """Raise WireError naming the first rule a version 2 record breaks; return it if none.

    Checks the shape only; the signature, the form and the clock are the host's business.
    """
    if not isinstance(rec, list):
        raise WireError("a version 2 record must be a JSON array")
    if len(rec) != len(RECORD_V2_FIELDS):
        raise WireError("a version 2 record has " + str(len(RECORD_V2_FIELDS)) + " elements ("
                        + ", ".join(RECORD_V2_FIELDS) + "), not " + str(len(rec)))
    seq, rid = rec[0], rec[1]
    if not _nonneg_int(seq) or seq < 1:
        raise WireError("record seq must be a positive integer")
    if not isinstance(rid, str) or not valid_instance_id(instance_id_from_hex(rid)) or len(rid) != 32:
        raise WireError("record id must be a v4 UUID as 32 lower-case hex digits")
    for i in (2, 3):
        if not isinstance(rec[i], str) or not 0 < len(rec[i]) <= 64:
            raise WireError("record " + RECORD_V2_FIELDS[i] + " must be a string of 1-64 characters")
    for i in (4, 5, 6, 7):
        if not _nonneg_int(rec[i]):
            raise WireError("record " + RECORD_V2_FIELDS[i] + " must be a non-negative integer")
    if rec[4] > 0xFFFFFFFF:
        raise WireError("record start must be epoch seconds before 2106")
    if rec[5] > 7 * 86400:
        raise WireError("record duration_s is over a week")
    if rec[8] not in CLOCKS or isinstance(rec[8], bool):
        raise WireError("record clock must be 0 (unsynced), 1 (NTP) or 2 (host time)")
    answers = rec[9]
    if not isinstance(answers, list):
        raise WireError("version 2 record answers must be an array (one value per answer field)")
    for i in range(len(answers)):
        if not _valid_answer(answers[i]):
            raise WireError("answer " + str(i) + " must be an integer, a string, a list of them, a repeat's "
                            "passes (lists of those or null), or null")
    if not isinstance(rec[10], str):
        raise WireError("record sig must be a string")
    return rec


def record_v2_fields(rec):
    """A version 2 record (array) as a dict keyed by :data:`RECORD_V2_FIELDS` (answers stay positional)."""
    return dict(zip(RECORD_V2_FIELDS, rec))


def record_body(rec):
    """The bytes a version 2 record's signature covers (canonical array of its first ten elements)."""
    return encode(rec[:10])


def record_id(payload):
    """The id (bytes) of an encoded record of either version, without parsing JSON.

    Version 2 (an array): the second element. Version 1 (canonical object,
    keys sorted): after "id" come only "seq" and "start", so the last
    ',"id":"' is the record's own even if an answer is called "id".
    """
    if payload[:1] == b"[":
        i = payload.find(b',"') + 2
        return bytes(payload[i:i + 32]) if i >= 2 else None
    i = payload.rfind(b',"id":"')
    if i < 0:
        return None
    i += 7
    j = payload.find(b'"', i)
    return bytes(payload[i:j])


# ------------------------------------------------------------------ acks

def encode_ack(entries):
    """A version 1 acknowledgement (host -> device) for ``entries`` of (seq, instance_id, status)."""
    return encode({"v": V1, "acks": [[e[0], e[1], e[2]] for e in entries]})


def _ack_v2(body_entries, device, key, t):
    # canonical key order: acks, sig, t, v; the signature covers the message without "sig"
    body = b'{"acks":[' + b",".join(body_entries) + b'],"t":' + str(t).encode() + b',"v":2}'
    sig = sign(key, SIGN_ACK, device, body) if key else ""
    return body[:body.index(b'],"t":') + 2] + b'"sig":"' + sig.encode() + b'",' + body[body.index(b'],"t":') + 2:]


def encode_acks(entries, max_bytes, version=V1, device=None, key=None, t=0):
    """Ack messages for ``entries``: as few as possible, each at most ``max_bytes``
    (a device's receive buffer) unless one entry alone is larger.

    Version 1: each message is byte-identical to :func:`encode_ack` of its
    entries. Version 2: ``{"acks":[...],"sig":...,"t":...,"v":2}`` signed for
    ``device`` with ``key`` (None: empty signature, for a device without a
    key), ``t`` the host's clock in epoch seconds.
    """
    if version == V1:
        head = b'{"acks":['
        tail = b'],"v":1}'
    else:
        head = b'{"acks":['
        tail = b'],"sig":"' + b"x" * 43 + b'","t":' + str(t).encode() + b',"v":2}'
    out = []
    chunk = []
    size = len(head) + len(tail)

    def flush():
        if version == V1:
            out.append(head + b",".join(chunk) + tail)
        else:
            out.append(_ack_v2(chunk, device, key, t))

    for e in entries:
        part = encode([e[0], e[1], e[2]])
        if chunk and size + 1 + len(part) > max_bytes:
            flush()
            chunk = []
            size = len(head) + len(tail)
        if chunk:
            size += 1
        chunk.append(part)
        size += len(part)
    if chunk:
        flush()
    return out


def _split_sig(obj):
    sig = obj.pop("sig", None)
    return sig, encode(obj)


def decode_ack(payload, device=None, key=None):
    """Parse an acknowledgement into a list of (seq, instance_id, status).

    With ``key`` (a device that has one), only a version 2 ack signed for
    ``device`` with that key is accepted; without, version 1 and unsigned
    version 2 acks are read as they are.
    """
    obj = _loads(payload, "ack", VERSIONS)
    if obj["v"] == V2 or key:
        if obj["v"] != V2:
            raise WireError("ack is not signed (version 1) and this device requires signed acks")
        t = obj.get("t")
        sig, body = _split_sig(obj)
        if not _nonneg_int(t):
            raise WireError("ack 't' must be the host's time in epoch seconds")
        if key and not signature_ok(key, SIGN_ACK, device, body, sig):
            raise WireError("ack signature does not verify: not from the host")
    acks = obj.get("acks")
    if not isinstance(acks, list):
        raise WireError("ack must carry an 'acks' list")
    out = []
    for a in acks:
        if (not isinstance(a, list) or len(a) != 3 or not isinstance(a[0], int) or isinstance(a[0], bool)
                or not (a[1] is None or isinstance(a[1], str)) or not isinstance(a[2], str)
                or a[2] not in ACK_STATUSES):
            raise WireError("ack entries must be [seq, instance_id, status]")
        out.append((a[0], a[1], a[2]))
    return out


# ---------------------------------------------------------------- status

# online: bool; fw, role: str; time: the device clock as iso_utc();
# queue (records not yet acknowledged), heap_free, battery_mv, uptime_s,
# approaches (presence-sensor approaches counted since boot) and abandoned
# (surveys given up on idle since boot): non-negative integers.
# Version 2 adds: boot (boot counter), clock (CLOCK_*: how the clock was set
# this boot), nonce (8 hex digits, new at every connect: the host puts it in
# the commands it signs, so a captured command cannot be replayed later),
# flash_free (bytes), storage_full (1: the kiosk refuses new surveys),
# refused (acks, commands and forms refused since boot: unsigned, forged,
# malformed, stale) and errors (exceptions survived since boot), and
# last_error (text, at most 64 characters).
STATUS_FIELDS = ("online", "fw", "role", "queue", "heap_free", "battery_mv", "uptime_s", "time",
                 "approaches", "abandoned", "boot", "clock", "nonce", "flash_free", "storage_full", "refused",
                 "errors", "last_error")
_STATUS_COUNTS = ("queue", "heap_free", "battery_mv", "uptime_s", "approaches", "abandoned", "boot", "flash_free",
                  "storage_full", "refused", "errors")
_STATUS_V2 = ("boot", "clock", "nonce", "flash_free", "storage_full", "refused", "errors", "last_error")


def encode_status(online, fw=None, role=None, queue=None, heap_free=None, battery_mv=None, uptime_s=None, time=None,
                  approaches=None, abandoned=None, version=V1, **more):
    """A device status message (retained). The MQTT last will is ``encode_status(False)``.

    Version 2 fields (``boot``, ``clock``, ``nonce``...) are passed as keywords with ``version=2``.
    """
    obj = {"v": version, "online": bool(online)}
    vals = (fw, role, queue, heap_free, battery_mv, uptime_s, time, approaches, abandoned)
    for k, val in zip(STATUS_FIELDS[1:], vals):
        if val is not None:
            obj[k] = val
    for k in more:
        if k not in _STATUS_V2 or version == V1:
            raise WireError("status has no field '" + k + "' in version " + str(version))
        if more[k] is not None:
            obj[k] = more[k]
    return encode(obj)


def decode_status(payload):
    obj = _loads(payload, "status", VERSIONS)
    if not isinstance(obj.get("online"), bool):
        raise WireError("status must say 'online': true or false")
    for k in _STATUS_COUNTS:
        if k in obj and not _nonneg_int(obj[k]):
            raise WireError("status '" + k + "' must be a non-negative integer")
    if "time" in obj and not _valid_iso(obj["time"]):
        raise WireError("status 'time' must be a UTC time like 2026-11-24T09:30:00Z")
    if "clock" in obj and (obj["clock"] not in CLOCKS or isinstance(obj["clock"], bool)):
        raise WireError("status 'clock' must be 0 (unsynced), 1 (NTP) or 2 (host time)")
    for k in ("nonce", "last_error", "fw", "role"):
        if k in obj and not (isinstance(obj[k], str) and len(obj[k]) <= 64):
            raise WireError("status '" + k + "' must be a string of at most 64 characters")
    return obj


# -------------------------------------------------------------- commands

def encode_command(cmd, cmd_id, args=None, device=None, key=None, nonce=None, t=None):
    """A command (host -> device). ``cmd_id`` lets a device ignore a repeat.

    Without ``device``: version 1, unsigned. With it: version 2, carrying the
    device's current ``nonce`` (from its last status) and the host time ``t``,
    signed with ``key`` (None: empty signature, for a device without a key).
    """
    if cmd not in COMMANDS:
        raise WireError("unknown command '" + str(cmd) + "'; known: " + ", ".join(COMMANDS))
    if device is None:
        return encode({"v": V1, "cmd": cmd, "id": cmd_id, "args": args or {}})
    obj = {"v": V2, "cmd": cmd, "id": cmd_id, "args": args or {}, "nonce": nonce or "", "t": int(t or 0)}
    obj["sig"] = sign(key, SIGN_COMMAND, device, encode(obj)) if key else ""
    return encode(obj)


def decode_command(payload, device=None, key=None, nonce=None):
    """Parse a command. With ``key``, only a version 2 command signed for ``device``
    and carrying the device's current ``nonce`` is accepted."""
    obj = _loads(payload, "command", VERSIONS)
    if obj["v"] == V2 or key:
        if obj["v"] != V2:
            raise WireError("command is not signed (version 1) and this device requires signed commands")
        sig, body = _split_sig(obj)
        if key:
            if not signature_ok(key, SIGN_COMMAND, device, body, sig):
                raise WireError("command signature does not verify: not from the host")
            if obj.get("nonce") != nonce:
                raise WireError("command carries a stale nonce (replayed from an earlier connection)")
    if not isinstance(obj.get("cmd"), str) or obj["cmd"] not in COMMANDS:
        raise WireError("unknown command '" + str(obj.get("cmd")) + "'")
    if not isinstance(obj.get("args", {}), dict):
        raise WireError("command args must be an object")
    cid = obj.get("id")
    if not (cid is None or isinstance(cid, str) or (isinstance(cid, int) and not isinstance(cid, bool))):
        raise WireError("command id must be a string or an integer")
    if obj["cmd"] == "time" and not _nonneg_int(obj.get("args", {}).get("t")):  # args may be absent
        raise WireError("command 'time' needs args.t, epoch seconds")
    return obj


# ----------------------------------------------------------------- forms

def encode_form(form, site_keys=None):
    """A compiled form (host -> devices, retained on ``topic_form(form['id'])``).

    Without ``site_keys``: version 1, unsigned. With ``{site: key}``: version 2,
    ``"sig": {site: signature}`` (one per site, since one retained message
    serves every device), each over the form without "sig".
    """
    obj = dict(form)
    obj.pop("sig", None)
    if site_keys is None:
        obj["v"] = V1
        return encode(obj)
    obj["v"] = V2
    body = encode(obj)
    obj["sig"] = dict([(site, sign(site_keys[site], SIGN_FORM, site, body)) for site in site_keys])
    return encode(obj)


def newer_version(a, b):
    """True if form version ``a`` is newer than ``b`` (None: no version yet).

    Versions are compared as XLSForm/ODK practice writes them (e.g. a date
    stamp 2026112401): a longer string is newer, equal lengths compare as text.
    Host and devices both use this, so they agree on which form is current.
    """
    if b is None:
        return True
    return (len(a), a) > (len(b), b)


def _check_form_signature(payload, site, key):
    if hasattr(payload, "read"):  # a file: its bytes for the signature, dropped before the decoding
        raw = payload.read()
        payload.seek(0)
    else:
        raw = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
    start = raw.rfind(b',"sig":{')
    end = raw.find(b"}", start) + 1
    if start < 0 or end <= 0:
        raise WireError("form is not signed and this device requires signed forms")
    try:
        sigs = json.loads(raw[start + 7:end])
    except MemoryError:
        raise
    except Exception:
        sigs = None
    if not isinstance(sigs, dict):
        raise WireError("form signature is malformed")
    sig = sigs.get(site)
    mv = memoryview(raw)  # the body in two slices of the message: no copy of it
    mac = _hmac_parts(key, ((SIGN_FORM + "\n" + str(site) + "\n").encode(), mv[:start], mv[end:]))
    if not (isinstance(sig, str) and _same(_b64url(mac), sig)):
        raise WireError("form signature does not verify for site '" + str(site) + "': not from the host")


def decode_form(payload, site=None, key=None):
    """Parse a form message; its id and version are strings of 1-64 characters and its
    questions a list of objects (so comparing versions or walking questions cannot fail).
    ``payload`` is the message (bytes, str) or a binary file holding it (a form a device
    spooled to flash: decoded from the file, so the message and the form are never on
    the heap together).

    With ``key`` (the device's site key), only a version 2 form signed for ``site``
    is accepted. The signature is removed from the returned form.

    The signature is checked on the message's own bytes, before they are decoded:
    the form as :func:`encode_form` writes it (canonical JSON) with its
    ``,"sig":{...}`` member cut out is the signed body, so a device holds the
    message and one copy of it, never a re-encoding of a form of tens of KB.
    If the member cut out was not the top-level one, the decoded form has no
    top-level "sig" and is refused as unsigned.
    """
    if key:
        _check_form_signature(payload, site, key)
    obj = _loads(payload, "form", VERSIONS)
    sigs = obj.pop("sig", None)
    if key and (obj["v"] != V2 or not isinstance(sigs, dict)):
        raise WireError("form is not signed and this device requires signed forms")
    for k in ("id", "version", "questions"):
        if k not in obj:
            raise WireError("form lacks '" + k + "'")
    for k in ("id", "version"):
        if not isinstance(obj[k], str) or not 0 < len(obj[k]) <= 64:
            raise WireError("form " + k + " must be a string of 1-64 characters")
    questions = obj["questions"]
    if not isinstance(questions, list):
        raise WireError("form questions must be a list")
    for q in questions:
        if not isinstance(q, dict) or not isinstance(q.get("name"), str) or not isinstance(q.get("type"), str):
            raise WireError("each form question must be an object with a 'name' and a 'type'")
    return obj
