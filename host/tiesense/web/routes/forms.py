"""Forms and their versions: list, read a version, publish a new one (compiled, or an XLSForm with the roster)."""
from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ...aggregates import all_forms
from ...forms import FormError, _check_form
from ...publishing import NoRoster, PublishError, compile_with_roster, publish
from ...xlsform import FormRefused
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


@router.post("/api/forms/xlsform", status_code=201, openapi_extra={"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string",
                                                                                  "format": "binary"}}}}}}})
async def publish_xlsform(request: Request, response: Response, store: StoreDep, who: Admin,
                          target: Literal["kiosk", "handheld"] = Query(alias="for", description="The device"),
                          roster: bool = Query(True, description="Put the host's current roster in the form's "
                                                                 "roster list (false: keep its own rows)"),
                          wave: str | None = Query(None, max_length=64, description="The wave of records that "
                                                                                    "carry no wave answer"),
                          version: str | None = Query(None, min_length=1, max_length=32, pattern=r"^[0-9]+$",
                                                      description="Publish as this version instead of the form's "
                                                                  "own")) -> dict:
    """Compile an XLSForm (.xlsx, .xls, .md or .csv: the body, or a form upload in ``file``) for a device with
    the host's current roster in its roster list, and publish it, as ``tiesense forms publish FORM --for X``
    does (:func:`tiesense.publishing.compile_with_roster`, then the checks of ``POST /api/forms``)."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        upload = (await request.form()).get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(422, "no file in the upload", "send the XLSForm in a form field called file")
        data = await upload.read()
    else:
        data = await request.body()
    if not data:
        raise ApiError(422, "no XLSForm in the request", "send the workbook as the body or in a form field file")
    try:
        form = (await run_in_threadpool(compile_with_roster, store, data, target, roster=roster)).form
    except FormRefused as e:
        raise ApiError(422, f"the form cannot run on a {target}: {e}", "change each row named, or compile for the "
                       "other device") from None
    except NoRoster as e:
        raise ApiError(409, str(e), "POST /api/roster with the park's roster CSV, or publish with roster=false") \
            from None
    try:
        created = await run_in_threadpool(publish, store, form, wave=wave, version=version)
    except PublishError as e:
        raise ApiError(409, str(e), "publish the changed form under a new, higher version") from None
    forms = await run_in_threadpool(store.forms)
    stored = {(f["id"], f["version"]): f for f in forms}[(form["id"], version or form["version"])]
    if not created:
        response.status_code = 200
    elif request.app.state.on_form is not None:
        request.app.state.on_form(stored)
    return {"id": stored["id"], "version": stored["version"], "created": created,
            "roster_version": stored.get("roster_version")}
