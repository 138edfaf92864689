"""The expression machine's reference evaluator: the stack programs of compiled forms, run on the host.

``firmware/expr.py`` is the same machine in the MicroPython subset, run on the
devices; ``tests/test_xlsform_vm.py`` runs both under generated programs and
answers and requires identical results. This one is written for clarity (a
dispatch table, one function per opcode) rather than size.

Values on the stack:

============  ==========================================================
``None``      empty: unanswered, not relevant, or not a number (XPath NaN)
``bool``      ``True`` / ``False``
``int``       a number in thousandths (fixed point: 2.5 is ``2500``)
``str``       text, a select_one answer
``list``      a select_multiple answer (choice names)
============  ==========================================================

The semantics follow XPath 1.0 as ODK applies it, on fixed-point numbers
(docs/forms.md, "Numbers"): ``=`` compares as booleans if either side is one,
else as numbers if either side is one, else as strings; ``<`` and friends
compare numbers and are false when either side is not one; ``*`` and ``div``
truncate toward zero to a thousandth; division or ``mod`` by zero is empty.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

__all__ = ["UNIT", "Context", "run", "number", "string", "truth", "to_decimal_text", "OPCODES"]

UNIT = 1000  # numbers are thousandths


@dataclass(frozen=True)
class Context:
    """Where a program runs: the record's answers and, inside a repeat, the current pass.

    ``top`` holds the form's answers by answer position, ``row`` the current
    repeat pass's answers by position within the repeat, ``dot`` the value of
    the question the expression belongs to, ``pos`` the pass number (1-based)
    and ``choice`` the columns of the choice a choice_filter is testing.
    ``label(select, value)`` is the label of ``value`` among the choices of
    the select question named ``select``, in the interview's language
    (``jr:choice-name()``); without it a value stands for its own label.
    """

    top: Sequence[Any] = ()
    row: Sequence[Any] | None = None
    dot: Any = None
    pos: int | None = None
    choice: dict | None = None
    label: Callable[[str, Any], str] | None = None


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def parse_decimal(text: str) -> int | None:
    """Thousandths of a decimal string (XPath number() on text), or None.

    >>> parse_decimal(" -2.5 "), parse_decimal("3"), parse_decimal(".1239"), parse_decimal("1e3")
    (-2500, 3000, 123, None)
    """
    t = text.strip()
    sign = 1
    if t.startswith("-"):
        sign, t = -1, t[1:]
    whole, _, frac = t.partition(".")
    if not (whole or frac) or not all(c in "0123456789" for c in whole + frac):
        return None
    return sign * (int(whole or "0") * UNIT + int(frac[:3].ljust(3, "0")))


def _is_number(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def number(v: Any) -> int | None:
    """XPath number(): thousandths, or None for NaN."""
    if v is None:
        return None
    if isinstance(v, bool):
        return UNIT if v else 0
    if _is_number(v):
        return v
    return parse_decimal(string(v))


def to_decimal_text(n: int) -> str:
    """Thousandths as the shortest decimal text.

    >>> to_decimal_text(2500), to_decimal_text(-125), to_decimal_text(3000)
    ('2.5', '-0.125', '3')
    """
    whole, frac = divmod(abs(n), UNIT)
    text = str(whole) + (("." + f"{frac:03d}".rstrip("0")) if frac else "")
    return "-" + text if n < 0 else text


def string(v: Any) -> str:
    """XPath string()."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if _is_number(v):
        return to_decimal_text(v)
    if isinstance(v, list):
        return " ".join(v)
    return v


def truth(v: Any) -> bool:
    """XPath boolean()."""
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    if _is_number(v):
        return v != 0
    return len(v) > 0


def _selection(v: Any) -> list[str]:
    if isinstance(v, list):
        return v
    return [] if v is None else string(v).split()


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return truth(a) == truth(b)
    if _is_number(a) or _is_number(b):
        x, y = number(a), number(b)
        return x is not None and y is not None and x == y
    return string(a) == string(b)


def _compare(test: Callable[[int, int], bool]) -> Callable[[Any, Any], bool]:
    def op(a, b):
        x, y = number(a), number(b)
        return x is not None and y is not None and test(x, y)
    return op


def _arith(f: Callable[[int, int], int | None]) -> Callable[[Any, Any], Any]:
    def op(a, b):
        x, y = number(a), number(b)
        return None if x is None or y is None else f(x, y)
    return op


