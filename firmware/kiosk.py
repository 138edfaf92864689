# tiesense firmware: the kiosk app.
#
# Idle screen until someone presses a key; the presence sensor counts
# approaches all the time (approaches vs. responses is the kiosk's second
# measure). Any key starts the visit survey; the finished record is
# appended to the flash log (the uplink sends it when it can) and a thanks
# screen follows.
#
# Idle policy: a survey with no key press for survey_idle_s is abandoned
# and nothing of it is stored. Kiosk respondents who stop half-way have
# walked away; keeping partial answers would mix incomplete visits into the
# data and hand the next visitor someone else's half-filled survey. The
# count of abandoned surveys is kept and reported, with the approaches, in
# every status message (wire.STATUS_FIELDS), so the host knows response rates. "back" on the first question cancels the same way.
#
# A newer form from the host is switched to only between surveys. The loop
# calls uplink.service() every pass, also while a survey waits for keys,
# and the USB serial offload's service() when it is on (offload.py); while
# a pull is under way the idle loop sleeps 1 ms instead of 20 (a request
# answered sooner: a pull of 500 records took twice as long with 20).
#
# Full flash: when the log cannot take another record (log.storage_full(),
# checked before each survey starts and whenever the queue shrinks) the idle
# screen says "Storage full / please tell staff" and a key press starts no
# survey, so no visitor answers questions that could not be kept. A
# StorageFull from append() anyway (something else filled the flash during
# the survey) shows the same screen; nothing raises. The uplink's counters
# carry storage_full (1/0) and flash_free (bytes) for the status message.
#
# Presence as data: per interval (presence_interval_s) the kiosk counts
# approaches, dwell (seconds the sensor saw someone, where the board can
# tell), surveys started, completed and abandoned (idle or cancelled), and
# logs them as one tp_presence record (host/tiesense/instruments/
# tp_presence.json) through the same log, signatures and acks as surveys.
# An interval in which nothing happened writes nothing (a week of empty
# nights would take flash a busy week needs); the host reads a missing
# interval of an online kiosk as zero. When the flash is full, presence
# records are dropped (and said so on the console) before any survey is.
import wire
from log import StorageFull
from survey import Survey, label, wrap

PRESENCE_FORM = "tp_presence"
PRESENCE_VERSION = "2026113001"
# Its answer fields, in the instrument's order (a host test checks them against it).
PRESENCE_FIELDS = ("interval_s", "approaches", "dwell_s", "started", "completed", "abandoned")


