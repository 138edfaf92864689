"""Forms over the device's MQTT receive buffer: the heap a handheld needs to check and adopt one, and the time
from the host's publish to the form stored on the device.

Usage (from the repository root)::

    .venv/bin/python -m bench.form_spool                # the shipped interview and one of 200 organisations
    .venv/bin/python -m bench.form_spool --repeats 5

For each form (the shipped interview, and the interview with ``--orgs`` made-up
organisations, ``bench/form_heap.py``'s ``with_roster``), signed for a site:

* heap: the smallest ``micropython -X heapsize`` (in 8K steps, the first of three
  passing in a row: fragmentation makes single sizes noisy) at which the
  firmware's own check runs on the message read from a file (``wire.decode_form``
  with the site key, ``survey.unsupported``), alone and while the shipped
  interview is held parsed, as on a handheld between surveys; and the check's
  time at a roomy heap (2048K);
* receive: a simulated handheld (the real firmware, ``--heap``) connected to
  a host's embedded broker on loopback; the message is published retained and the
  clock runs until the handheld prints that it stored the form (spooled to flash in
  4 KiB pieces, checked, renamed; this includes the app loop's own pace). Then
  ``firmware/mqtt.py`` alone, with the handheld's login, from its SUBSCRIBE to the
  retained message's last byte in the spool file. Medians of ``--repeats``.

The 64-bit unix port's objects are about twice a Pico's: heap figures are pessimistic.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from tiesense import wire
from tiesense.commands import embedded_login, publish_message
from tiesense.devices import SimDevice, find_micropython, firmware_dir, stage
from tiesense.forms import INSTRUMENTS, builtin_form
from tiesense.service import Host
from tiesense.xlsform import compile_xlsform
from tiesense.xlsform.instruments import source

from .form_heap import with_roster

SITE = "bench-site"
KEY = bytes(range(32))

_CHECK = """
import gc, sys, time
import wire
from survey import unsupported
held = None
if sys.argv[2] != "-":
    import json
    with open(sys.argv[2]) as f:
        held = json.load(f)
gc.collect()
t = time.ticks_ms()
with open(sys.argv[1], "rb") as f:  # as firmware/uplink.py does: read for the signature, decoded from the file
    form = wire.decode_form(f, %r, bytes(range(32)))
assert unsupported(form, True) is None
print("ok", time.ticks_diff(time.ticks_ms(), t))
""" % SITE


def check(mp: str, env: dict, script: Path, msg: Path, held: str, heap: int) -> int | None:
    r = subprocess.run([mp, "-X", f"heapsize={heap}K", str(script), str(msg), held], capture_output=True, text=True,
                       env=env, timeout=120)
    last = (r.stdout.strip().splitlines() or [""])[-1]
    return int(last.split()[1]) if r.returncode == 0 and last.startswith("ok") else None


def smallest_heap(mp, env, script, msg, held) -> int | None:
    run = 0
    for heap in range(96, 1536, 8):
        run = run + 1 if check(mp, env, script, msg, held, heap) is not None else 0
        if run == 3:
            return heap - 16
    return None


_RECEIVE = """
import os, sys, time
import mqtt
c = mqtt.MQTTClient("handheld-01", user="handheld-01", password=sys.argv[3], rx_size=4096)
got = []
c.set_spool(lambda topic, size: "spool.part", lambda topic, path, retained: got.append(os.stat(path)[6]))
c.connect(sys.argv[1], int(sys.argv[2]))
t = time.ticks_us()
c.subscribe(sys.argv[4], 1)
while not got:
    c.check_msg()
print("ok", time.ticks_diff(time.ticks_us(), t), got[0])
os.remove("spool.part")
"""


def spooled_in(mp: str, env: dict, tmp: Path, host: Host, login, topic: str) -> tuple[float, int]:
    """Milliseconds for firmware/mqtt.py to receive the retained message on ``topic`` into a file, from its
    SUBSCRIBE to the last byte on disk, and the file's size."""
    script = tmp / "receive.py"
    script.write_text(_RECEIVE)
    r = subprocess.run([mp, "-X", "heapsize=190K", str(script), host.broker.host, str(host.broker.port),
                        login.password, topic], capture_output=True, text=True, env=env, timeout=60, cwd=tmp)
    last = (r.stdout.strip().splitlines() or [""])[-1].split()
    if r.returncode != 0 or last[:1] != ["ok"]:
        raise RuntimeError(f"the receive failed:\n{r.stdout}{r.stderr}")
    return int(last[1]) / 1000, int(last[2])


