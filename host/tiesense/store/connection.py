"""The connection: opened with the pragmas every acknowledgement relies on; explicit write transactions.

* ``isolation_level=None``: the sqlite3 module opens no transaction by itself;
  :func:`transaction` opens each one with ``BEGIN IMMEDIATE``. A deferred
  transaction that reads and then writes fails at once with "database is
  locked" when another process committed in between (the read snapshot is
  stale, SQLite cannot wait it out); an immediate one takes the write lock
  first, waiting up to ``busy_timeout`` for another writer's commit.
* WAL: readers never block the writer, nor the writer readers.
* ``synchronous=FULL``: in WAL mode, every commit is synced, so a batch the
  host acknowledged survives a power cut, not only a crash.
* ``busy_timeout``: how long a writer waits for another's transaction.

Reads go through sqlite-utils (:func:`dicts` is ``Database.query``, and
:attr:`tiesense.store.Store.db` hands the same connection to the dashboard
and exports). Writes are plain SQL: they manage their own transactions (3.x
``insert_all``/``upsert_all`` run ``with conn:``, which commits whatever
transaction is open; 4.x opens a deferred ``BEGIN`` when none is open), and
sqlite-utils' per-row work is what the batch write avoids.
"""
from __future__ import annotations

import contextlib
import sqlite3
from typing import Any, Iterable, Iterator

#: Milliseconds a writer waits for another connection's write transaction before giving up.
BUSY_TIMEOUT_MS = 30_000


def connect(path: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """Open ``path`` with ``synchronous=FULL``, a busy timeout and no implicit transactions.

    The file is not written yet: call :func:`enable_wal` once it is known to be ours.

    Examples
    --------
    >>> conn = connect(":memory:")
    >>> conn.isolation_level is None, conn.execute("PRAGMA synchronous").fetchone()[0]
    (True, 2)
    """
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute("PRAGMA synchronous = FULL")
    except BaseException:
        conn.close()
        raise
    return conn


def enable_wal(conn: sqlite3.Connection, timeout_s: float = BUSY_TIMEOUT_MS / 1000) -> str:
    """Put the file in WAL mode (kept in the file; a no-op when it already is); return the journal mode.

    An in-memory database stays in ``memory`` mode. Switching needs the file to
    itself, and SQLite answers "database is locked" at once, without waiting out
    the busy timeout, when another process opens the same new file at that
    moment (two workers started together): so this retries for ``timeout_s``.
    """
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; ``ROLLBACK`` if the block (or the commit) raises.

    When the block exits normally the transaction is committed, hence durable.

    Examples
    --------
    >>> conn = connect(":memory:")
    >>> with transaction(conn):
    ...     _ = conn.execute("CREATE TABLE t (a)")
    >>> try:
    ...     with transaction(conn):
    ...         _ = conn.execute("INSERT INTO t VALUES (1)")
    ...         raise KeyError("no")
    ... except KeyError:
    ...     pass
    >>> conn.execute("SELECT count(*) FROM t").fetchone()[0], conn.in_transaction
    (0, False)
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def dicts(conn: sqlite3.Connection, sql: str, params: Iterable[Any] = ()) -> list[dict]:
    """Rows of a query as dicts, column name to value (sqlite-utils' ``Database.query``).

    Examples
    --------
    >>> dicts(connect(":memory:"), "SELECT 1 AS a, ? AS b", ["x"])
    [{'a': 1, 'b': 'x'}]
    """
    import sqlite_utils  # here, not at import: sqlite-utils loads numpy when it is installed

    return list(sqlite_utils.Database(conn).query(sql, list(params)))


def page(conn: sqlite3.Connection, select: str, params: Iterable[Any], order_by: str, limit: int | None,
         offset: int = 0) -> tuple[list[dict], int]:
    """``(rows, total)``: one page of ``select`` in ``order_by`` order, and how many rows it has in all.

    ``limit`` None gives every row from ``offset`` on. The total and the page are
    read in one read transaction, so they agree while the ingest writes.

    Examples
    --------
    >>> conn = connect(":memory:")
    >>> _ = conn.execute("CREATE TABLE t (a)"); _ = conn.executemany("INSERT INTO t VALUES (?)", [[i] for i in range(5)])
    >>> page(conn, "SELECT a FROM t WHERE a > ?", [0], "a DESC", 2, 1)
    ([{'a': 3}, {'a': 2}], 4)
    """
    params = list(params)
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        total = conn.execute(f"SELECT count(*) FROM ({select})", params).fetchone()[0]
        sql = f"{select} ORDER BY {order_by} LIMIT ? OFFSET ?"
        rows = dicts(conn, sql, params + [-1 if limit is None else int(limit), int(offset)])
    finally:
        if own:
            conn.execute("COMMIT")
    return rows, total
