# tiesense firmware: text on a pixel screen, in every language the form's glyphs cover.
#
# A compiled form carries the bitmaps of the non-ASCII characters its texts use
# (docs/forms.md, "Glyphs"; host/tiesense/xlsform/glyphs.py):
#   {"h": 16, "narrow": "é…", "wide": "가나…", "bits": "<base64>"}
# each string sorted by code point, the bitmaps concatenated in that order (h
# rows each; one byte a row for narrow glyphs, 8 px wide, two for wide ones,
# 16 px). Concatenated that way the bitmaps already are two MONO_HLSB
# framebuffers, 8 (narrow) and 16 (wide) pixels wide, one glyph under another:
# Text decodes the base64 once into one bytearray and wraps it, unchanged, in
# those two framebuffers. To draw glyph k, the strip is blitted at -k*h into a
# one-glyph cell (which clips everything but glyph k) and the cell onto the
# screen through a two-colour palette (ink: the colour asked for; the rest: a
# key colour left transparent): two framebuf calls, no allocation.
# Code points are found by bisection in an array built once.
#
# ASCII is drawn with framebuf's built-in 8x8 font; a character neither ASCII
# nor in the table is drawn as a box, so a gap in the table shows. A line
# holding any non-ASCII character is `h` (16) pixels high, an ASCII line 8;
# ASCII in a tall line sits at its foot, on the glyphs' baseline. width(text)
# gives a line's pixels, so a caller can word-wrap by pixels (wrap() does).
import binascii
import framebuf
from array import array

from micropython import const

_ASCII_H = const(8)
_ASCII_W = const(8)
_BOX_W = const(8)
_CHUNK = const(512)  # base64 characters decoded at a time (a multiple of 4)
_CLOSING = b".,!?:;)]}%"  # ASCII a line must not start with
_ASCII_DROP = const(6)  # ASCII rows down from the top of a 16 px line: the 8x8 font's baseline on Unifont's


def _utf8_len(lead):
    # bytes of the UTF-8 character whose first byte is `lead`
    if lead < 0x80:
        return 1
    if lead < 0xE0:
        return 2
    if lead < 0xF0:
        return 3
    return 4


def _utf8_cp(b, i):
    # the code point of the UTF-8 character at byte i of b (text is read through a memoryview of its
    # UTF-8 bytes: iterating a str would intern every character met as a qstr, RAM never given back)
    c = b[i]
    if c < 0x80:
        return c
    if c < 0xE0:
        return ((c & 0x1F) << 6) | (b[i + 1] & 0x3F)
    if c < 0xF0:
        return ((c & 0x0F) << 12) | ((b[i + 1] & 0x3F) << 6) | (b[i + 2] & 0x3F)
    return ((c & 0x07) << 18) | ((b[i + 1] & 0x3F) << 12) | ((b[i + 2] & 0x3F) << 6) | (b[i + 3] & 0x3F)


def _codes(chars):
    # the code points of a sorted string, in an array of the right size from the start
    b = memoryview(chars)
    n = 0
    i = 0
    while i < len(b):
        n += 1
        i += _utf8_len(b[i])
    big = len(b) and _utf8_cp(b, len(b) - _utf8_len_back(b)) > 0xFFFF
    codes = array("I" if big else "H", bytes((4 if big else 2) * n))
    i = 0
    k = 0
    while i < len(b):
        codes[k] = _utf8_cp(b, i)
        k += 1
        i += _utf8_len(b[i])
    return codes


def _utf8_len_back(b):
    # bytes of the last UTF-8 character of b (not empty)
    n = 1
    while b[len(b) - n] & 0xC0 == 0x80:
        n += 1
    return n


def _decode(b64, size):
    # base64 into one bytearray of `size` bytes, a chunk at a time: the heap never holds the
    # bitmaps twice (a2b_base64 of the whole text, then its writable copy for framebuf)
    n = len(b64) // 4 * 3 - (b64[-2:].count("=") if b64 else 0)
    if n != size:
        raise ValueError("glyph table: %d bytes of bitmaps where its characters need %d" % (n, size))
    bits = bytearray(size)
    mv = memoryview(bits)
    at = 0
    for i in range(0, len(b64), _CHUNK):
        part = binascii.a2b_base64(b64[i:i + _CHUNK])
        mv[at:at + len(part)] = part
        at += len(part)
    return bits


def _find(codes, cp):
    # bisect: the index of cp in the sorted codes, or -1
    lo = 0
    hi = len(codes)
    while lo < hi:
        mid = (lo + hi) >> 1
        if codes[mid] < cp:
            lo = mid + 1
        else:
            hi = mid
    if lo < len(codes) and codes[lo] == cp:
        return lo
    return -1


