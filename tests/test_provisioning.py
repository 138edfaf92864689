"""Device identity: provisioned logins and the ACL Mosquitto enforces with the files tiesense writes.

A real Mosquitto reads the password and ACL files; the host, paho "devices" and
the real firmware under micropython log in with what provisioning gave them.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner

from tiesense import cli, wire
from tiesense.broker_address import BrokerAddress
from tiesense.devices import SimDevice, read_log_state, stage
from tiesense.provisioning import (HOST_USER, ProvisioningError, host_login, mosquitto_password_hash, provision,
                                   revoke, write_broker_files)
from tiesense.service import Host
from tiesense.store import Store

from .conftest import require_tool


def test_the_password_hash_is_the_one_mosquitto_passwd_makes(tmp_path):
    passwd = require_tool("mosquitto_passwd", "apt-get install -y mosquitto")
    subprocess.run([passwd, "-c", "-b", str(tmp_path / "pw"), "someone", "p4ss wörd"], check=True)
    line = (tmp_path / "pw").read_text().strip()
    _, _, iterations, salt, _ = line.split(":", 1)[1].split("$")
    import base64

    assert mosquitto_password_hash("p4ss wörd", base64.b64decode(salt), int(iterations)) == line.split(":", 1)[1]


class Secured:
    """The host's database with the host and two devices provisioned, and a Mosquitto enforcing them."""

    def __init__(self, tmp_path, mosquitto_factory):
        self.store = Store(tmp_path / "park.db")
        self.host_password = host_login(self.store)
        self.devices = {n: provision(self.store, n, "lobby-a", broker_host="127.0.0.1") for n in ("kiosk-05", "kiosk-06")}
        self.files = tmp_path / "mosquitto"
        passwords, acl = write_broker_files(self.store, self.files)
        self.broker = mosquitto_factory(f"allow_anonymous false\npassword_file {passwords}\nacl_file {acl}\n")

    def address(self, user, password):
        return BrokerAddress.parse(f"mqtt://{user}@127.0.0.1:{self.broker.port}", password=password, environ={})

    def device_address(self, name):
        return self.address(name, self.devices[name].password)

    def host_address(self):
        return self.address(HOST_USER, self.host_password)


@pytest.fixture
def secured(tmp_path, mosquitto_factory):
    s = Secured(tmp_path, mosquitto_factory)
    yield s
    s.store.close()


def connect_result(address, client_id):
    """The CONNACK reason a client gets with ``address``'s login."""
    got: queue.Queue = queue.Queue()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    c.on_connect = lambda cl, u, f, rc, p: got.put(rc)
    address.configure(c)
    c.connect(address.host, address.port)
    c.loop_start()
    try:
        return got.get(timeout=10)
    finally:
        c.loop_stop()
        c.disconnect()


def test_each_device_does_only_its_own_business(secured, tmp_path, mqtt_device, visit, wait_until):
    with Host(tmp_path / "host.db", broker_url=secured.host_address()) as host:
        k5 = mqtt_device(secured.device_address("kiosk-05"), "kiosk-05", client_id="kiosk-05")
        k6 = mqtt_device(secured.device_address("kiosk-06"), "kiosk-06", client_id="kiosk-06")
        # kiosk-06 also listens on kiosk-05's acks and commands: the ACL must not deliver them
        # (Mosquitto grants the SUBSCRIBE either way, and filters what it delivers)
        snooped: list = []
        k6.client.message_callback_add(wire.topic_ack("kiosk-05"), lambda c, u, m: snooped.append(m.topic))
        k6.subscribed.clear()
        k6.client.subscribe([(wire.topic_ack("kiosk-05"), 1), (wire.topic_command("kiosk-05"), 1)])
        assert k6.subscribed.wait(5)
        # kiosk-05 reads the forms, as every device does
        forms: list = []
        k5.client.message_callback_add(wire.SUB_FORMS, lambda c, u, m: forms.append(wire.decode_form(m.payload)))
        k5.subscribed.clear()
        k5.client.subscribe(wire.SUB_FORMS, qos=1)
        assert k5.subscribed.wait(5)
        own = visit("kiosk-05", 1)
        k5.send([own])
        wait_until(lambda: k5.n_acked() == 1, 10, "kiosk-05's own record to be acknowledged")
        # kiosk-06 writes as kiosk-05, and publishes a retained form: Mosquitto drops both
        forged = visit("kiosk-05", 2)
        k6.publish(wire.encode_batch("kiosk-05", [forged]), wire.topic_records("kiosk-05"))
        k6.publish(wire.encode_form({"id": "tp_visit", "version": "9999999999", "questions": []}),
                   wire.topic_form("tp_visit"))
        marker = visit("kiosk-06", 1)  # something allowed after them, to know they had their chance
        k6.send([marker])
        wait_until(lambda: k6.n_acked() == 1, 10, "kiosk-06's own record to be acknowledged")
        assert host.store.record(forged["id"]) is None and host.store.record(own["id"]) == own
        assert host.stats["quarantined"] == 0 and snooped == []
        wait_until(lambda: forms, 10, "the host's retained forms to reach kiosk-05")
        assert "9999999999" not in {f["version"] for f in forms}, "a device's form reached another device"
        assert {f["id"] for f in forms} <= {"tp_visit", "fi_partner", "fi_interview", "tp_presence"}


