"""The trust promises, end to end: a real kiosk (firmware under micropython) with its provisioned keys,
a real Mosquitto left OPEN (the worst case: no ACL stops an outsider from publishing anywhere), the real
host, and an attacker client doing what the trust issue found possible.

Each test asserts that every survey answered is stored by the host, that the kiosk kept working, and
that it refused (and counted in its status) what the attacker sent.
"""
from __future__ import annotations

import json
import os
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from tiesense import wire
from tiesense.devices import SimDevice, read_log_state, stage
from tiesense.forms import builtin_form
from tiesense.provisioning import provision
from tiesense.service import Host
from tiesense.store import Store

DEVICE = "kiosk-21"


class Attacker:
    """An anonymous client on the building network: reads every record, publishes whatever it likes."""

    def __init__(self, port: int):
        self.records: list[list] = []
        self.status: dict = {}
        self.lock = threading.Lock()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="intruder")
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port)
        self.c.subscribe([(wire.SUB_RECORDS, 1), (wire.topic_status(DEVICE), 1)])
        self.c.loop_start()

    def _on_message(self, client, userdata, msg):
        if not msg.payload:
            return
        if msg.topic.endswith("/status"):
            self.status.update(json.loads(msg.payload))
            return
        _v, _device, records = wire.decode_records_message(msg.payload)
        with self.lock:
            self.records.extend(records)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def forge_acks(self) -> int:
        """Ack every record seen so far, as version 1 (unsigned) and as version 2 signed with a guessed key."""
        with self.lock:
            seen = [(r[0], r[1]) for r in self.records]
        entries = [(seq, rid, wire.STORED) for seq, rid in seen]
        if entries:
            self.publish(wire.topic_ack(DEVICE), wire.encode_ack(entries))
            for payload in wire.encode_acks(entries, 1024, wire.V2, DEVICE, os.urandom(32), int(time.time())):
                self.publish(wire.topic_ack(DEVICE), payload)
        return len(entries)

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


@pytest.fixture
def park(tmp_path, mosquitto, micropython):
    """The host's database with the kiosk provisioned, and the kiosk staged from its site.json."""
    db = tmp_path / "park.db"
    with Store(db) as store:
        dev = provision(store, DEVICE, "lobby-a", broker_host="127.0.0.1", broker_port=mosquitto.port)
    config = {k: v for k, v in dev.site_config.items() if k not in ("device", "role", "broker_host", "broker_port")}
    return db, config


def start_kiosk(tmp_path, mosquitto, micropython, config, script, **more):
    root = stage(tmp_path / "kiosk", DEVICE, mosquitto.url, script=script, thanks_ms=0, status_s=2,
                 ack_timeout_ms=1500, **config, **more)
    return root, SimDevice(root, micropython=micropython).start()


def stored(db) -> list[dict]:
    with Store(db) as s:
        return s.records(DEVICE)


def test_forged_acks_delete_nothing_while_the_host_is_down_and_after(park, tmp_path, mosquitto, micropython,
                                                                      survey_keys, wait_until):
    db, config = park
    attacker = Attacker(mosquitto.port)
    script = survey_keys(1, 1, 1) + survey_keys(2, 2, 2) + survey_keys(3, 3, 3) + [["wait_ms", 60000]]
    root, dev = start_kiosk(tmp_path, mosquitto, micropython, config, script)
    try:
        # the host is down for maintenance: only the attacker listens, and acks everything it sees
        wait_until(lambda: len({r[1] for r in attacker.records}) >= 3, 20, "the kiosk's three records on the wire")
        assert all(len(r[10]) == 43 for r in attacker.records), "records go out signed"
        for _ in range(3):
            attacker.forge_acks()
            time.sleep(0.5)  # the kiosk resends meanwhile; each resend is acked falsely again
        wait_until(lambda: attacker.status.get("refused", 0) >= 2, 10, "the kiosk to report the refused acks")
        assert read_log_state(root).pending == [1, 2, 3], "a forged ack deleted a record"
        # the host comes back: everything answered is stored, and only then does the kiosk let go
        with Host(db, broker_url=mosquitto.url):
            wait_until(lambda: len(stored(db)) == 3, 20, "the three surveys stored")
            wait_until(lambda: read_log_state(root).pending == [], 15, "the kiosk's log to drain after real acks")
        out = dev.read_output()
        assert "UPLINK refused message on tiesense/v1/%s/ack" % DEVICE in out and "Traceback" not in out
        assert dev.proc.poll() is None, "the kiosk stopped"
    finally:
        dev.stop()
        attacker.close()


@pytest.mark.parametrize("rogue", ["integer version", "longer version", "unsupported type", "swapped labels",
                                   "wrong site key"])
