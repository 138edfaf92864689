# tiesense firmware: the handheld app, a field researcher's interview unit.
#
# The kiosk's loop (kiosk.py: log, uplink, drafts, storage checks, language
# switch) with what an interviewer needs instead of what a lobby needs
# (config.ROLE_DEFAULTS["handheld"]):
#   - the firm-interaction interview (form fi_interview), answered on the
#     CardKB: typed text, dates and numbers, and choices found by typing the
#     first letters of an organisation or its roster code (survey.py);
#   - no survey is given up for being idle (survey_idle_s 0): the interviewer
#     may be listening for minutes; esc on the first question cancels it;
#   - a power cut or a flat battery mid-interview resumes it where it stopped,
#     with its id and start (draft_policy "resume", kiosk.py's drafts);
#   - records go home over Wi-Fi when it appears (uplink.py) or over USB to a
#     laptop's `tiesense pull` (offload.py), deleted only on the host's signed ack;
#   - no presence sensor, so no presence records: a handheld counts interviews.
# The home screen says what is waiting to go home, the battery, the link,
# and how to start.
import kiosk


class Handheld(kiosk.Kiosk):
    def _interval_end(self):
        self._interval_begin()  # no presence records: nobody walks past a handheld

    def idle_screen(self):
        b = self.board
        if self.full:
            lines = ["Storage full: connect USB", "and run tiesense pull"]
        else:
            lines = kiosk.wrap(kiosk.label(self.form.get("title") or self.form["id"], self.lang), b.fits)[:2]
            lines.append("")
            lines.append("ok: new interview")
            if len(self.form.get("languages") or []) > 1:
                lines.append("up/dn: language " + self.lang.upper())
        n = self.log.depth()
        lines.append("")
        lines.append(("%d record%s to send" % (n, "" if n == 1 else "s")) if n else "all records sent")
        mv = b.battery_mv()
        link = "wifi" if self.uplink.up else ("usb" if self.offload is not None and self.offload.busy else "offline")
        status = link if mv is None else "%s  battery %d.%02d V" % (link, mv // 1000, mv % 1000 // 10)
        while len(lines) < b.rows - 1:
            lines.append("")
        lines.append(status)
        b.show(lines[:b.rows])
