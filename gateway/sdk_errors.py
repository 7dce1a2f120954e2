"""SDK and HTTP failures → domain errors, for the failures any ARM call can meet.

| Azure says                                          | domain error        | retryable |
|-----------------------------------------------------|---------------------|-----------|
| Azure Backup's daily limit (any status, a 429 too)  | RestoreBudgetSpent  | no        |
| 401, or the credential cannot get a token           | AppNotAuthorized    | no        |
| 403 (AuthorizationFailed, LinkedAuthorizationFailed) | AppNotAuthorized    | no        |
| 429 (after the SDK's own retries)                   | AzureThrottled      | yes       |
| 408, 5xx (after the SDK's own retries)              | AzureUnavailable    | yes       |
| connection refused / reset / timed out              | AzureUnavailable    | yes       |
| 404 on a looked-up resource                         | None / XNotFound    | (callers) |
| anything else                                       | re-raised untouched |           |

The error code and message are read defensively (reference §3.2: with `"additionalInfo": null`
azure-core leaves `e.error` None): `e.error`, then `e.model.error`, then the body's JSON.
Every domain error is chained to its cause (`raise ... from exc`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from domain import errors
from domain.restore.azure_codes import RESTORE_LIMIT, budget_spent

from .wire import dig

_ACTION_SCOPE = re.compile(r"action '([^']+)' over scope '([^']+)'")
_LINKED = re.compile(r"action\(s\) '([^']+)' on the linked scope\(s\) '([^']+)'")


@dataclass(frozen=True)
class ArmFailure:
    """An ARM error answer, however it reached us (SDK exception or raw response)."""

    status: int | None
    code: str | None
    message: str
    retry_after: float | None = None

    @classmethod
    def of_exception(cls, exc: HttpResponseError) -> ArmFailure:
        code = message = None
        for source in (getattr(exc, "error", None),
                       getattr(getattr(exc, "model", None), "error", None)):
            code = code or getattr(source, "code", None)
            message = message or getattr(source, "message", None)
        response = getattr(exc, "response", None)
        if response is not None and not code:
            body = _body(response)
            code, message = dig(body, "error", "code"), dig(body, "error", "message")
        headers = response.headers if response is not None else {}
        return cls(getattr(exc, "status_code", None), code, str(message or exc.message or exc),
                   retry_after_of(headers))

    @classmethod
    def of_response(cls, response: Any) -> ArmFailure:
        body = _body(response)
        code = dig(body, "error", "code") or dig(body, "code")
        message = dig(body, "error", "message") or dig(body, "message")
        return cls(response.status_code, code if isinstance(code, str) else None,
                   str(message or response.reason or f"HTTP {response.status_code}"),
                   retry_after_of(response.headers))


def _body(response: Any) -> Any:
    try:
        raw = response.text()
        return json.loads(raw) if raw else None
    except (ValueError, TypeError, AttributeError):
        return None


def retry_after_of(headers: Any) -> float | None:
    """Retry-After in seconds (a number or an HTTP date), or None."""
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (ValueError, TypeError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def domain_error(failure: ArmFailure, action: str, scope: str) -> errors.RestoreError | None:
    """The domain error for an authentication, authorization, throttling or outage failure of
    `action` on `scope`; None for everything else (the caller decides)."""
    status, code = failure.status, failure.code or f"HTTP{failure.status}"
    detail = f"{code}: {failure.message}"
    if code in RESTORE_LIMIT:
        # The restore past the backup instance's 10 a day, whichever status it comes with (a 429
        # would otherwise read as throttling and be tried again, all day): never transient.
        return budget_spent(code, failure.message, f"'{action}' on '{scope}'")
    if status == 401:
        return errors.AppNotAuthorized(
            f"ARM refused the app's token for '{action}' on '{scope}' ({detail})",
            hint="check the Function app's managed identity (AZURE_CLIENT_ID) and tenant")
    if status == 403:
        return app_not_authorized(failure, action, scope)
    if status == 429:
        wait = f"; retry after {failure.retry_after:g} s" if failure.retry_after else ""
        return errors.AzureThrottled(f"ARM throttled '{action}' on '{scope}' ({detail}){wait}")
    if status == 408 or (status is not None and status >= 500):
        return errors.AzureUnavailable(f"ARM answered {status} for '{action}' on '{scope}' "
                                       f"({detail})")
    return None


def app_not_authorized(failure: ArmFailure, action: str, scope: str) -> errors.RestoreError:
    linked = _LINKED.search(failure.message)
    found = linked or _ACTION_SCOPE.search(failure.message)
    if found:
        action, scope = found.group(1), found.group(2)
    where = "on the linked scope " if linked else "on "
    return errors.AppNotAuthorized(
        f"the app's identity may not perform '{action}' {where}'{scope}' "
        f"({failure.code or 'HTTP403'}: {failure.message})",
        hint=f"give the Function app's managed identity a role that allows '{action}' at "
             f"'{scope}'")


def is_not_found(exc: HttpResponseError) -> bool:
    return getattr(exc, "status_code", None) == 404


@contextmanager
def translated(action: str, scope: str) -> Iterator[None]:
    """Map the common Azure failures of one call (`action` on `scope`) to domain errors.

    Method-specific answers (404 → None, 409 RoleAssignmentExists, ...) are caught inside the
    block, before they get here. Unknown errors are re-raised untouched."""
    try:
        yield
    except errors.RestoreError:
        raise
    except ClientAuthenticationError as exc:
        if exc.response is not None:
            mapped = domain_error(ArmFailure.of_exception(exc), action, scope)
            if mapped is not None:
                raise mapped from exc
        raise errors.AppNotAuthorized(
            f"the app's credential could not get a token for '{action}' on '{scope}': {exc}",
            hint="check the Function app's managed identity (AZURE_CLIENT_ID) and tenant") \
            from exc
    except HttpResponseError as exc:
        mapped = domain_error(ArmFailure.of_exception(exc), action, scope)
        if mapped is None:
            raise
        raise mapped from exc
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise errors.AzureUnavailable(f"could not reach ARM for '{action}' on '{scope}': "
                                      f"{type(exc).__name__}: {exc}") from exc
