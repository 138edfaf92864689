"""The web side's store: migration 5 (roster, users, tokens, sessions) on a database of the previous
release, the versioned roster, and the hashes that stand in for secrets."""
from __future__ import annotations

import sqlite3

import pytest

from tiesense import access
from tiesense.store import Store, roster, schema

ROSTER = "code,name,actor_type,region,sector,size\n1,Gumi Electronics,large_firm,Gyeongbuk,ICT,large\n" \
         "2,Kumoh Univ,university,Gyeongbuk,,\n"


def database_at(path, version: int):
    """A file with the first ``version`` migrations applied, as that release left it."""
    conn = sqlite3.connect(path)
    for m in schema.MIGRATIONS[:version]:
        for sql in m.statements:
            conn.execute(sql)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.execute("INSERT INTO records VALUES ('uuid:x', 'k1', 1, 'tp_visit', '2026112401', "
                 "'2026-11-24T09:00:00Z', '2026-11-24T09:01:00Z', '{}', 'd', '2026-11-24T09:01:01.000Z')")
    conn.commit()
    conn.close()


def test_a_database_at_version_3_gets_the_roster_and_access_tables(tmp_path, user_version):
    path = tmp_path / "v3.db"
    database_at(path, 3)
    with Store(path) as store:
        assert user_version(path) == schema.VERSION >= 5
        assert store.counts()["records"] == 1
        assert store.import_roster(roster.parse_csv(ROSTER)) == (1, True)
        access.create_user(store, "ada", "a long password")
        assert [o["name"] for o in store.read(roster.organisations)[0]] == ["Gumi Electronics", "Kumoh Univ"]


def test_roster_versions_keep_history_and_the_same_rows_make_none(tmp_path):
    with Store(tmp_path / "r.db") as store:
        assert store.import_roster(roster.parse_csv(ROSTER)) == (1, True)
        assert store.import_roster(roster.parse_csv(ROSTER)) == (1, False)
        changed = ROSTER.replace("Kumoh Univ", "Kumoh National Institute of Technology")
        assert store.import_roster(roster.parse_csv(changed)) == (2, True)
        assert [r["name"] for r in store.read(roster.organisation, 2)] == [
            "Kumoh National Institute of Technology", "Kumoh Univ"]
        assert store.read(roster.organisations, version=1)[1] == 2


@pytest.mark.parametrize("text, match", [
    ("name,actor_type\nA,sme\n", "no column code"),
    ("code,name,actor_type\nx,A,sme\n", "line 2: code 'x'"),
    ("code,name,actor_type\n1,A,sme\n1,B,sme\n", "line 3: code 1 is already on line 2"),
    ("code,name,actor_type\n1,A,\n", "no actor_type"),
    ("\r0", "no column code"),  # schemathesis sent this to POST /api/roster: a csv.Error was a server error
    ("code,name,actor_type\n1," + "x" * 200_000 + ",sme\n", "line 2: not CSV"),
])
def test_a_bad_roster_says_which_line(text, match):
    with pytest.raises(roster.RosterError, match=match):
        roster.parse_csv(text)


def test_a_roster_saved_with_old_mac_line_endings_reads():
    assert [r["code"] for r in roster.parse_csv("code,name,actor_type\r7,Gumi,university\r8,B,sme\r")] == [7, 8]


def test_actor_types_are_the_cluster_measures_codes_and_every_wrong_line_is_named():
    from tiesense.ties.cluster import ACTOR_TYPES

    assert roster.actor_types() == ACTOR_TYPES
    text = "code,name,actor_type\n1,A,sme\n2,Gumi TP,techno_park\n3,C,university\n4,Bank,Bank\n"
    with pytest.raises(roster.RosterError) as e:
        roster.parse_csv(text)
    message = str(e.value)
    assert "line 3: actor type 'techno_park'" in message and "line 5: actor type 'Bank'" in message
    assert "line 2" not in message and "line 4" not in message
    assert "technopark" in message and all(t in message for t in ACTOR_TYPES)  # what to write instead


