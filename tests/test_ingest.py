"""Ingest against real brokers (embedded amqtt and Mosquitto) with a paho client acting as a device."""
from __future__ import annotations

import os
import queue
import sqlite3
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from tiesense import wire
from tiesense.broker import EmbeddedBroker, parse_broker_url
from tiesense.ingest import Ingest
from tiesense.store import Store, record_digest

FORM, VERSION = "tp_visit", "2026112401"
GOOD_ANSWERS = {"facility": "shared_lab", "org_type": "sme", "satisfaction": 4}


def make_record(device: str, seq: int, **answers) -> dict:
    """A valid visit record from ``device``; keyword answers override the defaults."""
    return wire.make_record(device, seq, FORM, VERSION, "2026-11-24T09:30:00Z", "2026-11-24T09:31:05Z",
                            dict(GOOD_ANSWERS, **answers), wire.new_instance_id(os.urandom))


class Device:
    """A paho client that publishes records as a kiosk would and collects its acks."""

    def __init__(self, url: str, device: str):
        self.device = device
        self.acks: queue.Queue = queue.Queue()
        self.all_acks: list[tuple[int, str, str]] = []
        self._lock = threading.Lock()
        host, port = parse_broker_url(url)
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{device}")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect(host, port)
        self.client.loop_start()
        self.client.subscribe(wire.topic_ack(device), qos=1)
        assert subscribed.wait(5), "the broker did not confirm the device's ack subscription"

    def _on_message(self, client, userdata, msg) -> None:
        if msg.topic != wire.topic_ack(self.device):
            return  # amqtt also hands a new client retained messages it did not subscribe to
        entries = wire.decode_ack(msg.payload)
        with self._lock:
            self.all_acks.extend(entries)
        self.acks.put(entries)

    def publish(self, payload: bytes, topic: str | None = None) -> None:
        self.client.publish(topic or wire.topic_records(self.device), payload, qos=1).wait_for_publish(5)

    def send(self, records: list[dict]) -> None:
        self.publish(wire.encode_batch(self.device, records))

    def next_ack(self, timeout: float = 10.0) -> list[tuple[int, str, str]]:
        return self.acks.get(timeout=timeout)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture(params=["amqtt", "mosquitto"])
def broker_url(request):
    """A real broker of each kind: the embedded amqtt, and Mosquitto."""
    if request.param == "mosquitto":
        yield request.getfixturevalue("mosquitto").url
    else:
        with EmbeddedBroker() as b:
            yield b.url


@pytest.fixture
def ingest(tmp_path, broker_url):
    store = Store(tmp_path / "host.db")
    batches = []
    ing = Ingest(store, broker_url, on_batch=batches.append)
    ing.batches = batches
    ing.start()
    yield ing
    ing.stop()
    store.close()


@pytest.fixture
def device(broker_url):
    d = Device(broker_url, "kiosk-01")
    yield d
    d.close()


