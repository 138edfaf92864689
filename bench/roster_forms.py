"""The shipped interview compiled with rosters of 50, 200 and 500 organisations: bytes on the device, glyphs.

Usage (from the repository root)::

    .venv/bin/python -m bench.roster_forms                      # 50, 200 and 500 organisations
    .venv/bin/python -m bench.roster_forms --orgs 50,1000       # other roster sizes

``fi_interview.md`` is compiled for the handheld with ``compile_xlsform(...,
roster=Roster)``, its organisation rows (``kind = org``) replaced by made-up
organisations whose names alternate between English (``Gumi Electronics 17``)
and Korean (``구미 정밀 17``), as a Korean cluster's roster mixes them. For each
size it prints ``CompiledForm.size`` (canonical JSON, what the device stores),
the glyphs the form carries, and the median compile time (pyxform included).
The sizes do not depend on the machine; the time does.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

from tiesense.xlsform import compile_xlsform
from tiesense.xlsform.instruments import source
from tiesense.xlsform.roster import Roster

_KOREAN = ("구미 정밀", "대구 소재", "경북 바이오", "포항 에너지", "한빛 테크", "금오 전자", "새봄 소프트",
           "누리 기계")
_ENGLISH = ("Gumi Electronics", "Daegu Materials", "Gyeongbuk Bio", "Pohang Energy", "Hanbit Tech", "Kumoh Devices",
            "Saebom Soft", "Nuri Machinery")


def made_up_roster(n: int) -> Roster:
    """``n`` organisations, codes 1000.., names alternating English and Korean."""
    rows = []
    for k in range(n):
        names = _KOREAN if k % 2 else _ENGLISH
        rows.append({"code": 1000 + k, "name": f"{names[k % len(names)]} {k}", "actor_type": "sme"})
    return Roster.of(rows)


def glyph_count(form: dict) -> int:
    """Characters outside ASCII whose bitmaps ``form`` carries."""
    g = form.get("glyphs") or {}
    return len(g.get("narrow", "")) + len(g.get("wide", ""))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orgs", default="50,200,500", help="roster sizes, comma-separated (50,200,500)")
    ap.add_argument("--repeats", type=int, default=3, help="compiles per size for the median time (3)")
    args = ap.parse_args(argv)
    src = source("fi_interview")
    shipped = compile_xlsform(src, "handheld")
    print("tiesense roster forms bench: fi_interview for the handheld")
    print("| organisations | bytes on the device | glyphs | compile (median) |")
    print("|---|---|---|---|")
    print(f"| 3 (shipped placeholders) | {shipped.size:,} | {glyph_count(shipped.form)} | - |")
    for n in (int(s) for s in args.orgs.split(",")):
        roster = made_up_roster(n)
        times = []
        for _ in range(max(1, args.repeats)):
            t0 = time.perf_counter()
            compiled = compile_xlsform(src, "handheld", roster)
            times.append(time.perf_counter() - t0)
        print(f"| {n} | {compiled.size:,} | {glyph_count(compiled.form)} | "
              f"{statistics.median(times) * 1000:.0f} ms |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