class Text:
    """Lays out and draws lines of text with an optional glyph table (None: ASCII only)."""

    def __init__(self, table=None):
        self.h = _ASCII_H  # the height of a line holding non-ASCII characters
        self._narrow = self._wide = _codes("")
        self._nfb = self._wfb = self._cell = self._pal = None
        if not table:
            return
        h = table["h"]
        self.h = h
        self._narrow = _codes(table["narrow"])
        self._wide = _codes(table["wide"])
        split = len(self._narrow) * h
        mv = memoryview(_decode(table["bits"], split + 2 * h * len(self._wide)))
        if self._narrow:
            self._nfb = framebuf.FrameBuffer(mv[:split], 8, h * len(self._narrow), framebuf.MONO_HLSB)
        if self._wide:
            self._wfb = framebuf.FrameBuffer(mv[split:], 16, h * len(self._wide), framebuf.MONO_HLSB)
        self._cell = framebuf.FrameBuffer(bytearray(2 * h), 16, h, framebuf.MONO_HLSB)
        # maps the cell's ink (1) to the colour asked for; RGB565 holds any screen's colour
        self._pal = framebuf.FrameBuffer(bytearray(4), 2, 1, framebuf.RGB565)

    def glyphs(self):
        """How many glyphs the table holds."""
        return len(self._narrow) + len(self._wide)

    def char_width(self, cp):
        """Pixels of the character with code point ``cp``."""
        if cp < 0x80:
            return _ASCII_W
        if _find(self._wide, cp) >= 0:
            return 16
        return 8  # a narrow glyph, or the box of a character the table lacks

    def width(self, text):
        """Pixels ``text`` takes on one line."""
        b = memoryview(text)
        w = 0
        i = 0
        while i < len(b):
            w += self.char_width(_utf8_cp(b, i))
            i += _utf8_len(b[i])
        return w

    def height(self, text):
        """Pixels of the line holding ``text``: ``h`` with any non-ASCII character, else 8."""
        for c in memoryview(text):
            if c >= 0x80:
                return self.h
        return _ASCII_H

    def wrap(self, text, px):
        """``text`` as lines of at most ``px`` pixels, broken at spaces (a longer word at a character)."""
        lines = []
        for para in text.split("\n"):
            line = None  # spaces are kept (an indent too), except where a line breaks
            for word in para.split(" "):
                cand = word if line is None else line + " " + word
                if self.width(cand) <= px:
                    line = cand
                    continue
                if line:
                    lines.append(line)
                b = memoryview(word)
                start = 0  # the byte where the current piece of the word starts
                prev = 0  # the byte where the character before i starts
                w = 0
                i = 0
                while i < len(b):
                    cw = self.char_width(_utf8_cp(b, i))
                    if i > start and w + cw > px:
                        if b[i] in _CLOSING and prev > start:
                            i = prev  # closing punctuation never starts a line: its syllable goes with it
                            cw = self.char_width(_utf8_cp(b, i))
                        lines.append(str(b[start:i], "utf-8"))
                        start = i
                        w = 0
                    w += cw
                    prev = i
                    i += _utf8_len(b[i])
                line = str(b[start:], "utf-8")
            lines.append(line or "")
        return lines

    def draw(self, fb, text, x, y, c=1, lh=0):
        """Draw ``text`` on ``fb`` from (x, y) in colour ``c`` on a line ``lh`` px high
        (default: height(text)); returns the x after it."""
        if not lh:
            lh = self.height(text)
        drop = lh - _ASCII_H if lh > _ASCII_H else 0
        if drop > _ASCII_DROP:
            drop = _ASCII_DROP
        h = self.h
        cell = self._cell
        pal = self._pal
        key = c ^ 1  # framebuf compares the key after the palette: the cell's 0 becomes it, its ink c
        if pal is not None:
            pal.pixel(0, 0, key)
            pal.pixel(1, 0, c)
        b = memoryview(text)
        i = 0
        while i < len(b):
            cp = _utf8_cp(b, i)
            i += _utf8_len(b[i])
            if cp < 0x80:
                fb.text(chr(cp), x, y + drop, c)  # ASCII's one-character strings are interned once
                x += _ASCII_W
                continue
            k = _find(self._wide, cp)
            if k >= 0:
                cell.fill(0)
                cell.blit(self._wfb, 0, -k * h)
                fb.blit(cell, x, y, key, pal)  # only ink is drawn, in colour c
                x += 16
                continue
            k = _find(self._narrow, cp)
            if k >= 0:
                cell.fill(0)
                cell.blit(self._nfb, 0, -k * h)
                fb.blit(cell, x, y, key, pal)
            else:
                fb.rect(x + 1, y + 1, _BOX_W - 2, lh - 2, c)
            x += 8
        return x

    def draw_lines(self, fb, lines, w, h, c=1):
        """Draw ``lines`` top down on a ``w`` x ``h`` screen, each as high as it needs, while they fit;
        returns how many were drawn."""
        y = 0
        n = 0
        for line in lines:
            lh = self.height(line)
            if y + lh > h:
                break
            self.draw(fb, line, 0, y, c, lh)
            y += lh
            n += 1
        return n
