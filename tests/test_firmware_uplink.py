"""Uplink behaviour beyond the basic ack loop, with the real firmware under
micropython and a real Mosquitto: reconnect with backoff after the broker
goes away, host commands, a new form version taken between surveys, and the
demo (auto) mode producing valid records.
"""
from __future__ import annotations

import json

from tiesense import wire
from tiesense.devices import SimDevice, read_log_state, stage

from .conftest import ROOT

FORM = json.loads((ROOT / "host" / "tiesense" / "instruments" / "tp_visit.json").read_text())
DEVICE = "kiosk-07"


def test_reconnects_after_broker_restart_and_sends_offline_records(micropython, mosquitto, tmp_path, acking_host,
                                                                  survey_keys, wait_until):
    script = survey_keys(1, 1, 1) + [["wait_ms", 1500]] + survey_keys(2, 2, 2)
    root = stage(tmp_path / "dev", DEVICE, mosquitto.url, script=script, ack_timeout_ms=60000,
                 thanks_ms=0, keepalive_s=2, backoff_max_s=1)
    host = acking_host(mosquitto.port, DEVICE)
    dev = SimDevice(root, micropython=micropython).start()
    try:
        dev.wait_for("UPLINK sent seqs=1", timeout=15)
        first = wait_until(lambda: host.collect(0.2), 5, "record 1")
        host.close()
        mosquitto.stop()
        dev.wait_for("UPLINK lost", timeout=10)
        dev.wait_for("KIOSK stored seq=2", timeout=10)  # taken while offline
        dev.wait_for("UPLINK connect failed", timeout=10)
        mosquitto.start()  # the same port and configuration
        host = acking_host(mosquitto.port, DEVICE)
        dev.wait_for("UPLINK connected", timeout=10, count=2)
        got = list(first)
        wait_until(lambda: got.extend(host.collect(0.2)) or {r["seq"] for r in got} >= {1, 2}, 10, "both records")
        ids = {}
        for r in got:
            assert ids.setdefault(r["seq"], r["id"]) == r["id"], "a seq changed instance id"
        host.ack([r for r in got if r["seq"] in (1, 2)])
        wait_until(lambda: read_log_state(root).pending == [], 10, "log to drain")
    finally:
        dev.stop()
        host.close()


def test_commands_and_new_form_between_surveys(micropython, mosquitto, tmp_path, acking_host, survey_keys, wait_until):
    script = survey_keys(1, 1, 1) + [["wait_ms", 2500]] + survey_keys(1, 1, 1)
    root = stage(tmp_path / "dev", DEVICE, mosquitto.url, script=script, ack_timeout_ms=60000, thanks_ms=0)
    host = acking_host(mosquitto.port, DEVICE)
    dev = SimDevice(root, micropython=micropython).start()
    try:
        dev.wait_for("UPLINK sent seqs=1", timeout=15)
        assert len(host.collect(0.5)) == 1
        # sync: resend now, long before the 60 s ack timeout; a repeat of the same id is ignored
        host.c.publish(wire.topic_command(DEVICE), wire.encode_command("sync", "c1"), qos=1)
        again = wait_until(lambda: host.collect(0.2), 5, "resend on sync")
        assert [r["seq"] for r in again] == [1]
        host.c.publish(wire.topic_command(DEVICE), wire.encode_command("sync", "c1"), qos=1)
        assert host.collect(1.0) == [], "repeated command id acted on"
        host.status = {}
        host.c.publish(wire.topic_command(DEVICE), wire.encode_command("status", "c2"), qos=1)
        wait_until(lambda: host.status.get("online") is True, 5, "status on command")
        assert host.status["queue"] == 1
        # A newer form version (retained), and an older one that must be ignored
        new = dict(FORM, version="2026112402")
        new["questions"] = FORM["questions"][:1] + FORM["questions"][2:]  # org_type dropped
        host.c.publish(wire.topic_form("tp_visit"), wire.encode_form(new), qos=1, retain=True)
        dev.wait_for("UPLINK stored form tp_visit version 2026112402", timeout=5)
        host.c.publish(wire.topic_form("tp_visit"), wire.encode_form(dict(FORM, version="2026112400")), qos=1)
        dev.wait_for("KIOSK stored seq=2", timeout=15)
        recs = {}
        wait_until(lambda: [recs.setdefault(r["seq"], r) for r in host.collect(0.2)] and 2 in recs, 5, "record 2")
        assert recs[2]["form_version"] == "2026112402"
        assert set(recs[2]["answers"]) == {"facility", "satisfaction"}
        stored = json.loads((root / "forms" / "tp_visit.json").read_text())
        assert stored["version"] == "2026112402" and "v" not in stored
        assert "2026112400" not in dev.read_output()
    finally:
        dev.stop()
        host.close()


def test_a_newer_form_this_firmware_cannot_run_is_refused_and_surveys_go_on(micropython, mosquitto, tmp_path,
                                                                            acking_host, survey_keys, wait_until):
    script = [["wait_ms", 1500]] + survey_keys(1, 1, 1) + [["wait_ms", 300]]
    root = stage(tmp_path / "dev", DEVICE, mosquitto.url, script=script, ack_timeout_ms=60000, thanks_ms=0)
    host = acking_host(mosquitto.port, DEVICE)
    newer = dict(FORM, version="2026112409")
    newer["questions"] = FORM["questions"] + [{"name": "comment", "type": "text", "label": "Anything else?"}]
    host.c.publish(wire.topic_form("tp_visit"), wire.encode_form(newer), qos=1, retain=True).wait_for_publish(5)
    dev = SimDevice(root, micropython=micropython).start()
    try:
        dev.wait_for("UPLINK refused form tp_visit version 2026112409: question 'comment': type text not supported",
                     timeout=15)
        recs = wait_until(lambda: host.collect(0.2), 15, "the survey taken after the refusal")
        assert recs[0]["form_version"] == FORM["version"]
        assert json.loads((root / "forms" / "tp_visit.json").read_text())["version"] == FORM["version"]
        assert "Traceback" not in dev.read_output()
    finally:
        dev.stop()


def test_auto_mode_makes_valid_records(micropython, tmp_path):
    root = stage(tmp_path / "dev", "kiosk-auto", "mqtt://127.0.0.1:9", script=[["wait_ms", 4000], ["exit"]],
                 auto=1, sim_seed=7, thanks_ms=100, backoff_max_s=5)
    dev = SimDevice(root, micropython=micropython).start()
    assert dev.wait(20) == 0, dev.read_output()
    st = read_log_state(root)
    assert len(st.pending) >= 2, dev.read_output()[-2000:]
    for s in st.pending:
        r = st.records[s]
        wire.check_record_v2(list(r.values()))
        facility, org_type, satisfaction = r["answers"]  # positional, in form order
        assert facility and org_type and 1 <= satisfaction <= 5
    assert "EXIT completed" in dev.read_output()
