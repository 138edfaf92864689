# firmware/display.py: text from a form's glyph table on a framebuf, and the boards that use it
# (board/picow.py's SSD1306 through a fake I2C, board/sim.py's PBM screenshots). The table here is
# made up (rows with known bits) so every pixel can be checked; tests/test_glyphs.py checks real
# Unifont glyphs from a compiled form against the font file.
import binascii
import gc
import os
import sys

import framebuf

import display
from runner import check_eq, raises, run

NARROW = "é"  # U+00E9
WIDE = "가나"  # U+AC00, U+B098


def narrow_rows(k):
    return bytes([(0x81 + 2 * r + k) & 0xFF for r in range(16)])


def wide_rows(k):
    return bytes([(7 * i + 3 + 11 * k) & 0xFF for i in range(32)])


def table():
    bits = narrow_rows(0) + wide_rows(0) + wide_rows(1)
    return {"h": 16, "narrow": NARROW, "wide": WIDE, "bits": binascii.b2a_base64(bits).decode().strip()}


def hlsb(w, h):
    buf = bytearray(w * h // 8)
    return buf, framebuf.FrameBuffer(buf, w, h, framebuf.MONO_HLSB)


def ink(fb, x0, y0, w, h):
    """The pixels of a w x h area as rows of bits, leftmost in the top bit (as the table stores them)."""
    out = bytearray()
    for y in range(y0, y0 + h):
        v = 0
        for x in range(x0, x0 + w):
            v = (v << 1) | (1 if fb.pixel(x, y) else 0)
        for shift in range(w - 8, -1, -8):
            out.append((v >> shift) & 0xFF)
    return bytes(out)


def test_widths_and_heights_are_in_pixels():
    t = display.Text(table())
    check_eq(t.glyphs(), 3, "glyphs in the table")
    check_eq(t.width("Hi"), 16, "ASCII is 8 px a character")
    check_eq(t.width("가나"), 32, "a wide glyph is 16 px")
    check_eq(t.width("é"), 8, "a narrow glyph is 8 px")
    check_eq(t.width("漢"), 8, "a character the table lacks takes a box's 8 px")
    check_eq(t.width("> 가"), 8 + 8 + 16, "mixed")
    check_eq(t.width("\U0001F600a"), 16, "a four-byte character the table lacks: a box")
    check_eq(t.height("plain ASCII"), 8, "an ASCII line")
    check_eq(t.height("a 가"), 16, "a line with a glyph")
    ascii_only = display.Text()
    check_eq((ascii_only.glyphs(), ascii_only.width("가"), ascii_only.height("Hello")), (0, 8, 8), "no table")


def test_wrap_breaks_by_pixels_at_spaces_and_inside_long_words():
    t = display.Text(table())
    check_eq(t.wrap("가나 가나 가나", 80), ["가나 가나", "가나"], "two words fit 80 px (72)")
    check_eq(t.wrap("가나가나가나", 40), ["가나", "가나", "가나"], "a word wider than the line breaks at a glyph")
    check_eq(t.wrap("  가", 128), ["  가"], "an indent is kept")
    check_eq(t.wrap("가나가나?", 64), ["가나가", "나?"], "a question mark never starts a line")
    check_eq(t.wrap("가?", 16), ["가", "?"], "unless nothing else can go before it")
    check_eq(t.wrap("ab\ncd", 128), ["ab", "cd"], "newlines break")
    for line in t.wrap("가나 é abc 가나가나가나가나 나", 64):
        if t.width(line) > 64:
            raise AssertionError("line %r is %d px" % (line, t.width(line)))


def test_glyphs_draw_their_bitmaps_exactly_at_any_position():
    t = display.Text(table())
    _, fb = hlsb(128, 64)
    end = t.draw(fb, "é가나", 3, 5)
    check_eq(end, 3 + 8 + 16 + 16, "x after the line")
    check_eq(ink(fb, 3, 5, 8, 16), narrow_rows(0), "é")
    check_eq(ink(fb, 11, 5, 16, 16), wide_rows(0), "가")
    check_eq(ink(fb, 27, 5, 16, 16), wide_rows(1), "나")
    # the OLED's layout (MONO_VLSB, 8 vertical pixels a byte) gets the same pixels
    vbuf = bytearray(128 * 64 // 8)
    vfb = framebuf.FrameBuffer(vbuf, 128, 64, framebuf.MONO_VLSB)
    t.draw(vfb, "나", 100, 37)
    check_eq(ink(vfb, 100, 37, 16, 16), wide_rows(1), "나 on MONO_VLSB")


def test_glyphs_are_drawn_in_the_colour_asked_for_and_leave_the_rest():
    t = display.Text(table())
    _, fb = hlsb(32, 16)
    fb.fill(1)  # an inverted (highlighted) line: ink drawn in 0
    t.draw(fb, "가", 0, 0, 0)
    expected = bytes([~b & 0xFF for b in wide_rows(0)])
    check_eq(ink(fb, 0, 0, 16, 16), expected, "inverted glyph")
    check_eq(ink(fb, 16, 0, 16, 16), b"\xff" * 32, "the rest of the line untouched")


def test_ascii_uses_the_builtin_font_on_the_glyphs_baseline():
    t = display.Text(table())
    _, fb = hlsb(64, 16)
    _, ref = hlsb(64, 16)
    t.draw(fb, "A가", 0, 0)
    ref.text("A", 0, 6, 1)  # a 16 px line puts ASCII 6 rows down
    check_eq(ink(fb, 0, 0, 8, 16), ink(ref, 0, 0, 8, 16), "A in a tall line")
    _, fb = hlsb(64, 8)
    t.draw(fb, "A", 0, 0)
    ref.fill(0)
    ref.text("A", 0, 0, 1)
    check_eq(ink(fb, 0, 0, 8, 8), ink(ref, 0, 0, 8, 8), "A in an ASCII line")


def test_a_character_the_table_lacks_draws_a_box():
    t = display.Text(table())
    _, fb = hlsb(32, 16)
    t.draw(fb, "漢", 0, 0)
    rows = ink(fb, 0, 0, 8, 16)
    check_eq(rows[0], 0x00, "a margin above")
    check_eq(rows[1], 0x7E, "the box's top")
    for r in range(2, 14):
        check_eq(rows[r], 0x42, "the box's sides, row %d" % r)
    check_eq(rows[14], 0x7E, "the box's bottom")
    check_eq(rows[15], 0x00, "a margin below")
    # with no table at all (an ASCII form shown something else), a box 8 px high
    _, fb = hlsb(32, 8)
    display.Text().draw(fb, "가", 0, 0)
    check_eq(ink(fb, 0, 0, 8, 8), b"\x00\x7e\x42\x42\x42\x42\x7e\x00", "box on an ASCII screen")


def test_drawing_allocates_nothing_per_character():
    t = display.Text(table())
    _, fb = hlsb(320, 240)
    short = "가é나A" * 2
    long = "가é나A" * 20
    t.draw(fb, "A", 0, 0)  # ASCII's one-character strings are interned at their first use; glyphs never are
    used = []
    for line in (short, long):
        gc.collect()
        gc.disable()
        before = gc.mem_alloc()
        t.draw(fb, line, 0, 0)
        used.append(gc.mem_alloc() - before)
        gc.enable()
    check_eq(used[1], used[0], "bytes allocated drawing 80 characters as for 8")


def test_lines_take_their_own_height_and_stop_when_the_screen_is_full():
    t = display.Text(table())
    _, fb = hlsb(128, 64)
    n = t.draw_lines(fb, ["가나", "OK", "é", "가", "나"], 128, 64)
    check_eq(n, 4, "16 + 8 + 16 + 16 px fit 64, 16 more do not")
    _, fb2 = hlsb(128, 64)
    check_eq(t.draw_lines(fb2, ["가나", "OK", "é", "가", "OK"], 128, 64), 5, "an 8 px line still fits")
    check_eq(ink(fb, 0, 24, 8, 16), narrow_rows(0), "é starts at y 24")
    check_eq(ink(fb, 0, 40, 16, 16), wide_rows(0), "가 starts at y 40")


def test_a_table_whose_bits_do_not_match_its_characters_is_refused_and_a_long_one_decodes_whole():
    bad = table()
    bad["bits"] = binascii.b2a_base64(b"\x00" * 40).decode().strip()
    e = raises(ValueError, display.Text, bad)
    check_eq("40 bytes of bitmaps where its characters need 80" in str(e), True, str(e))
    big = table()
    big["narrow"] = ""
    big["wide"] = "".join([chr(0xAC00 + k) for k in range(40)])  # 1,280 bytes: decoded in several chunks
    rows = b"".join([wide_rows(k) for k in range(40)])
    big["bits"] = binascii.b2a_base64(rows).decode().strip()
    t = display.Text(big)
    _, fb = hlsb(16, 16)
    for k in (0, 11, 39):
        fb.fill(0)
        t.draw(fb, chr(0xAC00 + k), 0, 0)
        check_eq(ink(fb, 0, 0, 16, 16), wide_rows(k), "glyph %d of 40" % k)


# ------------------------------------------------------------------ boards

class FakeI2C:
    def __init__(self):
        self.frames = []

    def writeto(self, addr, data):
        pass

    def writevto(self, addr, parts):
        self.frames.append(bytes(parts[1]))


class Pin:
    IN = OUT = PULL_UP = PULL_DOWN = IRQ_FALLING = IRQ_RISING = 0

    def __init__(self, *a, **k):
        pass

    def irq(self, **k):
        pass

    def value(self, v=None):
        return 1


class FakeMachine:
    Pin = Pin
    i2c = FakeI2C()

    @classmethod
    def I2C(cls, *a, **k):
        return cls.i2c


def test_picow_draws_the_forms_glyphs_on_the_oled():
    sys.modules["machine"] = FakeMachine
    sys.modules["network"] = FakeMachine
    from board.picow import Board

    b = Board({})
    check_eq((b.rows, b.fits("x" * 16), b.fits("x" * 17)), (8, True, False), "ASCII: 8 rows of 16")
    b.use_glyphs(table())
    check_eq((b.rows, b.fits("가" * 8), b.fits("가" * 8 + "!")), (4, True, False), "glyphs: 4 rows of 8 Hangul")
    b.show(["OK", "나"])
    sent = bytearray(FakeMachine.i2c.frames[-1])
    oled = framebuf.FrameBuffer(sent, 128, 64, framebuf.MONO_VLSB)
    check_eq(ink(oled, 0, 8, 16, 16), wide_rows(1), "나 on the second line, below an 8 px one")
    b.use_glyphs(None)
    check_eq(b.rows, 8, "an ASCII form again")


def test_sim_writes_the_screen_as_a_pbm():
    from board.sim import Board

    shots = "/tmp/tiesense-display-test-" + binascii.hexlify(os.urandom(4)).decode()
    try:
        os.mkdir(shots)
    except OSError:
        pass
    b = Board({"sim_display": "128x64", "screenshot_dir": shots})
    b.use_glyphs(table())
    check_eq((b.rows, b.fits("가" * 8), b.fits("가" * 9)), (4, True, False), "rows and fits as on the OLED")
    b.show(["가", "é"])
    b.show(["나"])
    with open(shots + "/screen-0001.pbm", "rb") as f:
        data = f.read()
    head = b"P4\n128 64\n"
    check_eq(data[:len(head)], head, "PBM header")
    pixels = bytearray(data[len(head):])
    check_eq(len(pixels), 128 * 64 // 8, "one bit a pixel")
    fb = framebuf.FrameBuffer(pixels, 128, 64, framebuf.MONO_HLSB)
    check_eq(ink(fb, 0, 0, 16, 16), wide_rows(0), "가 in the first screenshot")
    check_eq(ink(fb, 0, 16, 8, 16), narrow_rows(0), "é under it")
    b.screenshot(shots + "/again.pbm")
    with open(shots + "/again.pbm", "rb") as f:
        again = f.read()
    with open(shots + "/screen-0002.pbm", "rb") as f:
        check_eq(again, f.read(), "screenshot() draws the screen last shown")
    for name in os.listdir(shots):
        os.remove(shots + "/" + name)
    os.rmdir(shots)


run(globals())
