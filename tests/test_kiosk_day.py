"""A kiosk's day in a 128 KiB heap with its firmware in flash (issue 12, item 2).

The real firmware, precompiled and put in a ROMFS image imported in place (bench/kiosk_day.py --romfs:
the image is added to the heap asked for, standing for a board's flash), answers surveys with presence
records through two broker outages and a backlog, against Mosquitto and the host. Every survey must reach
the host once, with no MemoryError. `python -m bench.kiosk_day --romfs --heap 128K` is the whole day.
"""
from __future__ import annotations


def test_a_short_kiosk_day_runs_in_a_128k_heap_with_its_firmware_in_flash(tmp_path):
    from bench.kiosk_day import run

    r = run(surveys=16, backlog=8, heap="128K", seed=3, work=tmp_path, in_romfs=True)
    assert r["image"] > 0 and r["heapsize"] == str(r["image"] + 64 + 128 * 1024)
    assert r["memory_errors"] == 0
    assert r["surveys"] == r["stored"] == 16, r
    assert r["outages"] == 2 and r["peak_backlog"] >= 8
