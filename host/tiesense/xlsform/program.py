"""Syntax trees to stack programs: what the device's expression machine runs.

A program is a flat JSON list read left to right (docs/forms.md, "Opcodes"):
an integer pushes itself (a number in thousandths); a string is an opcode,
some followed by one operand (``"$", 3`` pushes answer 3 of the record).
Function calls push their arguments left to right, then the function's
opcode. Nothing jumps: every opcode is total and has no side effect, so
``if()`` evaluates both branches and ``and``/``or`` both sides.
"""
from __future__ import annotations

import re
from typing import Callable

from .xpath import XPathError, parse

__all__ = ["FUNCTIONS", "UNSUPPORTED_FUNCTIONS", "compile_tree", "compile_expression"]

# XLSForm function -> (opcode, number of arguments)
FUNCTIONS: dict[str, tuple[str, int]] = {
    "selected": ("sel", 2),
    "count-selected": ("cnt", 1),
    "selected-at": ("at", 2),
    "string-length": ("len", 1),
    "if": ("if", 3),
    "coalesce": ("coal", 2),
    "not": ("not", 1),
    "true": ("T", 0),
    "false": ("F", 0),
}

# What to use instead of functions people reach for (anything else: the supported list).
UNSUPPORTED_FUNCTIONS: dict[str, str] = {
    "today": "add a `today` metadata question and refer to it",
    "now": "add a `start` or `end` metadata question and refer to it",
    "concat": "labels can show answers with ${name}; a device computes no text",
    "count": "repeat passes are counted by their repeat_count: refer to the question that sets it",
    "sum": "not available on the device: compute totals on the host",
    "int": "use div and mod (numbers are thousandths)",
    "round": "use div and mod (numbers are thousandths)",
    "number": "comparisons and arithmetic convert to numbers by themselves",
    "string": "comparisons convert to text by themselves",
    "regex": "not available on the device: use string-length() or a select question",
    "indexed-repeat": "refer to a question of the same repeat pass with ${name}",
    "pulldata": "not available on the device: put the values in a choice list",
    "random": "not available on the device",
    "once": "not needed: a calculate is kept as answered",
    "date": "dates compare as text (YYYY-MM-DD) on the handheld",
    "decimal-date-time": "not available on the device",
    "format-date": "not available on the device",
    "uuid": "every record already carries its own id",
    "position": "only position(..), the pass number inside a repeat, is supported",
}


def _supported() -> str:
    return ", ".join(f"{f}()" for f in FUNCTIONS) + ", position(..), jr:choice-name() (in a calculation)"


_QUOTED_REF = re.compile(r"\s*\$\{([^}]+)\}\s*")


def compile_tree(tree, ref: Callable[[str], list], name: Callable[[str], list] | None = None,
                 dot: list | None = None, in_repeat: bool = False,
                 select: Callable[[str], str] | None = None) -> list:
    """The program of one syntax tree.

    ``ref(name)`` gives the loading code of ``${name}`` (raising XPathError if
    it may not be referred to here), ``name(column)`` that of a bare choice
    column (choice filters only), ``dot`` that of ``.``, ``select(name)`` the
    operand of ``jr:choice-name(value, '${name}')`` (raising XPathError unless
    ``name`` is a select; calculations only: None refuses the function).
    """
    out: list = []

    def emit(t):
        kind = t[0]
        if kind == "num":
            out.append(t[1])
        elif kind == "str":
            out.extend(["'", t[1]])
        elif kind == "ref":
            out.extend(ref(t[1]))
        elif kind == "dot":
            if dot is None:
                raise XPathError("'.' (this question's value) has no meaning here")
            out.extend(dot)
        elif kind == "parent":
            raise XPathError("'..' is only supported as position(..)")
        elif kind == "name":
            if name is None:
                raise XPathError(f"bare name '{t[1]}': refer to questions as ${{{t[1]}}}"
                                 " (bare names are choice columns, in a choice_filter only)")
            out.extend(name(t[1]))
        elif kind == "neg":
            emit(t[1])
            out.append("neg")
        elif kind == "op":
            emit(t[2])
            emit(t[3])
            out.append(t[1])
        elif kind == "call":
            fname, args = t[1], t[2]
            if fname == "position" and args == (("parent",),):
                if not in_repeat:
                    raise XPathError("position(..) is the pass number of a repeat: use it inside one")
                out.append("pos")
                return
            if fname == "jr:choice-name":
                if select is None:
                    raise XPathError("jr:choice-name() gives a choice's label in the interview's language: use it"
                                     " in a calculate's calculation, and show that calculate with ${name} in a label")
                m = _QUOTED_REF.fullmatch(args[1][1]) if len(args) == 2 and args[1][0] == "str" else None
                if m is None:
                    raise XPathError("jr:choice-name() takes a value and the select it comes from, quoted:"
                                     " jr:choice-name(${partner}, '${partners}')")
                emit(args[0])
                out.extend(["cname", select(m.group(1))])
                return
            if fname not in FUNCTIONS:
                hint = UNSUPPORTED_FUNCTIONS.get(fname, "supported: " + _supported())
                raise XPathError(f"function {fname}() is not supported on the device: {hint}")
            op, arity = FUNCTIONS[fname]
            if len(args) != arity:
                raise XPathError(f"{fname}() takes {arity} argument{'s' if arity != 1 else ''}, got {len(args)}")
            for a in args:
                emit(a)
            out.append(op)
        else:  # pragma: no cover - parse() makes no other node
            raise XPathError(f"unknown node {kind}")

    emit(tree)
    return out


def compile_expression(text: str, ref: Callable[[str], list], **kw) -> list:
    """Parse and compile one expression.

    Examples
    --------
    >>> compile_expression("${n} + 1 > 2.5", lambda name: ["$", 0, "i"])
    ['$', 0, 'i', 1000, '+', 2500, '>']
    """
    return compile_tree(parse(text), ref, **kw)
