"""Tie estimates wired to the store: interviews are stored, estimates land in tie_estimates."""
from __future__ import annotations

import os
import sqlite3

import numpy as np
import pytest
from click.testing import CliRunner

from tiesense import cli, wire
from tiesense.estimates import LiveTies, interview_reports, recompute, recompute_measures
from tiesense.ingest import IngestCore, Message
from tiesense.store import Store
from tiesense.ties.estimators import reconcile_dyads, survey_composite


# (respondent, partner, tie types, frequency, since, closeness, reciprocity, end time)
REPORTS = [
    (11, 12, ["traded", "knowledge"], 5, 2015, 4, "mutual", "2026-10-01T10:00:00Z"),
    (12, 11, ["traded"], 4, 2016, 3, "we", "2026-10-02T10:00:00Z"),
    (11, 13, ["support"], 2, None, 2, None, "2026-10-03T10:00:00Z"),
    (13, 14, ["collaborative", "people", "knowledge"], 6, 2020, 5, "mutual", "2026-10-04T10:00:00Z"),
    (14, 12, ["finance"], 1, 2024, 1, "they", "2026-10-05T10:00:00Z"),
    (11, 12, ["traded", "knowledge", "people"], 5, 2015, 5, "mutual", "2026-11-01T10:00:00Z"),
]


def expected_composite(method="anchors"):
    """The composite of each of REPORTS, computed here from the raw answers (2026 interviews), standardised
    against the ends of fi_partner's scales (frequency a range 1-6, closeness 1-5) as recompute does."""
    return survey_composite(
        np.array([r[3] for r in REPORTS], float),
        np.array([np.nan if r[4] is None else 2026 - r[4] for r in REPORTS], float),
        np.array([r[5] for r in REPORTS], float),
        np.array([len(r[2]) for r in REPORTS], float),
        np.array([{"mutual": 1.0, None: np.nan}.get(r[6], 0.0) for r in REPORTS], float),
        method=method, anchors={"frequency": (1, 6), "closeness": (1, 5)})


def interview_record(i, rep, device="handheld-01"):
    r, p, types, freq, since, close, recip, end = rep
    answers = {"respondent_org": r, "partner_org": p, "tie_types": types, "frequency": freq,
               "closeness": close, "scope": "same_park"}
    if since is not None:
        answers["since_year"] = since
    if recip is not None:
        answers["reciprocity"] = recip
    return wire.make_record(device, i + 1, "fi_partner", "2026112401", end, end, answers,
                            wire.new_instance_id(os.urandom))


def interviews_message(reports, device="handheld-01"):
    records = [interview_record(i, rep, device) for i, rep in enumerate(reports)]
    return Message(wire.topic_records(device), wire.encode_batch(device, records), 1_795_000_000.0)


def store_interviews(store, reports, device="handheld-01"):
    """Write interviews through the ingest core; return the batch report a host passes to its subscribers."""
    return IngestCore().process(store, [interviews_message(reports, device)])


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "host.db")
    yield s
    s.close()


def live_rows(store):
    return {(r["u"], r["v"]): r for r in store.estimates("decayed_rate")}


def test_live_ties_observe_each_newly_stored_interview_once(store):
    live = LiveTies(store)
    assert live.counts == {} and store.estimates() == []
    message = interviews_message(REPORTS)
    report = IngestCore().process(store, [message])
    assert report.stored == len(REPORTS)
    live.on_batch(report)
    rows = live_rows(store)
    # Dyad (11, 12) was reported three times, the others once.
    assert {k: r["observations"] for k, r in rows.items()} == {(11, 12): 3, (11, 13): 1, (13, 14): 1, (12, 14): 1}
    assert all(r["low"] < r["value"] < r["high"] for r in rows.values())
    assert rows[(11, 12)]["value"] > rows[(11, 13)]["value"]
    # The same interviews again are duplicates: nothing new is observed.
    again = IngestCore().process(store, [message])
    assert again.duplicates == len(REPORTS)
    live.on_batch(again)
    assert live_rows(store) == rows
    # A changed interview under a stored id is a conflict: not observed either.
    first = wire.decode_batch(message.payload)[1][0]
    changed = dict(first, answers=dict(first["answers"], closeness=1))
    conflict = IngestCore().process(store, [Message(message.topic, wire.encode_batch("handheld-01", [changed]), 0.0)])
    assert conflict.conflicts == 1
    live.on_batch(conflict)
    assert live_rows(store) == rows
    # A host started afresh rebuilds the same live estimates from the store.
    assert LiveTies(store).counts == {k: r["observations"] for k, r in rows.items()}


