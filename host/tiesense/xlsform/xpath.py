"""The XPath subset of XLSForm expressions: text to a syntax tree.

Only what a form's ``relevant``, ``constraint``, ``required``,
``calculation``, ``choice_filter`` and ``repeat_count`` may use on a device
(docs/forms.md): ``${name}`` references, ``.``, ``position(..)``, string
and number literals, the operators ``or and = != < <= > >= + - * div mod``
and unary minus, and function calls. Paths, predicates and node-set
operators are refused here with what to use instead.

Trees are tuples: ``("num", thousandths)``, ``("str", text)``,
``("ref", name)``, ``("dot",)``, ``("parent",)``, ``("name", column)`` (a
bare name: a choice column in a choice_filter), ``("call", function,
args)``, ``("op", operator, left, right)``, ``("neg", operand)``.
"""
from __future__ import annotations

import re

__all__ = ["XPathError", "parse", "unparse", "BINARY_PRECEDENCE"]


class XPathError(ValueError):
    """An expression outside the subset, saying what to use instead."""


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<ref>\$\{(?P<refname>[^}]*)\})
  | (?P<num>\d+(?:\.\d*)?|\.\d+)
  | (?P<str>'[^']*'|"[^"]*")
  | (?P<op>!=|<=|>=|=|<|>|\+|-|\*|\(|\)|,)
  | (?P<parent>\.\.)
  | (?P<dot>\.)
  | (?P<name>[A-Za-z_][A-Za-z0-9_.\-]*(?::[A-Za-z_][A-Za-z0-9_.\-]*)?)
  | (?P<bad>.)
""", re.VERBOSE)

# lower binds looser (XPath 1.0 section 3.4-3.5)
BINARY_PRECEDENCE = {"or": 1, "and": 2, "=": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4,
                     "+": 5, "-": 5, "*": 6, "div": 6, "mod": 6}

_BAD = {
    "/": "paths (/data/...) are not supported: refer to a question as ${name}",
    "[": "predicates ([...]) are not supported: use if() or a choice_filter",
    "]": "predicates ([...]) are not supported: use if() or a choice_filter",
    "|": "node-set unions (|) are not supported",
    "@": "attributes (@...) are not supported",
}


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "ws":
            continue
        if kind == "refname":  # pragma: no cover - the outer group wins
            kind = "ref"
        value = m.group(kind) if kind != "ref" else m.group("refname")
        if kind == "bad":
            raise XPathError(_BAD.get(value, f"unexpected character {value!r}"))
        if kind == "ref" and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", value):
            raise XPathError(f"${{{value}}} is not a question name")
        out.append((kind, value))
    out.append(("end", ""))
    return out


def _decimal(text: str) -> int:
    whole, _, frac = text.partition(".")
    if len(frac.rstrip("0")) > 3:
        raise XPathError(f"the number {text} has more than 3 decimal places; numbers on the device are thousandths")
    return int(whole or "0") * 1000 + int(frac[:3].ljust(3, "0"))


class _Parser:
    def __init__(self, text: str):
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.toks[self.i]

    def take(self) -> tuple[str, str]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        kind, v = self.take()
        if v != value or kind not in ("op",):
            raise XPathError(f"expected '{value}', found {v!r}" if v else f"expected '{value}' at the end")

    def binary_op(self) -> str | None:
        kind, v = self.peek()
        if kind == "op" and v in BINARY_PRECEDENCE:
            return v
        if kind == "name" and v in ("and", "or", "div", "mod"):
            return v
        return None

    def expression(self, min_prec: int = 1):
        left = self.unary()
        while True:
            op = self.binary_op()
            if op is None or BINARY_PRECEDENCE[op] < min_prec:
                return left
            self.take()
            right = self.expression(BINARY_PRECEDENCE[op] + 1)
            left = ("op", op, left, right)

    def unary(self):
        kind, v = self.peek()
        if kind == "op" and v == "-":
            self.take()
            return ("neg", self.unary())
        return self.primary()

    def primary(self):
        kind, v = self.take()
        if kind == "num":
            return ("num", _decimal(v))
        if kind == "str":
            return ("str", v[1:-1])
        if kind == "ref":
            return ("ref", v)
        if kind == "dot":
            return ("dot",)
        if kind == "parent":
            return ("parent",)
        if kind == "op" and v == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if kind == "name":
            if self.peek() == ("op", "("):
                self.take()
                args = []
                if self.peek() != ("op", ")"):
                    args.append(self.expression())
                    while self.peek() == ("op", ","):
                        self.take()
                        args.append(self.expression())
                self.expect(")")
                return ("call", v, tuple(args))
            if v in ("and", "or", "div", "mod"):
                raise XPathError(f"'{v}' needs a value on each side")
            return ("name", v)
        if kind == "end":
            raise XPathError("the expression ends too early")
        raise XPathError(f"unexpected {v!r}")


def parse(text: str):
    """Parse one expression of the subset.

    Examples
    --------
    >>> parse("${age} >= 18 and selected(${tie}, 'traded')")
    ('op', 'and', ('op', '>=', ('ref', 'age'), ('num', 18000)), ('call', 'selected', (('ref', 'tie'), ('str', 'traded'))))
    >>> parse("1 - -2.5")
    ('op', '-', ('num', 1000), ('neg', ('num', 2500)))
    """
    p = _Parser(str(text))
    tree = p.expression()
    kind, v = p.peek()
    if kind != "end":
        raise XPathError(f"unexpected {v!r} after a complete expression")
    return tree


def unparse(tree) -> str:
    """Expression text for a tree (fully parenthesised), the inverse of :func:`parse`.

    >>> unparse(parse("1 + 2 * ${x}"))
    '(1 + (2 * ${x}))'
    """
    kind = tree[0]
    if kind == "num":
        n = tree[1]
        whole, frac = divmod(n, 1000)
        return str(whole) + ("." + f"{frac:03d}".rstrip("0") if frac else "")
    if kind == "str":
        return "'" + tree[1] + "'" if "'" not in tree[1] else '"' + tree[1] + '"'
    if kind == "ref":
        return "${" + tree[1] + "}"
    if kind == "dot":
        return "."
    if kind == "parent":
        return ".."
    if kind == "name":
        return tree[1]
    if kind == "call":
        return tree[1] + "(" + ", ".join(unparse(a) for a in tree[2]) + ")"
    if kind == "neg":
        return "-" + unparse(tree[1])
    return "(" + unparse(tree[2]) + " " + tree[1] + " " + unparse(tree[3]) + ")"
