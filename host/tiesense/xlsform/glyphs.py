"""Glyphs: the bitmaps of the characters a form's labels use, for the devices' screens.

The kiosk's OLED and the handheld's panel draw ASCII with MicroPython's built-in
8x8 font and nothing else, so a compiled form carries the bitmaps of exactly
the non-ASCII characters its texts use (every label, hint, message, choice
label, group label and the title, in every language), rendered from a packaged
font: GNU Unifont's ``.hex`` file (Debian's ``unifont`` package,
``/usr/share/unifont/unifont.hex``), or another font in the same format named
by ``$TIESENSE_FONT``. A ``.hex`` line is ``CODEPOINT:ROWS``: 16 rows of 8
pixels (32 hex digits, a narrow glyph such as ``é``) or of 16 pixels (64 hex
digits, a wide glyph such as ``가``), each row's leftmost pixel in its most
significant bit.

The table (docs/forms.md, "Glyphs") is laid out for the device
(``firmware/display.py``): the characters sorted by code point in two strings,
``narrow`` and ``wide``, so the device bisects code points; and their bitmaps
concatenated in that order in one base64 string ``bits`` (``h`` rows each, one
byte a row for narrow glyphs, two for wide), which is already a MONO_HLSB
framebuffer of width 8 (narrow) or 16 (wide) holding one glyph under another.

Examples
--------
>>> form = {"title": {"ko": "설문"}, "questions": [
...     {"name": "q", "type": "note", "label": {"en": "Café", "ko": "안녕"}}]}
>>> table = glyph_table(form)
>>> table["narrow"], table["wide"], table["h"]
('é', '녕문설안', 16)
>>> len(base64.b64decode(table["bits"])) == 16 * 1 + 32 * 4
True
>>> glyph_table({"title": {"en": "ASCII only"}, "questions": []}) is None
True
"""
from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from ..forms import choices_of

__all__ = ["FONT_ENV", "DEBIAN_UNIFONT", "HEIGHT", "MissingFont", "Missing", "MissingGlyphs", "HexFont",
           "find_font", "load_font", "form_texts", "glyph_table"]

#: Environment variable naming another ``.hex`` font (e.g. a newer Unifont build).
FONT_ENV = "TIESENSE_FONT"
#: Where Debian's ``unifont`` package installs GNU Unifont's plane 0 (``apt-get install unifont``).
DEBIAN_UNIFONT = Path("/usr/share/unifont/unifont.hex")
#: Rows of every glyph in the ``.hex`` format.
HEIGHT = 16
_TEXT_FIELDS = ("label", "hint", "constraint_message", "required_message")


class MissingFont(RuntimeError):
    """No ``.hex`` font to take glyphs from; the message says how to install one."""


@dataclass(frozen=True)
class Missing:
    """Characters of one text that the font has no glyph for, and where that text is.

    ``question`` is the survey row's name (a question or a group), None for the
    form's title; ``choice`` the choice's name for a choice label.
    """

    chars: str
    question: str | None
    choice: str | None
    field: str
    lang: str


class MissingGlyphs(ValueError):
    """The font lacks characters the form uses; ``missing`` says which, and where."""

    def __init__(self, missing: list[Missing], font: Path):
        self.missing = missing
        self.font = font
        super().__init__(f"{font} has no glyph for: " + "; ".join(
            f"{m.chars!r} in {m.field} ({m.lang}) of {m.question or 'the title'}"
            + (f" choice {m.choice}" if m.choice else "") for m in missing))


def find_font(path: str | Path | None = None) -> Path:
    """The ``.hex`` font to use: ``path``, else ``$TIESENSE_FONT``, else Debian's GNU Unifont.

    Raises
    ------
    MissingFont
        Naming the file looked for and how to install it.
    """
    chosen = path or os.environ.get(FONT_ENV)
    if chosen:
        p = Path(chosen)
        if not p.is_file():
            raise MissingFont(f"no font file {p} (from {'the option' if path else '$' + FONT_ENV}): point it at a "
                              f"GNU Unifont .hex file, e.g. {DEBIAN_UNIFONT} from `sudo apt-get install unifont`")
        return p
    if DEBIAN_UNIFONT.is_file():
        return DEBIAN_UNIFONT
    raise MissingFont(f"GNU Unifont is not installed (no {DEBIAN_UNIFONT}), and labels outside ASCII need its glyphs:"
                      f" run `sudo apt-get install unifont` (Debian/Ubuntu), or set {FONT_ENV} to a .hex font")


