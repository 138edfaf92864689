"""docs/deploy.md: every command, option, setting, console line, status column and pin it names is real."""
from __future__ import annotations

import re
import sqlite3
import tomllib

import click

from tiesense import cli
from tiesense.deploy import firmware_settings
from tiesense.store import Store

from .conftest import FIRMWARE, ROOT

DOC = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")


def invocations():
    """(command path, options) of every `tiesense ...` the page shows, in code spans and blocks."""
    for text in re.findall(r"`([^`\n]+)`", DOC) + re.findall(r"```\n(.*?)```", DOC, flags=re.S):
        for line in text.splitlines():
            if line.startswith("BOOT "):  # the console's "BOOT tiesense fw ..."
                continue
            m = re.search(r"\btiesense ((?:[a-z-]+ ?)+)(.*)", line)
            if m:
                yield m[1].split(), re.findall(r"(--[a-z-]+)", m[0])


def test_every_command_and_option_on_the_page_exists():
    seen = 0
    for words, options in invocations():
        cmd, path = cli.main, ["tiesense"]
        for w in words:
            if isinstance(cmd, click.Group) and w in cmd.commands:
                cmd = cmd.commands[w]
                path.append(w)
        assert len(path) > 1 and not isinstance(cmd, click.Group), f"{' '.join(words)}: no such command"
        known = {o for p in getattr(cmd, "params", []) for o in getattr(p, "opts", [])}
        assert set(options) <= known, f"{' '.join(path)}: unknown {set(options) - known}"
        seen += 1
    assert seen >= 8


def test_the_settings_it_names_are_the_firmwares():
    known = firmware_settings()
    block = re.search(r'```\n("wifi_ssid".*?)\n```', DOC, flags=re.S)[1]
    assert set(re.findall(r'"(\w+)":', block)) <= set(known)


def test_the_console_lines_it_quotes_are_printed_by_the_firmware():
    sources = "".join(p.read_text() for p in FIRMWARE.rglob("*.py"))
    quoted = re.findall(r"^(BOOT tiesense fw|UPLINK [a-z ]+)", DOC, flags=re.M)
    quoted += re.findall(r"`((?:KIOSK|UPLINK|config:|board:) [^`…%0-9(']+)", DOC)
    assert len(quoted) >= 8
    for q in quoted:
        prefix, rest = q.strip().split(" ", 1)
        # whole, or its words filled into a "PREFIX %s" format ("UPLINK connect failed")
        assert q.strip() in sources or (f'"{prefix} %s' in sources and f'"{rest}"' in sources), q


def test_the_status_columns_it_lists_are_in_the_hosts_devices_table(tmp_path):
    Store(tmp_path / "x.db").close()
    with sqlite3.connect(tmp_path / "x.db") as db:
        columns = {r[1] for r in db.execute('PRAGMA table_info("devices")')}
    listed = re.search(r"SELECT (.*?) FROM devices", DOC)[1].split(", ")
    assert set(listed) <= columns
    para = re.search(r"The host's `devices` table holds(.*?)docs/operations.md", DOC, flags=re.S)[1]
    assert set(re.findall(r"`(\w+)`", para)) <= columns


def test_the_wiring_table_is_the_kiosk_pinout():
    pins = tomllib.loads((ROOT / "hardware" / "kiosk" / "pinout.toml").read_text())
    documented = {int(n) for n in re.findall(r"GP(\d+) \(\d+\)", DOC)}
    assert documented == {p["gp"] for p in pins["pin"]}
