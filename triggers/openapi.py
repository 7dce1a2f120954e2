"""GET /api/openapi.json: the HTTP API's contract (triggers/openapi.json, checked against the
registered routes and the answers they give by tests/api)."""

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
