# heap: 640K (the RAM disks of the device's flash before and after a power cut, and whole parsed
# interviews to compare with)
# A form's texts on flash (firmware/texts.py), on a littlefs RAM disk as the
# device's flash: every label, hint and message reads back as the form had
# it, in each language, while the form in the heap holds offsets; the next
# boot loads the core split from the same file and splits a changed file
# again; the files of a form's older version go once the new one is used; a
# flash too full for the texts leaves them in the heap and nothing behind;
# the glyphs drawn from flash are the glyphs drawn from the heap; and the
# split interview holds under half the heap of the whole one.
_FLASH = bytearray(512 * 256)  # one buffer for every test's flash, taken first: fresh ones fragment the heap
_AFTER = bytearray(512 * 160)  # the flash after a power cut (the power cut test's smaller disk)

import framebuf
import gc
import json
import os
import vfs

import answer
import texts
from display import Text
from form import Form
from ramdisk import work_in_fresh_disk
from runner import check_eq, run

_MP = "/tx"
META = {"start": 1795500000, "today": "2026-11-30", "deviceid": "hh-01", "instance": "0" * 32}


_HOME = os.getcwd()
_SOURCE = _HOME + "/host/tiesense/instruments/fi_interview.json"


def parsed():
    """The shipped interview, parsed whole from the repository (not the RAM disk)."""
    with open(_SOURCE) as f:
        return json.load(f)


def flash(blocks=256):
    """A fresh RAM disk mounted at /tx holding forms/fi_interview.json, worked in as a device does."""
    texts.use({"id": "none", "texts": None})  # the last test's texts file is closed before its disk goes
    bdev = work_in_fresh_disk(_MP, _HOME, _FLASH, blocks)
    os.mkdir("forms")
    buf = bytearray(512)
    with open(_SOURCE, "rb") as src, open("forms/fi_interview.json", "wb") as f:
        while True:
            n = src.readinto(buf)
            if not n:
                break
            f.write(memoryview(buf)[:n])
    return bdev


def each_text(form):
    """(where, text) of every text of a form, in a fixed order."""
    out = [("title", form.get("title"))]
    for q in form["questions"]:
        for c in [q] + (q.get("questions") or []):
            for k in texts.FIELDS:
                if k in c:
                    out.append((c["name"] + "." + k, c[k]))
            for ch in c.get("choices") or ():
                out.append((c["name"] + "/" + ch["name"], ch.get("label")))
    for name, choices in sorted((form.get("lists") or {}).items()):
        for ch in choices:
            out.append((name + "/" + ch["name"], ch.get("label")))
    return out


def test_every_text_reads_back_in_each_language_while_the_heap_holds_offsets():
    flash()
    whole = parsed()
    form = texts.load("forms/fi_interview.json", "fi_interview")
    texts.use(form)
    before, after = each_text(whole), each_text(form)
    check_eq([w for w, _ in after], [w for w, _ in before])
    moved = [t for _, t in after if isinstance(t, int)]
    check_eq(len(moved), len([t for _, t in before if t is not None]), "every text is on flash")
    for (where, was), (_, now) in zip(before, after):
        for lang in ("en", "ko", "fr"):
            check_eq(answer.text(now, lang), answer.text(was, lang), where + " in " + lang)
    stem = "fi_interview-%s." % form["version"]
    check_eq(sorted(os.listdir("forms")), [stem + "core", stem + "glyphs", stem + "texts", "fi_interview.json"])


def test_the_engine_shows_labels_and_messages_from_flash():
    flash()
    form = texts.load("forms/fi_interview.json", "fi_interview")
    texts.use(form)
    f = Form(form, META, lang="ko")
    whole = Form(parsed(), META, lang="ko")
    check_eq(f.current()["label"], whole.current()["label"])
    check_eq([answer.text(c.get("label"), "ko") for c in f.choices()],
             [answer.text(c.get("label"), "ko") for c in whole.choices()])


