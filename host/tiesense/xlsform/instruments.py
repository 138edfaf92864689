"""The instruments tiesense ships as XLSForm sources, and the workbooks a researcher adapts.

Each instrument is a pyxform markdown table (``tiesense/instruments/xlsform/<name>.md``):
diffable text that pyxform reads as it reads a workbook. :func:`write_workbook`
turns one into an ``.xlsx`` (pyxform's own markdown reader, saved by openpyxl)
that opens in Excel or LibreOffice and compiles to the same device form.
docs/instruments.md maps every item to the domain brief.
"""
from __future__ import annotations

from pathlib import Path

from .compiler import CompiledForm, compile_xlsform

__all__ = ["SOURCES", "InstrumentError", "names", "source", "target", "describe", "compile_instrument",
           "write_workbook"]

#: Where the XLSForm sources ship (package data).
SOURCES = Path(__file__).resolve().parent.parent / "instruments" / "xlsform"

# The device each instrument is written for: text questions need the handheld's keyboard.
_TARGETS = {"tp_visit": "kiosk", "fi_interview": "handheld"}


class InstrumentError(ValueError):
    """No shipped instrument of that name; the message lists the ones that ship."""


def names() -> list[str]:
    """Names of the shipped XLSForm instruments, sorted.

    Examples
    --------
    >>> names()
    ['fi_interview', 'tp_visit']
    """
    return sorted(p.stem for p in SOURCES.glob("*.md"))


def source(name: str) -> Path:
    """The markdown XLSForm of instrument ``name``.

    Raises
    ------
    InstrumentError
        If no instrument of that name ships.
    """
    path = SOURCES / f"{name}.md"
    if not path.is_file():
        raise InstrumentError(f"no shipped instrument '{name}'; shipped: {', '.join(names())} "
                              "(tiesense forms instruments)")
    return path


def target(name: str) -> str:
    """The device instrument ``name`` is written for (``kiosk`` or ``handheld``).

    Examples
    --------
    >>> target("tp_visit"), target("fi_interview")
    ('kiosk', 'handheld')
    """
    source(name)
    return _TARGETS.get(name, "handheld")


def describe(name: str) -> str:
    """The instrument's one-line summary: the first comment line of its source.

    Examples
    --------
    >>> describe("tp_visit").split(":")[0]
    'Techno-park visit (kiosk, under a minute, Korean and English)'
    """
    first = source(name).read_text(encoding="utf-8").split("\n", 1)[0]
    return first.lstrip("#").strip()


def compile_instrument(name: str) -> CompiledForm:
    """Instrument ``name`` compiled for its device (:func:`target`).

    Examples
    --------
    >>> f = compile_instrument("tp_visit").form
    >>> f["id"], f["target"], f["languages"]
    ('tp_visit', 'kiosk', ['en', 'ko'])
    """
    return compile_xlsform(source(name), target(name))


def write_workbook(name: str, out: str | Path) -> Path:
    """Write instrument ``name`` as an ``.xlsx`` workbook (sheets survey, choices, settings) to ``out``.

    The cells are the markdown table's, read by pyxform's own markdown reader,
    so the workbook compiles to the same device form as the source.

    Raises
    ------
    InstrumentError
        If no instrument of that name ships, or ``out`` does not end in ``.xlsx``.
    """
    from pyxform.xls2json_backends import md_table_to_workbook

    out = Path(out)
    if out.suffix.lower() != ".xlsx":
        raise InstrumentError(f"{out}: the workbook is written as .xlsx; give a file name ending in .xlsx")
    workbook = md_table_to_workbook(source(name).read_text(encoding="utf-8"))  # comment lines are skipped
    out.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(out)
    return out
