# tiesense firmware: the Raspberry Pi Pico W board.
#
# Wiring (hardware/kiosk/pinout.toml is checked against the PIN_* constants):
#   GP10 up, GP11 down, GP12 ok, GP13 back: push buttons to GND, internal
#        pull-ups, interrupts on both edges debounced on the pin's level: a
#        falling edge counts as a press when the pin still reads low and the
#        key was last released at least _DEBOUNCE_MS ago, so neither the
#        bounce of a press nor that of a long press's release is a second press
#        (and no press is lost while the app loop is busy)
#   GP15 PIR presence sensor output (HC-SR501 style, active high)
#   GP4 SDA, GP5 SCL (I2C0, 400 kHz): SSD1306 128x64 OLED at 0x3C
#   on-board LED ("LED", on the CYW43 wireless chip)
# Wi-Fi via network.WLAN with power saving off: a mains kiosk that dozes
# is unreachable for acks and commands. The clock is set by NTP after the
# link comes up. Kiosks are on mains, so battery_mv() reports None.
#
# The display driver is written here from the SSD1306 datasheet: a
# framebuf in MONO_VLSB layout (one byte = 8 vertical pixels = one page),
# sent in one I2C transfer. Text is drawn by display.py: ASCII in
# framebuf's 8x8 font (16 columns, 8 rows), other characters from the
# current form's glyph table (use_glyphs): lines holding them are 16 px high,
# so such a form gets 4 rows of at most 8 Hangul (fits() measures pixels).
import gc

import framebuf
import machine
import network
import time

from micropython import const

from board.base import Board as _Base
from display import Text

PIN_UP = const(10)
PIN_DOWN = const(11)
PIN_OK = const(12)
PIN_BACK = const(13)
PIN_PIR = const(15)
PIN_SDA = const(4)
PIN_SCL = const(5)
I2C_ADDR = const(0x3C)
_DEBOUNCE_MS = const(50)
_PIR_LOCKOUT_MS = const(5000)
_W = const(128)
_H = const(64)

_INIT = (
    0xAE,  # display off
    0x20, 0x00,  # horizontal addressing
    0x40,  # start line 0
    0xA1,  # segment remap (column 127 = SEG0)
    0xA8, _H - 1,  # multiplex
    0xC8,  # COM scan from COM[N-1]
    0xD3, 0x00,  # display offset
    0xDA, 0x12,  # COM pins: alternative, no remap
    0xD5, 0x80,  # clock divide / oscillator
    0xD9, 0xF1,  # pre-charge
    0xDB, 0x30,  # VCOMH deselect
    0x81, 0xCF,  # contrast
    0xA4,  # follow RAM
    0xA6,  # not inverted
    0x8D, 0x14,  # charge pump on
    0xAF,  # display on
)


class SSD1306:
    """Text-capable SSD1306 over I2C: fill, text, show."""

    def __init__(self, i2c, addr=I2C_ADDR):
        self.i2c = i2c
        self.addr = addr
        self.buf = bytearray(_W * _H // 8)
        self.fb = framebuf.FrameBuffer(self.buf, _W, _H, framebuf.MONO_VLSB)
        self._cmd = bytearray(2)
        self._data_prefix = b"\x40"
        for c in _INIT:
            self.command(c)

    def command(self, c):
        self._cmd[0] = 0x80  # Co=1, D/C=0: one command byte follows
        self._cmd[1] = c
        self.i2c.writeto(self.addr, self._cmd)

    def show(self):
        for c in (0x21, 0, _W - 1, 0x22, 0, _H // 8 - 1):
            self.command(c)
        self.i2c.writevto(self.addr, (self._data_prefix, self.buf))


class Board(_Base):
    name = "picow"
    cols = _W // 8
    rows = _H // 8

    def __init__(self, cfg):
        _Base.__init__(self, cfg)
        self._led = machine.Pin("LED", machine.Pin.OUT)
        self._buttons = []
        self._names = ("up", "down", "ok", "back")
        self._released = [0, 0, 0, 0]  # ticks of each key's last rising edge (release)
        self._armed = [True, True, True, True]  # released for _DEBOUNCE_MS: the next falling edge is a press
        self._pressed = [False, False, False, False]  # counted, not released since
        self._hits = [0, 0, 0, 0]
        for n in (PIN_UP, PIN_DOWN, PIN_OK, PIN_BACK):
            p = machine.Pin(n, machine.Pin.IN, machine.Pin.PULL_UP)
            p.irq(trigger=machine.Pin.IRQ_FALLING | machine.Pin.IRQ_RISING, handler=self._on_key)
            self._buttons.append(p)
        self._pir = machine.Pin(PIN_PIR, machine.Pin.IN, machine.Pin.PULL_DOWN)
        self._pir_last = 0
        self._pir_hits = 0
        self._pir_since = None  # ticks when the sensor last went high (someone there)
        self._dwell = 0  # ms the sensor was high, not yet taken by dwell_ms()
        self._pir.irq(trigger=machine.Pin.IRQ_RISING | machine.Pin.IRQ_FALLING, handler=self._on_pir)
        try:
            self.display = SSD1306(machine.I2C(0, sda=machine.Pin(PIN_SDA), scl=machine.Pin(PIN_SCL), freq=400000))
        except OSError:
            self.display = None  # no display answering: run headless
            print("board: no SSD1306 at 0x%02x" % I2C_ADDR)
        self.text = Text()
        self._wlan = None
        self._joining = None  # ticks when the current Wi-Fi association began
        self._wdt = None

    # Interrupt handlers: no allocation, just counters.
    def _on_key(self, pin):
        now = time.ticks_ms()
        for i in range(4):
            if self._buttons[i] is pin:
                if pin.value():  # released (or a bounce of it): the next press must wait
                    self._released[i] = now
                    self._pressed[i] = False
                    self._armed[i] = False
                elif not self._pressed[i] and (
                        self._armed[i] or time.ticks_diff(now, self._released[i]) >= _DEBOUNCE_MS):
                    self._hits[i] += 1
                    self._pressed[i] = True
                    self._armed[i] = False
                return

    def _on_pir(self, pin):
        now = time.ticks_ms()
        if not pin.value():  # gone: the dwell of this approach
            if self._pir_since is not None:
                self._dwell += time.ticks_diff(now, self._pir_since)
                self._pir_since = None
            return
        if self._pir_since is None:
            self._pir_since = now
        if time.ticks_diff(now, self._pir_last) > _PIR_LOCKOUT_MS:
            self._pir_last = now
            self._pir_hits += 1

    def dwell_ms(self):
        now = time.ticks_ms()
        irq = machine.disable_irq()
        d = self._dwell
        self._dwell = 0
        if self._pir_since is not None:  # still there: count up to now, go on from now
            d += time.ticks_diff(now, self._pir_since)
            self._pir_since = now
        machine.enable_irq(irq)
        return d

    def poll(self):
        now = time.ticks_ms()
        irq = machine.disable_irq()
        for i in range(4):  # arm keys released long enough (a flag: no ticks arithmetic across days)
            if not self._armed[i] and not self._pressed[i] and \
                    time.ticks_diff(now, self._released[i]) >= _DEBOUNCE_MS:
                self._armed[i] = True
        hits = (self._hits[0], self._hits[1], self._hits[2], self._hits[3], self._pir_hits)
        self._hits[0] = self._hits[1] = self._hits[2] = self._hits[3] = 0
        self._pir_hits = 0
        machine.enable_irq(irq)
        for i in range(4):
            for _ in range(hits[i]):
                self.push_key(self._names[i])
        for _ in range(hits[4]):
            self.push_presence()

    def use_glyphs(self, table):
        self.text = None  # the old table's bitmaps go before the new ones are decoded
        gc.collect()
        self.text = Text(table)
        self.rows = _H // self.text.h

    def wide_text(self, on):
        self.rows = _H // (self.text.h if on else 8)

    def fits(self, text):
        return self.text.width(text) <= _W

    def show(self, lines):
        d = self.display
        if d is None:
            return
        d.fb.fill(0)
        self.text.draw_lines(d.fb, lines, _W, _H)  # as many as fit: `rows` at least; pixels clip the rest
        d.show()

    def led(self, on):
        self._led.value(1 if on else 0)

    def connect_network(self, timeout_ms=15000):
        # Never waits: the first call starts the association, later calls say whether it is up
        # (the uplink calls it at every step while connecting, and gives up on its own deadline).
        cfg = self.cfg
        if not cfg.get("wifi_ssid"):
            return False
        if self._wlan is None:
            try:
                network.country(cfg.get("wifi_country") or "XX")
            except Exception:
                pass
            self._wlan = network.WLAN(network.STA_IF)
            self._wlan.active(True)
            # Power saving off: see the module comment.
            self._wlan.config(pm=getattr(network.WLAN, "PM_NONE", 0xA11140))
        w = self._wlan
        if w.isconnected():
            self._joining = None
            self.led(False)
            return True
        now = time.ticks_ms()
        if self._joining is None or time.ticks_diff(now, self._joining) > timeout_ms:
            try:
                w.disconnect()
            except Exception:
                pass
            w.connect(cfg["wifi_ssid"], cfg.get("wifi_password") or "")
            self._joining = now
        self.led(now // 250 % 2)
        return False

    def start_watchdog(self, timeout_ms):
        _Base.start_watchdog(self, timeout_ms)
        self._wdt = machine.WDT(timeout=min(timeout_ms, 8388))  # the RP2040's longest

    def feed(self):
        _Base.feed(self)
        if self._wdt is not None:
            self._wdt.feed()

    def sync_ntp(self):
        # ntptime waits at most its timeout (1 s) for the answer; the uplink retries with backoff
        try:
            import ntptime

            ntptime.settime()
        except Exception as e:
            print("board: NTP failed:", e)
            return False
        self._time_offset = 0
        self.clock = 1  # wire.CLOCK_NTP
        return True

    def set_time(self, t, source):
        # the RTC itself is set, so time.time() (and a soft reset) keep it
        y, mo, d, h, mi, s, wd, _ = time.gmtime(int(t))
        machine.RTC().datetime((y, mo, d, wd, h, mi, s, 0))
        self._time_offset = 0
        self.clock = source

    def network_up(self):
        return self._wlan is not None and self._wlan.isconnected()

    def reset(self):
        machine.reset()
