"""The host's SQLite store: the one owner of every table and every SQL statement.

:class:`Store` is the facade the ingest, the service, the estimates and the
CLI use; each concept has its module:

* :mod:`~tiesense.store.schema`: every table and index, as numbered migrations
  applied on open (``PRAGMA user_version``); a file of a newer tiesense is refused;
* :mod:`~tiesense.store.connection`: WAL, ``synchronous=FULL``, busy timeout,
  and the ``BEGIN IMMEDIATE`` transaction every write runs in;
* :mod:`~tiesense.store.records`: records and conflicts (the batch write, deduplicated by digest);
* :mod:`~tiesense.store.quarantine`: what was refused, with a bounded prefix of its bytes;
* :mod:`~tiesense.store.devices`: the last status of each device;
* :mod:`~tiesense.store.forms`: published forms, immutable per version;
* :mod:`~tiesense.store.estimates`: ``tie_estimates``, ``org_measures``, ``cluster_measures``.
* :mod:`~tiesense.store.identities`: broker logins of the host and the provisioned devices.
* :mod:`~tiesense.store.backup`: online backups of the file, and restores that keep the file they replace.
* :mod:`~tiesense.store.roster`: the organisations of the cluster, in versions.
* :mod:`~tiesense.store.access`: web users, API tokens and login sessions (hashes only).
* :mod:`~tiesense.store.analysable`: records read as visits, tie reports and respondents, and their cells.

The web API and the exports call the modules' read functions through
:meth:`Store.read` (``store.read(roster.organisations, actor_type="sme")``) and
their write functions through :meth:`Store.write` (one ``BEGIN IMMEDIATE``
transaction), so every SQL statement stays here.

Reads go through sqlite-utils; writes are plain SQL in explicit transactions
(see :mod:`~tiesense.store.connection` for why). Importing this package loads
neither numpy nor scipy.
"""
from __future__ import annotations

import contextlib
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from . import devices as _devices
from . import estimates as _estimates
from . import forms as _forms
from . import identities as _identities
from . import quarantine as _quarantine
from . import records as _records
from . import roster as _roster
from . import schema
from .connection import BUSY_TIMEOUT_MS, connect, dicts, enable_wal, transaction
from .devices import StatusItem
from .forms import FormConflict
from .quarantine import DEFAULT_KEEP_BYTES, QuarantineItem
from .records import Outcome, RecordItem, record_digest
from .schema import TABLES, SchemaTooNew

__all__ = ["Store", "RecordItem", "QuarantineItem", "StatusItem", "Outcome", "FormConflict", "SchemaTooNew",
           "record_digest", "now_iso", "TABLES"]

#: The tables :meth:`Store.counts` counts: what the ingest writes.
COUNTED = ("records", "conflicts", "quarantine", "devices", "forms")


def now_iso(t: float | None = None) -> str:
    """UTC time as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (``t`` in epoch seconds, default now).

    Examples
    --------
    >>> now_iso(0.25)
    '1970-01-01T00:00:00.250Z'
    """
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