def test_live_ties_take_the_hosts_store_not_a_path(tmp_path):
    with pytest.raises(TypeError, match="Store"):
        LiveTies(tmp_path / "host.db")
    assert list(tmp_path.iterdir()) == []


def test_recompute_writes_the_reconciled_composite(store):
    store_interviews(store, REPORTS)
    LiveTies(store)
    n = recompute(store, mode="mean", n_replicates=200, seed=1)
    assert n == 4
    rows = {(r["u"], r["v"]): r for r in store.estimates("composite")}
    # The stored composite is the library's composite, reconciled: computed here directly from REPORTS.
    resp = np.array([r[0] for r in REPORTS])
    part = np.array([r[1] for r in REPORTS])
    want = reconcile_dyads(resp, part, expected_composite(), "mean")
    for u, v, x, confirmed in zip(want.u, want.v, want.value, want.confirmed):
        row = rows[(int(u), int(v))]
        assert abs(row["value"] - x) < 1e-12
        assert row["confirmed"] == int(confirmed)
        assert row["low"] <= row["high"]
    assert rows[(11, 12)]["confirmed"] == 1 and rows[(11, 12)]["disagreement"] is not None
    assert rows[(11, 13)]["confirmed"] == 0 and rows[(11, 13)]["disagreement"] is None
    # Recomputing with the same seed is reproducible, and leaves the live rows alone.
    before = sorted((r["u"], r["v"], r["value"], r["low"], r["high"]) for r in rows.values())
    recompute(store, mode="mean", n_replicates=200, seed=1)
    after = sorted((r["u"], r["v"], r["value"], r["low"], r["high"]) for r in store.estimates("composite"))
    assert before == after
    assert len(store.estimates("decayed_rate")) == 4


def test_interviews_through_the_host_update_live_estimates(tmp_path, wait_until, device_login, mqtt_device):
    from tiesense.service import Host

    db_path = tmp_path / "host.db"
    records = [interview_record(i, rep) for i, rep in enumerate(REPORTS)]
    with Host(db_path) as host:
        # a provisioned handheld: its records go out signed (contract version 2)
        dev = mqtt_device(device_login(host, "handheld-01", host.broker_url), "handheld-01", per_message=len(records))
        dev.send(records)
        wait_until(lambda: dev.n_acked() == len(records), 10, "every interview acknowledged")
        assert sorted(a[2] for a in dev.all_acks) == [wire.STORED] * len(records)
        with Store(db_path) as reader:
            wait_until(lambda: len(reader.estimates("decayed_rate")) == 4, 10, "live estimates")
            live = live_rows(reader)
    assert {k: r["observations"] for k, r in live.items()} == {(11, 12): 3, (11, 13): 1, (13, 14): 1, (12, 14): 1}


def test_interview_reports_skip_self_reports_and_read_missing_answers_as_nan(store):
    store_interviews(store, [REPORTS[2], (15, 15, ["traded"], 3, 2020, 3, None, "2026-10-06T10:00:00Z")])
    r = interview_reports(store)
    assert r["respondent"].tolist() == [11] and r["partner"].tolist() == [13]
    assert np.isnan(r["duration"][0]) and np.isnan(r["reciprocity"][0])


def test_cli_recompute_and_show(tmp_path):
    db_path = tmp_path / "host.db"
    with Store(db_path) as store:
        store_interviews(store, REPORTS)
    runner = CliRunner()
    out = runner.invoke(cli.main, ["ties", "recompute", "--db", str(db_path), "--replicates", "50"])
    assert out.exit_code == 0 and out.stdout.startswith("4 dyads estimated")
    assert out.stderr.startswith("bootstrap replicates")  # the progress bar (one line when not on a terminal)
    shown = runner.invoke(cli.main, ["ties", "show", "--db", str(db_path), "--estimator", "composite"])
    assert shown.exit_code == 0
    lines = shown.output.strip().splitlines()
    assert len(lines) == 5 and lines[0].split()[:3] == ["u", "v", "estimator"]
    empty = tmp_path / "empty.db"
    Store(empty).close()
    missing = runner.invoke(cli.main, ["ties", "show", "--db", str(empty)])
    assert missing.exit_code == 1 and "no tie estimates" in missing.output
    with sqlite3.connect(empty) as conn:
        conn.execute("PRAGMA user_version = 999")
    newer = runner.invoke(cli.main, ["ties", "recompute", "--db", str(empty)])
    assert newer.exit_code == 1 and "upgrade tiesense" in newer.output


