"""Contract version 2 through the ingest core: signed positional records, signed acks and
time commands, clock quality, and every way an outsider could try to get around them.

Each attack named in the trust issue that the core decides is a test here, with
a real SQLite store and the device's side played by ``wire`` (the same file the
firmware carries): a forged or cross-device signature, an unsigned record from
a provisioned device, a replay, an impossible timestamp, a forged ack.
"""
from __future__ import annotations

import os

import pytest

from tiesense import wire
from tiesense.ingest import IngestCore, Message
from tiesense.provisioning import provision
from tiesense.store import Store

DEV = "kiosk-01"
OTHER = "kiosk-02"
T0 = 1_795_000_000  # 2026-11-17, the host's clock in these tests


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "host.db")
    yield s
    s.close()


@pytest.fixture
def keys(store):
    """Two provisioned devices of one site: {device: key bytes}."""
    return {d: bytes.fromhex(provision(store, d, "park-a", broker_host="h").key) for d in (DEV, OTHER)}


def record(seq=1, start=T0 - 120, clock=wire.CLOCK_NTP, answers=("shared_lab", "sme", 4), uptime=600, boot=3):
    return wire.make_record_v2("tp_visit", "2026112401", start, 65, boot, uptime, clock, list(answers),
                               wire.new_record_id(os.urandom))


def signed(rec, seq, device=DEV, key=None):
    return wire.sign_record(rec, seq, device, key)


def batch(parts, device=DEV, topic_device=None, at=T0):
    payload = wire.encode_batch_from_encoded(device, parts, wire.V2)
    return Message(wire.topic_records(topic_device or device), payload, float(at))


def acks(report, device=DEV, key=None):
    out = []
    for m in report.outbox:
        if m.topic == wire.topic_ack(device):
            out.extend(wire.decode_ack(m.payload, device, key))
    return out


def test_signed_records_are_stored_as_the_envelope_with_clock_quality(store, keys):
    core = IngestCore()
    r1, r2 = record(), record(clock=wire.CLOCK_HOST)
    report = core.process(store, [batch([signed(r1, 1, key=keys[DEV]), signed(r2, 2, key=keys[DEV])])])
    assert report.stored == 2 and report.quarantined == 0
    # acked with the ids as the device sent them, in a version 2 ack signed with the device's key
    assert acks(report, key=keys[DEV]) == [(1, r1[1], wire.STORED), (2, r2[1], wire.STORED)]
    row = store.rows("records", "seq = 1")[0]
    assert row["instance_id"] == wire.instance_id_from_hex(r1[1])
    assert (row["wire"], row["clock"], row["boot"], row["uptime_s"], row["duration_s"]) == (2, "ntp", 3, 600, 65)
    assert (row["start"], row["end"]) == (wire.iso_utc(T0 - 120), wire.iso_utc(T0 - 55))
    assert store.record(row["instance_id"])["answers"] == {"facility": "shared_lab", "org_type": "sme",
                                                          "satisfaction": 4}
    assert store.rows("records", "seq = 2")[0]["clock"] == "host"


def test_a_version_2_record_is_at_most_200_bytes_signed(keys):
    # the devices issue's budget for the visit survey, signature included
    sizes = sorted(len(signed(record(), s, key=keys[DEV])) for s in (1, 99, 99999))
    assert sizes[-1] <= 200, sizes


def test_a_replayed_record_is_a_duplicate_stored_once(store, keys):
    core = IngestCore()
    part = signed(record(), 1, key=keys[DEV])
    core.process(store, [batch([part])])
    report = core.process(store, [batch([part], at=T0 + 3600)])
    assert (report.stored, report.duplicates) == (0, 1)
    assert store.counts()["records"] == 1


@pytest.mark.parametrize("attack", ["forged", "altered", "other device's key", "unsigned", "signed, no key"])
def test_records_that_do_not_verify_are_quarantined_and_not_stored(store, keys, attack):
    rec = record()
    if attack == "forged":
        part = signed(rec, 1, key=os.urandom(32))
    elif attack == "altered":  # a valid record with one answer changed on the way
        part = signed(rec, 1, key=keys[DEV]).replace(b'"sme"', b'"large_firm"')
    elif attack == "other device's key":  # kiosk-02 writes as kiosk-01
        part = signed(rec, 1, DEV, keys[OTHER])
    elif attack == "unsigned":
        part = signed(rec, 1, key=None)
    else:  # signed by someone the host never provisioned
        part = signed(rec, 1, "kiosk-99", os.urandom(32))
    device = "kiosk-99" if attack == "signed, no key" else DEV
    report = IngestCore().process(store, [batch([part], device=device)])
    assert (report.stored, report.quarantined) == (0, 1)
    assert store.counts()["records"] == 0
    reason = store.quarantined()[0]["reason"]
    assert {"forged": "does not verify", "altered": "does not verify", "other device's key": "does not verify",
            "unsigned": "does not verify", "signed, no key": "no key on this host"}[attack] in reason
    # the device is told it is held (quarantined), so it stops resending; nothing is lost
    assert [a[2] for a in acks(report, device)] == [wire.QUARANTINED]


