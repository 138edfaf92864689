"""Glyphs (tiesense.xlsform.glyphs, firmware/display.py): a compiled form carries the Unifont bitmaps of
exactly the non-ASCII characters its texts use, the device draws them pixel for pixel as the font file
has them, and `tiesense forms preview` shows a Korean question as the screens draw it.

The expected bitmaps come from reading Debian's unifont.hex here, line by line, independently of the
compiler's reader."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
from click.testing import CliRunner

from tiesense import cli, wire
from tiesense.xlsform import FormRefused, compile_xlsform, glyphs

from .conftest import FIRMWARE, ROOT
from .xlsforms import write_xlsform

EN, KO = "label::English (en)", "label::Korean (ko)"
SETTINGS = {"form_id": "visit_ko", "version": "2026113001", "form_title": "방문 설문",
            "default_language": "Korean (ko)"}
SURVEY = [
    {"type": "select_one yn", "name": "consent", KO: "짧은 설문에 참여하시겠습니까?", EN: "Take part? (Café – 2 min)",
     "hint::Korean (ko)": "한 분당 한 번", "required": "yes"},
    {"type": "begin group", "name": "more", KO: "추가 질문", EN: "More"},
    {"type": "integer", "name": "people", KO: "몇 명이 왔습니까?", EN: "How many came?",
     "constraint": ". >= 1 and . <= 50", "constraint_message::Korean (ko)": "1에서 50 사이",
     "constraint_message::English (en)": "Between 1 and 50"},
    {"type": "end group"},
    {"type": "select_one org", "name": "host", KO: "어느 기관을 방문했습니까?", EN: "Which organisation?"},
]
CHOICES = [
    {"list_name": "yn", "name": "yes", KO: "예", EN: "Yes"},
    {"list_name": "yn", "name": "no", KO: "아니오", EN: "No"},
    {"list_name": "org", "name": "o1", KO: "한빛테크", EN: "Hanbit Tech"},
    {"list_name": "org", "name": "o2", KO: "대구테크노파크", EN: "Daegu TP"},
]


def font_rows() -> dict[str, bytes]:
    """unifont.hex as {character: bitmap rows}, read here without the compiler's code."""
    out = {}
    with open(glyphs.DEBIAN_UNIFONT, encoding="ascii") as f:
        for line in f:
            code, hexrows = line.strip().split(":")
            out[chr(int(code, 16))] = bytes.fromhex(hexrows)
    return out


@pytest.fixture(scope="module")
def font() -> dict[str, bytes]:
    assert glyphs.DEBIAN_UNIFONT.is_file(), "GNU Unifont is not installed: apt-get install -y unifont"
    return font_rows()


@pytest.fixture
def korean(tmp_path):
    return compile_xlsform(write_xlsform(tmp_path / "visit_ko.xlsx", SURVEY, CHOICES, SETTINGS), "kiosk")


def written_chars() -> set[str]:
    texts = [v for row in SURVEY + CHOICES for k, v in row.items() if k.startswith(("label", "hint", "constraint_m"))]
    return {ch for t in texts + [SETTINGS["form_title"]] for ch in t}


def unpack(table: dict) -> dict[str, bytes]:
    import base64

    bits = base64.b64decode(table["bits"])
    h = table["h"]
    out, at = {}, 0
    for ch in table["narrow"]:
        out[ch] = bits[at:at + h]
        at += h
    for ch in table["wide"]:
        out[ch] = bits[at:at + 2 * h]
        at += 2 * h
    assert at == len(bits)
    return out


