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
import json
import sys

VERSION = 1
PREFIX = "tiesense/v1"

# Largest payload the host accepts on any topic; larger ones are quarantined.
MAX_PAYLOAD = 65536
# Devices keep each records message under this many bytes (Pico W heap).
DEVICE_BATCH_BYTES = 1024
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

# Commands the host may send to a device.
COMMANDS = ("sync", "status", "reboot", "identify")

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


def dumps(obj):
    """Canonical JSON text: sorted keys, no spaces, non-ASCII kept as is.

    Floats are refused (see above); so are keys that are not strings.
    """
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


def _loads(payload, what):
    if isinstance(payload, (bytes, bytearray, memoryview)):
        try:
            payload = bytes(payload).decode("utf-8")
        except Exception:
            raise WireError(what + " is not UTF-8")
    try:
        obj = json.loads(payload)
    except Exception:
        raise WireError(what + " is not JSON")
    if not isinstance(obj, dict):
        raise WireError(what + " must be a JSON object")
    v = obj.get("v")
    if v != VERSION:
        raise WireError(what + ": unsupported contract version " + str(v) + " (this side speaks " + str(VERSION) + ")")
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


def _valid_answer(v):
    if v is None or isinstance(v, str):
        return True
    if isinstance(v, int) and not isinstance(v, bool):
        return True
    if isinstance(v, list):
        for x in v:
            if not (isinstance(x, str) or (isinstance(x, int) and not isinstance(x, bool))):
                return False
        return True
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
            raise WireError("answer '" + str(k) + "' must be an integer, a string, a list of them, or null")
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


def encode_batch_from_encoded(device, encoded_records):
    """A records message from records already encoded by :func:`encode_record`.

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
    parts.append(b'],"v":' + str(VERSION).encode() + b"}")
    return b"".join(parts)


def encode_batch(device, records):
    """A records message (device -> host) carrying ``records`` (dicts)."""
    return encode({"v": VERSION, "device": device, "records": records})


def decode_batch(payload):
    """Parse a records message into ``(device, [record, ...])``.

    Raises WireError if the message itself is broken. Records are returned
    unchecked: run :func:`check_record` on each, so one bad record does not
    condemn the others in its batch.
    """
    obj = _loads(payload, "records message")
    device = obj.get("device")
    if not valid_device_id(device):
        raise WireError("records message has no valid device id")
    records = obj.get("records")
    if not isinstance(records, list) or not records:
        raise WireError("records message must carry a non-empty 'records' list")
    if len(records) > MAX_BATCH_RECORDS:
        raise WireError("records message carries more than " + str(MAX_BATCH_RECORDS) + " records")
    return device, records


# ------------------------------------------------------------------ acks

def encode_ack(entries):
    """An acknowledgement (host -> device) for ``entries`` of (seq, instance_id, status)."""
    return encode({"v": VERSION, "acks": [[e[0], e[1], e[2]] for e in entries]})


def encode_acks(entries, max_bytes):
    """Ack messages for ``entries``: as few as possible, each at most ``max_bytes``
    (a device's receive buffer) unless one entry alone is larger.

    Each message is byte-identical to :func:`encode_ack` of its entries.
    """
    head = b'{"acks":['
    tail = b'],"v":' + str(VERSION).encode() + b"}"
    out = []
    chunk = []
    size = len(head) + len(tail)
    for e in entries:
        part = encode([e[0], e[1], e[2]])
        if chunk and size + 1 + len(part) > max_bytes:
            out.append(head + b",".join(chunk) + tail)
            chunk = []
            size = len(head) + len(tail)
        if chunk:
            size += 1
        chunk.append(part)
        size += len(part)
    if chunk:
        out.append(head + b",".join(chunk) + tail)
    return out


def decode_ack(payload):
    """Parse an acknowledgement into a list of (seq, instance_id, status)."""
    obj = _loads(payload, "ack")
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
STATUS_FIELDS = ("online", "fw", "role", "queue", "heap_free", "battery_mv", "uptime_s", "time",
                 "approaches", "abandoned")
_STATUS_COUNTS = ("queue", "heap_free", "battery_mv", "uptime_s", "approaches", "abandoned")


def encode_status(online, fw=None, role=None, queue=None, heap_free=None, battery_mv=None, uptime_s=None, time=None,
                  approaches=None, abandoned=None):
    """A device status message (retained). The MQTT last will is ``encode_status(False)``."""
    obj = {"v": VERSION, "online": bool(online)}
    vals = (fw, role, queue, heap_free, battery_mv, uptime_s, time, approaches, abandoned)
    for k, val in zip(STATUS_FIELDS[1:], vals):
        if val is not None:
            obj[k] = val
    return encode(obj)


def decode_status(payload):
    obj = _loads(payload, "status")
    if not isinstance(obj.get("online"), bool):
        raise WireError("status must say 'online': true or false")
    for k in _STATUS_COUNTS:
        if k in obj and not (isinstance(obj[k], int) and not isinstance(obj[k], bool) and obj[k] >= 0):
            raise WireError("status '" + k + "' must be a non-negative integer")
    if "time" in obj and not _valid_iso(obj["time"]):
        raise WireError("status 'time' must be a UTC time like 2026-11-24T09:30:00Z")
    return obj


# -------------------------------------------------------------- commands

def encode_command(cmd, cmd_id, args=None):
    """A command (host -> device). ``cmd_id`` lets a device ignore a repeat."""
    if cmd not in COMMANDS:
        raise WireError("unknown command '" + str(cmd) + "'; known: " + ", ".join(COMMANDS))
    return encode({"v": VERSION, "cmd": cmd, "id": cmd_id, "args": args or {}})


def decode_command(payload):
    obj = _loads(payload, "command")
    if not isinstance(obj.get("cmd"), str) or obj["cmd"] not in COMMANDS:
        raise WireError("unknown command '" + str(obj.get("cmd")) + "'")
    if not isinstance(obj.get("args", {}), dict):
        raise WireError("command args must be an object")
    cid = obj.get("id")
    if not (cid is None or isinstance(cid, str) or (isinstance(cid, int) and not isinstance(cid, bool))):
        raise WireError("command id must be a string or an integer")
    return obj


# ----------------------------------------------------------------- forms

def encode_form(form):
    """A compiled form (host -> devices, retained on ``topic_form(form['id'])``)."""
    obj = dict(form)
    obj["v"] = VERSION
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


def decode_form(payload):
    """Parse a form message; its id and version are strings of 1-64 characters and its
    questions a list of objects (so comparing versions or walking questions cannot fail)."""
    obj = _loads(payload, "form")
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
