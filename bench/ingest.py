"""Ingest throughput: records per second from publish to application-level ack.

Usage (from the repository root)::

    .venv/bin/python -m bench.ingest                      # 8000 records, 1 and 4 per message, 3 repeats
    .venv/bin/python -m bench.ingest --records 50000      # long profile

One paho "device" publishes ``--records`` records, ``--per-message`` to a
QoS 1 message (each value of the list in turn), as fast as the broker takes
them, and the clock stops when the last ack arrives. Two receivers run on each
broker (the embedded amqtt, and Mosquitto when ``/usr/sbin/mosquitto`` or
``mosquitto`` on PATH exists, started with the configuration
docs/operations.md gives, as a park would run it):

* ``echo``: acks every record as soon as it arrives, no checks, no database:
  the broker round-trip floor, measured in the same run;
* ``tiesense``: the real host (:class:`tiesense.service.Host`): decode, check
  the envelope and the form, dedup, one SQLite transaction per batch (WAL,
  synchronous=FULL), ack after the commit.

The table gives medians and tiesense's share of the echo rate.
"""
from __future__ import annotations

import argparse
import os
import queue
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from tiesense import wire
from tiesense.broker import EmbeddedBroker, parse_broker_url
from tiesense.service import Host

DEVICE = "bench-01"


def records(n: int) -> list[dict]:
    out = []
    for i in range(n):
        out.append(wire.make_record(DEVICE, i + 1, "tp_visit", "2026112401", "2026-11-24T09:00:00Z",
                                    "2026-11-24T09:00:30Z",
                                    {"facility": "shared_lab", "org_type": "sme", "satisfaction": 1 + i % 5},
                                    wire.new_instance_id(os.urandom)))
    return out


def client(url: str, name: str) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name)
    c.max_inflight_messages_set(100)
    c.connect(*parse_broker_url(url))
    return c


class Echo:
    """Acks each record on arrival: the floor a host cannot beat on this broker."""

    def __init__(self, url: str):
        self.c = client(url, "bench-echo")
        self.c.on_message = self._on
        ready = threading.Event()
        self.c.on_subscribe = lambda *a: ready.set()
        self.c.subscribe(wire.SUB_RECORDS, qos=1)
        self.c.loop_start()
        ready.wait(5)

    def _on(self, c, u, msg):
        device, recs = wire.decode_batch(msg.payload)
        c.publish(wire.topic_ack(device), wire.encode_ack([(r["seq"], r["id"], wire.STORED) for r in recs]), qos=1)

    def stop(self):
        self.c.loop_stop()
        self.c.disconnect()


def publish_and_time(url: str, recs: list[dict], per_message: int) -> float:
    """Seconds from the first publish to the last ack."""
    acked: queue.Queue = queue.Queue()
    dev = client(url, f"bench-device-{time.monotonic_ns()}")
    dev.on_message = lambda c, u, m: acked.put(len(wire.decode_ack(m.payload)))
    ready = threading.Event()
    dev.on_subscribe = lambda *a: ready.set()
    dev.loop_start()
    dev.subscribe(wire.topic_ack(DEVICE), qos=1)
    ready.wait(5)
    payloads = [wire.encode_batch(DEVICE, recs[i:i + per_message]) for i in range(0, len(recs), per_message)]
    start = time.perf_counter()
    for p in payloads:
        dev.publish(wire.topic_records(DEVICE), p, qos=1)
    got = 0
    while got < len(recs):
        got += acked.get(timeout=60)
    elapsed = time.perf_counter() - start
    dev.loop_stop()
    dev.disconnect()
    return elapsed


def run_once(url: str, n: int, per_message: int) -> float:
    """Seconds from the first publish to the last ack, timed by a device in a process of its own:
    devices are other machines, so the receiver under test does not share its interpreter with them."""
    out = subprocess.run([sys.executable, "-m", "bench.ingest", "--device", url, str(n), str(per_message)],
                         cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=600)
    if out.returncode:
        raise RuntimeError(f"the bench device failed: {out.stderr[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def operations_config() -> str:
    """The Mosquitto configuration docs/operations.md gives (and tests/test_operations_docs.py runs)."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "operations.md").read_text(encoding="utf-8")
    return re.search(r"<!-- mosquitto.conf -->\n```\n(.*?)\n```", doc, flags=re.S).group(1)


def start_mosquitto(conf: Path) -> subprocess.Popen:
    """Start (or, after a kill, start again) Mosquitto on the configuration :func:`mosquitto` wrote."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    return subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def mosquitto(workdir: Path):
    """Mosquitto with the operations guide's configuration on a free loopback port, its state in
    ``workdir`` (``workdir/mosquitto.conf``): ``(process, url)``, or None when it is not installed."""
    exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if exe is None:
        return None
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = workdir / "mosquitto.conf"
    conf.write_text(operations_config().replace("listener 1883", f"listener {port} 127.0.0.1")
                    .replace("/var/lib/mosquitto/", f"{workdir}/"))
    proc = start_mosquitto(conf)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"mqtt://127.0.0.1:{port}"


def forget_session(url: str, client_id: str) -> None:
    """End the broker's persistent session of ``client_id``, as an operator retiring a host would:
    an offline session left behind would have the broker queue a copy of every later message for it."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    done = threading.Event()
    c.on_connect = lambda *a: done.set()
    c.connect(*parse_broker_url(url))
    c.loop_start()
    done.wait(5)
    c.disconnect()
    c.loop_stop()


def bench(url: str, n: int, per_message: int, repeats: int, workdir: Path) -> dict[str, float]:
    rates: dict[str, list[float]] = {"echo": [], "tiesense": []}
    for r in range(repeats):
        echo = Echo(url)
        rates["echo"].append(n / run_once(url, n, per_message))
        echo.stop()
        with Host(workdir / f"bench-{time.monotonic_ns()}.db", broker_url=url) as host:
            rates["tiesense"].append(n / run_once(url, n, per_message))
        forget_session(url, host.client_id)
    return {k: statistics.median(v) for k, v in rates.items()}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--device"]:  # the device side of run_once, in its own process
        url, n, per_message = argv[1], int(argv[2]), int(argv[3])
        print(publish_and_time(url, records(n), per_message))
        return 0
    p = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n")[0])
    p.add_argument("--records", type=int, default=8000)
    p.add_argument("--per-message", default="1,4",
                   help="records per MQTT message, a comma-separated list (devices batch up to 1 KiB)")
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args(argv)
    per_message = [int(x) for x in str(a.per_message).split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="tiesense-bench-") as tmp:
        work = Path(tmp)
        with EmbeddedBroker() as broker:
            for k in per_message:
                rows.append(("amqtt (embedded)", k, bench(broker.url, a.records, k, a.repeats, work)))
        started = mosquitto(work)
        if started:
            proc, url = started
            try:
                for k in per_message:
                    rows.append(("Mosquitto", k, bench(url, a.records, k, a.repeats, work)))
            finally:
                proc.terminate()
                proc.wait(5)
    print(f"tiesense ingest bench: {a.records} records, median of {a.repeats}, {os.cpu_count()} cores")
    print("| broker | records per message | echo (no checks, no database) | tiesense host | tiesense / echo |")
    print("|---|---|---|---|---|")
    for name, k, r in rows:
        print(f"| {name} | {k} | {r['echo']:,.0f} records/s | {r['tiesense']:,.0f} records/s | "
              f"{r['tiesense'] / r['echo']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
