# tiesense firmware: the simulated board for the unix port.
#
# Input comes from a script file (site.json "sim_script"): a JSON list of
# steps, run in order as time passes:
#   ["wait_ms", 500]        pause the script
#   ["presence"]            one approach seen by the presence sensor
#   ["key", "down"]         a key press: "up", "down", "ok" or "back"; on a
#                           handheld (role "handheld": a keyboard) also "del",
#                           "left" and "right"
#   ["type", "Hanbit 2"]    (a handheld) each character typed, one key each
#   ["exit"]                end the app loop (the process exits 0)
# or from the demo mode (site.json "sim_auto_s": N): every N seconds someone
# approaches and starts a survey, then answers with seeded random presses
# ("sim_seed"), or live, from a person at a terminal (`tiesense kiosk --sim`),
# as UDP datagrams to 127.0.0.1:"sim_keys_port" (0: off), one event word each:
# "up", "down", "ok", "back", "presence" or "exit", and on a handheld "del" or
# one typed character; a script and live keys can be used together.
# Screen writes go to stdout, one line per screen row (always all rows),
# prefixed "SCREEN "; other firmware messages are plain prints. "sim_screen"
# ("COLSxROWS", default "21x8"; a handheld "40x15", its 320x240 panel with an
# 8x16 font) sizes the screen.
# The same lines can also be drawn as the device's pixels (display.py, with the
# form's glyphs once use_glyphs() is given them) on a "sim_display" ("WxH",
# default "128x64", the kiosk's OLED; a handheld's "320x240", its panel) and
# written as a binary PBM (P4, ink black): screenshot(path) writes the screen
# last shown, and site.json "screenshot_dir" writes every screen shown there as
# screen-0001.pbm, screen-0002.pbm, ... With glyphs, rows become what the
# display holds (16 px lines) and fits() measures pixels, as on the Pico W.
# The clock ("sim_clock"): "ntp" (default) is the computer's clock, as if NTP
# had answered at boot; "rtc-reset" is a Pico W's: it starts at 2021-01-01 at
# every boot and no NTP server answers, so only the host's signed time
# command can set it.
import json
import sys
from array import array

from board.base import KEYS, Board as _Base

_AUTO_GAP_MS = 120
# A script step as one integer (the list JSON gives would hold ~60 bytes a step of the
# heap the firmware under test has to itself on a device): a key's index in KEYS, or:
_PRESENCE = 4
_EXIT = 5
_WAIT = 8  # and up: a pause of (step - _WAIT) ms
# Below 0: the keyboard's keys, -1 - their index in _EDIT, or -ord(c) for a character typed (c >= " ").
_EDIT = ("del", "left", "right")
_RTC_RESET = 1609459200  # 2021-01-01T00:00:00Z, where the rp2 RTC starts at every boot


