"""The transport-free ingest core: every rule, every quarantine reason, no broker.

Messages go in as (topic, payload, receive time), a real SQLite store takes
the batch, and what comes back is what an adapter would send.
"""
from __future__ import annotations

import json
import os

import pytest

from tiesense import wire
from tiesense.forms import FormRegistry, builtin_forms
from tiesense.ingest import IngestCore, Message
from tiesense.store import Store, record_digest

DEV = "kiosk-01"
T0 = 1_795_000_000.0


def visit(device: str = DEV, seq: int = 1, **answers) -> dict:
    a = {"facility": "shared_lab", "org_type": "sme", "satisfaction": 4}
    a.update(answers)
    return wire.make_record(device, seq, "tp_visit", "2026112401", "2026-11-24T09:30:00Z", "2026-11-24T09:31:05Z",
                            a, wire.new_instance_id(os.urandom))


def msg(payload: bytes, topic: str | None = None) -> Message:
    return Message(topic or wire.topic_records(DEV), payload, T0)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "host.db")
    yield s
    s.close()


@pytest.fixture
def core():
    return IngestCore()


def acks_of(report, device=DEV):
    """Every ack entry the report's outbox carries for ``device``, decoded as a device would."""
    out = []
    for a in report.outbox:
        if a.device == device:
            assert a.topic == wire.topic_ack(device)
            out.extend(wire.decode_ack(a.payload))
    return out


def test_good_records_are_stored_and_acked_after_the_write(core, store):
    recs = [visit(seq=s) for s in (1, 2, 3)]
    report = core.process(store, [msg(wire.encode_batch(DEV, recs))])
    assert acks_of(report) == [(r["seq"], r["id"], wire.STORED) for r in recs]
    assert (report.stored, report.duplicates, report.conflicts, report.quarantined) == (3, 0, 0, 0)
    assert report.stored_ids == [r["id"] for r in recs]
    for r in recs:
        assert store.record(r["id"]) == r
    assert [row["digest"] for row in store.rows("records")] == [record_digest(r) for r in recs]


def test_a_resent_batch_is_a_duplicate_and_changed_content_a_conflict(core, store):
    rec = visit()
    payload = wire.encode_batch(DEV, [rec])
    core.process(store, [msg(payload)])
    again = core.process(store, [msg(payload)])
    assert acks_of(again) == [(1, rec["id"], wire.DUPLICATE)]
    changed = dict(rec, answers=dict(rec["answers"], satisfaction=1))
    conflict = core.process(store, [msg(wire.encode_batch(DEV, [changed]))])
    assert acks_of(conflict) == [(1, rec["id"], wire.CONFLICT)]
    assert store.record(rec["id"]) == rec
    assert store.counts()["records"] == 1 and store.counts()["conflicts"] == 1


def test_the_same_record_twice_in_one_batch_is_stored_once(core, store):
    rec = visit()
    payload = wire.encode_batch(DEV, [rec])
    report = core.process(store, [msg(payload), msg(payload)])
    assert acks_of(report) == [(1, rec["id"], wire.STORED), (1, rec["id"], wire.DUPLICATE)]
    assert store.counts()["records"] == 1


def test_a_bad_record_does_not_condemn_the_good_ones_in_its_message(core, store):
    good1, bad, good2 = visit(seq=1), visit(seq=2, org_type="alien"), visit(seq=3)
    report = core.process(store, [msg(wire.encode_batch(DEV, [good1, bad, good2]))])
    assert acks_of(report) == [(1, good1["id"], wire.STORED), (2, bad["id"], wire.QUARANTINED),
                               (3, good2["id"], wire.STORED)]
    (q,) = store.quarantined()
    assert (q["item"], q["seq"], q["instance_id"], q["device"]) == (1, 2, bad["id"], DEV)
    assert "choice 'alien' is not in the list" in q["reason"]


def _float_answer() -> bytes:
    text = wire.dumps(visit(seq=1)).replace('"satisfaction":4', '"satisfaction":4.5')
    return ('{"device":"kiosk-01","records":[' + text + '],"v":1}').encode()


def _with(n: int, **fields) -> bytes:
    rec = visit(seq=n)
    rec.update(fields)
    return wire.encode_batch(DEV, [rec])


def _without(seq: int, field: str) -> bytes:
    rec = visit(seq=seq)
    del rec[field]
    return wire.encode_batch(DEV, [rec])


