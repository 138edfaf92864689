"""Who may use the web side: users who log in to the pages, API tokens and login sessions.

Only hashes are stored: a user's password as scrypt (slow, salted; see
:mod:`tiesense.access`), a token and a session cookie as the SHA-256 of a
random value of 256 bits (fast, which is safe for values that cannot be
guessed). A revoked token stays, marked, so its history can be read.
"""
from __future__ import annotations

import sqlite3

from .connection import dicts

__all__ = ["add_user", "user", "users", "set_password", "add_token", "token_by_hash", "tokens", "revoke_token",
           "add_session", "session_by_hash", "delete_session", "purge_sessions"]


def add_user(conn: sqlite3.Connection, name: str, role: str, password_hash: str, at: str) -> None:
    """Add a user (inside the caller's write transaction); IntegrityError if the name is taken."""
    conn.execute("INSERT INTO web_users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                 [name, role, password_hash, at])


def set_password(conn: sqlite3.Connection, name: str, password_hash: str) -> bool:
    """Replace a user's password hash (and end their sessions); False if there is no such user."""
    changed = conn.execute("UPDATE web_users SET password_hash = ? WHERE name = ?", [password_hash, name]).rowcount
    conn.execute("DELETE FROM web_sessions WHERE user = ?", [name])
    return changed == 1


def user(conn: sqlite3.Connection, name: str) -> dict | None:
    """The user called ``name``, or None."""
    found = dicts(conn, "SELECT * FROM web_users WHERE name = ?", [name])
    return found[0] if found else None


def users(conn: sqlite3.Connection) -> list[dict]:
    """Every user by name (without password hashes)."""
    return dicts(conn, "SELECT name, role, created_at, disabled_at FROM web_users ORDER BY name")


def add_token(conn: sqlite3.Connection, name: str, role: str, token_hash: str, at: str) -> int:
    """Add an API token (inside the caller's write transaction); IntegrityError if an active one has this name."""
    return conn.execute("INSERT INTO api_tokens (name, role, token_hash, created_at) VALUES (?, ?, ?, ?)",
                        [name, role, token_hash, at]).lastrowid


def token_by_hash(conn: sqlite3.Connection, token_hash: str) -> dict | None:
    """The active token with this hash, or None."""
    found = dicts(conn, "SELECT id, name, role, created_at FROM api_tokens WHERE token_hash = ? "
                        "AND revoked_at IS NULL", [token_hash])
    return found[0] if found else None


def tokens(conn: sqlite3.Connection, active: bool = True) -> list[dict]:
    """Tokens by name (never their hashes): only the active ones unless ``active`` is False."""
    where = "WHERE revoked_at IS NULL" if active else ""
    return dicts(conn, f"SELECT id, name, role, created_at, revoked_at FROM api_tokens {where} ORDER BY name, id")


def revoke_token(conn: sqlite3.Connection, name: str, at: str) -> bool:
    """Revoke the active token called ``name``; False if there is none."""
    return conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                        [at, name]).rowcount == 1


def add_session(conn: sqlite3.Connection, session_hash: str, user_name: str, at: str, expires_at: str) -> None:
    """Start a login session (inside the caller's write transaction)."""
    conn.execute("INSERT INTO web_sessions (session_hash, user, created_at, expires_at) VALUES (?, ?, ?, ?)",
                 [session_hash, user_name, at, expires_at])


def session_by_hash(conn: sqlite3.Connection, session_hash: str, now: str) -> dict | None:
    """The unexpired session with this hash joined to its enabled user (name, role), or None."""
    found = dicts(conn, "SELECT s.user AS name, u.role AS role, s.expires_at AS expires_at FROM web_sessions s "
                        "JOIN web_users u ON u.name = s.user WHERE s.session_hash = ? AND s.expires_at > ? "
                        "AND u.disabled_at IS NULL", [session_hash, now])
    return found[0] if found else None


def delete_session(conn: sqlite3.Connection, session_hash: str) -> None:
    """End a session (logout)."""
    conn.execute("DELETE FROM web_sessions WHERE session_hash = ?", [session_hash])


def purge_sessions(conn: sqlite3.Connection, now: str) -> int:
    """Forget expired sessions; how many."""
    return conn.execute("DELETE FROM web_sessions WHERE expires_at <= ?", [now]).rowcount