def db_rows(ing: Ingest, sql: str, params=()) -> list[tuple]:
    """Read the SQLite file through a separate connection, as another process would."""
    conn = sqlite3.connect(ing.store.path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_records_are_stored_and_acked_exactly(ingest, device):
    recs = [make_record("kiosk-01", seq) for seq in range(1, 6)]
    recs[2]["answers"] = {"facility": "cafeteria", "org_type": "university", "satisfaction": 1}
    device.send(recs)
    ack = device.next_ack()
    assert ack == [(r["seq"], r["id"], "stored") for r in recs]
    rows = db_rows(ingest, "SELECT instance_id, device, seq, form, form_version, start, end, answers, digest "
                           "FROM records ORDER BY seq")
    assert len(rows) == 5
    for r, row in zip(recs, rows):
        assert row == (r["id"], r["device"], r["seq"], r["form"], r["form_version"], r["start"], r["end"],
                       wire.dumps(r["answers"]), record_digest(r))
        assert ingest.store.record(r["id"]) == r  # the row equals what was sent
    assert ingest.stats["stored"] == 5 and ingest.stats["acks_sent"] == 1
    assert ingest.batches and sum(b.stored for b in ingest.batches) == 5


def test_same_batch_twice_is_stored_once_and_acked_twice(ingest, device):
    recs = [make_record("kiosk-01", seq) for seq in (1, 2, 3)]
    payload = wire.encode_batch("kiosk-01", recs)
    device.publish(payload)
    first = device.next_ack()
    device.publish(payload)
    second = device.next_ack()
    assert first == [(r["seq"], r["id"], "stored") for r in recs]
    assert second == [(r["seq"], r["id"], "duplicate") for r in recs]
    assert db_rows(ingest, "SELECT count(*) FROM records") == [(3,)]
    assert ingest.stats["duplicates"] == 3


def test_same_id_other_content_is_a_conflict(ingest, device):
    rec = make_record("kiosk-01", 1)
    device.send([rec])
    assert device.next_ack() == [(1, rec["id"], "stored")]
    changed = dict(rec, answers=dict(rec["answers"], satisfaction=2))
    device.send([changed])
    assert device.next_ack() == [(1, rec["id"], "conflict")]
    # the first version stays; the second is kept with both digests
    assert ingest.store.record(rec["id"]) == rec
    assert db_rows(ingest, "SELECT instance_id, stored_digest, digest, record FROM conflicts") == [
        (rec["id"], record_digest(rec), record_digest(changed), wire.dumps(changed))]
    assert ingest.stats["conflicts"] == 1


def test_garbage_is_quarantined_and_the_host_keeps_going(ingest, device):
    dev = "kiosk-01"
    float_answer = wire.dumps(make_record(dev, 1)).replace('"satisfaction":4', '"satisfaction":4.5')
    unknown_form = make_record(dev, 3)
    unknown_form["form"] = "no_such_form"
    unknown_version = make_record(dev, 4)
    unknown_version["form_version"] = "1999010101"
    cases = {
        # name: (payload, topic, words the reason must contain, acked seqs)
        "not json": (b"{this is not json", None, "not JSON", []),
        "not utf-8": (b'{"v":1,"device":"kiosk-01","records":[\xff\xfe]}', None, "not UTF-8", []),
        "empty": (b"", None, "empty payload", []),
        "oversize": (b"x" * (wire.MAX_PAYLOAD + 1), None, "MAX_PAYLOAD", []),
        "not an object": (b"[1,2,3]", None, "JSON object", []),
        "wrong types": (('{"device":"kiosk-01","records":[' + float_answer + '],"v":1}').encode(), None,
                        "answer 'satisfaction' must be an integer", [1]),
        "seq as text": (wire.encode_batch(dev, [dict(make_record(dev, 2), seq="2")]), None,
                        "seq must be a positive integer", []),
        "unknown form": (wire.encode_batch(dev, [unknown_form]), None, "unknown form 'no_such_form'", [3]),
        "unknown version": (wire.encode_batch(dev, [unknown_version]), None, "unknown version '1999010101'", [4]),
        "bad answer": (wire.encode_batch(dev, [make_record(dev, 5, satisfaction=9)]), None,
                       "'satisfaction': 9 is out of range 1..5", [5]),
        "device mismatch": (wire.encode_batch("kiosk-99", [make_record("kiosk-99", 6)]), None,
                            "device id mismatch", [6]),
        "record of another device": (wire.encode_batch(dev, [make_record("kiosk-02", 7)]), None,
                                     "device id mismatch", [7]),
        "bad status": (b'{"v":1,"online":"yes"}', wire.topic_status(dev), "'online': true or false", []),
    }
    for payload, topic, _, _ in cases.values():
        device.publish(payload, topic)
    good = make_record(dev, 8)
    device.send([good])
    deadline = time.monotonic() + 15
    while (8, good["id"], "stored") not in device.all_acks:
        assert time.monotonic() < deadline, f"the good record was not acked; acks: {device.all_acks}"
        time.sleep(0.05)
    assert ingest.store.record(good["id"]) == good
    quarantined = ingest.store.quarantined()
    assert len(quarantined) == len(cases), [q["reason"] for q in quarantined]
    for name, (payload, topic, words, acked) in cases.items():
        rows = [q for q in quarantined if q["raw"] == payload and words in q["reason"]]
        assert len(rows) == 1, f"{name}: no quarantine row with the raw bytes and a reason saying {words!r}: " \
                               f"{[q['reason'] for q in quarantined]}"
        assert rows[0]["topic"] == (topic or wire.topic_records(dev))
    # Broken records inside readable messages are acked as quarantined; unreadable messages are not acked.
    quarantine_acks = sorted(seq for seq, _, status in device.all_acks if status == "quarantined")
    assert quarantine_acks == [1, 3, 4, 5, 6, 7]
    assert db_rows(ingest, "SELECT count(*) FROM records") == [(1,)]
    assert ingest.stats["quarantined"] == len(cases) and ingest.stats["errors"] == 0


def test_status_updates_devices_and_a_good_record_in_a_bad_batch_is_kept(ingest, device):
    device.publish(wire.encode_status(True, fw="0.3.1", role="kiosk", queue=2, heap_free=81000,
                                      battery_mv=0, uptime_s=12), wire.topic_status("kiosk-01"))
    good, bad = make_record("kiosk-01", 1), make_record("kiosk-01", 2, org_type="alien")
    device.send([good, bad])
    assert device.next_ack() == [(1, good["id"], "stored"), (2, bad["id"], "quarantined")]
    q = ingest.store.quarantined()
    assert len(q) == 1 and q[0]["item"] == 1 and q[0]["instance_id"] == bad["id"] and q[0]["seq"] == 2
    assert "choice 'alien' is not in the list" in q[0]["reason"]
    deadline = time.monotonic() + 5
    while not ingest.store.devices():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    row = ingest.store.devices()[0]
    assert {k: row[k] for k in ("device", "online", "fw", "role", "queue", "heap_free", "uptime_s")} == {
        "device": "kiosk-01", "online": 1, "fw": "0.3.1", "role": "kiosk", "queue": 2, "heap_free": 81000,
        "uptime_s": 12}
