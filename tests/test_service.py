"""The host service end to end: forms distributed, shared-subscription workers, the CLI's errors,
and crash safety of ``tiesense serve`` killed with SIGKILL while a device keeps sending."""
from __future__ import annotations

import os
import queue
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt

from tiesense import wire
from tiesense.forms import builtin_form, builtin_forms
from tiesense.service import Host
from tiesense.store import Store, record_digest

from .conftest import ROOT, free_port


def test_host_publishes_forms_retained_and_ingests(tmp_path, mqtt_device, visit, device_login):
    with Host(tmp_path / "h.db") as host:
        assert host.broker_url.startswith("mqtt://127.0.0.1:")
        got: queue.Queue = queue.Queue()
        reader = device_login(host, "kiosk-08", host.broker_url)  # forms are for devices to read
        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="kiosk-08")
        sub.on_message = lambda c, u, m: got.put((m.topic, m.payload, m.retain))
        reader.configure(sub)
        sub.connect(reader.host, reader.port)
        sub.subscribe(wire.SUB_FORMS, qos=1)
        sub.loop_start()
        try:
            seen = {}
            for _ in {f["id"] for f in builtin_forms()}:  # one retained message per form: its newest version
                topic, payload, retained = got.get(timeout=5)
                seen[topic] = (payload, retained)
        finally:
            sub.loop_stop()
            sub.disconnect()
        assert set(seen) == {wire.topic_form(f["id"]) for f in builtin_forms()}
        for form_id in {f["id"] for f in builtin_forms()}:
            payload, retained = seen[wire.topic_form(form_id)]
            assert retained and wire.decode_form(payload) == dict(builtin_form(form_id), v=wire.VERSION)
        by_version = lambda f: (f["id"], len(f["version"]), f["version"])  # noqa: E731
        assert sorted(host.store.forms(), key=by_version) == sorted(builtin_forms(), key=by_version)
        dev = mqtt_device(device_login(host, "kiosk-07", host.broker_url), "kiosk-07")
        r = visit("kiosk-07", 1)
        dev.send([r])
        assert dev.next_ack() == [(1, r["id"], "stored")]
        assert host.stats["stored"] == 1 and host.counts()["records"] == 1
    # a second start on the same file is fine: the form is unchanged
    with Host(tmp_path / "h.db") as host:
        assert host.counts()["records"] == 1


def test_the_hosts_embedded_broker_lets_in_provisioned_devices_only(tmp_path, device_login, mqtt_device, visit,
                                                                  wait_until):
    with Host(tmp_path / "h.db") as host:
        port = int(host.broker_url.rsplit(":", 1)[1])
        refused = []
        for user, password in ((None, None), ("kiosk-01", "guess"), ("tiesense-host", "guess")):
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"stranger-{user}")
            if user:
                c.username_pw_set(user, password)
            answers: queue.Queue = queue.Queue()
            c.on_connect = lambda cl, u, f, rc, p, answers=answers: answers.put(rc)
            c.connect("127.0.0.1", port)
            c.loop_start()
            refused.append(answers.get(timeout=10).is_failure)
            c.loop_stop()
            c.disconnect()
        assert refused == [True, True, True]
        # a provisioned device may not write as another
        k1 = mqtt_device(device_login(host, "kiosk-01", host.broker_url), "kiosk-01")
        forged = visit("kiosk-02", 1)
        k1.publish(wire.encode_batch("kiosk-02", [forged]), wire.topic_records("kiosk-02"))
        own = visit("kiosk-01", 1)
        k1.send([own])
        wait_until(lambda: k1.n_acked() == 1, 10, "kiosk-01's own record to be acknowledged")
        assert host.store.record(own["id"]) == own and host.store.record(forged["id"]) is None
        assert host.stats["quarantined"] == 0