def _div(x: int, y: int) -> int | None:
    return None if y == 0 else _trunc_div(x * UNIT, y)


def _mod(x: int, y: int) -> int | None:
    return None if y == 0 else x - y * _trunc_div(x, y)


def _selected_at(sel: Any, k: Any) -> str:
    names, index = _selection(sel), number(k)
    if index is None:
        return ""
    index = _trunc_div(index, UNIT)
    return names[index] if 0 <= index < len(names) else ""


# opcode -> (number of values popped, function of them)
_OPS: dict[str, tuple[int, Callable[..., Any]]] = {
    "=": (2, _equal),
    "!=": (2, lambda a, b: not _equal(a, b)),
    "<": (2, _compare(lambda x, y: x < y)),
    "<=": (2, _compare(lambda x, y: x <= y)),
    ">": (2, _compare(lambda x, y: x > y)),
    ">=": (2, _compare(lambda x, y: x >= y)),
    "and": (2, lambda a, b: truth(a) and truth(b)),
    "or": (2, lambda a, b: truth(a) or truth(b)),
    "+": (2, _arith(lambda x, y: x + y)),
    "-": (2, _arith(lambda x, y: x - y)),
    "*": (2, _arith(lambda x, y: _trunc_div(x * y, UNIT))),
    "div": (2, _arith(_div)),
    "mod": (2, _arith(_mod)),
    "not": (1, lambda a: not truth(a)),
    "neg": (1, lambda a: None if number(a) is None else -number(a)),
    "i": (1, lambda a: a * UNIT if _is_number(a) else number(a)),
    "sel": (2, lambda sel, name: string(name).strip() in _selection(sel)),
    "cnt": (1, lambda sel: len(_selection(sel)) * UNIT),
    "at": (2, _selected_at),
    "len": (1, lambda a: len(string(a)) * UNIT),
    "if": (3, lambda c, a, b: a if truth(c) else b),
    "coal": (2, lambda a, b: a if string(a) != "" else b),
}

# opcodes that push from the context, with the number of operands that follow them
_LOADS = {"$": 1, "@": 1, "'": 1, "c": 1, ".": 0, "T": 0, "F": 0, "pos": 0}

OPCODES: dict[str, int] = {**{op: 0 for op in _OPS}, **_LOADS, "cname": 1}
"""Every opcode, with the number of operands that follow it in a program."""


def _load(op: str, arg: Any, ctx: Context) -> Any:
    if op == "$" or op == "@":
        src = ctx.top if op == "$" else ctx.row
        return src[arg] if src is not None and 0 <= arg < len(src) else None
    if op == "'":
        return arg
    if op == "c":
        return None if ctx.choice is None else ctx.choice.get(arg)
    if op == ".":
        return ctx.dot
    if op == "pos":
        return None if ctx.pos is None else ctx.pos * UNIT
    return op == "T"  # "T" or "F"


def run(program: Sequence[Any], ctx: Context = Context()) -> Any:
    """Run a compiled expression and return its value.

    Examples
    --------
    >>> run([3000, 2, "$", 0, "i", "*", ">"], Context(top=[1]))  # 3 > 2 * ${n}, n = 1
    True
    >>> run(["$", 0, "'", "b", "sel"], Context(top=[["a", "b"]]))  # selected(${m}, 'b')
    True
    >>> string(run([1000, 3000, "div"]))
    '0.333'
    """
    stack: list[Any] = []
    i = 0
    while i < len(program):
        op = program[i]
        i += 1
        if isinstance(op, int) and not isinstance(op, bool):
            stack.append(op)
        elif op in _LOADS:
            arg = None
            if _LOADS[op]:
                arg = program[i]
                i += 1
            stack.append(_load(op, arg, ctx))
        elif op == "cname":  # jr:choice-name(value, '${select}'): pops the value, the select's name follows
            value = stack.pop()
            stack.append(ctx.label(program[i], value) if ctx.label is not None else string(value))
            i += 1
        elif op in _OPS:
            arity, f = _OPS[op]
            args = stack[len(stack) - arity:]
            del stack[len(stack) - arity:]
            stack.append(f(*args))
        else:
            raise ValueError(f"unknown opcode {op!r} at {i - 1}")
    return stack[-1] if stack else None
