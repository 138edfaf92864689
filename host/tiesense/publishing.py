"""Publishing a form version: the checks a new version must pass, then the host's database.

A published form id + version never changes (:mod:`tiesense.store.forms` refuses
other content under a published version). Before that, a new version of a form
already published must be **newer** (versions compare as numbers, as devices
compare them: ``wire.newer_version``; ``10`` is newer than ``9``), and may not
give a question another type under the same name, since every version stays
readable and an export's column would then mix two kinds of answer: rename the
question instead. The versions compared are those published to this host's
database; the instruments built into tiesense are not (the shipped visit form's
satisfaction, a labelled select of "1" to "5", follows the built-in range of
1 to 5, and both are read as the same integer into ``visits.satisfaction``). ``wave`` (a publish option) is kept in the form as its
``wave`` setting, which the analysable rows use for records that carry no
``wave`` answer of their own (docs/instruments.md).

An XLSForm is compiled for publishing with the park's roster
(:func:`compile_with_roster`): the organisation rows of its roster list
(``kind = org``, placeholders in the shipped instruments) become the
organisations of the database's current roster (:mod:`tiesense.xlsform.roster`),
and the form records that ``roster_version``. A form with a roster list on a
host with no roster is refused (import one, or keep the placeholders on
purpose with ``roster=False``). A new roster never changes a published
version: publishing the same id + version with other organisations is refused
with the roster versions named, so the user raises the form's version.

The host that serves the database delivers a published version to devices
(retained, signed for every site): at its next start, or at once through its
broker (``tiesense forms publish``).
"""
from __future__ import annotations

from pathlib import Path

from . import wire
from .forms import FormError, _check_form, builtin_forms
from .store import FormConflict, Store
from .store import roster as _roster
from .store.forms import spec as _published_spec
from .xlsform import CompiledForm, compile_xlsform
from .xlsform.roster import Roster

__all__ = ["PublishError", "NoRoster", "check_new_version", "publish", "host_roster", "compile_with_roster"]


class PublishError(ValueError):
    """A form version that cannot be published; the message says what to change."""


class NoRoster(PublishError):
    """A form with a roster list, and no roster in the database to put in it; the message says to import one."""


def _types(form: dict) -> dict[str, str]:
    out = {}
    todo = list(form.get("questions") or [])
    while todo:
        q = todo.pop()
        out[q["name"]] = q.get("type")
        todo.extend(q.get("questions") or [])
    return out


def check_new_version(published: list[dict], form: dict) -> None:
    """Refuse ``form`` if a version of its id in ``published`` is as new or newer (unless it is that very
    version, which the store then checks for other content), or if it changes a question's type.

    Examples
    --------
    >>> old = {"id": "f", "version": "9", "questions": [{"name": "n", "type": "integer"}]}
    >>> check_new_version([old], {"id": "f", "version": "10", "questions": [{"name": "n", "type": "integer"}]})
    >>> check_new_version([old], {"id": "f", "version": "10", "questions": [{"name": "n", "type": "text"}]})
    Traceback (most recent call last):
    ...
    tiesense.publishing.PublishError: form 'f' version '10' makes 'n' a text; version '9' has it as an integer: rename the question (a new name is a new column) or keep its type
    """
    same = [f for f in published if f["id"] == form["id"] and f["version"] != form["version"]]
    if not same or any(f["version"] == form["version"] for f in published if f["id"] == form["id"]):
        return
    newest = same[0]
    for f in same[1:]:
        if wire.newer_version(f["version"], newest["version"]):
            newest = f
    if not wire.newer_version(form["version"], newest["version"]):
        raise PublishError(f"form '{form['id']}' version '{form['version']}' is not newer than the published "
                           f"version '{newest['version']}' (versions compare as numbers, as devices compare them): "
                           "give it a higher version, e.g. the date and a counter, 2026120101")
    before = {}
    for f in sorted(same, key=lambda f: (len(f["version"]), f["version"])):
        before.update({name: (t, f["version"]) for name, t in _types(f).items()})
    for name, t in _types(form).items():
        if name in before and before[name][0] != t:
            was, version = before[name]
            raise PublishError(f"form '{form['id']}' version '{form['version']}' makes '{name}' {_a(t)}; "
                               f"version '{version}' has it as {_a(was)}: rename the question (a new name is a new "
                               "column) or keep its type")


def _a(t: str) -> str:
    return ("an " if t[:1] in "aeiou" else "a ") + t