class Board(_Base):
    name = "sim"
    cols = 21
    rows = 8

    def __init__(self, cfg):
        _Base.__init__(self, cfg)
        self._script = array("l")
        self.keyboard = cfg.get("role") == "handheld"  # the handheld's CardKB: typed characters as keys
        self._i = 0
        self._wait_until = None
        self._exit = False
        path = cfg.get("sim_script")
        if path:
            with open(path) as f:
                steps = json.load(f)
            for step in steps:
                if not step or step[0] not in ("wait_ms", "presence", "key", "exit", "type"):
                    raise ValueError("sim script: unknown step " + repr(step))
                if step[0] == "key" and step[1] not in KEYS and not (self.keyboard and step[1] in _EDIT):
                    raise ValueError("sim script: unknown key " + repr(step[1]))
                if step[0] == "type":
                    if not self.keyboard:
                        raise ValueError("sim script: typing needs a keyboard (role handheld)")
                    for ch in step[1]:
                        if ord(ch) < 32:
                            raise ValueError("sim script: cannot type " + repr(ch))
                        self._script.append(-ord(ch))
                elif step[0] == "key" and step[1] in _EDIT:
                    self._script.append(-1 - _EDIT.index(step[1]))
                elif step[0] == "key":
                    self._script.append(KEYS.index(step[1]))
                elif step[0] == "wait_ms":
                    self._script.append(_WAIT + step[1])
                else:
                    self._script.append(_PRESENCE if step[0] == "presence" else _EXIT)
            steps = None
        screen = cfg.get("sim_screen") or ("40x15" if self.keyboard else "21x8")
        self.cols, self.rows = [int(n) for n in screen.split("x")]
        self._live = None
        if cfg.get("sim_keys_port"):
            import socket

            self._live = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._live.bind(socket.getaddrinfo("127.0.0.1", cfg["sim_keys_port"])[0][-1])
            self._live.setblocking(False)
            print("SIM live keys on udp 127.0.0.1:%d" % cfg["sim_keys_port"])
        self._auto_ms = int(cfg["sim_auto_s"] * 1000) if cfg.get("sim_auto_s") else 0
        self._rng = (cfg.get("sim_seed") or 1) & 0xFFFFFFFF or 1
        self._mode = "idle"
        self._next_auto = self.ticks_add(self.ticks_ms(), min(self._auto_ms, 1000))
        self._last_screen = None
        self._text_rows = self.rows
        self.width_px, self.height_px = [int(n) for n in (cfg.get("sim_display") or ("320x240" if self.keyboard else "128x64")).split("x")]
        if self.width_px % 8:
            raise ValueError("sim_display: the width must be a multiple of 8 (a PBM row is whole bytes)")
        self.text = None  # display.Text, once pixels are asked for (use_glyphs, screenshots)
        self._fb = None
        self._shots = 0
        self._shot_dir = cfg.get("screenshot_dir")
        if cfg.get("sim_clock") == "rtc-reset":
            import time

            self._time_offset = _RTC_RESET - int(time.time())
        else:
            self.clock = 1  # wire.CLOCK_NTP

    def _rand(self):
        # xorshift32: a small deterministic generator for demo answers
        x = self._rng
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self._rng = x
        return x

    def _poll_live(self):
        while len(self._keys) < 8:
            try:
                word = self._live.recv(16).decode()
                if len(word) > 1:
                    word = word.strip()  # an event word; one character is a typed one, a space too
            except OSError:
                return  # EAGAIN: nothing pressed
            if word in KEYS or (self.keyboard and (word in _EDIT or len(word) == 1)):
                self.push_key(word)
            elif word == "presence":
                self.push_presence()
            elif word == "exit":
                self._exit = True
            else:
                print("SIM unknown live event " + repr(word))

    def poll(self):
        now = self.ticks_ms()
        if self._live is not None:
            self._poll_live()
        while self._i < len(self._script):
            step = self._script[self._i]
            if step >= _WAIT:
                if self._wait_until is None:
                    self._wait_until = self.ticks_add(now, step - _WAIT)
                if self.ticks_diff(self._wait_until, now) > 0:
                    break
                self._wait_until = None
            elif step == _PRESENCE:
                self.push_presence()
            elif step == _EXIT:
                self._exit = True
            else:
                if len(self._keys) >= 8:
                    break  # let the app catch up; the script waits
                if step >= 0:
                    self.push_key(KEYS[step])
                else:
                    self.push_key(_EDIT[-1 - step] if step >= -len(_EDIT) else chr(-step))
            self._i += 1
        if self._auto_ms and self.ticks_diff(now, self._next_auto) >= 0:
            if self._mode == "survey":
                r = self._rand() % 10
                self.push_key("down" if r < 6 else ("up" if r < 7 else "ok"))
                self._next_auto = self.ticks_add(now, _AUTO_GAP_MS)
            elif self._mode == "idle":
                self.push_presence()
                self.push_key("ok")
                self._next_auto = self.ticks_add(now, _AUTO_GAP_MS)

    def state(self, name):
        _Base.state(self, name)
        if self._auto_ms and name != self._mode:
            wait = _AUTO_GAP_MS if name == "survey" else self._auto_ms
            self._next_auto = self.ticks_add(self.ticks_ms(), wait)
        self._mode = name

    def show(self, lines):
        if lines == self._last_screen:
            return
        self._last_screen = lines
        # every row, as a display shows the whole screen: `rows` SCREEN lines make one screen
        for i in range(self.rows):
            print("SCREEN " + (lines[i][:self.cols] if i < len(lines) else ""))
        if self._shot_dir:
            self._shots += 1
            self.screenshot("%s/screen-%04d.pbm" % (self._shot_dir, self._shots))

    def use_glyphs(self, table):
        from display import Text

        self.text = None
        self.text = Text(table)
        self.rows = self.height_px // self.text.h if table else self._text_rows

    def wide_text(self, on):
        glyphs = self.text is not None and self.text.glyphs()
        self.rows = self.height_px // self.text.h if on and glyphs else self._text_rows

    def fits(self, text):
        if self.text is None or not self.text.glyphs():
            return _Base.fits(self, text)
        return self.text.width(text) <= self.width_px

    def screenshot(self, path):
        """Write the screen last shown, drawn as the device's pixels, to ``path`` as a binary PBM."""
        import framebuf

        if self.text is None:
            self.use_glyphs(None)
        if self._fb is None:
            self._buf = bytearray(self.width_px * self.height_px // 8)
            self._fb = framebuf.FrameBuffer(self._buf, self.width_px, self.height_px, framebuf.MONO_HLSB)
        self._fb.fill(0)
        self.text.draw_lines(self._fb, self._last_screen or [], self.width_px, self.height_px)
        with open(path, "wb") as f:
            f.write(b"P4\n%d %d\n" % (self.width_px, self.height_px))
            f.write(self._buf)  # MONO_HLSB is PBM's layout: rows of bytes, leftmost pixel in the top bit

    def led(self, on):
        pass

    def script_done(self):
        return self._i >= len(self._script)

    def finished(self):
        return self._exit

    def reset(self):
        print("BOARD reset requested")
        sys.exit(0)
