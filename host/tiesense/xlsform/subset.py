"""What of XLSForm a tiesense device runs: question types, columns, appearances, settings.

Each table says what is kept, what is ignored with a warning (it changes only
how a question looks), and what is refused with what to use instead. The
compiler (:mod:`tiesense.xlsform.compiler`) consults these tables only;
docs/forms.md lists the same, and tests/test_xlsform.py checks they agree.
"""
from __future__ import annotations

__all__ = ["TARGETS", "TYPES", "HANDHELD_ONLY", "REFUSED_TYPES", "APPEARANCES", "IGNORED_COLUMNS",
           "REFUSED_COLUMNS", "SETTINGS", "IGNORED_SETTINGS", "REFUSED_SETTINGS", "NUMERIC", "DECIMALS", "RANDOMIZE"]

TARGETS = ("kiosk", "handheld")

# pyxform's type (after its aliases: "select one", "select all that apply") -> the device form's type
TYPES = {
    "select one": "select_one",
    "select all that apply": "select_multiple",
    "integer": "integer",
    "decimal": "decimal",
    "range": "range",
    "note": "note",
    "calculate": "calculate",
    "acknowledge": "acknowledge",
    "trigger": "acknowledge",  # the legacy spelling ODK Collect shows as acknowledge
    "start": "start",
    "end": "end",
    "today": "today",
    "deviceid": "deviceid",
    "text": "text",
    "date": "date",
}

# Keyboard entry: the handheld has one, the kiosk's four keys do not.
HANDHELD_ONLY = {
    "text": "the kiosk has four keys and no keyboard: use a select_one, or compile --for handheld",
    "date": "the kiosk has no date entry: use a `today` metadata question, or compile --for handheld",
}

# Device form types whose answers are numbers in the expression machine.
NUMERIC = ("integer", "range", "decimal", "start", "end")
# A decimal answer travels as an integer number of thousandths (the wire forbids floats).
DECIMALS = 3

_NO_SENSOR = "the devices have no camera, microphone or GPS"
REFUSED_TYPES = {
    "geopoint": _NO_SENSOR + ": record the place as a select_one of sites",
    "geotrace": _NO_SENSOR + ": record the place as a select_one of sites",
    "geoshape": _NO_SENSOR + ": record the place as a select_one of sites",
    "start-geopoint": _NO_SENSOR + ": record the place as a select_one of sites",
    "photo": _NO_SENSOR + ": leave media to a phone survey",
    "image": _NO_SENSOR + ": leave media to a phone survey",
    "audio": _NO_SENSOR + ": leave media to a phone survey",
    "background-audio": _NO_SENSOR + ": leave media to a phone survey",
    "video": _NO_SENSOR + ": leave media to a phone survey",
    "file": "the devices take no files: use a select question",
    "barcode": "the devices have no scanner: use an integer (a roster code) or a select_one",
    "time": "use a `start` or `end` metadata question, or a select_one of time bands",
    "dateTime": "use a `start` or `end` metadata question",
    "rank": "use a select_multiple with a cap (count-selected(.) <= n), or one select_one per rank",
    "username": "use `deviceid`: records already name their device",
    "email": "use `deviceid`: records already name their device",
    "phonenumber": "use `deviceid`: records already name their device",
    "simserial": "use `deviceid`: records already name their device",
    "subscriberid": "use `deviceid`: records already name their device",
    "audit": "the device keeps no audit log: records carry start, duration and clock quality",
    "hidden": "use a calculate, which the device computes and records",
    "xml-external": "put the values in a choice list",
    "csv-external": "put the values in a choice list",
    "loop": "use begin repeat with a repeat_count",
    "entity": "ODK entities are not supported: organisations reach devices as the roster's choice list",
}

# appearance -> the types it means something for on a device (kept); any other appearance is ignored with a warning
APPEARANCES = {
    "quick": ("select_one",),  # advance as soon as a choice is picked
    "minimal": ("select_one", "select_multiple"),  # a compact list
    "likert": ("select_one",),
    "horizontal": ("select_one", "select_multiple"),
    "horizontal-compact": ("select_one", "select_multiple"),
    "field-list": ("group", "repeat"),  # the group's questions on one screen where they fit
    "numbers": ("text",),  # digits-only keyboard on the handheld
    "multiline": ("text",),
    "no-ticks": ("range",),
    "vertical": ("range",),
}

# survey columns (as pyxform names them in its JSON) -> why they are ignored (a warning each time)
IGNORED_COLUMNS = {
    "guidance_hint": "guidance hints are for training printouts; the device shows `hint`",
}

# survey columns -> what to use instead (a refusal for each row that fills them)
REFUSED_COLUMNS = {
    "default": "the device preselects nothing, so every answer is a deliberate press; drop the default",
    "read_only": "use a note to show a value, or a calculate to compute one",
    "trigger": "calculations run whenever an answer changes; drop the trigger column",
    "media::image": "the device shows text only: put the words in the label",
    "media::big-image": "the device shows text only: put the words in the label",
    "media::audio": "the device has no speaker: put the words in the label",
    "media::video": "the device has no video: put the words in the label",
    "parameters": "this parameter is not supported (range takes start, end and step)",
    "calculation": "only a calculate question takes a calculation (no dynamic defaults): add a calculate",
    "repeat_count": "repeat_count belongs on a begin repeat row",
    "choice_filter": "choice_filter belongs on a select row",
    "save_to": "ODK entities are not supported: organisations reach devices as the roster's choice list",
}

RANDOMIZE = ("the device shows choices in the sheet's order (randomize is not supported): order them as they"
             " should appear")

# settings the compiler uses
SETTINGS = ("form_id", "version", "form_title", "default_language")
# settings that change nothing on a device: ignored with a warning
IGNORED_SETTINGS = {
    "instance_name": "records are named by their id on the host",
    "style": "the device has its own layout",
    "submission_url": "records go to the tiesense host over MQTT",
    "allow_choice_duplicates": "",
    "clean_text_values": "",
    "namespaces": "",
}
# settings that would change what is recorded: refused
REFUSED_SETTINGS = {
    "public_key": "records are signed by the device and carried over TLS; encrypted forms are not supported",
    "auto_send": "records are sent by the device's uplink as soon as it can",
    "auto_delete": "records are deleted only after the host acknowledges them",
    "entity_version": "ODK entities are not supported: organisations reach devices as the roster's choice list",
}
