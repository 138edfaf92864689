"""Compiled interview on a device's heap: shared choice lists against a copy per question.

Usage (from the repository root)::

    .venv/bin/python -m bench.form_heap                 # the shipped roster, and one of 200 organisations
    .venv/bin/python -m bench.form_heap --orgs 500      # another roster size

The shipped interview (``fi_interview.md``) is compiled for the handheld as
the compiler emits it (format 2: ``roster`` and ``actor_type`` held once in
``lists``), and again with its organisation rows (``kind = org``) replaced
by ``--orgs`` made-up organisations labelled in English and Korean. Each is
also written with every shared list copied into each select that names it
(the layout of format 1, before lists were shared). For every variant the
real ``micropython`` (unix port) loads it with ``json.load`` under
``-X heapsize`` (``--heap``, 400K) and reports the heap it holds once
parsed (``gc.mem_alloc()`` around the load, after a collection), or that it
did not fit. The last column is what a device holds at every boot after the
first: the form's core, its texts and glyph bitmaps moved to flash by
``firmware/texts.py`` (``texts.load`` once to split it, under the same heap,
then again, measured). The 64-bit unix port's objects are about twice a
Pico's, so the heap figures are pessimistic.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tiesense import wire
from tiesense.devices import find_micropython
from tiesense.xlsform import compile_xlsform
from tiesense.xlsform.instruments import source

_LOAD = """
import gc, json, sys
gc.collect()
before = gc.mem_alloc()
try:
    form = json.load(open(sys.argv[1]))
except MemoryError:
    print("null")
else:
    gc.collect()
    print(gc.mem_alloc() - before)
"""


_LOAD_CORE = """
import gc, os, sys
os.chdir(sys.argv[1])  # holds forms/<id>.json, as a device's flash does
import texts
try:
    texts.load("forms/" + sys.argv[2] + ".json", sys.argv[2])  # the first boot: parsed whole, then split
except MemoryError:
    print("null")
else:
    gc.collect()
    before = gc.mem_alloc()
    core = texts.load("forms/" + sys.argv[2] + ".json", sys.argv[2])  # every later boot: the core
    gc.collect()
    print(gc.mem_alloc() - before)
"""


def with_roster(md: str, orgs: int) -> str:
    """The interview's XLSForm with its roster's organisation rows replaced by ``orgs`` made-up ones."""
    lines = md.splitlines()
    rows = [i for i, line in enumerate(lines) if re.match(r"\|\s*\|\s*roster\s*\|.*\|\s*org\s*\|\s*$", line)]
    made = [f"| | roster | {1000 + k} | Organisation number {k} of the cluster | 클러스터 기관 {k} | org |"
            for k in range(orgs)]
    return "\n".join(lines[:rows[0]] + made + lines[rows[-1] + 1:]) + "\n"


def copied_per_question(form: dict) -> dict:
    """``form`` with each shared list copied into every select naming it, and no ``lists``."""
    out = json.loads(json.dumps(form))
    lists = out.pop("lists", {})

    def walk(qs):
        for q in qs:
            if "list" in q:
                q["choices"] = json.loads(json.dumps(lists[q.pop("list")]))
            walk(q.get("questions") or ())
    walk(out["questions"])
    return out


def parsed_heap(micropython: str, data: bytes, heap: str, tmp: Path) -> int | None:
    path = tmp / "form.json"
    path.write_bytes(data)
    script = tmp / "load.py"
    script.write_text(_LOAD)
    r = subprocess.run([micropython, "-X", f"heapsize={heap}", str(script), str(path)],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"micropython failed:\n{r.stdout}{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def core_heap(micropython: str, data: bytes, form_id: str, heap: str, tmp: Path) -> int | None:
    """Heap the form holds with its texts and glyph bitmaps on flash (firmware/texts.py), or None."""
    root = tmp / "device"
    shutil.rmtree(root, ignore_errors=True)
    (root / "forms").mkdir(parents=True)
    (root / "forms" / f"{form_id}.json").write_bytes(data)
    script = tmp / "load_core.py"
    script.write_text(_LOAD_CORE)
    firmware = Path(__file__).resolve().parent.parent / "firmware"
    r = subprocess.run([micropython, "-X", f"heapsize={heap}", str(script), str(root), form_id],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, MICROPYPATH=f"{firmware}:.frozen"))
    if r.returncode != 0:
        raise RuntimeError(f"micropython failed:\n{r.stdout}{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orgs", type=int, default=200, help="organisations in the made-up roster (200)")
    ap.add_argument("--heap", default="400K", help="micropython -X heapsize (400K)")
    args = ap.parse_args(argv)
    mp = find_micropython()
    md = Path(source("fi_interview")).read_text(encoding="utf-8")
    print(f"| interview | layout | bytes | heap once parsed (-X heapsize={args.heap}) | "
          "heap with its texts and glyphs on flash |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="tiesense-form-heap-") as d:
        tmp = Path(d)
        for name, text in (("shipped roster", md), (f"{args.orgs} organisations", with_roster(md, args.orgs))):
            src = tmp / "interview.md"
            src.write_text(text, encoding="utf-8")
            form = compile_xlsform(str(src), "handheld").form
            for layout, f in (("lists shared (format 2)", form), ("copy per question", copied_per_question(form))):
                data = wire.encode(f)
                held = parsed_heap(mp, data, args.heap, tmp)
                core = core_heap(mp, data, f["id"], args.heap, tmp)
                print(f"| {name} | {layout} | {len(data):,} | {'does not fit' if held is None else f'{held:,}'} | "
                      f"{'does not fit' if core is None else f'{core:,}'} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
