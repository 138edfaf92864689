"""No silent stall: the host against a real Mosquitto when the broker dies, a foreign client takes
its client id, or several workers share one database.

Each test ends with the same accounting: every record sent is stored once with
the content sent, every one is acknowledged to the device, and the host's
counters agree with the rows. The Mosquitto here keeps its default
``max_inflight_messages 20``: a host that held back its PUBACKs would stop
receiving after 20 messages, which is how the stall used to show.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time

import paho.mqtt.client as mqtt

from tiesense.broker import parse_broker_url
from tiesense.ingest import Ingest
from tiesense.service import Host
from tiesense.store import Store, record_digest


def stored(db) -> dict[str, str]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT instance_id, digest FROM records").fetchall())
    finally:
        conn.close()


def assert_all_stored_once_and_acked(db, dev, records) -> None:
    rows = stored(db)
    sent = {r["id"]: record_digest(r) for r in records}
    assert len(rows) == len(sent) and rows == sent
    assert set(dev.statuses) == set(sent)
    assert all(s <= {"stored", "duplicate"} for s in dev.statuses.values())
    assert dev.n_pending() == 0


def backlog(mosquitto, db, dev, records):
    """Start a host once so the broker keeps a session for it, stop it, and let ``records`` queue up."""
    with Host(db, broker_url=mosquitto.url):
        pass
    dev.send(records)


def then_300_more(host, dev, visit, wait_until, first):
    """After the trouble: the host is back, 300 more records come, and every one is acknowledged.
    Returns the records sent in all, the host's counters and its connection health."""
    wait_until(lambda: host.ingest.health["connected"], 15, "the host to reconnect")
    more = [visit(dev.device, s) for s in range(len(first) + 1, len(first) + 301)]
    dev.send(more, wait=False)
    wait_until(lambda: dev.n_pending() == 0, 90,
               f"every record to be acknowledged (host {host.stats}, health {host.ingest.health})")
    s = host.stats
    assert s["stored"] == len(first) + len(more) == s["db_records"] and s["errors"] == 0
    return first + more, s, host.ingest.health


def test_broker_killed_during_a_backlog_then_more_records(tmp_path, mosquitto, mqtt_device, visit, wait_until):
    db = tmp_path / "park.db"
    dev = mqtt_device(mosquitto.url, "kiosk-01", resend_after=3.0, per_message=1)
    first = [visit("kiosk-01", s) for s in range(1, 3201)]
    backlog(mosquitto, db, dev, first)
    started, killed = threading.Event(), threading.Event()

    def kill_mid_backlog(report):
        # A subscriber, in the ingest thread after each batch's commit: slow while the host starts (so the
        # backlog cannot drain before the host has published its forms), then the broker dies after the
        # first batch of the running host.
        if not started.is_set():
            time.sleep(0.3)
        elif report.stored and not killed.is_set():
            killed.set()
            mosquitto.kill()

    with Host(db, broker_url=mosquitto.url, on_batch=kill_mid_backlog) as host:
        started.set()
        wait_until(killed.is_set, 30, "the host to work into the backlog")
        at_kill = host.stats["stored"]
        assert at_kill < len(first), "the backlog was worked off before the kill: nothing was tested"
        line = wait_until(lambda: "broker connection lost" in host.status_line() and host.status_line(), 10,
                          "the status line to say the broker is gone")
        mosquitto.start()
        sent, s, health = then_300_more(host, dev, visit, wait_until, first)
        assert health["disconnects"] >= 1 and health["taken_over"] == 0
    assert_all_stored_once_and_acked(db, dev, sent)
    print(f"\nwhile down: {line}\nbroker killed after {at_kill} of {len(first)} stored; afterwards stored {s['stored']}, "
          f"duplicates {s['duplicates']}, acked {s['acked']}, rows {s['db_records']}, health {health}")


def test_a_foreign_client_with_the_hosts_client_id(tmp_path, mosquitto, mqtt_device, visit, wait_until, caplog):
    db = tmp_path / "park.db"
    dev = mqtt_device(mosquitto.url, "kiosk-02", resend_after=3.0, per_message=1)
    first = [visit("kiosk-02", s) for s in range(1, 3001)]
    backlog(mosquitto, db, dev, first)
    with caplog.at_level(logging.WARNING, logger="tiesense"), Host(db, broker_url=mosquitto.url) as host:
        wait_until(lambda: host.stats["stored"] >= 300, 30, "the host to work into the backlog")
        # Someone connects with the host's client id and a clean session, and reconnects when thrown
        # out as any MQTT client does: the broker drops the host's connection each time and
        # forgets its session with whatever was queued in it.
        intruder = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=host.client_id, clean_session=True)
        intruder.reconnect_delay_set(0.5, 0.5)
        intruder.connect(*parse_broker_url(mosquitto.url))
        intruder.loop_start()
        wait_until(lambda: host.ingest.health["taken_over"] >= 1, 15, "the host to notice the takeover")
        intruder.loop_stop()
        intruder.disconnect()
        sent, s, health = then_300_more(host, dev, visit, wait_until, first)
        line = host.status_line()
    assert "another client took the host's session" in line
    assert any("another MQTT client connected with the host's client id" in r.getMessage() for r in caplog.records)
    assert_all_stored_once_and_acked(db, dev, sent)
    print(f"\nafter the takeover: stored {s['stored']}, duplicates {s['duplicates']}, acked {s['acked']}, "
          f"rows {s['db_records']}, health {health}\nstatus line: {line}")


