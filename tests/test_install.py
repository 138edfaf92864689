"""tiesense firmware deploy: mpremote installs a staged image on a board. Tested against the MicroPython
unix port on a socat pty pair, which speaks the raw REPL, raw paste and every mpremote fs command used
here; only its soft reset differs (Ctrl-D in the raw REPL ends the process), hence --no-reset."""
from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from tiesense import cli
from tiesense.deploy import stage_image
from tiesense.devices import firmware_dir
from tiesense.install import InstallError, install, mpremote_argv
from tiesense.manifest import read_manifest
from tiesense.provisioning import provision
from tiesense.store import Store

# what a deploy copies: every module the manifest lists, site.json and the form
IMAGE_FILES = len(read_manifest(firmware_dir() / "manifest.py").files) + 2


@pytest.fixture
def unix_board(tmp_path, micropython):
    """``unix_board(root)``: the path of a pty whose far end is a ``micropython`` REPL running in ``root``,
    as a Pico W's USB serial port is the far end of its REPL."""
    procs = []

    def start(root):
        link = tmp_path / f"tty{len(procs)}"
        root.mkdir(parents=True, exist_ok=True)
        p = subprocess.Popen(["socat", f"PTY,link={link},raw,echo=0",
                              f"EXEC:{micropython},pty,raw,echo=0,stderr,setsid,ctty"],
                             cwd=root, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        deadline = time.monotonic() + 10
        while not link.exists():
            assert p.poll() is None and time.monotonic() < deadline, "socat did not make the pty"
            time.sleep(0.02)
        return str(link)

    yield start
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
        p.wait(5)


def site_file(tmp_path) -> tuple[dict, str]:
    with Store(tmp_path / "prov.db") as store:
        site = provision(store, "kiosk-09", "lobby-b", broker_host="10.0.0.2").site_config
    path = tmp_path / "site.json"
    path.write_text(json.dumps(site))
    return site, str(path)


def test_deploy_puts_the_image_on_the_board_and_keeps_its_record_log(tmp_path, unix_board, mpy_cross):
    board = tmp_path / "board"
    (board / "data").mkdir(parents=True)
    (board / "data" / "seg.1").write_bytes(b"1 0 unacknowledged survey\n")
    (board / "log.py").write_text("raise ImportError('stale source shadowing log.mpy')\n")
    (board / "board").mkdir()
    (board / "board" / "sim.mpy").write_bytes(b"M\x06 simulator left by a bench test")
    site, path = site_file(tmp_path)
    port = unix_board(board)
    done = CliRunner().invoke(cli.main, ["firmware", "deploy", "--port", port, "--site", path, "--no-reset"])
    assert done.exit_code == 0, done.output
    assert f"deployed kiosk-09 on {port}: {IMAGE_FILES} files" in done.output
    reference = stage_image(tmp_path / "reference", site, mpy_cross=mpy_cross)
    for f in reference.files:
        assert (board / f).read_bytes() == (reference.root / f).read_bytes(), f
    assert not (board / "log.py").exists() and not (board / "board" / "sim.mpy").exists()
    assert (board / "data" / "seg.1").read_bytes() == b"1 0 unacknowledged survey\n"


def test_a_deployed_board_boots_into_the_new_firmware(tmp_path, unix_board, micropython, mpy_cross, survey_keys):
    image = stage_image(tmp_path / "image", {"device": "kiosk-07", "broker_host": "127.0.0.1", "broker_port": 1,
                                             "sim_script": "script.json", "backoff_max_s": 1, "thanks_ms": 0},
                        mpy_cross=mpy_cross, simulator=True)
    (image.root / "script.json").write_text(json.dumps(survey_keys(1, 1, 1) + [["wait_ms", 300], ["exit"]]))
    image.files.append("script.json")
    seen = []
    board = tmp_path / "board"
    done = install(image.root, image.files, unix_board(board), reset=False, progress=seen.append)
    assert seen == done.files and done.files[-1] == "site.json"  # settings last: a pulled cable leaves old ones
    assert done.bytes == sum((image.root / f).stat().st_size for f in image.files)
    boot = subprocess.run([micropython, "-X", "heapsize=190K", "main.py"], cwd=board, capture_output=True, text=True,
                          timeout=30)
    assert boot.returncode == 0 and "KIOSK stored seq=1" in boot.stdout, boot.stdout + boot.stderr


def test_dry_run_shows_the_one_mpremote_command(tmp_path):
    _, path = site_file(tmp_path)
    done = CliRunner().invoke(cli.main, ["firmware", "deploy", "--port", "/dev/ttyACM0", "--site", path, "--dry-run"])
    assert done.exit_code == 0, done.output
    line = done.output.strip()
    assert line.startswith("cd IMAGE && ")
    argv = shlex.split(line[len("cd IMAGE && "):])
    assert argv[:6] == [sys.executable, "-m", "mpremote", "connect", "/dev/ttyACM0", "exec"]
    copies = [argv[i + 2:i + 5] for i, a in enumerate(argv) if a == "+" and argv[i + 1:i + 3] == ["fs", "cp"]]
    assert copies[-1] == ["cp", "site.json", ":site.json"] and ["cp", "main.py", ":main.py"] in copies
    assert all(dst == ":" + src for _, src, dst in copies) and len(copies) == IMAGE_FILES
    assert argv[-2:] == ["+", "reset"] and "resume" not in argv
    assert mpremote_argv(["main.py"], "/dev/pts/3", reset=False, python="py")[:6] == [
        "py", "-m", "mpremote", "connect", "/dev/pts/3", "resume"]


def test_no_board_on_the_port_is_one_clear_error(tmp_path):
    _, path = site_file(tmp_path)
    done = CliRunner().invoke(cli.main, ["firmware", "deploy", "--port", str(tmp_path / "ttyNONE"), "--site", path])
    assert done.exit_code == 1 and "mpremote failed on" in done.output and "ttyNONE" in done.output
    with pytest.raises(InstallError, match="ttyNONE"):
        install(tmp_path, ["main.py"], str(tmp_path / "ttyNONE"))
