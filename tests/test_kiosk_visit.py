"""The kiosk: the shipped visit instrument (the XLSForm, compiled with its Korean glyphs) answered on the real
firmware's four keys under micropython, sent to the real host, stored as visits, and read as check-ins: two
organisations at the same kiosk in the same hour are co-present.
"""
from __future__ import annotations

import sqlite3

from click.testing import CliRunner

from tiesense import cli
from tiesense.devices import SimDevice, read_log_state, stage
from tiesense.service import Host
from tiesense.store import Store
from tiesense.xlsform.instruments import compile_instrument


def key(name, times=1):
    return [["key", name]] * times


def pick(position):
    """The choice at ``position`` (1-based) of a select_one: the first down lands on the first."""
    return key("down", position) + key("ok")


def visit(org_position):
    """ok starts; ok past the consent notice; the first facility; the organisation at ``org_position`` of the
    roster list; the first purpose; met "Nobody in particular" (up from nothing is Done, up again the last
    choice) then Done; no new contact; satisfaction 4."""
    return (key("ok") + key("ok") + pick(1) + pick(org_position) + pick(1) + key("up", 2) + key("ok")
            + key("down") + key("ok") + pick(2) + pick(4))


def rows(db, sql):
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql)]


def test_visits_on_the_shipped_form_land_as_rows_and_check_ins(tmp_path, micropython, wait_until, device_login):
    form = compile_instrument("tp_visit")
    assert form.form.get("glyphs"), "the Korean labels come with their glyphs"
    db = tmp_path / "park.db"
    with Store(db) as store:
        store.publish_form(form.form)  # the host checks the kiosk's records against it
    with Host(db) as host:
        login = device_login(host, "kiosk-01", host.broker_url)
        root = tmp_path / "kiosk"
        (root / "forms").mkdir(parents=True)
        (root / "forms" / "tp_visit.json").write_bytes(form.to_bytes())  # staged as a kiosk gets it
        stage(root, "kiosk-01", host.broker_url, script=visit(1) + [["wait_ms", 500]] + visit(2) + [["wait_ms", 500]], thanks_ms=0,
              status_s=1, mqtt_user=login.username, mqtt_password=login.password, device_key=login.key)
        dev = SimDevice(root, micropython=micropython).start()
        try:
            wait_until(lambda: len(rows(db, "SELECT * FROM visits")) == 2, 60, "both visits stored")
            wait_until(lambda: read_log_state(root).pending == [], 15, "the kiosk's log to drain")
        finally:
            dev.stop()
    assert "Traceback" not in dev.read_output()
    visits = rows(db, 'SELECT * FROM visits ORDER BY "end"')
    assert [(v["form_version"], v["facility"], v["visitor_org"], v["purpose"]) for v in visits] == [
        (form.form["version"], "shared_lab", 101, "use_facility"), (form.form["version"], "shared_lab", 102,
                                                                     "use_facility")]
    assert [(v["met"], v["met_nobody"], v["new_contact"], v["satisfaction"]) for v in visits] == [
        ("[]", 1, "no", 4)] * 2
    done = CliRunner().invoke(cli.main, ["ties", "recompute", "--db", str(db), "--replicates", "20"])
    assert done.exit_code == 0 and "1 co-present pairs" in done.output, done.output
    (pair,) = rows(db, "SELECT * FROM tie_estimates WHERE estimator = 'copresence'")
    assert (pair["u"], pair["v"], pair["observations"]) == (101, 102, 1)