def test_a_korean_form_carries_the_glyphs_of_exactly_the_characters_its_texts_use(korean, font):
    table = korean.form["glyphs"]
    expected = {ch for ch in written_chars() if ord(ch) > 0x7F}
    assert {"é", "–", "짧", "방", "번", "추", "기", "예", "파"} <= expected  # labels, hint, message, title, choices
    assert set(table["narrow"]) | set(table["wide"]) == expected
    assert not any(ord(ch) < 0x80 for ch in table["narrow"] + table["wide"])
    assert list(table["narrow"]) == sorted(table["narrow"]) and list(table["wide"]) == sorted(table["wide"])
    assert set(table["narrow"]) == {"é", "–"} and table["h"] == 16
    for ch, rows in unpack(table).items():
        assert rows == font[ch], ch
    # the size reported is what the device stores, glyphs included
    assert korean.size == len(wire.encode(korean.form))
    bare = dict(korean.form)
    del bare["glyphs"]
    assert korean.size - len(wire.encode(bare)) > 32 * len(table["wide"])


def test_an_ascii_form_carries_no_glyphs(tmp_path):
    survey = [{"type": "select_one yn", "name": "consent", "label::English (en)": "Take part?"}]
    choices = [{"list_name": "yn", "name": "yes", "label::English (en)": "Yes"}]
    c = compile_xlsform(write_xlsform(tmp_path / "en.xlsx", survey, choices, {"form_id": "en", "version": "1"}))
    assert "glyphs" not in c.form


def test_characters_the_font_lacks_refuse_the_form_naming_each_row(tmp_path):
    survey = [dict(SURVEY[0], **{KO: "설문 \U0001F600"}), SURVEY[-1]]
    choices = CHOICES[:2] + [dict(CHOICES[2], **{KO: "한빛 \U0001F3ED"})] + CHOICES[3:]
    with pytest.raises(FormRefused) as e:
        compile_xlsform(write_xlsform(tmp_path / "emoji.xlsx", survey, choices, SETTINGS), "kiosk")
    text = str(e.value)
    assert len(e.value.problems) == 2, text
    assert ("survey row 2, column 'label (ko)': label (ko): no glyph for '\U0001F600' (U+1F600) in "
            f"{glyphs.DEBIAN_UNIFONT}") in text
    assert "choices row 4, column 'label (ko)': choice 'o1' label (ko): no glyph for '\U0001F3ED' (U+1F3ED)" in text
    assert "set TIESENSE_FONT to a .hex font that has them" in text


def test_the_refusal_the_docs_show_is_the_compilers(font):
    doc = (ROOT / "docs" / "forms.md").read_text(encoding="utf-8")
    shown = doc.split("## Glyphs")[1].split("\n    choices row")[1].split("\n")[0]
    md = doc.split("```xlsform\n")[1].split("```")[0].replace("한빛테크", "\U0001F600")
    with pytest.raises(FormRefused) as e:
        compile_xlsform(md.encode("utf-8"), "kiosk")
    assert "  choices row" + shown in str(e.value).splitlines()


def test_another_hex_font_can_be_named(tmp_path, monkeypatch, font):
    own = tmp_path / "own.hex"
    own.write_text("".join(f"{ord(ch):04X}:{font[ch].hex().upper()}\n" for ch in "예아니오"), encoding="ascii")
    monkeypatch.setenv(glyphs.FONT_ENV, str(own))
    survey = [{"type": "select_one yn", "name": "consent", EN: "Take part?", KO: "예?"}]
    c = compile_xlsform(write_xlsform(tmp_path / "yn.xlsx", survey, CHOICES[:2], {"form_id": "yn", "version": "1"}))
    assert c.form["glyphs"]["wide"] == "니아예오"
    survey[0][KO] = "참여?"
    with pytest.raises(FormRefused, match=r"no glyph for '참' \(U\+CC38\), '여' \(U\+C5EC\) in .*own.hex"):
        compile_xlsform(write_xlsform(tmp_path / "yn2.xlsx", survey, CHOICES[:2], {"form_id": "yn", "version": "1"}))


