"""`tiesense forms compile`: the library's compiler behind a command (click's runner)."""
from __future__ import annotations

import json

from click.testing import CliRunner

from tiesense import cli, wire

from .xlsforms import write_xlsform

SURVEY = [{"type": "select_one yn", "name": "ok", "label": "OK?", "required": "yes", "appearance": "map"},
          {"type": "text", "name": "why", "label": "Why?", "relevant": "${ok} = 'no'"}]
CHOICES = [{"list_name": "yn", "name": "yes", "label": "Yes"}, {"list_name": "yn", "name": "no", "label": "No"}]
SETTINGS = {"form_id": "cli_form", "version": "7"}


def test_compile_for_the_handheld_writes_the_form_and_reports_its_size(tmp_path):
    src = write_xlsform(tmp_path / "f.xlsx", SURVEY, CHOICES, SETTINGS)
    out = tmp_path / "f.json"
    r = CliRunner().invoke(cli.main, ["forms", "compile", str(src), "--for", "handheld", "--out", str(out)])
    assert r.exit_code == 0, r.output
    form = json.loads(out.read_bytes())
    assert out.read_bytes() == wire.encode(form)
    assert [q["name"] for q in form["questions"]] == ["ok", "why"]
    assert f"{len(out.read_bytes())} bytes on the device" in r.output
    assert "warning: survey row 2, column 'appearance': 'map'" in r.output


def test_compile_without_out_prints_the_form(tmp_path):
    src = write_xlsform(tmp_path / "f.xlsx", SURVEY[:1], CHOICES, SETTINGS)
    r = CliRunner().invoke(cli.main, ["forms", "compile", str(src), "--for", "kiosk"])
    assert r.exit_code == 0, r.output
    form = json.loads(r.stdout.splitlines()[0])
    assert form["id"] == "cli_form" and form["target"] == "kiosk"


def test_a_refused_form_fails_naming_every_problem(tmp_path):
    src = write_xlsform(tmp_path / "f.xlsx", SURVEY + [{"type": "geopoint", "name": "gps", "label": "Where"}],
                        CHOICES, SETTINGS)
    r = CliRunner().invoke(cli.main, ["forms", "compile", str(src), "--for", "kiosk", "--out", str(tmp_path / "x")])
    assert r.exit_code == 1
    assert "2 problems" in r.output
    assert "survey row 3, column 'type': type text on a kiosk" in r.output
    assert "survey row 4, column 'type': type geopoint" in r.output
    assert not (tmp_path / "x").exists()


def test_the_target_is_required(tmp_path):
    src = write_xlsform(tmp_path / "f.xlsx", SURVEY[:1], CHOICES, SETTINGS)
    r = CliRunner().invoke(cli.main, ["forms", "compile", str(src)])
    assert r.exit_code == 2 and "--for" in r.output
