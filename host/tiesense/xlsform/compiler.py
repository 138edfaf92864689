"""XLSForm to device form: pyxform validates the workbook, this compiles its JSON.

pyxform (the tool ODK and KoboToolbox use) reads the workbook, resolves the
aliases and legacy spellings it accepts, checks names and references, and
builds the XForm: a form pyxform refuses is refused here with its message.
Its intermediate JSON (``ConvertResult._pyxform``) is then compiled into the
device form: questions with labels per language, choices, and every
expression turned into a stack program (:mod:`tiesense.xlsform.program`).
Whatever is outside the subset (:mod:`tiesense.xlsform.subset`) is refused,
all of it at once, each problem naming its sheet, row, column and feature and
what to use instead. docs/forms.md describes the output.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .. import wire
from . import roster as rosters
from . import subset
from .glyphs import MissingFont, MissingGlyphs, glyph_table
from .program import compile_tree
from .xpath import XPathError, parse

__all__ = ["Problem", "FormRefused", "CompiledForm", "compile_xlsform", "FORMAT"]

FORMAT = 2  # the compiled form's layout (docs/forms.md); a device refuses formats it does not know
# 2: a choice list two or more selects use is in the form's "lists" once, named by each select's "list"


@dataclass(frozen=True)
class Problem:
    """One thing outside the subset: where it is and what to use instead."""

    sheet: str
    row: int | None
    column: str
    feature: str
    instead: str

    def __str__(self) -> str:
        where = f"{self.sheet} row {self.row}" if self.row else self.sheet
        return f"{where}, column '{self.column}': {self.feature}: {self.instead}"


class FormRefused(ValueError):
    """The form cannot run on the target device; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem{'s' if len(problems) != 1 else ''}:\n"
                         + "\n".join(f"  {p}" for p in problems))


@dataclass
class CompiledForm:
    """A compiled device form, the warnings met on the way, and its size on the device."""

    form: dict
    warnings: list[str] = field(default_factory=list)
    #: The choice list with organisation rows (``kind = org``) a roster fills, or None: a form without one.
    roster_list: str | None = None
    #: The roster whose organisations the form carries in that list, or None: its own rows (or no list).
    roster: rosters.Roster | None = None

    def to_bytes(self) -> bytes:
        """The form's canonical JSON (``wire.encode``): what a device stores and runs."""
        return wire.encode(self.form)

    @property
    def size(self) -> int:
        """Bytes of the form on the device (canonical JSON, before signing)."""
        return len(self.to_bytes())


# ------------------------------------------------------------------ helpers

_LANG_CODE = re.compile(r"\(([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)*)\)\s*$")
_YES = ("yes", "true", "true()", "1")
_NO = ("no", "false", "false()", "0")


def _is_file_itemset(itemset: str | None) -> bool:
    return bool(itemset) and itemset.rsplit(".", 1)[-1].lower() in ("csv", "xml", "geojson")


