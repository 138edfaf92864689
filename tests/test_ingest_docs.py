"""docs/protocol.md shows real payloads: each example decodes with wire.py and is byte-canonical."""
from __future__ import annotations

import json
import re

from tiesense import wire
from tiesense.forms import builtin_form

from .conftest import ROOT

DOC = ROOT / "docs" / "protocol.md"


def examples() -> dict[str, bytes]:
    text = DOC.read_text(encoding="utf-8")
    found = re.findall(r"<!-- example: (\w+) -->\n```json\n(.*?)\n```", text, flags=re.S)
    return {kind: body.encode("utf-8") for kind, body in found}


def test_every_message_type_has_an_example():
    assert set(examples()) == {"record", "records", "ack", "status", "will", "command", "form"}


def test_examples_decode_and_are_canonical():
    ex = examples()
    for kind, payload in ex.items():
        assert wire.encode(json.loads(payload)) == payload, f"{kind} example is not canonical JSON"
    rec = wire.check_record(json.loads(ex["record"]))
    assert wire.encode_record(rec) == ex["record"]
    device, records = wire.decode_batch(ex["records"])
    assert [wire.check_record(r) for r in records][0] == rec
    assert wire.encode_batch(device, records) == ex["records"] and len(ex["records"]) <= wire.DEVICE_BATCH_BYTES
    assert [a[2] for a in wire.decode_ack(ex["ack"])] == ["stored", "duplicate"]
    assert wire.decode_status(ex["status"])["online"] is True
    assert ex["will"] == wire.encode_status(False)
    assert wire.decode_command(ex["command"])["cmd"] == "sync"
    assert ex["form"] == wire.encode_form(builtin_form("tp_visit"))


def test_documented_limits_match_wire():
    text = DOC.read_text(encoding="utf-8")
    for value in (wire.MAX_PAYLOAD, wire.MAX_BATCH_RECORDS, wire.DEVICE_BATCH_BYTES):
        assert str(value) in text
    for status in wire.ACK_STATUSES:
        assert f"| `{status}` |" in text
    for command in wire.COMMANDS:
        assert f"`{command}`" in text
