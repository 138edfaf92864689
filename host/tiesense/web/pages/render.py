"""What every page shares: the Jinja2 templates, the page frame (navigation, language switch, live counter),
the refusal page for a role too low, and the assets (plotly.js from the installed plotly package, the style
sheet and the pages' script).

plotly.js is never fetched from a CDN nor kept in this repository. A chart page loads the partial bundle
of its trace types (``GET /assets/plotly/<page>.js``: :mod:`.bundles`, installed from npm by ``tiesense
assets install``, verified against pinned digests) when it is installed, else ``GET /assets/plotly.js``,
``plotly.offline.get_plotlyjs()`` of the installed ``plotly``. Each is gzipped once per process when the
browser accepts it and cached by the browser under its version.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import logging
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ...access import Principal
from ...access import allows
from ..auth import Viewer
from ..routes.session import _safe_next
from . import bundles
from .i18n import COOKIE, LANGS, lang_of, translator

__all__ = ["router", "render", "refuse", "HERE"]

HERE = Path(__file__).parent
log = logging.getLogger("tiesense.web")
router = APIRouter(include_in_schema=False)

#: The pages in the navigation: (path, message key, lowest role that may open it).
NAV = (("/overview", "nav.overview", "viewer"), ("/network", "nav.network", "viewer"),
       ("/fleet", "nav.fleet", "analyst"), ("/data", "nav.data", "viewer"))


@functools.lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                       trim_blocks=True, lstrip_blocks=True)


def render(request: Request, who: Principal, template: str, status_code: int = 200, **context) -> HTMLResponse:
    """``template`` with the frame's context: ``t`` (the request's language), ``lang``, ``who``, ``nav``,
    ``path``, ``asset`` (asset URLs with a version) and ``context``."""
    lang = lang_of(request)
    nav = [(p, key) for p, key, role in NAV if allows(who.role, role)]
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    html = _env().get_template(template).render(t=translator(lang), lang=lang, langs=LANGS, who=who, nav=nav,
                                                path=request.url.path, here=quote(here, safe=""),
                                                plotly_src=plotly_src, static_version=_static_version(),
                                                **context)
    return HTMLResponse(html, status_code=status_code)


def refuse(request: Request, who: Principal, role: str) -> HTMLResponse:
    """The page a caller whose role is too low gets instead (403), in their language."""
    return render(request, who, "forbidden.html", status_code=403, role=role)


# ------------------------------------------------------------------ assets

@functools.lru_cache(maxsize=1)
def _plotly() -> tuple[str, bytes, bytes]:
    """(plotly version, plotly.js bytes, the same gzipped), read from the installed package once."""
    import plotly
    from plotly.offline import get_plotlyjs

    body = get_plotlyjs().encode("utf-8")
    return plotly.__version__, body, gzip.compress(body, 6)


@functools.lru_cache(maxsize=None)
def _bundle(page: str) -> tuple[str, bytes, bytes] | None:
    """(version, bytes, gzipped) of the partial plotly.js bundle of ``page``, read once; None without one."""
    try:
        return bundles.script(page)
    except (bundles.BundleError, OSError) as e:  # a damaged install: the page still works on the full bundle
        log.warning("plotly.js bundle of the %s page not used: %s", page, e)
        return None


def plotly_src(page: str) -> str:
    """The URL of the plotly.js a chart page loads: its partial bundle if installed, else the full one."""
    bundle = _bundle(page)
    if bundle is not None:
        return f"/assets/plotly/{page}.js?v={bundle[0]}"
    return f"/assets/plotly.js?v={_plotly()[0]}"


@functools.lru_cache(maxsize=1)
def _static_version() -> str:
    h = hashlib.sha256()
    for p in sorted((HERE / "static").iterdir()):
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


_YEAR = "public, max-age=31536000, immutable"  # the URL carries the version: a new one is a new URL


@router.get("/assets/plotly.js")
def plotly_js(request: Request, who: Viewer) -> Response:
    """plotly.js of the installed plotly package."""
    version, body, packed = _plotly()
    headers = {"Cache-Control": _YEAR, "ETag": f'"plotly-{version}"', "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(packed, media_type="text/javascript", headers=dict(headers, **{"Content-Encoding": "gzip"}))
    return Response(body, media_type="text/javascript", headers=headers)


@router.get("/assets/plotly/{page}.js")
def plotly_bundle(page: str, request: Request, who: Viewer) -> Response:
    """The partial plotly.js bundle of a chart page (``network``, ``overview``), when installed."""
    bundle = _bundle(page) if page in bundles.BUNDLES else None
    if bundle is None:
        return Response(f"no plotly.js bundle for {page!r} is installed: run tiesense assets install",
                        status_code=404, media_type="text/plain")
    version, body, packed = bundle
    headers = {"Cache-Control": _YEAR, "ETag": f'"plotly-{page}-{version}"', "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(packed, media_type="text/javascript", headers=dict(headers, **{"Content-Encoding": "gzip"}))
    return Response(body, media_type="text/javascript", headers=headers)


_STATIC = {"dash.js": "text/javascript", "dash.css": "text/css"}


@router.get("/assets/{name}")
def static(name: str, who: Viewer) -> Response:
    """The pages' script and style sheet."""
    if name not in _STATIC:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response((HERE / "static" / name).read_bytes(), media_type=_STATIC[name],
                    headers={"Cache-Control": _YEAR})


# ------------------------------------------------------------------ the frame

@router.get("/")
def home(who: Viewer) -> RedirectResponse:
    """The dashboards start at the park overview."""
    return RedirectResponse("/overview", status_code=303)


@router.get("/lang/{code}")
def switch_language(code: str, who: Viewer, next: str | None = None) -> RedirectResponse:
    """Remember the interface language (a cookie for a year) and go back to ``next``."""
    response = RedirectResponse(_safe_next(next, "/overview"), status_code=303)
    if code in LANGS:
        response.set_cookie(COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
    return response
