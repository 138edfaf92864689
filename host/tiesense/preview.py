"""Screen previews: a compiled form's question as the devices' screens draw it.

The firmware's own drawing code (``firmware/display.py`` through the
simulated board's ``screenshot``, ``firmware/board/sim.py``) runs under the
MicroPython unix port with a Pico W's heap, once per screen: the kiosk's
128x64 OLED and the handheld's 320x240 panel. Each writes the device's pixels
as a PBM; Pillow enlarges them into one PNG, the OLED lit on black and the
panel dark on white, side by side.

The screen is laid out here as the survey shows a question: its label (and
hint) word-wrapped by pixels with ``display.Text.wrap``, then for a select its
choices, the first one under the cursor (``>``). A text missing in the chosen
language falls back to the form's first language, as on a device.

Examples
--------
>>> from tiesense.preview import SCREENS
>>> SCREENS["kiosk"], SCREENS["handheld"]
((128, 64), (320, 240))
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .forms import choices_of
from .devices import HEAPSIZE, MissingTool, find_micropython, firmware_dir

__all__ = ["SCREENS", "Preview", "PreviewError", "find_question", "preview_question"]

#: Pixels of each device's screen.
SCREENS = {"kiosk": (128, 64), "handheld": (320, 240)}
_SCALE = {"kiosk": 4, "handheld": 2}
_MARGIN = 24
_INK = {"kiosk": ((0, 0, 0), (170, 225, 255)), "handheld": ((245, 245, 240), (20, 20, 20))}  # (paper, ink)

# Runs under micropython in the firmware folder's import path: lays the question out with the
# firmware's Text.wrap and draws it with the simulated board, one screenshot per screen.
_SCRIPT = """
import json
from board.sim import Board
req = json.load(open(%r))
form = req["form"]
q = req["question"]
lang = req["lang"]
first = (form.get("languages") or [lang])[0]

def text(t):
    if not t:
        return ""
    return t.get(lang) or t.get(first) or ""

for name, w, h, out in req["screens"]:
    b = Board({"sim_display": "%%dx%%d" %% (w, h)})
    b.use_glyphs(form.get("glyphs"))
    lines = b.text.wrap(text(q.get("label")) or q["name"], w)
    if q.get("hint"):
        lines += b.text.wrap(text(q["hint"]), w)
    for i, c in enumerate(q.get("choices") or []):
        lines += b.text.wrap(("> " if i == 0 else "  ") + (text(c.get("label")) or c["name"]), w)
    if q["type"] == "range":
        lines.append("%%d .. %%d" %% (q["start"], q["end"]))
    b.show(lines)
    b.screenshot(out)
    print("SHOWN", name, json.dumps(lines))
"""


class PreviewError(ValueError):
    """The question or language asked for is not in the form, or the firmware could not draw it."""


@dataclass
class Preview:
    """The PNG written, and the lines each screen was given (top down; those that fit are drawn)."""

    png: Path
    lines: dict[str, list[str]]


def find_question(form: dict, name: str) -> dict:
    """The question called ``name`` (repeats' questions included)."""
    def walk(qs):
        for q in qs:
            yield q
            yield from walk(q.get("questions") or ())

    found = {q["name"]: q for q in walk(form["questions"])}
    if name not in found:
        raise PreviewError(f"no question '{name}' in form {form['id']}: it has " + ", ".join(found))
    return found[name]


def preview_question(form: dict, question: str, lang: str, out: str | Path,
                     micropython: str | None = None) -> Preview:
    """Draw ``question`` of the compiled ``form`` in ``lang`` as the kiosk and the handheld show it; write a PNG.

    Parameters
    ----------
    form : dict
        A compiled form (``compile_xlsform(...).form``), with its glyphs.
    question, lang : str
        The question's name and the language code (one of ``form["languages"]``).
    out : path
        The PNG to write.
    micropython : str, optional
        The MicroPython unix port; default :func:`tiesense.devices.find_micropython`.

    Raises
    ------
    PreviewError
        An unknown question or language, or the firmware failed (its output is in the message).
    MissingTool
        No micropython, or no Pillow.
    """
    q = find_question(form, question)
    if "list" in q:  # the screen script reads the question's own choices: give it the shared list it names
        q = dict(q, choices=choices_of(form, q))
    if lang not in (form.get("languages") or []):
        raise PreviewError(f"no language '{lang}' in form {form['id']}: it has "
                           + (", ".join(form.get("languages") or []) or "no labelled texts"))
    try:
        from PIL import Image
    except ImportError:
        raise MissingTool("forms preview needs Pillow: run `pip install 'tiesense[sim]'` (or pip install pillow)"
                          ) from None
    mp = micropython or find_micropython()
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="tiesense-preview-") as tmp:
        shots = {name: str(Path(tmp) / f"{name}.pbm") for name in SCREENS}
        req = Path(tmp) / "request.json"
        req.write_text(json.dumps({"form": form, "question": q, "lang": lang,
                                   "screens": [[n, w, h, shots[n]] for n, (w, h) in SCREENS.items()]}),
                       encoding="utf-8")
        env = dict(os.environ, MICROPYPATH=str(firmware_dir()))
        r = subprocess.run([mp, "-X", f"heapsize={HEAPSIZE}", "-c", _SCRIPT % str(req)], env=env,
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise PreviewError(f"the firmware could not draw the screen:\n{r.stdout}{r.stderr}")
        lines = {}
        for line in r.stdout.splitlines():
            if line.startswith("SHOWN "):
                _, name, shown = line.split(" ", 2)
                lines[name] = json.loads(shown)
        panels = []
        for name in SCREENS:
            with Image.open(shots[name]) as pbm:
                ink = pbm.convert("L").point(lambda v: 255 if v == 0 else 0)  # PBM ink is black (0)
            paper, colour = _INK[name]
            panel = Image.composite(Image.new("RGB", ink.size, colour), Image.new("RGB", ink.size, paper), ink)
            panels.append(panel.resize((ink.width * _SCALE[name], ink.height * _SCALE[name]), Image.NEAREST))
    height = max(p.height for p in panels) + 2 * _MARGIN
    width = sum(p.width for p in panels) + _MARGIN * (len(panels) + 1)
    sheet = Image.new("RGB", (width, height), (96, 96, 96))
    x = _MARGIN
    for p in panels:
        sheet.paste(p, (x, _MARGIN))
        x += p.width + _MARGIN
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return Preview(out, lines)
