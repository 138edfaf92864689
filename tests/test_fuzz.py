"""Bad input at scale: generated payloads on every path never crash the host or a device.

Host: whatever reaches the ingest core on a records or status topic is stored,
ignored (the host's own topics) or quarantined with a reason, and a good
record sent after it is still stored. Device: every ack, command and form
payload either decodes or raises ``WireError`` under the real MicroPython, the
only exception the firmware's message loop expects (it also survives any
other). Serial: the host's frame decoder refuses damage with ValueError only, and the device's USB
offload (firmware/offload.py) answers any line without raising and deletes nothing on an ack nobody
signed. The default profile runs a few hundred cases; the long profile:

    TIESENSE_FUZZ_EXAMPLES=10000 .venv/bin/python -m pytest tests/test_fuzz.py
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiesense import wire
from tiesense.ingest import IngestCore, Message
from tiesense.store import Store

from .conftest import ROOT

EXAMPLES = int(os.environ.get("TIESENSE_FUZZ_EXAMPLES", "300"))
DEV = "kiosk-01"
# The suite's 300 s per test is for the default profile; the long one gets time in proportion.
pytestmark = pytest.mark.timeout(max(300, EXAMPLES // 10))

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=False),
                    st.text(max_size=30))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                            st.dictionaries(st.text(max_size=12), inner, max_size=5)),
                           max_leaves=25)


# Records messages that are almost right: real field names, values of any type.
near_records = st.fixed_dictionaries({
    "v": st.sampled_from([1, 1, 1, 2, "1"]), "device": st.sampled_from([DEV, "x", 5]),
    "records": st.lists(st.one_of(st.fixed_dictionaries({}, optional={k: json_values for k in wire.RECORD_FIELDS}),
                                  json_values), max_size=4)})


# Contract version 2: arrays of the right length with values of any type, or of plausible types.
near_v2 = st.one_of(
    st.lists(json_values, min_size=11, max_size=11),
    st.tuples(st.integers(-3, 2**33), st.one_of(st.text(max_size=33), st.just("0f8fad5bd9cb469fa16570867728950e")),
              st.sampled_from(["tp_visit", "fi_partner", "nope", ""]), st.sampled_from(["2026112401", "x"]),
              st.integers(-5, 2**33), st.integers(-5, 10**6), st.integers(-1, 99), st.integers(-1, 10**7),
              st.integers(-1, 3), st.lists(st.one_of(st.none(), st.integers(-2, 9), st.text(max_size=12)),
                                           max_size=5),
              st.one_of(st.just(""), st.text(max_size=44))).map(list))
near_records_v2 = st.fixed_dictionaries({"v": st.just(2), "device": st.sampled_from([DEV, "kiosk-02"]),
                                         "records": st.lists(near_v2, max_size=4)})


payloads = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    near_records.map(lambda v: json.dumps(v).encode()),
    near_records_v2.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"v": st.sampled_from([1, 2])}, optional={k: json_values for k in wire.STATUS_FIELDS})
    .map(lambda v: json.dumps(v).encode()),
)
topics = st.one_of(st.sampled_from([wire.topic_records(DEV), wire.topic_status(DEV), wire.topic_ack(DEV),
                                    wire.topic_form("tp_visit"), "tiesense/v1/../records"]),
                   st.text(max_size=40))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(topics, payloads), min_size=1, max_size=6))
def test_the_ingest_core_never_crashes_and_keeps_every_refusal_with_a_reason(messages):
    store = Store(":memory:")
    core = IngestCore()
    report = core.process(store, [Message(t, p, 1_795_000_000.0) for t, p in messages])
    # every message ends somewhere: ignored (the host's own topics), a status, stored, or quarantined
    outcomes = (report.ignored + report.statuses + report.quarantined + report.stored + report.duplicates
                + report.conflicts)
    assert report.messages == len(messages) and outcomes >= len(messages)
    assert all(q["reason"] for q in store.quarantined())
    assert store.counts()["quarantine"] <= report.quarantined
    good = wire.make_record(DEV, 10_000, "tp_visit", "2026112401", "2026-11-24T09:30:00Z", "2026-11-24T09:31:05Z",
                            {"facility": "shared_lab", "org_type": "sme", "satisfaction": 4},
                            wire.new_instance_id(os.urandom))
    after = core.process(store, [Message(wire.topic_records(DEV), wire.encode_batch(DEV, [good]), 0.0)])
    assert after.stored == 1 and store.record(good["id"]) == good
    store.close()


device_payloads = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"v": st.sampled_from([1, 2])}, optional={"acks": json_values, "cmd": st.one_of(
        st.sampled_from(list(wire.COMMANDS)), json_values), "id": json_values, "args": json_values,
        "version": json_values, "questions": json_values, "sig": json_values, "t": json_values,
        "nonce": json_values}).map(lambda v: json.dumps(v).encode()),
)

_DEVICE_SCRIPT = """
import sys
sys.path.insert(0, %r)
import json, wire
crashes = []
f = open(%r, "rb")
i = -1
for line in f:  # one case a line: the long profile does not fit a device-sized heap at once
    i += 1
    payload = bytes.fromhex(line.strip().decode())
    key = bytes(range(32))
    keyed_form = lambda p: wire.decode_form(p, "lobby-a", key)
    for decode in (wire.decode_ack, wire.decode_command, wire.decode_form, wire.decode_status,
                   lambda p: wire.decode_ack(p, "kiosk-01", key),  # a device with a key: what it checks
                   lambda p: wire.decode_command(p, "kiosk-01", key, "0a1b2c3d"), keyed_form):
        try:
            out = decode(payload)
            if decode is wire.decode_form or decode is keyed_form:
                wire.newer_version(out["version"], "2026112401")
        except wire.WireError:
            pass
        except Exception as e:
            crashes.append("%%d %%s %%s" %% (i, getattr(decode, "__name__", "keyed"), repr(e)))
