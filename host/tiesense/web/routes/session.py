"""Login and logout: a session cookie for the pages (the API also takes tokens).

``POST /api/login`` takes JSON or a form (``name``, ``password``); ``GET /login``
is a minimal server-rendered page for browsers, posting to ``POST /login``,
which redirects to ``next`` (a path of this site) once logged in.
"""
from __future__ import annotations

import html
import threading
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel

from ...access import Principal, login, logout
from ..auth import authenticated
from ..deps import SettingsDep, StoreDep
from ..errors import ApiError, ErrorBody

router = APIRouter(tags=["session"])
protected = APIRouter(tags=["session"])


class Credentials(BaseModel):
    name: str
    password: str


class Me(BaseModel):
    name: str
    role: str
    via: str


class _Failures:
    """Failed logins per name in a sliding window (per process): slows down password guessing."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen: dict[str, list[float]] = {}

    def too_many(self, name: str, limit: int, window: float) -> bool:
        now = time.monotonic()
        with self.lock:
            recent = [t for t in self.seen.get(name, []) if now - t < window]
            self.seen[name] = recent
            return len(recent) >= limit

    def add(self, name: str) -> None:
        with self.lock:
            self.seen.setdefault(name, []).append(time.monotonic())

    def clear(self, name: str) -> None:
        with self.lock:
            self.seen.pop(name, None)


def failures(request: Request) -> _Failures:
    """The app's failed-login book (one per app, made on first use)."""
    state = request.app.state
    if getattr(state, "login_failures", None) is None:
        state.login_failures = _Failures()
    return state.login_failures


async def _credentials(request: Request) -> Credentials:
    kind = request.headers.get("content-type", "")
    try:
        if kind.startswith("application/json"):
            data = await request.json()
        else:
            data = dict(await request.form())
        return Credentials(name=str(data["name"]), password=str(data["password"]))
    except Exception:
        raise ApiError(422, "give a name and a password", 'send JSON {"name": ..., "password": ...} or a form '
                       "with the fields name and password") from None


def _start(request: Request, response: Response, store, settings, creds: Credentials) -> Principal:
    book = failures(request)
    if book.too_many(creds.name, settings.login_attempts, settings.login_window_s):
        raise ApiError(429, "too many failed logins for this name",
                       f"wait {settings.login_window_s / 60:.0f} minutes, or ask an admin to set a new password")
    found = login(store, creds.name, creds.password, settings.session_hours)
    if found is None:
        book.add(creds.name)
        raise ApiError(401, "wrong name or password",
                       "check both; an admin creates users with: tiesense users create-admin NAME")
    book.clear(creds.name)
    value, who = found
    secure = settings.cookie_secure if settings.cookie_secure is not None else request.url.scheme == "https"
    response.set_cookie(settings.cookie_name, value, max_age=int(settings.session_hours * 3600), httponly=True,
                        samesite="lax", secure=secure, path="/")
    return who


@router.post("/api/login", response_model=Me, responses={401: {"model": ErrorBody}, 429: {"model": ErrorBody}},
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": Credentials.model_json_schema()},
                 "application/x-www-form-urlencoded": {"schema": Credentials.model_json_schema()}}}})
async def api_login(request: Request, response: Response, store: StoreDep, settings: SettingsDep) -> dict:
    """Log in with a name and password; sets the session cookie (HttpOnly, SameSite=Lax)."""
    who = _start(request, response, store, settings, await _credentials(request))
    return {"name": who.name, "role": who.role, "via": who.via}


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>tiesense: log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 22rem; margin: 4rem auto">
<h1>tiesense</h1>{message}
<form method="post" action="/login">
<input type="hidden" name="next" value="{next}">
<p><label>Name<br><input name="name" autocomplete="username" required></label></p>
<p><label>Password<br><input name="password" type="password" autocomplete="current-password" required></label></p>
<p><button type="submit">Log in</button></p></form></body></html>"""


def _safe_next(target: str | None, default: str = "/api/me") -> str:
    # only a path of this site: never //other.host or a scheme
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


@router.get("/login", response_class=HTMLResponse, include_in_schema=True)
def login_page(next: str | None = None) -> HTMLResponse:
    """The login page of the dashboards."""
    return HTMLResponse(_PAGE.format(message="", next=html.escape(_safe_next(next))))


@router.post("/login", response_class=HTMLResponse)
async def login_form(request: Request, store: StoreDep, settings: SettingsDep):
    """The login page's form: on success a redirect (303) to ``next``; else the page again with why."""
    form = await request.form()
    target = _safe_next(str(form.get("next") or ""))
    response = RedirectResponse(target, status_code=303)
    try:
        _start(request, response, store, settings,
               Credentials(name=str(form.get("name") or ""), password=str(form.get("password") or "")))
    except ApiError as e:
        return HTMLResponse(_PAGE.format(message=f"<p role='alert'>{html.escape(e.error)}: {html.escape(e.hint)}</p>",
                                         next=html.escape(target)), status_code=e.status)
    return response


@protected.post("/api/logout", status_code=204)
def api_logout(request: Request, store: StoreDep, settings: SettingsDep,
               who: Annotated[Principal, Depends(authenticated)]) -> Response:
    """End this login session (a token stays valid: revoke it with tiesense tokens revoke NAME)."""
    cookie = request.cookies.get(settings.cookie_name)
    if cookie:
        logout(store, cookie)
    response = Response(status_code=204)
    response.delete_cookie(settings.cookie_name, path="/")
    return response


@protected.get("/api/me", response_model=Me)
def me(who: Annotated[Principal, Depends(authenticated)]) -> dict:
    """Who is calling, with which role, by token or session."""
    return {"name": who.name, "role": who.role, "via": who.via}
