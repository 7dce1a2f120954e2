"""RFC 9457 problem details: every refusal names the problem (and every bad field)."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

from domain import errors

PROBLEM = "application/problem+json"
# What gateway/storage.py raises when the app's storage account (the ledger, drill reports,
# notices) cannot be used: unreachable, throttled, refused (the data role), or not configured.
STORAGE_FAILURES = (errors.AzureUnavailable, errors.AzureThrottled, errors.AppNotAuthorized,
                    errors.StorageNotConfigured)


def problem(status: int, title: str, detail: str, *, headers: dict[str, str] | None = None,
            **extra: Any) -> func.HttpResponse:
    body = {"type": f"https://diskrestore.dev/problems/{title.lower().replace(' ', '-')}",
            "title": title, "status": status, "detail": detail, **extra}
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype=PROBLEM,
                             headers=headers)


def unavailable(title: str, error: errors.RestoreError, retry_after: str = "60"
                ) -> func.HttpResponse:
    """503 for a storage failure: one line saying what, where and what to check (the hint)."""
    detail = error.message + (f" ({error.hint})" if error.hint else "")
    return problem(503, title, detail, headers={"Retry-After": retry_after})