def test_unsigned_records_from_a_provisioned_device_are_quarantined(store, keys):
    report = IngestCore().process(store, [batch([signed(record(), 1, key=None)])])
    assert report.quarantined == 1
    assert "signature does not verify" in store.quarantined()[0]["reason"]
    v1 = wire.make_record(DEV, 1, "tp_visit", "2026112401", "2026-11-24T09:30:00Z", "2026-11-24T09:31:05Z",
                          {"facility": "shared_lab", "org_type": "sme", "satisfaction": 4},
                          wire.new_instance_id(os.urandom))
    report = IngestCore().process(store, [Message(wire.topic_records(DEV), wire.encode_batch(DEV, [v1]), T0)])
    assert (report.stored, report.quarantined) == (0, 1)
    assert "unsigned version 1 records" in store.quarantined()[-1]["reason"]


def test_unprovisioned_devices_may_send_unsigned_records_unless_signatures_are_required(store):
    part = signed(record(), 1, "kiosk-07", None)
    assert IngestCore().process(store, [batch([part], device="kiosk-07")]).stored == 1
    strict = IngestCore(require_signed=True)
    report = strict.process(store, [batch([signed(record(), 2, "kiosk-07", None)], device="kiosk-07")])
    assert (report.stored, report.quarantined) == (0, 1)
    assert "--require-signed" in store.quarantined()[-1]["reason"]


def test_a_record_copied_to_another_devices_topic_is_quarantined(store, keys):
    part = signed(record(), 1, key=keys[DEV])
    msg = batch([part], device=OTHER)  # the message says kiosk-02, on kiosk-02's topic, with kiosk-01's record
    report = IngestCore().process(store, [msg])
    assert (report.stored, report.quarantined) == (0, 1)
    assert "does not verify" in store.quarantined()[0]["reason"]


@pytest.mark.parametrize("start,why", [(1609459200, "2021-01-01"), (T0 + 3 * 86400, "three days ahead")])
def test_impossible_times_from_a_synced_clock_are_quarantined(store, keys, start, why):
    report = IngestCore().process(store, [batch([signed(record(start=start), 1, key=keys[DEV])])])
    assert report.quarantined == 1, why
    assert "impossible start time" in store.quarantined()[0]["reason"]


def status(boot, uptime, clock, time_s=None, nonce="0a1b2c3d", online=True):
    return wire.encode_status(online, fw="0.2.0", role="kiosk", uptime_s=uptime,
                              time=wire.iso_utc(time_s) if time_s is not None else None, version=wire.V2, boot=boot,
                              clock=clock, nonce=nonce)


def test_an_unsynced_record_is_flagged_then_corrected_from_the_boots_clock_anchor(store, keys):
    core = IngestCore()
    # the RTC restarted at 2021-01-01 and NTP is unreachable: the device says so
    rec = record(start=1609459200 + 700, clock=wire.CLOCK_UNSYNCED, boot=5, uptime=700)
    core.process(store, [batch([signed(rec, 1, key=keys[DEV])], at=T0)])
    row = store.rows("records")[0]
    assert row["clock"] == "unsynced"
    # its status of the same boot arrives: at uptime 1000 the host's clock read T0 + 10
    report = core.process(store, [Message(wire.topic_status(DEV), status(5, 1000, wire.CLOCK_UNSYNCED,
                                                                          1609459200 + 1000), T0 + 10)])
    row = store.rows("records")[0]
    assert row["clock"] == "corrected"
    assert (row["start"], row["end"]) == (wire.iso_utc(T0 + 10 - 1000 + 700), wire.iso_utc(T0 + 10 - 300 + 65))
    # and the device is lent the host's clock, signed for this connection's nonce
    (cmd,) = [m for m in report.outbox if m.topic == wire.topic_command(DEV)]
    got = wire.decode_command(cmd.payload, DEV, keys[DEV], "0a1b2c3d")
    assert (got["cmd"], got["args"]) == ("time", {"t": T0 + 10})


