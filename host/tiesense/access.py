"""Access to the web side: roles, users with passwords, API tokens and login sessions.

Roles, each including the ones below it:

* ``viewer``: aggregates only, every cell built from at least k respondents;
* ``analyst``: every row (records, ties, respondents, organisations with
  their names, estimates, measures) and every export;
* ``admin``: also what changes the host: roster imports, form publishing,
  quarantine (raw bytes, re-ingest, delete), devices.

Secrets are never stored. A password is kept as scrypt (n=2**14, r=8, p=1,
16 random bytes of salt: slow on purpose, since people choose passwords). A
token or session cookie is 32 random bytes, shown once, kept as its SHA-256:
a value that cannot be guessed needs no slow hash, and a fast one lets every
request be checked in microseconds.

The CLI (``tiesense users create-admin``, ``tiesense tokens create``) and the
web's login call these functions.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import sqlite3
import time
from dataclasses import dataclass

from .store import Store, access, now_iso

__all__ = ["ROLES", "Principal", "AccessError", "hash_password", "verify_password", "hash_secret",
           "create_user", "set_password", "create_token", "revoke_token", "authenticate_token", "login",
           "session_principal", "logout", "TOKEN_PREFIX", "SESSION_HOURS", "allows"]

#: Roles from the least to the most allowed.
ROLES = ("viewer", "analyst", "admin")
#: Tokens start with this, so a leaked one is easy to recognise (secret scanners, logs).
TOKEN_PREFIX = "tsk_"
#: How long a login lasts.
SESSION_HOURS = 12.0
#: Shortest password accepted.
MIN_PASSWORD = 10

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2 ** 14, 8, 1


class AccessError(ValueError):
    """A user or token the host cannot create; the message says what to change."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (``via`` ``session``) or a token (``via`` ``token``), with a role."""

    name: str
    role: str
    via: str

    def allows(self, role: str) -> bool:
        """True if this principal's role includes ``role``."""
        return allows(self.role, role)


def allows(have: str, need: str) -> bool:
    """True if role ``have`` includes role ``need``.

    Examples
    --------
    >>> allows("admin", "analyst"), allows("viewer", "analyst")
    (True, False)
    """
    return ROLES.index(have) >= ROLES.index(need)


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$hash`` of ``password`` (base64 salt and hash).

    Examples
    --------
    >>> h = hash_password("correct horse battery")
    >>> h.startswith("scrypt$16384$8$1$"), verify_password("correct horse battery", h), verify_password("x", h)
    (True, True, False)
    """
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True if ``password`` hashes to ``stored`` (compared in constant time)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def hash_secret(value: str) -> str:
    """SHA-256 hex of a token or session value: what is stored and looked up."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccessError(f"unknown role {role!r}: one of {', '.join(ROLES)}")


def _check_name(name: str) -> None:
    if not name or not name.strip() or len(name) > 100 or any(c.isspace() or c in "\"'<>" for c in name):
        raise AccessError(f"name {name!r}: give 1 to 100 characters without spaces or quotes")


def create_user(store: Store, name: str, password: str, role: str = "admin") -> None:
    """Add a user who logs in to the pages with ``password`` (at least :data:`MIN_PASSWORD` characters)."""
    _check_name(name)
    _check_role(role)
    if len(password) < MIN_PASSWORD:
        raise AccessError(f"the password has {len(password)} characters: give at least {MIN_PASSWORD}")
    try:
        store.write(access.add_user, name, role, hash_password(password), now_iso())
    except sqlite3.IntegrityError:
        raise AccessError(f"there is already a user {name!r}: choose another name, or set_password") from None


def set_password(store: Store, name: str, password: str) -> None:
    """Give user ``name`` a new password (their sessions end)."""
    if len(password) < MIN_PASSWORD:
        raise AccessError(f"the password has {len(password)} characters: give at least {MIN_PASSWORD}")
    if not store.write(access.set_password, name, hash_password(password)):
        raise AccessError(f"no user {name!r}")


def create_token(store: Store, name: str, role: str) -> str:
    """A new API token called ``name`` with ``role``; the token is returned once and only its hash is kept."""
    _check_name(name)
    _check_role(role)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        store.write(access.add_token, name, role, hash_secret(token), now_iso())
    except sqlite3.IntegrityError:
        raise AccessError(f"an active token is already called {name!r}: revoke it first "
                          f"(tiesense tokens revoke {name}) or choose another name") from None
    return token


def revoke_token(store: Store, name: str) -> None:
    """Revoke the active token called ``name``."""
    if not store.write(access.revoke_token, name, now_iso()):
        raise AccessError(f"no active token called {name!r} (tiesense tokens list shows them)")


def authenticate_token(store: Store, token: str) -> Principal | None:
    """The principal of an active token, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = store.read(access.token_by_hash, hash_secret(token))
    return Principal(row["name"], row["role"], "token") if row else None


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # A password check against this when the user does not exist keeps the time of a failed
    # login the same whether or not the name is known.
    return hash_password("not a password", b"0" * 16)


def login(store: Store, name: str, password: str, hours: float = SESSION_HOURS) -> tuple[str, Principal] | None:
    """Check a user's password; on success start a session and return ``(cookie value, principal)``."""
    row = store.read(access.user, name)
    ok = verify_password(password, row["password_hash"] if row else _dummy_hash())
    if not ok or row is None or row["disabled_at"] is not None:
        return None
    value = secrets.token_urlsafe(32)
    now = time.time()
    store.write(access.purge_sessions, now_iso(now))
    store.write(access.add_session, hash_secret(value), name, now_iso(now), now_iso(now + hours * 3600))
    return value, Principal(name, row["role"], "session")


def session_principal(store: Store, value: str) -> Principal | None:
    """The principal of an unexpired session cookie, or None."""
    row = store.read(access.session_by_hash, hash_secret(value), now_iso())
    return Principal(row["name"], row["role"], "session") if row else None


def logout(store: Store, value: str) -> None:
    """End the session of this cookie value."""
    store.write(access.delete_session, hash_secret(value))