def test_importing_rows_with_an_unknown_actor_type_writes_nothing(tmp_path):
    rows = roster.parse_csv(ROSTER)
    with Store(tmp_path / "r.db") as store:
        with pytest.raises(roster.RosterError, match=r"row 2 \(code 2\): actor type 'uni'"):
            store.import_roster([rows[0], dict(rows[1], actor_type="uni")])
        assert store.read(roster.current_version) is None and store.read(roster.versions) == []


def test_only_hashes_of_secrets_are_stored(tmp_path):
    with Store(tmp_path / "a.db") as store:
        access.create_user(store, "ada", "a long password", "analyst")
        token = access.create_token(store, "wall-screen", "viewer")
        found = access.login(store, "ada", "a long password")
        assert found is not None
        cookie, who = found
        dump = "\n".join(store.conn.iterdump())
    for secret in ("a long password", token, cookie):
        assert secret not in dump
    assert who == access.Principal("ada", "analyst", "session")
    with Store(tmp_path / "a.db") as store:
        assert access.authenticate_token(store, token) == access.Principal("wall-screen", "viewer", "token")
        assert access.login(store, "ada", "wrong password") is None
        access.revoke_token(store, "wall-screen")
        assert access.authenticate_token(store, token) is None
        with pytest.raises(access.AccessError, match="at least"):
            access.create_user(store, "bob", "short")


def workbook(rows: list[list], sheet: str = "Sheet1", before: str | None = None) -> bytes:
    """An .xlsx written by openpyxl, as Excel or LibreOffice save it: ``rows`` on sheet ``sheet`` (after a
    sheet ``before``, when given)."""
    import io

    from openpyxl import Workbook

    book = Workbook()
    first = book.active
    if before:
        first.title = before
        first.append(["not", "the", "roster"])
        ws = book.create_sheet(sheet)
    else:
        first.title = sheet
        ws = first
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_roster_workbook_reads_as_its_csv_does():
    header = ["Code", "Name", "Actor_Type", "Region", "Sector", "Size"]
    data = workbook([header, [1, "Gumi Electronics", "large_firm", "Gyeongbuk", "ICT", "large"],
                     [2.0, "Kumoh Univ", "university", "Gyeongbuk", None, None], [None] * 6])
    assert roster.parse_xlsx(data) == roster.parse_csv(ROSTER)  # 2.0 typed as a number is code 2
    assert roster.parse(data) == roster.parse(data, "park.xlsx") == roster.parse(ROSTER.encode(), "park.csv")
    # a sheet named roster is the roster, wherever it is in the workbook
    named = workbook([header, [1, "Gumi Electronics", "large_firm", "Gyeongbuk", "ICT", "large"],
                      [2, "Kumoh Univ", "university", "Gyeongbuk", "", ""]], sheet="Roster", before="Notes")
    assert roster.parse(named) == roster.parse_csv(ROSTER)


def test_a_roster_workbook_with_errors_is_refused_naming_the_row():
    header = ["code", "name", "actor_type"]
    with pytest.raises(roster.RosterError, match=r"^row 3: code 1 is already on row 2"):
        roster.parse_xlsx(workbook([header, [1, "A", "sme"], [1, "B", "sme"]]))
    with pytest.raises(roster.RosterError, match=r"row 3: actor type 'SME'.*use one of"):
        roster.parse_xlsx(workbook([header, [1, "A", "sme"], [2, "B", "SME"]]))
    with pytest.raises(roster.RosterError, match="not an XLSX workbook.*save the roster as .xlsx or as CSV UTF-8"):
        roster.parse(b"PK\x03\x04 not really a zip")
    with pytest.raises(roster.RosterError, match="neither an XLSX workbook nor UTF-8 text"):
        roster.parse("code,name,actor_type\n1,Gumi,sme\n".encode("utf-16"))
