"""The handheld: the firm-interaction interview (the shipped XLSForm, compiled with its Korean glyphs) answered on
the real firmware under micropython with a keyboard, sent to the real host over the embedded broker, and read as
an analyst reads it: a respondent, a tie report per partner, the alter-alter pair, and tie estimates.

The script is what an interviewer types on the CardKB: arrows and Enter through the choices, the first letters
(or the roster code) of an organisation to find it, a year typed as digits.
"""
from __future__ import annotations

import json
import sqlite3

from click.testing import CliRunner

from tiesense import cli
from tiesense.devices import SimDevice, read_log_state, stage
from tiesense.service import Host


def key(name, times=1):
    return [["key", name]] * times


def pick(position):
    """Choose the choice at ``position`` (1-based) of a select_one: the first down lands on the first."""
    return key("down", position) + key("ok")


def typed(text):
    return [["type", text]] + key("ok")


# the respondent: ok on the home screen starts the interview; consent yes, the period notice, "exam..." then one down (Example University, code 102),
# size band, sector, R&D activity, then the name generator: 101 and 103 found by code, ticked, and Done
RESPONDENT = (key("ok") + pick(1) + key("ok") + [["type", "exam"]] + pick(1) + pick(1) + pick(1) + pick(1)
              + [["type", "101"]] + key("ok") + [["type", "103"]] + key("ok") + key("up", 3) + key("ok"))
# partner 101: traded and knowledge ticked (1st and 3rd), Done; weekly (4); since 2015; formal; face to face;
# closeness 4; trust 5; we started it; knowledge both ways; importance 4; in this techno-park
PARTNER_101 = (key("down") + key("ok") + key("down", 2) + key("ok") + key("down", 4) + key("ok")
               + pick(4) + typed("2015") + pick(1) + pick(1) + pick(4) + pick(5) + pick(1) + pick(3) + pick(4)
               + pick(1))
# alter-alter: does 103 work with 101? yes (ticked), Done
ALTERS_101 = key("down") + key("ok") + key("down", 2) + key("ok")
# partner 103: traded only, Done; a few times a year (2); no year; informal; remote; closeness 2; trust 2;
# they started it; knowledge to them; importance 2; elsewhere in the region
PARTNER_103 = (key("down") + key("ok") + key("down", 6) + key("ok") + pick(2) + key("ok") + pick(2) + pick(2)
               + pick(2) + pick(2) + pick(2) + pick(2) + pick(2) + pick(2))
INTERVIEW = RESPONDENT + PARTNER_101 + ALTERS_101 + PARTNER_103


def rows(db, sql):
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql)]


def test_an_interview_typed_on_the_handheld_lands_as_rows_and_estimates(tmp_path, micropython, wait_until,
                                                                        device_login):
    db = tmp_path / "park.db"
    with Host(db) as host:
        login = device_login(host, "handheld-01", host.broker_url)
        root = stage(tmp_path / "handheld", "handheld-01", host.broker_url, role="handheld",
                     script=INTERVIEW + [["wait_ms", 500]], thanks_ms=0, status_s=1, mqtt_user=login.username,
                     mqtt_password=login.password, device_key=login.key)
        dev = SimDevice(root, micropython=micropython).start()
        try:
            wait_until(lambda: rows(db, "SELECT * FROM respondents"), 60, "the interview stored")
            wait_until(lambda: read_log_state(root).pending == [], 15, "the handheld's log to drain after the ack")
        finally:
            dev.stop()
    out = dev.read_output()
    assert "role handheld" in out and "Traceback" not in out, out[-3000:]
    (record,) = rows(db, "SELECT * FROM records")
    assert (record["form"], record["device"], record["wire"]) == ("fi_interview", "handheld-01", 2)
    (resp,) = rows(db, "SELECT * FROM respondents")
    assert (resp["consent"], resp["respondent_org"], resp["named"]) == ("yes", 102, 2)
    ties = rows(db, 'SELECT * FROM tie_reports ORDER BY "pass"')
    assert [(t["respondent_org"], t["partner_org"]) for t in ties] == [(102, 101), (102, 103)]
    first, second = ties
    assert json.loads(first["tie_types"]) == ["traded", "knowledge"] and first["multiplexity"] == 2
    assert (first["frequency"], first["since_year"], first["closeness"], first["trust"]) == (4, 2015, 4, 5)
    assert (first["initiated"], first["knowledge_flow"], first["scope"]) == ("we", "both_ways", "same_park")
    assert (second["frequency"], second["since_year"], second["closeness"], second["trust"]) == (2, None, 2, 2)
    (pair,) = rows(db, "SELECT * FROM alter_pairs")
    assert (pair["org_a"], pair["org_b"], pair["tied"]) == (101, 103, 1)

    done = CliRunner().invoke(cli.main, ["ties", "recompute", "--db", str(db), "--replicates", "20"])
    assert done.exit_code == 0, done.output
    est = {(r["u"], r["v"]): r for r in rows(db, "SELECT * FROM tie_estimates WHERE estimator = 'composite'")}
    assert set(est) == {(101, 102), (102, 103)}
    assert est[(101, 102)]["value"] > est[(102, 103)]["value"]  # weekly, close, trusted vs. occasional, distant
    responded = {r["org"]: r["value"] for r in rows(db, "SELECT * FROM org_measures WHERE measure = 'responded'")}
    assert responded == {101: 0.0, 102: 1.0, 103: 0.0}  # 101 and 103 are known only from 102's answers


def test_a_power_cut_mid_interview_resumes_it_with_what_was_answered(tmp_path, micropython, wait_until,
                                                                     device_login):
    db = tmp_path / "park.db"
    with Host(db) as host:
        login = device_login(host, "handheld-01", host.broker_url)
        creds = dict(mqtt_user=login.username, mqtt_password=login.password, device_key=login.key)
        cut = len(RESPONDENT) + len(PARTNER_101) // 2  # half-way through the first partner
        root = stage(tmp_path / "handheld", "handheld-01", host.broker_url, role="handheld",
                     script=INTERVIEW[:cut] + [["wait_ms", 300], ["exit"]], thanks_ms=0, status_s=1, **creds)
        dev = SimDevice(root, micropython=micropython).start()
        dev.proc.wait(60)
        assert (root / "data" / "draft").exists() and not rows(db, "SELECT * FROM records")
        # power back: the interviewer goes on from where the screen stopped
        stage(tmp_path / "handheld", "handheld-01", host.broker_url, role="handheld",
              script=INTERVIEW[cut:] + [["wait_ms", 500]], thanks_ms=0, status_s=1, **creds)
        dev = SimDevice(root, micropython=micropython).start()
        try:
            wait_until(lambda: rows(db, "SELECT * FROM tie_reports"), 60, "the resumed interview stored")
        finally:
            dev.stop()
    assert "KIOSK survey resumed" in dev.read_output()
    ties = rows(db, 'SELECT * FROM tie_reports ORDER BY "pass"')
    assert [(t["partner_org"], t["frequency"], t["since_year"], t["trust"]) for t in ties] == [
        (101, 4, 2015, 5), (103, 2, None, 2)]
    assert not (root / "data" / "draft").exists()


def test_the_handhelds_built_in_interview_is_what_its_xlsform_compiles_to():
    # host/tiesense/instruments/fi_interview.json is what devices get staged with and what the host checks
    # interviews against; regenerate it after changing the XLSForm:
    #   tiesense forms compile host/tiesense/instruments/xlsform/fi_interview.md --for handheld \
    #       --out host/tiesense/instruments/fi_interview.json
    from tiesense.forms import INSTRUMENTS, builtin_form
    from tiesense.xlsform.instruments import compile_instrument

    assert (INSTRUMENTS / "fi_interview.json").read_bytes() == compile_instrument("fi_interview").to_bytes()
    assert builtin_form("fi_interview")["target"] == "handheld"


def test_an_interview_naming_ten_partners_arrives_whole_in_128k_beside_the_firmware(tmp_path):
    """The name generator's cap: 10 partners from a 40-organisation roster published with the interview,
    every pass and alter-alter question answered on the keys; the record (about 1.7 KB, more than a
    kiosk's 1 KB messages) is kept and sent whole with no MemoryError, the firmware precompiled and given
    128 KiB of heap beside its own modules: what a Pico whose image freezes them leaves for data (this
    unix port holds their bytecode in its heap). bench/handheld_interview.py runs the same under
    shrinking heaps."""
    from bench.handheld_interview import run

    r = run("+128K", partners=10, orgs=40, work=tmp_path)
    assert (r["respondents"], r["ties"], r["pairs"]) == (1, 10, 45), r["tail"]
    assert r["memory_errors"] == 0 and "Traceback" not in r["tail"]
    with sqlite3.connect(tmp_path / "park.db") as conn:
        named = [row[0] for row in conn.execute('SELECT partner_org FROM tie_reports ORDER BY "pass"')]
        tied = conn.execute("SELECT count(*) FROM alter_pairs WHERE tied = 1").fetchone()[0]
    assert named == list(range(101, 111)) and tied == 9  # each pass ticked the next partner
