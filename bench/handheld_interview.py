"""A handheld interview with a 10-partner name generator under shrinking heaps: what it needs to run.

Usage (from the repository root)::

    .venv/bin/python -m bench.handheld_interview                      # 10 partners, a 40-organisation roster
    .venv/bin/python -m bench.handheld_interview --orgs 200 --heaps 400K,352K,320K
    .venv/bin/python -m bench.handheld_interview --heaps +128K        # 128K beside the firmware's code
    .venv/bin/python -m bench.handheld_interview --romfs --heaps 192K,160K,128K   # the firmware in flash

A roster of ``--orgs`` organisations (English and Korean names) is imported into a fresh host database, the
shipped interview (``fi_interview.md``) compiled with it and published, as ``tiesense forms publish`` does.
For each heap of ``--heaps`` (largest first) a simulated handheld runs the real firmware, precompiled by
``mpy-cross`` as a staged device runs it, under ``micropython -X heapsize=...`` against the real host over
its embedded broker: the interviewer types the respondent's roster code, names ``--partners`` partners by
their codes, answers every partner's pass (tie types, frequency, year, closeness, trust...) and the
alter-alter question of each pass (the next partner ticked), and the record must arrive as one respondent,
one tie report per partner and the alter pairs. The device prints ``micropython.mem_info()`` with each
status; the table gives, per heap, whether the interview arrived, MemoryErrors, the lowest free heap and
the smallest largest free block. It stops at the first heap that fails.

As in ``bench.kiosk_day``, the firmware's own modules are measured apart (imported under a large heap):
on this unix port their bytecode lives in the heap, while a Pico whose image freezes them
(``firmware/manifest.py``) keeps most of it in flash. A heap written with a leading "+" (the default
list: +160K, +128K, +112K, +96K) is that much beside the modules: "+128K" gives the device's data the
128 KiB a Pico with the firmware frozen leaves it. The 64-bit port's objects are about twice a
Pico's, so every figure is pessimistic.
"""
from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from .kiosk_day import _BLOCK, _GC, _MAX_FREE, code_heap, heapsize, precompile, romfs

FIRST_CODE = 101


def roster_csv(orgs: int) -> str:
    rows = ["code,name,actor_type,region"]
    for k in range(orgs):
        name = f"Cluster firm {k}" if k % 2 else f"클러스터 기업 {k}"
        rows.append(f"{FIRST_CODE + k},{name},{'sme' if k % 3 else 'university'},Gumi")
    return "\n".join(rows) + "\n"


def key(name: str, times: int = 1) -> list:
    return [["key", name]] * times


def pick(position: int) -> list:
    """The choice at ``position`` (1-based) of a select_one: the first down lands on the first."""
    return key("down", position) + key("ok")


