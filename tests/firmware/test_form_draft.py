# heap: 254K (the RAM disk this suite mounts lives in the same heap as the code under test)
# The survey's draft on flash (firmware/kiosk.py with the real log on a
# littlefs RAM disk): every answer writes the engine's snapshot to
# <data>/draft; a power cut mid-survey leaves it there, and the next boot
# either discards it as an abandoned survey (draft_policy "discard", the
# kiosk default) or resumes the survey where it stopped with its instance id
# and start ("resume"). A draft whose record reached the log before the cut
# is deleted, never logged twice.
import json
import os
import vfs

import wire
from board.base import Board
from kiosk import Kiosk
from log import Log
from offlineuplink import OfflineUplink
from ramdisk import RAMBlockDev
from runner import check_eq, run

with open("host/tiesense/instruments/tp_visit.json") as f:
    FORM = json.load(f)
FORM.pop("v", None)
_MP = "/dr"
_DATA = _MP + "/data"


class PowerCut(Exception):
    pass


class KeyBoard(Board):
    """Keys from a list; when they run out the power goes (PowerCut), unless `idle` is set."""

    cols = 21

    def __init__(self, keys=()):
        Board.__init__(self, {})
        for k in keys:
            self.push_key(k)
        self.t = 1795500000
        self.boot = 7

    def next_key(self):
        if not self._keys:
            raise PowerCut()
        return Board.next_key(self)

    def time(self):
        return self.t

    def show(self, lines):
        pass

    def state(self, name):
        pass

    def sleep_ms(self, ms):
        pass


def cfg(policy):
    return {"device": "kiosk-01", "language": "en", "survey_idle_s": 5, "thanks_ms": 0,
            "presence_interval_s": 300, "draft_policy": policy}


def fresh_disk():
    try:
        vfs.umount(_MP)
    except OSError:
        pass
    bdev = RAMBlockDev(512, 64)
    vfs.VfsLfs2.mkfs(bdev)
    vfs.mount(vfs.VfsLfs2(bdev), _MP)


def kiosk(policy, keys=()):
    lg = Log(_DATA, encode=lambda rec, seq: wire.sign_record(rec, seq, "kiosk-01", None))
    return Kiosk(cfg(policy), KeyBoard(keys), lg, OfflineUplink(), FORM), lg


def cut_after_one_answer():
    """A survey with facility answered (shared_lab), then the power goes; returns the draft's bytes."""
    k, lg = kiosk("discard", ["down", "ok"])
    try:
        k.take_survey()
    except PowerCut:
        pass
    with open(_DATA + "/draft", "rb") as f:
        draft = f.read()
    lg.close()
    return draft


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def test_discard_policy_counts_the_cut_survey_abandoned():
    fresh_disk()
    draft = cut_after_one_answer()
    assert b'"shared_lab"' in draft, draft
    k, lg = kiosk("discard")
    check_eq(k.resume, None)
    check_eq(k.abandoned, 1)
    check_eq(k.uplink.counters["abandoned"], 1)
    assert not exists(_DATA + "/draft")
    check_eq(lg.depth(), 0)
    lg.close()


def test_resume_policy_continues_the_survey_with_its_id_and_start():
    fresh_disk()
    draft = cut_after_one_answer()
    iid = json.loads(draft)[3]
    iid = [kv[1] for kv in iid if kv[0] == "instance"][0]
    k, lg = kiosk("resume", ["down", "down", "ok", "up", "ok"])  # org_type: sme; satisfaction 3
    assert k.resume is not None
    k.board.t += 900  # the survey goes on a quarter of an hour later
    k.take_survey(k.resume)
    check_eq(lg.depth(), 1)
    rec = json.loads(lg.get(1))
    check_eq(rec[1], iid)
    check_eq(rec[9], ["shared_lab", "sme", 3])
    check_eq(rec[4], 1795500000)
    check_eq(rec[5], 900)
    check_eq(rec[6], 7)
    assert not exists(_DATA + "/draft")
    check_eq(k.abandoned, 0)
    lg.close()


def test_a_draft_already_in_the_log_is_not_logged_twice():
    fresh_disk()
    k, lg = kiosk("resume", ["down", "ok", "down", "ok", "up", "ok"])
    saved = []
    save = k._save_draft

    def keep(engine):
        saved.append(engine.state())
        save(engine)
    k._save_draft = keep
    k.take_survey()
    check_eq(lg.depth(), 1)
    assert not exists(_DATA + "/draft")
    with open(_DATA + "/draft", "wb") as f:  # the cut came between the append and the delete
        f.write(saved[-1])
    lg.close()
    k, lg = kiosk("resume")
    check_eq(k.resume, None)
    check_eq(k.abandoned, 0)
    assert not exists(_DATA + "/draft")
    check_eq(lg.depth(), 1)
    lg.close()


run(globals())
