"""tiesense firmware build: firmware/manifest.py lists exactly what main.py needs, every module compiles
for the RP2040, and the built files alone boot under the real MicroPython."""
from __future__ import annotations

import ast
import json
import re
import subprocess

import pytest
from click.testing import CliRunner

import tiesense
from tiesense import cli
from tiesense.deploy import DeployError, build_firmware
from tiesense.devices import PACKAGE
from tiesense.manifest import ManifestError, read_manifest

from .conftest import FIRMWARE

SIM_ONLY = {"board.sim"}


def firmware_sources() -> dict[str, object]:
    """Import name -> file, for every module a device could import from the firmware tree and wire.py."""
    found = {}
    for p in FIRMWARE.rglob("*.py"):
        rel = p.relative_to(FIRMWARE)
        if "tests" in rel.parts or rel.name == "manifest.py":
            continue
        parts = list(rel.with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    found["wire"] = PACKAGE / "wire.py"
    return found


def import_closure(start: str, sources: dict) -> set[str]:
    """Firmware modules ``start`` imports, directly or not, at top level or inside functions."""
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen or name not in sources:
            continue
        seen.add(name)
        if "." in name:
            todo.append(name.rsplit(".", 1)[0])  # importing board.picow runs board/__init__ first
        for node in ast.walk(ast.parse(sources[name].read_text())):
            if isinstance(node, ast.Import):
                todo += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                todo.append(node.module)
                todo += [f"{node.module}.{a.name}" for a in node.names]
    return seen


def test_the_manifest_lists_exactly_what_main_imports():
    listed = read_manifest(FIRMWARE / "manifest.py").modules
    needed = import_closure("main", firmware_sources())
    assert needed - SIM_ONLY == listed, f"missing {needed - SIM_ONLY - listed}, extra {listed - needed}"
    assert not SIM_ONLY & listed  # the simulator board never goes onto a Pico


def test_the_manifest_version_is_the_firmwares():
    version = re.search(r'^VERSION = "([^"]+)"', (FIRMWARE / "config.py").read_text(), re.M)[1]
    assert read_manifest(FIRMWARE / "manifest.py").version == version


def test_the_manifest_ships_the_hosts_own_wire_contract():
    wire = next(f for f in read_manifest(FIRMWARE / "manifest.py").files if f.dest == "wire.py")
    assert wire.source == (PACKAGE / "wire.py").resolve()


def test_every_module_compiles_for_the_rp2040(tmp_path, mpy_cross):
    image = build_firmware(tmp_path / "build", mpy_cross=mpy_cross)
    listed = [f.dest for f in read_manifest(FIRMWARE / "manifest.py").files]
    want = sorted(d if d == "main.py" else d[:-3] + ".mpy" for d in listed)
    assert sorted(image.files) == want
    for f in image.files:
        data = (tmp_path / "build" / f).read_bytes()
        if f.endswith(".mpy"):
            assert data[:2] == b"M\x06", f  # .mpy version 6, what MicroPython 1.22+ loads
            assert str(FIRMWARE).encode() not in data  # tracebacks name device paths, not this machine's
    assert "site.json" not in image.files and not any("sim" in f for f in image.files)


def test_the_built_files_alone_boot_and_run_a_survey_under_micropython(tmp_path, micropython, mpy_cross,
                                                                      survey_keys):
    root = tmp_path / "dev"
    build_firmware(root, mpy_cross=mpy_cross, simulator=True)
    (root / "forms").mkdir()
    (root / "forms" / "tp_visit.json").write_bytes((PACKAGE / "instruments" / "tp_visit.json").read_bytes())
    (root / "script.json").write_text(json.dumps(survey_keys(1, 1, 1) + [["wait_ms", 300], ["exit"]]))
    (root / "site.json").write_text(json.dumps({"device": "kiosk-07", "broker_port": 1, "sim_script": "script.json",
                                                "backoff_max_s": 1, "thanks_ms": 0}))
    # only the built files: no firmware/ or host/ folder on MicroPython's path
    done = subprocess.run([micropython, "-X", "heapsize=190K", "main.py"], cwd=root, capture_output=True,
                          text=True, timeout=30)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "Traceback" not in out and "BOOT tiesense fw" in out and "KIOSK stored seq=1" in out, out


def test_a_manifest_naming_a_missing_file_or_a_micropython_lib_package_is_refused(tmp_path):
    (tmp_path / "manifest.py").write_text('module("gone.py")\n')
    with pytest.raises(ManifestError, match="gone.py"):
        read_manifest(tmp_path / "manifest.py")
    (tmp_path / "manifest.py").write_text('require("umqtt.simple")\n')
    with pytest.raises(ManifestError, match="micropython-lib"):
        read_manifest(tmp_path / "manifest.py")
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "manifest.py").write_text('module("a.py")\ninclude("more.py")\n')
    (tmp_path / "more.py").write_text('module("a.py")\n')
    with pytest.raises(ManifestError, match="twice"):
        read_manifest(tmp_path / "manifest.py")
    with pytest.raises(DeployError, match="manifest"):
        build_firmware(tmp_path / "out", manifest=tmp_path / "missing.py", compile_mpy=False)


def test_cli_build(tmp_path):
    ok = CliRunner().invoke(cli.main, ["firmware", "build", "--out", str(tmp_path / "build")])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "build" / "uplink.mpy").is_file() and (tmp_path / "build" / "main.py").is_file()
    assert ok.output.startswith(f"built tiesense firmware {tiesense.__version__} in {tmp_path / 'build'}: ")
    again = CliRunner().invoke(cli.main, ["firmware", "build", "--out", str(tmp_path / "build")])
    assert again.exit_code == 1 and "not empty" in again.output
