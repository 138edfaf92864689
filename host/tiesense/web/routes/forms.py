"""Forms and their versions: list, read a version, publish a new one."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request, Response

from ...aggregates import all_forms
from ...forms import FormError, _check_form
from ...publishing import PublishError, publish
from ..auth import Admin, Viewer
from ..deps import StoreDep
from ..errors import ApiError
from ..paging import Page, PagingDep, sliced

router = APIRouter(tags=["forms"])


def _summary(f: dict, published: dict) -> dict:
    return {"id": f["id"], "version": f["version"], "title": f.get("title"), "questions": len(f["questions"]),
            "published_at": published.get((f["id"], f["version"]))}


@router.get("/api/forms", response_model=Page)
def list_forms(store: StoreDep, who: Viewer, paging: PagingDep, form_id: str | None = None):
    """Every form version the host knows (published or built in), by id and version."""
    published = {(r["form_id"], r["version"]): r["published_at"] for r in store.rows("forms")}
    forms = sorted((f for f in all_forms(store) if form_id is None or f["id"] == form_id),
                   key=lambda f: (f["id"], len(f["version"]), f["version"]))
    return sliced(paging, [_summary(f, published) for f in forms])


@router.get("/api/forms/{form_id}/{version}")
def get_form(form_id: str, version: str, store: StoreDep, who: Viewer) -> dict:
    """One form version as devices run it (questions, choices, labels)."""
    for f in all_forms(store):
        if f["id"] == form_id and f["version"] == version:
            return f
    raise ApiError(404, f"no version {version!r} of form {form_id!r}", "GET /api/forms lists them")


@router.post("/api/forms", status_code=201)
def publish_form(request: Request, response: Response, store: StoreDep, who: Admin,
                 form: dict[str, Any] = Body(description="A compiled device form: id, version, questions")) -> dict:
    """Publish a form version (a compiled device form as JSON). A published version never changes:
    the same content again is accepted (200), other content under the same version is refused (409), and
    so is a version not newer than a published one or one that gives a question another type
    (:mod:`tiesense.publishing`, as ``tiesense forms publish``)."""
    try:
        form = _check_form(form, "form")
    except FormError as e:
        raise ApiError(422, str(e), "a device form is a JSON object with id, version and questions "
                       "(see host/tiesense/instruments/*.json)") from None
    try:
        created = publish(store, form)
    except PublishError as e:
        raise ApiError(409, str(e), "publish the changed form under a new, higher version") from None
    if not created:
        response.status_code = 200
    elif request.app.state.on_form is not None:  # the host checks records against it and sends it to devices
        request.app.state.on_form(form)
    return {"id": form["id"], "version": form["version"], "created": created}