class _Compiler:
    def __init__(self, data: dict, sheets: Any, target: str, pyxform_warnings: list[str]):
        self.data = data
        self.target = target
        self.problems: list[Problem] = []
        self.warnings = [f"pyxform: {w}" for w in pyxform_warnings]
        self.rows = self._row_numbers(sheets)
        self.default_lang = self._lang_code(data.get("default_language") or "default")
        self.languages: list[str] = []
        self.groups: list[dict] = []
        self.symbols: dict[str, dict] = {}
        self.used_columns: dict[str, set] = {}  # select question -> choice columns its filter reads
        self.choice_columns: set = set()  # every extra column of the choices the selects use
        self.choice_rows = _choice_rows(sheets)
        self.compiled: dict[str, dict] = {}  # name -> compiled question, as they are compiled
        self.choice_lists: dict[str, str] = {}  # select question -> its choice list (rows of refused glyphs)
        self.roster_list: str | None = None  # the list the roster's organisations fill, once substituted
        self.roster_codes: set[str] = set()  # their choice names

    # -------------------------------------------------------------- rows

    @staticmethod
    def _row_numbers(sheets) -> dict[str, int]:
        rows: dict[str, int] = {}
        for i, row in enumerate(getattr(sheets, "survey", None) or []):
            name = row.get("name")
            if name and name not in rows:
                rows[name] = i + 2  # pyxform keeps empty rows, so this is the sheet's row number
        return rows

    def refuse(self, name: str | None, column: str, feature: str, instead: str, sheet: str = "survey",
               row: int | None = None) -> None:
        if row is None and name is not None:
            row = self.rows.get(name)
        self.problems.append(Problem(sheet, row, column, feature, instead))

    def warn(self, name: str | None, column: str, text: str) -> None:
        row = self.rows.get(name) if name else None
        where = f"survey row {row}" if row else "survey"
        self.warnings.append(f"{where}, column '{column}': {text}")

    # --------------------------------------------------------- languages

    def _lang_code(self, name: str) -> str:
        if name == "default":
            return "und"
        m = _LANG_CODE.search(name)
        return m.group(1).lower() if m else name.strip().lower()

    def text(self, value: Any) -> dict[str, str] | None:
        """A label, hint or message as {language code: text}."""
        if value is None or value == "" or value == {}:
            return None
        if isinstance(value, str):
            value = {"default": value}
        out = {}
        for lang, text in value.items():
            code = self.default_lang if lang == "default" else self._lang_code(lang)
            if code not in self.languages:
                self.languages.append(code)
            out[code] = str(text)
        return out

    # ------------------------------------------------------------ symbols

    def collect(self, children: list, repeat: str | None, counters: dict) -> None:
        """First pass: every name's kind, type, scope and answer position."""
        for el in children:
            kind, name = el.get("type"), el.get("name")
            if kind == "group":
                self.symbols.setdefault(name, {"kind": "group"})
                self.collect(el.get("children", []), repeat, counters)
            elif kind == "repeat":
                if repeat is None:
                    self.symbols[name] = {"kind": "repeat", "scope": None, "index": counters[None]}
                    counters[None] += 1
                    counters[name] = 0
                    self.collect(el.get("children", []), name, counters)
                else:
                    self.symbols[name] = {"kind": "repeat", "scope": repeat, "index": None}
            else:
                t = subset.TYPES.get(kind)
                sym = {"kind": "question", "type": t, "scope": repeat, "index": None}
                if t is not None and t != "note":
                    sym["index"] = counters[repeat]
                    counters[repeat] += 1
                self.symbols[name] = sym

    def loader(self, scope: str | None):
        def ref(name: str) -> list:
            sym = self.symbols.get(name)
            if sym is None:
                raise XPathError(f"${{{name}}} names no question of this form")
            if sym["kind"] != "question":
                raise XPathError(f"${{{name}}} is a {sym['kind']}, not a question: refer to a question in it")
            if sym["type"] == "note":
                raise XPathError(f"${{{name}}} is a note and has no value")
            if sym["index"] is None:
                raise XPathError(f"${{{name}}} cannot run on the device (its question is refused)")
            if sym["scope"] is None:
                code = ["$", sym["index"]]
            elif sym["scope"] == scope:
                code = ["@", sym["index"]]
            else:
                raise XPathError(f"${{{name}}} is inside repeat '{sym['scope']}': refer to it only from inside"
                                 " that repeat (one value per pass)")
            return code + (["i"] if sym["type"] in ("integer", "range", "start", "end") else [])
        return ref

    def select_named(self, name: str) -> str:
        """The operand of jr:choice-name(value, '${name}'): the select question's name."""
        sym = self.symbols.get(name)
        if sym is None or sym.get("kind") != "question":
            raise XPathError(f"jr:choice-name(): ${{{name}}} names no question of this form")
        if sym["type"] not in ("select_one", "select_multiple"):
            raise XPathError(f"jr:choice-name(): ${{{name}}} is a {sym['type']}, not a select: name the select"
                             " whose choice labels to show")
        return name

    def expression(self, name: str, column: str, text: str, scope: str | None, dot: list | None = None,
                   choice_columns: set | None = None):
        """(syntax tree, program) of one expression, or None after recording the problem."""
        def column_loader(col: str) -> list:
            if col not in choice_columns:
                raise XPathError(f"'{col}' is not a column of the choice list (refer to questions as ${{{col}}})")
            self.used_columns.setdefault(name, set()).add(col)
            return ["c", col]
        try:
            tree = parse(text)
            prog = compile_tree(tree, self.loader(scope), dot=dot, in_repeat=scope is not None,
                                name=column_loader if choice_columns is not None else None,
                                select=self.select_named if column == "calculation" else None)
            return tree, prog
        except XPathError as e:
            self.refuse(name, column, f"expression {text!r}", str(e))
            return None

    # --------------------------------------------------------- compile

    def survey(self) -> dict:
        data = self.data
        self.settings()
        counters: dict[str | None, int] = {None: 0}
        children = self.strip_meta(data.get("children", []))
        children = self.inline_repeat_counts(children)
        self.collect(children, None, counters)
        questions = self.children(children, None, [], None)
        form = {
            "format": FORMAT,
            "id": data.get("id_string") or data.get("name"),
            "version": str(data.get("version") or ""),
            "target": self.target,
            "title": {},
            "languages": [],
            "questions": questions,
        }
        lists = self.share_lists(questions)
        if lists:  # only a form with shared lists needs format 2: format 1 devices still run the others
            form["lists"] = lists
        else:
            form["format"] = 1
        if self.groups:
            form["groups"] = self.groups
        form["languages"] = ([self.default_lang] if self.default_lang in self.languages else []) + [
            lang for lang in self.languages if lang != self.default_lang]
        used = set().union(*self.used_columns.values()) if self.used_columns else set()
        for col in sorted(self.choice_columns - used):
            self.warnings.append(f"choices, column '{col}': ignored: no choice_filter uses it")
        # XLSForm has one form_title: it is the title in the default language (or the first one labels use)
        title = data.get("title") or form["id"]
        form["title"] = {(form["languages"] or [self.default_lang])[0]: str(title)}
        return form

    def share_lists(self, questions: list) -> dict:
        """Move each choice list two or more selects use to one shared copy; returns ``{list name: choices}``.

        Those selects name it by ``"list"`` instead of carrying ``"choices"``; a shared item keeps the
        union of the extra columns its selects' choice_filters read. A list one select uses stays inline.
        """
        users: dict[str, list[dict]] = {}

        def walk(qs):
            for q in qs:
                itemset = self.choice_lists.get(q["name"])
                if "choices" in q and itemset:
                    users.setdefault(itemset, []).append(q)
                walk(q.get("questions") or ())
        walk(questions)
        lists = {}
        for itemset, qs in users.items():
            if len(qs) < 2:
                continue
            shared = [dict(item) for item in qs[0]["choices"]]
            for q in qs[1:]:
                for item, other in zip(shared, q["choices"]):
                    for k, v in other.items():
                        item.setdefault(k, v)
            for q in qs:
                del q["choices"]
                q["list"] = itemset
            lists[itemset] = shared
        return lists

    def settings(self) -> None:
        d = self.data
        if not d.get("version"):
            self.refuse(None, "version", "no form version",
                        "set a version in the settings sheet (e.g. 2026113001): a published id + version never"
                        " changes", sheet="settings")
        known = {"type", "name", "title", "id_string", "sms_keyword", "default_language", "children", "version",
                 "choices", "id", rosters.SETTING}
        for key in d:
            if key in known:
                continue
            if key in subset.IGNORED_SETTINGS:
                why = subset.IGNORED_SETTINGS[key] or "it changes nothing on a device"
                self.warnings.append(f"settings, column '{key}': ignored: {why}")
            else:
                self.refuse(None, key, f"setting {key}", subset.REFUSED_SETTINGS.get(
                    key, "not supported on the devices (docs/forms.md lists the settings they take)"),
                    sheet="settings")

    def strip_meta(self, children: list) -> list:
        """Drop pyxform's generated meta group (instanceID: records carry their own id), refusing what it holds."""
        out = []
        for el in children:
            if el.get("name") == "meta" and el.get("type") == "group" and (el.get("control") or {}).get("bodyless"):
                for c in el.get("children", []):
                    if c.get("name") in ("instanceID", "instanceName"):
                        continue  # the record id; instance_name was warned about with the settings
                    if c.get("type") in subset.REFUSED_TYPES:
                        self.refuse(c.get("name"), "type", f"type {c.get('type')}", subset.REFUSED_TYPES[c["type"]])
                    else:
                        out.append(c)
                continue
            out.append(el)
        return out

    def inline_repeat_counts(self, children: list) -> list:
        """pyxform writes a repeat_count expression into a generated calculate `<repeat>_count`; put it back."""
        out = []
        for i, el in enumerate(children):
            nxt = children[i + 1] if i + 1 < len(children) else None
            if (el.get("type") == "calculate" and nxt is not None and nxt.get("type") == "repeat"
                    and el.get("name") == f"{nxt.get('name')}_count" and el.get("name") not in self.rows
                    and (nxt.get("control") or {}).get("jr:count") == "${" + el["name"] + "}"):
                nxt["control"]["jr:count"] = el["bind"]["calculate"]
                continue
            if el.get("children"):
                el = dict(el, children=self.inline_repeat_counts(el["children"]))
            out.append(el)
        return out

    def children(self, children: list, scope: str | None, relevants: list, group: int | None) -> list:
        out = []
        for el in children:
            kind = el.get("type")
            if kind == "group":
                out.extend(self.group(el, scope, relevants, group))
            elif kind == "repeat":
                q = self.repeat(el, scope, relevants, group)
                if q is not None:
                    out.append(q)
            elif self.generated_other(el):
                continue
            else:
                q = self.question(el, scope, relevants, group)
                if q is not None:
                    out.append(q)
        return out

    def generated_other(self, el: dict) -> bool:
        """pyxform's question for `or_other` (a text `<select>_other` with a path in its relevant): refuse it at the select's row."""
        name = el.get("name") or ""
        base = name[:-len("_other")]
        if not name.endswith("_other") or name in self.rows or base not in self.rows or el.get("type") != "text":
            return False
        self.refuse(base, "type", "or_other",
                    "add an 'other' choice to the list and, on the handheld, a text question whose relevant is"
                    f" selected(${{{base}}}, 'other')")
        return True

    def check_keys(self, el: dict, allowed: set) -> None:
        """Refuse (or warn about) every column the subset does not take for this element."""
        name = el.get("name")
        for key, value in el.items():
            if key in allowed or key in ("type", "name", "label", "hint", "children"):
                continue
            if key in ("bind", "control", "media") and isinstance(value, dict):
                for sub in value:
                    col = _COLUMN.get((key, sub), f"{key}::{sub}" if key == "media" else sub)
                    if (key, sub) in allowed:
                        continue
                    self.refuse(name, col, f"column {col}", subset.REFUSED_COLUMNS.get(
                        col, "not supported on the device; leave it empty"))
                continue
            col = _COLUMN.get((key,), key)
            if col in subset.IGNORED_COLUMNS:
                self.warn(name, col, "ignored: " + subset.IGNORED_COLUMNS[col])
            elif key == "parameters":
                if value:
                    why = (subset.RANDOMIZE if "randomize" in value or "seed" in value
                           else subset.REFUSED_COLUMNS["parameters"])
                    self.refuse(name, "parameters", f"parameters {' '.join(f'{k}={v}' for k, v in value.items())}",
                                why)
            else:
                self.refuse(name, col, f"column {col}", subset.REFUSED_COLUMNS.get(
                    col, "not part of the subset tiesense devices run (docs/forms.md); leave it empty"))

    def appearance(self, el: dict, dtype: str) -> str | None:
        app = ((el.get("control") or {}).get("appearance") or "").strip()
        if not app:
            return None
        kept = []
        for word in app.split():
            if dtype in subset.APPEARANCES.get(word, ()):
                kept.append(word)
            elif word.startswith("search(") or word.startswith("quick search("):
                self.refuse(el.get("name"), "appearance", f"appearance {word}",
                            "choices come from the choices sheet (or the roster), not a CSV search")
            else:
                self.warn(el.get("name"), "appearance", f"'{word}' means nothing for a {dtype} on the device: ignored")
        return " ".join(kept) or None

    def relevant(self, el: dict, scope: str | None, relevants: list) -> list | None:
        own = (el.get("bind") or {}).get("relevant")
        progs = list(relevants)
        if own:
            r = self.expression(el.get("name"), "relevant", own, scope)
            if r:
                progs.append(r[1])
        if not progs:
            return None
        prog = list(progs[0])
        for p in progs[1:]:
            prog += p + ["and"]
        return prog

    def group(self, el: dict, scope, relevants, parent) -> list:
        name = el.get("name")
        self.check_keys(el, {("bind", "relevant"), ("control", "appearance")})
        g = {"name": name}
        label = self.text(el.get("label"))
        if label:
            g["label"] = label
        app = self.appearance(el, "group")
        if app:
            g["appearance"] = app
        if parent is not None:
            g["parent"] = parent
        self.groups.append(g)
        idx = len(self.groups) - 1
        own = (el.get("bind") or {}).get("relevant")
        inner = list(relevants)
        if own:
            r = self.expression(name, "relevant", own, scope)
            if r:
                inner.append(r[1])
        return self.children(el.get("children", []), scope, inner, idx)

    def repeat(self, el: dict, scope, relevants, group) -> dict | None:
        name = el.get("name")
        self.check_keys(el, {("bind", "relevant"), ("control", "appearance"), ("control", "jr:count")})
        if scope is not None:
            self.refuse(name, "type", "a repeat inside repeat '" + scope + "'",
                        "one level of repeats: ask about pairs with a select_multiple inside the repeat")
            return None
        count = (el.get("control") or {}).get("jr:count")
        q: dict[str, Any] = {"name": name, "type": "repeat"}
        label = self.text(el.get("label"))
        if label:
            q["label"] = label
        if group is not None:
            q["group"] = group
        rel = self.relevant(el, scope, relevants)
        if rel:
            q["relevant"] = rel
        app = self.appearance(el, "repeat")
        if app:
            q["appearance"] = app
        if not count:
            self.refuse(name, "repeat_count", "a repeat without repeat_count (unbounded)",
                        "set repeat_count, e.g. count-selected(${partners}) for one pass per partner named")
        else:
            r = self.expression(name, "repeat_count", count, None)
            if r:
                bound = self.repeat_bound(r[0])
                if bound is None:
                    self.refuse(name, "repeat_count", f"repeat_count {count!r} has no bound the compiler can see",
                                "use a number, count-selected(${a select_multiple}) or ${an integer} whose"
                                " constraint says . <= N")
                else:
                    q["count"] = r[1]
                    q["max"] = bound
        q["questions"] = self.children(el.get("children", []), name, [], None)
        return q

    def repeat_bound(self, tree) -> int | None:
        if tree[0] == "num" and tree[1] % 1000 == 0:
            return tree[1] // 1000
        if tree[0] == "call" and tree[1] == "count-selected" and tree[2] and tree[2][0][0] == "ref":
            q = self.compiled.get(tree[2][0][1])
            if q and q["type"] == "select_multiple":
                return q.get("max_selected") or len(q.get("choices", []))
        if tree[0] == "ref":
            q = self.compiled.get(tree[1])
            if q and q["type"] == "integer" and "max" in q:
                return max(0, q["max"])
        return None

    def question(self, el: dict, scope, relevants, group) -> dict | None:
        name, kind = el.get("name"), el.get("type")
        if kind in subset.REFUSED_TYPES:
            self.refuse(name, "type", f"type {kind}", subset.REFUSED_TYPES[kind])
            return None
        dtype = subset.TYPES.get(kind)
        if dtype is None:
            self.refuse(name, "type", f"type {kind}", "not part of the subset tiesense devices run (docs/forms.md)")
            return None
        if dtype in subset.HANDHELD_ONLY and self.target == "kiosk":
            self.refuse(name, "type", f"type {kind} on a kiosk", subset.HANDHELD_ONLY[dtype])
        allowed = {("bind", "relevant"), ("bind", "constraint"), ("bind", "jr:constraintMsg"), ("bind", "required"),
                   ("bind", "jr:requiredMsg"), ("control", "appearance")}
        if dtype in ("select_one", "select_multiple"):
            allowed |= {"itemset", "list_name", "choices", "choice_filter"}
        if dtype == "calculate":
            allowed |= {("bind", "calculate"), ("bind", "readonly")}
        source = el
        if dtype == "range":
            allowed |= {("control", "start"), ("control", "end"), ("control", "step")}
            params = el.get("parameters") or {}
            extra = {k: v for k, v in params.items() if k not in ("start", "end", "step")}
            el = dict(el, parameters=extra)
        self.check_keys(el, allowed)
        el = source
        q: dict[str, Any] = {"name": name, "type": dtype}
        for key, col in (("label", "label"), ("hint", "hint")):
            t = self.text(el.get(key))
            if t:
                q[key] = t
                self.check_label_refs(name, col, t, scope)
        bind = el.get("bind") or {}
        req = bind.get("required")
        q["required"] = False
        if req is not None and str(req).strip().lower() not in _NO:
            if str(req).strip().lower() in _YES:
                q["required"] = True
            else:
                r = self.expression(name, "required", req, scope, dot=self.dot(dtype))
                if r:
                    q["required_if"] = r[1]
        if group is not None:
            q["group"] = group
        rel = self.relevant(el, scope, relevants)
        if rel:
            q["relevant"] = rel
        constraint = bind.get("constraint")
        tree = None
        if constraint:
            r = self.expression(name, "constraint", constraint, scope, dot=self.dot(dtype))
            if r:
                tree, q["constraint"] = r
        for key, col, field_ in (("jr:constraintMsg", "constraint_message", "constraint_message"),
                                 ("jr:requiredMsg", "required_message", "required_message")):
            t = self.text(bind.get(key))
            if t:
                q[field_] = t
        app = self.appearance(el, dtype)
        if app:
            q["appearance"] = app
        if dtype in ("select_one", "select_multiple"):
            self.select(el, q, scope)
        elif dtype == "range":
            self.range_(el, q)
        elif dtype == "decimal":
            q["decimals"] = subset.DECIMALS
        elif dtype == "calculate":
            r = self.expression(name, "calculation", bind.get("calculate", ""), scope, dot=self.dot(dtype))
            if r:
                q["calculation"] = r[1]
        if tree is not None:
            self.bounds(tree, q)
        self.compiled[name] = q
        return q

    def glyphs(self, form: dict) -> None:
        """Ship the bitmaps of the labels' non-ASCII characters (:mod:`tiesense.xlsform.glyphs`) with the form."""
        try:
            table = glyph_table(form)
        except MissingFont as e:
            self.refuse(None, "-", "labels outside ASCII need a font for the device screens", str(e), sheet="workbook")
        except MissingGlyphs as e:
            named = set()  # roster organisations already refused (a name is in every language's label)
            for m in e.missing:
                chars = ", ".join(f"'{ch}' (U+{ord(ch):04X})" for ch in m.chars)
                feature = f"{m.field} ({m.lang}): no glyph for {chars} in {e.font}"
                instead = "write the text without them, or set TIESENSE_FONT to a .hex font that has them"
                from_roster = (m.choice in self.roster_codes
                               and self.choice_lists.get(m.question) == self.roster_list)
                if from_roster:
                    if m.choice not in named:
                        named.add(m.choice)
                        self.refuse(None, "name", f"organisation {m.choice}: no glyph for {chars} in {e.font}",
                                    "write its name without them in the roster file and import it again (tiesense "
                                    "roster import), or set TIESENSE_FONT to a .hex font that has them",
                                    sheet="roster")
                elif m.question is None:
                    self.refuse(None, "form_title", feature, instead, sheet="settings")
                elif m.choice is not None:
                    self.refuse(None, f"label ({m.lang})", f"choice '{m.choice}' {feature}", instead, sheet="choices",
                                row=self.choice_rows.get((self.choice_lists.get(m.question), m.choice)))
                else:
                    self.refuse(m.question, f"{m.field} ({m.lang})", feature, instead)
        else:
            if table:
                form["glyphs"] = table

    def dot(self, dtype: str) -> list:
        return [".", "i"] if dtype in ("integer", "range") else ["."]

    def check_label_refs(self, name: str, column: str, text: dict, scope) -> None:
        ref = self.loader(scope)
        for t in text.values():
            for m in re.finditer(r"\$\{([^}]*)\}", t):
                try:
                    ref(m.group(1))
                except XPathError as e:
                    self.refuse(name, column, f"label reference ${{{m.group(1)}}}", str(e))

    def select(self, el: dict, q: dict, scope) -> None:
        name = el.get("name")
        itemset = el.get("itemset") or el.get("list_name")
        if _is_file_itemset(itemset):
            self.refuse(name, "type", f"choices from the file {itemset}",
                        "put the choices in the choices sheet (the roster reaches devices as a choice list)")
            return
        choices = el.get("choices") or (self.data.get("choices") or {}).get(itemset) or []
        self.choice_lists[name] = itemset
        columns = set()
        for c in choices:
            columns |= {k for k in c if k not in ("name", "label", "media")}
        columns.add("name")
        q["choices"] = []
        for c in choices:
            item = {"name": c.get("name")}
            label = self.text(c.get("label"))
            if label:
                item["label"] = label
            if c.get("media"):
                self.refuse(None, "media::" + next(iter(c["media"])), f"media on choice '{c.get('name')}' of list"
                            f" '{itemset}'", "the device shows text only: put the words in the label",
                            sheet="choices", row=self.choice_rows.get((itemset, c.get("name"))))
            q["choices"].append(item)
        flt = el.get("choice_filter")
        if flt:
            r = self.expression(name, "choice_filter", flt, scope, choice_columns=columns)
            if r:
                q["choice_filter"] = r[1]
                used = self.used_columns.get(name, set()) - {"name"}
                for item, c in zip(q["choices"], choices):
                    for col in sorted(used):
                        if c.get(col) is not None:
                            item[col] = str(c[col])
        self.choice_columns |= columns - {"name"}

    def range_(self, el: dict, q: dict) -> None:
        params = el.get("parameters") or {}  # pyxform's control holds its defaults, parameters what the sheet says
        for key, default in (("start", 1), ("end", 10), ("step", 1)):
            raw = params.get(key, default)
            try:
                value = int(str(raw))
            except ValueError:
                self.refuse(el.get("name"), "parameters", f"range {key}={raw}",
                            "use whole numbers for start, end and step (e.g. a scale of tenths)")
                value = default
            q[key] = value
        if q["step"] == 0:
            self.refuse(el.get("name"), "parameters", "range step=0", "use a step that is not 0")

    def bounds(self, tree, q: dict) -> None:
        """min / max / max_selected from the constraint's top-level conjuncts on `.`."""
        conj = []

        def walk(t):
            if t[0] == "op" and t[1] == "and":
                walk(t[2])
                walk(t[3])
            else:
                conj.append(t)
        walk(tree)
        for t in conj:
            if t[0] != "op" or t[1] not in ("<", "<=", ">", ">=") or t[3][0] != "num":
                continue
            n = t[3][1]
            left = t[2]
            if q["type"] == "select_multiple" and left == ("call", "count-selected", (("dot",),)):
                if n % 1000 == 0 and t[1] in ("<", "<="):
                    q["max_selected"] = n // 1000 - (1 if t[1] == "<" else 0)
            elif q["type"] in ("integer", "decimal") and left == ("dot",):
                scale = 1 if q["type"] == "decimal" else 1000
                if n % scale:
                    continue
                v = n // scale
                if t[1] in (">", ">="):
                    q["min"] = v + (1 if t[1] == ">" else 0) if q["type"] == "integer" else v
                else:
                    q["max"] = v - (1 if t[1] == "<" else 0) if q["type"] == "integer" else v


