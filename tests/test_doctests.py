"""Every Example in the host's docstrings runs and prints what it says (docs are tested)."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import tiesense

MODULES = sorted(m.name for m in pkgutil.walk_packages(tiesense.__path__, "tiesense."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"


def test_the_examples_exist_where_the_style_promises_them():
    finder = doctest.DocTestFinder()
    with_examples = {name for name in MODULES
                     if any(t.examples for t in finder.find(importlib.import_module(name)))}
    for name in ("tiesense.ties.graph", "tiesense.ties.structure", "tiesense.ties.estimators",
                 "tiesense.ties.uncertainty", "tiesense.forms"):
        assert name in with_examples
