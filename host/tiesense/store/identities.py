"""Identities: who may log in to the broker, each with a Mosquitto password hash; devices also with the
secret key they will sign records with. A revoked identity stays, marked, so its name is never reused
by accident and its history can still be read."""
from __future__ import annotations

import sqlite3

from .connection import dicts

__all__ = ["add", "revoke", "rows", "get", "device_keys", "site_key", "site_keys"]

_COLUMNS = ("name", "role", "site", "password_hash", "key", "created_at")


def add(conn: sqlite3.Connection, row: dict) -> None:
    """Insert a new identity, or bring a revoked one of the same name back with new secrets
    (inside the caller's write transaction)."""
    conn.execute(
        f"INSERT INTO identities ({', '.join(_COLUMNS)}, revoked_at) VALUES ({', '.join('?' * len(_COLUMNS))}, NULL) "
        f"ON CONFLICT (name) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _COLUMNS[1:])}, "
        "revoked_at = NULL",
        [row.get(c) for c in _COLUMNS])


def revoke(conn: sqlite3.Connection, name: str, at: str) -> bool:
    """Mark ``name`` revoked; False if there is no such active identity."""
    cur = conn.execute("UPDATE identities SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", [at, name])
    return cur.rowcount == 1


def get(conn: sqlite3.Connection, name: str) -> dict | None:
    """The identity called ``name`` (revoked or not), or None."""
    found = dicts(conn, "SELECT * FROM identities WHERE name = ?", [name])
    return found[0] if found else None


def rows(conn: sqlite3.Connection, role: str | None = None, active: bool = True) -> list[dict]:
    """Identities by name: of one ``role`` or all, only those not revoked unless ``active`` is False."""
    where, params = [], []
    if role is not None:
        where.append("role = ?")
        params.append(role)
    if active:
        where.append("revoked_at IS NULL")
    sql = "SELECT * FROM identities" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY name"
    return dicts(conn, sql, params)


def device_keys(conn: sqlite3.Connection) -> dict[str, bytes]:
    """``{device: key bytes}`` of every active device that has a key."""
    return {name: bytes.fromhex(key) for name, key in conn.execute(
        "SELECT name, key FROM identities WHERE role = 'device' AND revoked_at IS NULL AND key IS NOT NULL")}


def site_key(conn: sqlite3.Connection, site: str, new_key: str, at: str) -> str:
    """The key (hex) of ``site``, created as ``new_key`` if the site has none (inside a write transaction)."""
    conn.execute("INSERT INTO site_keys (site, key, created_at) VALUES (?, ?, ?) ON CONFLICT (site) DO NOTHING",
                 [site, new_key, at])
    return conn.execute("SELECT key FROM site_keys WHERE site = ?", [site]).fetchone()[0]


def site_keys(conn: sqlite3.Connection) -> dict[str, bytes]:
    """``{site: key bytes}`` of every site that has devices provisioned."""
    return {site: bytes.fromhex(key) for site, key in conn.execute("SELECT site, key FROM site_keys ORDER BY site")}