def test_shared_group_workers_on_one_database_never_meet_a_lock(tmp_path, mosquitto, mqtt_device, visit,
                                                               wait_until, caplog):
    db = tmp_path / "park.db"
    records = [visit("kiosk-03", s) for s in range(1, 2001)]
    with caplog.at_level(logging.WARNING), \
            Host(db, broker_url=mosquitto.url, shared_group="ingest") as a, \
            Host(db, broker_url=mosquitto.url, shared_group="ingest") as b:
        assert a.client_id != b.client_id
        dev = mqtt_device(mosquitto.url, "kiosk-03", resend_after=10.0, per_message=1)
        dev.send(records, wait=False)
        wait_until(lambda: dev.n_pending() == 0, 60, f"every record to be acknowledged ({a.stats}, {b.stats})")
        sa, sb = a.stats, b.stats
    assert sa["stored"] > 0 and sb["stored"] > 0, "the broker did not split the stream"
    assert sa["stored"] + sb["stored"] == len(records)
    assert sa["errors"] == sb["errors"] == 0
    assert not [r for r in caplog.records if "locked" in r.getMessage()]
    assert_all_stored_once_and_acked(db, dev, records)
    print(f"\nworker a stored {sa['stored']} in {sa['batches']} batches, worker b {sb['stored']} in {sb['batches']}")


def test_a_second_host_on_the_same_database_is_refused(tmp_path, mosquitto):
    from tiesense.service import HostError

    db = tmp_path / "park.db"
    with Host(db, broker_url=mosquitto.url):
        try:
            Host(db, broker_url=mosquitto.url).start()
        except HostError as e:
            message = str(e)
        else:
            raise AssertionError("a second host started on a database another host serves")
        assert f"the database {db} is already served by tiesense host pid" in message
    with Host(db, broker_url=mosquitto.url) as again:  # the lock went with the first host
        assert again.ingest.connected


def test_acks_committed_while_the_broker_is_away_go_out_after_the_reconnect(tmp_path, mosquitto_factory,
                                                                            mqtt_device, visit, wait_until):
    # A broker that keeps sessions across a restart, and a device that does not resend on its own:
    # only the host's kept acks can acknowledge what was committed while the broker was away.
    broker = mosquitto_factory(f"persistence true\npersistence_location {tmp_path}/\nmax_inflight_messages 1000\n")
    gate = threading.Event()
    calls = []

    def hold_the_first_batch(report):
        calls.append(report)
        if len(calls) == 1:
            gate.wait(20)

    with Store(tmp_path / "park.db") as store:
        ing = Ingest(store, broker.url, client_id="host-under-test", on_batch=hold_the_first_batch).start()
        try:
            dev = mqtt_device(broker.url, "kiosk-04", per_message=1, client_id="kiosk-04", persistent=True)
            records = [visit("kiosk-04", s) for s in range(1, 51)]
            dev.send(records[:1])
            wait_until(lambda: dev.n_acked() == 1 and calls, 10, "the first record's ack")
            dev.send(records[1:])  # these wait in the host's queue while its writer is held
            wait_until(lambda: ing.stats["queued"] == len(records) - 1, 10, "the rest to reach the host")
            broker.stop()  # SIGTERM: Mosquitto saves its sessions
            wait_until(lambda: not ing.connected, 10, "the host to see the broker gone")
            gate.set()  # the writer commits while the broker is away
            wait_until(lambda: store.counts()["records"] == len(records), 10, "the commit")
            wait_until(lambda: ing.stats["acks_deferred"] >= 1, 10, "acks kept for the reconnect")
            assert dev.n_acked() == 1
            broker.start()
            wait_until(lambda: dev.n_acked() == len(records), 20,
                       f"the kept acks after the reconnect (host {ing.stats}, health {ing.health})")
            # paho also replays what it could not send; the host's own resend makes sure of it (a device
            # ignores an ack for a record it no longer holds)
            wait_until(lambda: ing.stats["acks_resent"] == ing.stats["acks_deferred"] >= 1, 10, "the resend count")
            assert ing.health["unsent"] == 0
            # stored once each; a message the broker had not been PUBACKed for comes again after its
            # restart (it kept the host's session) and is acked "duplicate"
            assert store.counts()["records"] == len(records)
            assert all("stored" in st and st <= {"stored", "duplicate"} for st in dev.statuses.values())
        finally:
            gate.set()
            ing.stop()
