"""The installed command starts fast and reports the one version number.

``tiesense --version`` and ``--help`` are what a user types first: the CLI must
not pay for numpy, scipy, the MQTT client or the broker before a sub-command
needs them. The version a kiosk reports in its status (firmware/config.py) is
the package's version: the two ship together in one wheel.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import tiesense
from tiesense import devices

from .conftest import ROOT

HEAVY = ("numpy", "scipy", "paho", "amqtt", "sqlite_utils")


def _clean_env() -> dict:
    env = dict(os.environ)
    for var in ("PYTHONPATH", "PYTHONSTARTUP", "TIESENSE_FIRMWARE"):
        env.pop(var, None)
    return env


def _loaded_after(code: str) -> list[str]:
    """Top-level packages among HEAVY that a fresh interpreter has loaded after running ``code``."""
    probe = (f"import sys\n{code}\n"
             f"import json; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                         env=_clean_env(), cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_cli_loads_no_heavy_dependency():
    assert _loaded_after("import tiesense.cli") == []


def test_help_and_version_load_no_heavy_dependency():
    for flag in ("--help", "--version"):
        code = ("import contextlib, io\nfrom tiesense.cli import main\n"
                "with contextlib.redirect_stdout(io.StringIO()):\n"
                f"    try:\n        main([{flag!r}])\n    except SystemExit:\n        pass")
        assert _loaded_after(code) == [], flag


def test_every_subcommand_help_loads_no_heavy_dependency():
    """Help of each sub-command too: imports belong inside the command bodies."""
    code = ("import contextlib, io, click\nfrom tiesense.cli import main\n"
            "def walk(group, path):\n"
            "    for name, cmd in group.commands.items():\n"
            "        yield path + [name]\n"
            "        if isinstance(cmd, click.Group):\n"
            "            yield from walk(cmd, path + [name])\n"
            "for args in walk(main, []):\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        try:\n            main(args + ['--help'])\n        except SystemExit:\n            pass")
    assert _loaded_after(code) == []


def test_tiesense_version_prints_the_package_version():
    script = Path(sys.executable).parent / "tiesense"
    assert script.is_file(), f"no tiesense command next to {sys.executable}: run scripts/bootstrap"
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60,
                         env=_clean_env(), cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"tiesense, version {tiesense.__version__}"


def test_devices_report_the_package_version(firmware_version):
    """A kiosk's status carries config.VERSION; it must be the version of the tiesense that staged it."""
    assert firmware_version((ROOT / "firmware" / "config.py").read_text()) == tiesense.__version__, (
        "firmware/config.py VERSION and host/tiesense/__init__.py __version__ differ: bump both together")
    assert firmware_version((devices.firmware_dir() / "config.py").read_text()) == tiesense.__version__


def test_firmware_is_the_copy_that_belongs_to_the_imported_package(monkeypatch):
    """Installed from a wheel: tiesense/firmware/ in site-packages. From this checkout (editable
    install): firmware/ at the top of the repository, the only copy in the source tree."""
    monkeypatch.delenv("TIESENSE_FIRMWARE", raising=False)
    package = Path(tiesense.__file__).resolve().parent
    if package.is_relative_to(ROOT):
        assert not (package / "firmware").exists(), \
            f"{package / 'firmware'} exists in the source tree: firmware/ at the top is the only copy"
        assert devices.firmware_dir() == ROOT / "firmware"
    else:
        assert devices.firmware_dir() == package / "firmware"
    assert (devices.firmware_dir() / "main.py").is_file()
