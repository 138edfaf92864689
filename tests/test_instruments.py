"""The instruments shipped as XLSForm: they compile inside the device subset, speak both languages,
label every scale point, and carry the name generator and the dyad census as the domain brief asks.

Expressions are run by the host's real expression machine (tiesense.xlsform.vm), the one the
device's firmware/expr.py is tested against."""
from __future__ import annotations

import itertools

import pytest
from click.testing import CliRunner

from tiesense import cli, wire
from tiesense.forms import choices_of
from tiesense.xlsform import compile_xlsform
from tiesense.xlsform import vm
from tiesense.xlsform.instruments import compile_instrument, names, source, target

from .xlsforms import by_name, walk

LANGUAGES = {"en", "ko"}


@pytest.fixture(scope="module")
def visit():
    return compile_instrument("tp_visit")


@pytest.fixture(scope="module")
def interview():
    return compile_instrument("fi_interview")


def test_both_instruments_ship_and_compile_for_their_device_with_no_problem_or_warning(visit, interview):
    assert names() == ["fi_interview", "tp_visit"]
    assert (visit.form["id"], visit.form["target"]) == ("tp_visit", "kiosk")
    assert (interview.form["id"], interview.form["target"]) == ("fi_interview", "handheld")
    assert visit.warnings == [] and interview.warnings == []
    # the kiosk's four keys: nothing that needs a keyboard
    assert not {q["type"] for q in walk(visit.form["questions"])} & {"text", "date"}
    # the interview is one record per interview: the partners are passes of one bounded repeat
    loops = [q for q in interview.form["questions"] if q["type"] == "repeat"]
    assert [(q["name"], q["max"]) for q in loops] == [("partner_loop", 10)]


@pytest.mark.parametrize("name", ["tp_visit", "fi_interview"])
def test_every_label_hint_message_and_choice_is_in_english_and_korean(name):
    form = compile_instrument(name).form
    assert form["languages"] == ["en", "ko"]
    texts = 0
    for q in walk(form["questions"]):
        if q["type"] != "calculate":
            assert set(q.get("label", {})) == LANGUAGES, q["name"]
        for key in ("label", "hint", "constraint_message", "required_message"):
            if key in q:
                assert set(q[key]) == LANGUAGES and all(t.strip() for t in q[key].values()), (q["name"], key)
                texts += 1
        for c in choices_of(form, q):
            assert set(c.get("label", {})) == LANGUAGES, (q["name"], c["name"])
            texts += 1
    assert texts > 50


def test_every_scale_point_is_labelled_and_closeness_and_trust_are_two_items(visit, interview):
    scales = {"satisfaction": by_name(visit.form)["satisfaction"]}
    scales.update({n: by_name(interview.form)[n] for n in ("frequency", "closeness", "trust", "importance")})
    for name, q in scales.items():
        assert q["type"] == "select_one", name  # a labelled choice per point, not a bare range
        points = [int(c["name"]) for c in q["choices"]]
        assert points == list(range(1, len(points) + 1)) and len(points) >= 5, name
        for c in q["choices"]:
            assert c["label"]["en"].startswith(c["name"] + " ") and len(c["label"]["en"]) > 3, (name, c)
            assert c["label"]["ko"].startswith(c["name"] + " ") and len(c["label"]["ko"]) > 3, (name, c)
    assert scales["closeness"]["label"] != scales["trust"]["label"]


def test_wave_and_reference_period_are_constants_the_records_carry(visit, interview):
    for form, wave in ((visit.form, "1"), (interview.form, "1")):
        q = by_name(form)["wave"]
        assert q["type"] == "calculate" and vm.string(vm.run(q["calculation"])) == wave
    period = by_name(interview.form)["period"]
    assert vm.string(vm.run(period["calculation"])) == "last_12_months"
    assert "12" in by_name(interview.form)["partners"]["label"]["en"]


def _shown(form, q, top, row=None, pos=None):
    """Choice names a choice_filter lets through."""
    if "choice_filter" not in q:
        return [c["name"] for c in choices_of(form, q)]
    return [c["name"] for c in choices_of(form, q)
            if vm.truth(vm.run(q["choice_filter"], vm.Context(top=top, row=row, pos=pos, choice=c)))]


def _ok(q, value, top, row=None, pos=None):
    return vm.truth(vm.run(q["constraint"], vm.Context(top=top, row=row, pos=pos, dot=value)))


def test_visit_organisation_comes_from_the_roster_or_a_type_when_not_listed(visit):
    qs = by_name(visit.form)
    fields = wire.answer_fields(visit.form)
    assert _shown(visit.form, qs["visitor_org"], []) == ["101", "102", "103", "not_listed"]
    top = [None] * len(fields)
    top[fields.index("visitor_org")] = "not_listed"
    assert vm.truth(vm.run(qs["visitor_type"]["relevant"], vm.Context(top=top)))
    top[fields.index("visitor_org")] = "102"
    assert not vm.truth(vm.run(qs["visitor_type"]["relevant"], vm.Context(top=top)))
    met = qs["met"]
    assert met["max_selected"] == 5 and "nobody" in _shown(visit.form, met, top)
    assert _ok(met, ["101", "not_listed"], top) and _ok(met, ["nobody"], top)
    assert not _ok(met, ["nobody", "101"], top)
    assert [c["name"] for c in choices_of(visit.form, qs["facility"])][-1] == "other"
    assert len(choices_of(visit.form, qs["facility"])) == 11  # domain.md section 4's list, meeting places, and other


