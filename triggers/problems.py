"""RFC 9457 problem details: every refusal names the problem (and every bad field)."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, *, headers: dict[str, str] | None = None,
            **extra: Any) -> func.HttpResponse:
    body = {"type": f"https://diskrestore.dev/problems/{title.lower().replace(' ', '-')}",
            "title": title, "status": status, "detail": detail, **extra}
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype=PROBLEM,
                             headers=headers)
