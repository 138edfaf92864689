# tiesense firmware: the kiosk app.
#
# Idle screen until someone presses a key; the presence sensor counts
# approaches all the time (approaches vs. responses is the kiosk's second
# measure). On the idle screen up and down switch the survey's language
# (a form in more than one; the next visitor starts in the kiosk's own) and
# any other key starts the visit survey; the finished record is appended
# to the flash log (the uplink sends it when it can) and a thanks screen
# follows. A form's labels outside ASCII come with their glyphs, which the
# board draws (board.use_glyphs; lines wrap by the board's fits()).
#
# Idle policy: a survey with no key press for survey_idle_s is abandoned
# and nothing of it is stored. Kiosk respondents who stop half-way have
# walked away; keeping partial answers would mix incomplete visits into the
# data and hand the next visitor someone else's half-filled survey. The
# count of abandoned surveys is kept and reported, with the approaches, in
# every status message (wire.STATUS_FIELDS), so the host knows response rates. "back" on the first question cancels the same way.
#
# Drafts: after every answer the survey's snapshot (form.py's state()) is
# written to <data_dir>/draft (temp file + rename), and deleted once the
# record is in the log or the survey ends without one. A draft found at boot
# was cut short by a power cut or a reset: draft_policy "discard" (the kiosk
# default, for the reason above: the visitor has gone) deletes it and counts
# an abandoned survey; "resume" (a handheld's interviewer is still there)
# reopens the survey where it stopped, with its instance id and start time. A
# draft whose record already reached the log (cut between the append and the
# delete) is deleted, never logged twice; one of another form version is
# discarded as abandoned.
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
import os

import texts
import wire
from log import StorageFull, instance_id_of
from survey import Survey, label, wrap

PRESENCE_FORM = "tp_presence"
PRESENCE_VERSION = "2026113001"
# Its answer fields, in the instrument's order (a host test checks them against it).
PRESENCE_FIELDS = ("interval_s", "approaches", "dwell_s", "started", "completed", "abandoned")


def last_instance(snapshot):
    """The instance id a draft snapshot holds (form.py's state(): meta's "instance")."""
    import json

    for kv in json.loads(snapshot)[3]:
        if kv[0] == "instance":
            return kv[1]
    return ""