def test_without_a_font_the_error_says_how_to_install_one(tmp_path, monkeypatch):
    monkeypatch.setenv(glyphs.FONT_ENV, str(tmp_path / "nowhere.hex"))
    with pytest.raises(FormRefused, match="apt-get install unifont"):
        compile_xlsform(write_xlsform(tmp_path / "k.xlsx", SURVEY, CHOICES, SETTINGS), "kiosk")
    monkeypatch.delenv(glyphs.FONT_ENV)
    monkeypatch.setattr(glyphs, "DEBIAN_UNIFONT", tmp_path / "unifont.hex")
    with pytest.raises(glyphs.MissingFont, match=r"GNU Unifont is not installed .*sudo apt-get install unifont"):
        glyphs.find_font()


def test_the_device_draws_every_glyph_exactly_as_the_font_file_has_it(korean, font, micropython, tmp_path):
    """firmware/display.py under the real micropython, onto the OLED's MONO_VLSB layout at an odd offset."""
    form = tmp_path / "form.json"
    form.write_bytes(korean.to_bytes())
    script = """
import framebuf, json
from display import Text
form = json.load(open(%r))
t = Text(form["glyphs"])
buf = bytearray(128 * 64 // 8)
fb = framebuf.FrameBuffer(buf, 128, 64, framebuf.MONO_VLSB)
for ch in form["glyphs"]["narrow"] + form["glyphs"]["wide"]:
    fb.fill(0)
    w = t.width(ch)
    t.draw(fb, ch, 37, 21)
    rows = []
    for y in range(-1, 17):
        v = 0
        for x in range(-1, w + 1):
            v = (v << 1) | fb.pixel(37 + x, 21 + y)
        rows.append(v)
    print("GLYPH", ord(ch), w, json.dumps(rows))
""" % str(form)
    r = subprocess.run([micropython, "-X", "heapsize=190K", "-c", script], capture_output=True, text=True,
                       env=dict(os.environ, MICROPYPATH=str(FIRMWARE)), timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    drawn = [line.split(" ", 3) for line in r.stdout.splitlines() if line.startswith("GLYPH ")]
    table = korean.form["glyphs"]
    assert len(drawn) == len(table["narrow"]) + len(table["wide"])
    for _, code, width, rows in drawn:
        ch, w, rows = chr(int(code)), int(width), json.loads(rows)
        assert w == (16 if ch in table["wide"] else 8), ch
        expected = [int.from_bytes(font[ch][i:i + w // 8], "big") for i in range(0, len(font[ch]), w // 8)]
        assert rows[0] == 0 and rows[-1] == 0, f"{ch}: ink outside its cell"
        assert [(v >> 1) & ((1 << w) - 1) for v in rows[1:-1]] == expected, ch
        assert all(v & 1 == 0 and v >> (w + 1) == 0 for v in rows), f"{ch}: ink left or right of its cell"


def test_forms_preview_draws_a_korean_question_in_hangul(tmp_path, font, micropython):
    from PIL import Image

    from tiesense import preview

    md = tmp_path / "visit.md"
    md.write_text((ROOT / "docs" / "forms.md").read_text(encoding="utf-8").split("```xlsform\n")[1].split("```")[0],
                  encoding="utf-8")
    out = tmp_path / "q.png"
    r = CliRunner().invoke(cli.main, ["forms", "preview", str(md), "--lang", "ko", "--question", "consent",
                                      "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "kiosk: 짧은 설문에 | 참여하시겠습니 | 까? | > 예 |   아니오" in r.output
    assert "handheld: 짧은 설문에 참여하시겠습니까? | > 예 |   아니오" in r.output
    image = Image.open(out).convert("RGB")
    kiosk_w, kiosk_h = (n * preview._SCALE["kiosk"] for n in preview.SCREENS["kiosk"])
    assert image.size == (kiosk_w + 320 * 2 + 3 * preview._MARGIN, 240 * 2 + 2 * preview._MARGIN)
    # each screen: the first syllable of the label, sampled at the centre of every enlarged pixel, is the font's
    origin = {"kiosk": preview._MARGIN, "handheld": 2 * preview._MARGIN + kiosk_w}
    for name, x0 in origin.items():
        scale = preview._SCALE[name]
        ink = preview._INK[name][1]
        for syllable, cell_x in (("짧", 0), ("은", 16)):
            rows = []
            for y in range(16):
                v = 0
                for x in range(16):
                    px = image.getpixel((x0 + (cell_x + x) * scale + scale // 2, preview._MARGIN + y * scale + scale // 2))
                    v = (v << 1) | (px == ink)
                rows.append(v)
            assert rows == [int.from_bytes(font[syllable][i:i + 2], "big") for i in range(0, 32, 2)], (name, syllable)
        panel = image.crop((x0, preview._MARGIN, x0 + 100, preview._MARGIN + 100))
        assert len(panel.getcolors()) == 2, f"{name}: ink and paper"
    r = CliRunner().invoke(cli.main, ["forms", "preview", str(md), "--lang", "ko", "--question", "nope",
                                      "--out", str(out)])
    assert r.exit_code != 0 and "no question 'nope' in form example: it has consent, partners, each" in r.output
    r = CliRunner().invoke(cli.main, ["forms", "preview", str(md), "--lang", "ja", "--question", "consent",
                                      "--out", str(out)])
    assert r.exit_code != 0 and "no language 'ja' in form example: it has en, ko" in r.output


def test_the_heap_the_docs_give_for_the_examples_glyphs_is_what_the_device_uses(micropython, tmp_path):
    doc = (ROOT / "docs" / "forms.md").read_text(encoding="utf-8")
    example = compile_xlsform(doc.split("```xlsform\n")[1].split("```")[0].encode("utf-8"), "kiosk")
    form = tmp_path / "form.json"
    form.write_bytes(example.to_bytes())
    script = """
import gc, json
from display import Text, decode_into
form = json.load(open(%r))
table = form["glyphs"]
gc.collect()
before = gc.mem_alloc()
t = Text(table)
gc.collect()
print("HEAP", gc.mem_alloc() - before, t.glyphs())
t = None
with open(%r, "wb") as f:  # kept on flash, as texts.py keeps a device's form's
    decode_into(table["bits"], f.write)
table = {"h": table["h"], "narrow": table["narrow"], "wide": table["wide"], "file": %r}
form = None
gc.collect()
before = gc.mem_alloc()
t = Text(table)
gc.collect()
print("FLASH", gc.mem_alloc() - before)
""" % (str(form), str(tmp_path / "glyphs"), str(tmp_path / "glyphs"))
    r = subprocess.run([micropython, "-X", "heapsize=190K", "-c", script], capture_output=True, text=True,
                       env=dict(os.environ, MICROPYPATH=str(FIRMWARE)), timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    heap, count = (int(n) for n in r.stdout.split("HEAP ")[1].split()[:2])
    flash = int(r.stdout.split("FLASH ")[1].split()[0])
    bits = 32 * len(example.form["glyphs"]["wide"]) + 16 * len(example.form["glyphs"]["narrow"])
    assert bits < heap < bits + 1024, "the bitmaps plus under a kilobyte"
    assert flash < 1024 < bits, "on flash, under a kilobyte: no bitmap in the heap"
    assert f"about {heap / 1024:.1f} KB of heap for the {count} glyphs of the example above" in doc
    assert f"kept on flash, {flash:,} bytes" in doc


def test_mpy_cross_accepts_the_display_code(mpy_cross, tmp_path):
    for src in (FIRMWARE / "display.py", FIRMWARE / "board" / "picow.py", FIRMWARE / "board" / "sim.py"):
        out = tmp_path / (src.stem + ".mpy")
        r = subprocess.run([mpy_cross, "-march=armv6m", "-o", str(out), str(src)], capture_output=True, text=True)
        assert r.returncode == 0 and out.stat().st_size > 0, f"{src}: {r.stderr}"
