"""The app factory: one FastAPI app over one store, its routers, its error handlers."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from fastapi import APIRouter, Depends, FastAPI

from .. import __version__
from ..store import Store
from . import errors
from .auth import authenticated
from .config import Settings
from .routes import (aggregates, devices, estimates, exports, forms, health, organisations, quarantine, records,
                     session)

__all__ = ["create_app", "PROTECTED_ROUTERS", "OPEN_ROUTERS"]

#: Routers every caller must be authenticated for (each route also states its role).
PROTECTED_ROUTERS = (session.protected, organisations.router, devices.router, forms.router, records.router,
                     estimates.router, aggregates.router, quarantine.router, exports.router)
#: Routers open to anonymous callers: health, and the login itself.
OPEN_ROUTERS = (health.router, session.router)


def create_app(store: Store | str | Path, settings: Settings | None = None, *,
               on_batch: Iterable[Callable] = (), on_form: Callable[[dict], None] | None = None,
               pages: Iterable[APIRouter] | None = None) -> FastAPI:
    """The tiesense web app over ``store`` (a :class:`~tiesense.store.Store`, or a database path to open).

    Parameters
    ----------
    store : Store or path
        Shared with the ingest when both run in one process; a path opens the
        file (created and migrated if needed) for an API-only process.
    settings : Settings
    on_batch : callables
        Called with the :class:`~tiesense.ingest.BatchReport` of a re-ingested
        quarantine record, as the ingest's subscribers are (live estimates).
    on_form : callable or None
        Called with a form published through the API, after it is stored: the
        host registers it for ingest checks and sends it to the devices.
    pages : APIRouters or None
        Server-rendered pages, included like the API's routers (None: the
        dashboards, :data:`tiesense.web.pages.ROUTERS`; ``()``: none):
        every caller authenticated (a browser without a session is sent to
        ``/login?next=...``); a page states its role with the same guards
        (:data:`~tiesense.web.auth.Viewer`...) and reads through the same
        library functions as the API.

    Examples
    --------
    >>> from fastapi.testclient import TestClient
    >>> client = TestClient(create_app(Store(":memory:")))
    >>> client.get("/api/health").json()["status"], client.get("/api/records").status_code
    ('ok', 401)
    """
    if not isinstance(store, Store):
        store = Store(store)
    app = FastAPI(title="tiesense", version=__version__,
                  summary="Survey records, tie estimates and exports of a techno-park's sensing kit",
                  description="Every route but /api/health and the login needs a token (Authorization: Bearer) "
                              "or a login session. Roles: viewer (aggregates, k-anonymous), analyst (every row "
                              "and export), admin (also roster, forms, devices, quarantine). Errors are "
                              '{"error", "hint"}. See docs/api.md.')
    app.state.store = store
    app.state.settings = settings or Settings()
    app.state.on_batch = list(on_batch)
    app.state.on_form = on_form
    errors.install(app)
    for router in OPEN_ROUTERS:
        app.include_router(router)
    for router in PROTECTED_ROUTERS:
        app.include_router(router, dependencies=[Depends(authenticated)], responses=errors.ERRORS)
    if pages is None:
        from .pages import ROUTERS as pages, warm  # Jinja2 and plotly: only for an app that serves the pages

        warm()
    for router in pages:
        app.include_router(router, dependencies=[Depends(authenticated)])
    return app
