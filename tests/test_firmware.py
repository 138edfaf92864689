"""The firmware: its MicroPython-side tests, RP2040 compilation, and the uplink
against a real Mosquitto with the real firmware running under micropython.

The host is played by a small paho-mqtt acknowledger in the test.
"""
from __future__ import annotations

import os
import re
import subprocess

import pytest

from tiesense import wire
from tiesense.devices import SimDevice, read_log_state, stage

from .conftest import ROOT

FIRMWARE = ROOT / "firmware"
MP_TESTS = sorted((ROOT / "tests" / "firmware").glob("test_*.py"))
DEVICE = "kiosk-07"


# ------------------------------------------------- micropython-side tests

@pytest.mark.parametrize("path", MP_TESTS, ids=[p.stem for p in MP_TESTS])
def test_micropython_suite(micropython, path):
    env = dict(os.environ, MICROPYPATH=os.pathsep.join(
        [".frozen", str(FIRMWARE), str(ROOT / "host" / "tiesense"), str(ROOT / "tests" / "firmware")]))
    # A Pico W's heap; a suite whose scaffolding shares that heap (RAM disks, a fake serial port's
    # buffers) asks for more on a "# heap: SIZE" line, saying why.
    m = re.search(r"^# heap: (\w+)", path.read_text(), re.M)
    heap = m.group(1) if m else "190K"
    r = subprocess.run([micropython, "-X", f"heapsize={heap}", str(path)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert " 0 failed" in out and "FAIL" not in out, out


def test_micropython_suites_exist():
    names = {p.stem for p in MP_TESTS}
    assert {"test_mqtt", "test_log", "test_powercut", "test_survey"} <= names


def test_runner_fails_on_failure(micropython, tmp_path):
    """Our runner must exit non-zero when a test fails (unittest would exit 0)."""
    t = tmp_path / "test_bad.py"
    t.write_text("from runner import run\n\ndef test_x():\n    assert 1 == 2\n\nrun(globals())\n")
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([".frozen", str(ROOT / "tests" / "firmware")]))
    r = subprocess.run([micropython, str(t)], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "FAIL test_x" in r.stdout


# ----------------------------------------------------------- RP2040 build

def test_every_module_compiles_for_rp2040(mpy_cross, tmp_path):
    sources = sorted(FIRMWARE.rglob("*.py"))
    assert {"main.py", "config.py", "mqtt.py", "log.py", "uplink.py", "survey.py", "kiosk.py", "expr.py"} <= {
        p.name for p in sources}
    assert {"base.py", "picow.py", "sim.py"} <= {p.name for p in (FIRMWARE / "board").glob("*.py")}
    for src in sources + [ROOT / "host" / "tiesense" / "wire.py"]:
        out = tmp_path / (src.stem + ".mpy")
        r = subprocess.run([mpy_cross, "-march=armv6m", "-o", str(out), str(src)], capture_output=True, text=True)
        assert r.returncode == 0, f"{src}: {r.stderr}"
        assert out.stat().st_size > 0
        text = src.read_text()
        assert text.startswith("#"), f"{src} lacks its header comment"


# ------------------------------------------------------------- uplink

@pytest.fixture
def host(mosquitto, acking_host):
    return acking_host(mosquitto.port, DEVICE)


def test_uplink_keeps_records_until_acked_and_resends_same_ids(micropython, mosquitto, host, tmp_path, survey_keys,
                                                             wait_until):
    script = survey_keys(1, 2, 1) + survey_keys(3, 1, 2) + survey_keys(8, 7, 1)
    root = stage(tmp_path / "dev", DEVICE, mosquitto.url, script=script,
                 ack_timeout_ms=800, thanks_ms=0, keepalive_s=10)
    dev = SimDevice(root, micropython=micropython).start()
    try:
        dev.wait_for("KIOSK stored seq=3", timeout=15)
        # Phase 1: the host is silent. Records arrive, the log keeps them.
        first = []
        wait_until(lambda: first.extend(host.collect(0.2)) or len({r["id"] for r in first}) >= 3, 10, "3 records")
        for r in first:
            assert r["version"] == wire.VERSION and len(r["sig"]) == 0, "a device without a key signs nothing"
            assert r["device"] == DEVICE and r["form"] == "tp_visit" and r["clock"] == wire.CLOCK_NTP
        ids = {r["seq"]: r["id"] for r in first}
        assert sorted(ids) == [1, 2, 3]
        by_seq = {r["seq"]: r for r in first}
        assert by_seq[1]["answers"] == {"facility": "shared_lab", "org_type": "sme", "satisfaction": 3}
        assert by_seq[2]["answers"] == {"facility": "meeting_room", "org_type": "large_firm", "satisfaction": 4}
        assert by_seq[3]["answers"] == {"facility": "cafeteria", "org_type": "other", "satisfaction": 3}
        st = read_log_state(root)
        assert st.pending == [1, 2, 3]
        assert {s: r["id"] for s, r in st.records.items()} == ids
        # No ack: after the ack timeout the same records come again, same ids.
        again = host.collect(2.0)
        assert again, "nothing resent after the ack timeout"
        assert {r["id"] for r in again} <= set(ids.values()), "resend carried new instance ids"
        assert {r["seq"]: r["id"] for r in again} == {s: ids[s] for s in {r["seq"] for r in again}}
        assert read_log_state(root).pending == [1, 2, 3], "deleted without the host's ack"
        # Status: retained, online, says how deep the queue is.
        wait_until(lambda: host.status.get("online") is True, 5, "online status")
        assert host.status["role"] == "kiosk" and host.status["heap_free"] > 0
        # Phase 2: the host acks whatever it receives; the log drains.
        host.ack(first)
        wait_until(lambda: read_log_state(root).pending == [], 10, "log to drain")
        dev.wait_for("UPLINK acked", timeout=5)
        # the kiosk compacts right after it prints the ack: wait for it rather than race it

        def compacted():
            state = read_log_state(root)
            return state if state.acked == [] else None

        st = wait_until(compacted, 10, "the log to be compacted")
        assert st.hwm == 3, "compacted, high-water mark kept"
        assert "Traceback" not in dev.read_output()
    finally:
        dev.stop()


def test_power_cut_keeps_queue_and_last_will_reports_offline(micropython, mosquitto, host, tmp_path, survey_keys,
                                                            wait_until):
    root = stage(tmp_path / "dev", DEVICE, mosquitto.url, script=survey_keys(1, 1, 1) + survey_keys(2, 2, 2),
                 ack_timeout_ms=60000, thanks_ms=0, keepalive_s=2)
    dev = SimDevice(root, micropython=micropython).start()
    dev.wait_for("UPLINK sent seqs=2", timeout=15)
    before = {r["seq"]: r["id"] for r in host.collect(1.0)}
    assert sorted(before) == [1, 2]
    dev.kill()  # power cut: no DISCONNECT, the broker publishes the last will
    wait_until(lambda: host.status.get("online") is False, 8, "last will (offline status)")
    assert read_log_state(root).pending == [1, 2]
    # Power back on without a script: the same records go out again.
    stage(root, DEVICE, mosquitto.url, script=[], ack_timeout_ms=60000, thanks_ms=0)
    dev2 = SimDevice(root, micropython=micropython).start()
    try:
        after = []
        wait_until(lambda: after.extend(host.collect(0.2)) or len(after) >= 2, 10, "records after reboot")
        assert {r["seq"]: r["id"] for r in after} == before
        wait_until(lambda: host.status.get("online") is True, 5, "online again")
        host.ack(after)
        wait_until(lambda: read_log_state(root).pending == [], 10, "log to drain")
    finally:
        dev2.stop()
