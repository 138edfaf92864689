"""Backups and restores of the host database: online while the host ingests, crash-safe on both
sides (the host or the backup killed mid-copy), and a restore that never mixes a backup with the
old file's WAL and never throws data away."""
from __future__ import annotations

import itertools
import json
import select
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from tiesense import cli
from tiesense.service import Host
from tiesense.store import RecordItem, SchemaTooNew, Store, now_iso, schema
from tiesense.store.backup import PARTIAL, BackupError, backup, restore

from .conftest import ROOT, free_port

DATA = Path(__file__).parent / "data"


# ------------------------------------------------------------ helpers

def seed(db: Path, visit, n: int, device: str = "seed-01", first: int = 1) -> list[dict]:
    """Write ``n`` visit records straight through a Store (so a backup has several steps to copy)."""
    records = [visit(device, seq) for seq in range(first, first + n)]
    with Store(db) as store:
        store.write_batch([RecordItem(r, now_iso()) for r in records])
    return records


def integrity(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()


def record_rows(path: Path) -> list[tuple]:
    """Every row of ``records``, every column, in insertion (rowid) order, read with plain sqlite3."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT rowid, * FROM records ORDER BY rowid").fetchall()
    finally:
        conn.close()


def ids(path: Path) -> set[str]:
    return {row[1] for row in record_rows(path)}


def assert_consistent_snapshot(copy: Path, live: Path) -> list[tuple]:
    """The copy's records are the live table's first rows, column for column: whole commits, no partial rows."""
    got, now = record_rows(copy), record_rows(live)
    assert got, "the copy holds no records"
    assert got == now[:len(got)]
    return got


class Feeder:
    """Four new surveys every 10 ms from one device until stopped, as a busy set of kiosks would send them."""

    def __init__(self, dev, visit, device: str):
        self.dev, self.visit, self.device = dev, visit, device
        self.seq = itertools.count(1)
        self.sent: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            records = [self.visit(self.device, next(self.seq)) for _ in range(4)]
            self.sent.extend(records)
            self.dev.send(records, wait=False)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


class ServeProcess:
    """``python -m tiesense.cli serve --db DB --port PORT`` (embedded broker), waited for until ready."""

    def __init__(self, db: Path, port: int):
        self.url = f"mqtt://127.0.0.1:{port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "tiesense.cli", "serve", "--db", str(db),
                                      "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("tiesense host ready"):
            self.proc.kill()
            raise AssertionError(f"the host did not start: {line!r} {self.proc.stderr.read().decode()!r}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def start_backup_process(dest: Path, db: Path, pause: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tiesense.cli", "backup", str(dest), "--db", str(db),
                             "--pause", str(pause)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)


def partial_of(dest: Path) -> Path:
    return Path(str(dest) + PARTIAL)


def mid_copy(dest: Path, proc: subprocess.Popen) -> bool:
    """The backup process runs and has written its first step (to whatever file it writes beside DEST)."""
    written = [p for p in dest.parent.glob(dest.name + "*") if p.stat().st_size > 0]
    return proc.poll() is None and bool(written)


# ------------------------------------------------------------ (1) online backup

def test_a_backup_taken_while_the_host_ingests_is_a_checked_consistent_snapshot(tmp_path, mqtt_device, visit,
                                                                                device_login, wait_until):
    db, dest = tmp_path / "park.db", tmp_path / "nightly.db"
    seeded = seed(db, visit, 20_000)
    steps: list[tuple[int, int]] = []
    with Host(db) as host:
        dev = mqtt_device(device_login(host, "kiosk-01", host.broker_url), "kiosk-01")
        feeder = Feeder(dev, visit, "kiosk-01")
        try:
            wait_until(lambda: dev.n_acked() >= 40, 10, "the host to acknowledge the first surveys")
            acked_before = set(dev.statuses)
            stored_before = host.stats["stored"]
            report = backup(db, dest, progress=lambda done, total: steps.append((done, total)), pause=0.05)
            stored_during = host.stats["stored"] - stored_before
        finally:
            feeder.stop()
        wait_until(lambda: dev.n_pending() == 0, 10, "every survey sent to be acknowledged")
    assert stored_during > 0, "the host committed nothing while the backup ran: nothing was tested"
    assert len(steps) >= 4 and steps[0][0] == 0 and steps[-1][0] == steps[-1][1] == report.pages
    assert [d for d, _ in steps] == sorted(d for d, _ in steps)
    # one self-contained file (rollback journal mode): no WAL beside it to lose when it is copied elsewhere
    assert open(dest, "rb").read(20)[18:20] == b"\x01\x01" and not Path(f"{dest}-wal").exists()
    assert integrity(dest) == ["ok"]
    got = assert_consistent_snapshot(dest, db)
    copied = {row[1] for row in got}
    assert {r["id"] for r in seeded} | acked_before <= copied  # everything committed before the backup began
    assert len(got) < len(record_rows(db))  # and not what came after its snapshot
    with Store(dest) as store:
        assert store.counts()["records"] == report.records == len(got)
        assert report.quarantine == store.counts()["quarantine"] == 0
    assert report.dest == str(dest) and report.bytes == dest.stat().st_size
    assert not partial_of(dest).exists()


# ------------------------------------------------------------ (2) crashes on either side

def test_the_host_killed_mid_backup_leaves_a_good_copy_and_a_good_database(tmp_path, mqtt_device, visit,
                                                                           wait_until, device_login):
    db, dest = tmp_path / "park.db", tmp_path / "nightly.db"
    seed(db, visit, 20_000)
    host = ServeProcess(db, free_port())
    dev = mqtt_device(device_login(db, "kiosk-02", host.url), "kiosk-02")
    feeder = Feeder(dev, visit, "kiosk-02")
    bk = None
    try:
        wait_until(lambda: dev.n_acked() >= 40, 10, "the host to acknowledge the first surveys")
        acked_before = set(dev.statuses)
        bk = start_backup_process(dest, db, pause=0.2)
        wait_until(lambda: mid_copy(dest, bk) or bk.poll() is not None, 10, "the backup to copy its first step")
        assert bk.poll() is None, f"the backup ended before the kill: {bk.communicate()}"
        host.kill()
        feeder.stop()
        acked = set(dev.statuses)
        out, err = bk.communicate(timeout=15)
    finally:
        feeder.stop()
        host.kill()
        if bk is not None and bk.poll() is None:
            bk.kill()
    assert bk.returncode == 0, err
    assert out.startswith(f"backed up {db} to {dest}: ") and len(out.splitlines()) == 1, out
    assert integrity(dest) == ["ok"] and integrity(db) == ["ok"]
    assert_consistent_snapshot(dest, db)
    assert acked_before <= ids(dest)
    with Store(db) as store:  # the killed host's database reopens with every record it acknowledged
        assert acked <= {r["id"] for r in store.records()}
    Store(dest).close()


def test_a_backup_killed_mid_copy_leaves_no_half_file_and_the_host_unharmed(tmp_path, mqtt_device, visit,
                                                                           device_login, wait_until):
    db, dest = tmp_path / "park.db", tmp_path / "nightly.db"
    seed(db, visit, 20_000)
    with Host(db) as host:
        dev = mqtt_device(device_login(host, "kiosk-03", host.broker_url), "kiosk-03")
        feeder = Feeder(dev, visit, "kiosk-03")
        try:
            wait_until(lambda: dev.n_acked() >= 40, 10, "the host to acknowledge the first surveys")
            bk = start_backup_process(dest, db, pause=0.2)
            try:
                wait_until(lambda: mid_copy(dest, bk) or bk.poll() is not None, 10,
                           "the backup to copy its first step")
                assert bk.poll() is None, f"the backup ended before the kill: {bk.communicate()}"
            finally:
                bk.kill()
                bk.wait(10)
            assert not dest.exists()
            n = dev.n_acked()  # the host goes on committing and acknowledging
            wait_until(lambda: dev.n_acked() >= n + 40, 10, "more acknowledgements after the kill")
        finally:
            feeder.stop()
        wait_until(lambda: dev.n_pending() == 0, 10, "every survey sent to be acknowledged")
        acked = set(dev.statuses)
        assert host.stats["errors"] == 0
    assert not dest.exists()
    assert integrity(db) == ["ok"]
    with Store(db) as store:
        assert acked <= {r["id"] for r in store.records()}
    # the next backup replaces the killed one's leftovers and completes
    report = backup(db, dest)
    assert not partial_of(dest).exists() and integrity(dest) == ["ok"]
    assert record_rows(dest) == record_rows(db) and report.records == len(record_rows(db))


# ------------------------------------------------------------ (3) restore

CRASHING_WRITER = textwrap.dedent("""
    import json, os, signal, sys
    from tiesense.store import RecordItem, Store, now_iso
    store = Store(sys.argv[1])
    store.write_batch([RecordItem(r, now_iso()) for r in json.load(sys.stdin)])
    os.kill(os.getpid(), signal.SIGKILL)  # committed, never checkpointed: the rows live in the -wal file
""")


def test_restore_puts_back_exactly_the_backed_up_records_and_keeps_the_old_database(tmp_path, visit):
    db, dest = tmp_path / "park.db", tmp_path / "nightly.db"
    backed = seed(db, visit, 50)
    backup(db, dest)
    later = seed(db, visit, 30, first=51)
    # a host SIGKILLed after its last commits: those rows are only in park.db-wal
    crashed = [visit("kiosk-04", s) for s in range(1, 11)]
    p = subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(db)], input=json.dumps(crashed), text=True,
                       capture_output=True, timeout=30)
    assert p.returncode == -signal.SIGKILL, p.stderr
    assert Path(f"{db}-wal").stat().st_size > 0

    report = restore(dest, db)

    with Store(db) as store:
        assert store.records() == sorted(backed, key=lambda r: r["seq"])  # not one row of the old WAL
    assert integrity(db) == ["ok"]
    kept = Path(report.kept)
    assert kept.parent == tmp_path and kept.name.startswith("park.db.before-restore-")
    assert integrity(kept) == ["ok"]
    assert ids(kept) == {r["id"] for r in backed + later + crashed}  # the old file, WAL included, kept whole
    assert report.records == 50 and report.quarantine == 0 and report.schema_version == schema.VERSION
    assert report.source == str(dest) and report.db_path == str(db)
    assert not Path(str(db) + PARTIAL).exists()
    assert integrity(dest) == ["ok"] and ids(dest) == {r["id"] for r in backed}  # the backup is untouched


def test_restore_into_a_place_with_no_database_yet(tmp_path, visit):
    db, dest = tmp_path / "park.db", tmp_path / "nightly.db"
    backed = seed(db, visit, 5)
    backup(db, dest)
    new = tmp_path / "fresh" / "park.db"
    new.parent.mkdir()
    report = restore(dest, new)
    assert report.kept is None and ids(new) == {r["id"] for r in backed}


def test_restore_is_refused_while_a_host_serves_the_database(tmp_path, visit):
    db, dest = tmp_path / "park.db", tmp_path / "nightly.db"
    seed(db, visit, 5)
    backup(db, dest)
    seed(db, visit, 5, first=6)
    with Host(db):
        with pytest.raises(BackupError, match=r"restore refused: the database .*park.db is already served by "
                                              r"tiesense host pid \d+.*: stop it, then restore"):
            restore(dest, db)
    assert len(ids(db)) == 10
    assert [p.name for p in tmp_path.iterdir() if "before-restore" in p.name or p.name.endswith(PARTIAL)] == []


def test_restore_is_refused_while_another_program_has_the_database_open(tmp_path, visit):
    db, dest = tmp_path / "park.db", tmp_path / "nightly.db"
    seed(db, visit, 5)
    backup(db, dest)
    reader = sqlite3.connect(db)  # a dashboard, an sqlite3 shell...
    try:
        assert reader.execute("SELECT count(*) FROM records").fetchone() == (5,)
        with pytest.raises(BackupError, match="is open in another program.*close it, then restore"):
            restore(dest, db)
    finally:
        reader.close()
    assert [p.name for p in tmp_path.iterdir() if "before-restore" in p.name or p.name.endswith(PARTIAL)] == []
    restore(dest, db)  # once it is closed


@pytest.mark.parametrize("kind", ["text", "empty", "other-sqlite", "newer", "damaged"])
def test_restore_refuses_what_is_not_a_good_tiesense_backup(tmp_path, visit, kind):
    db = tmp_path / "park.db"
    seed(db, visit, 5)
    before = record_rows(db)
    src = tmp_path / "src.db"
    if kind == "text":
        src.write_text("these are my notes, not a database\n" * 100)
        expected, error = "is not a SQLite database", BackupError
    elif kind == "empty":
        src.write_bytes(b"")
        expected, error = "is not a tiesense database", BackupError
    elif kind == "other-sqlite":
        conn = sqlite3.connect(src)
        conn.execute("CREATE TABLE songs (title)")
        conn.commit()
        conn.close()
        expected, error = "is not a tiesense database", BackupError
    elif kind == "newer":
        seed(src, visit, 3)
        conn = sqlite3.connect(src)
        conn.execute(f"PRAGMA user_version = {schema.VERSION + 1}")
        conn.close()
        expected, error = "written by a newer tiesense.*upgrade tiesense", SchemaTooNew
    else:
        seed(src, visit, 2000)
        data = bytearray(src.read_bytes())
        page = 4096
        for i in range(10 * page, 20 * page, 7):  # scribble over ten pages of the records b-tree
            data[i] = 0x5A
        src.write_bytes(bytes(data))
        expected, error = "is damaged", BackupError
    with pytest.raises(error, match=expected):
        restore(src, db)
    assert record_rows(db) == before
    assert [p.name for p in tmp_path.iterdir() if "before-restore" in p.name or p.name.endswith(PARTIAL)] == []


def test_restore_upgrades_a_backup_of_an_older_tiesense(tmp_path, user_version):
    old = tmp_path / "from-0.1.0.db"
    conn = sqlite3.connect(old)
    conn.executescript((DATA / "store-0.1.0.sql").read_text())
    conn.close()
    db = tmp_path / "park.db"
    report = restore(old, db)
    assert report.schema_from == 0 and report.schema_version == schema.VERSION == user_version(db)
    with Store(db) as store:
        assert store.counts()["records"] == report.records == 9
        assert all(q["raw_length"] is not None for q in store.quarantined())


def test_backup_refuses_what_it_cannot_copy_safely(tmp_path, visit):
    db = tmp_path / "park.db"
    with pytest.raises(BackupError, match="no database at .*park.db"):
        backup(db, tmp_path / "b.db")
    assert not db.exists()  # not created by looking
    seed(db, visit, 3)
    with pytest.raises(BackupError, match="is the database itself"):
        backup(db, db)
    with pytest.raises(BackupError, match="is a folder"):
        backup(db, tmp_path)
    Path(f"{tmp_path / 'b.db'}-wal").write_bytes(b"x")
    with pytest.raises(BackupError, match=r"b.db-wal exists.*choose another DEST"):
        backup(db, tmp_path / "b.db")
    assert not (tmp_path / "b.db").exists()


# ------------------------------------------------------------ (4) the commands

def test_the_commands_say_what_they_did_in_one_line(tmp_path, visit):
    db, dest = tmp_path / "park.db", tmp_path / "nightly.db"
    seed(db, visit, 7)
    db.chmod(0o600)  # whoever may not read the database may not read its backup either
    runner = CliRunner()
    r = runner.invoke(cli.main, ["backup", str(dest), "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert dest.stat().st_mode & 0o777 == 0o600
    assert r.output.splitlines() == [
        f"backed up {db} to {dest}: 7 records, 0 quarantined, {dest.stat().st_size / 1e6:.1f} MB, "
        f"integrity ok, in {r.output.rsplit(' in ', 1)[1].strip()}"]
    r = runner.invoke(cli.main, ["restore", str(dest), "--db", str(db)])
    assert r.exit_code == 0, r.output
    (kept,) = [p for p in tmp_path.iterdir() if "before-restore" in p.name]
    assert r.output.splitlines() == [f"restored {dest} into {db}: 7 records, 0 quarantined; "
                                     f"the database it replaced is kept as {kept}"]
    assert db.stat().st_mode & 0o777 == kept.stat().st_mode & 0o777 == 0o600


def test_the_commands_fail_in_one_line_saying_what_to_do(tmp_path, visit):
    db = tmp_path / "park.db"
    runner = CliRunner()
    r = runner.invoke(cli.main, ["backup", str(tmp_path / "b.db"), "--db", str(db)])
    assert r.exit_code == 1
    assert r.output.splitlines() == [f"Error: no database at {db}: give the host's database with --db"]
    seed(db, visit, 2)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n" * 200)
    r = runner.invoke(cli.main, ["restore", str(notes), "--db", str(db)])
    assert r.exit_code == 1 and len(r.output.splitlines()) == 1
    assert r.output.startswith(f"Error: {notes} is not a SQLite database")
    newer = tmp_path / "newer.db"
    seed(newer, visit, 1)
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version = {schema.VERSION + 1}")
    conn.close()
    r = runner.invoke(cli.main, ["restore", str(newer), "--db", str(db)])
    assert r.exit_code == 1 and len(r.output.splitlines()) == 1
    assert "written by a newer tiesense" in r.output and "upgrade tiesense" in r.output
    r = runner.invoke(cli.main, ["restore", str(tmp_path / "missing.db"), "--db", str(db)])
    assert r.exit_code == 1 and len(r.output.splitlines()) == 1
