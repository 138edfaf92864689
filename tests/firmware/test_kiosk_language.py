# The kiosk's language on the idle screen (firmware/kiosk.py): up and down switch between the form's
# languages without starting a survey, the survey then asks in that language, and the next visitor
# starts in the kiosk's own language again. A form's glyph table goes to the board once, and the
# form keeps no copy of its text.
import json
import os

import wire
from board.base import Board
from kiosk import Kiosk
from log import Log
from offlineuplink import OfflineUplink
from runner import check_eq, run

with open("host/tiesense/instruments/tp_visit.json") as f:
    FORM = json.load(f)
FORM.pop("v", None)
CFG = {"device": "kiosk-01", "language": "en", "survey_idle_s": 5, "thanks_ms": 0, "presence_interval_s": 300}


class KeyBoard(Board):
    cols = 21

    def __init__(self):
        Board.__init__(self, {})
        self.screens = []
        self.glyphs = []

    def show(self, lines):
        self.screens.append(lines)

    def use_glyphs(self, table):
        self.glyphs.append(table)

    def wide_text(self, on):
        self.wide = on

    def sleep_ms(self, ms):
        pass


def kiosk(form):
    d = "/tmp/tiesense-lang-" + "".join(["%02x" % x for x in os.urandom(4)])
    os.mkdir(d)
    log = Log(d, encode=lambda rec, seq: wire.sign_record(rec, seq, "kiosk-01", None))
    return Kiosk(dict(CFG), KeyBoard(), log, OfflineUplink(), form), log


def test_up_and_down_switch_the_language_without_starting_a_survey():
    k, log = kiosk(dict(FORM))
    check_eq(k.lang, "en")
    k.idle_key("down")
    check_eq((k.lang, log.depth()), ("ko", 0), "switched, nothing asked")
    assert "up/dn: KO" in k.board.screens[-1], k.board.screens[-1]
    assert "테크노파크 방문" in k.board.screens[-1][0], "the title in Korean"
    k.idle_key("down")
    check_eq(k.lang, "en", "and round again")
    k.idle_key("up")
    check_eq(k.lang, "ko")


def test_the_survey_asks_in_the_chosen_language_and_the_next_visitor_starts_in_the_kiosks():
    k, log = kiosk(dict(FORM))
    k.idle_key("down")
    for key in ["down", "ok", "down", "ok", "up", "ok"]:
        k.board.push_key(key)
    k.idle_key("ok")
    check_eq(log.depth(), 1, "the survey was stored")
    asked = [s for s in k.board.screens if "오늘 어떤 시설이나" in " ".join(s)]
    assert asked, "the first question was shown in Korean"
    check_eq(k.lang, "en", "back to the kiosk's language")
    assert "up/dn: EN" in k.board.screens[-1]


def test_a_forms_glyphs_go_to_the_board_once():
    form = dict(FORM)
    form["glyphs"] = {"h": 16, "narrow": "", "wide": "가", "bits": "AAAA"}
    k, _ = kiosk(form)
    check_eq(k.board.glyphs, [{"h": 16, "narrow": "", "wide": "가", "bits": "AAAA"}])
    check_eq("glyphs" in k.form, False, "the form keeps no copy")


def test_lines_are_as_high_as_the_glyphs_only_while_the_language_needs_them():
    # the kiosk's OLED keeps its 8 lines of the 8x8 font in English though the form carries Korean glyphs
    k, _ = kiosk(dict(FORM))
    check_eq(k.board.wide, False, "English: the 8x8 font's lines")
    k.idle_key("down")
    check_eq((k.lang, k.board.wide), ("ko", True), "Korean: the glyphs' 16 px lines")
    for key in ["down", "ok", "down", "ok", "up", "ok"]:
        k.board.push_key(key)
    k.idle_key("ok")
    check_eq((k.lang, k.board.wide), ("en", False), "the next visitor: English again")


def test_a_form_in_one_language_starts_on_any_key():
    form = dict(FORM)
    form["languages"] = ["en"]
    k, log = kiosk(form)
    for key in ["down", "ok", "down", "ok", "up", "ok"]:
        k.board.push_key(key)
    k.idle_key("down")  # the key that starts it: no language to switch to
    check_eq(log.depth(), 1)


run(globals())
