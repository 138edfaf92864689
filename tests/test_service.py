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
from tiesense.broker import parse_broker_url
from tiesense.forms import builtin_forms
from tiesense.ingest import Ingest
from tiesense.service import Host
from tiesense.store import Store, record_digest

from .conftest import ROOT, free_port
from .test_ingest import Device, make_record


def test_host_publishes_forms_retained_and_ingests(tmp_path):
    with Host(tmp_path / "h.db") as host:
        assert host.broker_url.startswith("mqtt://127.0.0.1:")
        got: queue.Queue = queue.Queue()
        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="form-reader")
        sub.on_message = lambda c, u, m: got.put((m.topic, m.payload, m.retain))
        sub.connect(*parse_broker_url(host.broker_url))
        sub.subscribe(wire.SUB_FORMS, qos=1)
        sub.loop_start()
        try:
            seen = {}
            for _ in builtin_forms():
                topic, payload, retained = got.get(timeout=5)
                seen[topic] = (payload, retained)
        finally:
            sub.loop_stop()
            sub.disconnect()
        assert set(seen) == {wire.topic_form(f["id"]) for f in builtin_forms()}
        for form in builtin_forms():
            payload, retained = seen[wire.topic_form(form["id"])]
            assert retained and wire.decode_form(payload) == dict(form, v=wire.VERSION)
        assert sorted(host.store.forms(), key=lambda f: f["id"]) == builtin_forms()
        dev = Device(host.broker_url, "kiosk-07")
        try:
            r = make_record("kiosk-07", 1)
            dev.send([r])
            assert dev.next_ack() == [(1, r["id"], "stored")]
        finally:
            dev.close()
        assert host.stats["stored"] == 1 and host.counts()["records"] == 1
    # a second start on the same file is fine: the form is unchanged
    with Host(tmp_path / "h.db") as host:
        assert host.counts()["records"] == 1


def test_shared_group_workers_split_the_stream(tmp_path, mosquitto):
    """Two MQTT 5 workers in one $share group on Mosquitto store every record exactly once between them."""
    store_a, store_b = Store(tmp_path / "w.db"), Store(tmp_path / "w.db")
    a = Ingest(store_a, mosquitto.url, client_id="worker-a", shared_group="g").start()
    b = Ingest(store_b, mosquitto.url, client_id="worker-b", shared_group="g").start()
    dev = Device(mosquitto.url, "kiosk-02")
    try:
        recs = [make_record("kiosk-02", seq) for seq in range(1, 81)]
        for i in range(0, len(recs), 4):
            dev.send(recs[i:i + 4])
        deadline = time.monotonic() + 15
        while len(dev.all_acks) < len(recs):
            assert time.monotonic() < deadline, f"{len(dev.all_acks)} of {len(recs)} acked"
            time.sleep(0.05)
        assert sorted(dev.all_acks) == sorted((r["seq"], r["id"], "stored") for r in recs)
        assert a.stats["stored"] > 0 and b.stats["stored"] > 0
        assert a.stats["stored"] + b.stats["stored"] == len(recs)
        assert store_a.records("kiosk-02") == recs
    finally:
        dev.close()
        a.stop()
        b.stop()
        store_a.close()
        store_b.close()


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