def script(partners: int, orgs: int) -> list:
    """The interviewer's keys: respondent, name generator, one pass per partner, alter-alter ticks."""
    respondent = FIRST_CODE + orgs - 1  # the last organisation answers for itself
    named = [FIRST_CODE + k for k in range(partners)]
    out = key("ok") + pick(1) + key("ok")  # start, consent yes, the reference period notice
    out += [["type", str(respondent)]] + key("ok") + pick(1) + pick(1) + pick(1)  # org, size, sector, R&D
    for code in named:  # each partner found by its code and ticked
        out += [["type", str(code)]] + key("ok")
    out += key("up", len(named)) + key("ok")  # from the last ticked (its position) up to Done, wrapping
    for k in range(len(named)):
        # tie types: the 1st and 3rd ticked, then Done (6 types); weekly; since 2015; formal; face to face;
        # closeness 4; trust 5; we started it; both ways; importance 4; in this techno-park
        out += (key("down") + key("ok") + key("down", 2) + key("ok") + key("down", 4) + key("ok")
                + pick(4) + [["type", "2015"]] + key("ok") + pick(1) + pick(1) + pick(4) + pick(5) + pick(1)
                + pick(3) + pick(4) + pick(1))
        later = len(named) - k - 1
        if later:  # which later partners work with this one: the next one ticked, then Done
            out += key("down") + key("ok") + key("down", later + 1) + key("ok")
    return out + [["wait_ms", 500]]


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def run(heap: str, partners: int, orgs: int, work: Path, in_romfs: bool = False) -> dict:
    from tiesense import wire
    from tiesense.devices import SimDevice, stage
    from tiesense.publishing import compile_with_roster, publish
    from tiesense.service import Host
    from tiesense.store import Store
    from tiesense.store.roster import parse_csv
    from tiesense.xlsform.instruments import source

    db = work / "park.db"
    with Store(db) as store:
        store.import_roster(parse_csv(roster_csv(orgs)), source="bench")
        compiled = compile_with_roster(store, source("fi_interview"), "handheld")
        form = dict(compiled.form, version=str(int(compiled.form["version"]) + 1))  # newer than the built-in
        publish(store, form)
    root = work / "handheld"
    (root / "forms").mkdir(parents=True)
    (root / "forms" / "fi_interview.json").write_bytes(wire.encode(form))
    with Host(db) as host:
        login = host.device_login("handheld-01", role="handheld")
        stage(root, "handheld-01", host.broker_url, role="handheld", script=script(partners, orgs), thanks_ms=0,
              status_s=1, sim_mem_info=True, mqtt_user="handheld-01", mqtt_password=login.password,
              device_key=login.key)
        precompile(root)
        image = romfs(root) if in_romfs else 0
        code = code_heap(root, role="handheld")
        dev = SimDevice(root, heapsize=heapsize(heap, code, image)).start()
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < 300 and dev.proc.poll() is None:
                if rows(db, "SELECT count(*) FROM tie_reports")[0][0] >= partners:
                    time.sleep(1.5)  # a status or two with the record sent
                    break
                time.sleep(0.3)
        finally:
            dev.stop()
        out = dev.read_output()
    frees = [int(m.group(3)) for m in _GC.finditer(out)]
    largest = [int(m.group(1)) * _BLOCK for m in _MAX_FREE.finditer(out)]
    total = int(_GC.search(out).group(1)) if frees else 0
    return {"heap": heap, "heapsize": heapsize(heap, code, image), "image": image, "respondents": rows(db, "SELECT count(*) FROM respondents")[0][0],
            "ties": rows(db, "SELECT count(*) FROM tie_reports")[0][0],
            "pairs": rows(db, "SELECT count(*) FROM alter_pairs")[0][0],
            "memory_errors": out.count("MemoryError"), "heap_free_min": min(frees) if frees else None,
            "largest_block_min": min(largest) if largest else None, "heap_total": total, "code_heap": code,
            "form_bytes": len(wire.encode(form)), "tail": out[-1500:]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.handheld_interview", description=__doc__.splitlines()[0])
    ap.add_argument("--partners", type=int, default=10)
    ap.add_argument("--orgs", type=int, default=40, help="organisations on the roster")
    ap.add_argument("--heaps", default="+160K,+128K,+112K,+96K",
                    help="micropython -X heapsize, largest first; with a leading + that much beside the firmware's "
                         "code (as a Pico with the firmware frozen into its image gives)")
    ap.add_argument("--romfs", action="store_true",
                    help="the firmware in a ROMFS image, imported in place as from a board's flash; heaps then "
                         "count beside the image (128K: a 128 KiB heap with the firmware in flash)")
    a = ap.parse_args(argv)
    if a.orgs < a.partners + 1:
        ap.error("--orgs must exceed --partners (the respondent is on the roster too)")
    results = []
    for heap in a.heaps.split(","):
        with tempfile.TemporaryDirectory(prefix="tiesense-handheld-") as d:
            r = run(heap.strip(), a.partners, a.orgs, Path(d), in_romfs=a.romfs)
        ok = (r["respondents"], r["ties"]) == (1, a.partners) and not r["memory_errors"]
        results.append((r, ok))
        print(f"  {heap}: {'arrived' if ok else 'FAILED'}", file=sys.stderr)
        if not ok:
            print(r["tail"], file=sys.stderr)
            break
    first = results[0][0]
    print(f"tiesense handheld interview: {a.partners} partners named from a roster of {a.orgs} organisations; "
          f"the compiled interview is {first['form_bytes']:,} bytes")
    print("| micropython -X heapsize | interview stored (respondent, ties, alter pairs) | MemoryError | "
          "heap free min | largest free block min | peak beside the firmware's code |")
    print("|---|---|---|---|---|---|")
    for r, ok in results:
        rom = r["image"] + 64 if r["image"] else 0
        beside = (f"{r['heap_total'] - r['heap_free_min'] - r['code_heap'] - rom:,}" if r["heap_free_min"] is not None
                  else "-")
        print(f"| {r['heapsize']} ({r['heap']}) | {'yes' if ok else 'no'} ({r['respondents']}, {r['ties']}, {r['pairs']}) | "
              f"{r['memory_errors']} | {r['heap_free_min'] if r['heap_free_min'] is None else format(r['heap_free_min'], ',')} | "
              f"{r['largest_block_min'] if r['largest_block_min'] is None else format(r['largest_block_min'], ',')} | {beside} |")
    if first["image"]:
        print(f"the firmware is a {first['image']:,}-byte ROMFS image (added to each heap: it stands for flash); its "
              f"modules hold {first['code_heap']:,} bytes of the heap once imported in place (functions, classes, "
              "interned names)")
    else:
        print(f"the firmware's modules hold {first['code_heap']:,} bytes of the heap once imported (mostly in flash "
              "when frozen into a Pico's image)")
    return 0 if results[0][1] else 1


if __name__ == "__main__":
    raise SystemExit(main())