def run_cli(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tiesense.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def test_serve_says_in_one_line_when_the_broker_is_unreachable(tmp_path):
    port = free_port()
    p = run_cli("serve", "--db", str(tmp_path / "x.db"), "--broker", f"mqtt://127.0.0.1:{port}")
    assert p.returncode == 1
    assert p.stderr.strip().splitlines() == [
        f"tiesense: cannot reach the MQTT broker at mqtt://127.0.0.1:{port}: Connection refused"]


def test_serve_says_in_one_line_when_the_port_is_in_use(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = run_cli("serve", "--db", str(tmp_path / "x.db"), "--port", str(port))
    assert p.returncode == 1
    assert p.stderr.strip().splitlines() == [
        f"tiesense: port {port} on 127.0.0.1 is in use: choose another port or stop what listens there"]


def test_serve_refuses_a_bad_broker_url(tmp_path):
    p = run_cli("serve", "--db", str(tmp_path / "x.db"), "--broker", "http://127.0.0.1:1883")
    assert p.returncode == 1
    assert p.stderr.strip().startswith("tiesense: bad broker URL 'http://127.0.0.1:1883'")
    assert len(p.stderr.strip().splitlines()) == 1


class HostProcess:
    """``python -m tiesense.cli serve`` as a subprocess, started and waited for until it says it is ready."""

    def __init__(self, db: str, url: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "tiesense.cli", "serve", "--db", db, "--broker", url],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline().decode() if ready else ""
        assert line.startswith("tiesense host ready: broker " + url), \
            f"host did not start: {line!r} {self.proc.stderr.read1(4000) if not ready else b''!r}"
        self.lines: list[str] = [line]
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            self.lines.append(raw.decode())


def test_sigkill_mid_stream_loses_and_duplicates_nothing(tmp_path, mosquitto, mqtt_device, visit, wait_until):
    db = str(tmp_path / "crash.db")
    n = 400
    records = [visit("kiosk-09", seq) for seq in range(1, n + 1)]
    host = HostProcess(db, mosquitto.url)
    dev = mqtt_device(mosquitto.url, "kiosk-09", resend_after=1.0, per_message=4)
    stop = threading.Event()

    def survey_after_survey():  # four new surveys every 20 ms, as a busy set of kiosks would
        for i in range(0, n, 4):
            if stop.wait(0.02):
                return
            dev.send(records[i:i + 4], wait=False)

    feeder = threading.Thread(target=survey_after_survey, daemon=True)
    try:
        feeder.start()
        wait_until(lambda: dev.n_acked() >= n // 4, 20, "the host to acknowledge a quarter before the kill")
        os.kill(host.proc.pid, signal.SIGKILL)
        host.proc.wait(5)
        acked_at_kill = dev.n_acked()
        assert acked_at_kill < n, "the stream ended before the kill: nothing was tested"
        time.sleep(0.5)  # the device keeps publishing into the host's persistent session
        host = HostProcess(db, mosquitto.url)
        wait_until(lambda: dev.n_acked() == n, 40, f"all {n} records to be acknowledged")
        host.proc.send_signal(signal.SIGTERM)
        assert host.proc.wait(15) == 0
        assert any(line.startswith("tiesense host stopped") for line in host.lines), host.lines
    finally:
        stop.set()
        feeder.join(5)
        if host.proc.poll() is None:
            host.proc.kill()
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT instance_id, digest FROM records").fetchall()
    conn.close()
    sent = {r["id"]: record_digest(r) for r in records}
    assert len(rows) == n and dict(rows) == sent  # every record once, with the content sent
    assert set(dev.statuses) == set(sent)  # and every one acknowledged
    assert all(statuses <= {"stored", "duplicate"} for statuses in dev.statuses.values())
    print(f"\nkilled after {acked_at_kill}/{n} acks; all {n} stored once and acknowledged")


def test_serve_refuses_a_shared_group_on_the_embedded_broker(tmp_path):
    p = run_cli("serve", "--db", str(tmp_path / "x.db"), "--shared-group", "g", "--port", str(free_port()))
    assert p.returncode == 1
    assert p.stderr.strip().splitlines() == [
        "tiesense: a shared group needs an external MQTT 5 broker such as Mosquitto (--broker): "
        "the embedded broker speaks MQTT 3.1.1 only"]


def test_serve_with_the_embedded_broker_stops_cleanly_on_sigint(tmp_path, mqtt_device, visit, device_login):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tiesense.cli", "serve", "--db", str(tmp_path / "e.db"),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        line = proc.stdout.readline().decode() if ready else ""
        assert line.startswith(f"tiesense host ready: broker mqtt://127.0.0.1:{port}, database {tmp_path / 'e.db'}, "
                               "client id tiesense-")
        dev = mqtt_device(device_login(tmp_path / "e.db", "kiosk-03", f"mqtt://127.0.0.1:{port}"), "kiosk-03")
        r = visit("kiosk-03", 1)
        dev.send([r])
        assert dev.next_ack() == [(1, r["id"], "stored")]
        dev.close()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.decode().strip().splitlines()[-1] == f"tiesense host stopped: 1 records in {tmp_path / 'e.db'}"


def test_importing_the_service_loads_no_estimator_stack():
    """The host's live estimates are a subscriber loaded at start: importing the service stays light."""
    probe = ("import sys, json, tiesense.service\n"
             "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'scipy'})))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_live_estimates_follow_committed_batches_as_a_subscriber(tmp_path, mqtt_device, wait_until, device_login):
    """A host started with no subscribers writes no estimates; the default one does."""
    rec = wire.make_record("handheld-01", 1, "fi_partner", "2026112401", "2026-11-24T10:00:00Z",
                           "2026-11-24T10:20:00Z", {"respondent_org": 11, "partner_org": 12, "tie_types": ["traded"],
                                                    "frequency": 4, "closeness": 3, "scope": "same_park"},
                           wire.new_instance_id(os.urandom))
    for subscribers, expected in (((), 0), (Host.__init__.__kwdefaults__["subscribers"], 1)):
        db = tmp_path / f"h{expected}.db"
        with Host(db, subscribers=subscribers) as host:
            dev = mqtt_device(device_login(host, "handheld-01", host.broker_url), "handheld-01",
                              client_id=f"handheld-{expected}")
            dev.send([dict(rec)])
            wait_until(lambda: dev.n_acked() == 1, 10, "the interview's ack")
        with Store(db) as store:  # the host has stopped: its writer and subscribers are done
            assert len(store.estimates("decayed_rate")) == expected
