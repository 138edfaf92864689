"""tiesense kiosk --sim: the real firmware under micropython, drawn in a terminal, keys from it as buttons,
connected to a local host. Driven here without a person: key bytes into a pty, as a terminal sends them."""
from __future__ import annotations

import io
import os
import pty
import threading

from click.testing import CliRunner

from tiesense import cli
from tiesense.service import Host
from tiesense.terminal import open_session, run_terminal
from tiesense.virtual import VirtualDevice, connection

# One visit survey as a person types it: walks up (p), Enter starts, down + Enter twice, up + Enter.
TYPED_SURVEY = [b"p", b"\r", b"\x1b[B", b"\r", b"\x1b[B", b"\r", b"\x1b[A", b"\r"]


def test_a_survey_typed_at_the_terminal_lands_in_the_serving_hosts_database(tmp_path, wait_until):
    db = tmp_path / "host.db"
    with Host(db, embedded_port=0) as host:  # as `tiesense serve --db host.db` runs, with its login file beside
        dev = VirtualDevice(connection(db), root=tmp_path / "dev").start()
        master, slave = pty.openpty()
        out = io.StringIO()
        result = {}
        with open(slave, "rb", buffering=0) as stdin:
            ui = threading.Thread(target=lambda: result.setdefault("rc", run_terminal(dev, stdin=stdin, out=out)))
            ui.start()
            try:
                wait_until(lambda: "Press ok to start" in out.getvalue(), 20, "the idle screen drawn in the terminal")
                for key in TYPED_SURVEY:
                    os.write(master, key)
                    count = dev.screen.count
                    wait_until(lambda: dev.screen.count > count or key == b"p", 5, f"a new screen after {key!r}")
                wait_until(lambda: host.store.records("virtual-kiosk"), 20, "the typed survey in the database")
                wait_until(lambda: "1 record(s) from virtual-kiosk stored" in out.getvalue(), 5,
                           "the terminal to show the host's count")
                os.write(master, b"q")
                ui.join(10)
            finally:
                dev.close()
                os.close(master)
        assert result == {"rc": 0}
        (rec,) = host.store.records("virtual-kiosk")
        assert rec["device"] == "virtual-kiosk"
        screen = out.getvalue()
        assert "+---------------------+" in screen and "|Thank you!" in screen
        assert "Traceback" not in dev.device.read_output()


def test_a_handheld_alone_starts_its_own_host_and_runs_the_interview_typed(tmp_path, wait_until):
    db = tmp_path / "alone.db"
    said = []
    dev, host = open_session(db, handheld=True, echo=said.append)
    try:
        assert host is not None and said and said[0].startswith(f"no host was serving {db}: started one here")
        assert (dev.cols, dev.rows) == (40, 15)
        def showing(pred):
            dev.update()
            return pred(dev.screen.lines)

        wait_until(lambda: showing(lambda s: "ok: new interview" in s), 20, "the handheld's home screen")
        dev.press("ok")
        wait_until(lambda: showing(lambda s: s[0].startswith("1/")), 10, "the interview's first question")
        assert len(dev.screen.lines) == 15 and max(len(ln) for ln in dev.screen.lines) > 21  # wider than a kiosk's
        for event in ("down", "ok", "ok"):  # consent yes, the reference period's note
            dev.press(event)
        wait_until(lambda: showing(lambda s: any("Which organisation" in ln for ln in s)), 10, "the respondent")
        for ch in "exam":  # typed on the keyboard: finds the organisation by its first letters
            dev.press(ch)
        wait_until(lambda: showing(lambda s: s[-1] == "find: exam" and any(ln.startswith("> Example") for ln in s)),
                   10, "the typed letters finding the organisation")
        assert any("BOOT tiesense fw" in m and "role handheld" in m for m in dev.messages)
    finally:
        dev.close()
        host.stop()
    assert not (db.parent / (db.name + ".broker-login")).exists()  # the in-process host cleaned up


def test_the_cli_wants_a_terminal(tmp_path):
    done = CliRunner().invoke(cli.main, ["kiosk", "--sim", "--db", str(tmp_path / "x.db")])
    assert done.exit_code == 1 and "from a terminal" in done.output
    missing = CliRunner().invoke(cli.main, ["kiosk", "--db", str(tmp_path / "x.db")])
    assert missing.exit_code == 2 and "--sim" in missing.output


def test_the_command_in_a_terminal_starts_a_host_takes_a_survey_and_cleans_up(tmp_path):
    """`tiesense kiosk --sim` as a person runs it: in a terminal (a pty), no host running yet."""
    import select
    import sqlite3
    import sys
    import time

    db = tmp_path / "kiosk.db"
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command, as typed
        os.execv(sys.executable, [sys.executable, "-m", "tiesense.cli", "kiosk", "--sim", "--db", str(db)])
    seen = b""

    def read_until(text: bytes, timeout: float) -> bool:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while text not in seen and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.05)[0]:
                try:
                    seen += os.read(fd, 65536)
                except OSError:  # the child closed the terminal
                    break
        return text in seen

    try:
        assert read_until(b"Press ok to start", 30), seen[-2000:]
        for key in TYPED_SURVEY:
            os.write(fd, key)
            time.sleep(0.2)
        assert read_until(b"1 record(s) from virtual-kiosk stored", 30), seen[-2000:]
        os.write(fd, b"q")
        assert read_until(b"virtual-kiosk stopped", 15), seen[-2000:]
    finally:
        deadline = time.monotonic() + 15
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        if done[0] == 0:  # still running: end it (it is this test's child) and fail below
            os.kill(pid, 9)
            done = os.waitpid(pid, 0)
        status = done[1]
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"no host was serving" in seen and b"Traceback" not in seen
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT device, seq FROM records").fetchall() == [("virtual-kiosk", 1)]
    assert not (tmp_path / "kiosk.db.broker-login").exists()


def test_the_broker_comes_from_the_serving_host_or_the_command_line(tmp_path):
    import pytest

    from tiesense.virtual import VirtualError

    with pytest.raises(VirtualError, match="no host with the embedded broker is serving"):
        connection(tmp_path / "nobody.db")
    given = connection(tmp_path / "x.db", "mqtt://10.0.0.2:1884")
    assert (given.broker_host, given.broker_port, given.db_path) == ("10.0.0.2", 1884, tmp_path / "x.db")
    with pytest.raises(VirtualError, match="plain MQTT"):
        connection(tmp_path / "x.db", "mqtts://10.0.0.2")
