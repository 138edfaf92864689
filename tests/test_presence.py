"""Sensing as data: the real kiosk (firmware under micropython) logs presence and response counts per
interval as tp_presence records, which reach the host like surveys; `tiesense presence` turns them into
footfall and response rate per kiosk and hour."""
from __future__ import annotations

import re

from click.testing import CliRunner

from tiesense import cli, wire
from tiesense.devices import SimDevice, stage
from tiesense.forms import builtin_form
from tiesense.presence import hourly
from tiesense.service import Host
from tiesense.store import Store

from .conftest import ROOT


def test_the_kiosks_presence_fields_are_the_instruments():
    src = (ROOT / "firmware" / "kiosk.py").read_text()
    fields = re.search(r"PRESENCE_FIELDS = \(([^)]*)\)", src).group(1)
    version = re.search(r'PRESENCE_VERSION = "(\w+)"', src).group(1)
    form = builtin_form("tp_presence")
    assert [f.strip().strip('"') for f in fields.split(",")] == wire.answer_fields(form)
    assert version == form["version"]


def test_presence_and_responses_reach_the_host_per_interval(micropython, tmp_path, survey_keys, wait_until):
    db = tmp_path / "park.db"
    # three people come by; one answers, one walks away mid-survey (idle), one does not stop
    script = [["presence"], ["wait_ms", 300], ["presence"], ["key", "ok"], ["key", "down"], ["key", "ok"],
              ["key", "down"], ["key", "ok"], ["key", "up"], ["key", "ok"], ["wait_ms", 300],
              ["presence"], ["key", "ok"], ["wait_ms", 2500], ["wait_ms", 2500]]
    with Host(db) as host:
        cfg = host.device_login("kiosk-41").site_config
        secrets = {k: cfg[k] for k in ("mqtt_user", "mqtt_password", "device_key", "site", "site_key")}
        root = stage(tmp_path / "kiosk", "kiosk-41", host.broker_url, script=script, thanks_ms=0,
                     presence_interval_s=1, survey_idle_s=1, **secrets)
        dev = SimDevice(root, micropython=micropython).start()
        try:
            def totals():
                with Store(db) as s:
                    hours = s.read(hourly, "kiosk-41")
                return hours if sum(h.abandoned for h in hours) >= 1 and sum(h.completed for h in hours) >= 1 \
                    else None

            try:
                hours = wait_until(totals, 30, "the presence records of the intervals with something in them")
            except AssertionError:
                raise AssertionError(dev.read_output()[-3000:])
        finally:
            dev.stop()
        assert host.stats["quarantined"] == 0
    assert sum(h.approaches for h in hours) == 3
    assert (sum(h.started for h in hours), sum(h.completed for h in hours), sum(h.abandoned for h in hours)) == \
        (2, 1, 1)
    with Store(db) as s:
        rows = s.rows("records", "form = 'tp_presence'")
        assert rows and all(r["wire"] == 2 and r["clock"] == "ntp" for r in rows), "signed v2, synced clock"
        assert len(s.rows("records", "form = 'tp_visit'")) == 1
    out = CliRunner().invoke(cli.main, ["presence", "--db", str(db)])
    assert out.exit_code == 0, out.output
    lines = out.output.strip().splitlines()[1:]
    assert len(lines) == len(hours)
    for line, h in zip(lines, hours):  # one row per kiosk and hour, with its response rate
        assert line.split()[:3] == ["kiosk-41", h.hour, str(h.approaches)]
        assert line.split()[-1] == (f"{h.response_rate:.0%}" if h.response_rate is not None else "-")


def test_presence_without_records_says_what_to_expect(tmp_path):
    db = tmp_path / "park.db"
    Store(db).close()
    out = CliRunner().invoke(cli.main, ["presence", "--db", str(db)])
    assert out.exit_code == 1 and "no presence records" in out.output and "presence_interval_s" in out.output


def test_per_kiosk_and_park_totals_are_the_hourly_rows_summed(tmp_path):
    import os

    from tiesense.ingest import IngestCore, Message
    from tiesense.presence import kiosks, park_hourly
    from tiesense.store.analysable import Filters

    def rec(device, seq, start, counts):
        r = wire.make_record_v2("tp_presence", "2026113001", start, 300, 1, seq * 300, wire.CLOCK_NTP,
                                [300, *counts], wire.new_record_id(os.urandom))
        return wire.sign_record(r, seq, device, None)

    # two kiosks; 1795510200 is 2026-11-24T08:50Z, 1795514400 10:00Z: (approaches, dwell_s, started, completed, abandoned)
    sent = {"kiosk-01": [(1795510200, [8, 40, 3, 2, 1]), (1795510500, [2, 10, 1, 1, 0]),
                         (1795514400, [4, 20, 1, 1, 0])],
            "kiosk-02": [(1795510200, [6, 30, 2, 0, 2])]}
    with Store(tmp_path / "p.db") as store:
        for device, parts in sent.items():
            batch = [rec(device, i + 1, t, c) for i, (t, c) in enumerate(parts)]
            IngestCore().process(store, [Message(wire.topic_records(device),
                                                 wire.encode_batch_from_encoded(device, batch, 2), 1795520000.0)])
        hours = store.read(hourly)
        per_kiosk = store.read(kiosks)
        park = store.read(park_hourly)
        later = store.read(kiosks, None, Filters(since="2026-11-24T09:30:00Z"))
        one = store.read(kiosks, "kiosk-02")
    assert [(h.device, h.hour, h.approaches, h.intervals) for h in hours] == [
        ("kiosk-01", "2026-11-24T08:00:00Z", 10, 2), ("kiosk-01", "2026-11-24T10:00:00Z", 4, 1),
        ("kiosk-02", "2026-11-24T08:00:00Z", 6, 1)]
    for k in per_kiosk:  # each kiosk's totals are its hours summed
        mine = [h for h in hours if h.device == k.device]
        for field in ("approaches", "dwell_s", "started", "completed", "abandoned", "intervals"):
            assert getattr(k, field) == sum(getattr(h, field) for h in mine), (k.device, field)
        assert (k.first, k.last) == (mine[0].hour, mine[-1].hour)
    assert [(k.device, k.approaches, k.completed, k.response_rate) for k in per_kiosk] == [
        ("kiosk-01", 14, 4, 4 / 14), ("kiosk-02", 6, 0, 0.0)]
    # the park's series: every kiosk summed per hour
    assert [(h.device, h.hour, h.approaches, h.completed) for h in park] == [
        (None, "2026-11-24T08:00:00Z", 16, 3), (None, "2026-11-24T10:00:00Z", 4, 1)]
    assert [(k.device, k.approaches) for k in later] == [("kiosk-01", 4)]
    assert [(k.device, k.abandoned) for k in one] == [("kiosk-02", 2)]
