# heap: 254K (the RAM disk of the device's flash lives in the same heap as the code under test)
# firmware/uplink.py's side of forms over the receive buffer, on a littlefs RAM
# disk as the device's flash: the client may spool only this device's form,
# within form_max_bytes and the free flash beside the log's reserve (else
# refused and counted); a spooled form is checked like a small one (site
# signature, newer version) and renamed into place, or removed; a spool file a
# power cut left is removed at boot.
_FLASH = bytearray(512 * 96)  # one buffer for every test's flash, taken first: fresh ones fragment the heap

import json
import os
import vfs

import answer
import config
import survey  # noqa: F401 - uplink imports it and texts on a form's arrival, after the tests moved into the RAM disk
import texts
import wire
from fakeuplink import FakeBoard, FakeClient
from log import Log
from ramdisk import work_in_fresh_disk
from runner import check_eq, run
from uplink import Uplink

KEY = bytes(range(32))
with open("host/tiesense/instruments/tp_visit.json") as f:
    FORM = json.load(f)
FORM.pop("v", None)
_MP = "/us"
_HOME = os.getcwd()


def device(blocks=96, **cfg):
    """An Uplink on a fresh RAM disk mounted at /us, working there as a device does in its root."""
    work_in_fresh_disk(_MP, _HOME, _FLASH, blocks)
    os.mkdir("forms")
    with open("forms/tp_visit.json", "wb") as f:
        f.write(wire.encode(FORM))
    c = dict(config.DEFAULTS, device="k1", site="lobby-a", site_key="".join(["%02x" % b for b in KEY]))
    c.update(cfg)
    return Uplink(c, FakeBoard(), Log("data"), form_version=FORM["version"], client=FakeClient())


def spool(up, payload, topic=None):
    """What the client does with a delivery over its receive buffer: ask, write the file, hand it over."""
    topic = topic or wire.topic_form("tp_visit")
    path = up._open_spool(topic, len(payload))
    if path is not None:
        with open(path, "wb") as f:
            f.write(payload)
        up._on_spooled(topic, path, True)
    return path


def newer(**changes):
    return dict(FORM, version="2026112402", **changes)


def test_only_this_devices_form_is_spooled_within_its_bound_and_the_free_flash():
    up = device(form_max_bytes=3000)
    check_eq(up._open_spool(wire.topic_form("tp_visit"), 2500), "forms/tp_visit.json.part")
    check_eq(up._open_spool(wire.topic_form("fi_interview"), 2500), None, "another form: not read")
    check_eq(up._open_spool(wire.topic_command("k1"), 2500), None)
    check_eq(up.refused, 0, "what is not this device's is not a refusal")
    check_eq(up._open_spool(wire.topic_form("tp_visit"), 3001), None, "over form_max_bytes")
    check_eq(up.refused, 1)
    small = device(blocks=40)  # 20 KiB of flash, 2 KiB of it the log's reserve
    st = os.statvfs("forms")
    free = st[1] * st[4]
    check_eq(small._open_spool(wire.topic_form("tp_visit"), free - small.log.reserve - 600) is not None, True)
    check_eq(small._open_spool(wire.topic_form("tp_visit"), free - small.log.reserve + 1), None,
             "it would eat into the log's reserve")
    check_eq(small.refused, 1)
    os.chdir(_HOME)
    vfs.umount(_MP)


def test_a_spooled_form_is_checked_as_a_small_one_then_renamed_into_place():
    up = device()
    forged = wire.encode_form(newer(), {"lobby-a": bytes(32)})
    check_eq(spool(up, forged), "forms/tp_visit.json.part")
    check_eq((up.refused, up.take_form(), up.form_version), (1, None, FORM["version"]), "forged: refused")
    old = wire.encode_form(dict(FORM, version="2026112400"), {"lobby-a": KEY})
    spool(up, old)
    check_eq((up.refused, up.take_form()), (1, None), "older: ignored, as a small one is")
    check_eq(sorted(os.listdir("forms")), ["tp_visit.json"], "neither left a file behind")
    with open("forms/tp_visit.json", "rb") as f:
        check_eq(json.loads(f.read())["version"], FORM["version"])
    good = wire.encode_form(newer(title={"en": "Visit"}), {"lobby-a": KEY, "lobby-b": bytes(32)})
    spool(up, good)
    taken = up.take_form()
    check_eq((taken["version"], "v" in taken, "sig" in taken), ("2026112402", False, False))
    texts.use(taken)  # its texts were moved to flash when it was taken in (texts.py)
    check_eq(answer.text(taken["title"], "en"), "Visit")
    check_eq(up.form_version, "2026112402")
    check_eq(sorted(os.listdir("forms")), ["tp_visit-2026112402.core", "tp_visit-2026112402.texts",
                                           "tp_visit.json"])
    with open("forms/tp_visit.json", "rb") as f:
        check_eq(f.read(), good, "the verified message itself, not re-encoded")
    os.chdir(_HOME)
    vfs.umount(_MP)


def test_a_spool_file_a_power_cut_left_is_removed_at_boot():
    up = device()
    with open("forms/tp_visit.json.part", "wb") as f:
        f.write(wire.encode_form(newer(), {"lobby-a": KEY})[:900])  # torn mid-way
    Uplink(up.cfg, FakeBoard(), up.log, form_version=FORM["version"], client=FakeClient())  # the next boot
    check_eq(sorted(os.listdir("forms")), ["tp_visit.json"])
    os.chdir(_HOME)
    vfs.umount(_MP)


run(globals())
