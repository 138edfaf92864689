"""Access to the web API: anonymous callers refused everywhere but health and login, roles enforced,
logins with a session cookie, tokens revoked, and a viewer kept to k-anonymous aggregates."""
from __future__ import annotations

import re

import pytest

from tiesense import access
from tiesense.web.auth import Viewer

OPEN = {("GET", "/api/health"), ("POST", "/api/login"), ("GET", "/login"), ("POST", "/login")}
#: What a viewer may call: no organisation-level row anywhere in it.
VIEWER_ROUTES = {"/api/me", "/api/logout", "/api/forms", "/api/forms/{form_id}/{version}",
                 "/api/aggregates/visits", "/api/aggregates/ties", "/api/measures/cluster",
                 "/api/exports/aggregates/{kind}"}


def routes(web):
    spec = web.client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method in ops:
            yield method.upper(), path


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_but_health_and_login_refuses_anonymous_callers(web):
    seen = 0
    for method, path in routes(web):
        if (method, path) in OPEN:
            continue
        r = web.client.request(method, concrete(path))
        assert r.status_code == 401, (method, path, r.status_code)
        body = r.json()
        assert set(body) == {"error", "hint"} and "tokens create" in body["hint"]
        assert r.headers["www-authenticate"] == "Bearer"
        seen += 1
    assert seen >= 25
    assert web.client.get("/api/health").json()["status"] == "ok"


def test_a_viewer_is_refused_every_organisation_level_route(web):
    for method, path in routes(web):
        if method != "GET" or (method, path) in OPEN:
            continue
        r = web.get(concrete(path).replace("/api/exports/aggregates/1", "/api/exports/aggregates/ties"), "viewer")
        if path in VIEWER_ROUTES:
            assert r.status_code in (200, 404), (path, r.status_code, r.text)
        else:
            assert r.status_code == 403, (path, r.status_code)
            assert "viewer" in r.json()["error"] or "viewers" in r.json()["hint"]


@pytest.mark.parametrize("role, status", [("viewer", 403), ("analyst", 403), ("admin", 200)])
def test_quarantine_is_for_admins(web, role, status):
    assert web.get("/api/quarantine", role).status_code == status


@pytest.mark.parametrize("role, status", [("viewer", 403), ("analyst", 200), ("admin", 200)])
def test_rows_are_for_analysts_and_admins(web, role, status):
    assert web.get("/api/ties", role).status_code == status


def test_login_sets_a_session_cookie_that_logout_ends(web):
    c = web.client
    assert c.post("/api/login", json={"name": "ada", "password": "wrong"}).status_code == 401
    r = c.post("/api/login", json={"name": "ada", "password": "a long password"})
    assert r.status_code == 200 and r.json() == {"name": "ada", "role": "analyst", "via": "session"}
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert c.get("/api/ties").status_code == 200  # the cookie is sent from now on
    assert c.post("/api/logout").status_code == 204
    c.cookies.clear()
    assert c.get("/api/ties").status_code == 401


def test_the_login_page_form_redirects_only_within_the_site(web):
    c = web.client
    assert "<form" in c.get("/login").text
    r = c.post("/login", data={"name": "ada", "password": "a long password", "next": "//evil.example/x"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/api/me"
    bad = c.post("/login", data={"name": "ada", "password": "nope", "next": "/api/me"}, follow_redirects=False)
    assert bad.status_code == 401 and "wrong name or password" in bad.text


def test_a_cookie_change_from_another_site_is_refused(web):
    c = web.client
    c.post("/api/login", json={"name": "ada", "password": "a long password"})
    r = c.post("/api/logout", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "another site" in r.json()["error"]
    assert c.post("/api/logout", headers={"Origin": "http://testserver"}).status_code == 204


def test_repeated_failed_logins_are_slowed_down(web):
    c = web.client
    for _ in range(5):
        assert c.post("/api/login", json={"name": "mallory", "password": "guess"}).status_code == 401
    r = c.post("/api/login", json={"name": "mallory", "password": "guess"})
    assert r.status_code == 429 and "wait" in r.json()["hint"]


def test_a_revoked_or_made_up_token_is_refused(web):
    assert web.get("/api/ties", "analyst").status_code == 200
    access.revoke_token(web.store, "analyst-token")
    r = web.get("/api/ties", "analyst")
    assert r.status_code == 401 and r.json()["error"] == "unknown or revoked token"
    assert web.client.get("/api/ties", headers={"Authorization": "Bearer tsk_nope"}).status_code == 401
    assert web.client.get("/api/ties", headers={"Authorization": "Basic eDp5"}).status_code == 401


def test_a_page_plugged_in_sends_a_browser_without_a_session_to_the_login_and_back(web_template, tmp_path):
    """How dashboards will plug in: a router of pages, guarded like the API."""
    import shutil

    from fastapi import APIRouter
    from fastapi.responses import HTMLResponse
    from fastapi.testclient import TestClient

    from tiesense.store import Store
    from tiesense.web import create_app

    pages = APIRouter()

    @pages.get("/overview", response_class=HTMLResponse)
    def overview(who: Viewer):
        return f"<h1>Park overview for {who.name}</h1>"

    shutil.copyfile(web_template[0], tmp_path / "p.db")
    with Store(tmp_path / "p.db") as store:
        c = TestClient(create_app(store, pages=[pages]))
        r = c.get("/overview?wave=2", headers={"Accept": "text/html"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Foverview%3Fwave%3D2"
        assert c.get("/overview").status_code == 401  # not a browser: JSON
        done = c.post("/login", data={"name": "ada", "password": "a long password", "next": "/overview?wave=2"},
                      follow_redirects=False)
        assert done.headers["location"] == "/overview?wave=2"
        assert "Park overview for ada" in c.get("/overview").text