def test_node_and_cluster_measures_come_from_the_reconciled_composite_graph(store):
    from tiesense.estimates import ORG_MEASURES, WEIGHT_FLOOR, recompute_measures
    from tiesense.ties import Graph, structure
    from tiesense.ties.cluster import hub_dependence

    store_interviews(store, REPORTS)
    orgs, clusters = recompute_measures(store, n_replicates=100, seed=3)
    assert (orgs, clusters) == (4, 1)
    got = {(r["org"], r["measure"]): r for r in store.org_measures()}
    assert {m for _, m in got} == set(ORG_MEASURES) | {"responded"} and {o for o, _ in got} == {11, 12, 13, 14}
    assert all(got[(o, "responded")]["value"] == 1.0 for o in (11, 12, 13, 14))
    # The same graph built here by hand: codes 11..14 -> 0..3, composite reconciled by mean.
    codes = [11, 12, 13, 14]
    resp = np.array([codes.index(r[0]) for r in REPORTS])
    part = np.array([codes.index(r[1]) for r in REPORTS])
    d = reconcile_dyads(resp, part, expected_composite())
    g = Graph.from_edges(d.u, d.v, np.maximum(d.value, WEIGHT_FLOOR), n=4)
    want = {"strength": structure.strength(g, 1.0), "degree": structure.strength(g, 0.0),
            "constraint": structure.constraint(g), "effective_size": structure.effective_size(g),
            "top_partner_share": hub_dependence(g).top_share, "hhi": hub_dependence(g).hhi,
            "betweenness": structure.betweenness(g)}
    for name, values in want.items():
        for i, code in enumerate(codes):
            assert abs(got[(code, name)]["value"] - values[i]) < 1e-9, (name, code)
    for (code, name), row in got.items():
        if name not in ("betweenness", "responded"):
            assert row["low"] <= row["high"]
    assert got[(12, "degree")]["value"] == 2  # tied to 11 (reported by both) and to 14
    (cluster,) = store.cluster_measures()
    assert cluster["measure"] == "degree_centralization"
    assert abs(cluster["value"] - structure.degree_centralization(g)) < 1e-12 and cluster["low"] <= cluster["high"]


def test_organisations_that_never_answered_are_flagged_as_non_respondents(store):
    # 15 is named by 11 and 12 but never interviewed: its measures exist, built from their reports only
    store_interviews(store, REPORTS + [(11, 15, ["traded"], 3, 2020, 3, None, "2026-11-02T10:00:00Z"),
                                       (12, 15, ["support"], 2, 2021, 2, None, "2026-11-03T10:00:00Z")])
    recompute_measures(store, n_replicates=20, seed=1)
    got = {(r["org"], r["measure"]): r["value"] for r in store.org_measures()}
    assert got[(15, "responded")] == 0.0 and got[(15, "degree")] == 2
    assert [got[(o, "responded")] for o in (11, 12, 13, 14)] == [1.0] * 4


def test_anchored_composites_compare_across_waves(store):
    # the same report scores the same however strong the other ties of its wave are; min-max would not
    from tiesense.estimates import composite

    one = (21, 22, ["traded"], 3, 2020, 3, None, "2026-10-01T10:00:00Z")
    store_interviews(store, [one, (23, 24, ["traded"], 1, 2026, 1, None, "2026-10-01T11:00:00Z")])
    weak_wave = composite(interview_reports(store))[0]
    minmax_weak = composite(interview_reports(store), method="minmax")[0]
    store_interviews(store, [(25, 26, ["traded", "knowledge", "people"], 6, 2000, 5, "mutual",
                              "2026-10-02T10:00:00Z")], device="handheld-02")
    r = interview_reports(store)
    assert composite(r)[0] == weak_wave
    assert composite(r, method="minmax")[0] != minmax_weak


def test_recompute_weights_change_the_composite(store):
    store_interviews(store, REPORTS)
    recompute(store, n_replicates=20)
    default = {(r["u"], r["v"]): r["value"] for r in store.estimates("composite")}
    recompute(store, n_replicates=20, weights={"closeness": 1.0})
    only_closeness = {(r["u"], r["v"]): r["value"] for r in store.estimates("composite")}
    assert only_closeness[(13, 14)] == 1.0  # closeness 5 of 1-5 alone
    assert only_closeness != default


def visit_message(device, visits, version):
    """Visits on the shipped XLSForm visit instrument: (visitor roster code, end time)."""
    records = [wire.make_record(device, i + 1, "tp_visit", version, end, end,
                                {"wave": "1", "facility": "shared_lab", "visitor_org": str(org), "purpose": "event",
                                 "met": ["nobody"], "new_contact": "no", "satisfaction": "4"},
                                wire.new_instance_id(os.urandom)) for i, (org, end) in enumerate(visits)]
    return Message(wire.topic_records(device), wire.encode_batch(device, records), 1_795_000_000.0)


