"""Exports read back by the tools users open them with: csv, openpyxl, networkx (GraphML, GEXF, Pajek,
node-link JSON) and a UCINET DL reader; and ``tiesense export`` from the CLI."""
from __future__ import annotations

import csv
import io
import json
import zipfile

import networkx as nx
import openpyxl
import pytest
from click.testing import CliRunner

from tiesense import cli, estimates


@pytest.fixture
def estimated(web):
    estimates.recompute(web.store, n_replicates=20)
    estimates.recompute_measures(web.store, n_replicates=20)
    return web


def read_csv(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_the_csv_zip_has_one_odk_style_table_per_form_and_the_respondents(web):
    r = web.get("/api/exports/csv", "analyst")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(r.content))
    # a table per form with records (no kiosk sent presence records here: no tp_presence table)
    assert sorted(z.namelist()) == ["fi_partner.csv", "respondents.csv", "tp_visit.csv"]
    visits = read_csv(z.read("tp_visit.csv"))
    assert len(visits) == 10 and list(visits[0])[:4] == ["SubmissionDate", "start", "end", "deviceid"]
    assert visits[0]["KEY"] == visits[0]["meta-instanceID"] and visits[0]["facility"] == "shared_lab"
    ties = read_csv(z.read("fi_partner.csv"))
    respondents = read_csv(z.read("respondents.csv"))
    assert len(ties) == 16 and len(respondents) == 10
    assert {t["PARENT_KEY"] for t in ties} == {r["KEY"] for r in respondents}
    first = ties[0]
    assert first["tie_types"] in ("traded knowledge", "support")
    assert first["tie_types/traded"] == ("1" if "traded" in first["tie_types"] else "0")
    assert first["respondent_name"].startswith("SME")


def test_labels_replace_names_and_codes(web):
    r = web.get("/api/exports/csv?table=tp_visit&labels=true&lang=ko", "analyst")
    rows = read_csv(r.content)
    assert r.headers["content-type"].startswith("text/csv") and len(rows) == 10
    assert "오늘 어떤 시설이나 서비스를 이용하셨습니까?" in rows[0]
    assert rows[0]["오늘 어떤 시설이나 서비스를 이용하셨습니까?"] == "공동 장비·시험실"


def test_xlsx_has_a_sheet_per_table(web):
    r = web.get("/api/exports/xlsx", "analyst")
    wb = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
    assert wb.sheetnames == ["respondents", "fi_partner", "tp_visit"]  # the parent before its repeat
    rows = list(wb["fi_partner"].iter_rows(values_only=True))
    assert len(rows) == 17 and "PARENT_KEY" in rows[0]


def test_a_repeat_is_a_sheet_of_its_own_with_its_parents_key(web):
    # an interview of the handheld's form: its partner passes become rows of fi_interview-partner_loop
    import os

    from tiesense import wire
    from tiesense.forms import builtin_form
    from tiesense.ingest import IngestCore, Message

    form = builtin_form("fi_interview")
    loop = next(q for q in form["questions"] if q["name"] == "partner_loop")

    def one_pass(partner, freq):
        d = {"partner": partner, "tie_types": ["traded"], "frequency": freq, "formality": "formal",
             "channel": "face_to_face", "closeness": "3", "trust": "4", "initiated": "we",
             "knowledge_flow": "both_ways", "importance": "3", "scope": "same_park", "alters_tied": ["nobody"]}
        return [d.get(n) for n in wire.answer_fields(loop)]

    answers = {"consent": "yes", "respondent_org": "102", "size_band": "small", "sector": "machinery",
               "rd_activity": "rd_unit", "partners": ["101", "103"], "partner_loop": [one_pass("101", "4"),
                                                                                   one_pass("103", "2")]}
    rec = wire.make_record("handheld-01", 1, "fi_interview", form["version"], "2026-11-30T10:00:00Z",
                           "2026-11-30T10:20:00Z", answers, wire.new_instance_id(os.urandom))
    report = IngestCore().process(web.store, [Message(wire.topic_records("handheld-01"),
                                                      wire.encode_batch("handheld-01", [rec]), 0.0)])
    assert report.stored == 1, report
    z = zipfile.ZipFile(io.BytesIO(web.get("/api/exports/csv", "analyst").content))
    assert {"fi_interview.csv", "fi_interview-partner_loop.csv"} <= set(z.namelist())
    (parent,) = read_csv(z.read("fi_interview.csv"))
    passes = read_csv(z.read("fi_interview-partner_loop.csv"))
    assert [(p["partner"], p["frequency"], p["PARENT_KEY"]) for p in passes] == [
        ("101", "4", parent["KEY"]), ("103", "2", parent["KEY"])]
    assert passes[1]["KEY"] == parent["KEY"] + "/partner_loop[2]" and "partner_loop" not in parent
    # the roster is one shared list in the compiled interview: its labels and columns still reach the exports
    assert form["format"] == 2 and "list" in next(q for q in form["questions"] if q["name"] == "respondent_org")
    assert {"partners/101", "partners/nobody"} <= set(parent) and parent["partners/101"] == "1"
    assert {"alters_tied/102", "alters_tied/nobody"} <= set(passes[0]) and passes[0]["alters_tied/nobody"] == "1"
    (labelled,) = read_csv(web.get("/api/exports/csv?table=fi_interview&labels=true", "analyst").content)
    assert labelled["Which organisation do you answer for?"] == "Example University (placeholder)"


