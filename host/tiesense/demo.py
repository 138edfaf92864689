"""The demo: an embedded broker, the host and N simulated kiosks, with a live count.

Each kiosk is the real firmware running in its own ``micropython`` process,
answering the visit survey with seeded random key presses. The host stores
and acknowledges every record; the kiosks delete what was acknowledged.
"""
from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from .devices import MissingTool, SimDevice, find_micropython, stage
from .service import Host


def run_demo(
    kiosks: int = 3,
    db_path: str | Path = "tiesense-demo.db",
    broker_url: str | None = None,
    every: float = 2.0,
    duration: float | None = None,
    workdir: str | Path | None = None,
    out=None,
) -> dict:
    """Run the demo until Ctrl-C (or for ``duration`` seconds); return the final counts.

    Parameters
    ----------
    kiosks : number of simulated kiosks, one ``micropython`` process each
    db_path : SQLite file the host writes
    broker_url : an external broker; default an embedded one on a free port
    every : seconds between two surveys at each kiosk
    duration : stop after this many seconds (None: until interrupted)
    workdir : where the kiosks' filesystems live (default: a temporary folder)
    """
    out = out if out is not None else sys.stdout  # looked up now: a default bound at import misses redirection
    micropython = find_micropython()
    own_workdir = workdir is None
    root = Path(tempfile.mkdtemp(prefix="tiesense-demo-")) if own_workdir else Path(workdir)
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)} \
        if threading.current_thread() is threading.main_thread() else {}

    # embedded_port=0: a free port, so the demo runs beside a broker (or another demo) on 1883.
    host = Host(db_path, broker_url=broker_url, embedded_port=0)
    devices: list[SimDevice] = []
    counts: dict = {}
    tty = getattr(out, "isatty", lambda: False)()
    try:
        host.start()
        print(f"tiesense demo: broker {host.broker_url}, database {db_path}, {kiosks} kiosk(s) in {root}", file=out)
        for i in range(kiosks):
            device_id = f"kiosk-{i + 1:02d}"
            login = {}
            if broker_url is None:  # the embedded broker lets in provisioned devices only
                cfg = host.device_login(device_id, site="demo").site_config
                login = {k: cfg[k] for k in ("mqtt_user", "mqtt_password", "device_key", "site", "site_key")}
            dev_root = stage(root / device_id, device_id, host.broker_url, role="kiosk",
                             auto={"seed": i + 1, "every_s": every}, **login)
            dev = SimDevice(dev_root, micropython=micropython)
            dev.start()
            devices.append(dev)
        started = time.monotonic()
        print("Ctrl-C stops everything.", file=out)
        while not stop.wait(1.0):
            counts = host.counts()
            line = (f"records stored {counts['records']:>6}  acknowledged {counts['acked']:>6}  "
                    f"duplicates {counts['duplicates']:>4}  quarantined {counts['quarantine']:>3}  "
                    f"kiosks online {counts['online']}/{kiosks}")
            print(("\r" + line) if tty else line, end="" if tty else "\n", file=out, flush=True)
            dead = [d for d in devices if d.returncode is not None]
            if dead:
                print(f"\nkiosk {dead[0].root.name} stopped (exit {dead[0].returncode}); its output is in {dead[0].output}",
                      file=out)
                break
            if duration is not None and time.monotonic() - started >= duration:
                break
    finally:
        for d in devices:
            d.stop()
        host.stop()
        for s, h in previous.items():
            signal.signal(s, h)
        if own_workdir:
            shutil.rmtree(root, ignore_errors=True)
    counts = host.counts()
    print(f"\nstopped: {counts['records']} records stored, {counts['acked']} acknowledged.", file=out)
    return counts


__all__ = ["run_demo", "MissingTool"]
