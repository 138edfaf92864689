"""USB serial offload end to end: the real firmware under micropython on one end of a socat pty pair,
``tiesense pull`` (pyserial) on the other, one SQLite file for provisioning and records.

The device is provisioned with a key and its broker is unreachable (mqtt://127.0.0.1:9), so its
records pile up offline, as on a handheld far from Wi-Fi; ``fill_log`` gives it the backlog in a
second through its own log.py.
"""
from __future__ import annotations

import json
import subprocess
import time

import pytest
import sqlite_utils
from click.testing import CliRunner

from tiesense import cli, wire
from tiesense.devices import SimDevice, fill_log, read_log_state, stage
from tiesense.ingest import IngestCore, Message
from tiesense.ingest.serial import LinkLost, SerialLink, SerialOffload, open_port
from tiesense.provisioning import provision
from tiesense.store import Store

from .conftest import require_tool

DEVICE = "hand-01"


class Socat:
    """``socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B``: a null-modem cable; stop() pulls it out."""

    def __init__(self, folder):
        self.exe = require_tool("socat", "apt-get install -y socat")
        self.a = folder / "dev-tty"  # the device's end
        self.b = folder / "host-tty"  # the laptop's end
        self.proc = None

    def start(self) -> "Socat":
        self.proc = subprocess.Popen([self.exe, f"pty,raw,echo=0,link={self.a}", f"pty,raw,echo=0,link={self.b}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while not (self.a.exists() and self.b.exists()):
            assert time.monotonic() < deadline, "socat made no ptys"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        for p in (self.a, self.b):  # socat removes its links on SIGTERM; make sure, so start() waits for new ones
            if p.is_symlink():
                p.unlink()


@pytest.fixture
def cable(tmp_path):
    s = Socat(tmp_path).start()
    yield s
    s.stop()


@pytest.fixture
def handheld(tmp_path, cable, micropython):
    """``handheld(n)``: a provisioned device holding n signed records, running, listening on the cable."""
    db_path = tmp_path / "host.db"
    devs = []

    def make(n: int, **config):
        with Store(db_path) as store:
            site = provision(store, DEVICE, "field", broker_host="127.0.0.1", broker_port=9).site_config
        keys = {k: site[k] for k in ("device_key", "site_key", "site", "mqtt_user", "mqtt_password")}
        root = stage(tmp_path / "dev", DEVICE, "mqtt://127.0.0.1:9", offload=True, serial_port=str(cable.a),
                     backoff_max_s=60, **keys, **config)
        assert fill_log(root, n, micropython) == n
        dev = SimDevice(root, micropython=micropython).start()
        devs.append(dev)
        dev.wait_for("OFFLOAD listening", timeout=10)
        return root, dev, db_path

    yield make
    for d in devs:
        d.stop()


def stored(db_path):
    db = sqlite_utils.Database(db_path)
    return list(db.query("select seq, instance_id from records where device = ? order by seq", [DEVICE]))


def test_pull_lists_then_stores_every_record_once_and_the_device_frees_them(handheld, cable):
    root, dev, db_path = handheld(60)
    runner = CliRunner()
    listed = runner.invoke(cli.main, ["pull", "--port", str(cable.b), "--db", str(db_path), "--list"])
    assert listed.exit_code == 0, listed.output
    assert f"{DEVICE} (kiosk, firmware" in listed.output and "signed): 60 records waiting, seq 1..60" in listed.output
    assert len(read_log_state(root).pending) == 60, "--list took something"
    elsewhere = db_path.parent / "not-here.db"
    assert runner.invoke(cli.main, ["pull", "--port", str(cable.b), "--db", str(elsewhere), "--list"]).exit_code == 0
    assert not elsewhere.exists(), "--list created a database"

    pulled = runner.invoke(cli.main, ["pull", "--port", str(cable.b), "--db", str(db_path), "--chunk-bytes", "4096"])
    assert pulled.exit_code == 0, pulled.output
    last = pulled.output.strip().splitlines()[-1]
    assert last.startswith(f"pulled 60 records from {DEVICE} in ") and "records/s" in last, last
    assert "60 stored, 0 duplicates, 0 conflicts, 0 quarantined; 0 left on the device" in last
    rows = stored(db_path)
    assert [r["seq"] for r in rows] == list(range(1, 61))
    assert len({r["instance_id"] for r in rows}) == 60
    assert sqlite_utils.Database(db_path)["quarantine"].count == 0
    assert read_log_state(root).pending == []
    assert "Traceback" not in dev.read_output()


class CutAfterFirstCommit(IngestCore):
    """The ingest core, which pulls the cable right after its first batch is committed (before any ack
    goes back), and keeps every payload it saw."""

    def __init__(self, store, cable):
        from tiesense.ingest.serial import _registry

        super().__init__(_registry(store))
        self.cable = cable
        self.payloads = []

    def process(self, store, messages):
        messages = list(messages)
        report = super().process(store, messages)
        self.payloads += [m.payload for m in messages]
        if len(self.payloads) == 1:
            self.cable.stop()
        return report


def test_cable_pulled_mid_transfer_resumes_and_stores_each_record_once_also_when_mqtt_brings_them_again(
        handheld, cable):
    root, dev, db_path = handheld(40)
    with Store(db_path) as store:
        ser = open_port(str(cable.b))
        core = CutAfterFirstCommit(store, cable)
        with pytest.raises(LinkLost):
            SerialOffload(ser, store, core=core, timeout=1.0).pull(chunk_bytes=1024)
        ser.close()
    first = len(stored(db_path))
    assert 0 < first < 40, "the cut came after the first chunk was stored"
    assert len(read_log_state(root).pending) == 40, "a record left the device without an ack"

    cable.start()  # plugged in again: the device reopens its end by itself
    dev.wait_for("OFFLOAD listening", timeout=10, count=2)
    again = CliRunner().invoke(cli.main, ["pull", "--port", str(cable.b), "--db", str(db_path)])
    assert again.exit_code == 0, again.output
    assert f"{40 - first} stored, {first} duplicates, 0 conflicts, 0 quarantined; 0 left" in again.output
    rows = stored(db_path)
    assert [r["seq"] for r in rows] == list(range(1, 41))
    assert read_log_state(root).pending == []

    # The same records arriving later over MQTT (e.g. sent before the pull, their acks lost): stored once.
    with Store(db_path) as store:
        topic = wire.topic_records(DEVICE)
        report = IngestCore().process(store, [Message(topic, p, time.time()) for p in core.payloads])
    assert report.stored == 0 and report.duplicates == first
    assert len(stored(db_path)) == 40


class Garbling:
    """A pyserial port that damages the first RECORDS frame it reads and the first ACK frame it writes."""

    MARK = b'"records":['

    def __init__(self, ser):
        self.ser = ser
        self.damaged_in = self.damaged_out = False
        self._seen = b""

    @property
    def in_waiting(self):
        return self.ser.in_waiting

    def read(self, n):
        data = self.ser.read(n)
        if self.damaged_in or not data:
            return data
        self._seen = self._seen[-16:] + data
        i = self._seen.find(self.MARK)
        if i < 0:
            return data
        self.damaged_in = True  # flip the records list's "[" (inside this chunk: the mark just completed)
        j = i + len(self.MARK) - 1 - (len(self._seen) - len(data))
        return data[:j] + b"{" + data[j + 1:]

    def write(self, data):
        if not self.damaged_out and data.startswith(b"ACK "):
            self.damaged_out = True
            data = data[:20] + bytes([data[20] ^ 0x01]) + data[21:]
        return self.ser.write(data)


def test_damaged_frames_are_sent_again_never_stored(handheld, cable):
    root, dev, db_path = handheld(30)
    ser = open_port(str(cable.b))
    port = Garbling(ser)
    try:
        with Store(db_path) as store:
            off = SerialOffload(SerialLink(port, timeout=1.0), store)
            report = off.pull(chunk_bytes=2048)
    finally:
        ser.close()
    assert port.damaged_in and port.damaged_out
    assert report.retries >= 2, report
    assert (report.stored, report.duplicates, report.quarantined, report.remaining) == (30, 0, 0, 0), report
    assert sqlite_utils.Database(db_path)["quarantine"].count == 0
    assert [r["seq"] for r in stored(db_path)] == list(range(1, 31))
    assert read_log_state(root).pending == []


def test_forged_ack_over_the_cable_deletes_nothing(handheld, cable):
    root, dev, db_path = handheld(5)
    ser = open_port(str(cable.b))
    try:
        link = SerialLink(ser, timeout=1.0)
        link.drain()
        verb, payload = link.request("GET", b"0 8192")
        assert verb == "RECORDS"
        _, device, records = wire.decode_records_message(payload)
        assert device == DEVICE and [r[0] for r in records] == [1, 2, 3, 4, 5]
        entries = [(r[0], r[1], wire.STORED) for r in records]
        forged = wire.encode_acks(entries, wire.DEVICE_BATCH_BYTES, wire.V2, DEVICE, bytes(32), int(time.time()))
        unsigned_v1 = wire.encode_acks(entries, wire.DEVICE_BATCH_BYTES)
        for ack in forged + unsigned_v1:
            verb, why = link.request("ACK", ack)
            assert verb == "REFUSED", (verb, why)
        verb, payload = link.request("LIST")
        assert json.loads(payload)["queue"] == 5
    finally:
        ser.close()
    assert read_log_state(root).pending == [1, 2, 3, 4, 5]
    assert dev.read_output().count("OFFLOAD refused ack") == 2
    assert stored(db_path) == []


def test_records_pulled_then_sent_over_mqtt_are_stored_once(handheld, cable, micropython, tmp_path, wait_until):
    """The cable is cut after the host stored a chunk but before the device heard: the device later
    meets the broker and sends everything over MQTT to the real host; the chunk is a duplicate there."""
    from urllib.parse import urlparse

    from tiesense.service import Host

    root, dev, db_path = handheld(20)
    with Store(db_path) as store:
        ser = open_port(str(cable.b))
        with pytest.raises(LinkLost):
            SerialOffload(ser, store, core=CutAfterFirstCommit(store, cable), timeout=1.0).pull(chunk_bytes=1024)
        ser.close()
    first = [r["instance_id"] for r in stored(db_path)]
    assert 0 < len(first) < 20 and len(read_log_state(root).pending) == 20
    dev.stop()
    with Host(db_path) as host:  # the embedded broker lets in the device with the login it was provisioned with
        site = json.loads((root / "site.json").read_text())
        u = urlparse(host.broker_url)
        site.update(broker_host=u.hostname, broker_port=u.port, offload=False)
        (root / "site.json").write_text(json.dumps(site))
        online = SimDevice(root, micropython=micropython).start()
        try:
            wait_until(lambda: read_log_state(root).pending == [], 30, "the device to drain over MQTT")
        finally:
            online.stop()
    out = online.read_output()
    assert "UPLINK sent seqs=1," in out and "UPLINK acked" in out, out[-2000:]
    rows = stored(db_path)
    assert [r["seq"] for r in rows] == list(range(1, 21)), "each record stored once across both transports"
    assert [r["instance_id"] for r in rows][:len(first)] == first
    assert sqlite_utils.Database(db_path)["quarantine"].count == 0
