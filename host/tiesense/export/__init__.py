"""Exports: the survey tables (CSV, XLSX, JSON) and the tie network (GraphML, GEXF, Pajek, UCINET DL, JSON).

:func:`export` writes one format to a binary file; ``tiesense export FORMAT
--out FILE`` and ``GET /api/exports/{format}`` call it. Formats:

=========  ===========================================================================
csv        a zip of one CSV per table, ODK Central style (``tp_visit.csv``,
           ``respondents.csv``, ``fi_partner.csv``); with ``table`` one CSV alone
xlsx       one workbook, one sheet per table (Kobo style)
graphml    the tie network (:mod:`.network`) for Gephi, yEd, networkx
gexf       the tie network for Gephi (GEXF 1.2)
net        the tie network as Pajek ``.net``
dl         the tie network as a UCINET DL edge list
json       the tie network as node-link JSON
=========  ===========================================================================

Tables and networks carry organisation names unless ``names`` is False.
"""
from __future__ import annotations

import csv
import io
import zipfile
from typing import BinaryIO, Callable

from ..store import Store
from . import network as _network
from .tables import Table, cells_table, survey_tables

__all__ = ["FORMATS", "TABLE_FORMATS", "NETWORK_FORMATS", "ExportError", "export", "write_tables",
           "survey_tables", "cells_table", "Table"]

#: format -> (media type, file extension)
FORMATS = {
    "csv": ("application/zip", "zip"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "graphml": ("application/graphml+xml", "graphml"),
    "gexf": ("application/gexf+xml", "gexf"),
    "net": ("text/plain; charset=utf-8", "net"),
    "dl": ("text/plain; charset=utf-8", "dl"),
    "json": ("application/json", "json"),
}
TABLE_FORMATS = ("csv", "xlsx")
NETWORK_FORMATS = ("graphml", "gexf", "net", "dl", "json")
_WRITERS = {"graphml": _network.write_graphml, "gexf": _network.write_gexf, "net": _network.write_pajek,
            "dl": _network.write_ucinet, "json": _network.write_json}

Progress = Callable[[int, int], None] | None


class ExportError(ValueError):
    """An export that cannot be made as asked; the message says what to ask instead."""


def _csv_bytes(table: Table, progress, done: list, total: int) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(table.columns)
    for row in table.rows():
        w.writerow(["" if v is None else v for v in row])
        done[0] += 1
        if progress is not None and (done[0] % 500 == 0 or done[0] == total):
            progress(done[0], total)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # the BOM lets Excel read UTF-8 (as ODK Central does)


def write_tables(tables: list[Table], fmt: str, out: BinaryIO, progress: Progress = None,
                 single: bool = False) -> None:
    """Write ``tables`` as ``csv`` (a zip, or one CSV when ``single``) or ``xlsx``."""
    total, done = sum(t.count for t in tables), [0]
    if fmt == "csv":
        if single:
            out.write(_csv_bytes(tables[0], progress, done, total))
        else:
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
                for t in tables:
                    z.writestr(f"{t.name}.csv", _csv_bytes(t, progress, done, total))
    elif fmt == "xlsx":
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell

        wb = Workbook(write_only=True)
        for t in tables:
            ws = wb.create_sheet(t.name[:31])  # Excel's limit on sheet names

            def text(v, ws=ws):
                # openpyxl writes a string starting with "=" as a formula: a roster name such as
                # =HYPERLINK(...) would run in the analyst's Excel. Keep it text.
                if isinstance(v, str) and v.startswith("="):
                    cell = WriteOnlyCell(ws, value=v)
                    cell.data_type = "s"
                    return cell
                return v

            ws.append([text(c) for c in t.columns])
            for row in t.rows():
                ws.append([text(v) for v in row])
                done[0] += 1
                if progress is not None and (done[0] % 500 == 0 or done[0] == total):
                    progress(done[0], total)
        if not tables:
            wb.create_sheet("empty")
        wb.save(out)
    else:
        raise ExportError(f"tables are exported as {' or '.join(TABLE_FORMATS)}, not {fmt}")
    if progress is not None:
        progress(total, total)


def export(store: Store, fmt: str, out: BinaryIO, *, progress: Progress = None, names: bool = True,
           labels: bool = False, lang: str = "en", table: str | None = None, estimator: str = "composite",
           filters=None) -> None:
    """Write the export ``fmt`` (a key of :data:`FORMATS`) of ``store`` to ``out``.

    Parameters
    ----------
    progress : callable(done, total) or None
        Called as rows and network elements are written.
    names : organisation names in tables and node labels (analysts); codes only when False
    labels, lang : tables with question and choice labels in ``lang`` instead of names and codes
    table : csv only: that one table as a single CSV (``tp_visit``, ``respondents``, ``fi_partner``)
    estimator : networks: whose tie estimates are the edges
    filters : tables: a :class:`~tiesense.store.analysable.Filters`

    Raises
    ------
    ExportError
        An unknown format or table.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    if fmt in TABLE_FORMATS:
        from ..store.analysable import Filters

        tables = survey_tables(store, labels=labels, lang=lang, names=names, filters=filters or Filters())
        if table is not None:
            if fmt != "csv":
                raise ExportError("table= picks one CSV; an XLSX always has every sheet")
            tables = [t for t in tables if t.name == table]
            if not tables:
                raise ExportError(f"no table {table!r}: one of {', '.join(t.name for t in survey_tables(store))}")
        write_tables(tables, fmt, out, progress, single=table is not None)
        return
    _WRITERS[fmt](_network.network(store, estimator, names=names), out, progress)
