"""The park's roster in a form: its organisations replace the placeholder rows of the form's roster list.

An XLSForm names organisations through one choice list (``roster`` unless the
settings sheet's ``roster_list`` names another) whose rows of ``kind = org``
stand for the organisations; its other rows (``not_listed``, ``nobody``,
``new_1``...) are answers that are not an organisation. :func:`substitute`
replaces the ``org`` rows of the workbook's choices sheet, **before** pyxform
reads it, by one row per organisation of a roster: ``name`` is the roster
code, every label column is the organisation's name (a name has no
translation), a column named like a roster field (``actor_type``,
``region``, ``sector``, ``size``) holds the organisation's value (so a
``choice_filter`` can narrow the list by it), and a column on which every
placeholder agrees (``kind = org``) keeps that value. pyxform then validates
the result, and the compiler ships the glyphs the names need, as for any
other choice.

A kiosk answers with four keys, stepping through choices one at a time: a
list of more than :data:`KIOSK_MAX` organisations cannot be used that way,
and the compiler refuses it (:func:`kiosk_problem`); the handheld finds an
organisation by the first letters of its name or its code as they are typed.
docs/instruments.md, "The roster choice list", says the same for users.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

__all__ = ["LIST", "SETTING", "KIOSK_MAX", "Roster", "RosterListError", "list_name", "has_roster_list",
           "substitute", "kiosk_problem"]

#: The choice list the roster fills when the settings name none.
LIST = "roster"
#: The settings column that names another list.
SETTING = "roster_list"
#: The most organisations a kiosk's select steps through (issue 14: a list for small rosters).
KIOSK_MAX = 50
#: Roster fields a choices column of the same name is filled from.
FIELDS = ("actor_type", "region", "sector", "size")

_LIST_COLUMNS = ("list_name", "list name")
_NAME_COLUMNS = ("name", "value")


class RosterListError(ValueError):
    """The settings name a roster list the choices sheet does not have; the message says what to change."""


@dataclass(frozen=True)
class Roster:
    """The organisations a form is compiled with, and the host's roster version they are (None: a file).

    ``organisations`` are rows with at least ``code`` (a positive integer) and ``name``; the fields
    of :data:`FIELDS` fill choices columns of those names when the rows have them.
    """

    organisations: tuple
    version: int | None = None

    @classmethod
    def of(cls, rows: Iterable[dict], version: int | None = None) -> "Roster":
        """A roster of ``rows`` sorted by code (the order the list shows them in)."""
        return cls(tuple(sorted(rows, key=lambda r: int(r["code"]))), version)

    @classmethod
    def from_csv(cls, text: str) -> "Roster":
        """A roster read from a roster CSV (``code,name,actor_type,...``, as ``tiesense roster import`` reads
        it: :func:`tiesense.store.roster.parse_csv`), with no host version.

        Raises
        ------
        tiesense.store.roster.RosterError
            The file is not a roster; the message names the line.
        """
        from ..store.roster import parse_csv

        return cls.of(parse_csv(text))

    def __len__(self) -> int:
        return len(self.organisations)


def _column(row_keys: Iterable[str], candidates: tuple[str, ...]) -> str:
    keys = list(row_keys)
    return next((c for c in candidates if c in keys), candidates[0])


def list_name(settings: list[dict] | None) -> str:
    """The choice list the roster fills: the settings sheet's ``roster_list``, else ``roster``.

    Examples
    --------
    >>> list_name([{"form_id": "f", "roster_list": "orgs"}]), list_name(None)
    ('orgs', 'roster')
    """
    value = ((settings or [{}])[0] or {}).get(SETTING)
    return str(value).strip() if value not in (None, "") else LIST


def _is_org(row: dict, name: str) -> bool:
    listed = row.get(_column(row, _LIST_COLUMNS))
    return listed is not None and str(listed).strip() == name and str(row.get("kind", "")).strip() == "org"


def has_roster_list(choices: list[dict] | None, name: str = LIST) -> bool:
    """True if the choices sheet's list ``name`` has organisation rows (``kind = org``) for a roster to replace.

    Examples
    --------
    >>> has_roster_list([{"list_name": "roster", "name": "101", "kind": "org"}])
    True
    >>> has_roster_list([{"list_name": "roster", "name": "not_listed", "kind": "not_listed"}])
    False
    """
    return any(_is_org(r, name) for r in choices or ())


def substitute(choices: list[dict], roster: Roster, name: str = LIST, columns: Iterable[str] = ()) -> list[dict]:
    """The choices sheet's rows with list ``name``'s organisation rows replaced by ``roster``'s organisations.

    The new rows stand where the first placeholder stood, by roster code; every other row is kept as it is.
    Rows without organisation rows in list ``name`` come back unchanged. ``columns`` are the sheet's
    header (a label column no placeholder fills still gets the names).

    Examples
    --------
    >>> rows = [{"list_name": "roster", "name": "101", "label::English (en)": "Example", "kind": "org"},
    ...         {"list_name": "roster", "name": "nobody", "label::English (en)": "Nobody", "kind": "nobody"}]
    >>> for r in substitute(rows, Roster.of([{"code": 7, "name": "Kumoh National Institute"}])):
    ...     print(r)
    {'list_name': 'roster', 'kind': 'org', 'name': '7', 'label::English (en)': 'Kumoh National Institute'}
    {'list_name': 'roster', 'name': 'nobody', 'label::English (en)': 'Nobody', 'kind': 'nobody'}
    """
    placeholders = [r for r in choices if _is_org(r, name)]
    if not placeholders:
        return list(choices)
    first = placeholders[0]
    name_col = _column(first, _NAME_COLUMNS)
    labels = sorted({k for k in [*columns, *(k for r in placeholders for k in r)]
                     if k and k.split(":", 1)[0].strip() == "label"}) or ["label"]
    fields = [f for f in FIELDS if any(f in r for r in placeholders)]
    kept = {k: v for k, v in first.items()
            if k != name_col and k not in labels and k not in fields and not k.startswith("media")
            and all(r.get(k) == v for r in placeholders)}
    rows = []
    for org in roster.organisations:
        row = dict(kept)
        row[name_col] = str(int(org["code"]))
        for col in labels:
            row[col] = str(org["name"])
        for f in fields:
            if org.get(f) not in (None, ""):
                row[f] = str(org[f])
        rows.append(row)
    dropped = {id(r) for r in placeholders}
    out = []
    for r in choices:
        if r is first:
            out.extend(rows)
        elif id(r) not in dropped:
            out.append(r)
    return out


def kiosk_problem(question: str, name: str, organisations: int) -> tuple[str, str]:
    """``(feature, instead)`` of a kiosk select over a roster longer than :data:`KIOSK_MAX`.

    Examples
    --------
    >>> kiosk_problem("visitor_org", "roster", 200)[0]
    "'visitor_org' selects from the roster list 'roster' (200 organisations) on a kiosk"
    """
    return (f"'{question}' selects from the roster list '{name}' ({organisations} organisations) on a kiosk",
            f"a kiosk's keys step through choices one at a time, usable up to {KIOSK_MAX} organisations: "
            f"ask the visitor's kind of organisation instead (a select_one actor_type, as tp_visit's visitor_type, "
            f"for every visitor), give the kiosk a roster of at most {KIOSK_MAX} (--roster FILE.csv with, "
            f"e.g., this park's tenants, to tiesense forms compile or publish), or compile the form --for "
            f"handheld (it finds an organisation by the first letters of its name or by its code)")
