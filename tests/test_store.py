"""The SQLite store on real files: one-transaction batches, dedup by digest, kept conflicts, immutable forms."""
from __future__ import annotations

import json
import os
import sqlite3

import pytest

from tiesense import wire
from tiesense.forms import builtin_form
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
    assert tables == {"records", "conflicts", "quarantine", "devices", "forms", "tie_estimates", "org_measures",
                      "cluster_measures", "identities", "clock_anchors", "site_keys", "roster_versions",
                      "organisations", "web_users", "api_tokens", "web_sessions", "visits", "respondents",
                      "tie_reports", "alter_pairs"}
    # an ack means the row survives a power cut (FULL = 2); a second writer waits instead of failing
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 10_000
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
    # answers are kept as wire's canonical JSON text
    assert [r["answers"] for r in reopened.rows("records")] == [wire.dumps(r["answers"]) for r in batch]
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


def test_every_write_transaction_is_begin_immediate(store):
    """A deferred transaction that reads, then writes, fails with 'database is locked' when another
    process wrote in between; BEGIN IMMEDIATE takes the write lock first (waiting up to busy_timeout)."""
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    r = rec(1)
    store.write_batch([RecordItem(r, now_iso())], [QuarantineItem("t", "why", b"raw", now_iso())],
                      [StatusItem("kiosk-01", {"online": True}, now_iso())])
    store.publish_form(builtin_form("tp_visit"))
    store.replace_estimates("composite", [estimate(1, 2, "composite", 0.5)])
    store.upsert_estimates([estimate(1, 2, "decayed_rate", 0.1)])
    store.replace_measures([measure(1, "degree", 1.0)],
                           [{"measure": "degree_centralization", "value": 0.0, "low": None, "high": None,
                             "updated_at": "t"}])
    store.conn.set_trace_callback(None)
    words = [s.split(None, 2)[:2] for s in seen]
    begins = [w for w in words if w[0].upper() == "BEGIN"]
    assert begins == [["BEGIN", "IMMEDIATE"]] * 5
    depth = 0
    for w in words:
        head = w[0].upper()
        if head == "BEGIN":
            depth += 1
        elif head in ("COMMIT", "ROLLBACK"):
            depth -= 1
        elif head in ("INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP", "REPLACE"):
            assert depth == 1, f"{' '.join(w)} outside a BEGIN IMMEDIATE transaction"
    assert depth == 0


def estimate(u, v, estimator, value, observations=1):
    return {"u": u, "v": v, "estimator": estimator, "value": value, "low": value / 2, "high": value * 2,
            "observations": observations, "confirmed": None, "disagreement": None, "updated_at": "t"}


def measure(org, name, value):
    return {"org": org, "measure": name, "value": value, "low": None, "high": None, "updated_at": "t"}


def test_estimates_are_replaced_per_estimator_and_upserted_per_dyad(store):
    store.replace_estimates("composite", [estimate(1, 2, "composite", 0.2), estimate(2, 3, "composite", 0.9)])
    store.upsert_estimates([estimate(1, 2, "decayed_rate", 0.5), estimate(1, 3, "decayed_rate", 0.1)])
    store.upsert_estimates([estimate(1, 2, "decayed_rate", 0.05, observations=2)])
    assert [(r["u"], r["v"], r["estimator"], r["value"]) for r in store.estimates()] == [
        (2, 3, "composite", 0.9), (1, 2, "composite", 0.2), (1, 3, "decayed_rate", 0.1),
        (1, 2, "decayed_rate", 0.05)]
    # replacing one estimator leaves the other's rows alone
    store.replace_estimates("composite", [estimate(1, 3, "composite", 0.4)])
    assert [(r["u"], r["v"], r["value"]) for r in store.estimates("composite")] == [(1, 3, 0.4)]
    assert [r["observations"] for r in store.estimates("decayed_rate")] == [1, 2]
    with pytest.raises(ValueError, match="estimator"):
        store.replace_estimates("composite", [estimate(1, 2, "decayed_rate", 0.1)])


def test_measures_are_replaced_together(store):
    store.replace_measures([measure(1, "degree", 2.0), measure(2, "degree", 1.0)],
                           [{"measure": "degree_centralization", "value": 0.5, "low": 0.1, "high": 0.9,
                             "updated_at": "t"}])
    store.replace_measures([measure(3, "degree", 1.0)], [])
    assert [(m["org"], m["measure"], m["value"]) for m in store.org_measures()] == [(3, "degree", 1.0)]
    assert store.cluster_measures() == []


def test_answers_of_one_form_in_time_order(store):
    late = dict(rec(1), end="2026-11-24T12:00:00Z")
    early = dict(rec(2, satisfaction=2), end="2026-11-24T11:00:00Z")
    other = wire.make_record("h", 1, "fi_partner", "2026112401", "2026-11-24T10:00:00Z", "2026-11-24T10:00:00Z",
                             {"respondent_org": 1, "partner_org": 2}, wire.new_instance_id(os.urandom))
    store.write_batch([RecordItem(r, now_iso()) for r in (late, early, other)])
    got = store.interview_answers("tp_visit")
    assert [(json.loads(a)["satisfaction"], end) for a, end in got] == [(2, early["end"]), (5, late["end"])]

