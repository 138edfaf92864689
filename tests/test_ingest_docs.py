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


V1_KINDS = {"record", "records", "ack", "status", "will", "command", "form"}
DOC_DEVICE_KEY, DOC_SITE_KEY = bytes(range(32)), bytes(range(32, 64))  # the keys the examples say they use


def test_every_message_type_has_an_example_in_both_versions():
    assert set(examples()) == V1_KINDS | {"v2_" + k for k in V1_KINDS}


def test_version_2_examples_verify_with_the_documented_keys():
    ex = examples()
    rec = json.loads(ex["v2_record"])
    wire.check_record_v2(rec)
    assert wire.signature_ok(DOC_DEVICE_KEY, wire.SIGN_RECORD, "kiosk-01", wire.record_body(rec), rec[10])
    assert wire.sign_record(rec[:10], rec[0], "kiosk-01", DOC_DEVICE_KEY) == ex["v2_record"]
    assert len(ex["v2_record"]) <= 200
    version, device, records = wire.decode_records_message(ex["v2_records"])
    assert (version, device, records) == (2, "kiosk-01", [rec])
    assert wire.encode_batch_from_encoded(device, [ex["v2_record"]], 2) == ex["v2_records"]
    assert wire.decode_ack(ex["v2_ack"], "kiosk-01", DOC_DEVICE_KEY) == [(17, rec[1], "stored")]
    status = wire.decode_status(ex["v2_status"])
    assert status["v"] == 2 and status["nonce"] == "5e1f0c2a"
    assert ex["v2_will"] == wire.encode_status(False, version=2)
    cmd = wire.decode_command(ex["v2_command"], "kiosk-01", DOC_DEVICE_KEY, status["nonce"])
    assert (cmd["cmd"], cmd["args"]) == ("time", {"t": 1795510300})
    form = wire.decode_form(ex["v2_form"], "lobby-a", DOC_SITE_KEY)
    assert wire.encode_form(form, {"lobby-a": DOC_SITE_KEY}) == ex["v2_form"]


def test_examples_decode_and_are_canonical():
    ex = examples()
    for kind, payload in ex.items():
        assert wire.encode(json.loads(payload)) == payload, f"{kind} example is not canonical JSON"
    ex = {k: v for k, v in ex.items() if k in V1_KINDS}
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
