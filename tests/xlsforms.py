"""XLSForm workbooks written with openpyxl for the tests: hand-written sheets, and the built-in
instruments (host/tiesense/instruments/*.json) written out as the XLSForm a researcher would author."""
from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

LANGS = {"en": "English (en)", "ko": "Korean (ko)"}


def write_xlsform(path: Path, survey: list[dict], choices: list[dict] = (), settings: dict | None = None) -> Path:
    """Write the sheets (rows as dicts; columns in order of first use) to ``path``."""
    wb = Workbook()
    sheets = [("survey", survey), ("choices", list(choices))]
    if settings:
        sheets.append(("settings", [settings]))
    first = True
    for title, rows in sheets:
        ws = wb.active if first else wb.create_sheet(title)
        ws.title = title
        first = False
        header: list[str] = []
        for row in rows:
            header.extend(k for k in row if k not in header)
        ws.append(header)
        for row in rows:
            ws.append([row.get(h) for h in header])
    wb.save(path)
    return path


def _labels(prefix: str, text: dict) -> dict:
    return {f"{prefix}::{LANGS[lang]}": value for lang, value in text.items()}


def instrument_to_xlsform(form: dict, path: Path) -> Path:
    """The XLSForm of a hand-written device form: one row per question, one choice list per select."""
    survey, choices = [], []
    for q in form["questions"]:
        t = q["type"]
        row = {"type": t, "name": q["name"]}
        if t in ("select_one", "select_multiple"):
            row["type"] = f"{t} {q['name']}"
            for c in q["choices"]:
                choices.append({"list_name": q["name"], "name": c["name"], **_labels("label", c["label"])})
        row.update(_labels("label", q["label"]))
        row["required"] = "yes" if q.get("required") else "no"
        parts = []
        if "min" in q:
            parts.append(f". >= {q['min']}")
        if "max" in q:
            parts.append(f". <= {q['max']}")
        if "max_selected" in q:
            parts.append(f"count-selected(.) <= {q['max_selected']}")
        if parts:
            row["constraint"] = " and ".join(parts)
        if t == "range":
            row["parameters"] = f"start={q['start']} end={q['end']} step={q.get('step', 1)}"
        survey.append(row)
    settings = {"form_id": form["id"], "version": form["version"], "form_title": form["title"]["en"],
                "default_language": LANGS["en"]}
    return write_xlsform(path, survey, choices, settings)


def walk(questions):
    """Every question of a compiled form, those inside repeats too, in form order."""
    for q in questions:
        yield q
        yield from walk(q.get("questions", []))


def by_name(form):
    """A compiled form's questions by name, those inside repeats too."""
    return {q["name"]: q for q in walk(form["questions"])}
