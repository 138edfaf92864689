"""The expression machine, differentially: the host's reference evaluator
(tiesense.xlsform.vm) and the device's (firmware/expr.py, under the real
micropython) run the same generated programs on the same generated answers
and must agree on every result, type included.

Expressions are generated as syntax trees of the supported grammar, written
out as XLSForm text, parsed back (the text must give the same tree) and
compiled, so the parser and the code generator are exercised too. The
default runs a few hundred examples of eight cases each; the long profile:

    TIESENSE_VM_EXAMPLES=10000 .venv/bin/python -m pytest tests/test_xlsform_vm.py
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiesense.forms import choices_of
from tiesense.xlsform import vm
from tiesense.xlsform.program import FUNCTIONS, compile_expression, compile_tree
from tiesense.xlsform.xpath import BINARY_PRECEDENCE, XPathError, parse, unparse

from .conftest import ROOT

EXAMPLES = int(os.environ.get("TIESENSE_VM_EXAMPLES", "400"))

# The answers a generated expression may refer to: name -> loading code.
TOP = {"i": ["$", 0, "i"], "d": ["$", 1], "s": ["$", 2], "m": ["$", 3], "t": ["$", 4], "c": ["$", 5]}
ROW = {"ri": ["@", 0, "i"], "rs": ["@", 1]}
REFS = {**TOP, **ROW}
COLUMNS = ("name", "kind")


def ref(name):
    return REFS[name]


def column(name):
    return ["c", name]


CHOICES = ["a", "b", "c", "yes", "no"]
texts = st.text(alphabet="ab 12.-", max_size=6) | st.sampled_from(CHOICES + ["", " 2.5", "-3", "1.2345", "a b"])
ints = st.integers(-10**6, 10**6) | st.sampled_from([0, 1, -1, 1000, 999, 2**40])

leaves = st.one_of(
    st.integers(0, 10**7).map(lambda n: ("num", n)),
    st.sampled_from([0, 500, 1000, 2000, 3000, 1001, 999]).map(lambda n: ("num", n)),
    texts.map(lambda s: ("str", s)),
    st.sampled_from(sorted(REFS)).map(lambda n: ("ref", n)),
    st.just(("dot",)),
    st.just(("call", "position", (("parent",),))),
    st.sampled_from(COLUMNS).map(lambda n: ("name", n)),
    st.sampled_from([("call", "true", ()), ("call", "false", ())]),
)


def _node(children):
    ops = st.tuples(st.just("op"), st.sampled_from(sorted(BINARY_PRECEDENCE)), children, children)
    neg = children.map(lambda c: ("neg", c))
    calls = [st.tuples(st.just("call"), st.just(f), st.tuples(*[children] * n))
             for f, (_, n) in FUNCTIONS.items() if n]
    return st.one_of(ops, neg, *calls)


# Arithmetic on numbers only, so signs, truncation and zero divisors are reached often.
numeric_leaves = st.one_of(
    st.integers(0, 10**5).map(lambda n: ("num", n)),
    st.sampled_from([0, 1000, 2000, 3000, 7000, 500]).map(lambda n: ("num", n)),
    st.sampled_from(["i", "d", "ri"]).map(lambda n: ("ref", n)),
    st.just(("call", "position", (("parent",),))),
)


def _arith(children):
    return st.one_of(st.tuples(st.just("op"), st.sampled_from(["+", "-", "*", "div", "mod", "<", "=", ">="]),
                               children, children),
                     children.map(lambda c: ("neg", c)))


trees = st.one_of(st.recursive(leaves, _node, max_leaves=12), st.recursive(numeric_leaves, _arith, max_leaves=8))

values = st.one_of(st.none(), st.booleans(), ints, texts, st.lists(st.sampled_from(CHOICES), max_size=3, unique=True))
contexts = st.fixed_dictionaries({
    "top": st.tuples(ints | st.none(), ints | st.none(), st.none() | st.sampled_from(CHOICES), st.none()
                     | st.lists(st.sampled_from(CHOICES), max_size=4, unique=True), st.none() | texts,
                     st.none() | texts).map(list),
    "row": st.tuples(ints | st.none(), st.none() | st.sampled_from(CHOICES)).map(list),
    "dot": values,
    "pos": st.integers(1, 6),
    "choice": st.fixed_dictionaries({"name": st.sampled_from(CHOICES), "kind": texts}),
})


def typed(v):
    """A result with its type, so True and 1 (or 1 and 1.0) never compare equal."""
    kind = ("n" if v is None else "b" if isinstance(v, bool) else "i" if isinstance(v, int)
            else "s" if isinstance(v, str) else "l" if isinstance(v, list) else "?" + type(v).__name__)
    return [kind, v]


def reference(case):
    ctx = vm.Context(top=case["top"], row=case["row"], dot=case["dot"], pos=case["pos"], choice=case["choice"])
    return typed(vm.run(case["p"], ctx))


_DEVICE = """
import sys, json
sys.path.insert(0, %r)
import expr