def test_rogue_retained_forms_are_refused_and_surveys_keep_their_meaning(park, tmp_path, mosquitto, micropython,
                                                                         survey_keys, wait_until, rogue):
    db, config = park
    form = builtin_form("tp_visit")
    bad = dict(form)
    if rogue == "integer version":
        payload = wire.encode({**form, "v": 1, "version": 2026112499})
    elif rogue == "longer version":
        payload = wire.encode_form({**form, "version": "20261124010"})
    elif rogue == "unsupported type":
        bad["version"] = "2026112402"
        bad["questions"] = form["questions"] + [{"name": "comment", "type": "text", "label": "Anything else?"}]
        payload = wire.encode_form(bad)
    elif rogue == "swapped labels":  # the host's own version, choices rotated: "SME" would be stored as large_firm
        q = dict(form["questions"][1])
        names = [c["name"] for c in q["choices"]]
        q["choices"] = [dict(c, name=names[(i + 1) % len(names)]) for i, c in enumerate(q["choices"])]
        bad["questions"] = [form["questions"][0], q, form["questions"][2]]
        bad["version"] = "2026112402"
        payload = wire.encode_form(bad)
    else:  # a version 2 form signed, but not with this site's key
        bad["version"] = "2026112402"
        payload = wire.encode_form(bad, {"lobby-a": os.urandom(32)})
    attacker = Attacker(mosquitto.port)
    attacker.publish(wire.topic_form("tp_visit"), payload, retain=True)
    # facility: shared_lab (1 down), org: sme (2 downs), satisfaction 4 (2 ups from 3)
    root, dev = start_kiosk(tmp_path, mosquitto, micropython, config, [["wait_ms", 1500]] + survey_keys(1, 2, 2)
                            + [["wait_ms", 60000]])
    try:
        wait_until(lambda: attacker.status.get("refused", 0) >= 1, 15, "the kiosk to refuse the rogue form")
        with Host(db, broker_url=mosquitto.url):
            wait_until(lambda: len(stored(db)) == 1, 20, "the survey stored")
        (rec,) = stored(db)
        assert rec["form_version"] == "2026112401"
        assert rec["answers"] == {"facility": "shared_lab", "org_type": "sme", "satisfaction": 4}
        out = dev.read_output()
        assert "UPLINK stored form" not in out and "Traceback" not in out
        assert dev.proc.poll() is None
    finally:
        dev.stop()
        attacker.publish(wire.topic_form("tp_visit"), b"", retain=True)
        attacker.close()


def test_a_kiosk_whose_clock_restarted_in_2021_gets_the_hosts_time_and_its_records_are_corrected(
        park, tmp_path, mosquitto, micropython, survey_keys, wait_until):
    db, config = park
    # a survey answered offline right after boot (no broker yet), then the host comes up
    with Host(db, broker_url=mosquitto.url) as host:
        root, dev = start_kiosk(tmp_path, mosquitto, micropython, config,
                                survey_keys(1, 1, 1) + [["wait_ms", 3000]] + survey_keys(2, 2, 2)
                                + [["wait_ms", 60000]], sim_clock="rtc-reset")
        try:
            wait_until(lambda: len(stored(db)) == 2, 30, "both surveys stored")
            dev.wait_for("UPLINK clock set from the host's", timeout=10)
            with Store(db) as s:
                rows = s.rows("records")
            now = time.time()
            for r in rows:
                # never stored as 2021: corrected from the boot's clock anchor, or stamped after the host's time
                assert r["clock"] in ("corrected", "host"), r
                t = time.mktime(time.strptime(r["start"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
                assert abs(t - now) < 120, r["start"]
            assert host.stats["quarantined"] == 0
        finally:
            dev.stop()


def test_require_signed_quarantines_devices_the_host_has_no_key_for(tmp_path, mosquitto, mqtt_device, visit,
                                                                    wait_until):
    with Host(tmp_path / "park.db", broker_url=mosquitto.url, require_signed=True) as host:
        stranger = mqtt_device(mosquitto.url, "kiosk-77")  # never provisioned: no key, nothing signed
        stranger.send([visit("kiosk-77", 1)])
        wait_until(lambda: stranger.n_acked() == 1, 10, "the host's answer")
        assert stranger.all_acks[0][2] == wire.QUARANTINED, "held in quarantine, so the device stops resending"
        assert host.store.counts()["records"] == 0
        assert "--require-signed" in host.store.quarantined()[0]["reason"]


def test_forged_acks_while_taking_over_the_hosts_session_lose_nothing(park, tmp_path, mosquitto, micropython,
                                                                      survey_keys, wait_until):
    """The trust issue's worst run (40 answered, 32 stored): an intruder keeps stealing the host's client id
    and acks whatever it reads. Now every survey is stored, and the intruder's acks are refused."""
    db, config = park
    script = []
    for i in range(10):
        script += survey_keys(1 + i % 8, 1 + i % 7, 1 + i % 3)
    script += [["wait_ms", 60000]]
    with Host(db, broker_url=mosquitto.url) as host:
        root, dev = start_kiosk(tmp_path, mosquitto, micropython, config, script)
        stop = threading.Event()
        forged = []

        def intrude():
            while not stop.is_set():
                attacker = Attacker(mosquitto.port)  # a fresh connection ...
                thief = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=host.client_id)
                thief.connect("127.0.0.1", mosquitto.port)  # ... and the host's client id: the broker drops the host
                thief.loop_start()
                stop.wait(0.4)
                forged.append(attacker.forge_acks())
                thief.loop_stop()
                thief.disconnect()
                attacker.close()

        t = threading.Thread(target=intrude, daemon=True)
        t.start()
        try:
            wait_until(lambda: dev.read_output().count("KIOSK stored seq=") == 10, 60, "ten surveys answered")
            wait_until(lambda: len(stored(db)) == 10, 60, "every survey stored despite the intruder")
        finally:
            stop.set()
            t.join(10)
        wait_until(lambda: read_log_state(root).pending == [], 20, "the kiosk's log to drain on the host's acks")
        try:
            assert sum(forged) > 0, "the intruder never saw a record: nothing was tested"
            assert len({r["id"] for r in stored(db)}) == 10
            out = dev.read_output()
            assert "UPLINK refused message on tiesense/v1/%s/ack" % DEVICE in out and "Traceback" not in out
        finally:
            dev.stop()