f.close()
print(json.dumps(crashes))
"""


def test_device_decoders_under_micropython_raise_only_wire_errors(micropython, tmp_path):
    cases: list = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(device_payloads)
    def collect(p):
        cases.append(p.hex())

    collect()
    path = tmp_path / "cases.txt"
    path.write_text("".join(c + "\n" for c in cases))
    script = tmp_path / "fuzz.py"
    script.write_text(_DEVICE_SCRIPT % (str(ROOT / "host" / "tiesense"), str(path)))
    out = subprocess.run([micropython, "-X", "heapsize=1M", str(script)], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    crashes = json.loads(out.stdout.strip().splitlines()[-1])
    assert crashes == [], crashes[:10]
    assert len(cases) >= min(EXAMPLES, 50)


# ------------------------------------------------------------ the serial path (tiesense pull)

def _frame(body: bytes) -> bytes:
    import binascii

    return body + b" " + b"%08x" % (binascii.crc32(body) & 0xFFFFFFFF)


# Request lines a device may read on its USB line: noise, and well-framed requests (right CRC) whose
# verbs, tags and payloads are anything, including ACKs of any JSON.
serial_lines = st.one_of(
    st.binary(max_size=300).map(lambda b: b.replace(b"\n", b"")),
    st.tuples(st.sampled_from([b"HELLO", b"LIST", b"GET", b"ACK", b"NOPE", b""]),
              st.one_of(st.integers(-5, 2**40).map(lambda n: str(n).encode()), st.binary(max_size=6)),
              st.one_of(st.binary(max_size=120), json_values.map(lambda v: json.dumps(v).encode()),
                        device_payloads, st.tuples(st.integers(-3, 99), st.integers(-3, 70000))
                        .map(lambda t: b"%d %d" % t)))
    .map(lambda t: _frame(b" ".join(p for p in t if p)).replace(b"\n", b"")),
)


def test_the_hosts_frame_decoder_refuses_damage_with_value_error_only():
    from tiesense.ingest.serial import decode_frame

    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(serial_lines)
    def check(line):
        try:
            verb, tag, payload = decode_frame(line)
        except ValueError:
            return
        assert isinstance(verb, str) and isinstance(tag, int) and tag >= 0 and isinstance(payload, bytes)

    check()


_OFFLOAD_SCRIPT = """
import sys
sys.path.insert(0, %r)
sys.path.insert(0, %r)
import json, os, config, wire
from fakeclock import FakeClock
from fakeport import FakePort
from log import Log
from offload import Offload

d = %r
os.mkdir(d)
key = bytes(range(32))
lg = Log(d, encode=lambda rec, seq: wire.sign_record(rec, seq, "hand-01", key))
for i in range(5):
    lg.append(wire.make_record_v2("tp_visit", "2026112401", 1795510200 + i, 30, 1, i, 1, ["shared_lab", "sme", 3],
                                  wire.new_record_id(os.urandom)))
cfg = dict(config.DEFAULTS, device="hand-01", device_key="".join(["%%02x" %% b for b in key]), offload=True)
port = FakePort(piece=4096)
off = Offload(cfg, FakeClock(), lg, port=port)
crashes = []
lines = 0
f = open(%r, "rb")
for line in f:
    lines += 1
    port.inbox += bytes.fromhex(line.strip().decode()) + b"\\n"
    try:
        for _ in range(50):
            off.service()
            if not port.inbox:
                break
        off.service()
    except Exception as e:
        crashes.append("%%d %%s" %% (lines, repr(e)))
    port.out = b""
f.close()
print(json.dumps({"crashes": crashes, "depth": lg.depth(), "lines": lines}))
"""


def test_the_devices_offload_survives_any_line_and_deletes_nothing_unsigned(micropython, tmp_path):
    cases: list = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(serial_lines)
    def collect(line):
        cases.append(line.hex())

    collect()
    path = tmp_path / "lines.txt"
    path.write_text("".join(c + "\n" for c in cases))
    script = tmp_path / "offload_fuzz.py"
    script.write_text(_OFFLOAD_SCRIPT % (str(ROOT / "firmware"), str(ROOT / "tests" / "firmware"),
                                         str(tmp_path / "flash"), str(path)))
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([str(ROOT / "firmware"), str(ROOT / "host" / "tiesense"),
                                                        str(ROOT / "tests" / "firmware")]))
    out = subprocess.run([micropython, "-X", "heapsize=1M", str(script)], capture_output=True, text=True,
                         timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["crashes"] == [], result["crashes"][:10]
    assert result["depth"] == 5, "a line nobody signed deleted a record"
    assert result["lines"] == len(cases) >= min(EXAMPLES, 50)