def typed(v):
    if v is None:
        k = "n"
    elif v is True or v is False:
        k = "b"
    elif isinstance(v, int):
        k = "i"
    elif isinstance(v, str):
        k = "s"
    elif isinstance(v, list):
        k = "l"
    else:
        k = "?"
    return [k, v]

out = open(%r, "w")
for line in open(%r):
    c = json.loads(line)
    try:
        r = typed(expr.run(c["p"], c["top"], c["row"], c["dot"], c["pos"], c["choice"]))
    except Exception as e:
        r = ["E", repr(e)]
    out.write(json.dumps(r) + "\\n")
out.close()
"""


def run_on_device(micropython, tmp_path, cases):
    src = tmp_path / "cases.jsonl"
    dst = tmp_path / "results.jsonl"
    src.write_text("".join(json.dumps(c) + "\n" for c in cases))
    script = tmp_path / "device.py"
    script.write_text(_DEVICE % (str(ROOT / "firmware"), str(dst), str(src)))
    r = subprocess.run([micropython, "-X", "heapsize=4M", str(script)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    return [json.loads(line) for line in dst.read_text().splitlines()]


def test_the_device_and_the_reference_agree_on_generated_programs(micropython, tmp_path):
    cases: list = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.lists(trees, min_size=4, max_size=4), st.lists(contexts, min_size=2, max_size=2))
    def collect(batch, ctxs):  # several programs and answer sets per example: more cases per second
        for tree in batch:
            text = unparse(tree)
            assert parse(text) == tree, text  # the text round-trips to the same tree
            prog = compile_expression(text, ref, name=column, dot=["."], in_repeat=True)
            assert prog == compile_tree(tree, ref, name=column, dot=["."], in_repeat=True)
            cases.extend(dict(ctx, p=prog, text=text) for ctx in ctxs)

    collect()
    assert len(cases) >= 8 * min(EXAMPLES, 100)
    expected = [reference(c) for c in cases]
    got = run_on_device(micropython, tmp_path, cases)
    assert len(got) == len(cases)
    wrong = [(c["text"], c["top"], c["row"], c["dot"], e, g) for c, e, g in zip(cases, expected, got) if e != g]
    assert wrong == [], wrong[:5]
    # the generator reaches every kind of result
    assert {e[0] for e in expected} >= {"n", "b", "i", "s"}


# Known values: the semantics docs/forms.md promises, on both machines.
KNOWN = [
    ("1 div 3", [], ["i", 333]),
    ("-7 mod 3", [], ["i", -1000]),
    ("7 div 0", [], ["n", None]),
    ("2.5 * 2.5", [], ["i", 6250]),
    ("${i} = ''", [None], ["b", True]),
    ("${i} != ''", [5], ["b", True]),
    ("${i} = 5", [5], ["b", True]),
    ("${i} > 2", [None], ["b", False]),
    ("${i} + 1", [None], ["n", None]),
    ("${s} = 'yes'", [None, None, "yes"], ["b", True]),
    ("selected(${m}, 'b')", [None, None, None, ["a", "b"]], ["b", True]),
    ("count-selected(${m}) <= 1", [None, None, None, ["a", "b"]], ["b", False]),
    ("selected-at(${m}, 1)", [None, None, None, ["a", "b"]], ["s", "b"]),
    ("selected-at(${m}, 2)", [None, None, None, ["a", "b"]], ["s", ""]),
    ("string-length(${t})", [None, None, None, None, "한국어"], ["i", 3000]),
    ("if(${i} > 2, 'big', 'small')", [3], ["s", "big"]),
    ("coalesce(${t}, 'none')", [], ["s", "none"]),
    ("${d} = 2.5", [None, 2500], ["b", True]),
    ("${c} + 1", [None, None, None, None, None, "2.5"], ["i", 3500]),
    ("not(${i}) and true()", [0], ["b", True]),
]


@pytest.mark.parametrize("text,top,result", KNOWN, ids=[k[0] for k in KNOWN])
def test_known_values_on_the_reference(text, top, result):
    top = (top + [None] * 6)[:6]
    assert reference({"p": compile_expression(text, ref), "top": top, "row": None, "dot": None, "pos": None,
                      "choice": None}) == result


def test_known_values_on_the_device(micropython, tmp_path):
    cases = [{"p": compile_expression(t, ref), "top": (top + [None] * 6)[:6], "row": None, "dot": None,
              "pos": None, "choice": None} for t, top, _ in KNOWN]
    assert run_on_device(micropython, tmp_path, cases) == [r for _, _, r in KNOWN]


@pytest.mark.parametrize("text,why", [
    ("/data/age > 3", "paths"),
    ("today()", "today"),
    ("concat(${t}, 'x')", "labels can show"),
    ("${a}[1]", "predicates"),
    ("1.23456", "3 decimal places"),
    ("position(..)", "inside one"),
    ("age > 3", "bare name"),
    ("selected(${m})", "takes 2 arguments"),
    ("1 +", "ends too early"),
])
def test_expressions_outside_the_subset_are_refused_saying_why(text, why):
    with pytest.raises(XPathError, match=why):
        compile_expression(text, lambda n: ["$", 0])


# ------------------------------------------------ compiled forms on a Pico-sized heap

def form_programs(form):
    """Every program of a compiled form with where it runs: (question, key, scope, choice index)."""
    for q in form["questions"]:
        for key in ("relevant", "constraint", "required_if", "calculation", "count"):
            if key in q:
                yield q["name"], key, None, None
        for k, _ in enumerate(choices_of(form, q) if "choice_filter" in q else []):
            yield q["name"], "choice_filter", None, k
        for c in q.get("questions", []):
            for key in ("relevant", "constraint", "required_if", "calculation"):
                if key in c:
                    yield c["name"], key, q["name"], None


# The walk the device script does, in CPython on the reference machine.
def walk_reference(form, top):
    fields = [q["name"] for q in form["questions"] if q["type"] != "note"]
    out = []
    for q in form["questions"]:
        dot = top[fields.index(q["name"])] if q["name"] in fields else None
        for key in ("relevant", "constraint", "required_if", "calculation", "count"):
            if key in q:
                out.append(typed(vm.run(q[key], vm.Context(top=top, dot=dot))))
        if "choice_filter" in q:
            for ch in choices_of(form, q):
                out.append(typed(vm.run(q["choice_filter"], vm.Context(top=top, choice=ch))))
        if q["type"] == "repeat":
            inner = [c["name"] for c in q["questions"] if c["type"] != "note"]
            for pos, row in enumerate(dot or [], 1):
                for c in q["questions"]:
                    cdot = row[inner.index(c["name"])] if c["name"] in inner else None
                    for key in ("relevant", "constraint", "required_if", "calculation"):
                        if key in c:
                            out.append(typed(vm.run(c[key], vm.Context(top=top, row=row, dot=cdot, pos=pos))))
    return out


_FORM_DEVICE = """
import sys, json, gc
sys.path.insert(0, %r)
import expr
gc.collect()
free0 = gc.mem_free()
form = json.loads(open(%r).read())
gc.collect()
held = free0 - gc.mem_free()