def test_name_generator_is_capped_and_nobody_is_an_exclusive_answer(interview):
    qs = by_name(interview.form)
    fields = wire.answer_fields(interview.form)
    p = qs["partners"]
    top = [None] * len(fields)
    assert p["max_selected"] == 10
    assert _shown(interview.form, p, top) == ["101", "102", "103", "new_1", "new_2", "new_3", "nobody"]
    assert _ok(p, ["101", "new_1"], top) and _ok(p, ["nobody"], top)
    assert not _ok(p, ["nobody", "102"], top)
    assert not _ok(p, [str(n) for n in range(101, 112)], top)  # eleven: over the cap
    loop = qs["partner_loop"]
    top[fields.index("consent")] = "yes"
    top[fields.index("partners")] = ["nobody"]
    assert not vm.truth(vm.run(loop["relevant"], vm.Context(top=top)))  # nobody named: no partner passes
    top[fields.index("partners")] = ["101", "new_2"]
    assert vm.truth(vm.run(loop["relevant"], vm.Context(top=top)))
    assert vm.run(loop["count"], vm.Context(top=top)) == 2000


def test_each_pass_names_its_partner_and_asks_a_new_partner_its_name(interview):
    qs = by_name(interview.form)
    fields = wire.answer_fields(interview.form)
    inner = wire.answer_fields(qs["partner_loop"])
    top = [None] * len(fields)
    top[fields.index("partners")] = ["102", "new_1"]
    partners = [vm.string(vm.run(qs["partner"]["calculation"], vm.Context(top=top, pos=k))) for k in (1, 2)]
    assert partners == ["102", "new_1"]
    row = [None] * len(inner)
    for partner, asks_name in (("102", False), ("new_1", True)):
        row[inner.index("partner")] = partner
        for q in ("partner_name", "partner_type"):
            assert vm.truth(vm.run(qs[q]["relevant"], vm.Context(top=top, row=row))) is asks_name


@pytest.mark.parametrize("named", [["101", "102"], ["103", "new_1", "101", "new_3"],
                                   [str(n) for n in range(101, 104)] + ["new_1", "new_2", "new_3"]])
def test_the_alter_pairs_question_asks_every_pair_of_named_partners_exactly_once(interview, named):
    qs = by_name(interview.form)
    fields = wire.answer_fields(interview.form)
    q = qs["alters_tied"]
    top = [None] * len(fields)
    top[fields.index("partners")] = named
    asked = []
    for pos, partner in enumerate(named, 1):
        relevant = vm.truth(vm.run(q["relevant"], vm.Context(top=top, pos=pos)))
        shown = _shown(interview.form, q, top, pos=pos) if relevant else []
        assert relevant is (pos < len(named))
        if relevant:
            assert shown[-1] == "nobody"  # "none of these" is an answer, not a skipped question
            assert _ok(q, ["nobody"], top, pos=pos) and not _ok(q, ["nobody", shown[0]], top, pos=pos)
        asked += [frozenset((partner, other)) for other in shown if other != "nobody"]
    assert sorted(map(sorted, asked)) == sorted(map(sorted, map(frozenset, itertools.combinations(named, 2))))


def test_forms_new_writes_a_workbook_that_compiles_to_the_shipped_device_form(tmp_path):
    runner = CliRunner()
    listed = runner.invoke(cli.main, ["forms", "instruments"])
    assert listed.exit_code == 0, listed.output
    assert [line.split(" ")[0] for line in listed.output.splitlines()] == ["fi_interview", "tp_visit"]
    assert "tp_visit (kiosk)" in listed.output and "fi_interview (handheld)" in listed.output
    for name in names():
        out = tmp_path / f"{name}.xlsx"
        r = runner.invoke(cli.main, ["forms", "new", name, "--out", str(out)])
        assert r.exit_code == 0, r.output
        assert out.read_bytes()[:2] == b"PK"  # a zip: the .xlsx Excel and LibreOffice open
        from_md, from_xlsx = compile_xlsform(source(name), target(name)), compile_xlsform(out, target(name))
        assert from_xlsx.form == from_md.form and from_xlsx.warnings == []
        assert f"tiesense forms compile {out} --for {target(name)}" in r.output


def test_forms_new_refuses_an_unknown_instrument_or_file_type_saying_what_to_give(tmp_path):
    r = CliRunner().invoke(cli.main, ["forms", "new", "fi_survey", "--out", str(tmp_path / "f.xlsx")])
    assert r.exit_code != 0 and "shipped: fi_interview, tp_visit" in r.output
    r = CliRunner().invoke(cli.main, ["forms", "new", "tp_visit", "--out", str(tmp_path / "f.xls")])
    assert r.exit_code != 0 and "ending in .xlsx" in r.output
    assert not (tmp_path / "f.xlsx").exists() and not (tmp_path / "f.xls").exists()


def test_the_guide_maps_every_item_and_quotes_the_sizes_it_compiles_to(visit, interview):
    """docs/instruments.md is tested: each question has its line, each analysable column is described."""
    from tiesense.store import rows

    from .conftest import ROOT

    guide = (ROOT / "docs" / "instruments.md").read_text(encoding="utf-8")
    for compiled in (visit, interview):
        for q in walk(compiled.form["questions"]):
            assert f"`{q['name']}`" in guide, q["name"]
        assert f"{compiled.size:,} bytes" in guide, (compiled.form["id"], compiled.size)
    for table, columns in rows.COLUMNS.items():
        assert f"`{table}`" in guide, table
        for c in columns:
            assert f"`{c}`" in guide, (table, c)
    for section in ("Nodes: organisations (the roster)", "Ties: what links them",
                    "Techno-park usage (the kiosk surveys and the sensors)", "What the host computes"):
        assert f'"{section}"' in guide
