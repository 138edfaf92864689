"""The store's schema over time: versioned migrations, databases of older and newer releases,
two processes writing one file, and the bounded quarantine."""
from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tiesense import wire
from tiesense.forms import builtin_forms
from tiesense.store import QuarantineItem, SchemaTooNew, Store, now_iso, record_digest
from tiesense.store import schema

DATA = Path(__file__).parent / "data"
OLD_TABLES = ("records", "conflicts", "quarantine", "devices", "forms", "tie_estimates", "org_measures",
              "cluster_measures")


def release_0_1_0(path: Path) -> Path:
    """A database file as tiesense 0.1.0 left it (tests/data/store-0.1.0.sql)."""
    conn = sqlite3.connect(path)
    conn.executescript((DATA / "store-0.1.0.sql").read_text())
    conn.close()
    return path


def raw_rows(path: Path, table: str) -> list[dict]:
    """Rows of a table read with plain sqlite3, as another program would."""
    conn = sqlite3.connect(path)
    try:
        cur = conn.execute(f"SELECT * FROM [{table}] ORDER BY rowid")
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]
    finally:
        conn.close()


def shape(path: Path) -> dict:
    """Columns (name, type, not null, default, pk) of every table and the indexes, for comparing schemas."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        out = {t: [tuple(r[1:]) for r in conn.execute(f"PRAGMA table_info([{t}])")] for t in tables}
        for t in tables:
            for _, name, unique, *_ in conn.execute(f"PRAGMA index_list([{t}])"):
                cols = [r[2] for r in conn.execute(f"PRAGMA index_info([{name}])")]
                out[f"index on {t}({','.join(cols)})"] = unique
        return out
    finally:
        conn.close()


def test_a_fresh_database_gets_the_latest_schema(tmp_path, user_version):
    with Store(tmp_path / "new.db"):
        pass
    assert user_version(tmp_path / "new.db") == schema.VERSION == len(schema.MIGRATIONS)
    got = shape(tmp_path / "new.db")
    assert set(OLD_TABLES) <= set(got)
    assert [c[0] for c in got["quarantine"]][-1] == "raw_length"


def test_a_0_1_0_database_is_upgraded_on_open_and_every_row_stays_readable(tmp_path, user_version):
    path = release_0_1_0(tmp_path / "old.db")
    assert user_version(path) == 0
    before = {t: raw_rows(path, t) for t in OLD_TABLES}
    with Store(path) as store:
        assert user_version(path) == schema.VERSION
        # Every old row is still there, column for column; new columns are only added.
        for t in OLD_TABLES:
            now = store.rows(t)
            assert [{k: r[k] for k in before[t][0]} for r in now] == before[t], t
        # And reads through the Store mean what they meant.
        recs = store.records()
        assert len(recs) == 9 and {r["form"] for r in recs} == {"tp_visit", "fi_partner"}
        for row in before["records"]:
            rec = store.record(row["instance_id"])
            assert record_digest(rec) == row["digest"]
        (c,) = store.conflicts()
        assert c["stored_digest"] == record_digest(store.record(c["instance_id"]))
        assert record_digest(json.loads(c["record"])) == c["digest"]
        q = store.quarantined()
        assert [(x["times"], x["item"]) for x in q] == [(2, -1), (1, 0)]
        assert all(x["raw_length"] == len(x["raw"]) and x["raw_digest"] == hashlib.sha256(x["raw"]).hexdigest()
                   for x in q)
        assert [d["device"] for d in store.devices()] == ["handheld-01", "kiosk-01"]
        assert store.forms() == [f for f in builtin_forms() if f["id"] in ("tp_visit", "fi_partner")]  # 0.1.0's
        assert store.counts() == {"records": 9, "conflicts": 1, "quarantine": 2, "devices": 2, "forms": 2,
                                  "online": 1}
        est = store.estimates()
        assert len(est) == 8 and {r["estimator"] for r in est} == {"composite", "decayed_rate"}
        assert [r["value"] for r in est] == sorted((r["value"] for r in est), reverse=True)
        assert len(store.estimates("composite")) == 4
        assert len(store.org_measures()) == 28 and [m["measure"] for m in store.cluster_measures()] == [
            "degree_centralization"]
        # The upgraded file takes new writes like a fresh one.
        payload = b"x" * 10_000
        store.write_batch(quarantine=[QuarantineItem("t", "oversize", payload, now_iso())])
        assert store.quarantined()[-1]["raw_length"] == 10_000


def test_an_upgraded_database_has_the_same_schema_as_a_fresh_one(tmp_path):
    Store(release_0_1_0(tmp_path / "old.db")).close()
    Store(tmp_path / "new.db").close()
    assert shape(tmp_path / "old.db") == shape(tmp_path / "new.db")


def test_reopening_is_idempotent(tmp_path, user_version):
    path = release_0_1_0(tmp_path / "old.db")
    Store(path).close()
    first = ({t: raw_rows(path, t) for t in OLD_TABLES}, shape(path))
    for _ in range(3):
        Store(path).close()
        assert user_version(path) == schema.VERSION
    assert ({t: raw_rows(path, t) for t in OLD_TABLES}, shape(path)) == first


def test_each_migration_is_its_own_transaction(tmp_path, monkeypatch, user_version):
    path = release_0_1_0(tmp_path / "old.db")
    broken = schema.Migration(schema.VERSION + 1, "half done, then fails",
                              ("CREATE TABLE half_done (a)", "THIS IS NOT SQL"))
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS + (broken,))
    monkeypatch.setattr(schema, "VERSION", broken.version)
    with pytest.raises(sqlite3.OperationalError):
        Store(path)
    # the migrations before the broken one were committed; the broken one left nothing behind
    assert user_version(path) == broken.version - 1
    assert "half_done" not in shape(path)


def test_a_database_of_a_newer_release_is_refused(tmp_path):
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE records_v9 (x)")  # whatever a later release keeps; rollback journal
    conn.execute(f"PRAGMA user_version = {schema.VERSION + 1}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(SchemaTooNew, match="newer tiesense.*upgrade tiesense"):
        Store(path)
    assert path.read_bytes() == before  # untouched: not even switched to WAL


WRITER = textwrap.dedent("""
    import hashlib, os, sys, time
    from tiesense import wire
    from tiesense.store import QuarantineItem, RecordItem, StatusItem, Store, now_iso

    path, name, batches, per, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]

    def rec(device, seq, tag):
        iid = wire.new_instance_id(lambda k: hashlib.sha256(tag.encode()).digest()[:k])
        return wire.make_record(device, seq, "tp_visit", "2026112401", "2026-11-24T10:00:00Z",
                                "2026-11-24T10:00:42Z", {"facility": "training", "org_type": "sme",
                                                         "satisfaction": 1 + seq % 5}, iid)

    open(go + "." + name, "w").close()  # this interpreter is up and waiting
    while not os.path.exists(go):
        time.sleep(0.002)
    store = Store(path)  # both open a file that does not exist yet: both race to create the schema
    stored_shared = 0
    for b in range(batches):
        own = [rec(name, b * per + i + 1, f"{name}-{b}-{i}") for i in range(per)]
        # the same records reach both workers (a redelivery across a shared subscription)
        shared = [rec("kiosk-shared", b * per + i + 1, f"shared-{b}-{i}") for i in range(per)]
        items = [RecordItem(r, now_iso()) for r in own + shared]
        out = store.write_batch(items, [QuarantineItem("t/" + name, "bad", b"%d" % b, now_iso(), name)],
                                [StatusItem(name, {"online": True, "queue": b}, now_iso())])
        assert [o.status for o in out[:per]] == ["stored"] * per, out
        assert all(o.status in ("stored", "duplicate") for o in out[per:]), out
        stored_shared += sum(o.status == "stored" for o in out[per:])
    store.close()
    print(stored_shared)
