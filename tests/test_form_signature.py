"""A form's signature is checked on the message's own bytes with its top-level "sig" member cut out
(wire.decode_form), so a device never re-encodes a form of tens of KB to check it: the same forms as
before are accepted, and a signature moved anywhere but the top level is refused."""
from __future__ import annotations

import json

import pytest

from tiesense import wire
from tiesense.forms import builtin_form

KEY = bytes(range(32))


def signed(form, site="lobby-a", key=KEY):
    return wire.encode_form(form, {site: key, "other-site": bytes(32)})


def test_the_hosts_signed_interview_verifies_from_its_bytes_and_decodes_to_the_form():
    form = builtin_form("fi_interview")
    payload = signed(form)
    assert len(payload) > 26_000
    got = wire.decode_form(memoryview(payload), "lobby-a", KEY)
    assert got == dict(form, v=wire.V2)
    assert "sig" not in got


@pytest.mark.parametrize("how", ["other key", "other site", "body changed", "sig moved into a question",
                                 "sig removed", "spaces added"])
def test_what_the_host_did_not_sign_exactly_is_refused(how):
    form = builtin_form("tp_visit")
    payload = signed(form)
    if how == "other key":
        payload = signed(form, key=bytes(32))
    elif how == "other site":
        payload = signed(form, site="lobby-b")
    elif how == "body changed":
        payload = payload.replace(b'"name":"sme"', b'"name":"startup"')
    elif how == "sig moved into a question":  # the same signed bytes around it, the member one level down
        start = payload.rfind(b',"sig":{')
        end = payload.find(b"}", start) + 1
        seg, rest = payload[start:end], payload[:start] + payload[end:]
        at = rest.find(b'"name":"facility"') + len(b'"name":"facility"')
        payload = rest[:at] + seg + rest[at:]
        assert "sig" in json.loads(payload)["questions"][0]
    elif how == "sig removed":
        start = payload.rfind(b',"sig":{')
        payload = payload[:start] + payload[payload.find(b"}", start) + 1:]
    else:  # valid JSON, the same object, but not the bytes the host signed
        payload = json.dumps(json.loads(payload), indent=1).encode()
    with pytest.raises(wire.WireError, match="sign"):
        wire.decode_form(payload, "lobby-a", KEY)


def test_a_form_spooled_to_a_file_is_checked_and_decoded_from_the_file(tmp_path):
    form = builtin_form("fi_interview")
    path = tmp_path / "fi_interview.json.part"
    path.write_bytes(signed(form))
    with open(path, "rb") as f:
        assert wire.decode_form(f, "lobby-a", KEY) == dict(form, v=wire.V2)
    path.write_bytes(signed(form, key=bytes(32)))
    with open(path, "rb") as f, pytest.raises(wire.WireError, match="does not verify"):
        wire.decode_form(f, "lobby-a", KEY)
