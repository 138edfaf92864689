"""`tiesense command`: a real kiosk (firmware under micropython) carries out what the host sends."""
from __future__ import annotations

import sqlite_utils
from click.testing import CliRunner

from tiesense import cli
from tiesense.devices import SimDevice, stage
from tiesense.service import Host

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
            result = CliRunner().invoke(cli.main, ["command", "kiosk-03", "status", "--broker", mosquitto.url])
            assert result.exit_code == 0 and result.output.startswith("sent status to kiosk-03")
            dev.wait_for("UPLINK command status", timeout=10)
            wait_until(lambda: db["devices"].get("kiosk-03")["last_seen"] != first_seen, 10,
                       "a fresh status after the command")
            assert db["devices"].get("kiosk-03")["online"] == 1
        finally:
            dev.stop()


def test_command_errors_say_what_is_wrong():
    runner = CliRunner()
    down = runner.invoke(cli.main, ["command", "kiosk-03", "sync", "--broker", f"mqtt://127.0.0.1:{free_port()}"])
    assert down.exit_code == 1 and "cannot reach the broker" in down.output and "Traceback" not in down.output
    bad = runner.invoke(cli.main, ["command", "Kiosk 3", "sync"])
    assert bad.exit_code == 1 and "is not a device id" in bad.output
    unknown = runner.invoke(cli.main, ["command", "kiosk-03", "selfdestruct"])
    assert unknown.exit_code == 2 and "selfdestruct" in unknown.output


def test_a_command_without_the_hosts_login_is_refused_in_one_line(tmp_path):
    with Host(tmp_path / "h.db") as host:  # the embedded broker refuses anonymous clients
        result = CliRunner().invoke(cli.main, ["command", "kiosk-03", "sync", "--broker", host.broker_url])
    assert result.exit_code == 1 and "refused the login" in result.output and "--password-file" in result.output
    assert len(result.output.strip().splitlines()) == 1
