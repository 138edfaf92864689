# tiesense firmware: a form's texts kept on flash, read when shown.
#
# A parsed form holds every label in every language: in the interview that is
# about 40 KB of the 64-bit unix port's heap (four tenths of the parsed form),
# and a roster adds two labels per organisation. split(form, path) writes the
# texts of a form read from `path` (forms/<id>.json) to
# forms/<id>-<version>.texts, one JSON value a line: the title, the groups',
# questions' and choices' labels, hints, constraint and required messages.
# In their place the form keeps the byte offset of the line (an int), which
# answer.text() reads back through read() for the form in use (use()). The
# rest of the form goes to forms/<id>-<version>.core, headed by the size and
# CRC-32 of the form file it came from, so later boots load() the smaller core
# instead of parsing the whole form again; another form file (a newer form
# adopted, or a form staged again) is split again. The glyph table's bitmaps
# go too, decoded, to forms/<id>-<version>.glyphs (display.py reads a glyph's
# rows when it draws it; the table keeps its characters and names the file). Both files are
# written to a temporary name and renamed, the core last: a core on flash
# always has its texts. use() removes the files of the form's other versions.
# A flash too full to take them leaves the texts in the heap, as before.
import binascii
import json
import os

FIELDS = ("label", "hint", "constraint_message", "required_message")
_file = None  # the texts of the form in use, open for reading
_path = None


def fingerprint(path):
    """[size, crc32] of the form file at `path`: what a core records of the file it was split from."""
    crc = 0
    size = 0
    buf = bytearray(512)
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            crc = binascii.crc32(memoryview(buf)[:n], crc)
            size += n
    return [size, crc]


def _parse(path):
    with open(path) as f:
        form = json.load(f)
    form.pop("v", None)
    return form


def load(path, form_id):
    """The form `form_id` in `path` with its texts on flash: the core split from this very file, else the
    form parsed and split now."""
    mark = fingerprint(path)
    for name in _files(form_id):
        if name.endswith(".core"):
            try:
                with open("forms/" + name) as f:
                    if json.loads(f.readline()) == mark:
                        form = json.load(f)
                        os.stat(form["texts"])  # its texts and glyphs still there (else split again)
                        if (form.get("glyphs") or {}).get("file"):
                            os.stat(form["glyphs"]["file"])
                        return form
            except (OSError, ValueError, KeyError):
                pass
            form = None  # a core not taken is garbage before the whole form is parsed
    return split(_parse(path), path, mark)


def split(form, path, mark=None):
    """`form` (parsed from `path`) with its texts moved to flash; the form itself, whole, if the flash
    cannot take them."""
    stem = "forms/%s-%s" % (form["id"], form["version"])
    try:
        if mark is None:
            mark = fingerprint(path)
        with open(stem + ".texts.tmp", "w") as out:
            def put(obj):
                if obj is None or isinstance(obj, int):
                    return obj
                off = out.tell()
                json.dump(obj, out)
                out.write("\n")
                return off

            def each(holder):
                for k in FIELDS:
                    if k in holder:
                        holder[k] = put(holder[k])
                for c in holder.get("choices") or ():
                    if "label" in c:
                        c["label"] = put(c["label"])
                for q in holder.get("questions") or ():
                    each(q)

            if "title" in form:
                form["title"] = put(form["title"])
            for g in form.get("groups") or ():
                each(g)
            for q in form["questions"]:
                each(q)
            for choices in (form.get("lists") or {}).values():
                for c in choices:
                    if "label" in c:
                        c["label"] = put(c["label"])
        form["texts"] = stem + ".texts"
        os.rename(stem + ".texts.tmp", stem + ".texts")
        glyphs = form.get("glyphs")
        if glyphs and glyphs.get("bits"):  # the bitmaps, decoded, for display.py to read per glyph
            from display import decode_into

            with open(stem + ".glyphs.tmp", "wb") as out:
                decode_into(glyphs["bits"], out.write)
            os.rename(stem + ".glyphs.tmp", stem + ".glyphs")
            del glyphs["bits"]
            glyphs["file"] = stem + ".glyphs"
        with open(stem + ".core.tmp", "w") as out:
            out.write(json.dumps(mark) + "\n")
            json.dump(form, out)
        os.rename(stem + ".core.tmp", stem + ".core")
        return form
    except OSError as e:  # a full flash: the texts stay in the heap
        print("FORM texts kept in the heap: the flash refused them (%s)" % e)
        for p in (stem + ".texts.tmp", stem + ".glyphs.tmp", stem + ".core.tmp", stem + ".core"):
            _remove(p)
        form = None  # the half-split form is garbage before the whole one is parsed again
        return _parse(path)


def use(form):
    """Read texts from `form`'s file from now on (none if it holds its texts), and remove the files of
    the form's other versions."""
    global _file, _path
    path = form.get("texts")
    if path == _path:
        return
    if _file is not None:
        _file.close()
        _file = None
    if path is not None:
        _file = open(path)
    _path = path
    keep = path[:-6] if path else None
    for name in _files(form["id"]):
        if keep is None or not ("forms/" + name).startswith(keep + "."):
            _remove("forms/" + name)


def read(off):
    """The text at byte offset `off` of the form in use (a label dict, or a string)."""
    _file.seek(off)
    return json.loads(_file.readline())


def _files(form_id):
    """Names in forms/ of texts and cores split from versions of `form_id`."""
    try:
        names = os.listdir("forms")
    except OSError:
        return []
    pre = form_id + "-"
    return [n for n in names if n.startswith(pre) and n[n.rindex("."):] in (".texts", ".glyphs", ".core", ".tmp")]


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass
