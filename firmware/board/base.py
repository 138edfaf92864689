# tiesense firmware: the small hardware interface every app talks to.
#
# A board gives: keys as events ("up", "down", "ok", "back"), a text screen of
# `rows` lines of `cols` characters (a pixel screen takes lines as long as
# fits() allows, in any script the form's glyphs cover: use_glyphs()), a
# presence sensor that counts approaches, a clock (epoch seconds for records, ticks for timing), an LED, the battery
# voltage, the network link and a random source. Apps never touch machine,
# network or sockets' addresses directly, so the same app runs on the Pico W
# (picow.py) and on the unix port (sim.py).
#
# Subclasses override the hardware methods; this base holds the shared logic
# (the key queue, the approach counter, timing helpers) and safe defaults.
import os
import time

KEYS = ("up", "down", "ok", "back")


class Board:
    cols = 16
    rows = 8
    name = "base"

    def __init__(self, cfg):
        self.cfg = cfg
        self._keys = []
        self._approaches = 0
        self._ticks_seen = time.ticks_ms()
        self._uptime_ms = 0
        self.boot = 0  # boot counter (main.py counts boots in the data directory)
        self._wdt_ms = None  # the watchdog's timeout once started
        self._fed = None  # ticks of the last feed
        self.max_feed_gap_ms = 0  # the longest the app went without feeding it
        # How the clock was set this boot (wire.CLOCK_*): 0 unsynced, 1 NTP, 2 the host's signed time.
        self.clock = 0
        self._time_offset = 0  # seconds added to the hardware clock (set_time on a board without an RTC to set)

    # ------------------------------------------------------------ input

    def push_key(self, k):
        """Queue a key event (from an interrupt handler, a script, a test)."""
        if len(self._keys) < 16:
            self._keys.append(k)

    def clear_keys(self):
        """Forget queued key events (pressed while nothing was listening, e.g. on the thanks screen)."""
        self._keys = []

    def next_key(self):
        """The oldest pending key event, or None."""
        self.poll()
        if self._keys:
            return self._keys.pop(0)
        return None

    def push_presence(self):
        self._approaches += 1

    def approaches(self):
        """Approach events since the last call."""
        self.poll()
        n = self._approaches
        self._approaches = 0
        return n

    def dwell_ms(self):
        """Milliseconds the presence sensor saw someone since the last call (0 where it cannot tell)."""
        return 0

    def poll(self):
        """Read the hardware (or the script) into the queues. Override."""

    # ----------------------------------------------------------- output

    def show(self, lines):
        """Draw text lines (at most `rows`, each cut to `cols`). Override."""

    def use_glyphs(self, table):
        """Draw the current form's texts with its glyph table (docs/forms.md "Glyphs"; None: ASCII only).
        Pass it as ``form.pop("glyphs", None)``: once decoded, its base64 text is garbage.
        Boards with a pixel screen override it (display.py); a text screen has nothing to do."""

    def wide_text(self, on):
        """The screen's lines are as high as the form's glyphs (``on``: the language shown uses them), else
        as high as the 8x8 font: an English survey keeps the OLED's 8 lines though its form carries Korean.
        Pixel boards override it; a text screen has nothing to do."""

    def fits(self, text):
        """True when ``text`` fits one screen line (pixel boards measure pixels: wrap with this)."""
        return len(text) <= self.cols

    def led(self, on):
        """Status LED. Override."""

    def state(self, name):
        """The app says what it is doing ("idle", "survey", "thanks")."""
        self.led(name == "survey")

    # -------------------------------------------------------- the rest

    def time(self):
        """Epoch seconds (UTC) for records."""
        return int(time.time()) + self._time_offset

    def set_time(self, t, source):
        """Set the clock to epoch seconds ``t``; ``source`` is wire.CLOCK_NTP or wire.CLOCK_HOST."""
        self._time_offset = int(t) - int(time.time())
        self.clock = source

    def sync_ntp(self):
        """Ask an NTP server for the time (at most about a second); True when the clock was set. Override."""
        return False

    def ticks_ms(self):
        return time.ticks_ms()

    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)

    def ticks_add(self, t, delta):
        """``t`` + ``delta`` ms on the ticks circle (never ``+``: ticks wrap after about 6.2 days)."""
        return time.ticks_add(t, delta)

    def sleep_ms(self, ms):
        time.sleep_ms(ms)

    # --------------------------------------------------------- watchdog

    def start_watchdog(self, timeout_ms):
        """Start the hardware watchdog: the board resets unless feed() comes within ``timeout_ms``.
        Here (no hardware) every gap is measured, and one longer than the timeout is reported."""
        self._wdt_ms = timeout_ms
        self._fed = time.ticks_ms()

    def feed(self):
        """Feed the watchdog (the uplink does at every step of the app loop)."""
        if self._wdt_ms is None:
            return
        now = time.ticks_ms()
        gap = time.ticks_diff(now, self._fed)
        self._fed = now
        if gap > self.max_feed_gap_ms:
            self.max_feed_gap_ms = gap
            if gap > self._wdt_ms:
                print("WATCHDOG would have reset the board: %d ms without a feed" % gap)

    def uptime_s(self):
        """Seconds since boot, however long ago: ticks wrap after about 6.2 days, so the time is
        summed from the ticks between calls (the status asks every few minutes)."""
        now = time.ticks_ms()
        self._uptime_ms += time.ticks_diff(now, self._ticks_seen)
        self._ticks_seen = now
        return self._uptime_ms // 1000

    def battery_mv(self):
        """Battery voltage in mV, or None on mains."""
        return None

    def connect_network(self, timeout_ms=15000):
        """Bring up the network link; True when it is up."""
        return True

    def network_up(self):
        return True

    def urandom(self, n):
        return os.urandom(n)

    def script_done(self):
        """True when scripted input (simulations) has all been delivered."""
        return True

    def finished(self):
        """True when the app loop should end (simulations only)."""
        return False

    def reset(self):
        """Restart the device (the host's "reboot" command)."""
        raise SystemExit(0)
