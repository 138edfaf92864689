# Shared choice lists and the form format on the device (firmware/form.py,
# firmware/survey.py): the compiled interview holds its roster once in
# "lists" (format 2); the engine points every select naming it at that one
# list object, offers and checks its choices, and a form whose format this
# firmware does not know is refused (when it arrives and when a survey starts).
import json

from form import FORMATS, Form, unknown_format
from runner import check_eq, raises, run
from survey import unsupported

META = {"start": 1795500000, "today": "2026-11-30", "deviceid": "hh-01", "instance": "0" * 32}


def interview():
    with open("host/tiesense/instruments/fi_interview.json") as f:
        return json.load(f)


def _by_name(form):
    out = {}
    for q in form["questions"]:
        out[q["name"]] = q
        for c in q.get("questions") or []:
            out[c["name"]] = c
    return out


def test_the_interview_is_format_2_with_its_roster_held_once():
    form = interview()
    check_eq(form["format"], 2)
    qs = _by_name(form)
    for name in ("respondent_org", "partners", "alters_tied"):
        check_eq(qs[name]["list"], "roster", name)
        assert "choices" not in qs[name], name


def test_every_select_naming_a_list_shares_the_one_list_object():
    form = interview()
    roster = form["lists"]["roster"]
    Form(form, META, "en")
    qs = _by_name(form)
    for name in ("respondent_org", "partners", "alters_tied"):
        assert qs[name]["choices"] is roster, name  # the same object: no copy per question
    assert qs["respondent_type"]["choices"] is qs["partner_type"]["choices"] is form["lists"]["actor_type"]


def test_a_shared_list_is_offered_through_its_choice_filter_and_checked():
    e = Form(interview(), META, "en")
    check_eq(e.set("yes"), None)
    assert e.next() is None
    while e.current()["name"] != "respondent_org":
        assert e.next() is None, e.current()["name"]
    check_eq([c["name"] for c in e.choices()], ["101", "102", "103", "not_listed"])
    check_eq(e.set("new_1"), "Not one of the choices")  # in the list, but its filter leaves it out here
    check_eq(e.set("102"), None)


def test_a_form_of_an_unknown_format_is_refused_saying_what_to_do():
    form = interview()
    form["format"] = 3
    e = raises(ValueError, Form, form, META, "en")
    assert "format 3" in str(e) and "update the firmware" in str(e), str(e)
    why = unsupported(form)  # what the uplink asks before storing a received form
    assert why is not None and "format 3" in why, why
    check_eq(unknown_format({"format": 2, "questions": []}), None)
    check_eq(FORMATS, (1, 2))


def test_a_form_without_format_is_format_1():
    form = {"id": "f", "version": "1", "questions": [
        {"name": "q", "type": "select_one", "label": {"en": "Pick"}, "choices": [{"name": "a"}]}]}
    check_eq(unknown_format(form), None)
    check_eq(unsupported(form), None)
    e = Form(form, META, "en")
    check_eq([c["name"] for c in e.choices()], ["a"])


def test_a_select_naming_a_list_the_form_lacks_is_refused():
    form = {"format": 2, "id": "f", "version": "1", "lists": {"yn": [{"name": "yes"}]}, "questions": [
        {"name": "q", "type": "select_one", "list": "roster"}]}
    e = raises(ValueError, Form, form, META, "en")
    assert "'roster'" in str(e) and "compile the form again" in str(e), str(e)


run(globals())
