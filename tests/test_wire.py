"""The wire contract: canonical encoding, envelope checks, and byte-identical output under MicroPython."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiesense import wire

from .conftest import ROOT


def sample_record(**over):
    rec = wire.make_record(
        device="kiosk-01", seq=7, form="tp_visit", form_version="2026112401",
        start="2026-11-24T09:30:00Z", end="2026-11-24T09:30:41Z",
        answers={"facility": "shared_lab", "org_type": "sme", "satisfaction": 4},
        instance_id="uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
    )
    rec.update(over)
    return rec


def test_canonical_encoding_sorts_keys_and_keeps_unicode():
    assert wire.dumps({"b": 1, "a": ["x", None, True]}) == '{"a":["x",null,true],"b":1}'
    assert wire.dumps("회의실") == '"회의실"'


def test_floats_are_refused_on_the_wire():
    with pytest.raises(wire.WireError, match="floats"):
        wire.encode({"x": 1.5})


def test_instance_ids_are_v4_uuids():
    ids = {wire.new_instance_id(os.urandom) for _ in range(200)}
    assert len(ids) == 200
    assert all(wire.valid_instance_id(i) for i in ids)
    assert not wire.valid_instance_id("uuid:0f8fad5b-d9cb-169f-a165-70867728950e")  # version 1


def test_batch_round_trip_and_spliced_encoding_agree():
    recs = [sample_record(), sample_record(seq=8, id="uuid:1f8fad5b-d9cb-469f-a165-70867728950e")]
    whole = wire.encode_batch("kiosk-01", recs)
    spliced = wire.encode_batch_from_encoded("kiosk-01", [wire.encode_record(r) for r in recs])
    assert whole == spliced
    device, back = wire.decode_batch(whole)
    assert device == "kiosk-01" and back == recs
    assert all(wire.check_record(r) for r in back)


@pytest.mark.parametrize("change, reason", [
    ({"id": "not-a-uuid"}, "record id"),
    ({"seq": 0}, "seq"),
    ({"seq": True}, "seq"),
    ({"device": "Kiosk 1"}, "device id"),
    ({"start": "yesterday"}, "start"),
    ({"start": "2026-13-45T25:61:61Z"}, "start"),
    ({"start": "2026-02-29T09:00:00Z"}, "start"),
    ({"end": "2026-11-24T24:00:00Z"}, "end"),
    ({"start": "２026-11-24T09:00:00Z"}, "start"),
    ({"id": "uuid:0F8FAD5B-D9CB-469F-A165-70867728950E"}, "record id"),
    ({"id": "uuid:0f8fad5b-d9cb-469f-a165-70867728950g"}, "record id"),
    ({"id": "uuid:0f8fad5b-d9cb-469f-a165+70867728950e"}, "record id"),
    ({"end": "2026-11-24T09:00:00Z"}, "ends before"),
    ({"answers": {"facility": 1.5}}, "answer 'facility'"),
    ({"extra": 1}, "unknown field"),
])
def test_envelope_violations_name_the_rule(change, reason):
    with pytest.raises(wire.WireError, match=reason):
        wire.check_record(sample_record(**change))


def test_a_repeats_passes_are_an_answer_and_what_nests_deeper_is_refused():
    """A repeat answers a list of passes, each its questions' answers by position (docs/forms.md)."""
    passes = [["101", None, ["traded", "people"], 2019], ["new_1", "Hanbit Lab", [], None]]
    rec = sample_record(answers={"partners": ["101", "new_1"], "partner_loop": passes})
    assert wire.check_record(rec) is rec
    assert wire.decode_records_message(wire.encode_batch("kiosk-01", [rec]))[2] == [rec]
    for bad in ([["101", 1.5]], [["101", [["deeper"]]]], [["101"], "not a pass"], [["101", True]]):
        with pytest.raises(wire.WireError, match="a repeat's passes"):
            wire.check_record(sample_record(answers={"partner_loop": bad}))