def test_the_next_boot_loads_the_core_and_a_changed_form_is_split_again():
    flash()
    first = texts.load("forms/fi_interview.json", "fi_interview")
    texts.use(first)
    core = "forms/fi_interview-%s.core" % first["version"]
    stamp = os.stat(core)[8]
    with open(core) as f:
        head = f.readline()
    again = texts.load("forms/fi_interview.json", "fi_interview")
    check_eq(again, first, "the core, as split")
    check_eq(os.stat(core)[8], stamp, "not written again")
    # a newer version adopted: split when it is taken in, its older files removed once it is used
    newer = parsed()
    newer["version"] = "2099010100"
    newer["title"] = {"en": "Interview, second wave", "ko": "면접 2차"}
    with open("forms/fi_interview.json", "w") as f:
        json.dump(newer, f)
    second = texts.load("forms/fi_interview.json", "fi_interview")
    check_eq(answer.text(first["title"], "en"), "Firm-interaction interview", "the old form still reads its texts")
    texts.use(second)
    check_eq(answer.text(second["title"], "ko"), "면접 2차")
    check_eq(sorted(os.listdir("forms")), ["fi_interview-2099010100.core", "fi_interview-2099010100.glyphs",
                                           "fi_interview-2099010100.texts", "fi_interview.json"])
    check_eq(head.startswith("["), True)
    # a core whose texts or glyphs went missing is not used: the form is split again
    for gone in ("texts", "glyphs"):
        texts.use({"id": "none", "texts": None})
        os.remove("forms/fi_interview-2099010100." + gone)
        again = texts.load("forms/fi_interview.json", "fi_interview")
        texts.use(again)
        check_eq(answer.text(again["title"], "ko"), "면접 2차", "after losing its " + gone)
        check_eq(sorted(os.listdir("forms")), ["fi_interview-2099010100.core", "fi_interview-2099010100.glyphs",
                                               "fi_interview-2099010100.texts", "fi_interview.json"])


def test_glyphs_drawn_from_flash_are_the_glyphs_drawn_from_the_heap():
    flash()
    form = texts.load("forms/fi_interview.json", "fi_interview")
    check_eq(sorted(form["glyphs"].keys()), ["file", "h", "narrow", "wide"])
    line = "모든 질문은 지난 12개월에 관한 것입니다."
    shown = []
    for table in (form["glyphs"], parsed()["glyphs"]):
        fb_bytes = bytearray(320 * 16 // 8)
        fb = framebuf.FrameBuffer(fb_bytes, 320, 16, framebuf.MONO_HLSB)
        Text(table).draw(fb, line, 0, 0)
        shown.append(bytes(fb_bytes))
    check_eq(shown[0], shown[1])
    check_eq(shown[0] != bytes(len(shown[0])), True, "something was drawn")


def test_a_flash_too_full_for_the_texts_keeps_them_in_the_heap_and_nothing_behind():
    flash(blocks=64)
    with open("filler", "wb") as f:  # the log's flash, nearly full
        try:
            while True:
                f.write(bytes(512))
        except OSError:
            pass
    form = texts.load("forms/fi_interview.json", "fi_interview")
    texts.use(form)
    check_eq("texts" in form, False)
    check_eq(form["title"], {"en": "Firm-interaction interview"})
    check_eq(sorted(os.listdir("forms")), ["fi_interview.json"], "no temporary file left")


def test_a_power_cut_at_any_write_of_the_split_loses_no_text():
    whole = parsed()
    expected = [(w, answer.text(t, "en"), answer.text(t, "ko")) for w, t in each_text(whole)]
    del whole
    bdev = flash(160)
    start = bdev.ops
    texts.load("forms/fi_interview.json", "fi_interview")
    total = bdev.ops - start  # the split's program and erase operations
    cuts = 0
    for n in range(total + 1):
        form = got = None
        bdev = flash(160)
        bdev.fail_after = bdev.ops + n  # the n+1st write of the split is torn, every later one fails
        texts.load("forms/fi_interview.json", "fi_interview")  # never raises: the texts stay in the heap
        gc.collect()
        os.chdir(_HOME)
        vfs.umount(_MP)
        vfs.mount(vfs.VfsLfs2(bdev.power_on(_AFTER)), _MP)  # the power comes back
        os.chdir(_MP)
        form = texts.load("forms/fi_interview.json", "fi_interview")
        texts.use(form)
        got = [(w, answer.text(t, "en"), answer.text(t, "ko")) for w, t in each_text(form)]
        check_eq(got, expected, "after a cut at write %d of %d" % (n, total))
        check_eq([x for x in os.listdir("forms") if x.endswith(".tmp")], [], "temporary files after use()")
        cuts += 1
    print("  the split: %d program and erase operations, %d cut points checked" % (total, cuts))


def test_the_split_interview_holds_under_half_the_heap_of_the_whole_one():
    flash()
    texts.load("forms/fi_interview.json", "fi_interview")  # split once, as the first boot does
    gc.collect()
    base = gc.mem_alloc()
    whole = parsed()
    gc.collect()
    whole_bytes = gc.mem_alloc() - base
    del whole
    gc.collect()
    base = gc.mem_alloc()
    core = texts.load("forms/fi_interview.json", "fi_interview")
    gc.collect()
    core_bytes = gc.mem_alloc() - base
    print("interview parsed whole: %d bytes; texts on flash: %d" % (whole_bytes, core_bytes))
    check_eq(core_bytes * 2 < whole_bytes, True, "%d against %d" % (core_bytes, whole_bytes))
    check_eq(isinstance(core["title"], int), True)


run(globals())
