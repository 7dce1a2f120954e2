"""GET /api/openapi.json: the HTTP API's contract, triggers/openapi.json as committed. `make
openapi` builds it (dev/tools/openapi_document.py) from the request schemas the app validates with
and triggers/openapi.base.json; tests/api fails while it is stale, and checks it against the
registered routes and the answers they give."""

from __future__ import annotations

import functools
from pathlib import Path

import azure.functions as func

bp = func.Blueprint()
DOCUMENT = Path(__file__).with_name("openapi.json")


@functools.cache
def _document() -> bytes:
    return DOCUMENT.read_bytes()


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(_document(), status_code=200, mimetype="application/json",
                             charset="utf-8")
