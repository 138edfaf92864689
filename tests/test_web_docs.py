"""docs/api.md's route table is the contract: every route of /openapi.json is in it, and each needs
exactly the role the table says (the role below it is refused with 403, the role itself is not)."""
from __future__ import annotations

import re

from .conftest import ROOT

ROLES = ("viewer", "analyst", "admin")


def documented() -> dict[tuple[str, str], str]:
    rows = re.findall(r"^\| `(GET|POST|PUT|PATCH|DELETE) ([^`]+)` \| (\w+) \|", (ROOT / "docs" / "api.md").read_text(),
                      re.M)
    return {(m, p): role for m, p, role in rows}


def test_every_route_is_documented_with_its_role(web):
    spec = web.client.get("/openapi.json").json()
    served = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    docs = documented()
    assert served == set(docs), f"undocumented: {served - set(docs)}; gone: {set(docs) - served}"
    for (method, path), role in docs.items():
        url = re.sub(r"\{kind\}", "ties", re.sub(r"\{(code|qid|cid)\}", "999", re.sub(r"\{[^}]+\}", "x", path)))
        if role == "anyone":
            continue
        allowed = web.client.request(method, url, headers=web.as_(role))
        assert allowed.status_code != 403, (method, path, role, allowed.text)
        if role != "viewer":
            below = ROLES[ROLES.index(role) - 1]
            refused = web.client.request(method, url, headers=web.as_(below))
            assert refused.status_code == 403, (method, path, below, refused.status_code)
