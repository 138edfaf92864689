"""Backups of the host database, taken while the host runs, and restores that never lose data.

:func:`backup` copies the database with SQLite's online backup API, in steps,
inside ONE read transaction on the source: in WAL mode that transaction sees
one committed state from start to end (the host's later commits go to the WAL
and are not in this copy), and it blocks neither the host's writes nor its
readers. Without it, every commit of the host restarts a stepped backup from
the first page, and under steady ingest it never ends. (The WAL cannot be
checkpointed past the snapshot while the backup runs, so it grows until the
backup ends.) The copy is written under ``DEST.partial``, checked
(``PRAGMA integrity_check``, the row counts of the snapshot, and it opens as a
:class:`~tiesense.store.Store`), made one self-contained file (rollback journal
mode, no ``-wal`` beside it), synced, and only then renamed to ``DEST``: a
crash at any moment leaves ``DEST`` absent or whole, never half written.

:func:`restore` puts a backup back in place of the database. It holds the
host lock (:class:`~tiesense.hostlock.HostLock`) throughout, so it is refused
while a host serves the file and no host starts during it. It copies SRC
through SQLite (so a WAL-mode SRC is read with its WAL) to
``<db>.restore.partial``, refuses a copy that fails ``integrity_check``, is
no tiesense database, or was written by a newer tiesense, and upgrades an
older one through the store's migrations. Then the current database is put
in rollback-journal mode, which checkpoints its WAL into it and deletes the
``-wal`` and ``-shm`` files (SQLite does that only when no other connection
has the file open: otherwise the restore is refused), is held under an
exclusive lock, kept under ``<db>.before-restore-<UTC time>`` (a hard link,
or a copy where links are not possible), and the checked copy is renamed over
``<db>``. The restored file can never be paired with the old file's WAL: a
``-wal`` beside a database is replayed into whatever file bears its name.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import time
import urllib.parse
from dataclasses import dataclass
from typing import Callable

from . import schema
from .connection import connect

__all__ = ["BackupError", "BackupReport", "RestoreReport", "backup", "restore", "PARTIAL", "STEP_PAGES"]

#: Suffix of the file a backup or restore writes before renaming it into place.
PARTIAL = ".partial"
#: Pages copied per step of the backup API (256 pages of 4 KiB: 1 MiB).
STEP_PAGES = 256
#: The tables every tiesense database has had since 0.1.0 (the ingest's).
REQUIRED_TABLES = ("records", "conflicts", "quarantine", "devices", "forms")
#: Seconds the restore waits for another connection's lock on the database being replaced.
LOCK_WAIT_S = 2.0


class BackupError(RuntimeError):
    """A backup or restore cannot be done; the message says why and what to do, in one line."""


@dataclass(frozen=True)
class BackupReport:
    """What :func:`backup` wrote.

    Attributes
    ----------
    source, dest : str
        The database copied and the backup file written.
    bytes, pages : int
        Size of the backup file, and pages copied.
    records, quarantine : int
        Rows of ``records`` and ``quarantine`` in the copy (the snapshot's, checked in the copy).
    schema_version : int
        The copy's schema version.
    seconds : float
        Time taken, checks included.

    Examples
    --------
    >>> BackupReport("park.db", "nightly.db", 8192, 2, 0, 0, 2, 0.01).records
    0
    """

    source: str
    dest: str
    bytes: int
    pages: int
    records: int
    quarantine: int
    schema_version: int
    seconds: float


@dataclass(frozen=True)
class RestoreReport:
    """What :func:`restore` did.

    Attributes
    ----------
    source, db_path : str
        The backup put back and the database it now is.
    kept : str or None
        Where the database it replaced is kept (None: there was none).
    bytes : int
        Size of the restored database.
    records, quarantine : int
        Rows of ``records`` and ``quarantine`` in the restored database.
    schema_from, schema_version : int
        The backup's schema version, and the restored database's (higher when it was upgraded).
    seconds : float
        Time taken, checks included.

    Examples
    --------
    >>> RestoreReport("nightly.db", "park.db", None, 8192, 0, 0, 2, 2, 0.01).kept is None
    True
    """

    source: str
    db_path: str
    kept: str | None
    bytes: int
    records: int
    quarantine: int
    schema_from: int
    schema_version: int
    seconds: float


def backup(db_path: str | os.PathLike, dest: str | os.PathLike,
           progress: Callable[[int, int], None] | None = None, *, step_pages: int = STEP_PAGES,
           pause: float = 0.0) -> BackupReport:
    """Copy the database at ``db_path`` to ``dest``, consistent and checked, while a host may keep writing it.

    Parameters
    ----------
    db_path : str or path
        The host's database (not created if missing; only read, though SQLite may checkpoint its
        WAL when this is the last connection to close, as any reader's would).
    dest : str or path
        The backup file. It appears only once complete and checked, replacing
        any file of that name; ``DEST.partial`` is the copy in progress.
    progress : callable or None
        Called as ``progress(pages_copied, pages_total)`` before the first step and after each.
    step_pages : int
        Pages copied per step.
    pause : float
        Seconds to rest between steps, leaving the disk to the host.

    Returns
    -------
    BackupReport

    Raises
    ------
    BackupError
        No database at ``db_path``, not a tiesense database, ``dest`` unusable
        (the database itself, a folder, a ``-wal`` or ``-journal`` beside it),
        or the copy failed its checks.
    SchemaTooNew
        The database was written by a newer tiesense (this one cannot check the copy).

    Examples
    --------
    >>> import os, tempfile
    >>> from tiesense.store import Store
    >>> tmp = tempfile.TemporaryDirectory()
    >>> db, dest = os.path.join(tmp.name, "park.db"), os.path.join(tmp.name, "nightly.db")
    >>> Store(db).close()
    >>> report = backup(db, dest)
    >>> report.records, report.bytes == os.path.getsize(dest), os.path.exists(dest + ".partial")
    (0, True, False)
    >>> tmp.cleanup()
    """
    started = time.monotonic()
    db_path, dest = os.fspath(db_path), os.fspath(dest)
    if step_pages < 1:
        raise ValueError(f"step_pages must be >= 1, not {step_pages}")
    if not os.path.isfile(db_path):
        raise BackupError(f"no database at {db_path}: give the host's database with --db")
    if os.path.isdir(dest):
        raise BackupError(f"{dest} is a folder: give the backup a file name, e.g. "
                          f"{os.path.join(dest, os.path.basename(db_path))}")
    folder = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(folder):
        raise BackupError(f"the folder {folder} does not exist: create it, or choose another DEST")
    if _same_file(db_path, dest):
        raise BackupError(f"{dest} is the database itself: choose another DEST")
    for side in ("-wal", "-journal"):
        if os.path.exists(dest + side):
            raise BackupError(f"{dest}{side} exists: {dest} is open in another program or was not closed "
                              f"cleanly, and SQLite would replay that file into the new backup; close it, "
                              f"or choose another DEST")

    tmp = dest + PARTIAL
    _remove_partial(tmp)  # left by a backup that was killed
    src = connect(db_path)
    try:
        try:
            src.execute("BEGIN")  # one read transaction for the whole copy: one committed state
            tables = _tables(src)
        except sqlite3.DatabaseError as e:
            raise BackupError(_unreadable(db_path, e, "check --db")) from None
        schema.refuse_newer(src, db_path)
        _require_tiesense(tables, db_path, "check --db")
        expected = _counts(src)
        total = src.execute("PRAGMA page_count").fetchone()[0]
        try:
            _copy(src, tmp, total, progress, step_pages, pause)
            src.execute("COMMIT")
        except BaseException:
            _remove_partial(tmp)
            raise
    finally:
        src.close()
    try:
        version, counts = _check_copy(tmp, db_path, expected)
        _single_file(tmp)
        os.chmod(tmp, stat.S_IMODE(os.stat(db_path).st_mode))  # no more readable than the database
        _fsync(tmp)
        os.replace(tmp, dest)
    except BaseException:
        _remove_partial(tmp)
        raise
    _fsync_dir(folder)
    return BackupReport(db_path, dest, os.path.getsize(dest), total, counts[0], counts[1], version,
                        time.monotonic() - started)


def restore(src: str | os.PathLike, db_path: str | os.PathLike) -> RestoreReport:
    """Put the backup ``src`` in place of the database at ``db_path``; keep the database it replaces.

    Parameters
    ----------
    src : str or path
        A tiesense database (a :func:`backup`, or any copy); read, never written.
    db_path : str or path
        The database to replace (created if there is none yet).

    Returns
    -------
    RestoreReport
        With ``kept``: where the replaced database now is (``<db>.before-restore-<UTC time>``).

    Raises
    ------
    BackupError
        A host serves the database, another program has it open, or ``src``
        is missing, no SQLite database, no tiesense database, or damaged.
    SchemaTooNew
        ``src`` was written by a newer tiesense.

    Examples
    --------
    >>> import os, tempfile
    >>> from tiesense.store import Store
    >>> tmp = tempfile.TemporaryDirectory()
    >>> db, dest = os.path.join(tmp.name, "park.db"), os.path.join(tmp.name, "nightly.db")
    >>> Store(db).close()
    >>> _ = backup(db, dest)
    >>> report = restore(dest, db)
    >>> report.records, os.path.basename(report.kept).startswith("park.db.before-restore-")
    (0, True)
    >>> tmp.cleanup()
    """
    from ..hostlock import DatabaseInUse, HostLock
    from . import Store

    started = time.monotonic()
    src, db_path = os.fspath(src), os.fspath(db_path)
    if not os.path.isfile(src):
        raise BackupError(f"no backup at {src}: give the path of a backup file")
    folder = os.path.dirname(os.path.abspath(db_path))
    if not os.path.isdir(folder):
        raise BackupError(f"the folder {folder} does not exist: create it, or check --db")
    if _same_file(src, db_path):
        raise BackupError(f"{src} is the database itself: give the path of a backup file")
    lock = HostLock(db_path)
    try:
        lock.acquire()
    except DatabaseInUse as e:
        served_by = str(e).split(";", 1)[0]
        raise BackupError(f"restore refused: {served_by}: stop it, then restore") from None
    except OSError as e:
        raise BackupError(f"cannot lock the database {db_path}: {e.strerror or e}") from None
    try:
        tmp = db_path + ".restore" + PARTIAL
        _remove_partial(tmp)
        try:
            schema_from = _copy_in(src, tmp)
            with Store(tmp) as store:  # the store's migrations upgrade a backup of an older tiesense
                schema_version = schema.version(store.conn)
            _single_file(tmp)
            if os.path.exists(db_path):
                os.chmod(tmp, stat.S_IMODE(os.stat(db_path).st_mode))
            _fsync(tmp)
            kept = _swap(tmp, db_path)
        except BaseException:
            _remove_partial(tmp)
            raise
        with Store(db_path) as store:
            counts = store.counts()
    finally:
        lock.release()
    return RestoreReport(src, db_path, kept, os.path.getsize(db_path), counts["records"], counts["quarantine"],
                         schema_from, schema_version, time.monotonic() - started)


# ------------------------------------------------------------ the steps

def _copy(src: sqlite3.Connection, tmp: str, total: int, progress, step_pages: int, pause: float) -> None:
    """Backup API from ``src`` (its read transaction open) to a new file ``tmp``, in steps."""
    def step(status: int, remaining: int, pages: int) -> None:
        if progress is not None:
            progress(pages - remaining, pages)
        if pause and remaining:
            time.sleep(pause)

    if progress is not None:
        progress(0, total)
    out = sqlite3.connect(tmp, isolation_level=None)
    try:
        src.backup(out, pages=step_pages, progress=step)
    finally:
        out.close()


def _check_copy(tmp: str, source: str, expected: tuple[int, int]) -> tuple[int, tuple[int, int]]:
    """integrity_check, the snapshot's row counts, and it opens as a Store; return (version, counts)."""
    from . import Store

    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        problems = _integrity(conn)
        counts = _counts(conn)
    finally:
        conn.close()
    if problems:
        raise BackupError(f"the copy of {source} failed integrity_check ({problems}): the database may be "
                          "damaged; run 'sqlite3 DB \"PRAGMA integrity_check\"' on it, and keep the last good backup")
    if counts != expected:
        raise BackupError(f"the copy of {source} holds {counts} rows of records and quarantine, its snapshot "
                          f"{expected}: report this; keep the last good backup")
    with Store(tmp) as store:
        return schema.version(store.conn), counts


def _copy_in(src: str, tmp: str) -> int:
    """Copy ``src`` (read only, through SQLite) to ``tmp`` and check it; return its schema version."""
    uri = "file:" + urllib.parse.quote(os.path.abspath(src)) + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    try:
        try:
            conn.execute("BEGIN")
            tables = _tables(conn)
        except sqlite3.DatabaseError as e:
            raise BackupError(_unreadable(src, e, "give the path of a tiesense backup")) from None
        schema.refuse_newer(conn, src)
        _require_tiesense(tables, src, "give the path of a tiesense backup")
        version = schema.version(conn)
        out = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.backup(out)
        except sqlite3.DatabaseError as e:
            raise BackupError(_unreadable(src, e, "restore another backup")) from None
        finally:
            out.close()
    finally:
        conn.close()
    out = sqlite3.connect(tmp, isolation_level=None)
    try:
        problems = _integrity(out)
    finally:
        out.close()
    if problems:
        raise BackupError(f"{src} is damaged: integrity_check says {problems}; restore another backup")
    return version


def _swap(tmp: str, db_path: str) -> str | None:
    """Keep the current database (if any) beside, then rename ``tmp`` over ``db_path``; return where it is kept."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    kept = _free_name(f"{db_path}.before-restore-{stamp}")
    old = None
    try:
        if os.path.exists(db_path):
            old = sqlite3.connect(db_path, isolation_level=None, timeout=LOCK_WAIT_S)
            try:
                # Checkpoints the WAL into the file and deletes -wal and -shm; SQLite refuses
                # ("database is locked") while any other connection has the file open.
                old.execute("PRAGMA journal_mode = DELETE").fetchone()
                old.execute("BEGIN EXCLUSIVE")  # and none opens it until the new file is in place
            except sqlite3.OperationalError as e:
                if "locked" in str(e) or "busy" in str(e):
                    raise BackupError(f"the database {db_path} is open in another program (a dashboard, a "
                                      "'tiesense ties' command, an sqlite3 shell...): close it, then restore") from None
                old.close()  # damaged beyond reading: kept as it is, its journal files beside it
                old = None
            except sqlite3.DatabaseError:
                old.close()
                old = None
            _link_or_copy(db_path, kept)
        else:
            kept = None
        # Whatever journal files remain (none after the switch above) go with the kept file,
        # never with the restored one.
        for side in ("-wal", "-shm", "-journal"):
            if os.path.exists(db_path + side):
                os.replace(db_path + side, (kept or _free_name(f"{db_path}.before-restore-{stamp}")) + side)
        os.replace(tmp, db_path)
        _fsync_dir(os.path.dirname(os.path.abspath(db_path)))
    finally:
        if old is not None:
            if old.in_transaction:
                old.execute("ROLLBACK")
            old.close()
    return kept


# ------------------------------------------------------------ helpers

def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _require_tiesense(tables: set[str], path: str, what_to_do: str) -> None:
    missing = [t for t in REQUIRED_TABLES if t not in tables]
    if missing:
        raise BackupError(f"{path} is not a tiesense database (no table {', '.join(missing)}): {what_to_do}")


def _counts(conn: sqlite3.Connection) -> tuple[int, int]:
    return tuple(conn.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0] for t in ("records", "quarantine"))


def _integrity(conn: sqlite3.Connection) -> str:
    """'' when ``PRAGMA integrity_check`` says ok, else its first findings."""
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check(5)")]
    except sqlite3.DatabaseError as e:
        return str(e)
    return "" if rows == ["ok"] else "; ".join(rows)


def _unreadable(path: str, e: sqlite3.DatabaseError, what_to_do: str) -> str:
    if "not a database" in str(e):
        return f"{path} is not a SQLite database: {what_to_do}"
    return f"{path} is damaged ({e}): {what_to_do}"


def _single_file(path: str) -> None:
    """Rollback-journal mode: the WAL checkpointed into the file and deleted, so the file is the whole database."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = DELETE").fetchone()
    finally:
        conn.close()
    if os.path.exists(path + "-wal"):
        raise BackupError(f"{path}-wal remained beside the copy: another program opened it; try again")


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _free_name(base: str) -> str:
    name, n = base, 1
    while os.path.exists(name):
        n += 1
        name = f"{base}-{n}"
    return name


def _link_or_copy(path: str, to: str) -> None:
    try:
        os.link(path, to)
    except OSError:  # a file system without hard links (FAT on a USB stick...)
        shutil.copyfile(path, to)
        shutil.copymode(path, to)
        _fsync(to)


def _remove_partial(tmp: str) -> None:
    for p in (tmp, tmp + "-journal", tmp + "-wal", tmp + "-shm"):
        try:
            os.remove(p)
        except FileNotFoundError:
            pass


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: str) -> None:
    """Make a rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
