"""Publishing a form version: newer than the published ones (as numbers), no question changing type, a
published version immutable; and `tiesense forms publish` with a host running, which takes records of the
new version at once and whose devices receive it, retained and signed for their site."""
from __future__ import annotations

import os
import queue

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner

from tiesense import cli, wire
from tiesense.ingest import IngestCore, Message
from tiesense.publishing import PublishError, publish
from tiesense.service import Host
from tiesense.store import Store
from tiesense.xlsform.instruments import source

FORM = {"id": "fw", "version": "9", "title": {"en": "Waves"}, "questions": [
    {"name": "n", "type": "integer", "required": False}, {"name": "c", "type": "select_one", "required": False,
                                                          "choices": [{"name": "a"}, {"name": "b"}]}]}


def version(v, **changes):
    f = dict(FORM, version=v)
    f["questions"] = [dict(q, **changes.get(q["name"], {})) for q in FORM["questions"]]
    return f


def test_a_new_version_must_be_newer_as_a_number_and_keep_each_questions_type(tmp_path):
    with Store(tmp_path / "h.db") as store:
        assert publish(store, FORM) is True
        assert publish(store, FORM) is False  # the same content again: nothing to do
        assert publish(store, version("10")) is True
        with pytest.raises(PublishError, match="not newer than the published version '10'"):
            publish(store, version("09"))
        with pytest.raises(PublishError, match="makes 'n' a text; version '10' has it as an integer: rename"):
            publish(store, version("11", n={"type": "text"}))
        with pytest.raises(PublishError, match="published with other content; a published version is immutable"):
            publish(store, version("10", c={"choices": [{"name": "a"}]}))
        assert publish(store, version("11"), wave="2") is True
        assert next(f for f in store.forms() if f["version"] == "11")["wave"] == "2"
        assert publish(store, dict(FORM, id="other", version="1")) is True  # another form: its own versions


def test_versions_compare_as_numbers_not_as_text(tmp_path):
    with Store(tmp_path / "h.db") as store:
        publish(store, version("10"))
        with pytest.raises(PublishError, match="not newer"):
            publish(store, version("9"))  # "9" sorts after "10" as text; as a number it is older


def form_reader(login, device: str, form_id: str) -> tuple[mqtt.Client, queue.Queue]:
    """A device's MQTT client reading the forms topic of ``form_id`` (started); the queue gets each payload."""
    got: queue.Queue = queue.Queue()
    dev = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device)
    login.configure(dev)
    dev.on_message = lambda c, u, m: got.put(m.payload)
    dev.on_connect = lambda c, u, f, rc, p: c.subscribe(wire.topic_form(form_id), 1)
    dev.connect(login.host, login.port)
    dev.loop_start()
    return dev, got


def test_publish_with_a_host_running_delivers_the_form_and_takes_its_records(tmp_path, wait_until, device_login):
    db = tmp_path / "park.db"
    with Host(db) as host:
        login = device_login(host, "kiosk-01", host.broker_url)
        dev, got = form_reader(login, "kiosk-01", "tp_visit")
        try:
            shipped = wire.decode_form(got.get(timeout=10))  # the built-in version, retained at the host's start
            out = CliRunner().invoke(cli.main, ["forms", "publish", str(source("tp_visit")), "--for", "kiosk",
                                                "--db", str(db), "--wave", "2", "--no-roster"])
            assert out.exit_code == 0, out.output
            assert "published: tp_visit version 2026113001, wave 2" in out.output and "delivered" in out.output
            site_key = wire.key_bytes(host.store.site_key("simulated"))  # Host.device_login's site
            form = wire.decode_form(got.get(timeout=10), "simulated", site_key)  # signed for the device's site
            assert (form["version"], form["wave"]) == ("2026113001", "2")
            assert wire.newer_version(form["version"], shipped["version"])
        finally:
            dev.loop_stop()
            dev.disconnect()
        # the running host checks records of the version published after it started
        answers = {"facility": "shared_lab", "visitor_org": "101", "purpose": "event", "met": ["nobody"],
                   "new_contact": "no", "satisfaction": "4"}
        rec = wire.make_record("kiosk-02", 1, "tp_visit", "2026113001", "2026-11-30T10:00:00Z",
                               "2026-11-30T10:01:00Z", answers, wire.new_instance_id(os.urandom))
        report = IngestCore(forms=host.forms).process(host.store, [Message(wire.topic_records("kiosk-02"),
                                                                           wire.encode_batch("kiosk-02", [rec]), 0.0)])
        assert report.stored == 1, report
        (visit,) = host.store.read(lambda c: c.execute("SELECT wave, visitor_org FROM visits").fetchall())
        assert tuple(visit) == ("2", 101)  # the record's wave answer is empty: the published version's wave
    again = CliRunner().invoke(cli.main, ["forms", "publish", str(source("tp_visit")), "--for", "kiosk",
                                          "--db", str(db), "--no-roster"])
    assert again.exit_code == 1 and "published with other content" in again.output  # no wave this time: changed
    no_target = CliRunner().invoke(cli.main, ["forms", "publish", str(source("tp_visit")), "--db", str(db)])
    assert no_target.exit_code == 1 and "--for kiosk or --for handheld" in no_target.output


def test_a_form_published_through_the_api_of_a_running_host_reaches_devices_signed(tmp_path, device_login):
    """tiesense serve --api: POST /api/forms hands the form to the host, which sends it retained and signed for
    the site (it went out unsigned, and devices holding the site key refused it)."""
    from fastapi.testclient import TestClient

    from tiesense import access
    from tiesense.service import web_app

    db = tmp_path / "park.db"
    with Host(db) as host:
        login = device_login(host, "kiosk-01", host.broker_url)
        token = access.create_token(host.store, "ada", "admin")
        newer = dict(FORM, id="tp_visit", version="2099010101")
        with TestClient(web_app(host)) as client:
            r = client.post("/api/forms", json=newer, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.text
        dev, got = form_reader(login, "kiosk-01", "tp_visit")
        try:
            retained = got.get(timeout=10)
        finally:
            dev.loop_stop()
            dev.disconnect()
        site_key = wire.key_bytes(host.store.site_key("simulated"))
        form = wire.decode_form(retained, "simulated", site_key)  # raises WireError if unsigned or forged
    assert form["version"] == "2099010101"