""")


def test_two_processes_write_one_database_without_lock_errors(tmp_path, wait_until, user_version):
    path, go = tmp_path / "shared.db", tmp_path / "go"
    batches, per = 30, 10
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, str(batches), str(per), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("worker-a", "worker-b")]
    wait_until(lambda: all((tmp_path / f"go.{n}").exists() for n in ("worker-a", "worker-b")), 60,
               "both writer processes to be up")
    go.touch()
    results = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0 and "locked" not in err, err
    # every shared record was stored by exactly one of the two
    assert sum(int(out) for out, _ in results) == batches * per
    with Store(path) as store:
        assert store.counts() == {"records": 3 * batches * per, "conflicts": 0, "quarantine": 2 * batches,
                                  "devices": 2, "forms": 0, "online": 2}
        assert [len(store.records(d)) for d in ("kiosk-shared", "worker-a", "worker-b")] == [batches * per] * 3
    assert user_version(path) == schema.VERSION


def test_quarantine_keeps_a_bounded_prefix_and_knows_the_whole(tmp_path):
    payload = bytes(range(256)) * 40  # 10240 bytes
    with Store(tmp_path / "q.db", quarantine_keep_bytes=100) as store:
        for _ in range(2):
            store.write_batch(quarantine=[QuarantineItem("tiesense/v1/k/records", "oversize", payload, now_iso(),
                                                         "k")])
        # same prefix, other tail: another payload, another row
        store.write_batch(quarantine=[QuarantineItem("tiesense/v1/k/records", "oversize", payload[:-1] + b"!",
                                                     now_iso(), "k")])
        first, other = store.quarantined()
    assert (first["raw"], first["raw_length"], first["times"]) == (payload[:100], len(payload), 2)
    assert first["raw_digest"] == hashlib.sha256(payload).hexdigest()
    assert (other["raw"], other["times"]) == (payload[:100], 1) and other["raw_digest"] != first["raw_digest"]
    with Store(tmp_path / "d.db") as store:  # default: 4096 bytes kept
        store.write_batch(quarantine=[QuarantineItem("t", "oversize", payload, now_iso()),
                                      QuarantineItem("t", "small", b"tiny", now_iso())])
        big, small = store.quarantined()
    assert (len(big["raw"]), big["raw_length"]) == (4096, len(payload))
    assert (small["raw"], small["raw_length"]) == (b"tiny", 4)
    with pytest.raises(ValueError, match="quarantine_keep_bytes"):
        Store(tmp_path / "e.db", quarantine_keep_bytes=-1)


def test_importing_the_store_loads_no_numpy_or_scipy():
    code = "import sys, tiesense.store; print(sorted({'numpy', 'scipy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_devices_table_has_a_column_for_every_status_field(tmp_path):
    """A new field in wire.STATUS_FIELDS needs a migration that adds its column."""
    with Store(tmp_path / "s.db") as store:
        cols = {c[0] for c in shape(Path(store.path))["devices"]}
    assert set(wire.STATUS_FIELDS) <= cols
