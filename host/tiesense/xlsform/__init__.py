"""XLSForm to device form: validate with pyxform, compile to the JSON a kiosk or handheld runs.

Modules, one concept each: ``xpath`` (expression text to a syntax tree),
``program`` (syntax trees to stack programs), ``vm`` (the reference
evaluator of those programs; ``firmware/expr.py`` is the device's),
``subset`` (what is kept, ignored or refused), ``glyphs`` (the font
bitmaps of a form's non-ASCII characters), ``compiler`` (pyxform's JSON to
the device form).
"""

from .compiler import CompiledForm, FormRefused, Problem, compile_xlsform

__all__ = ["compile_xlsform", "CompiledForm", "FormRefused", "Problem"]
