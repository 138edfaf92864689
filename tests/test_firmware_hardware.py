"""hardware/<board>/pinout.toml: pin for pin what the board module uses, each GP able to do what it is
wired for on an RP2040 in a Pico W, every part in the board's BOM, and the wiring diagram drawn from it."""
from __future__ import annotations

import csv
import re
import subprocess
import sys
import tomllib

import pytest

from .conftest import ROOT

HARDWARE = ROOT / "hardware"
BOARDS = ("kiosk", "handheld")

# RP2040 datasheet, GPIO function table (2.19.2), restricted to the GPs a Pico W brings out.
FUNCTIONS = {
    "I2C0 SDA": {0, 4, 8, 12, 16, 20}, "I2C0 SCL": {1, 5, 9, 13, 17, 21},
    "I2C1 SDA": {2, 6, 10, 14, 18, 26}, "I2C1 SCL": {3, 7, 11, 15, 19, 27},
    "SPI0 RX": {0, 4, 16, 20}, "SPI0 CSn": {1, 5, 17, 21}, "SPI0 SCK": {2, 6, 18, 22}, "SPI0 TX": {3, 7, 19},
    "SPI1 RX": {8, 12, 28}, "SPI1 CSn": {9, 13}, "SPI1 SCK": {10, 14, 26}, "SPI1 TX": {11, 15, 27},
    "ADC0": {26}, "ADC1": {27}, "ADC2": {28},
}
# GP0-22 and GP26-28 reach the Pico W's pins; GP23, 24, 25 and 29 belong to the CYW43439 (WL_ON, WL_D,
# WL_CS, WL_CLK: GP29 is also ADC3/VSYS, see hardware/handheld/pinout.toml).
USER_GPS = set(range(0, 23)) | {26, 27, 28}


def pinout(board: str) -> dict:
    return tomllib.loads((HARDWARE / board / "pinout.toml").read_text())


def bom(board: str) -> list[dict]:
    return list(csv.DictReader((HARDWARE / board / "bom.csv").open()))


def module_consts(path) -> dict[str, int]:
    src = (ROOT / path).read_text()
    return {m[1]: int(m[2], 0) for m in re.finditer(r"^(PIN_\w+|I2C_ADDR) = const\((\w+)\)", src, re.M)}


@pytest.mark.parametrize("board, module", [("kiosk", "firmware/board/picow.py"),
                                           ("handheld", "firmware/board/handheld.py")])
def test_the_pinout_is_the_board_modules(board, module):
    pins = pinout(board)
    assert pins["firmware"] == module
    want = {p["const"]: p["gp"] for p in pins["pin"]}
    want.update({d["const"]: d["address"] for d in pins["device"] if "const" in d})
    assert module_consts(pins["firmware"]) == want


def test_the_handheld_module_drives_the_parts_its_pinout_names():
    pins = pinout("handheld")
    devices = {d["driver"]: d for d in pins["device"]}
    assert devices["CardKB"]["address"] == 0x5F and devices["CardKB"]["bus"] == "I2C0"
    assert (devices["ILI9341"]["width"], devices["ILI9341"]["height"]) == (320, 240)
    src = (ROOT / pins["firmware"]).read_text()
    consts = {m[1]: int(m[2], 0) for m in re.finditer(r"^(\w+) = const\((\w+)\)", src, re.M)}
    assert (consts["W"], consts["H"]) == (320, 240)
    assert consts["W"] // 8 == devices["ILI9341"]["cols"] and consts["H"] // consts["BAND"] == devices["ILI9341"]["rows"]
    for key, code in devices["CardKB"]["keys"].items():  # the key codes the module maps are the pinout's
        assert f"0x{code:02X}: " in src, f"{key} (0x{code:02X}) is not mapped in {pins['firmware']}"
    from tiesense.virtual import HANDHELD_SCREEN
    assert (devices["ILI9341"]["cols"], devices["ILI9341"]["rows"]) == HANDHELD_SCREEN  # what --sim --handheld draws


@pytest.mark.parametrize("board", BOARDS)
def test_every_gp_can_do_what_it_is_wired_for(board):
    pins = pinout(board)["pin"]
    gps = [p["gp"] for p in pins]
    assert len(gps) == len(set(gps)), "a GPIO is used twice"
    assert set(gps) <= USER_GPS, f"not a user GPIO of the Pico W: {set(gps) - USER_GPS}"
    for p in pins:
        if "function" in p:
            assert p["gp"] in FUNCTIONS[p["function"]], f"GP{p['gp']} cannot be {p['function']}"
    buses = {d["bus"] for d in pinout(board)["device"]}
    for bus in buses:  # a bus that is used has its clock and data lines
        if bus.startswith("I2C"):
            assert {f"{bus} SDA", f"{bus} SCL"} <= {p.get("function") for p in pins}
        else:
            assert {f"{bus} SCK", f"{bus} TX"} <= {p.get("function") for p in pins}


def test_the_handheld_senses_its_battery_without_the_wireless_chips_pins():
    pins = pinout("handheld")
    adc = [p for p in pins["pin"] if p.get("function", "").startswith("ADC")]
    assert [p["gp"] for p in adc] == [26] and "VSYS" in adc[0]["signal"]
    assert any(p["pico"] == "VSYS" and p["part"] == "R1/R2" for p in pins["power"])
    text = (HARDWARE / "handheld" / "pinout.toml").read_text()
    assert "GP25" in text and "GP29" in text and "WL_CS" in text  # the caveat is written down


@pytest.mark.parametrize("board", BOARDS)
def test_the_bom_lists_every_part_with_a_supplier_number_and_price(board):
    rows = bom(board)
    assert rows and all(int(r["qty"]) > 0 and float(r["unit_price_usd"]) > 0 and r["supplier"] and r["supplier_pn"]
                        for r in rows)
    refs = set()
    for r in rows:  # "SW1-SW4" and "R1-R2" are ranges of references
        m = re.fullmatch(r"([A-Z]+)(\d+)-\1?(\d+)", r["ref"])
        refs |= {f"{m[1]}{i}" for i in range(int(m[2]), int(m[3]) + 1)} if m else {r["ref"]}
    pins = pinout(board)
    used = set()
    for entry in pins["pin"] + pins["power"] + pins["device"]:
        for part in re.split(r"[,/]\s*", entry["part"]):
            m = re.fullmatch(r"([A-Z]+)(\d+)-\1?(\d+)", part)
            used |= {f"{m[1]}{i}" for i in range(int(m[2]), int(m[3]) + 1)} if m else {part}
    assert used <= refs, f"in the pinout but not the BOM: {used - refs}"
    assert any("Pico W" in r["part"] for r in rows)


def test_the_kiosk_bom_has_what_the_kiosk_needs():
    text = " ".join(r["part"] for r in bom("kiosk"))
    for part in ("Pico W", "SSD1306", "PIR", "push button"):
        assert part in text


def test_the_wiring_diagrams_are_drawn_from_the_pinouts():
    done = subprocess.run([sys.executable, str(HARDWARE / "wiring.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    for board in BOARDS:
        svg = (HARDWARE / board / "wiring.svg").read_text()
        assert svg.startswith("<svg ") and svg.rstrip().endswith("</svg>")
        for p in pinout(board)["pin"]:
            assert f"GP{p['gp']}<" in svg and p["signal"].split(" (")[0] in svg.replace("&#x27;", "'")
