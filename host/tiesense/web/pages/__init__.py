"""The dashboards: server-rendered pages over the same library functions as the API.

Each page is a router here (``overview``, ``network``, ``fleet``, ``data``),
plus the live event stream (``live``) and the frame and assets (``render``).
:data:`ROUTERS` is what :func:`tiesense.web.create_app` includes when it is
not given other ``pages``; every route is behind the login (a browser without
a session is sent to ``/login``), states its role as the API's routes do, and
is left out of the OpenAPI document (pages are HTML; docs/dashboards.md lists
them). Text is English or Korean (:mod:`.i18n`); charts are drawn by plotly.js:
each chart page's partial bundle (:mod:`.bundles`) or the full bundle of the installed ``plotly`` package.
"""
from __future__ import annotations

import threading

from . import data, fleet, live, network, overview, render

__all__ = ["ROUTERS", "warm"]

#: Every router of the dashboards, in the order included.
ROUTERS = (render.router, overview.router, network.router, fleet.router, data.router, live.router)


def _warm() -> None:
    import tiesense.estimates  # noqa: F401 - numpy, scipy and the Cython kernels the network page uses
    import tiesense.ties.cluster  # noqa: F401

    for page in render.bundles.BUNDLES:  # each page's plotly.js bundle verified, read and gzipped once
        if render._bundle(page) is None:
            render._plotly()  # without it the page loads plotly's full bundle


def warm() -> threading.Thread:
    """Load in the background what the first network page and plotly.js would otherwise load while a
    browser waits (about 0.7 s here); returns the thread (a daemon)."""
    thread = threading.Thread(target=_warm, name="tiesense-pages-warm", daemon=True)
    thread.start()
    return thread
