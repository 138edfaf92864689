"""Who serves a database: one host alone, or the workers of one shared-subscription group.

Two hosts writing one database with the same MQTT client id fight over one
broker session forever; two hosts on one database with different ids ingest
everything twice for nothing. So a host takes an exclusive lock on
``<database>.host.lock`` and refuses to start when another holds it. Workers
of an MQTT 5 shared group split one stream into one database on purpose:
each takes the lock shared, plus an exclusive *slot* (``<database>.worker-N.lock``)
whose number makes its client id stable across restarts and unique among the
workers running now. Locks are ``flock`` locks: the kernel drops them when the
process dies, so a killed host never leaves a stale lock behind.

The client id is derived from the machine and the database's absolute path,
so each host keeps its own persistent session at the broker across restarts.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import time
from pathlib import Path

__all__ = ["HostLock", "DatabaseInUse", "client_id_for"]

MAX_WORKERS = 64


class DatabaseInUse(RuntimeError):
    """Another host already serves this database; the message says which and what to do."""


def _tag(db_path: str, shared_group: str | None) -> str:
    where = f"{socket.gethostname()}:{os.path.realpath(db_path)}:{shared_group or ''}"
    return hashlib.sha1(where.encode("utf-8")).hexdigest()[:10]


def client_id_for(db_path: str | Path, shared_group: str | None = None, slot: int | None = None) -> str:
    """The MQTT client id of the host (or shared-group worker ``slot``) serving ``db_path`` on this machine.

    At most 23 characters, the length every MQTT 3.1.1 broker must accept.

    Examples
    --------
    >>> cid = client_id_for("/srv/park.db")
    >>> cid.startswith("tiesense-") and len(cid) <= 23 and cid == client_id_for("/srv/park.db")
    True
    >>> client_id_for("/srv/park.db", "ingest", 3).endswith("-w3")
    True
    """
    tag = _tag(str(db_path), shared_group)
    return f"tiesense-{tag}" if slot is None else f"tiesense-{tag}-w{slot}"


class HostLock:
    """The lock a host holds on its database while it runs.

    Parameters
    ----------
    db_path : str or Path
        The database file; the locks live beside it.
    shared_group : str or None
        Take the lock shared, as a worker of this MQTT 5 shared group, and a worker slot.

    Examples
    --------
    >>> import tempfile, os
    >>> db = os.path.join(tempfile.mkdtemp(), "park.db")
    >>> with HostLock(db):
    ...     try:
    ...         HostLock(db).acquire()
    ...     except DatabaseInUse as e:
    ...         print("refused")
    refused
    """

    def __init__(self, db_path: str | Path, shared_group: str | None = None):
        self.db_path = str(db_path)
        self.shared_group = shared_group
        self.slot: int | None = None
        self._files: list = []

    @property
    def path(self) -> Path:
        return Path(self.db_path + ".host.lock")

    @property
    def client_id(self) -> str:
        """The MQTT client id that goes with this lock (see :func:`client_id_for`)."""
        return client_id_for(self.db_path, self.shared_group, self.slot)

    def acquire(self) -> "HostLock":
        """Take the lock.

        Raises
        ------
        DatabaseInUse
            If another host holds it (or, for a worker, every worker slot is taken).
        """
        if self._files:
            return self
        f = open(self.path, "a+")
        try:
            fcntl.flock(f, (fcntl.LOCK_SH if self.shared_group else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another tiesense host"
            f.close()
            if self.shared_group:
                raise DatabaseInUse(f"the database {self.db_path} is served by {holder} without a shared group; "
                                    "stop it first, or run every worker with the same --shared-group") from None
            raise DatabaseInUse(f"the database {self.db_path} is already served by {holder}; stop it first, "
                                "give this host another --db, or split one stream across workers with "
                                "--shared-group") from None
        self._files.append(f)
        if self.shared_group is None:
            f.seek(0)
            f.truncate()
            f.write(f"tiesense host pid {os.getpid()} on {socket.gethostname()} since "
                    f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n")
            f.flush()
            return self
        for slot in range(MAX_WORKERS):
            w = open(f"{self.db_path}.worker-{slot}.lock", "a+")
            try:
                fcntl.flock(w, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                w.close()
                continue
            self._files.append(w)
            self.slot = slot
            return self
        self.release()
        raise DatabaseInUse(f"{MAX_WORKERS} workers already serve {self.db_path}; that is the most one database takes")

    def release(self) -> None:
        """Give the lock up (safe to call twice)."""
        for f in self._files:
            try:
                fcntl.flock(f, fcntl.LOCK_UN)
            finally:
                f.close()
        self._files = []
        self.slot = None

    def __enter__(self) -> "HostLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