class Store:
    """The host database: one SQLite file in WAL mode, brought to the current schema on open.

    Parameters
    ----------
    path : str or Path
        SQLite file (created if missing; upgraded if written by an older tiesense).
    quarantine_keep_bytes : int
        Bytes of a refused payload kept in ``quarantine.raw`` (its whole length
        and SHA-256 are kept too).
    busy_timeout_ms : int
        How long a write waits for another connection's write transaction.

    Raises
    ------
    SchemaTooNew
        The file was written by a newer tiesense.

    Notes
    -----
    One connection, shared by the threads of one process under a lock. Every
    write is one ``BEGIN IMMEDIATE`` transaction, so several processes (say,
    ingest workers of one MQTT shared subscription) may write the same file:
    each waits its turn instead of failing with "database is locked".

    Examples
    --------
    >>> s = Store(":memory:")
    >>> s.counts()["records"]
    0
    >>> from tiesense import wire
    >>> rec = wire.make_record("kiosk-01", 1, "tp_visit", "2026112401", "2026-11-24T10:00:00Z",
    ...                        "2026-11-24T10:00:42Z", {"satisfaction": 5},
    ...                        "uuid:00010203-0405-4607-8809-0a0b0c0d0e0f")
    >>> [o.status for o in s.write_batch([RecordItem(rec, now_iso()), RecordItem(rec, now_iso())])]
    ['stored', 'duplicate']
    >>> s.record(rec["id"]) == rec
    True
    """

    def __init__(self, path: str | Path, *, quarantine_keep_bytes: int = DEFAULT_KEEP_BYTES,
                 busy_timeout_ms: int = BUSY_TIMEOUT_MS):
        if quarantine_keep_bytes < 0:
            raise ValueError(f"quarantine_keep_bytes must be >= 0, not {quarantine_keep_bytes}")
        self.path = str(path)
        self.quarantine_keep_bytes = int(quarantine_keep_bytes)
        self._lock = threading.RLock()
        #: The sqlite3 connection (autocommit; writes go through :meth:`_write`). Other modules call methods.
        self.conn = connect(self.path, busy_timeout_ms)
        try:
            schema.refuse_newer(self.conn, self.path)  # before the file is touched
            enable_wal(self.conn)
            schema.migrate(self.conn, self.path)
        except BaseException:
            self.conn.close()
            raise

    @property
    def db(self):
        """The same connection as a ``sqlite_utils.Database``, for reading (queries, pagination,
        exports). Write only through the Store's methods: they hold the schema's rules and
        run in ``BEGIN IMMEDIATE`` transactions.

        Examples
        --------
        >>> Store(":memory:").db["records"].count
        0
        """
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[Any]:
        with self._lock, transaction(self.conn) as conn:
            yield conn

    def _read(self, fn, *args):
        with self._lock:
            return fn(self.conn, *args)

    def read(self, fn, *args, **kwargs):
        """``fn(connection, *args, **kwargs)`` under the store's lock: how callers run a store module's read
        function (``store.read(roster.versions)``)."""
        with self._lock:
            return fn(self.conn, *args, **kwargs)

    def write(self, fn, *args, **kwargs):
        """``fn(connection, *args, **kwargs)`` in one ``BEGIN IMMEDIATE`` transaction, committed when it
        returns: how callers run a store module's write function (``store.write(access.revoke_token, ...)``)."""
        with self._write() as conn:
            return fn(conn, *args, **kwargs)

    # ------------------------------------------------------------ ingest

    def write_batch(self, records: Iterable[RecordItem] = (), quarantine: Iterable[QuarantineItem] = (),
                    statuses: Iterable[StatusItem] = ()) -> list[Outcome]:
        """Store a batch in ONE transaction and say what happened to each record.

        A record whose id is new is stored; the same id with the same digest is
        a duplicate (stored once); the same id with another digest is a
        conflict (kept in ``conflicts``, the first version stays in ``records``).
        Quarantine items are kept (the same payload again only bumps its
        ``times``); statuses update ``devices``. When this returns, the batch is
        committed and synced.

        Parameters
        ----------
        records : iterable of RecordItem
            Records that passed every check, in the order received.
        quarantine : iterable of QuarantineItem
        statuses : iterable of StatusItem

        Returns
        -------
        list of Outcome
            One per record, in order, with status ``stored``, ``duplicate`` or ``conflict``.
        """
        records, quarantine, statuses = list(records), list(quarantine), list(statuses)
        with self._write() as conn:
            outcomes = _records.write(conn, records)
            _quarantine.write(conn, quarantine, self.quarantine_keep_bytes)
            _devices.write(conn, statuses)
            unsynced = {it.record["device"] for it in records if it.clock == "unsynced"}
            _records.correct_clocks(conn, unsynced | {s.device for s in statuses if s.status.get("boot") is not None})
        return outcomes

    def publish_form(self, form: dict, published_at: str | None = None) -> bool:
        """Record that ``form`` is published; True if new, False if already there unchanged.

        Raises
        ------
        FormConflict
            If this form id + version was published with other content: a
            published version is immutable, give the changed form a new version.
        """
        with self._write() as conn:
            return _forms.publish(conn, form, published_at or now_iso())

    def import_roster(self, rows: Iterable[dict], source: str | None = None,
                      at: str | None = None) -> tuple[int, bool]:
        """Make ``rows`` (dicts of :data:`~tiesense.store.roster.COLUMNS`) the current roster; return
        ``(version, created)``: the same rows as the current version make no new version."""
        with self._write() as conn:
            return _roster.import_rows(conn, rows, source, at or now_iso())

    def reingest(self, quarantine_id: int, records: Iterable[RecordItem] = (),
                 statuses: Iterable[StatusItem] = ()) -> list[Outcome]:
        """Store what a quarantined payload gives now and forget its quarantine row, in ONE transaction.

        Returns the records' outcomes (as :meth:`write_batch`). A record that is
        a conflict now is kept in ``conflicts``, so the row is forgotten then too.
        """
        with self._write() as conn:
            outcomes = _records.write(conn, list(records))
            _devices.write(conn, list(statuses))
            _quarantine.delete(conn, quarantine_id)
        return outcomes

    # ------------------------------------------------------------ reads

    def counts(self) -> dict[str, int]:
        """Row count of the ingest tables, plus ``online``: devices whose last status says online."""
        with self._lock:
            out = {t: self.conn.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0] for t in COUNTED}
            out["online"] = _devices.online(self.conn)
        return out

    def record(self, instance_id: str) -> dict | None:
        """The stored record with this id as it was sent (the envelope dict), or None."""
        return self._read(_records.get, instance_id)

    def records(self, device: str | None = None) -> list[dict]:
        """Stored records (envelope dicts), of one device or all, ordered by device and seq."""
        return self._read(_records.all_records, device)

    def rows(self, table: str, where: str | None = None, params: Iterable[Any] = ()) -> list[dict]:
        """Raw rows of one table in insertion order (``where`` is an SQL condition with ``?`` parameters)."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}; tables: {', '.join(TABLES)}")
        sql = f"SELECT * FROM [{table}]" + (f" WHERE {where}" if where else "") + " ORDER BY rowid"
        return self._read(dicts, sql, params)

    def conflicts(self) -> list[dict]:
        """Rows of ``conflicts`` in arrival order."""
        return self._read(_records.conflicts)

    def quarantined(self) -> list[dict]:
        """Rows of ``quarantine`` in arrival order (``raw`` as bytes: at most the kept prefix)."""
        return self._read(_quarantine.rows)

    def devices(self) -> list[dict]:
        """Rows of ``devices`` by device id."""
        return self._read(_devices.rows)

    def forms(self) -> list[dict]:
        """Every published form spec (dicts), by id and version."""
        return self._read(_forms.specs)

    # ------------------------------------------------------------ estimates

    def interview_answers(self, form: str) -> list[tuple[str, str]]:
        """``(answers JSON, end)`` of every stored record of ``form``, by end time then id."""
        return self._read(_records.answers_of_form, form)

    def replace_estimates(self, estimator: str, rows: Iterable[dict]) -> None:
        """Make ``rows`` (dicts of :data:`~tiesense.store.estimates.TIE_COLUMNS`) the only rows of ``estimator``."""
        with self._write() as conn:
            _estimates.replace_estimator(conn, estimator, rows)

    def upsert_estimates(self, rows: Iterable[dict]) -> None:
        """Insert or replace these ``tie_estimates`` rows, keyed by (u, v, estimator)."""
        with self._write() as conn:
            _estimates.upsert(conn, rows)

    def estimates(self, estimator: str | None = None) -> list[dict]:
        """Rows of ``tie_estimates`` (all estimators, or one), strongest first."""
        return self._read(_estimates.estimates, estimator)

    def replace_measures(self, org_rows: Iterable[dict], cluster_rows: Iterable[dict]) -> None:
        """Make these the only rows of ``org_measures`` and ``cluster_measures``, in one transaction."""
        with self._write() as conn:
            _estimates.replace_measures(conn, org_rows, cluster_rows)

    def org_measures(self) -> list[dict]:
        """Rows of ``org_measures`` (org, measure, value, low, high, updated_at) in the order written."""
        return self._read(_estimates.org_measures)

    def cluster_measures(self) -> list[dict]:
        """Rows of ``cluster_measures`` (measure, value, low, high, updated_at) in the order written."""
        return self._read(_estimates.cluster_measures)

    # ------------------------------------------------------------ identities

    def add_identity(self, row: dict) -> None:
        """Add a broker login (name, role, site, password_hash, key, created_at); a revoked one of the
        same name comes back with these secrets."""
        with self._write() as conn:
            _identities.add(conn, row)

    def revoke_identity(self, name: str, at: str | None = None) -> bool:
        """Mark ``name`` revoked; False if it is unknown or already revoked."""
        with self._write() as conn:
            return _identities.revoke(conn, name, at or now_iso())

    def identity(self, name: str) -> dict | None:
        """The identity called ``name`` (revoked or not), or None."""
        return self._read(_identities.get, name)

    def identities(self, role: str | None = None, active: bool = True) -> list[dict]:
        """Identities by name, of one role (``host``, ``device``) or all; revoked ones only if not ``active``."""
        return self._read(_identities.rows, role, active)

    def device_keys(self) -> dict[str, bytes]:
        """``{device: key}`` of every active provisioned device: what its records are checked against and its
        acks and commands signed with."""
        return self._read(_identities.device_keys)

    def site_key(self, site: str) -> str:
        """The forms key (hex) of ``site``, created on first use."""
        with self._write() as conn:
            return _identities.site_key(conn, site, secrets.token_hex(32), now_iso())

    def site_keys(self) -> dict[str, bytes]:
        """``{site: key}``: what the host signs published forms with, one signature per site."""
        return self._read(_identities.site_keys)
