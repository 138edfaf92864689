"""hardware/pinout.toml and firmware/board/picow.py must agree pin for pin."""
from __future__ import annotations

import csv
import re
import tomllib

from .conftest import ROOT


def picow_consts() -> dict[str, int]:
    src = (ROOT / "firmware" / "board" / "picow.py").read_text()
    return {m[1]: int(m[2], 0) for m in re.finditer(r"^(PIN_\w+|I2C_ADDR) = const\((\w+)\)", src, re.M)}


def test_pinout_matches_picow():
    pins = tomllib.loads((ROOT / "hardware" / "pinout.toml").read_text())
    c = picow_consts()
    want = {
        "PIN_UP": pins["buttons"]["up"], "PIN_DOWN": pins["buttons"]["down"], "PIN_OK": pins["buttons"]["ok"],
        "PIN_BACK": pins["buttons"]["back"], "PIN_PIR": pins["presence"]["pir"],
        "PIN_SDA": pins["display"]["sda"], "PIN_SCL": pins["display"]["scl"], "I2C_ADDR": pins["display"]["address"],
    }
    assert c == want
    gp = [v for k, v in want.items() if k.startswith("PIN_")]
    assert len(gp) == len(set(gp)), "a GPIO is used twice"
    assert all(0 <= g <= 22 or g in (26, 27, 28) for g in gp), "not a user GPIO of the Pico W"


def test_bom_lists_every_part_in_the_pinout():
    rows = list(csv.DictReader((ROOT / "hardware" / "bom.csv").open()))
    text = " ".join(r["part"] for r in rows)
    for part in ("Pico W", "SSD1306", "PIR", "push button"):
        assert part in text
    assert all(int(r["qty"]) > 0 for r in rows)
