"""USB serial offload throughput: records per second of `tiesense pull` from a device's backlog.

Usage (from the repository root)::

    .venv/bin/python -m bench.serial_offload                         # 500 records, 1 KiB and 16 KiB chunks, 3 repeats
    .venv/bin/python -m bench.serial_offload --records 2000 --chunk-bytes 16384

Each repeat builds a fresh handheld: the real firmware under ``micropython
-X heapsize`` of a simulated kiosk (``tiesense.devices.HEAPSIZE``), provisioned
with a key in a fresh
SQLite file, its broker unreachable, holding ``--records`` signed visit
records (``tiesense.devices.fill_log``, through its own log.py), and serving
the offload on one end of a socat pty pair
(``socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B``). The clock runs
over :meth:`tiesense.ingest.serial.SerialOffload.pull` on the other end, the
code behind ``tiesense pull``: HELLO, LIST, every GET, the ingest core's
checks and one SQLite transaction per chunk (WAL, synchronous=FULL), every
ACK frame applied on the device (signature check, flash write, compaction),
and the final LIST. Every record must be stored once and the device's log
must be empty, or the run fails.

Two more columns split the time: ``host only`` re-processes the same
records messages through a fresh IngestCore and database (no serial line,
no device), and ``device + line`` is the rest. A pty is not USB: on a Pico W
the line (USB full speed, 12 Mbit/s) and the flash are slower than here,
and the unix port's interpreter runs on a PC's CPU; the figure bounds what
the protocol and the host cost, not a Pico's.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from tiesense import wire
from tiesense.devices import HEAPSIZE, SimDevice, fill_log, find_micropython, read_log_state, stage
from tiesense.ingest import IngestCore, Message
from tiesense.ingest.serial import SerialOffload, _registry, open_port
from tiesense.provisioning import provision
from tiesense.store import Store, now_iso

DEVICE = "hand-01"


class Recording(IngestCore):
    """The ingest core, keeping the payloads it processed (for the host-only column)."""

    def __init__(self, forms):
        super().__init__(forms)
        self.payloads: list[bytes] = []

    def process(self, store, messages):
        messages = list(messages)
        self.payloads += [m.payload for m in messages]
        return super().process(store, messages)


def once(work: Path, n: int, chunk_bytes: int, micropython: str, socat: str) -> dict:
    for p in work.iterdir():
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    a, b = work / "dev-tty", work / "host-tty"
    cable = subprocess.Popen([socat, f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dev = None
    try:
        deadline = time.monotonic() + 5
        while not (a.exists() and b.exists()):
            if time.monotonic() > deadline:
                raise RuntimeError("socat made no ptys")
            time.sleep(0.02)
        db_path = work / "host.db"
        with Store(db_path) as store:
            site = provision(store, DEVICE, "bench", broker_host="127.0.0.1", broker_port=9).site_config
        keys = {k: site[k] for k in ("device_key", "site_key", "site", "mqtt_user", "mqtt_password")}
        root = stage(work / "dev", DEVICE, "mqtt://127.0.0.1:9", offload=True, serial_port=str(a), **keys)
        fill_log(root, n, micropython)
        dev = SimDevice(root, micropython=micropython).start()
        dev.wait_for("OFFLOAD listening", timeout=15)
        ser = open_port(str(b))
        try:
            with Store(db_path) as store:
                core = Recording(_registry(store))
                report = SerialOffload(ser, store, core=core).pull(chunk_bytes=chunk_bytes)
        finally:
            ser.close()
        if report.stored != n or report.remaining or read_log_state(root).pending:
            raise RuntimeError(f"pull did not store all {n} records once and drain the device: {report}")
        # the host's share: the same messages through a fresh core and database, acks encoded, nothing sent
        with Store(work / "host-only.db") as store:
            store.add_identity({"name": DEVICE, "role": "device", "site": "bench", "password_hash": "-",
                                "key": keys["device_key"], "created_at": now_iso()})
            core2 = IngestCore(_registry(store))
            t0 = time.perf_counter()
            for p in core.payloads:
                r = core2.process(store, [Message(wire.topic_records(DEVICE), p, time.time())])
                assert r.stored and not r.quarantined, r
            host_s = time.perf_counter() - t0
        return {"seconds": report.seconds, "rate": report.rate, "chunks": report.chunks, "retries": report.retries,
                "host_s": host_s}
    finally:
        if dev is not None:
            dev.stop()
        cable.terminate()
        cable.wait(5)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.serial_offload", description=__doc__.split("\n")[0])
    p.add_argument("--records", type=int, default=500)
    p.add_argument("--chunk-bytes", default="1024,16384",
                   help="bytes of records message per GET, a comma-separated list (tiesense pull: 16384)")
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args(argv)
    socat = shutil.which("socat")
    if socat is None:  # `python -m bench` goes on with the other tables
        print("tiesense serial offload bench: skipped, socat is not installed (apt-get install -y socat)")
        return 1
    micropython = find_micropython()
    rows = []
    with tempfile.TemporaryDirectory(prefix="tiesense-bench-serial-") as tmp:
        for cb in [int(x) for x in a.chunk_bytes.split(",")]:
            runs = [once(Path(tmp), a.records, cb, micropython, socat) for _ in range(a.repeats)]
            rows.append((cb, runs))
    print(f"tiesense serial offload bench: {a.records} records over a socat pty, firmware under micropython "
          f"-X heapsize={HEAPSIZE}, median of {a.repeats}, {os.cpu_count()} cores")
    print("| chunk bytes | chunks | seconds | records/s | host only | device + line | retries |")
    print("|---|---|---|---|---|---|---|")
    for cb, runs in rows:
        s = statistics.median(r["seconds"] for r in runs)
        h = statistics.median(r["host_s"] for r in runs)
        print(f"| {cb} | {runs[0]['chunks']} | {s:.2f} | {statistics.median(r['rate'] for r in runs):,.0f} "
              f"records/s | {h:.2f} s | {s - h:.2f} s | {sum(r['retries'] for r in runs)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
