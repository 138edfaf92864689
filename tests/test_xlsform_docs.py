"""docs/forms.md is the contract of the compiled form: its example compiles to what it shows, and
every opcode, type, function and appearance the code knows is on the page."""
from __future__ import annotations

import json
import re

from tiesense.xlsform import compile_xlsform, subset, vm
from tiesense.xlsform.program import FUNCTIONS

from .conftest import ROOT

DOC = (ROOT / "docs" / "forms.md").read_text(encoding="utf-8")


def block(lang):
    found = re.findall(r"```" + lang + r"\n(.*?)```", DOC, re.S)
    assert len(found) == 1, lang
    return found[0]


def test_the_example_compiles_to_the_form_shown():
    compiled = compile_xlsform(block("xlsform").encode("utf-8"), "kiosk")
    assert compiled.form == json.loads(block("json"))
    assert f"({compiled.size:,} bytes" in DOC


def test_every_opcode_is_in_the_table_and_in_the_firmware():
    table = set(re.findall(r"^\| `([^`]+)` \|", DOC, re.M))
    firmware = (ROOT / "firmware" / "expr.py").read_text()
    for op in vm.OPCODES:
        assert op in table, op
        assert f'"{op}"' in firmware, op


def test_every_type_function_and_appearance_is_documented():
    for t in list(subset.TYPES.values()) + list(subset.REFUSED_TYPES) + list(subset.HANDHELD_ONLY):
        assert f"`{t}`" in DOC, t
    for f in FUNCTIONS:
        assert f"`{f}()`" in DOC, f
    for a in subset.APPEARANCES:
        assert f"`{a}`" in DOC, a
    for s in list(subset.REFUSED_SETTINGS) + list(subset.SETTINGS):
        assert f"`{s}`" in DOC, s
    for c in subset.REFUSED_COLUMNS:
        if c not in ("repeat_count", "choice_filter"):
            assert f"`{c}`" in DOC, c