# name: (payload, topic or None for the device's records topic, words the reason must contain,
#        seqs acknowledged as quarantined)
CASES = {
    "topic outside the contract": (wire.encode_batch(DEV, [visit()]), "somewhere/else", "topic outside", []),
    "device id not allowed in a topic": (b"{}", "tiesense/v1/Kiosk 1/records", "topic outside", []),
    "oversize": (b"x" * (wire.MAX_PAYLOAD + 1), None, "over the limit", []),
    "empty records": (b"", None, "empty payload", []),
    "empty status": (b"", wire.topic_status(DEV), "empty payload", []),
    "not utf-8": (b'{"v":1,"device":"kiosk-01","records":[\xff\xfe]}', None, "not UTF-8", []),
    "not json": (b"{this is not json", None, "not JSON", []),
    "not an object": (b"[1,2,3]", None, "JSON object", []),
    "other contract version": (b'{"v":3,"device":"kiosk-01","records":[]}', None, "unsupported contract version", []),
    "no device in the message": (b'{"v":1,"records":[{}]}', None, "no valid device id", []),
    "no records": (b'{"v":1,"device":"kiosk-01","records":[]}', None, "non-empty 'records' list", []),
    "too many records": (wire.encode_batch(DEV, [visit(seq=s) for s in range(1, wire.MAX_BATCH_RECORDS + 2)]),
                         None, "more than", []),
    "message from another device's topic": (wire.encode_batch("kiosk-99", [visit("kiosk-99", 6)]), None,
                                            "device id mismatch: the topic", [6]),
    "record not an object": (b'{"v":1,"device":"kiosk-01","records":[7]}', None, "record must be a JSON object", []),
    "record lacks a field": (_without(8, "end"), None, "lacks field 'end'", [8]),
    "record has an unknown field": (_with(9, extra=1), None, "unknown field 'extra'", [9]),
    "bad instance id": (_with(10, id="uuid:not-a-uuid"), None, "record id must be", [10]),
    "seq as text": (_with(11, seq="11"), None, "seq must be a positive integer", []),
    "seq zero": (_with(12, seq=0), None, "seq must be a positive integer", []),
    "bad device id in the record": (_with(13, device="Kiosk 1"), None, "device id is invalid", [13]),
    "form name too long": (_with(14, form="f" * 65), None, "form must be a string", [14]),
    "bad time": (_with(15, start="2026-11-24 09:30:00"), None, "UTC time", [15]),
    "ends before it starts": (_with(16, end="2026-11-24T09:00:00Z"), None, "ends before it starts", [16]),
    "answers not an object": (_with(17, answers=[1]), None, "answers must be a JSON object", [17]),
    "float answer": (_float_answer(), None, "answer 'satisfaction' must be an integer", [1]),
    "record of another device": (wire.encode_batch(DEV, [visit("kiosk-02", 18)]), None,
                                 "device id mismatch: the record says", [18]),
    "unknown form": (_with(19, form="no_such_form"), None, "unknown form 'no_such_form'", [19]),
    "unknown version": (_with(20, form_version="1999010101"), None, "unknown version '1999010101'", [20]),
    "answer out of range": (wire.encode_batch(DEV, [visit(seq=21, satisfaction=9)]), None,
                            "'satisfaction': 9 is out of range 1..5", [21]),
    "unknown question": (wire.encode_batch(DEV, [visit(seq=22, mood="ok")]), None, "unknown question 'mood'", [22]),
    "required answer missing": (wire.encode_batch(DEV, [visit(seq=23, facility=None)]), None,
                                "required question 'facility'", [23]),
    "status not a status": (b'{"v":1,"online":"yes"}', wire.topic_status(DEV), "'online': true or false", []),
    "status with a negative count": (b'{"v":1,"online":true,"queue":-1}', wire.topic_status(DEV),
                                     "'queue' must be a non-negative integer", []),
    "status with a bad time": (b'{"v":1,"online":true,"time":"yesterday"}', wire.topic_status(DEV),
                               "'time' must be a UTC time", []),
}


@pytest.mark.parametrize("name", list(CASES))
def test_every_kind_of_garbage_is_quarantined_with_its_reason_and_bytes(core, store, name):
    payload, topic, words, acked = CASES[name]
    report = core.process(store, [msg(payload, topic)])
    (q,) = store.quarantined()
    assert words in q["reason"], q["reason"]
    assert payload.startswith(q["raw"]) and q["raw_length"] == len(payload)
    assert q["raw"] == payload or len(q["raw"]) < len(payload) <= wire.MAX_PAYLOAD + 1  # a bounded prefix
    assert q["topic"] == (topic or wire.topic_records(DEV))
    assert report.quarantined == 1 and report.stored == 0
    assert sorted(seq for seq, _, status in acks_of(report, "kiosk-01") if status == wire.QUARANTINED) == acked
    assert store.counts()["records"] == 0


