"""The MQTT ingest end to end, against real brokers (the embedded amqtt and Mosquitto) with a paho
client acting as a device. Every checking rule is tested without a broker in test_ingest_core.py."""
from __future__ import annotations

import sqlite3

import pytest

from tiesense import wire
from tiesense.broker import EmbeddedBroker
from tiesense.ingest import Ingest
from tiesense.store import Store, record_digest

DEV = "kiosk-01"


@pytest.fixture(params=["amqtt", "mosquitto"])
def broker_url(request):
    """A real broker of each kind: the embedded amqtt, and Mosquitto limited as docs/operations.md says."""
    if request.param == "mosquitto":
        yield request.getfixturevalue("mosquitto_limited").url
    else:
        with EmbeddedBroker() as b:
            yield b.url


@pytest.fixture
def mosquitto_limited(mosquitto_factory):
    return mosquitto_factory(f"message_size_limit {wire.MAX_PAYLOAD}\n")


@pytest.fixture
def ingest(tmp_path, broker_url):
    store = Store(tmp_path / "host.db")
    batches = []
    ing = Ingest(store, broker_url, client_id="test-host", on_batch=batches.append)
    ing.batches = batches
    ing.start()
    yield ing
    ing.stop()
    store.close()


@pytest.fixture
def device(broker_url, mqtt_device):
    return mqtt_device(broker_url, DEV)


def db_rows(ing: Ingest, sql: str, params=()) -> list[tuple]:
    """Read the SQLite file through a separate connection, as another process would."""
    conn = sqlite3.connect(ing.store.path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_records_are_stored_and_acked_exactly(ingest, device, visit, wait_until):
    recs = [visit(DEV, seq) for seq in range(1, 6)]
    recs[2]["answers"] = {"facility": "cafeteria", "org_type": "university", "satisfaction": 1}
    device.send(recs)
    wait_until(lambda: len(device.all_acks) >= 5, 10, "five acks")
    assert sorted(device.all_acks) == sorted((r["seq"], r["id"], "stored") for r in recs)
    rows = db_rows(ingest, "SELECT instance_id, device, seq, form, form_version, start, end, answers, digest "
                           "FROM records ORDER BY seq")
    assert len(rows) == 5
    for r, row in zip(recs, rows):
        assert row == (r["id"], r["device"], r["seq"], r["form"], r["form_version"], r["start"], r["end"],
                       wire.dumps(r["answers"]), record_digest(r))
        assert ingest.store.record(r["id"]) == r  # the row equals what was sent
    assert ingest.stats["stored"] == 5 and ingest.stats["errors"] == 0
    assert sum(b.stored for b in ingest.batches) == 5


def test_same_batch_twice_is_stored_once_and_acked_twice(ingest, device, visit):
    recs = [visit(DEV, seq) for seq in (1, 2, 3)]
    payload = wire.encode_batch(DEV, recs)
    device.publish(payload)
    first = device.next_ack()
    device.publish(payload)
    second = device.next_ack()
    assert first == [(r["seq"], r["id"], "stored") for r in recs]
    assert second == [(r["seq"], r["id"], "duplicate") for r in recs]
    assert db_rows(ingest, "SELECT count(*) FROM records") == [(3,)]
    assert ingest.stats["duplicates"] == 3


def test_garbage_is_quarantined_and_the_host_keeps_going(ingest, device, visit, wait_until):
    cases = {
        "not json": (b"{this is not json", wire.topic_records(DEV), "not JSON"),
        "another device's topic": (wire.encode_batch("kiosk-99", [visit("kiosk-99", 6)]), wire.topic_records(DEV),
                                   "device id mismatch"),
        "bad status": (b'{"v":1,"online":"yes"}', wire.topic_status(DEV), "'online': true or false"),
    }
    for payload, topic, _ in cases.values():
        device.publish(payload, topic)
    good = visit(DEV, 8)
    device.send([good])
    wait_until(lambda: (8, good["id"], "stored") in device.all_acks, 15, "the good record's ack")
    assert ingest.store.record(good["id"]) == good
    quarantined = ingest.store.quarantined()
    for name, (payload, topic, words) in cases.items():
        rows = [q for q in quarantined if q["raw"] == payload and words in q["reason"] and q["topic"] == topic]
        assert len(rows) == 1, f"{name}: {[q['reason'] for q in quarantined]}"
    assert any(seq == 6 and status == "quarantined" for seq, _, status in device.all_acks)


def test_an_oversize_payload_is_refused_by_the_broker(ingest, device, visit, wait_until):
    device.publish(b"x" * (wire.MAX_PAYLOAD + 1))
    good = visit(DEV, 1)
    device.send([good])
    wait_until(lambda: (1, good["id"], "stored") in device.all_acks, 15, "the good record's ack")
    assert ingest.store.quarantined() == []  # the broker never passed it on
    assert ingest.stats["received"] == 1


def test_status_updates_devices(ingest, device, wait_until):
    device.publish(wire.encode_status(True, fw="0.3.1", role="kiosk", queue=2, heap_free=81000,
                                      battery_mv=0, uptime_s=12), wire.topic_status(DEV))
    row = wait_until(lambda: ingest.store.devices(), 10, "the device row")[0]
    assert {k: row[k] for k in ("device", "online", "fw", "role", "queue", "heap_free", "uptime_s")} == {
        "device": DEV, "online": 1, "fw": "0.3.1", "role": "kiosk", "queue": 2, "heap_free": 81000,
        "uptime_s": 12}