def typed(v):
    if v is None:
        return ["n", v]
    if v is True or v is False:
        return ["b", v]
    if isinstance(v, int):
        return ["i", v]
    if isinstance(v, str):
        return ["s", v]
    return ["l", v]

fields = [q["name"] for q in form["questions"] if q["type"] != "note"]
out = open(%r, "w")
for line in open(%r):
    top = json.loads(line)
    res = []
    for q in form["questions"]:
        dot = top[fields.index(q["name"])] if q["name"] in fields else None
        for key in ("relevant", "constraint", "required_if", "calculation", "count"):
            if key in q:
                res.append(typed(expr.run(q[key], top, None, dot)))
        if "choice_filter" in q:
            for ch in q.get("choices") or form["lists"][q["list"]]:
                res.append(typed(expr.run(q["choice_filter"], top, None, None, None, ch)))
        if q["type"] == "repeat":
            inner = [c["name"] for c in q["questions"] if c["type"] != "note"]
            pos = 0
            for row in dot or []:
                pos += 1
                for c in q["questions"]:
                    cdot = row[inner.index(c["name"])] if c["name"] in inner else None
                    for key in ("relevant", "constraint", "required_if", "calculation"):
                        if key in c:
                            res.append(typed(expr.run(c[key], top, row, cdot, pos)))
    out.write(json.dumps(res) + "\\n")