def test_garbage_in_a_batch_does_not_stop_the_good_records_after_it(core, store):
    good = visit(seq=99)
    messages = [msg(p, t) for p, t, _, _ in CASES.values()] + [msg(wire.encode_batch(DEV, [good]))]
    report = core.process(store, messages)
    assert (99, good["id"], wire.STORED) in acks_of(report)
    assert store.record(good["id"]) == good
    assert report.quarantined == len(CASES) == store.counts()["quarantine"]


def test_the_same_garbage_twice_is_one_quarantine_row_counted_twice(core, store):
    core.process(store, [msg(b"{nope")])
    core.process(store, [msg(b"{nope")])
    (q,) = store.quarantined()
    assert q["times"] == 2


def test_a_bug_while_checking_is_quarantined_not_raised(store):
    class Broken(FormRegistry):
        def get(self, form_id, version):
            raise KeyError("boom")

    core = IngestCore(Broken(builtin_forms()))
    good_status = wire.encode_status(True, queue=1)
    report = core.process(store, [msg(wire.encode_batch(DEV, [visit()])), msg(good_status, wire.topic_status(DEV))])
    (q,) = store.quarantined()
    assert q["reason"].startswith("internal error while checking: KeyError")
    assert report.statuses == 1 and store.devices()[0]["queue"] == 1


def test_the_hosts_own_topics_are_ignored_not_quarantined(core, store):
    form = builtin_forms()[0]
    report = core.process(store, [msg(wire.encode_form(form), wire.topic_form(form["id"])),
                                  msg(wire.encode_ack([(1, None, wire.STORED)]), wire.topic_ack(DEV)),
                                  msg(wire.encode_command("sync", "c1"), wire.topic_command(DEV))])
    assert report.ignored == 3 and report.outbox == []
    assert store.counts()["quarantine"] == 0


def test_status_updates_the_device_row(core, store):
    payload = wire.encode_status(True, fw="0.3.1", role="kiosk", queue=2, heap_free=81000, battery_mv=0,
                                 uptime_s=12)
    report = core.process(store, [msg(payload, wire.topic_status(DEV))])
    assert report.statuses == 1 and report.outbox == []
    row = store.devices()[0]
    assert {k: row[k] for k in ("device", "online", "fw", "role", "queue", "heap_free", "uptime_s")} == {
        "device": DEV, "online": 1, "fw": "0.3.1", "role": "kiosk", "queue": 2, "heap_free": 81000, "uptime_s": 12}


def test_acks_are_split_to_fit_a_devices_buffer(core, store):
    recs = [visit(seq=s) for s in range(1, wire.MAX_BATCH_RECORDS + 1)]
    report = core.process(store, [msg(wire.encode_batch(DEV, recs))])
    assert len(report.outbox) > 1
    assert all(len(a.payload) <= wire.DEVICE_BATCH_BYTES for a in report.outbox)
    assert acks_of(report) == [(r["seq"], r["id"], wire.STORED) for r in recs]
    # each message is exactly what encode_ack gives for its entries
    for a in report.outbox:
        assert a.payload == wire.encode_ack(wire.decode_ack(a.payload))


def test_a_store_that_fails_commits_and_acknowledges_nothing(core, tmp_path):
    path = tmp_path / "host.db"
    store = Store(path)
    store.close()  # writes now raise, as a full or vanished disk would make them
    with pytest.raises(Exception):
        core.process(store, [msg(wire.encode_batch(DEV, [visit()]))])
    with Store(path) as reopened:
        assert reopened.counts()["records"] == 0


def test_prepare_is_pure_and_acknowledge_follows_the_store(core, store):
    rec = visit()
    prepared = core.prepare([msg(wire.encode_batch(DEV, [rec]))])
    assert store.counts()["records"] == 0  # nothing written by checking
    assert [it.record for it in prepared.records] == [rec]
    assert prepared.records[0].digest == record_digest(rec)
    outcomes = store.write_batch(prepared.records, prepared.quarantine, prepared.statuses)
    report = core.acknowledge(prepared, outcomes)
    assert acks_of(report) == [(1, rec["id"], wire.STORED)]
    assert json.loads(store.rows("records")[0]["answers"]) == rec["answers"]