@pytest.mark.parametrize("payload, reason", [
    (b"\xff\xfe", "UTF-8"),
    (b"not json", "not JSON"),
    (b"[1,2]", "JSON object"),
    (b'{"v":3,"device":"k","records":[{}]}', "version 3"),
    (b'{"v":1,"device":"k","records":[]}', "non-empty"),
])
def test_broken_messages_are_refused_with_a_reason(payload, reason):
    with pytest.raises(wire.WireError, match=reason):
        wire.decode_batch(payload)


def test_topics_parse_back():
    assert wire.parse_topic(wire.topic_records("kiosk-01")) == ("kiosk-01", "records")
    assert wire.parse_topic(wire.topic_form("tp_visit")) == ("tp_visit", "form")
    assert wire.parse_topic("tiesense/v1/BAD ID/records") is None
    assert wire.parse_topic("other/v1/k/records") is None


def test_ack_and_status_round_trip():
    entries = [(7, "uuid:0f8fad5b-d9cb-469f-a165-70867728950e", wire.STORED)]
    assert wire.decode_ack(wire.encode_ack(entries)) == entries
    st_ = wire.decode_status(wire.encode_status(True, fw="0.1.0", queue=3, heap_free=90000))
    assert st_["online"] is True and st_["queue"] == 3
    assert wire.decode_status(wire.encode_status(False)) == {"v": 1, "online": False}
    kiosk = wire.decode_status(wire.encode_status(True, approaches=12, abandoned=2, time="2026-11-24T09:30:00Z"))
    assert (kiosk["approaches"], kiosk["abandoned"]) == (12, 2)
    with pytest.raises(wire.WireError, match="'time'"):
        wire.decode_status(wire.encode_status(True, time="noon"))
    with pytest.raises(wire.WireError, match="'approaches'"):
        wire.decode_status(wire.encode_status(True, approaches=-1))


def test_form_versions_order_longer_then_lexically():
    assert wire.newer_version("2026112402", "2026112401")
    assert wire.newer_version("20261124010", "2026112401")
    assert not wire.newer_version("2026112401", "2026112401")
    assert wire.newer_version("1", None)


answers = st.dictionaries(
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12),
    st.one_of(st.none(), st.integers(-2**31, 2**31), st.text(max_size=20),
              st.lists(st.one_of(st.integers(0, 99), st.text(max_size=5)), max_size=4)),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(answers)
def test_canonical_encoding_is_json_and_stable(ans):
    text = wire.dumps(ans)
    assert json.loads(text) == ans
    assert wire.dumps(json.loads(text)) == text


def test_real_calendar_times_pass():
    for t in ("2024-02-29T23:59:59Z", "2026-12-31T00:00:00Z", "2000-02-29T12:00:00Z"):
        assert wire.check_record(sample_record(start=t, end=t))
    with pytest.raises(wire.WireError, match="start"):
        wire.check_record(sample_record(start="1900-02-29T12:00:00Z"))


@settings(max_examples=300, deadline=None)
@given(answers, st.text(max_size=10))
def test_the_fast_encoder_of_checked_records_gives_the_canonical_bytes(ans, form):
    rec = sample_record(answers=ans, form=form or "f")
    wire.check_record(rec)
    assert wire.encode_checked_record(rec) == wire.encode_record(rec)


def test_micropython_encodes_byte_identically(micropython, tmp_path):
    """The device and the host must produce the same bytes for the same record."""
    recs = [sample_record(answers={"facility": "회의실", "note": 'say "hi"\n', "n": [1, "a"], "x": None})]
    script = tmp_path / "enc.py"
    script.write_text(
        "import sys\nsys.path.insert(0, %r)\nimport wire\n" % str(ROOT / "host" / "tiesense")
        + "recs = [wire.check_record(r) for r in %r]\n" % (recs,)
        + "sys.stdout.buffer.write(wire.encode_batch_from_encoded('kiosk-01', [wire.encode_record(r) for r in recs]))\n"
    )
    out = subprocess.run([micropython, str(script)], capture_output=True, check=True, timeout=30).stdout
    assert out == wire.encode_batch("kiosk-01", recs)


def test_a_time_command_without_args_is_refused_not_a_crash():
    """Found by tests/test_fuzz.py under micropython: {"cmd":"time"} with no args raised KeyError."""
    with pytest.raises(wire.WireError, match="needs args.t"):
        wire.decode_command(b'{"cmd":"time","v":1}')
