# tiesense firmware: what each question type accepts, and how values show.
#
# The form engine (form.py) asks refusal(q, value, offered) before it stores
# an answer: a select_one takes one name among the choices offered now, a
# select_multiple a list of distinct such names (kept in the form's order),
# an integer or decimal an integer (a decimal's thousandths), a range a value
# on its scale and step, text any text, a date YYYY-MM-DD, an acknowledge
# "OK"; empty text or selection is stored as None. The texts below are shown
# when a form gives no message of its own (docs/forms.md, "On the device";
# host/tiesense/xlsform/engine.py's Messages are the same).
# Kept apart from form.py so each compiles in less heap from source.
import expr
import texts

REQUIRED = "Answer required"
NOT_ALLOWED = "Answer not allowed"
NOT_A_CHOICE = "Not one of the choices"
WHOLE_NUMBER = "Enter a whole number"
NUMBER = "Enter a number"
TEXT = "Enter text"
DATE = "Enter a date as YYYY-MM-DD"
ACKNOWLEDGE = "Press OK to go on"
NOTHING = "Nothing to answer here"

_WHOLE = ("integer", "range", "start", "end")


def text(obj, lang):
    """A label dict (or plain string) in `lang`, else English, else any; an int is one kept on flash
    (texts.py)."""
    if isinstance(obj, int):
        obj = texts.read(obj)
    if isinstance(obj, str):
        return obj
    if not obj:
        return ""
    return obj.get(lang) or obj.get("en") or obj[sorted(obj.keys())[0]]


def shown(v, t):
    """A value as a label shows it for ${name}."""
    if v is None:
        return ""
    if t in _WHOLE:
        return str(v)
    if t == "decimal":
        return expr.fmt(v)
    return expr.string(v)


def is_date(s):
    """YYYY-MM-DD with a month 1..12 and a day 1..31."""
    if len(s) != 10 or s[4] != "-" or s[7] != "-":
        return False
    for k in (0, 1, 2, 3, 5, 6, 8, 9):
        if s[k] < "0" or s[k] > "9":
            return False
    return 1 <= int(s[5:7]) <= 12 and 1 <= int(s[8:10]) <= 31


def refusal(q, v, offered):
    """(message or None, the value as stored) for v offered to q, before its constraint.

    offered: the choices its choice_filter lets through now (a select's).
    """
    t = q["type"]
    if t == "select_one":
        if isinstance(v, str):
            for c in offered:
                if c["name"] == v:
                    return None, v
        return NOT_A_CHOICE, v
    if t == "select_multiple":
        if not isinstance(v, list):
            return NOT_A_CHOICE, v
        picked = []
        for c in offered:
            if c["name"] in v:
                picked.append(c["name"])
        if len(picked) != len(v):
            return NOT_A_CHOICE, v  # a name not offered, repeated, or not text
        return None, picked or None
    is_int = isinstance(v, int) and v is not True and v is not False
    if t == "integer":
        return (None if is_int else WHOLE_NUMBER), v
    if t == "decimal":
        return (None if is_int else NUMBER), v
    if t == "range":
        lo = min(q["start"], q["end"])
        hi = max(q["start"], q["end"])
        if is_int and lo <= v <= hi and (v - q["start"]) % (q.get("step") or 1) == 0:
            return None, v
        return "Choose from %d to %d" % (q["start"], q["end"]), v
    if t == "text":
        if isinstance(v, str):
            return None, v or None
        return TEXT, v
    if t == "date":
        if isinstance(v, str) and (v == "" or is_date(v)):
            return None, v or None
        return DATE, v
    if t == "acknowledge":
        return (None if v == "OK" else ACKNOWLEDGE), v
    return NOTHING, v
