# tiesense firmware: text on a pixel screen, in every language the form's glyphs cover.
#
# A compiled form carries the bitmaps of the non-ASCII characters its texts use
# (docs/forms.md, "Glyphs"; host/tiesense/xlsform/glyphs.py):
#   {"h": 16, "narrow": "é…", "wide": "가나…", "bits": "<base64>"}
# each string sorted by code point, the bitmaps concatenated in that order (h
# rows each; one byte a row for narrow glyphs, 8 px wide, two for wide ones,
# 16 px). Concatenated that way the bitmaps already are two MONO_HLSB
# framebuffers, 8 (narrow) and 16 (wide) pixels wide, one glyph under another.
# A device keeps them on flash: texts.py writes the decoded bitmaps to a file
# and the table names it ({"file": path} instead of "bits"); a table with
# "bits" is decoded once into one bytearray in the heap. To draw glyph k, its
# rows are read (from the file, opened once per draw()) into a one-glyph cell
# framebuffer, 8 or 16 px wide, and the cell is blitted onto the screen through
# a two-colour palette (ink: the colour asked for; the rest: a key colour left
# transparent): no allocation per glyph.
# Code points are found by bisection in an array built once.
#
# ASCII is drawn with framebuf's built-in 8x8 font; a character neither ASCII
# nor in the table is drawn as a box, so a gap in the table shows. A line
# holding any non-ASCII character is `h` (16) pixels high, an ASCII line 8;
# ASCII in a tall line sits at its foot, on the glyphs' baseline. width(text)
# gives a line's pixels, so a caller can word-wrap by pixels (wrap() does).
import binascii
import framebuf
import os
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


def _decoded_size(b64):
    return len(b64) // 4 * 3 - (b64[-2:].count("=") if b64 else 0)


def decode_into(b64, write):
    """Hand the bytes of base64 text `b64` to `write`, a chunk at a time (never the whole on the heap)."""
    for i in range(0, len(b64), _CHUNK):
        write(binascii.a2b_base64(b64[i:i + _CHUNK]))


def _refuse(n, size):
    if n != size:
        raise ValueError("glyph table: %d bytes of bitmaps where its characters need %d" % (n, size))


def _decode(b64, size):
    # base64 into one bytearray of `size` bytes, a chunk at a time: the heap never holds the
    # bitmaps twice (a2b_base64 of the whole text, then a copy)
    _refuse(_decoded_size(b64), size)
    bits = bytearray(size)
    mv = memoryview(bits)
    at = [0]

    def put(part):
        mv[at[0]:at[0] + len(part)] = part
        at[0] += len(part)

    decode_into(b64, put)
    return bits


class _Bits:
    # the heap's bitmaps read as the file's are: seek() then readinto()
    def __init__(self, bits):
        self._mv = memoryview(bits)
        self._at = 0

    def seek(self, at):
        self._at = at

    def readinto(self, buf):
        mv = self._mv
        at = self._at
        for j in range(len(buf)):  # byte by byte: a slice would allocate a memoryview per glyph
            buf[j] = mv[at + j]
        return len(buf)


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
        self._bits = self._file = self._pal = None
        if not table:
            return
        h = table["h"]
        self.h = h
        self._narrow = _codes(table["narrow"])
        self._wide = _codes(table["wide"])
        self._split = len(self._narrow) * h
        size = self._split + 2 * h * len(self._wide)
        if table.get("file"):
            self._file = table["file"]
            _refuse(os.stat(self._file)[6], size)
        else:
            self._bits = _decode(table["bits"], size)
        self._nbuf = bytearray(h)  # one glyph's rows: a narrow one's, a wide one's
        self._wbuf = bytearray(2 * h)
        self._ncell = framebuf.FrameBuffer(self._nbuf, 8, h, framebuf.MONO_HLSB)
        self._wcell = framebuf.FrameBuffer(self._wbuf, 16, h, framebuf.MONO_HLSB)
        # maps the cell's ink (1) to the colour asked for; RGB565 holds any screen's colour
        self._pal = framebuf.FrameBuffer(bytearray(4), 2, 1, framebuf.RGB565)

    def _source(self):
        # the bitmaps to read glyphs from, for one draw(): the file on flash, else the heap's
        if self._file is not None:
            return open(self._file, "rb")
        return _Bits(self._bits)

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
        b = memoryview(text)
        pal = self._pal
        if pal is not None:
            pal.pixel(0, 0, c ^ 1)  # framebuf compares the key after the palette: the cell's 0 becomes
            pal.pixel(1, 0, c)  # it (left transparent), its ink c
        src = None  # the bitmaps, opened at the first glyph: an ASCII line reads none
        try:
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
                    if src is None:
                        src = self._source()
                    src.seek(self._split + k * len(self._wbuf))
                    src.readinto(self._wbuf)
                    fb.blit(self._wcell, x, y, c ^ 1, pal)  # only ink is drawn, in colour c
                    x += 16
                    continue
                k = _find(self._narrow, cp)
                if k >= 0:
                    if src is None:
                        src = self._source()
                    src.seek(k * len(self._nbuf))
                    src.readinto(self._nbuf)
                    fb.blit(self._ncell, x, y, c ^ 1, pal)
                else:
                    fb.rect(x + 1, y + 1, _BOX_W - 2, lh - 2, c)
                x += 8
        finally:
            if src is not None and self._file is not None:
                src.close()
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
