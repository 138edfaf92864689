"""The fault matrix: real kiosks (the firmware under micropython, answering surveys on their own), a
real Mosquitto and the real host (``tiesense serve`` processes), with faults injected at seeded
random moments; afterwards every kiosk drains and the database is compared with what was answered.

    .venv/bin/python -m tests.faults.matrix                 # short profile (what the suite runs)
    .venv/bin/python -m tests.faults.matrix --profile long  # every scenario, longer, more kiosks

One row per scenario: answered (surveys the kiosks stored on flash, from their
consoles), stored (rows in the host's database), duplicated (a device and seq
stored more than once), lost (answered, never stored), stalled (kiosks whose
queue had not drained when the settling time ran out). Expected: 0 duplicated,
0 lost, 0 stalled in every row.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tiesense.devices import SimDevice, find_micropython, read_log_state, stage
from tiesense.provisioning import provision
from tiesense.store import Store

from ..conftest import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
_STORED = re.compile(r"KIOSK stored seq=(\d+) ")


@dataclass
class Row:
    scenario: str
    answered: int
    stored: int
    duplicated: int
    lost: int
    stalled: int
    faults: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.duplicated == 0 and self.lost == 0 and self.stalled == 0


class Proxy:
    """A slow, connection-cutting TCP proxy: each byte chunk is delayed a little, and each connection
    is cut after a random amount of traffic, as a flaky Wi-Fi link does."""

    def __init__(self, target_port: int, rng: random.Random, cut_after=(2_000, 20_000), delay=(0.0, 0.02)):
        self.target = target_port
        self.rng = rng
        self.cut_after, self.delay = cut_after, delay
        self.port = free_port()
        self.cuts = 0
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", self.port))
        self._server.listen(16)
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=2)
            except OSError:
                client.close()
                continue
            budget = [self.rng.randint(*self.cut_after)]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b, budget), daemon=True).start()

    def _pipe(self, src, dst, budget):
        try:
            while not self._stop.is_set():
                data = src.recv(4096)
                if not data:
                    break
                time.sleep(self.rng.uniform(*self.delay))
                budget[0] -= len(data)
                if budget[0] < 0:
                    self.cuts += 1
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self._stop.set()
        self._server.close()


class Rig:
    """Mosquitto, one or more ``tiesense serve`` workers, and auto-answering kiosks, in ``work``."""

    def __init__(self, work: Path, kiosks: int, *, persistence: bool = False, workers: int = 1,
                 proxy_rng: random.Random | None = None, every_s: float = 0.3):
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.db = work / "park.db"
        self.port = free_port()
        conf = work / "mosquitto.conf"
        conf.write_text(f"user root\nlistener {self.port} 127.0.0.1\nallow_anonymous true\n"
                        f"persistence {'true' if persistence else 'false'}\npersistence_location {work}/\n"
                        "autosave_interval 1\nmax_inflight_messages 1000\nmax_queued_messages 1000000\n"
                        "message_size_limit 65536\n")
        self.conf = conf
        self.mosquitto_exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.broker = None
        self.start_broker()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        # the kiosks, provisioned in the host's database before it starts: records signed, acks and
        # the host's (signed) forms verified, as in a secured park (wire contract 2)
        names = [f"kiosk-{k + 1:02d}" for k in range(kiosks)]
        with Store(self.db) as store:
            keys = {n: provision(store, n, "faults", broker_host="127.0.0.1").site_config for n in names}
        self.workers: list[subprocess.Popen | None] = [None] * workers
        for i in range(workers):
            self.start_host(i)
        self.proxy = Proxy(self.port, proxy_rng) if proxy_rng is not None else None
        device_port = self.proxy.port if self.proxy else self.port
        self.micropython = find_micropython()
        self.kiosks: list[SimDevice] = []
        self.every_s = every_s
        for k, name in enumerate(names):
            root = stage(work / name, name, f"mqtt://127.0.0.1:{device_port}", auto={"every_s": every_s, "seed": k},
                         thanks_ms=0, ack_timeout_ms=2000, backoff_max_s=2, keepalive_s=5, status_s=3600,
                         device_key=keys[name]["device_key"], site="faults", site_key=keys[name]["site_key"])
            self.kiosks.append(SimDevice(root, micropython=self.micropython).start())

    # ------------------------------------------------------------ parts

    def start_broker(self):
        self.broker = subprocess.Popen([self.mosquitto_exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def kill_broker(self, sig=signal.SIGKILL):
        self.broker.send_signal(sig)
        self.broker.wait(10)

    def start_host(self, i: int):
        args = [sys.executable, "-m", "tiesense.cli", "serve", "--db", str(self.db), "--broker", self.url]
        if len(self.workers) > 1:
            args += ["--shared-group", "faults"]
        # The host's output goes through a pipe to its log file, as under systemd's journal: a host whose
        # data disk is full can still say so.
        (self.work / f"host-{i}.log").touch()
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
        threading.Thread(target=_copy_lines, args=(proc.stdout, self.work / f"host-{i}.log"), daemon=True).start()
        deadline = time.monotonic() + 30
        while b"tiesense host ready" not in (self.work / f"host-{i}.log").read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((self.work / f"host-{i}.log").read_text(errors="replace")[-2000:])
            time.sleep(0.05)
        self.workers[i] = proc

    def kill_host(self, i: int):
        proc = self.workers[i]
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        self.workers[i] = None

    def power_cut(self, k: int):
        self.kiosks[k].kill()
        self.kiosks[k].start()

    # ------------------------------------------------------------ the end

    def settle(self, timeout: float) -> int:
        """Stop answering, let every kiosk drain; return how many had not drained by ``timeout``."""
        for k, dev in enumerate(self.kiosks):  # the same flash, no more visitors
            dev.stop()
            site = dev.root / "site.json"
            site.write_text(re.sub(r'"sim_auto_s": [0-9.]+', '"sim_auto_s": null', site.read_text()))
            dev.start()
        for i, proc in enumerate(self.workers):
            if proc is None:
                self.start_host(i)
        if self.broker.poll() is not None:
            self.start_broker()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(not read_log_state(d.root).pending for d in self.kiosks):
                return 0
            time.sleep(0.2)
        return sum(1 for d in self.kiosks if read_log_state(d.root).pending)

    def account(self, scenario: str, faults: int, seconds: float, stalled: int) -> Row:
        answered = {(d.root.name, int(m)) for d in self.kiosks for m in _STORED.findall(d.read_output())}
        deadline = time.monotonic() + 10  # the last acks went out after their commit: the rows are there
        while True:
            conn = sqlite3.connect(self.db)
            rows = conn.execute("SELECT device, seq FROM records").fetchall()
            conn.close()
            if {r for r in rows} >= answered or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        stored = set(rows)
        return Row(scenario, len(answered), len(stored), len(rows) - len(stored), len(answered - stored), stalled,
                   faults, seconds)

    def close(self):
        for d in self.kiosks:
            d.stop()
        for i in range(len(self.workers)):
            proc = self.workers[i]
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if self.broker.poll() is None:
            self.broker.terminate()
            self.broker.wait(10)
        if self.proxy:
            self.proxy.close()


def _copy_lines(pipe, path: Path) -> None:
    with open(path, "ab") as log:
        for line in pipe:
            log.write(line)
            log.flush()


# ------------------------------------------------------------ scenarios: (rig options, fault loop)

def _every(rng, duration, low, high, act) -> int:
    """Call ``act()`` at random intervals in [low, high] s for ``duration`` s; return how many times."""
    end, n = time.monotonic() + duration, 0
    while True:
        wait = rng.uniform(low, high)
        if time.monotonic() + wait > end:
            time.sleep(max(0.0, end - time.monotonic()))
            return n
        time.sleep(wait)
        act()
        n += 1


def broker_restarts(persistence):
    def run(rig, rng, duration):
        def bounce():
            rig.kill_broker()
            time.sleep(rng.uniform(0.3, 1.5))
            rig.start_broker()
        return _every(rng, duration, 2.0, 4.0, bounce)
    return {"persistence": persistence}, run


def host_sigkill():
    def run(rig, rng, duration):
        def crash():
            rig.kill_host(0)
            time.sleep(rng.uniform(0.2, 1.0))
            rig.start_host(0)
        return _every(rng, duration, 2.0, 4.0, crash)
    return {}, run


def device_power_cuts():
    def run(rig, rng, duration):
        return _every(rng, duration, 1.0, 3.0, lambda: rig.power_cut(rng.randrange(len(rig.kiosks))))
    return {}, run


def offline_then_backlog():
    """The broker is away for most of the run (a day offline, compressed): kiosks queue, then deliver."""
    def run(rig, rng, duration):
        rig.kill_broker(signal.SIGTERM)
        time.sleep(duration * 0.8)
        rig.start_broker()
        time.sleep(duration * 0.2)
        return 1
    return {"persistence": True}, run


def lossy_link():
    def run(rig, rng, duration):
        time.sleep(duration)
        return rig.proxy.cuts
    return {"proxy": True}, run


def shared_worker_killed():
    def run(rig, rng, duration):
        time.sleep(duration * 0.4)
        rig.kill_host(1)
        time.sleep(duration * 0.6)
        return 1
    return {"workers": 2}, run


def host_disk_full():
    """The host's disk fills up now and then: every write past the first 4 KiB of any file fails
    (RLIMIT_FSIZE on the running host, EFBIG), then space comes back."""
    def run(rig, rng, duration):
        def fill():
            pid = rig.workers[0].pid
            hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)[1]
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (4096, hard))
            time.sleep(rng.uniform(1.0, 2.5))
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))
        return _every(rng, duration, 1.5, 3.0, fill)
    return {}, run


SCENARIOS = {
    "broker SIGKILL+restart, no persistence": broker_restarts(False),
    "broker SIGKILL+restart, persistence": broker_restarts(True),
    "host SIGKILL mid-batch": host_sigkill(),
    "device power cuts": device_power_cuts(),
    "offline, then a backlog": offline_then_backlog(),
    "slow, connection-cutting link": lossy_link(),
    "2 shared-group workers, one killed": shared_worker_killed(),
    "host disk full, then space again": host_disk_full(),
}
PROFILES = {
    "short": {"scenarios": ["broker SIGKILL+restart, no persistence", "host SIGKILL mid-batch", "device power cuts",
                            "host disk full, then space again"],
              "kiosks": 2, "duration": 8.0, "settle": 45.0},
    "long": {"scenarios": list(SCENARIOS), "kiosks": 3, "duration": 40.0, "settle": 120.0},
}


def run_scenario(name: str, kiosks: int, duration: float, settle: float, seed: int, work: Path) -> Row:
    options, run = SCENARIOS[name]
    rng = random.Random(f"{seed}:{name}")
    started = time.monotonic()
    rig = Rig(work, kiosks, persistence=options.get("persistence", False), workers=options.get("workers", 1),
              proxy_rng=random.Random(f"{seed}:proxy") if options.get("proxy") else None)
    try:
        faults = run(rig, rng, duration)
        stalled = rig.settle(settle)
        return rig.account(name, faults, time.monotonic() - started, stalled)
    finally:
        rig.close()


def run_matrix(profile: str = "short", seed: int = 1, work: Path | None = None, progress=None) -> list[Row]:
    p = PROFILES[profile]
    rows = []
    base = Path(tempfile.mkdtemp(prefix="tiesense-faults-")) if work is None else Path(work)
    for i, name in enumerate(p["scenarios"]):
        rows.append(run_scenario(name, p["kiosks"], p["duration"], p["settle"], seed, base / f"s{i}"))
        if progress:
            progress(rows[-1])
    if work is None:
        shutil.rmtree(base, ignore_errors=True)
    return rows


def table(rows: list[Row]) -> str:
    out = ["| scenario | faults | answered | stored | duplicated | lost | stalled | seconds |",
           "|---|---|---|---|---|---|---|---|"]
    out += [f"| {r.scenario} | {r.faults} | {r.answered} | {r.stored} | {r.duplicated} | {r.lost} | {r.stalled} | "
            f"{r.seconds:.0f} |" for r in rows]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.faults.matrix", description=__doc__.split("\n")[0])
    ap.add_argument("--profile", choices=list(PROFILES), default="short")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", metavar="DIR", help="keep the kiosks', brokers' and hosts' files in DIR")
    a = ap.parse_args(argv)
    for exe in ("mosquitto",):
        if not (shutil.which(exe) or os.path.exists("/usr/sbin/mosquitto")):
            print(f"{exe} is not installed: apt-get install -y mosquitto", file=sys.stderr)
            return 2
    rows = run_matrix(a.profile, a.seed, Path(a.keep) if a.keep else None,
                      progress=lambda r: print(f"{r.scenario}: {'ok' if r.ok else 'NOT OK'}", file=sys.stderr,
                                               flush=True))
    print(f"tiesense fault matrix, {a.profile} profile, seed {a.seed}")
    print(table(rows))
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
