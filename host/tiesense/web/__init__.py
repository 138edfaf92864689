"""The web side of the host: a FastAPI app over the store, the estimators and the exports.

:func:`~tiesense.web.app.create_app` builds it; ``tiesense serve --api HOST:PORT``
runs it beside the ingest, ``tiesense serve --api-only`` on its own. One module
per concept: :mod:`.config` (settings), :mod:`.errors` (JSON errors with a
hint), :mod:`.paging` (limit/offset pages with a total), :mod:`.auth` (who is
calling, and the role guards), :mod:`.deps` (the store and settings as
dependencies), and one router per resource in :mod:`.routes`. Server-rendered
pages (dashboards) are routers beside them in the same app. Importing this
package imports FastAPI: the service and the CLI import it only when asked to serve.
"""
from .app import create_app
from .config import Settings

__all__ = ["create_app", "Settings"]
