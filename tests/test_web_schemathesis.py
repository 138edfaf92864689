"""schemathesis against the web API's own /openapi.json: generated requests for every operation, with an
admin token (so the handlers run rather than refuse), never get a server error (5xx). It found that a
whole number past SQLite's range in a query or path crashed the request; that is a 422 with a hint now.

The default profile makes 25 requests per operation; TIESENSE_API_EXAMPLES=500 is the long one."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from tiesense.store import Store
from tiesense.web import Settings, create_app

from .conftest import _build_web_db

EXAMPLES = int(os.environ.get("TIESENSE_API_EXAMPLES", "25"))
_DB = Path(tempfile.mkdtemp(prefix="tiesense-schemathesis-")) / "web.db"
TOKENS = _build_web_db(_DB)  # the roster, visits, interviews and a token per role, as the other web tests use
APP = create_app(Store(_DB), Settings())
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error(case):
    response = case.call(headers={"Authorization": f"Bearer {TOKENS['admin']}"})
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
    if response.status_code >= 400 and case.path.startswith("/api/"):  # an API refusal says what and what to do
        body = response.json()
        assert body["error"] and body["hint"], body
