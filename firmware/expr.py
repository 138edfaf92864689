# tiesense firmware: the expression machine.
#
# Runs the stack programs the host's compiler (host/tiesense/xlsform/) makes
# of a form's relevant, constraint, required, calculation, choice_filter and
# repeat_count expressions, so the device never parses XPath. A program is a
# JSON list read left to right; docs/forms.md lists the opcodes. Values:
#   None        empty (unanswered, not relevant, or not a number)
#   True/False  booleans
#   int         a number in thousandths (fixed point: 2.5 is 2500)
#   str         text, a select_one answer
#   list        a select_multiple answer (choice names)
# Every opcode is total over values: no answer makes a program raise.
# host/tiesense/xlsform/vm.py is the reference; a differential test runs both.

from micropython import const

_UNIT = const(1000)


def tdiv(a, b):
    """Integer division truncating toward zero (b != 0)."""
    q = abs(a) // abs(b)
    if (a < 0) != (b < 0):
        return -q
    return q


def parse(s):
    """A decimal string as thousandths (extra places truncated), or None."""
    s = s.strip()
    neg = False
    if s[:1] == "-":
        neg = True
        s = s[1:]
    dot = s.find(".")
    if dot < 0:
        whole, frac = s, ""
    else:
        whole, frac = s[:dot], s[dot + 1:]
    if not whole and not frac:
        return None
    for ch in whole + frac:
        if ch < "0" or ch > "9":
            return None
    n = int(whole or "0") * _UNIT + int((frac + "000")[:3])
    return -n if neg else n


def number(v):
    """A value as a number (thousandths), or None when it is not one."""
    if v is None:
        return None
    if v is True:
        return _UNIT
    if v is False:
        return 0
    if isinstance(v, int):
        return v
    return parse(string(v))


def fmt(n):
    """Thousandths as the shortest decimal string: 2500 -> '2.5'."""
    q = abs(n) // _UNIT
    r = abs(n) % _UNIT
    s = str(q)
    if r:
        s = s + "." + ("%03d" % r).rstrip("0")
    if n < 0:
        s = "-" + s
    return s


def string(v):
    """A value as text (XPath string())."""
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return fmt(v)
    if isinstance(v, list):
        return " ".join(v)
    return v


def truth(v):
    """A value as a boolean (XPath boolean())."""
    if v is None:
        return False
    if v is True or v is False:
        return v
    if isinstance(v, int):
        return v != 0
    return len(v) > 0


def items(v):
    """The choice names of a selection."""
    if isinstance(v, list):
        return v
    if v is None:
        return []
    return string(v).split()


def _isnum(v):
    return isinstance(v, int) and v is not True and v is not False


def equal(a, b):
    if a is True or a is False or b is True or b is False:
        return truth(a) == truth(b)
    if _isnum(a) or _isnum(b):
        x = number(a)
        y = number(b)
        return x is not None and y is not None and x == y
    return string(a) == string(b)


def _binary(op, a, b):
    if op == "=":
        return equal(a, b)
    if op == "!=":
        return not equal(a, b)
    if op == "and":
        return truth(a) and truth(b)
    if op == "or":
        return truth(a) or truth(b)
    x = number(a)
    y = number(b)
    if op in ("<", "<=", ">", ">="):
        if x is None or y is None:
            return False
        if op == "<":
            return x < y
        if op == "<=":
            return x <= y
        if op == ">":
            return x > y
        return x >= y
    if x is None or y is None:
        return None
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return tdiv(x * y, _UNIT)
    if y == 0:
        return None
    if op == "div":
        return tdiv(x * _UNIT, y)
    return x - y * tdiv(x, y)  # mod: the sign of the dividend, as XPath


_BINARY = ("=", "!=", "<", "<=", ">", ">=", "and", "or", "+", "-", "*", "div", "mod")


def run(prog, top, row=None, dot=None, pos=None, choice=None, label=None):
    """Run `prog`; returns the value left on the stack.

    top: the record's answers (positional); row: the current repeat pass's
    answers; dot: the current question's value; pos: the pass number (1-based);
    choice: the choice being filtered (a dict of its columns); label(select,
    value): a value's choice label (jr:choice-name; without it, the value).
    """
    st = []
    i = 0
    n = len(prog)
    while i < n:
        t = prog[i]
        i += 1
        if isinstance(t, int):
            st.append(t)
        elif t in _BINARY:
            b = st.pop()
            st.append(_binary(t, st.pop(), b))
        elif t == "$" or t == "@":
            k = prog[i]
            i += 1
            src = top if t == "$" else row
            st.append(src[k] if src is not None and 0 <= k < len(src) else None)
        elif t == "'":
            st.append(prog[i])
            i += 1
        elif t == ".":
            st.append(dot)
        elif t == "i":
            v = st.pop()
            st.append(v * _UNIT if _isnum(v) else number(v))
        elif t == "c":
            v = choice.get(prog[i]) if choice is not None else None
            i += 1
            st.append(v)
        elif t == "not":
            st.append(not truth(st.pop()))
        elif t == "neg":
            v = number(st.pop())
            st.append(None if v is None else -v)
        elif t == "T":
            st.append(True)
        elif t == "F":
            st.append(False)
        elif t == "pos":
            st.append(None if pos is None else pos * _UNIT)
        elif t == "sel":
            v = string(st.pop()).strip()
            st.append(v in items(st.pop()))
        elif t == "cnt":
            st.append(len(items(st.pop())) * _UNIT)
        elif t == "at":
            k = number(st.pop())
            its = items(st.pop())
            k = None if k is None else tdiv(k, _UNIT)
            st.append(its[k] if k is not None and 0 <= k < len(its) else "")
        elif t == "len":
            st.append(len(string(st.pop())) * _UNIT)
        elif t == "if":
            b = st.pop()
            a = st.pop()
            st.append(a if truth(st.pop()) else b)
        elif t == "cname":
            v = st.pop()
            st.append(label(prog[i], v) if label is not None else string(v))
            i += 1
        elif t == "coal":
            b = st.pop()
            a = st.pop()
            st.append(a if string(a) != "" else b)
        else:
            return None  # an opcode this firmware lacks: the form check refuses such forms first
    return st[-1] if st else None