def test_strangers_and_revoked_devices_are_refused(secured, wait_until):
    assert connect_result(secured.address("kiosk-05", "guess"), "x1").is_failure
    anonymous = BrokerAddress.parse(f"mqtt://127.0.0.1:{secured.broker.port}", environ={})
    assert connect_result(anonymous, "x2").is_failure
    assert not connect_result(secured.device_address("kiosk-05"), "kiosk-05").is_failure
    revoke(secured.store, "kiosk-05")
    write_broker_files(secured.store, secured.files)
    secured.broker.proc.send_signal(signal.SIGHUP)  # Mosquitto rereads its password and ACL files
    wait_until(lambda: connect_result(secured.device_address("kiosk-05"), "kiosk-05").is_failure, 10,
               "the revoked device to be refused after the reload")
    assert not connect_result(secured.device_address("kiosk-06"), "kiosk-06").is_failure


def test_the_real_firmware_logs_in_with_its_provisioned_site_json(secured, tmp_path, micropython, survey_keys,
                                                                  wait_until):
    device = secured.devices["kiosk-05"]
    config = {k: v for k, v in device.site_config.items() if k not in ("device", "role", "broker_host", "broker_port")}
    root = stage(tmp_path / "kiosk", "kiosk-05", secured.broker.url, script=survey_keys(1, 1, 1), thanks_ms=0,
                 **config)
    site = json.loads((root / "site.json").read_text())
    assert site["mqtt_user"] == "kiosk-05" and site["device_key"] == device.key
    # the host serves the database the device was provisioned in: it holds the key the records are signed with
    with Host(tmp_path / "park.db", broker_url=secured.host_address()) as host:
        dev = SimDevice(root, micropython=micropython).start()
        try:
            wait_until(lambda: host.stats["stored"] == 1, 30, "the kiosk's survey in the database")
            wait_until(lambda: read_log_state(root).pending == [], 15, "the kiosk log to drain")
            out = dev.read_output()
            assert "unknown" not in out.lower() and "Traceback" not in out
        finally:
            dev.stop()


def test_provisioning_refuses_what_it_cannot_do(tmp_path):
    with Store(tmp_path / "p.db") as store:
        provision(store, "kiosk-01", "a", broker_host="h")
        for name, words in (("Kiosk 1", "not a device id"), (HOST_USER, "host's own login"),
                            ("kiosk-01", "already provisioned")):
            with pytest.raises(ProvisioningError, match=words):
                provision(store, name, "a", broker_host="h")
        with pytest.raises(ProvisioningError, match="never provisioned"):
            revoke(store, "kiosk-99")
        revoke(store, "kiosk-01")
        with pytest.raises(ProvisioningError, match="revoked already"):
            revoke(store, "kiosk-01")
        again = provision(store, "kiosk-01", "b", broker_host="h")  # a revoked name may come back, with new secrets
        assert store.identity("kiosk-01")["site"] == "b" and store.identity("kiosk-01")["key"] == again.key
        assert host_login(store) is not None and host_login(store) is None  # the host's password is made once
        assert "password" not in repr(again) and again.password not in repr(again)


def test_cli_provision_list_revoke(tmp_path):
    db, out = str(tmp_path / "park.db"), tmp_path / "prov"
    run = CliRunner().invoke
    first = run(cli.main, ["devices", "provision", "kiosk-07", "--site", "lab-2", "--broker-host", "10.0.0.2",
                           "--db", db, "--out", str(out)])
    assert first.exit_code == 0, first.output
    site = out / "devices" / "kiosk-07" / "site.json"
    config = json.loads(site.read_text())
    assert config["device"] == config["mqtt_user"] == "kiosk-07" and config["broker_host"] == "10.0.0.2"
    for secret in (site, out / "host-password", out / "mosquitto" / "passwords"):
        assert oct(os.stat(secret).st_mode & 0o777) == "0o600", secret
    assert config["mqtt_password"] not in first.output and "--password-file" in first.output
    passwords = (out / "mosquitto" / "passwords").read_text()
    assert passwords.startswith("kiosk-07:$7$101$") and f"\n{HOST_USER}:$7$" in passwords
    again = run(cli.main, ["devices", "provision", "kiosk-07", "--site", "lab-2", "--broker-host", "h", "--db", db,
                           "--out", str(out)])
    assert again.exit_code == 1 and "already provisioned" in again.output
    listed = run(cli.main, ["devices", "list", "--db", db])
    assert listed.output.startswith("kiosk-07") and "lab-2" in listed.output
    gone = run(cli.main, ["devices", "revoke", "kiosk-07", "--db", db, "--out", str(out)])
    assert gone.exit_code == 0 and "reload Mosquitto" in gone.output
    assert "kiosk-07" not in (out / "mosquitto" / "passwords").read_text()
    assert run(cli.main, ["devices", "list", "--db", db]).output.startswith("no devices provisioned")
    assert "revoked" in run(cli.main, ["devices", "list", "--db", db, "--all"]).output


def test_nothing_in_the_broker_files_is_a_password(tmp_path):
    with Store(tmp_path / "p.db") as store:
        host_password = host_login(store)
        dev = provision(store, "kiosk-02", "a", broker_host="h")
        passwords, acl = write_broker_files(store, tmp_path / "m")
    text = passwords.read_text() + acl.read_text()
    assert host_password not in text and dev.password not in text and dev.key not in text