class Kiosk:
    def __init__(self, cfg, board, log, uplink, form, offload=None):
        self.cfg = cfg
        self.offload = offload
        self.board = board
        self.log = log
        self.uplink = uplink
        self.form = form
        self.lang = cfg["language"]
        self.idle_ms = cfg["survey_idle_s"] * 1000
        self.approaches = 0
        self.completed = 0
        self.abandoned = 0
        self.cancelled = 0
        self.refused = 0  # key presses refused while the storage was full
        self.full = False
        self.interval_ms = cfg["presence_interval_s"] * 1000
        self._interval_begin()
        self.check_storage()

    def _interval_begin(self):
        b = self.board
        self._iv_ticks = b.ticks_ms()
        self._iv_start = b.time()
        self._iv_uptime = b.uptime_s()
        self._iv_clock = b.clock
        self._iv = [0, 0, 0, 0, 0]  # approaches, dwell_ms, started, completed, abandoned

    def _interval_end(self):
        """Log the interval's counts as a tp_presence record (if anything happened) and start the next."""
        iv = self._iv
        b = self.board
        if iv[0] or iv[1] or iv[2] or iv[3] or iv[4]:
            seconds = self.interval_ms // 1000
            rec = wire.make_record_v2(PRESENCE_FORM, PRESENCE_VERSION, self._iv_start, seconds, b.boot,
                                      self._iv_uptime, self._iv_clock,
                                      [seconds, iv[0], iv[1] // 1000, iv[2], iv[3], iv[4]],
                                      wire.new_record_id(b.urandom))
            try:
                seq = self.log.append(rec)
                self.uplink.wake()
                print("KIOSK stored seq=%d presence approaches=%d started=%d completed=%d" % (
                    seq, iv[0], iv[2], iv[3]))
            except StorageFull:
                print("KIOSK storage full: presence interval not stored")
        self._interval_begin()

    def _tick(self):
        b = self.board
        n = b.approaches()
        if n:
            self.approaches += n
            self._iv[0] += n
            self.uplink.counters["approaches"] = self.approaches
            print("KIOSK approach total=%d" % self.approaches)
        self._iv[1] += b.dwell_ms()
        if b.ticks_diff(b.ticks_ms(), self._iv_ticks) >= self.interval_ms:
            self._interval_end()
        self.uplink.service()
        if self.offload is not None:
            self.offload.service()

    def check_storage(self):
        """Whether the log is full (refreshing the counters the status reports)."""
        full = self.log.storage_full()
        if full != self.full:
            print("KIOSK storage %s free=%d" % ("full" if full else "ok", self.log.free_bytes()))
        self.full = full
        self.uplink.counters["storage_full"] = 1 if full else 0
        self.uplink.counters["flash_free"] = self.log.free_bytes()
        return full

    def idle_screen(self):
        b = self.board
        if self.full:
            lines = ["Storage full", "please tell staff"]
        else:
            lines = wrap(label(self.form.get("title") or self.form["id"], self.lang), b.cols)[:3]
            lines.append("")
            lines.append("Press any key")
            lines.append("to start")
        while len(lines) < b.rows - 1:
            lines.append("")
        lines.append(("" if self.uplink.up else "offline ") + "q=%d" % self.log.depth())
        b.show(lines)

    def take_survey(self):
        b = self.board
        if self.check_storage():
            self.refused += 1
            print("KIOSK storage full: survey refused total=%d" % self.refused)
            b.clear_keys()
            self.idle_screen()
            return
        f = self.uplink.take_form()
        if f is not None:
            self.form = f
        b.state("survey")
        s = Survey(self.form, b, self.lang)
        self._iv[2] += 1
        answers = s.run(self.idle_ms, between=self._tick)
        if answers is None:
            self._iv[4] += 1
            if s.abandoned:
                self.abandoned += 1
                self.uplink.counters["abandoned"] = self.abandoned
                print("KIOSK survey abandoned (idle) total=%d" % self.abandoned)
            else:
                self.cancelled += 1
                print("KIOSK survey cancelled total=%d" % self.cancelled)
        else:
            try:
                seq = self.log.append(s.record())
            except StorageFull:
                seq = None
                self.check_storage()
                self.full = True  # shown even if an ack freed space meanwhile; the next key checks again
                print("KIOSK storage full: survey %s not stored" % s.instance_id)
            if seq is not None:
                self.completed += 1
                self._iv[3] += 1
                self.uplink.wake()
                print("KIOSK stored seq=%d id=%s" % (seq, s.instance_id))
                b.state("thanks")
                b.show(["", "Thank you!", "", "", "", "", "", ""][:b.rows])
                self._pause(self.cfg.get("thanks_ms", 1500))
                self.check_storage()
        b.clear_keys()  # a key pressed on the thanks screen is not the next visitor's first answer
        b.state("idle")
        f = self.uplink.take_form()
        if f is not None:
            self.form = f
        self.idle_screen()

    def _pause(self, ms):
        b = self.board
        t0 = b.ticks_ms()
        while b.ticks_diff(b.ticks_ms(), t0) < ms:
            self._tick()
            b.sleep_ms(20)

    def run(self):
        b = self.board
        b.state("idle")
        self.idle_screen()
        shown_up = self.uplink.up
        depth = self.log.depth()
        exit_idle = self.cfg.get("sim_exit_idle")
        while not b.finished():
            self._tick()
            if b.next_key() is not None:
                self.take_survey()
                depth = self.log.depth()
                continue
            if self.log.depth() != depth:  # acks freed flash (or records came)
                depth = self.log.depth()
                was = self.full
                if self.check_storage() != was:
                    self.idle_screen()
            if self.uplink.up != shown_up:
                shown_up = self.uplink.up
                self.idle_screen()
            if exit_idle and b.script_done() and self.log.depth() == 0:
                break
            b.sleep_ms(1 if self.offload is not None and self.offload.busy else 20)