def test_a_synced_anchor_wins_and_records_after_it_are_corrected_on_arrival(store, keys):
    core = IngestCore()
    core.process(store, [Message(wire.topic_status(DEV), status(6, 50, wire.CLOCK_UNSYNCED), T0)])
    core.process(store, [Message(wire.topic_status(DEV), status(6, 100, wire.CLOCK_NTP, T0 - 3), T0 + 60)])
    anchor = store.rows("clock_anchors")[0]
    assert (anchor["offset_s"], anchor["synced"]) == (T0 - 103, 1)
    rec = record(start=1609459200, clock=wire.CLOCK_UNSYNCED, boot=6, uptime=40)
    core.process(store, [batch([signed(rec, 1, key=keys[DEV])], at=T0 + 120)])
    row = store.rows("records")[0]
    assert (row["clock"], row["start"]) == ("corrected", wire.iso_utc(T0 - 103 + 40))


def test_a_record_of_a_boot_without_anchor_stays_flagged(store, keys):
    core = IngestCore()
    core.process(store, [Message(wire.topic_status(DEV), status(8, 100, wire.CLOCK_NTP, T0), T0)])
    core.process(store, [batch([signed(record(clock=wire.CLOCK_UNSYNCED, boot=7), 1, key=keys[DEV])])])
    assert store.rows("records")[0]["clock"] == "unsynced"


def test_the_ack_is_signed_for_its_device_and_a_forged_one_is_refused(store, keys):
    report = IngestCore().process(store, [batch([signed(record(), 1, key=keys[DEV])])])
    (ack,) = [m.payload for m in report.outbox if m.topic == wire.topic_ack(DEV)]
    assert wire.decode_ack(ack, DEV, keys[DEV])[0][2] == wire.STORED
    with pytest.raises(wire.WireError, match="does not verify"):
        wire.decode_ack(ack, OTHER, keys[OTHER])  # another device's key: not for it
    forged = wire.encode_acks([(1, "0" * 32, wire.STORED)], 1024, wire.V2, DEV, os.urandom(32), T0)[0]
    with pytest.raises(wire.WireError, match="does not verify"):
        wire.decode_ack(forged, DEV, keys[DEV])
    with pytest.raises(wire.WireError, match="requires signed acks"):
        wire.decode_ack(wire.encode_ack([(1, "0" * 32, wire.STORED)]), DEV, keys[DEV])
    # anyone else's ack about this device's records reads as tampered once one byte changes
    with pytest.raises(wire.WireError, match="does not verify"):
        wire.decode_ack(ack.replace(b'"t":', b'"t":1'), DEV, keys[DEV])


def test_signed_acks_split_to_fit_the_device_buffer(keys):
    entries = [(s, wire.new_record_id(os.urandom), wire.STORED) for s in range(1, 60)]
    msgs = wire.encode_acks(entries, 1024, wire.V2, DEV, keys[DEV], T0)
    assert len(msgs) > 1 and all(len(m) <= 1024 for m in msgs)
    assert [e for m in msgs for e in wire.decode_ack(m, DEV, keys[DEV])] == entries


def test_version_1_devices_without_a_key_keep_working(store):
    v1 = wire.make_record("kiosk-09", 1, "tp_visit", "2026112401", "2026-11-24T09:30:00Z", "2026-11-24T09:31:05Z",
                          {"facility": "shared_lab", "org_type": "sme", "satisfaction": 4},
                          wire.new_instance_id(os.urandom))
    report = IngestCore().process(store, [Message(wire.topic_records("kiosk-09"), wire.encode_batch("kiosk-09", [v1]),
                                                  T0)])
    assert report.stored == 1
    assert wire.decode_ack(report.outbox[0].payload) == [(1, v1["id"], wire.STORED)]
    ack = report.outbox[0].payload
    assert b'"v":1' in ack and b"sig" not in ack


@pytest.mark.parametrize("bad,why", [
    (lambda r: r[:10], "11 elements"),
    (lambda r: [0] + r[1:], "positive integer"),
    (lambda r: r[:1] + ["uuid:" + r[1]] + r[2:], "32 lower-case hex"),
    (lambda r: r[:8] + [7] + r[9:], "clock must be"),
    (lambda r: r[:9] + [["shared_lab", "sme"]] + r[10:], "2 answers for the 3 answer fields"),
    (lambda r: r[:9] + [["shared_lab", "sme", 9]] + r[10:], "out of range"),
    (lambda r: r[:5] + [8 * 86400] + r[6:], "over a week"),
])
def test_malformed_version_2_records_are_quarantined_with_a_reason(store, bad, why):
    rec = record()
    rec[0] = 1
    rec = bad(rec + [""])
    payload = wire.encode({"v": 2, "device": "kiosk-07", "records": [rec]})
    report = IngestCore().process(store, [Message(wire.topic_records("kiosk-07"), payload, T0)])
    assert report.quarantined == 1
    assert why in store.quarantined()[0]["reason"]
