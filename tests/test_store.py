"""The SQLite store on real files: one-transaction batches, dedup by digest, kept conflicts, immutable forms."""
from __future__ import annotations

import os
import sqlite3

import pytest

from tiesense import wire
from tiesense.forms import builtin_form, builtin_forms
from tiesense.store import FormConflict, QuarantineItem, RecordItem, StatusItem, Store, now_iso, record_digest


def rec(seq: int, device: str = "kiosk-01", **answers) -> dict:
    a = {"facility": "training", "org_type": "startup", "satisfaction": 5}
    a.update(answers)
    return wire.make_record(device, seq, "tp_visit", "2026112401", "2026-11-24T10:00:00Z", "2026-11-24T10:00:42Z",
                            a, wire.new_instance_id(os.urandom))


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "t.db")
    yield s
    s.close()


def test_file_is_wal_with_every_table(store, tmp_path):
    conn = sqlite3.connect(tmp_path / "t.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"records", "conflicts", "quarantine", "devices", "forms"} <= tables
    assert store.counts() == {"records": 0, "conflicts": 0, "quarantine": 0, "devices": 0, "forms": 0, "online": 0}


def test_write_is_idempotent(store, tmp_path):
    batch = [rec(1), rec(2), rec(3)]
    first = store.write_batch([RecordItem(r, now_iso()) for r in batch])
    again = store.write_batch([RecordItem(r, now_iso()) for r in batch])
    assert [(o.seq, o.instance_id, o.status) for o in first] == [(r["seq"], r["id"], "stored") for r in batch]
    assert [o.status for o in again] == ["duplicate"] * 3
    assert store.counts()["records"] == 3
    assert store.records("kiosk-01") == batch
    # reopening the file finds the same rows (they were committed)
    store.close()
    reopened = Store(tmp_path / "t.db")
    assert reopened.records() == batch
    assert [r["digest"] for r in reopened.rows("records")] == [record_digest(r) for r in batch]
    reopened.close()


def test_duplicate_inside_one_batch_is_stored_once(store):
    r = rec(1)
    out = store.write_batch([RecordItem(r, now_iso()), RecordItem(dict(r), now_iso())])
    assert [o.status for o in out] == ["stored", "duplicate"]
    assert store.counts()["records"] == 1


def test_conflict_is_kept_with_both_digests(store):
    r = rec(1)
    other = dict(r, answers=dict(r["answers"], satisfaction=1))
    store.write_batch([RecordItem(r, now_iso())])
    out = store.write_batch([RecordItem(other, now_iso())])
    assert out[0].status == "conflict"
    assert store.record(r["id"]) == r  # the first version is never overwritten
    (c,) = store.conflicts()
    assert (c["instance_id"], c["stored_digest"], c["digest"]) == (r["id"], record_digest(r), record_digest(other))
    assert wire.dumps(other) == c["record"]
    # the same conflicting version again is still a conflict, kept once
    assert store.write_batch([RecordItem(other, now_iso())])[0].status == "conflict"
    assert store.counts()["conflicts"] == 1


def test_batch_is_one_transaction(store):
    good = rec(1)
    broken = RecordItem(rec(2), now_iso())
    broken.record["device"] = None  # violates NOT NULL: the whole batch must roll back
    with pytest.raises(sqlite3.IntegrityError):
        store.write_batch([RecordItem(good, now_iso()), broken],
                          quarantine=[QuarantineItem("t", "why", b"raw", now_iso())],
                          statuses=[StatusItem("kiosk-01", {"online": True}, now_iso())])
    assert store.counts() == {"records": 0, "conflicts": 0, "quarantine": 0, "devices": 0, "forms": 0, "online": 0}


def test_quarantine_keeps_raw_bytes_and_counts_repeats(store):
    raw = b"\xff\x00 not a record"
    store.write_batch(quarantine=[QuarantineItem("tiesense/v1/k/records", "not UTF-8", raw, now_iso(), "k")])
    store.write_batch(quarantine=[QuarantineItem("tiesense/v1/k/records", "not UTF-8", raw, now_iso(), "k")])
    (q,) = store.quarantined()
    assert (q["raw"], q["reason"], q["device"], q["times"], q["item"]) == (raw, "not UTF-8", "k", 2, -1)


def test_status_upserts_device(store):
    store.write_batch(statuses=[StatusItem("k", {"v": 1, "online": True, "fw": "1.2", "queue": 4}, "t1")])
    store.write_batch(statuses=[StatusItem("k", {"v": 1, "online": False}, "t2")])
    (d,) = store.devices()
    assert (d["online"], d["fw"], d["queue"], d["last_seen"]) == (0, None, None, "t2")
    assert store.counts()["online"] == 0


def test_published_form_is_immutable(store):
    form = builtin_form("tp_visit")
    assert store.publish_form(form) is True
    assert store.publish_form(dict(form)) is False  # same content: fine
    changed = dict(form, questions=form["questions"][:1])
    with pytest.raises(FormConflict, match="immutable"):
        store.publish_form(changed)
    assert store.publish_form(dict(changed, version="2026112501")) is True
    assert [(f["id"], f["version"]) for f in store.forms()] == [("tp_visit", "2026112401"), ("tp_visit", "2026112501")]
    assert store.forms()[0] == form
