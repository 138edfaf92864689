# heap: 254K (the RAM disks this suite mounts live in the same heap as the code under test)
# The kiosk on a full flash (firmware/kiosk.py with the real log on a littlefs
# RAM disk): a survey is refused while the log is full, a StorageFull from
# append() (the flash filled during the survey) shows "Storage full" instead
# of raising, the status counters say so, and surveys start again once space
# comes back.
import json
import os
import vfs

from board.base import Board
from kiosk import Kiosk
import wire
from log import Log
from offlineuplink import OfflineUplink
from ramdisk import RAMBlockDev, fill_with_file
from runner import check_eq, run

with open("host/tiesense/instruments/tp_visit.json") as f:
    FORM = json.load(f)
FORM.pop("v", None)
CFG = {"device": "kiosk-01", "language": "en", "survey_idle_s": 5, "thanks_ms": 0, "presence_interval_s": 300}
ANSWERS = ["ok", "down", "ok", "down", "ok", "up", "ok"]  # a key to start, then one visit survey
_MP = "/ks"


class KeyBoard(Board):
    cols = 21

    def __init__(self):
        Board.__init__(self, {})
        self.screens = []
        self.states = []
        self.fill_during_survey = False

    def poll(self):
        if self.fill_during_survey and self.states[-1:] == ["survey"]:
            self.fill_during_survey = False
            fill_with_file(_MP + "/big")

    def show(self, lines):
        self.screens.append(lines)

    def state(self, name):
        self.states.append(name)

    def sleep_ms(self, ms):
        pass


def press(k, keys):
    for key in keys:
        k.board.push_key(key)
    while k.board._keys:
        k.board.next_key()  # the app loop's key that starts a survey
        k.take_survey()


def test_full_flash_refuses_then_recovers():
    bdev = RAMBlockDev(512, 48)
    vfs.VfsLfs2.mkfs(bdev)
    vfs.mount(vfs.VfsLfs2(bdev), _MP)
    b = KeyBoard()
    up = OfflineUplink()
    # the kiosk logs version 2 records; this one has no key, so they go unsigned
    lg = Log(_MP + "/data", reserve=4 * 512, encode=lambda rec, seq: wire.sign_record(rec, seq, "k1", None))
    k = Kiosk(CFG, b, lg, up, FORM)
    check_eq(up.counters["storage_full"], 0)
    free = up.counters["flash_free"]
    assert free > 10000, free
    press(k, ANSWERS)
    check_eq(lg.depth(), 1)

    # the flash fills while the next visitor answers: the answers cannot be kept, nothing raises
    b.fill_during_survey = True
    press(k, ANSWERS)
    check_eq(lg.depth(), 1)
    check_eq(k.completed, 1)
    check_eq(up.counters["storage_full"], 1)
    assert up.counters["flash_free"] < 2048, up.counters
    check_eq(b.screens[-1][:2], ["Storage full", "please tell staff"])

    # full: a key press shows the message and starts no survey
    n = len(b.states)
    press(k, ["ok", "down", "down"])  # the keys queued behind a refused one are dropped with it
    press(k, ["ok"])
    check_eq(k.refused, 2)
    check_eq(b.states[n:], [], "no survey started")
    check_eq(b.screens[-1][:2], ["Storage full", "please tell staff"])
    check_eq(lg.depth(), 1)

    # space again (the big file goes): surveys start and are kept
    os.remove(_MP + "/big")
    press(k, ANSWERS)
    check_eq(lg.depth(), 2)
    check_eq(k.completed, 2)
    check_eq(up.counters["storage_full"], 0)
    assert b.screens[-1][0] != "Storage full"
    lg.close()
    vfs.umount(_MP)


run(globals())