def host_roster(store: Store) -> Roster | None:
    """The database's current roster (its version and organisations), or None before the first import."""
    version, rows = store.read(_roster.current)
    return None if version is None else Roster.of(rows, version)


def compile_with_roster(store: Store, source: str | Path | bytes, target: str, *, roster: bool = True) -> CompiledForm:
    """XLSForm ``source`` compiled for ``target`` with the database's current roster in its roster list.

    A form without a roster list compiles as it is. ``roster=False`` keeps the form's own organisation
    rows (the shipped instruments' placeholders).

    Raises
    ------
    tiesense.xlsform.FormRefused
        The form is outside the device subset (or a kiosk select over more than 50 organisations).
    NoRoster
        The form has a roster list and the database has no roster.
    """
    current = host_roster(store) if roster else None
    compiled = compile_xlsform(source, target, current)
    if roster and current is None and compiled.roster_list:
        form = compiled.form
        raise NoRoster(f"form '{form['id']}' has the roster list '{compiled.roster_list}' (organisation rows, "
                       "kind = org) and this database has no roster: import one with tiesense roster import "
                       "FILE.csv (or POST /api/roster), or keep the form's own organisation rows on purpose "
                       "(--no-roster; roster=false in POST /api/forms/xlsform)")
    return compiled


def _raise_the_version(version: str) -> str:
    return str(int(version) + 1) if version.isdigit() else f"{version}.1"


def _roster_of(form: dict) -> str:
    if "roster_version" not in form:
        return "its own organisation rows (no roster)"
    if form["roster_version"] is None:
        return "a roster from a file"
    return f"roster version {form['roster_version']}"


def _conflict(store: Store, form: dict, e: FormConflict) -> str:
    """The conflict's message, naming the rosters when they are what differs."""
    published = store.read(_published_spec, form["id"], form["version"]) or {}
    was, now = _roster_of(published), _roster_of(form)
    if was == now:
        return str(e)
    return (f"form '{form['id']}' version '{form['version']}' was published with {was} and this one carries "
            f"{now}: a published version never changes, so raise the form's version (the settings sheet's "
            f"version, e.g. {_raise_the_version(form['version'])}) to publish it with these organisations")


def _next_version(store: Store, form_id: str) -> str:
    """One above the newest version of ``form_id`` built in or published (numbers: 2026120101 -> 2026120102)."""
    newest = None
    for f in builtin_forms() + store.forms():
        if f["id"] == form_id and (newest is None or wire.newer_version(f["version"], newest)):
            newest = f["version"]
    return _raise_the_version(newest) if newest is not None else "1"


def check_newer_than_builtin(store: Store, form: dict, builtins: list[dict] | None = None) -> None:
    """Refuse ``form`` if tiesense ships a version of its id as new or newer with other content: devices are
    staged with the built-in one and adopt only a newer version, so they would never run this one (the
    shipped interview published with the park's roster, under the shipped version, is the common case)."""
    for shipped in builtin_forms() if builtins is None else builtins:
        if shipped["id"] != form["id"] or shipped == form or wire.newer_version(form["version"], shipped["version"]):
            continue
        raise PublishError(
            f"form '{form['id']}' version '{form['version']}' is not newer than the version '{shipped['version']}' "
            f"built into tiesense, which devices are staged with; they adopt only a newer version, so they would "
            f"never run this one: publish it as version {_next_version(store, form['id'])} (--version; version= "
            "in POST /api/forms/xlsform) or set a higher version in the settings sheet")


def publish(store: Store, form: dict, *, wave: str | None = None, version: str | None = None) -> bool:
    """Check ``form`` against the versions published before and built in, set its ``wave`` (and its
    ``version``, when given), and store it; True if new, False if this very version was published before
    with the same content.

    Raises
    ------
    PublishError
        Not a form, not newer than a published or built-in version, a question's type changed, or this
        version was published with other content.
    """
    form = dict(form)
    if wave is not None:
        form["wave"] = str(wave)
    if version is not None:
        form["version"] = str(version)
    try:
        form = _check_form(form, "form")
    except FormError as e:
        raise PublishError(str(e)) from None
    builtins = builtin_forms()
    check_newer_than_builtin(store, form, builtins)
    shipped = {(f["id"], f["version"]) for f in builtins}  # a host records them too: their types not compared
    check_new_version([f for f in store.forms() if (f["id"], f["version"]) not in shipped], form)
    try:
        return store.publish_form(form)
    except FormConflict as e:
        raise PublishError(_conflict(store, form, e)) from None