class ResendingDevice:
    """Publishes ``n`` records four at a time, resending each until the host acknowledges it."""

    def __init__(self, url: str, device: str, n: int, resend_after: float = 1.0):
        self.device = device
        self.records = [make_record(device, seq) for seq in range(1, n + 1)]
        self.acked: dict[str, set[str]] = {}
        self.lock = threading.Lock()
        self.resend_after = resend_after
        self.stop = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"crash-{device}")
        self.client.on_message = self._on_ack
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect(*parse_broker_url(url))
        self.client.subscribe(wire.topic_ack(device), qos=1)
        self.client.loop_start()
        assert subscribed.wait(5)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _on_ack(self, client, userdata, msg) -> None:
        if msg.topic != wire.topic_ack(self.device):
            return
        with self.lock:
            for seq, iid, status in wire.decode_ack(msg.payload):
                self.acked.setdefault(iid, set()).add(status)

    def n_acked(self) -> int:
        with self.lock:
            return len(self.acked)

    def _run(self) -> None:
        sent_at: dict[str, float] = {}
        created = 0
        while not self.stop.is_set():
            created = min(len(self.records), created + 4)  # four new surveys per tick
            now = time.monotonic()
            with self.lock:
                due = [r for r in self.records[:created]
                       if r["id"] not in self.acked and now - sent_at.get(r["id"], -1e9) > self.resend_after]
            if not due and created == len(self.records) and self.n_acked() == len(self.records):
                return
            for i in range(0, len(due), 4):
                self.client.publish(wire.topic_records(self.device), wire.encode_batch(self.device, due[i:i + 4]),
                                    qos=1)
                for r in due[i:i + 4]:
                    sent_at[r["id"]] = now
            time.sleep(0.02)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.client.loop_stop()
        self.client.disconnect()


def test_sigkill_mid_stream_loses_and_duplicates_nothing(tmp_path, mosquitto):
    db = str(tmp_path / "crash.db")
    n = 400
    host = HostProcess(db, mosquitto.url)
    dev = ResendingDevice(mosquitto.url, "kiosk-09", n)
    try:
        dev.thread.start()
        deadline = time.monotonic() + 20
        while dev.n_acked() < n // 4:
            assert time.monotonic() < deadline, "the host acknowledged too little before the kill"
            time.sleep(0.01)
        os.kill(host.proc.pid, signal.SIGKILL)
        host.proc.wait(5)
        acked_at_kill = dev.n_acked()
        assert acked_at_kill < n, "the stream ended before the kill: nothing was tested"
        time.sleep(0.5)  # the device keeps publishing into the host's persistent session
        host = HostProcess(db, mosquitto.url)
        deadline = time.monotonic() + 40
        while dev.n_acked() < n:
            assert time.monotonic() < deadline, f"only {dev.n_acked()} of {n} records acknowledged"
            time.sleep(0.05)
        host.proc.send_signal(signal.SIGTERM)
        assert host.proc.wait(15) == 0
        assert any(line.startswith("tiesense host stopped") for line in host.lines), host.lines
    finally:
        dev.close()
        if host.proc.poll() is None:
            host.proc.kill()
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT instance_id, digest FROM records").fetchall()
    conn.close()
    sent = {r["id"]: record_digest(r) for r in dev.records}
    assert len(rows) == n and dict(rows) == sent  # every record once, with the content sent
    assert set(dev.acked) == set(sent)  # and every one acknowledged
    assert all(statuses <= {"stored", "duplicate"} for statuses in dev.acked.values())
    print(f"\nkilled after {acked_at_kill}/{n} acks; all {n} stored once and acknowledged")


def test_serve_refuses_a_shared_group_on_the_embedded_broker(tmp_path):
    p = run_cli("serve", "--db", str(tmp_path / "x.db"), "--shared-group", "g", "--port", str(free_port()))
    assert p.returncode == 1
    assert p.stderr.strip().splitlines() == [
        "tiesense: a shared group needs an external MQTT 5 broker such as Mosquitto (--broker): "
        "the embedded broker speaks MQTT 3.1.1 only"]


def test_serve_with_the_embedded_broker_stops_cleanly_on_sigint(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tiesense.cli", "serve", "--db", str(tmp_path / "e.db"),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        line = proc.stdout.readline().decode() if ready else ""
        assert line == f"tiesense host ready: broker mqtt://127.0.0.1:{port}, database {tmp_path / 'e.db'}\n"
        dev = Device(f"mqtt://127.0.0.1:{port}", "kiosk-03")
        r = make_record("kiosk-03", 1)
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
