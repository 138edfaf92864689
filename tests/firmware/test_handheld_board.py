# The handheld's board module (board/handheld.py) with a fake `machine` that records what goes over
# SPI and answers I2C reads from a script: the CardKB's bytes become key events (arrows, Enter, Esc,
# Backspace, typed characters), a missing or unplugged keyboard gives no keys and no crash, the
# ILI9341 gets its init sequence and then only the bands that changed, drawn in the palette's colours
# in the panel's byte order, and the battery reads VSYS through the divider.
import sys
import framebuf


class Pin:
    IN = 0
    OUT = 1
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, n, mode=None, pull=None):
        self.n = n
        self.level = 0

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v
        if self.n == 14:
            SPI.dc = v


class SPI:
    dc = 0
    log = []  # ("cmd", byte) and ("data", bytes)

    def __init__(self, *a, **k):
        pass

    def write(self, b):
        if not SPI.dc:
            SPI.log.append(("cmd", b[0]))
        elif len(b) <= 16:
            SPI.log.append(("data", bytes(b)))
        else:  # pixels: kept as 1 bit each (ink or not), and None for a colour that is neither
            SPI.log.append(("data", pixel_bits(b)))


def pixel_bits(b):
    """RGB565 pixels in the panel's byte order as one bit per pixel (1 ink, 0 paper); None if any pixel
    is in neither colour. Keeps a fake panel's memory at a Pico's scale."""
    import handheld_colours as c

    n = len(b) // 2
    bits = bytearray((n + 7) // 8)
    for i in range(n):
        hi, lo = b[2 * i], b[2 * i + 1]
        if hi == c.INK_HI and lo == c.INK_LO:
            bits[i >> 3] |= 0x80 >> (i & 7)
        elif hi != c.PAPER_HI or lo != c.PAPER_LO:
            return None
    return (n, bytes(bits))


class I2C:
    script = []  # bytes the CardKB will answer, one per read
    present = True

    def __init__(self, *a, **k):
        if not I2C.present:
            raise OSError(19)

    def readfrom_into(self, addr, buf):
        if addr != 0x5F:
            raise OSError(19)
        if I2C.script and I2C.script[0] == "unplug":
            raise OSError(5)
        buf[0] = I2C.script.pop(0) if I2C.script else 0


class ADC:
    raw = 0

    def __init__(self, pin):
        self.pin = pin

    def read_u16(self):
        return ADC.raw


class PWM:
    def __init__(self, pin):
        self.duty = None

    def freq(self, f):
        pass

    def duty_u16(self, d):
        self.duty = d


class FakeMachine:
    Pin = Pin
    SPI = SPI
    I2C = I2C
    ADC = ADC
    PWM = PWM

    @staticmethod
    def disable_irq():
        return 0

    @staticmethod
    def enable_irq(state):
        pass


sys.modules["machine"] = FakeMachine
sys.modules["network"] = FakeMachine

import time  # noqa: E402

import board.handheld as handheld  # noqa: E402
from runner import check_eq, run  # noqa: E402



class NoWait:
    """The module's ``time`` without the reset pulses' waits."""

    def __getattr__(self, name):
        return getattr(time, name)

    def sleep_ms(self, ms):
        pass


handheld.time = NoWait()


class handheld_colours:  # the palette's colours as the panel wants them: most significant byte first
    INK_HI, INK_LO = handheld.INK >> 8, handheld.INK & 0xFF
    PAPER_HI, PAPER_LO = handheld.PAPER >> 8, handheld.PAPER & 0xFF


sys.modules["handheld_colours"] = handheld_colours


def board():
    I2C.script = []
    SPI.log = []
    return handheld.Board({"wifi_ssid": ""})


def keys(b):
    b.poll()
    out = []
    k = b.next_key()
    while k is not None:
        out.append(k)
        k = b.next_key()
    return out


def test_cardkb_bytes_become_keys():
    b = board()
    I2C.script = [0xB5, 0xB6, 0x0D, 0x1B, 0x08, 0xB4, 0xB7, ord("K"), ord("7"), ord(" "), 0x80]
    check_eq(keys(b), ["up", "down", "ok", "back", "del", "left", "right", "K", "7", " "],
             "named keys, typed characters; an unknown code is dropped")
    check_eq(keys(b), [], "nothing typed since")


def test_no_keyboard_or_a_loose_cable_gives_no_keys_and_no_crash():
    I2C.present = False
    try:
        b = board()
        check_eq(b.kb, None)
        check_eq(keys(b), [])
    finally:
        I2C.present = True
    b = board()
    I2C.script = [ord("a"), "unplug", ord("b")]
    check_eq(keys(b), ["a"], "the read that failed ends this pass")
    I2C.script.pop(0)
    check_eq(keys(b), ["b"], "and the next pass reads on")


def test_the_panel_is_initialised_from_the_datasheet_sequence():
    b = board()
    cmds = [x[1] for x in SPI.log if x[0] == "cmd"]
    check_eq(cmds, [0x01, 0x11, 0x3A, 0x36, 0x29])
    check_eq([x[1] for x in SPI.log if x[0] == "data"], [b"\x55", b"\x28"], "RGB565, landscape")


def bands_written(log):
    """(first row, rows, pixel bytes) of every RAMWR after its window."""
    out = []
    i = 0
    while i < len(log):
        if log[i] == ("cmd", 0x2B):
            page = log[i + 1][1]
            y0, y1 = (page[0] << 8) | page[1], (page[2] << 8) | page[3]
            assert log[i + 2] == ("cmd", 0x2C)
            out.append((y0, y1 - y0 + 1, log[i + 3][1]))
            i += 4
        else:
            i += 1
    return out


def test_only_changed_bands_are_sent():
    b = board()
    SPI.log = []
    lines = ["1/9", "Which organisation are you from?", "", "> Hanbit Materials"]
    check_eq(b.show(lines), None)
    first = bands_written(SPI.log)
    check_eq(len(first), 15, "the first screen: every band")
    check_eq([w[0] for w in first], [16 * i for i in range(15)])
    assert all(w[1] == 16 and w[2] is not None and w[2][0] == 320 * 16 for w in first), "whole rows, two colours"
    SPI.log = []
    b.show(lines)
    check_eq(bands_written(SPI.log), [], "the same screen again sends nothing")
    lines[3] = "> Daegu Robot Institute"
    b.show(lines)
    check_eq([w[0] for w in bands_written(SPI.log)], [48], "one line changed: one band")


def test_pixels_are_the_text_in_the_palette_colours_in_panel_byte_order():
    b = board()
    SPI.log = []
    b.show(["", "Ag"])
    band = [w for w in bands_written(SPI.log) if w[0] == 16][0][2]
    check_eq(band is None, False, "every pixel is ink or paper (the palette in the panel's byte order)")
    bits = band[1]
    ref = framebuf.FrameBuffer(bytearray(16 * 2), 16, 16, framebuf.MONO_HLSB)
    ref.text("Ag", 0, 4, 1)
    for y in range(16):
        for x in range(320):
            i = y * 320 + x
            want = ref.pixel(x, y) if x < 16 else 0
            check_eq((bits[i >> 3] >> (7 - (i & 7))) & 1, want, "pixel %d,%d" % (x, y))
    assert any(ref.pixel(x, y) for x in range(16) for y in range(16))


def test_a_forms_glyphs_are_drawn_in_their_band():
    # a made-up two-glyph table (rows of known bits): the wide glyph's 16x16 pixels reach the panel as drawn
    import binascii

    bits = bytes([(7 * i + 3) & 0xFF for i in range(32)])
    b = board()
    b.use_glyphs({"h": 16, "narrow": "", "wide": "가", "bits": binascii.b2a_base64(bits).decode().strip()})
    assert b.fits("가" * 20) and not b.fits("가" * 21), "20 wide glyphs to a 320 px line"
    SPI.log = []
    b.show(["", "가"])
    band = [w for w in bands_written(SPI.log) if w[0] == 16][0][2]
    check_eq(band is None, False, "ink and paper only")
    got = band[1]
    for y in range(16):
        for x in range(16):
            want = (bits[2 * y + x // 8] >> (7 - x % 8)) & 1
            i = y * 320 + x
            check_eq((got[i >> 3] >> (7 - (i & 7))) & 1, want, "glyph pixel %d,%d" % (x, y))


def test_battery_reads_vsys_through_the_divider():
    b = board()
    ADC.raw = 39714  # 2.0 V at the pin
    check_eq(b.battery_mv(), 3999, "VSYS is twice the pin's voltage")
    check_eq(b.approaches(), 0, "no presence sensor")


def test_backlight_dims():
    b = board()
    b.backlight(50)
    check_eq(b._backlight.duty, 32767)
    b.backlight(300)
    check_eq(b._backlight.duty, 65535)


run(globals())
