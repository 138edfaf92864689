# tiesense firmware: the handheld board (a Pico W with a CardKB keyboard and an ILI9341 panel).
#
# Wiring (hardware/handheld/pinout.toml is checked against the PIN_* constants):
#   GP4 SDA, GP5 SCL (I2C0, 100 kHz): M5Stack CardKB at 0x5F
#   GP10 SCK, GP11 MOSI, GP12 MISO (SPI1): ILI9341 320x240 TFT,
#   GP13 CS, GP14 D/C, GP15 RESET as GPIOs, GP16 the backlight (PWM dims it)
#   GP26 (ADC0): VSYS/2 from a 100k/100k divider (the Pico W's own VSYS
#        sense on GP29 shares a pin with the wireless chip: see pinout.toml)
# Wi-Fi, the LED, NTP, the RTC and the watchdog are the Pico W's, inherited
# from board/picow.py; there are no push buttons and no presence sensor.
#
# Keys. The CardKB answers a one-byte read with the key pressed since the
# last read (0: none). poll() reads it at every pass of the app loop (a
# 0.2 ms I2C transfer) and queues events: the arrows "up" "down" "left"
# "right", Enter "ok", Esc "back", Backspace "del", and every printable
# character as itself (a one-character string), which text and number
# questions take as typed input.
#
# Screen. The ILI9341 has its own frame memory, so the board keeps only a
# 1-bit frame (320x240/8 = 9,600 bytes) in RAM, not 153,600 bytes of
# RGB565. show() draws the text lines into it, then sends only the bands of
# 16 rows whose bits changed (a CRC per band), each converted to RGB565 by
# framebuf's blit with a two-colour palette (in C, no per-pixel Python)
# into one band buffer of 10,240 bytes reused for every band. Lines are 16
# pixels apart (40 x 15 characters): the form's glyphs (display.py, 16 px,
# Korean) or the 8x8 font centred in each line.
# The driver is written here from the ILI9341 datasheet (commands 0x01
# software reset, 0x11 sleep out, 0x3A pixel format, 0x36 memory access
# control, 0x29 display on, 0x2A/0x2B column/page address, 0x2C write).
import binascii
import framebuf
import gc
import machine
import time

from micropython import const

from board.base import Board as _Base
from board.picow import Board as _PicoW
from display import Text

PIN_SDA = const(4)
PIN_SCL = const(5)
PIN_SCK = const(10)
PIN_MOSI = const(11)
PIN_MISO = const(12)
PIN_CS = const(13)
PIN_DC = const(14)
PIN_RST = const(15)
PIN_LED = const(16)
PIN_BATTERY = const(26)
I2C_ADDR = const(0x5F)

W = const(320)
H = const(240)
BAND = const(16)  # rows per transfer, and per text line
_ROW_BYTES = const(40)  # W // 8 in MONO_HLSB

# CardKB key codes (M5Stack's table; hardware/handheld/pinout.toml lists them)
_NAMED = {0xB5: "up", 0xB6: "down", 0xB4: "left", 0xB7: "right", 0x0D: "ok", 0x1B: "back", 0x08: "del"}

# Colours as RGB565; swapped to the panel's byte order (most significant byte first) in the palette.
INK = const(0xFFFF)  # white
PAPER = const(0x10A2)  # a dark slate, easier on the eyes outdoors than black


def _swap(c):
    return ((c & 0xFF) << 8) | (c >> 8)


class ILI9341:
    """The panel over SPI: init, and write a band of RGB565 rows."""

    def __init__(self, spi, cs, dc, rst):
        self.spi = spi
        self.cs = cs
        self.dc = dc
        self.rst = rst
        self._one = bytearray(1)
        self._four = bytearray(4)
        cs.value(1)
        rst.value(1)
        time.sleep_ms(5)
        rst.value(0)
        time.sleep_ms(20)
        rst.value(1)
        time.sleep_ms(120)
        self.command(0x01)  # software reset
        time.sleep_ms(150)
        self.command(0x11)  # sleep out
        time.sleep_ms(120)
        self.command(0x3A, b"\x55")  # 16 bits per pixel
        self.command(0x36, b"\x28")  # MV | BGR: landscape, 320 columns
        self.command(0x29)  # display on

    def command(self, c, data=None):
        self.cs.value(0)
        self.dc.value(0)
        self._one[0] = c
        self.spi.write(self._one)
        if data:
            self.dc.value(1)
            self.spi.write(data)
        self.cs.value(1)

    def _window(self, cmd, a, b):
        f = self._four
        f[0] = a >> 8
        f[1] = a & 0xFF
        f[2] = b >> 8
        f[3] = b & 0xFF
        self.command(cmd, f)

    def write_band(self, y, rows, pixels):
        """Write ``rows`` full-width rows of RGB565 ``pixels`` (panel byte order) starting at row ``y``."""
        self._window(0x2A, 0, W - 1)
        self._window(0x2B, y, y + rows - 1)
        self.command(0x2C, pixels)