class Kiosk:
    def __init__(self, cfg, board, log, uplink, form, offload=None):
        self.cfg = cfg
        self.offload = offload
        self.board = board
        self.log = log
        self.uplink = uplink
        self.lang = cfg["language"]
        self._use_form(form)
        self.idle_ms = cfg["survey_idle_s"] * 1000
        self.approaches = 0
        self.completed = 0
        self.abandoned = 0
        self.cancelled = 0
        self.refused = 0  # key presses refused while the storage was full
        self.full = False
        self.interval_ms = cfg["presence_interval_s"] * 1000
        self.draft_path = log.root + "/draft"
        self._interval_begin()
        self.check_storage()
        self.resume = self._draft_at_boot(cfg.get("draft_policy", "discard"))

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
            lines = wrap(label(self.form.get("title") or self.form["id"], self.lang), b.fits)[:3]
            lines.append("")
            lines.append("Press ok to start")
            if len(self.form.get("languages") or []) > 1:
                lines.append("up/dn: " + self.lang.upper())
        while len(lines) < b.rows - 1:
            lines.append("")
        lines.append(("" if self.uplink.up else "offline ") + "q=%d" % self.log.depth())
        b.show(lines)

    # ------------------------------------------------------------ drafts

    def _save_draft(self, engine):
        """The survey's snapshot (its form engine's write_state()) to the draft file."""
        tmp = self.draft_path + ".tmp"
        try:
            with open(tmp, "wb") as f:
                engine.write_state(f)
            os.rename(tmp, self.draft_path)
        except OSError as e:  # a full flash: the survey goes on, only a power cut would now lose it
            print("KIOSK draft not saved (%s): the survey goes on" % e)
            try:
                os.remove(tmp)
            except OSError:
                pass

    def _drop_draft(self):
        try:
            os.remove(self.draft_path)
        except OSError:
            pass

    def _draft_at_boot(self, policy):
        """The draft to resume (policy "resume"), or None; a draft not resumed is deleted (and counted)."""
        try:
            with open(self.draft_path, "rb") as f:
                snapshot = f.read()
        except OSError:
            return None
        last = self.log.get(self.log.next_seq() - 1)
        if last is not None and last_instance(snapshot).encode() == instance_id_of(last):
            self._drop_draft()
            print("KIOSK draft already logged: deleted")
            return None
        if policy == "resume":
            return snapshot
        self._drop_draft()
        self.abandoned += 1
        self.uplink.counters["abandoned"] = self.abandoned
        print("KIOSK draft discarded at boot (abandoned) total=%d" % self.abandoned)
        return None

    def take_survey(self, draft=None):
        b = self.board
        if self.check_storage():
            self.refused += 1
            print("KIOSK storage full: survey refused total=%d" % self.refused)
            b.clear_keys()
            self.idle_screen()
            return
        f = self.uplink.take_form() if draft is None else None  # a draft resumes on the form it began on
        if f is not None:
            self._use_form(f)
        b.state("survey")
        try:
            s = Survey(self.form, b, self.lang, device=self.cfg.get("device", ""), on_answer=self._save_draft,
                       draft=draft)
        except ValueError as e:  # a draft of another form version: the survey it held is lost
            print("KIOSK draft not resumed: %s" % e)
            self._drop_draft()
            self.abandoned += 1
            self.uplink.counters["abandoned"] = self.abandoned
            b.state("idle")
            self.idle_screen()
            return
        if draft is None:
            self._iv[2] += 1
        else:
            print("KIOSK survey resumed id=%s" % s.instance_id)
        answers = s.run(self.idle_ms, between=self._tick)
        if answers is None and b.finished():
            return  # a simulation ending mid-survey: its draft stays, as after a power cut
        if answers is None:
            self._drop_draft()
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
            self._drop_draft()  # in the log now (or lost to a full flash): a draft must not bring it back
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
            self._use_form(f)
        self.idle_screen()

    def idle_key(self, key):
        """A key on the idle screen: up and down switch the language (a form in more than one), any other
        starts a survey. The next visitor starts in the kiosk's own language again."""
        langs = self.form.get("languages") or []
        if key in ("up", "down") and len(langs) > 1 and not self.full:
            i = langs.index(self.lang) if self.lang in langs else 0
            self.lang = langs[(i + (1 if key == "down" else -1)) % len(langs)]
            print("KIOSK language %s" % self.lang)
            self._fit_language()
            self.idle_screen()
            return
        self.take_survey()
        if self.lang != self.cfg["language"]:
            self.lang = self.cfg["language"]
            self._fit_language()
            self.idle_screen()

    def _use_form(self, form):
        """Run ``form`` from now on, its glyphs drawn by the board (decoded once: the text is dropped)."""
        self.form = form
        texts.use(form)
        self.board.use_glyphs(form.pop("glyphs", None))
        if hasattr(self, "lang"):
            self._fit_language()

    def _fit_language(self):
        """Lines as high as the glyphs while the language shown needs them (its title or a label outside
        ASCII), else the 8x8 font's: more lines on the kiosk's small screen."""
        lang = self.lang
        wide = False
        for obj in [self.form.get("title")] + [q.get("label") for q in self.form["questions"]]:
            if isinstance(obj, int):  # kept on flash
                obj = texts.read(obj)
            t = obj.get(lang) if isinstance(obj, dict) else None
            if t:
                for ch in t:
                    if ord(ch) > 127:
                        wide = True
                        break
            if wide:
                break
        self.board.wide_text(wide)

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
        if self.resume is not None:
            draft, self.resume = self.resume, None
            self.take_survey(draft)
        while not b.finished():
            self._tick()
            key = b.next_key()
            if key is not None:
                self.idle_key(key)
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
