"""Who is calling: an API token (``Authorization: Bearer tsk_...``) or a login session cookie.

Every router but health and login is included with :func:`authenticated` as
a dependency, so a route added later refuses anonymous callers without
anyone remembering to say so (401 with a hint). Routes then state the role
they need with the typed aliases :data:`Viewer`, :data:`Analyst` and
:data:`Admin` (403 with a hint when the role is too low).

A request authenticated by its session cookie that changes something (POST,
PUT, PATCH, DELETE) must come from the app's own pages: a cross-site
``Origin`` is refused, so another site cannot drive a logged-in browser
(the cookie is also ``SameSite=Lax``). Token callers send no cookies and are
not affected.
"""
from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request

from ..access import Principal, allows, authenticate_token, session_principal
from .deps import get_settings, get_store
from .errors import ApiError

__all__ = ["authenticated", "require", "Viewer", "Analyst", "Admin", "NEED_LOGIN"]

NEED_LOGIN = ("send 'Authorization: Bearer <token>' (an admin makes one with: tiesense tokens create NAME "
              "--role viewer|analyst|admin) or log in with POST /api/login")
_UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def _refuse(error: str) -> ApiError:
    return ApiError(401, error, NEED_LOGIN, {"WWW-Authenticate": "Bearer"})


def authenticated(request: Request) -> Principal:
    """The caller, from a bearer token or the session cookie; 401 when there is neither (or it is not valid)."""
    found = getattr(request.state, "principal", None)
    if found is not None:
        return found
    store, settings = get_store(request), get_settings(request)
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _refuse("the Authorization header must be 'Bearer <token>'")
        who = authenticate_token(store, token.strip())
        if who is None:
            raise _refuse("unknown or revoked token")
    else:
        cookie = request.cookies.get(settings.cookie_name)
        if not cookie:
            raise _refuse("authentication required")
        who = session_principal(store, cookie)
        if who is None:
            raise _refuse("the login session has expired or ended")
        if request.method in _UNSAFE:
            origin = request.headers.get("origin")
            if origin is not None and urlsplit(origin).netloc != request.headers.get("host", ""):
                raise ApiError(403, f"a change from another site ({origin}) with this site's login cookie",
                               "use the tiesense pages, or call the API with a token")
    request.state.principal = who
    return who


def require(role: str):
    """A dependency: the caller, who must have ``role`` or a role above it."""

    def guard(who: Annotated[Principal, Depends(authenticated)]) -> Principal:
        if not allows(who.role, role):
            raise ApiError(403, f"this needs the {role} role; {who.name} is a {who.role}",
                           "ask an admin for a token or login with that role" if role != "analyst" or
                           who.role != "viewer" else "viewers see aggregates only (GET /api/aggregates/...); "
                           "ask an admin for an analyst token or login")
        return who

    guard.__name__ = f"require_{role}"
    return guard


Viewer = Annotated[Principal, Depends(require("viewer"))]
Analyst = Annotated[Principal, Depends(require("analyst"))]
Admin = Annotated[Principal, Depends(require("admin"))]
