"""Draw a board's wiring diagram (SVG) from its pinout.toml.

    python hardware/wiring.py            # rewrites hardware/*/wiring.svg
    python hardware/wiring.py --check    # exit 1 if a wiring.svg is not what its pinout.toml draws

The Pico W is drawn from above, USB at the top, with its 40 pins in their physical
places (left column pins 1-20, right column 40-21); every pin the pinout uses gets a
wire out to its part and signal, coloured per part, and the power pins it uses are
drawn the same way. tests/test_firmware_hardware.py runs the check, so a diagram
never disagrees with the pinout the firmware is tested against.
"""
from __future__ import annotations

import sys
import tomllib
from html import escape
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Physical pins of the Pico / Pico W, top to bottom (USB at the top), from the board's pinout.
LEFT = ["GP0", "GP1", "GND", "GP2", "GP3", "GP4", "GP5", "GND", "GP6", "GP7", "GP8", "GP9", "GND", "GP10",
        "GP11", "GP12", "GP13", "GND", "GP14", "GP15"]  # pins 1..20
RIGHT = ["VBUS", "VSYS", "GND", "3V3_EN", "3V3", "ADC_VREF", "GP28", "GND", "GP27", "GP26", "RUN", "GP22",
         "GND", "GP21", "GP20", "GP19", "GP18", "GND", "GP17", "GP16"]  # pins 40..21
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
_PITCH = 22
_TOP = 90
_BODY_X, _BODY_W = 480, 140
_WIDTH = 1100


def _wires(pinout: dict) -> dict[str, list[tuple[str, str]]]:
    """Pico pin name -> [(part, signal)] for every pin and power connection of the pinout."""
    wires: dict[str, list[tuple[str, str]]] = {}
    for p in pinout.get("pin", []):
        label = p["signal"] + (f" [{p['function']}]" if p.get("function") else "")
        wires.setdefault(f"GP{p['gp']}", []).append((p["part"], label))
    for p in pinout.get("power", []):
        # ground goes to one GND pin per side (pins 3 and 38), not to all eight
        for name in (("GND@3", "GND@38") if p["pico"] == "GND" else (p["pico"],)):
            wires.setdefault(name, []).append((p["part"], p["signal"]))
    return wires


def _notes(pinout: dict) -> list[tuple[str, str]]:
    out = []
    for p in pinout.get("pin", []) + pinout.get("power", []):
        if p.get("note"):
            where = f"GP{p['gp']}" if "gp" in p else p["pico"]
            out.append((p["part"], f"{where}: {p['note']}"))
    return out


def draw(pinout: dict) -> str:
    """The SVG text of ``pinout`` (a parsed pinout.toml)."""
    wires = _wires(pinout)
    parts = []
    for conns in wires.values():
        for part, _ in conns:
            if part not in parts:
                parts.append(part)
    colour = {part: PALETTE[i % len(PALETTE)] for i, part in enumerate(parts)}
    # each used pin may carry several connections (GND, 3V3): one text line each
    rows = max(len(LEFT), 1)
    height = _TOP + rows * _PITCH + 50 + 18 * (len(pinout.get("device", [])) + len(_notes(pinout)))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
           f'viewBox="0 0 {_WIDTH} {height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">',
           f'<title>tiesense {escape(pinout["role"])} wiring: {escape(pinout["board"])}</title>',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{_WIDTH // 2}" y="28" text-anchor="middle" font-size="16" font-weight="bold">'
           f'tiesense {escape(pinout["role"])}: {escape(pinout["board"])} (top view, USB up)</text>',
           f'<text x="{_WIDTH // 2}" y="48" text-anchor="middle" fill="#555">generated from hardware/'
           f'{escape(pinout["role"])}/pinout.toml by hardware/wiring.py: edit the pinout, not this file</text>']
    body_h = rows * _PITCH + 20
    out.append(f'<rect x="{_BODY_X}" y="{_TOP - 20}" width="{_BODY_W}" height="{body_h}" rx="8" '
               'fill="#2e7d32" stroke="#1b5e20"/>')
    out.append(f'<rect x="{_BODY_X + _BODY_W // 2 - 18}" y="{_TOP - 32}" width="36" height="16" rx="3" '
               'fill="#9e9e9e" stroke="#616161"/>')
    out.append(f'<text x="{_BODY_X - 10}" y="{_TOP - 26}" text-anchor="end" font-size="13" '
               f'font-weight="bold">{escape(pinout["board"])}</text>')
    for side, names in (("left", LEFT), ("right", RIGHT)):
        for i, name in enumerate(names):
            y = _TOP + i * _PITCH
            number = i + 1 if side == "left" else 40 - i
            px = _BODY_X if side == "left" else _BODY_X + _BODY_W
            inner = px + 8 if side == "left" else px - 8
            anchor = "start" if side == "left" else "end"
            if name == "GND":
                name_key = f"GND@{number}"
            else:
                name_key = name
            used = name_key in wires
            out.append(f'<circle cx="{px}" cy="{y}" r="5" fill="{"#ffd54f" if used else "#c8e6c9"}" '
                       'stroke="#333"/>')
            out.append(f'<text x="{inner}" y="{y + 4}" text-anchor="{anchor}" fill="white">{number} {name}</text>')
            if not used:
                continue
            for j, (part, signal) in enumerate(wires[name_key]):
                c = colour[part]
                ty = y + 4 + j * 12
                if side == "left":
                    out.append(f'<line x1="{px - 5}" y1="{y}" x2="{px - 60}" y2="{y}" stroke="{c}" stroke-width="3"/>')
                    out.append(f'<text x="{px - 66}" y="{ty}" text-anchor="end" fill="{c}">'
                               f'<tspan font-weight="bold">{escape(part)}</tspan> {escape(signal)}</text>')
                else:
                    out.append(f'<line x1="{px + 5}" y1="{y}" x2="{px + 60}" y2="{y}" stroke="{c}" stroke-width="3"/>')
                    out.append(f'<text x="{px + 66}" y="{ty}" fill="{c}"><tspan font-weight="bold">{escape(part)}'
                               f'</tspan> {escape(signal)}</text>')
    y = _TOP + rows * _PITCH + 30
    for dev in pinout.get("device", []):
        extra = ", ".join(f"{k} {hex(v) if k == 'address' else v}" for k, v in dev.items()
                          if k in ("bus", "address", "width", "height", "freq"))
        out.append(f'<text x="20" y="{y}" fill="{colour.get(dev["part"], "#333")}"><tspan font-weight="bold">'
                   f'{escape(dev["part"])}</tspan> {escape(dev["driver"])}: {escape(extra)}</text>')
        y += 18
    for part, note in _notes(pinout):
        out.append(f'<text x="20" y="{y}" fill="{colour.get(part, "#333")}"><tspan font-weight="bold">'
                   f'{escape(part)}</tspan> {escape(note)}</text>')
        y += 18
    out.append("</svg>")
    return "\n".join(out) + "\n"


def boards() -> list[Path]:
    return sorted(HERE.glob("*/pinout.toml"))


def main(argv: list[str]) -> int:
    stale = []
    for toml in boards():
        svg = draw(tomllib.loads(toml.read_text()))
        target = toml.with_name("wiring.svg")
        if "--check" in argv:
            if not target.exists() or target.read_text() != svg:
                stale.append(str(target))
        else:
            target.write_text(svg)
            print(f"wrote {target}")
    if stale:
        print("out of date (run python hardware/wiring.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
