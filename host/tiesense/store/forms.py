"""Forms: every form id + version the host published; a published version is immutable."""
from __future__ import annotations

import hashlib
import json
import sqlite3

from .. import wire

__all__ = ["FormConflict", "publish", "specs", "spec"]


class FormConflict(ValueError):
    """A form id + version was published before with other content."""


def publish(conn: sqlite3.Connection, form: dict, published_at: str) -> bool:
    """Record ``form`` as published (inside the caller's write transaction); True if new, False if unchanged.

    Raises
    ------
    FormConflict
        This id + version was published with other content.
    """
    spec = wire.dumps(form)
    digest = hashlib.sha256(spec.encode("utf-8")).hexdigest()
    row = conn.execute("SELECT digest FROM forms WHERE form_id = ? AND version = ?",
                       [form["id"], form["version"]]).fetchone()
    if row is not None:
        if row[0] != digest:
            raise FormConflict(
                f"form '{form['id']}' version '{form['version']}' was published with other content; "
                "a published version is immutable: give the changed form a new version")
        return False
    conn.execute("INSERT INTO forms (form_id, version, spec, digest, published_at) VALUES (?, ?, ?, ?, ?)",
                 [form["id"], form["version"], spec, digest, published_at])
    return True


def specs(conn: sqlite3.Connection) -> list[dict]:
    """Every published form spec (dicts), by id and version."""
    return [json.loads(s) for (s,) in conn.execute("SELECT spec FROM forms ORDER BY form_id, version")]


def spec(conn: sqlite3.Connection, form_id: str, version: str) -> dict | None:
    """The published form ``form_id`` ``version``, or None."""
    row = conn.execute("SELECT spec FROM forms WHERE form_id = ? AND version = ?", [form_id, version]).fetchone()
    return None if row is None else json.loads(row[0])
