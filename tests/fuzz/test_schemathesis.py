"""schemathesis against the app's own OpenAPI document (issue 10): every operation of
GET /api/openapi.json, as served by the app under devhost, called with cases generated from the
document (valid ones and, for the request bodies and parameters, invalid ones), each answer checked
by schemathesis: never a server error; the status code, content type, body and headers are the ones
the document lists for the operation; schema-invalid requests are refused.
"""

from __future__ import annotations

import json

import pytest
import requests
import schemathesis
from fuzzlib import FUZZ, MAX_URL, ROOT, collecting, open_bug
from hypothesis import settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

DOCUMENT = ROOT / "triggers" / "openapi.json"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance, negative_data_rejection]


# The document the app serves (checked below): loaded from its file at collection, as
# schemathesis.pytest.from_fixture (the lazy loader) reads a private attribute pytest 9 no longer
# has. The app's address, known only once it runs, is given with each call.
schema = schemathesis.openapi.from_path(DOCUMENT)


@pytest.fixture
def api(fuzz_app, http):
    app = fuzz_app()
    served = http.get(f"{app.base}/api/openapi.json", timeout=30)
    assert served.status_code == 200 and served.json() == json.loads(DOCUMENT.read_text("utf-8"))
    return app


@pytest.fixture(scope="module")
def http():
    with requests.Session() as session:
        yield session


@schema.parametrize()
@settings(FUZZ, max_examples=max(FUZZ.max_examples // 20, 30))
@collecting
def test_the_app_answers_as_its_document_says(case, api, http, tally):
    count = tally(f"schemathesis {case.operation.method.upper()} {case.operation.path}")
    if len(case.formatted_path or "") > MAX_URL:
        return  # the host's 414, not the app's
    response = case.call(base_url=f"{api.base}/api", session=http, timeout=60)
    instance = (case.path_parameters or {}).get("id")
    listing = case.operation.path == "/restores" and case.method.upper() == "GET"
    if open_bug(response.status_code, instance=instance if isinstance(instance, str) else None,
                since=_last((case.query or {}).get("since")) if listing else None,
                top=_last((case.query or {}).get("top")) if listing else None):
        return
    case.validate_response(response, checks=CHECKS)
    count.cases += 1
    count.statuses[response.status_code] = count.statuses.get(response.status_code, 0) + 1
    if response.status_code >= 400:
        count.rejected += 1
    else:
        count.accepted += 1


def _last(value: object) -> str | None:
    """A query parameter as the app reads it: of a repeated one, the last."""
    if isinstance(value, list):
        value = value[-1] if value else None
    return value if isinstance(value, str) else None