_COLUMN = {
    ("bind", "relevant"): "relevant", ("bind", "constraint"): "constraint",
    ("bind", "jr:constraintMsg"): "constraint_message", ("bind", "required"): "required",
    ("bind", "jr:requiredMsg"): "required_message", ("bind", "calculate"): "calculation",
    ("bind", "readonly"): "read_only", ("control", "appearance"): "appearance",
    ("control", "jr:count"): "repeat_count", ("default",): "default", ("choice_filter",): "choice_filter",
    ("trigger",): "trigger", ("guidance_hint",): "guidance_hint", ("bind", "entities:saveto"): "save_to",
}


def _choice_rows(sheets) -> dict[tuple, int]:
    rows = {}
    for i, row in enumerate(getattr(sheets, "choices", None) or []):
        key = (row.get("list_name") or row.get("list name"), row.get("name") or row.get("value"))
        rows.setdefault(key, i + 2)
    return rows


def compile_xlsform(source: str | Path | bytes, target: str = "kiosk",
                    roster: rosters.Roster | None = None) -> CompiledForm:
    """Validate an XLSForm with pyxform and compile it for a kiosk or a handheld.

    Parameters
    ----------
    source : path or bytes
        The workbook (.xlsx, .xls, .csv or .md, as pyxform reads them).
    target : {"kiosk", "handheld"}
        The device: ``text`` and ``date`` questions need the handheld's keyboard.
    roster : Roster, optional
        The organisations that replace the placeholder rows (``kind = org``) of the form's roster list
        (:mod:`tiesense.xlsform.roster`) before pyxform reads the workbook; the form then records
        ``roster_version`` (the host's roster version, or None for a roster read from a file). A form
        without a roster list is compiled as it is.

    Returns
    -------
    CompiledForm
        The device form (with the glyphs of the characters outside ASCII its texts use), the
        warnings (pyxform's and the compiler's) and its size.

    Raises
    ------
    FormRefused
        With every problem found: pyxform's error, or each row, column and
        feature outside the subset with what to use instead, or each text
        with a character the font lacks (or no font installed to draw them), or
        each kiosk select of a roster over :data:`~tiesense.xlsform.roster.KIOSK_MAX` organisations.

    Examples
    --------
    >>> from tiesense.xlsform import compile_xlsform
    >>> md = '''
    ... | survey |
    ... |        | type    | name | label            | constraint |
    ... |        | integer | age  | How old are you? | . >= 18    |
    ... | settings |
    ... |          | form_id | version |
    ... |          | demo    | 1       |
    ... '''
    >>> c = compile_xlsform(md.encode())
    >>> q = c.form["questions"][0]
    >>> q["type"], q["constraint"], q["min"]
    ('integer', ['.', 'i', 18000, '>='], 18)
    """
    from pyxform.errors import PyXFormError
    from pyxform.xls2json_backends import get_xlsform
    from pyxform.xls2xform import convert

    if target not in subset.TARGETS:
        raise ValueError(f"target must be one of {', '.join(subset.TARGETS)}, not {target!r}")
    if isinstance(source, str) and "\n" not in source:
        source = Path(source)
    if isinstance(source, Path):  # read once: pyxform reads the sheets twice (rows, then the conversion)
        try:
            source = source.read_bytes() if source.suffix.lower() not in (".csv", ".md") else str(source)
        except OSError as e:
            raise FormRefused([Problem("workbook", None, "-", "cannot read the file", str(e))]) from None
    pyxform_warnings: list[str] = []
    try:
        sheets = get_xlsform(source)
        list_name = rosters.list_name(sheets.settings)
        has_list = rosters.has_roster_list(sheets.choices, list_name)
        if not has_list and list_name != rosters.LIST:
            raise FormRefused([Problem("settings", None, rosters.SETTING, f"roster_list '{list_name}' names no "
                                       "choice list with organisation rows (kind = org)",
                                       "give that list's organisation rows kind = org, or name the list that has "
                                       "them")])
        substituted = roster is not None and has_list
        if substituted:  # pyxform reads the sheets with the organisations in place of the placeholders
            workbook = {f.name: getattr(sheets, f.name) for f in fields(sheets)}
            header = list((sheets.choices_header or [{}])[0])
            workbook["choices"] = rosters.substitute(sheets.choices, roster, list_name, header)
            result = convert(workbook, warnings=pyxform_warnings)
        else:
            result = convert(source, warnings=pyxform_warnings)
    except FormRefused:
        raise
    except PyXFormError as e:
        raise FormRefused([Problem("workbook", None, "-", "pyxform refused the form", str(e))]) from None
    except Exception as e:  # pyxform's readers raise plain errors for files they cannot read
        raise FormRefused([Problem("workbook", None, "-", "pyxform could not read the form", str(e))]) from None
    c = _Compiler(result._pyxform, sheets, target, pyxform_warnings)
    form = c.survey()
    if substituted:
        c.roster_list = list_name
        c.roster_codes = {str(int(org["code"])) for org in roster.organisations}
        form["roster_version"] = roster.version
        if target == "kiosk" and len(roster) > rosters.KIOSK_MAX:
            for question, itemset in c.choice_lists.items():
                if itemset == list_name:
                    c.refuse(question, "type", *rosters.kiosk_problem(question, list_name, len(roster)))
    c.glyphs(form)
    if c.problems:
        order = {"workbook": 0, "settings": 1, "survey": 2, "choices": 3}
        raise FormRefused(sorted(c.problems, key=lambda p: (order.get(p.sheet, 9), p.row or 0)))
    return CompiledForm(form, c.warnings, list_name if has_list else None, roster if substituted else None)
