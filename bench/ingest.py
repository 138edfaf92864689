"""Ingest throughput: records per second from publish to application-level ack.

Usage (from the repository root)::

    .venv/bin/python -m bench.ingest                      # 8000 records, 3 repeats
    .venv/bin/python -m bench.ingest --records 50000      # long profile

One paho "device" publishes ``--records`` records, ``--per-message`` to a
QoS 1 message, as fast as the broker takes them, and the clock stops when the
last ack arrives. Two receivers run on each broker (the embedded amqtt, and
Mosquitto when ``/usr/sbin/mosquitto`` or ``mosquitto`` on PATH exists):

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
import shutil
import statistics
import subprocess
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
        self.c.subscribe(wire.SUB_RECORDS, qos=1)
        self.c.loop_start()
        time.sleep(0.3)

    def _on(self, c, u, msg):
        device, recs = wire.decode_batch(msg.payload)
        c.publish(wire.topic_ack(device), wire.encode_ack([(r["seq"], r["id"], wire.STORED) for r in recs]), qos=1)

    def stop(self):
        self.c.loop_stop()
        self.c.disconnect()


def run_once(url: str, recs: list[dict], per_message: int) -> float:
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


def mosquitto(workdir: Path):
    exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if exe is None:
        return None
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 100\n"
                    "max_queued_messages 1000000\n")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return proc, f"mqtt://127.0.0.1:{port}"


def bench(url: str, n: int, per_message: int, repeats: int, workdir: Path) -> dict[str, float]:
    rates: dict[str, list[float]] = {"echo": [], "tiesense": []}
    for r in range(repeats):
        echo = Echo(url)
        rates["echo"].append(n / run_once(url, records(n), per_message))
        echo.stop()
        with Host(workdir / f"bench-{time.monotonic_ns()}.db", broker_url=url, client_id=f"bench-host-{r}"):
            rates["tiesense"].append(n / run_once(url, records(n), per_message))
    return {k: statistics.median(v) for k, v in rates.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n")[0])
    p.add_argument("--records", type=int, default=8000)
    p.add_argument("--per-message", type=int, default=4, help="records per MQTT message (devices batch up to 1 KiB)")
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="tiesense-bench-") as tmp:
        work = Path(tmp)
        with EmbeddedBroker() as broker:
            rows.append(("amqtt (embedded)", bench(broker.url, a.records, a.per_message, a.repeats, work)))
        started = mosquitto(work)
        if started:
            proc, url = started
            try:
                rows.append(("Mosquitto", bench(url, a.records, a.per_message, a.repeats, work)))
            finally:
                proc.terminate()
                proc.wait(5)
    print(f"tiesense ingest bench: {a.records} records, {a.per_message} per message, median of {a.repeats}, "
          f"{os.cpu_count()} cores")
    print("| broker | echo (no checks, no database) | tiesense host | tiesense / echo |")
    print("|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['echo']:,.0f} records/s | {r['tiesense']:,.0f} records/s | "
              f"{r['tiesense'] / r['echo']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
