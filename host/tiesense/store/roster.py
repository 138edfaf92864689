"""The roster: the organisations of the cluster, by roster code, kept in versions.

Each import is a whole list and becomes a new version (``roster_versions``);
the rows of every version stay in ``organisations``, so a tie reported in an
old wave can still be read against the roster of its day. The current roster
is the highest version. Importing the same rows again makes no new version.

A row is ``code`` (the integer interviews name in ``respondent_org`` and
``partner_org``), ``name``, ``actor_type`` (domain.md section 2: ``sme``,
``university``, ``gri``, ``technopark``...: the codes of ``tiesense.ties.cluster.ACTOR_TYPES``,
which the cluster measures group by), ``region``, ``sector`` and
``size`` (a size band); the last three may be empty.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
from typing import Iterable

from .connection import dicts

__all__ = ["COLUMNS", "REQUIRED", "RosterError", "parse_csv", "parse_xlsx", "parse", "check_actor_types", "import_rows",
           "current_version", "current", "versions", "organisations", "organisation", "CURRENT"]

#: Columns of a roster row, in file order.
COLUMNS = ("code", "name", "actor_type", "region", "sector", "size")
#: Columns a roster file must have.
REQUIRED = ("code", "name", "actor_type")

#: SQL for the current roster version (NULL when no roster was imported).
CURRENT = "(SELECT max(version) FROM roster_versions)"


class RosterError(ValueError):
    """A roster file the host cannot take; the message names the line and what to change."""


def _csv_rows(text: str):
    """The CSV's rows (newlines inside quotes, and lone carriage returns, as the csv module reads them);
    a malformed line is a RosterError naming it."""
    reader = csv.reader(io.StringIO(text, newline=""))
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise RosterError(f"line {reader.line_num}: not CSV ({e}): save the roster as CSV, "
                              "one organisation per line") from None


def parse_csv(text: str) -> list[dict]:
    """Roster rows from CSV text with a header row (``code,name,actor_type[,region,sector,size]``).

    Column names are matched case-insensitively; unknown columns are ignored;
    empty optional cells become None. A UTF-8 byte-order mark (Excel's "CSV
    UTF-8") is skipped.

    Raises
    ------
    RosterError
        A missing column, a code that is not a positive integer, a code twice,
        an empty name or actor type; the message names the line. An actor type
        that is not one of :func:`actor_types` (every such line is named).

    Examples
    --------
    >>> parse_csv("code,name,actor_type\\n7,Gumi Univ,university\\n")
    [{'code': 7, 'name': 'Gumi Univ', 'actor_type': 'university', 'region': None, 'sector': None, 'size': None}]
    """
    return _parse_rows(_csv_rows(text.lstrip("\ufeff")), "line")


def _cell_text(value) -> str:
    """An XLSX cell as the text a CSV export of it would hold (7.0 typed as a number is code 7)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def parse_xlsx(data: bytes) -> list[dict]:
    """Roster rows from an XLSX workbook: its sheet named ``roster`` if it has one, else its first sheet, read
    as :func:`parse_csv` reads a CSV (a header row, then one organisation per row); messages name the row.

    Raises
    ------
    RosterError
        Not a workbook, or a row :func:`parse_csv` would refuse.
    """
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
        raise RosterError(f"not an XLSX workbook ({e}): save the roster as .xlsx or as CSV UTF-8") from None
    try:
        names = {n.lower(): n for n in book.sheetnames}
        sheet = book[names["roster"]] if "roster" in names else book.worksheets[0]
        return _parse_rows(([_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)), "row")
    finally:
        book.close()


def parse(data: bytes, filename: str | None = None) -> list[dict]:
    """Roster rows from a file's bytes: an XLSX workbook (by its ``.xlsx`` name, or its zip signature), else
    UTF-8 CSV.

    Raises
    ------
    RosterError
        As :func:`parse_csv` or :func:`parse_xlsx`; CSV that is not UTF-8.
    """
    if (filename or "").lower().endswith(".xlsx") or data[:4] == b"PK\x03\x04":
        return parse_xlsx(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RosterError("the roster is neither an XLSX workbook nor UTF-8 text: save it as .xlsx, or as CSV "
                          "UTF-8 (Excel: CSV UTF-8)") from None
    return parse_csv(text)


def _parse_rows(reader, unit: str) -> list[dict]:
    """Roster rows from lists of cell texts, the first the header; ``unit`` names a row in messages."""
    try:
        header = next(reader)
    except StopIteration:
        raise RosterError("the roster file is empty: give a header row code,name,actor_type,region,sector,size "
                          "and one row per organisation") from None
    index = {h.strip().lower(): i for i, h in enumerate(header)}
    missing = [c for c in REQUIRED if c not in index]
    if missing:
        raise RosterError(f"the roster has no column {', '.join(missing)} (header: {', '.join(header)}); "
                          f"the columns are {', '.join(COLUMNS)}")
    rows, lines, seen = [], [], {}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue

        def cell(name: str) -> str | None:
            i = index.get(name)
            v = cells[i].strip() if i is not None and i < len(cells) else ""
            return v or None

        raw = cell("code")
        try:
            code = int(raw or "")
        except ValueError:
            raise RosterError(f"{unit} {line}: code {raw!r} is not a whole number; "
                              "roster codes are the positive integers interviews name") from None
        if code < 1:
            raise RosterError(f"{unit} {line}: code {code} must be 1 or more")
        if code in seen:
            raise RosterError(f"{unit} {line}: code {code} is already on {unit} {seen[code]}; each organisation once")
        seen[code] = line
        row = {c: cell(c) for c in COLUMNS}
        row["code"] = code
        for c in ("name", "actor_type"):
            if not row[c]:
                raise RosterError(f"{unit} {line}: organisation {code} has no {c}")
        rows.append(row)
        lines.append(line)
    if not rows:
        raise RosterError("the roster has a header but no organisations")
    check_actor_types(rows, [f"{unit} {n}" for n in lines])
    return rows


def actor_types() -> tuple[str, ...]:
    """The actor type codes a roster may use: :data:`tiesense.ties.cluster.ACTOR_TYPES`, the one list the
    cluster measures group by (imported here, never re-typed)."""
    from ..ties.cluster import ACTOR_TYPES

    return ACTOR_TYPES


def check_actor_types(rows: list[dict], where: list[str] | None = None) -> None:
    """Raise :class:`RosterError` naming every row whose ``actor_type`` is not one of :func:`actor_types`.

    ``where`` names each row in the message (default ``row <i> (code <code>)``, counting from 1).

    Examples
    --------
    >>> check_actor_types([{"code": 1, "actor_type": "sme"}, {"code": 12, "actor_type": "techno_park"}])
    Traceback (most recent call last):
    ...
    tiesense.store.roster.RosterError: row 2 (code 12): actor type 'techno_park': not an actor type ...
    """
    allowed = actor_types()
    bad = [(where[i] if where else f"row {i + 1} (code {r.get('code')})", r.get("actor_type"))
           for i, r in enumerate(rows) if r.get("actor_type") not in allowed]
    if bad:
        shown = "; ".join(f"{w}: actor type {t!r}" for w, t in bad[:20])
        more = f"; and {len(bad) - 20} more rows" if len(bad) > 20 else ""
        raise RosterError(f"{shown}{more}: not an actor type the cluster measures know; use one of "
                          f"{', '.join(allowed)} (tiesense.ties.cluster.ACTOR_TYPES)")


def _digest(rows: list[dict]) -> str:
    canon = json.dumps(sorted(([r.get(c) for c in COLUMNS] for r in rows), key=lambda r: r[0]),
                       ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def import_rows(conn: sqlite3.Connection, rows: Iterable[dict], source: str | None, at: str) -> tuple[int, bool]:
    """Make ``rows`` the current roster (inside the caller's write transaction).

    Returns ``(version, created)``: the new version, or the current one with
    ``created`` False when its rows are the same. Raises :class:`RosterError` for an actor type that is
    not one of :func:`actor_types` (:func:`check_actor_types`), before anything is written.
    """
    rows = list(rows)
    check_actor_types(rows)
    digest = _digest(rows)
    cur = conn.execute("SELECT version, digest FROM roster_versions ORDER BY version DESC LIMIT 1").fetchone()
    if cur is not None and cur[1] == digest:
        return cur[0], False
    version = (cur[0] if cur else 0) + 1
    conn.execute("INSERT INTO roster_versions (version, imported_at, source, digest, organisations) "
                 "VALUES (?, ?, ?, ?, ?)", [version, at, source, digest, len(rows)])
    conn.executemany(f"INSERT INTO organisations (version, {', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     [[version] + [r.get(c) for c in COLUMNS] for r in rows])
    return version, True


def current_version(conn: sqlite3.Connection) -> int | None:
    """The current roster version, or None before the first import."""
    return conn.execute(f"SELECT {CURRENT}").fetchone()[0]


def current(conn: sqlite3.Connection) -> tuple[int | None, list[dict]]:
    """The current roster version and its organisations by code, read together; ``(None, [])`` before the
    first import."""
    version = current_version(conn)
    if version is None:
        return None, []
    return version, dicts(conn, "SELECT * FROM organisations WHERE version = ? ORDER BY code", [version])


def versions(conn: sqlite3.Connection) -> list[dict]:
    """Every roster version, newest first."""
    return dicts(conn, "SELECT * FROM roster_versions ORDER BY version DESC")


def _where(version: int | None, actor_type: str | None, region: str | None, sector: str | None,
           q: str | None) -> tuple[str, list]:
    where, params = [f"version = {CURRENT}" if version is None else "version = ?"], []
    if version is not None:
        params.append(version)
    for col, val in (("actor_type", actor_type), ("region", region), ("sector", sector)):
        if val is not None:
            where.append(f"{col} = ?")
            params.append(val)
    if q:
        where.append("name LIKE ? ESCAPE '\\'")
        params.append("%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    return " AND ".join(where), params


def organisations(conn: sqlite3.Connection, *, version: int | None = None, actor_type: str | None = None,
                  region: str | None = None, sector: str | None = None, q: str | None = None,
                  limit: int | None = None, offset: int = 0) -> tuple[list[dict], int]:
    """``(rows, total)``: organisations of a roster version (default the current), by code, filtered."""
    from .connection import page

    where, params = _where(version, actor_type, region, sector, q)
    return page(conn, f"SELECT * FROM organisations WHERE {where}", params, "code", limit, offset)


def organisation(conn: sqlite3.Connection, code: int) -> list[dict]:
    """Every version's row of organisation ``code``, newest first (empty if it was never on a roster)."""
    return dicts(conn, "SELECT * FROM organisations WHERE code = ? ORDER BY version DESC", [code])