class Board(_PicoW):
    name = "handheld"
    cols = W // 8
    rows = H // BAND

    def __init__(self, cfg):
        _Base.__init__(self, cfg)
        self._led = machine.Pin("LED", machine.Pin.OUT)
        self._wlan = None
        self._joining = None
        self._wdt = None
        self._kb_buf = bytearray(1)
        self.kb = None
        try:
            self.kb = machine.I2C(0, sda=machine.Pin(PIN_SDA), scl=machine.Pin(PIN_SCL), freq=100000)
            self.kb.readfrom_into(I2C_ADDR, self._kb_buf)
        except OSError:
            self.kb = None
            print("board: no CardKB at 0x%02x" % I2C_ADDR)
        self._adc = machine.ADC(machine.Pin(PIN_BATTERY))
        self.text = None  # display.Text once a form's glyphs are given (use_glyphs)
        self.mono = bytearray(_ROW_BYTES * H)
        self.fb = framebuf.FrameBuffer(self.mono, W, H, framebuf.MONO_HLSB)
        mv = memoryview(self.mono)
        n = BAND * _ROW_BYTES
        self._bands = [framebuf.FrameBuffer(mv[i * n:(i + 1) * n], W, BAND, framebuf.MONO_HLSB)
                       for i in range(H // BAND)]
        self._crc = [None] * (H // BAND)
        self._rgb = bytearray(W * BAND * 2)
        self._rgb_fb = framebuf.FrameBuffer(self._rgb, W, BAND, framebuf.RGB565)
        self._palette = framebuf.FrameBuffer(bytearray(4), 2, 1, framebuf.RGB565)
        self._palette.pixel(0, 0, _swap(PAPER))
        self._palette.pixel(1, 0, _swap(INK))
        self.panel = None
        try:
            spi = machine.SPI(1, baudrate=40000000, sck=machine.Pin(PIN_SCK), mosi=machine.Pin(PIN_MOSI),
                              miso=machine.Pin(PIN_MISO))
            pin = machine.Pin
            self.panel = ILI9341(spi, pin(PIN_CS, pin.OUT), pin(PIN_DC, pin.OUT), pin(PIN_RST, pin.OUT))
        except OSError:
            print("board: no ILI9341 on SPI1")
        self._backlight = machine.PWM(machine.Pin(PIN_LED))
        self._backlight.freq(1000)
        self.backlight(100)

    # ------------------------------------------------------------ input

    def poll(self):
        kb = self.kb
        if kb is None:
            return
        for _ in range(8):  # what was typed since the last pass, one byte per read
            try:
                kb.readfrom_into(I2C_ADDR, self._kb_buf)
            except OSError:  # a loose Grove cable: no keys, no crash
                return
            c = self._kb_buf[0]
            if not c:
                return
            name = _NAMED.get(c)
            if name is not None:
                self.push_key(name)
            elif 0x20 <= c < 0x7F:
                self.push_key(chr(c))

    def approaches(self):
        self.poll()
        return 0  # no presence sensor: a handheld counts interviews, not passers-by

    def dwell_ms(self):
        return 0

    # ----------------------------------------------------------- output

    def backlight(self, percent):
        """Backlight brightness, 0-100 %."""
        self._backlight.duty_u16(max(0, min(100, percent)) * 65535 // 100)

    def use_glyphs(self, table):
        self.text = None  # the old table's bitmaps go before the new ones are decoded
        gc.collect()
        self.text = Text(table)

    def fits(self, text):
        return self.text.width(text) <= W if self.text is not None else len(text) <= self.cols

    def show(self, lines):
        fb = self.fb
        fb.fill(0)
        t = self.text
        for i, ln in enumerate(lines[:self.rows]):
            if t is None:
                fb.text(ln[:self.cols], 0, i * BAND + 4, 1)
            else:  # every line a band of 16 px: a form's glyphs (16 px) or the 8x8 font, centred
                t.draw(fb, ln, 0, i * BAND, 1, BAND)
        self.flush()

    def flush(self):
        """Send the bands of the 1-bit frame that changed since the last flush; returns how many."""
        n = BAND * _ROW_BYTES
        mv = memoryview(self.mono)
        sent = 0
        for i in range(H // BAND):
            crc = binascii.crc32(mv[i * n:(i + 1) * n])
            if crc == self._crc[i]:
                continue
            self._crc[i] = crc
            self._rgb_fb.blit(self._bands[i], 0, 0, -1, self._palette)
            if self.panel is not None:
                self.panel.write_band(i * BAND, BAND, self._rgb)
            sent += 1
        return sent

    # -------------------------------------------------------- the rest

    def battery_mv(self):
        """VSYS in mV from the divider on ADC0 (VSYS/2, 3.3 V reference)."""
        return self._adc.read_u16() * 3300 * 2 // 65535
