"""Errors as JSON: ``{"error": what went wrong, "hint": what to do}``, for every failure the API gives.

Routes raise :class:`ApiError`; a 401 on a page (a GET outside ``/api/`` from
a browser) is a redirect to ``/login?next=...`` instead. FastAPI's own errors (unknown route, wrong
method, a parameter that does not validate) and unexpected exceptions are
turned into the same shape by the handlers :func:`install` adds.
"""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["ApiError", "ErrorBody", "install", "ERRORS"]

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """Every error response."""

    error: str
    hint: str


class ApiError(Exception):
    """An error response: HTTP ``status``, what went wrong, and what to do about it."""

    def __init__(self, status: int, error: str, hint: str, headers: dict | None = None):
        super().__init__(error)
        self.status, self.error, self.hint, self.headers = status, error, hint, headers


#: The error responses every protected route may give, for the OpenAPI document.
ERRORS = {401: {"model": ErrorBody, "description": "Not logged in, or an unknown or revoked token"},
          403: {"model": ErrorBody, "description": "The caller's role does not allow this"}}

_HINTS = {
    404: "check the path against /openapi.json",
    405: "check the method against /openapi.json",
}


def _body(status: int, error: str, hint: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "hint": hint}, status_code=status, headers=headers)


def _is_page(request: Request) -> bool:
    """A page (not under /api) asked for by a browser (it accepts HTML)."""
    return (request.method == "GET" and not request.url.path.startswith("/api/")
            and "text/html" in request.headers.get("accept", ""))


def install(app: FastAPI) -> None:
    """Make every error of ``app`` a JSON :class:`ErrorBody`."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        if exc.status == 401 and _is_page(request):  # a browser on a page: to the login, and back
            from urllib.parse import quote

            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return _body(exc.status, exc.error, exc.hint, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        error = exc.detail if isinstance(exc.detail, str) else "request refused"
        return _body(exc.status_code, error, _HINTS.get(exc.status_code, "see /openapi.json for this route"),
                     getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        problems = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path"))
            problems.append(f"{where or 'request'}: {e.get('msg', 'invalid')}")
        return _body(422, "invalid request: " + "; ".join(problems),
                     "fix the parameters named; /openapi.json gives each one's type and range")

    @app.exception_handler(OverflowError)
    async def out_of_range(request: Request, exc: OverflowError):
        # a whole number beyond what SQLite holds (found by schemathesis): the caller's, not a crash
        return _body(422, "invalid request: a number is out of range",
                     "integers must lie within -2**63..2**63-1; /openapi.json gives each parameter's range")

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception):
        log.exception("web request %s %s failed", request.method, request.url.path)
        return _body(500, "internal error", "the host's log has the details; report it with the time of the request")
