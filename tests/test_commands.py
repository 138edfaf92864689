"""`tiesense command`: a real kiosk (firmware under micropython) carries out what the host sends,
and nothing that anyone else sends: unsigned, forged and replayed commands are refused and counted."""
from __future__ import annotations

import json
import os
import time

import paho.mqtt.client as mqtt
import sqlite_utils
from click.testing import CliRunner

from tiesense import cli, wire
from tiesense.devices import SimDevice, stage
from tiesense.ingest import IngestCore, Message
from tiesense.service import Host
from tiesense.store import Store

from .conftest import free_port


def test_status_command_reaches_the_kiosk_and_its_answer_the_database(micropython, mosquitto, tmp_path, wait_until):
    db_path = tmp_path / "host.db"
    with Host(db_path, broker_url=mosquitto.url):
        root = stage(tmp_path / "kiosk", "kiosk-03", mosquitto.url, script=[["wait_ms", 20000]], status_s=3600)
        dev = SimDevice(root, micropython=micropython).start()
        try:
            dev.wait_for("UPLINK connected", timeout=15)
            db = sqlite_utils.Database(db_path)
            wait_until(lambda: db["devices"].count == 1, 10, "the boot status")
            first_seen = db["devices"].get("kiosk-03")["last_seen"]
            result = CliRunner().invoke(cli.main, ["command", "kiosk-03", "status", "--broker", mosquitto.url,
                                                   "--db", str(db_path)])
            assert result.exit_code == 0 and result.output.startswith("sent status to kiosk-03")
            dev.wait_for("UPLINK command status", timeout=10)
            wait_until(lambda: db["devices"].get("kiosk-03")["last_seen"] != first_seen, 10,
                       "a fresh status after the command")
            assert db["devices"].get("kiosk-03")["online"] == 1
        finally:
            dev.stop()


def _seen_online(db_path, device="kiosk-03"):
    """A host database in which ``device`` reported a version 2 status (so it has a connection nonce)."""
    with Store(db_path) as store:
        status = wire.encode_status(True, uptime_s=5, version=wire.V2, boot=1, clock=wire.CLOCK_NTP, nonce="00c0ffee")
        IngestCore().process(store, [Message(wire.topic_status(device), status, time.time())])


def test_command_errors_say_what_is_wrong(tmp_path):
    runner = CliRunner()
    db = str(tmp_path / "h.db")
    nodb = runner.invoke(cli.main, ["command", "kiosk-03", "sync", "--db", db])
    assert nodb.exit_code == 1 and "no database" in nodb.output
    _seen_online(db)
    down = runner.invoke(cli.main, ["command", "kiosk-03", "sync", "--db", db, "--broker",
                                    f"mqtt://127.0.0.1:{free_port()}"])
    assert down.exit_code == 1 and "cannot reach the broker" in down.output and "Traceback" not in down.output
    bad = runner.invoke(cli.main, ["command", "Kiosk 3", "sync", "--db", db, "--broker", "mqtt://127.0.0.1:1"])
    assert bad.exit_code == 1 and "has not reported" in bad.output
    unknown = runner.invoke(cli.main, ["command", "kiosk-03", "selfdestruct"])
    assert unknown.exit_code == 2 and "selfdestruct" in unknown.output
    stopped = runner.invoke(cli.main, ["command", "kiosk-03", "sync", "--db", db])
    assert stopped.exit_code == 1 and "tiesense serve --db" in stopped.output


def test_a_command_without_the_hosts_login_is_refused_in_one_line(tmp_path):
    db = tmp_path / "h.db"
    with Host(db) as host:  # the embedded broker refuses anonymous clients
        _seen_online(db)
        result = CliRunner().invoke(cli.main, ["command", "kiosk-03", "sync", "--db", str(db),
                                               "--broker", host.broker_url])
    assert result.exit_code == 1 and "refused the login" in result.output and "--password-file" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_the_embedded_hosts_signed_command_is_obeyed_by_a_provisioned_kiosk(micropython, tmp_path, wait_until):
    db = tmp_path / "park.db"
    with Host(db) as host:
        cfg = host.device_login("kiosk-03").site_config
        secrets = {k: cfg[k] for k in ("mqtt_user", "mqtt_password", "device_key", "site", "site_key")}
        root = stage(tmp_path / "kiosk", "kiosk-03", host.broker_url, script=[["wait_ms", 20000]], status_s=3600,
                     **secrets)
        dev = SimDevice(root, micropython=micropython).start()
        try:
            wait_until(lambda: [d for d in Store(db).devices() if d.get("nonce")], 15, "the kiosk's status")
            # no --broker: the running host's embedded broker login, read from beside the database
            result = CliRunner().invoke(cli.main, ["command", "kiosk-03", "identify", "--db", str(db)])
            assert result.exit_code == 0, result.output
            dev.wait_for("UPLINK command identify", timeout=10)
            assert "UPLINK refused" not in dev.read_output()
        finally:
            dev.stop()
    assert not (tmp_path / "park.db.broker-login").exists(), "the host's login outlived the host"


def test_unsigned_forged_replayed_and_flooding_commands_do_nothing(micropython, mosquitto, tmp_path, wait_until):
    # An open broker (the worst case: anyone may publish on the kiosk's command topic); the kiosk has a key.
    key = os.urandom(32)
    root = stage(tmp_path / "kiosk", "kiosk-04", mosquitto.url, script=[["wait_ms", 30000]], status_s=3600,
                 device_key=key.hex())
    status = {}
    spy = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="spy")
    spy.on_message = lambda c, u, m: status.update(json.loads(m.payload)) if m.payload else None
    spy.connect("127.0.0.1", mosquitto.port)
    spy.subscribe(wire.topic_status("kiosk-04"), 1)
    spy.loop_start()
    dev = SimDevice(root, micropython=micropython).start()
    try:
        wait_until(lambda: status.get("nonce"), 15, "the kiosk's status with its nonce")
        nonce = status["nonce"]
        t = int(time.time())

        def send(payload):
            spy.publish(wire.topic_command("kiosk-04"), payload, qos=1).wait_for_publish(5)

        send(wire.encode_command("reboot", "a1"))  # version 1: unsigned
        send(wire.encode_command("reboot", "a2", device="kiosk-04", key=os.urandom(32), nonce=nonce, t=t))  # forged
        send(wire.encode_command("reboot", "a3", device="kiosk-04", key=key, nonce="0badf00d", t=t))  # old nonce
        send(wire.encode_command("status", "a4", device="kiosk-04", key=key, nonce=nonce, t=t))  # genuine
        wait_until(lambda: status.get("refused", 0) >= 3, 10, "three refusals in the status")
        assert "UPLINK command status" in dev.read_output()
        # a flood of genuine commands: the first few are carried out, the rest refused
        for i in range(12):
            send(wire.encode_command("identify", f"f{i}", device="kiosk-04", key=key, nonce=nonce, t=t))
        send(wire.encode_command("status", "last", device="kiosk-04", key=key, nonce=nonce, t=t))
        dev.wait_for("command flood", timeout=10)
        out = dev.read_output()
        assert "UPLINK command reboot" not in out and "Traceback" not in out
        assert dev.proc.poll() is None, "the kiosk stopped"
        assert out.count("UPLINK command identify") <= 4
    finally:
        dev.stop()
        spy.loop_stop()
        spy.disconnect()