def test_graphml_and_gexf_carry_node_attributes_and_intervals(estimated):
    g = nx.read_graphml(io.BytesIO(estimated.get("/api/exports/graphml", "analyst").content))
    assert g.number_of_nodes() == 12 and g.number_of_edges() == 16
    node = g.nodes["12"]
    assert node["label"] == "Gumi Techno Park" and node["actor_type"] == "technopark" and node["respondent"] is False
    assert isinstance(node["strength"], float)
    u, v, e = next(iter(g.edges(data=True)))
    assert e["low"] <= e["weight"] <= e["high"] and e["observations"] >= 1
    gx = nx.read_gexf(io.BytesIO(estimated.get("/api/exports/gexf", "analyst").content))
    assert gx.number_of_nodes() == 12 and gx.number_of_edges() == 16
    assert gx.nodes["1"]["label"] == "SME 1" and gx.nodes["1"]["actor_type"] == "sme"
    w = {(a, b): d for a, b, d in gx.edges(data=True)}
    some = next(iter(w.values()))
    assert some["low"] <= some["weight"] <= some["high"]


def test_pajek_ucinet_and_json_give_the_same_network(estimated):
    want = {(r["u"], r["v"]): r["value"] for r in estimated.store.estimates("composite")}
    labels = {1: "SME 1", 11: "ETRI Gumi"}
    p = nx.read_pajek(io.BytesIO(estimated.get("/api/exports/net", "analyst").content))
    assert p.number_of_nodes() == 12 and p.number_of_edges() == 16
    assert "Gumi Techno Park" in p.nodes and "SME 1" in p.nodes
    # UCINET DL edgelist1: labels in order, then "i j w" from 1
    dl = estimated.get("/api/exports/dl", "analyst").text.splitlines()
    assert dl[0] == "dl n=12 format=edgelist1" and dl[1] == "labels:" and dl[3] == "data:"
    names = next(csv.reader([dl[2]]))
    got = {}
    for line in dl[4:]:
        i, j, w = line.split()
        got[(names[int(i) - 1], names[int(j) - 1])] = float(w)
    assert len(got) == 16 and got[(labels[1], labels[11])] == pytest.approx(want[(1, 11)])
    data = json.loads(estimated.get("/api/exports/json", "analyst").content)
    g = nx.node_link_graph(data, edges="edges")
    assert g.number_of_edges() == 16 and g.edges[1, 11]["weight"] == pytest.approx(want[(1, 11)])


def test_exports_are_for_analysts_and_viewers_get_suppressed_aggregates(web):
    assert web.get("/api/exports/csv", "viewer").status_code == 403
    rows = read_csv(web.get("/api/exports/aggregates/visits?by=facility", "viewer").content)
    assert {r["key"]: (r["suppressed"], r["visits"]) for r in rows} == {"cafeteria": ("True", ""),
                                                                       "shared_lab": ("False", "7")}
    assert web.get("/api/exports/xlsx?table=tp_visit", "analyst").status_code == 422


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "graphml", "gexf", "net", "dl", "json"])
def test_the_cli_exports_every_format_with_a_progress_bar(estimated, tmp_path, fmt):
    out = tmp_path / f"out.{fmt}"
    estimated.store.close()
    result = CliRunner().invoke(cli.main, ["export", fmt, "--out", str(out), "--db", str(estimated.path)])
    assert result.exit_code == 0, result.output
    assert f"exported {fmt} to {out}" in result.output and out.stat().st_size > 100
    assert not (tmp_path / f"out.{fmt}.part").exists()
    if fmt == "graphml":
        assert nx.read_graphml(out).number_of_edges() == 16


def test_a_roster_name_that_looks_like_a_formula_stays_text_in_xlsx(web):
    from tiesense.store import roster

    web.store.import_roster(roster.parse_csv('code,name,actor_type\n1,"=HYPERLINK(""http://x"",""y"")",sme\n'))
    wb = openpyxl.load_workbook(io.BytesIO(web.get("/api/exports/xlsx", "analyst").content))
    ws = wb["respondents"]
    header = [c.value for c in ws[1]]
    cell = ws.cell(row=2, column=header.index("name") + 1)
    assert cell.value == '=HYPERLINK("http://x","y")' and cell.data_type == "s"