out.close()
print(json.dumps({"form_heap": held}))
"""


def answers_for(form):
    """A strategy for one record's answers (positional) under ``form``, empties included."""
    def one(q):
        t = q["type"]
        names = [c["name"] for c in choices_of(form, q)]
        if t == "select_one":
            return st.sampled_from(names) | st.none()
        if t == "select_multiple":
            return st.lists(st.sampled_from(names), unique=True, max_size=q.get("max_selected", len(names))) | st.none()
        if t in ("integer", "range", "start", "end"):
            return st.integers(-5, 60) | st.none()
        if t == "decimal":
            return st.integers(-5000, 20000) | st.none()
        if t == "acknowledge":
            return st.just("OK") | st.none()
        if t == "repeat":
            row = st.tuples(*[one(c) for c in q["questions"] if c["type"] != "note"]).map(list)
            return st.lists(row, max_size=q["max"])
        return texts | st.none()
    return st.tuples(*[one(q) for q in form["questions"] if q["type"] != "note"]).map(list)


def test_compiled_forms_run_alike_on_both_machines_within_a_pico_heap(micropython, tmp_path):
    from tiesense import forms
    from tiesense.xlsform import compile_xlsform

    from .test_xlsform import CHOICES, SETTINGS, SUPPORTED
    from .xlsforms import instrument_to_xlsform, write_xlsform

    compiled = [compile_xlsform(write_xlsform(tmp_path / "visit.xlsx", SUPPORTED, CHOICES, SETTINGS), "kiosk")]
    compiled += [compile_xlsform(instrument_to_xlsform(forms.builtin_form(n), tmp_path / f"{n}.xlsx"), "kiosk")
                 for n in ("tp_visit", "fi_partner")]
    assert sum(1 for _ in form_programs(compiled[0].form)) >= 12
    for c in compiled:
        form = c.form
        records: list = []

        @settings(max_examples=max(50, EXAMPLES // 4), deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(answers_for(form))
        def collect(top):
            records.append(top)

        collect()
        path = tmp_path / f"{form['id']}.json"
        path.write_bytes(c.to_bytes())
        src, dst = tmp_path / "answers.jsonl", tmp_path / "results.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in records))
        script = tmp_path / "form_device.py"
        script.write_text(_FORM_DEVICE % (str(ROOT / "firmware"), str(path), str(dst), str(src)))
        # a Pico W's heap (tests/test_firmware.py uses the same for the firmware suites)
        r = subprocess.run([micropython, "-X", "heapsize=190K", str(script)], capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        got = [json.loads(line) for line in dst.read_text().splitlines()]
        expected = [walk_reference(form, top) for top in records]
        assert got == expected
        heap = json.loads(r.stdout.strip().splitlines()[-1])["form_heap"]
        print(f"{form['id']}: {c.size} bytes compiled, {heap} bytes of heap once loaded, {len(records)} records")