class HexFont:
    """A font in GNU Unifont's ``.hex`` format: ``glyph(char)`` gives its rows as bytes.

    Lines are kept as text and turned into bytes on demand (a form uses a few
    dozen of the font's 57,000 glyphs).
    """

    def __init__(self, path: Path):
        self.path = path
        self._rows: dict[int, str] = {}
        with open(path, encoding="ascii") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                code, sep, rows = line.partition(":")
                if not sep or len(rows) not in (2 * HEIGHT, 4 * HEIGHT):
                    raise ValueError(f"{path} line {n} is not a .hex glyph (CODEPOINT: then 32 or 64 hex digits)")
                self._rows[int(code, 16)] = rows

    def __contains__(self, char: str) -> bool:
        return ord(char) in self._rows

    def glyph(self, char: str) -> bytes:
        """The glyph's ``HEIGHT`` rows, one byte each (narrow) or two (wide), leftmost pixel in the top bit."""
        return bytes.fromhex(self._rows[ord(char)])

    def is_wide(self, char: str) -> bool:
        return len(self._rows[ord(char)]) == 4 * HEIGHT


@lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int) -> HexFont:
    return HexFont(path)


def load_font(path: str | Path | None = None) -> HexFont:
    """The font :func:`find_font` chooses, read once per process (again if the file changes)."""
    p = find_font(path).resolve()
    return _load(p, p.stat().st_mtime_ns)


def form_texts(form: dict) -> Iterator[tuple[str | None, str | None, str, str, str]]:
    """Every text a device may show: ``(question, choice, field, lang, text)``.

    The title, then each question's label, hint and messages and its choices'
    labels (repeats' questions included), then the groups' labels.
    """
    for lang, text in (form.get("title") or {}).items():
        yield None, None, "title", lang, text

    def questions(qs):
        for q in qs:
            for field in _TEXT_FIELDS:
                for lang, text in (q.get(field) or {}).items():
                    yield q["name"], None, field, lang, text
            for c in choices_of(form, q):
                for lang, text in (c.get("label") or {}).items():
                    yield q["name"], c["name"], "label", lang, text
            yield from questions(q.get("questions") or ())

    yield from questions(form.get("questions") or ())
    for g in form.get("groups") or ():
        for lang, text in (g.get("label") or {}).items():
            yield g["name"], None, "label", lang, text


def glyph_table(form: dict, font: str | Path | HexFont | None = None) -> dict | None:
    """The glyph table of ``form``'s non-ASCII characters, or None when it uses none.

    Parameters
    ----------
    form : dict
        A compiled device form (docs/forms.md).
    font : path or HexFont, optional
        The ``.hex`` font; default :func:`find_font`'s choice. Looked for only
        when the form uses a character outside ASCII.

    Returns
    -------
    dict or None
        ``{"h": 16, "narrow": str, "wide": str, "bits": base64}`` (see the module docstring).

    Raises
    ------
    MissingFont
        No font is installed.
    MissingGlyphs
        The font lacks some character; every text with one is listed.
    """
    used: set[str] = set()
    places = []
    for question, choice, field, lang, text in form_texts(form):
        extra = dict.fromkeys(ch for ch in text if ord(ch) > 0x7F)  # in the order they are written
        if extra:
            used.update(extra)
            places.append((question, choice, field, lang, extra))
    if not used:
        return None
    hexfont = font if isinstance(font, HexFont) else load_font(font)
    missing = [Missing("".join(ch for ch in extra if ch not in hexfont), question, choice, field, lang)
               for question, choice, field, lang, extra in places if any(ch not in hexfont for ch in extra)]
    if missing:
        raise MissingGlyphs(missing, hexfont.path)
    narrow = sorted(ch for ch in used if not hexfont.is_wide(ch))
    wide = sorted(ch for ch in used if hexfont.is_wide(ch))
    bits = b"".join(hexfont.glyph(ch) for ch in narrow + wide)
    return {"h": HEIGHT, "narrow": "".join(narrow), "wide": "".join(wide), "bits": base64.b64encode(bits).decode()}