def test_kiosk_check_ins_give_copresence_and_its_significance(tmp_path):
    from tiesense.estimates import recompute_copresence
    from tiesense.forms import FormRegistry, builtin_forms
    from tiesense.xlsform.instruments import compile_instrument

    visit = compile_instrument("tp_visit").form
    core = IngestCore(forms=FormRegistry(builtin_forms() + [visit]))
    together = [f"2026-10-{d:02d}T10:{m:02d}:00Z" for d in range(1, 11) for m in (5,)]
    visits = [(101, t) for t in together] + [(102, t.replace(":05:", ":40:")) for t in together]  # same hour
    visits += [(103, f"2026-10-{d:02d}T15:00:00Z") for d in range(1, 11)]  # alone, every afternoon
    visits += [(101, "2026-10-20T09:00:00Z"), (103, "2026-10-20T09:30:00Z")]  # once together
    with Store(tmp_path / "park.db") as store:
        report = core.process(store, [visit_message("kiosk-01", visits, visit["version"])])
        assert report.stored == len(visits)
        assert recompute_copresence(store) == 2
        got = {(r["u"], r["v"]): r for r in store.estimates("copresence")}
    assert set(got) == {(101, 102), (101, 103)}
    assert got[(101, 102)]["observations"] == 10 and got[(101, 102)]["confirmed"] == 1
    assert got[(101, 103)]["observations"] == 1 and got[(101, 103)]["confirmed"] == 0  # chance
    assert got[(101, 102)]["value"] == 10.0  # Newman: 10 events of two, 1/(2-1) each


def test_cli_recompute_takes_weights_and_says_what_it_used(tmp_path):
    db_path = tmp_path / "host.db"
    with Store(db_path) as store:
        store_interviews(store, REPORTS)
    runner = CliRunner()
    out = runner.invoke(cli.main, ["ties", "recompute", "--db", str(db_path), "--replicates", "20",
                                   "--weight", "closeness=1", "--weight", "trust=0"])
    assert out.exit_code == 0, out.output
    assert "closeness 1, " in out.output and "trust 0;" in out.output and "standardised: anchors" in out.output
    from tiesense.ties.estimators import DEFAULT_WEIGHTS

    with Store(db_path) as store:
        by_cli = {(r["u"], r["v"]): r["value"] for r in store.estimates("composite")}
        recompute(store, n_replicates=20, weights=dict(DEFAULT_WEIGHTS, closeness=1.0, trust=0.0))
        assert by_cli == {(r["u"], r["v"]): r["value"] for r in store.estimates("composite")}
        recompute(store, n_replicates=20)
        assert by_cli != {(r["u"], r["v"]): r["value"] for r in store.estimates("composite")}
    bad = runner.invoke(cli.main, ["ties", "recompute", "--db", str(db_path), "--weight", "warmth=1"])
    assert bad.exit_code == 2 and "not a component" in bad.output and "closeness" in bad.output


def test_recompute_all_writes_what_recompute_and_recompute_measures_write_and_counts_every_replicate(tmp_path):
    from tiesense.estimates import recompute_all, recompute_measures

    def tables(store):
        ties = store.conn.execute("SELECT u, v, value, low, high, observations FROM tie_estimates "
                                  "WHERE estimator = 'composite' ORDER BY u, v").fetchall()
        orgs = store.conn.execute("SELECT org, measure, value, low, high FROM org_measures "
                                  "ORDER BY org, measure").fetchall()
        return ties, orgs, store.conn.execute("SELECT measure, value, low, high FROM cluster_measures").fetchall()

    with Store(tmp_path / "a.db") as one, Store(tmp_path / "b.db") as two:
        store_interviews(one, REPORTS)
        store_interviews(two, REPORTS)
        recompute(one, n_replicates=40, seed=3)
        recompute_measures(one, n_replicates=40, seed=3)
        ticks = []
        assert recompute_all(two, n_replicates=40, seed=3, progress=ticks.append) == (4, 4)
        assert ticks == [1] * 80  # the dyads' 40 replicates, then the measures' 40
        first, second = tables(one), tables(two)
    assert [len(t) for t in first] == [len(t) for t in second] == [4, 32, 1]  # 4 orgs x (7 measures + responded)
    for a, b in zip(first, second):
        for row_a, row_b in zip(a, b):
            assert row_a == pytest.approx(row_b, nan_ok=True) if None not in row_a else row_a == row_b
