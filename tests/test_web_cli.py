"""The web side from the command line: the first admin, tokens printed once, the roster import, and
``tiesense serve`` with ``--api`` (beside the ingest) or ``--api-only``."""
from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import urllib.error
import urllib.request

from click.testing import CliRunner

from tiesense import access, cli
from tiesense.store import Store

from .conftest import ROOT, WEB_ROSTER, free_port


def invoke(*args, input=None):
    return CliRunner().invoke(cli.main, list(args), input=input)


def test_create_admin_reads_a_password_file_or_prompts(tmp_path):
    db, pw = tmp_path / "h.db", tmp_path / "pw"
    pw.write_text("a long password\n")
    r = invoke("users", "create-admin", "ada", "--db", str(db), "--password-file", str(pw))
    assert r.exit_code == 0 and "admin ada created" in r.output
    r = invoke("users", "create-admin", "bob", "--db", str(db), input="another password\nanother password\n")
    assert r.exit_code == 0, r.output
    with Store(db) as store:
        assert access.login(store, "ada", "a long password")[1].role == "admin"
        assert access.login(store, "bob", "another password") is not None
    again = invoke("users", "create-admin", "ada", "--db", str(db), "--password-file", str(pw))
    assert again.exit_code == 1 and "already a user 'ada'" in again.output
    listed = invoke("users", "list", "--db", str(db)).output
    assert "ada" in listed and "admin" in listed and "scrypt" not in listed
    with Store(db) as store:
        cookie, _ = access.login(store, "bob", "another password")
    assert invoke("users", "set-password", "bob", "--db", str(db), input="a new password\na new password\n").exit_code == 0
    with Store(db) as store:
        assert access.session_principal(store, cookie) is None  # the old session ended
        assert access.login(store, "bob", "a new password") is not None


def test_a_token_is_printed_once_and_listed_by_name_only(tmp_path):
    db = tmp_path / "h.db"
    r = CliRunner().invoke(cli.main, ["tokens", "create", "wall", "--role", "viewer", "--db", str(db)])
    assert r.exit_code == 0
    token = r.stdout.strip()
    assert token.startswith("tsk_") and len(token) > 40
    listed = invoke("tokens", "list", "--db", str(db))
    assert "wall" in listed.output and "viewer" in listed.output and token not in listed.output
    with Store(db) as store:
        assert access.authenticate_token(store, token).role == "viewer"
    assert invoke("tokens", "create", "wall", "--role", "admin", "--db", str(db)).exit_code == 1
    assert invoke("tokens", "revoke", "wall", "--db", str(db)).exit_code == 0
    with Store(db) as store:
        assert access.authenticate_token(store, token) is None


def test_roster_import_from_the_cli(tmp_path):
    src = tmp_path / "roster.csv"
    src.write_text(WEB_ROSTER, encoding="utf-8")
    r = invoke("roster", "import", str(src), "--db", str(tmp_path / "h.db"))
    assert r.exit_code == 0 and r.output.strip() == "roster version 1: 12 organisations"
    assert "(unchanged)" in invoke("roster", "import", str(src), "--db", str(tmp_path / "h.db")).output


def _get(url: str, token: str | None = None):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _serve(*args):
    return subprocess.Popen([sys.executable, "-m", "tiesense.cli", "serve", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT)


def _line(proc, timeout=20) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline().decode() if ready else ""


def _stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_serve_api_only_answers_against_the_database_without_ingest(web_template, tmp_path):
    import shutil

    src, tokens = web_template
    db = tmp_path / "w.db"
    shutil.copyfile(src, db)
    port = free_port()
    proc = _serve("--db", str(db), "--api-only", "--api", f"127.0.0.1:{port}")
    try:
        line = _line(proc)
        assert line.startswith(f"tiesense web API at http://127.0.0.1:{port}/api"), proc.stderr.read1().decode()
        assert "no ingest" in line
        assert _get(f"http://127.0.0.1:{port}/api/health")[0] == 200
        assert _get(f"http://127.0.0.1:{port}/api/ties")[0] == 401
        status, body = _get(f"http://127.0.0.1:{port}/api/ties?limit=1", tokens["analyst"])
        assert status == 200 and body["total"] == 16
    finally:
        out, err = _stop(proc)
    assert proc.returncode == 0, err


def test_serve_with_api_runs_beside_the_ingest_and_a_taken_port_is_one_line(tmp_path):
    port, api = free_port(), free_port()
    proc = _serve("--db", str(tmp_path / "h.db"), "--port", str(port), "--api", f"127.0.0.1:{api}")
    try:
        assert _line(proc).startswith(f"tiesense host ready: broker mqtt://127.0.0.1:{port}")
        assert _line(proc).startswith(f"tiesense web API at http://127.0.0.1:{api}/api")
        assert _get(f"http://127.0.0.1:{api}/api/health")[1]["status"] == "ok"
        clash = subprocess.run([sys.executable, "-m", "tiesense.cli", "serve", "--db", str(tmp_path / "o.db"),
                                "--api-only", "--api", f"127.0.0.1:{api}"], capture_output=True, text=True,
                               timeout=60, cwd=ROOT)
        assert clash.returncode == 1
        assert clash.stderr.strip().startswith(f"tiesense: cannot serve the web API at 127.0.0.1:{api}: ")
    finally:
        out, err = _stop(proc)
    assert proc.returncode == 0, err
    assert out.decode().strip().splitlines()[-1].startswith("tiesense host stopped")


def test_importing_the_service_or_the_cli_loads_no_web_stack():
    probe = ("import sys, json, tiesense.service, tiesense.cli\n"
             "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & "
             "{'fastapi', 'starlette', 'uvicorn', 'openpyxl', 'pydantic'})))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