def received_in(db: Path, tmp: Path, mp: str, form: dict, heap: str, timeout=60.0):
    """Seconds from the publish of ``form`` (signed with the site's key) to the handheld storing it, and
    :func:`spooled_in` for the same retained message."""
    with Host(db) as host:
        login = host.device_login("handheld-01", site=SITE, role="handheld")
        site = {k: v for k, v in login.site_config.items() if k not in ("device", "role", "broker_host", "broker_port")}
        root = stage(tmp / "handheld", "handheld-01", host.broker_url, role="handheld", script=[["wait_ms", 600000]],
                     **site)
        payload = wire.encode_form(form, {SITE: wire.key_bytes(host.store.site_key(SITE))})
        dev = SimDevice(root, micropython=mp, heapsize=heap).start()
        try:
            dev.wait_for("UPLINK connected", timeout=timeout)
            time.sleep(1.0)  # the host's retained form (the version it has) comes and goes
            t0 = time.monotonic()
            publish_message(embedded_login(db), wire.topic_form(form["id"]), payload, qos=1, retain=True)
            dev.wait_for("UPLINK stored form %s version %s" % (form["id"], form["version"]), timeout=timeout)
            took = time.monotonic() - t0
        finally:
            dev.stop()
        env = {"MICROPYPATH": f"{firmware_dir()}:{Path(wire.__file__).parent}"}
        return took, spooled_in(mp, env, tmp, host, login, wire.topic_form(form["id"]))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orgs", type=int, default=200, help="organisations in the made-up roster (200)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--heap", default="768K", help="the simulated handheld's heap for the receive runs (768K)")
    args = ap.parse_args(argv)
    mp = find_micropython()
    env = {"MICROPYPATH": f"{firmware_dir()}:{Path(wire.__file__).parent}"}
    shipped = builtin_form("fi_interview")
    print(f"| form | message bytes | smallest heap: check alone | beside the shipped interview | check ms "
          f"| subscribe to spooled (mqtt.py, median of {args.repeats}) "
          f"| publish to stored on the handheld (median of {args.repeats}, -X heapsize={args.heap}) |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="tiesense-form-spool-") as d:
        tmp = Path(d)
        src = tmp / "interview.md"
        src.write_text(with_roster(Path(source("fi_interview")).read_text(encoding="utf-8"), args.orgs),
                       encoding="utf-8")
        roster = compile_xlsform(str(src), "handheld").form
        script = tmp / "check.py"
        script.write_text(_CHECK)
        for name, form in (("shipped interview", shipped), (f"{args.orgs} organisations", roster)):
            version = str(int(shipped["version"]) + 1)
            payload = wire.encode_form(dict(form, version=version), {SITE: KEY})
            msg = tmp / "form.msg"
            msg.write_bytes(payload)
            alone = smallest_heap(mp, env, script, msg, "-")
            beside = smallest_heap(mp, env, script, msg, str(INSTRUMENTS / "fi_interview.json"))
            ms = check(mp, env, script, msg, "-", 2048)
            runs, spools = [], []
            for i in range(args.repeats):
                run = tmp / f"run-{name[:3]}-{i}"
                run.mkdir()
                took, (spool_ms, size) = received_in(run / "park.db", run, mp, dict(form, version=version), args.heap)
                assert size == len(payload), (size, len(payload))
                runs.append(took)
                spools.append(spool_ms)
            print(f"| {name} | {len(payload):,} | {alone}K | {beside}K | {ms} | {statistics.median(spools):.1f} ms "
                  f"| {statistics.median(runs) * 1000:.0f} ms |", flush=True)


if __name__ == "__main__":
    main()
