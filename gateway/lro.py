"""ARM long-running operations, started and polled one request at a time (no SDK pollers).

Starting sends the request through the client's own pipeline (`client.send_request`: the
client's authentication, retry and logging policies apply) and reads the answer into an
`Operation`:

* `Azure-AsyncOperation` present: `status_url` = that header verbatim, `result_url` = `Location`
  (Data Protection validateRestore/restore, Compute power actions, VM PATCH).
* 202 with `Location` only: `status_url` = `result_url` = `Location` (Compute
  attachDetachDataDisks). Equal URLs mean "poll the Location: 202 running, 200/204 done".
* Finished synchronously (a 200/201/204 with nothing to poll, or a 4xx refusal other than
  401/403/408/429): `status_url` = None and `result_url` = a `data:application/json,...` URL
  holding the outcome (`{"jobId": ...}` or `{"error": {"code", "message"}}`), or None when there
  is nothing to carry. `get_operation` answers it without a request, so an operation that Azure
  refused at once reads exactly like one that failed later: `OperationStatus(failed, code, msg)`.
  401/403 raise AppNotAuthorized, 429 AzureThrottled, 408/5xx AzureUnavailable instead.
* A PUT/PATCH answered 200/201 with a non-terminal `provisioningState` and no header: the
  resource URL is polled for its `provisioningState`.

`retry_after` is the start answer's `Retry-After` (seconds), else None.

A failure carries the service's `isRetryable` (Data Protection's UserFacingError field) as
`OperationStatus.retryable` when the error object says it (or, failing that, its first detail):
where the service puts it on a failed validate/restore is not documented, so both are read.

Polling GETs `status_url` verbatim (signed query parameters and all) and maps the status
case-insensitively: `Succeeded` → succeeded; `Failed`, `Canceled`/`Cancelled` → failed (with the
status body's `error.code`/`error.message`); anything else (`Inprogress`, `InProgress`,
`Accepted`, ...) → running. A restore's `properties.jobId` becomes `job_id`; if a succeeded
restore's status has none, the `Location` result is read for it. Status URLs are followed only on
the configured ARM host, so the app's token never goes anywhere else.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from azure.core.rest import HttpRequest

from domain.model import Operation, OperationStatus

from .clients import ClientsFor
from .sdk_errors import ArmFailure, domain_error, retry_after_of, translated
from .wire import dig

# The SDKs' default api-versions (tests check they still match the installed SDKs).
DATAPROTECTION_API = "2026-06-01"
VM_API = "2026-04-01"
DISK_API = "2026-03-02"

DATA_URL = "data:application/json,"
_BACKUP_KINDS = ("validate", "restore")
_SUBSCRIPTION = re.compile(r"/subscriptions/([^/?#]+)", re.IGNORECASE)
_TERMINAL = {"succeeded": "succeeded", "failed": "failed", "canceled": "failed",
             "cancelled": "failed"}


def finished(kind: str, body: Any = None) -> Operation:
    """An operation that is already over; `body` is the final answer (or an ARM error)."""
    summary: dict[str, Any] = {}
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        summary["error"] = {"code": dig(body, "error", "code"),
                            "message": dig(body, "error", "message")}
        if (retryable := is_retryable(body["error"])) is not None:
            summary["error"]["isRetryable"] = retryable
    elif isinstance(job := dig(body, "jobId"), str):
        summary["jobId"] = job
    result = DATA_URL + quote(json.dumps(summary, separators=(",", ":"))) if summary else None
    return Operation(kind=kind, status_url=None, result_url=result)


def is_retryable(error: Any) -> bool | None:
    """An error object's `isRetryable` (or its first detail's), when it is a boolean."""
    for source in (error, dig(error, "details", 0)):
        value = dig(source, "isRetryable")
        if isinstance(value, bool):
            return value
    return None


def _outcome(kind: str, body: Any) -> OperationStatus:
    """The status of a finished operation from its final body."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return OperationStatus("failed", dig(body, "error", "code") or "OperationFailed",
                               dig(body, "error", "message"), retryable=is_retryable(body["error"]))
    job = dig(body, "jobId")
    return OperationStatus("succeeded", job_id=job if isinstance(job, str) else None)


class Lro:
    def __init__(self, clients_for: ClientsFor, arm_endpoint: str | None = None) -> None:
        self._clients_for = clients_for
        self._origin = _origin(arm_endpoint) if arm_endpoint else None

    # ---- start ----------------------------------------------------------------------------
    def start(self, kind: str, client: Any, method: str, path: str, api_version: str,
              body: Any = None, *, action: str, scope: str,
              headers: dict[str, str] | None = None) -> Operation:
        """Send `method path` (an ARM resource path) and read its answer into an Operation."""
        request = HttpRequest(method, quote(path, safe="/()-._~"),
                              params={"api-version": api_version}, json=body,
                              headers=headers or {})
        with translated(action, scope):
            response = client.send_request(request)
        return self._started(kind, response, method, action, scope)

    def _started(self, kind: str, response: Any, method: str, action: str, scope: str
                 ) -> Operation:
        status = response.status_code
        if status >= 400:
            failure = ArmFailure.of_response(response)
            mapped = domain_error(failure, action, scope)
            if mapped is not None:
                raise mapped
            return finished(kind, {"error": {
                "code": failure.code or f"HTTP{status}", "message": failure.message,
                "isRetryable": is_retryable(dig(_json(response), "error"))}})
        retry_after = retry_after_of(response.headers)
        async_url = response.headers.get("Azure-AsyncOperation")
        location = response.headers.get("Location")
        if async_url:
            return Operation(kind, async_url, location, retry_after)
        if status == 202 and location:
            return Operation(kind, location, location, retry_after)
        body = _json(response)
        state = dig(body, "properties", "provisioningState")
        if method in ("PUT", "PATCH") and isinstance(state, str) \
                and state.lower() not in _TERMINAL:
            return Operation(kind, str(response.request.url), None, retry_after)
        if isinstance(state, str) and _TERMINAL.get(state.lower()) == "failed":
            return finished(kind, {"error": {"code": f"Provisioning{state}",
                                             "message": f"provisioningState is {state}"}})
        return finished(kind, body)

    # ---- poll -----------------------------------------------------------------------------
    def poll(self, operation: Operation) -> OperationStatus:
        if operation.status_url is None:
            return _outcome(operation.kind, _decode(operation.result_url))
        response = self._get(operation, operation.status_url)
        if response.status_code == 202:
            return OperationStatus("running")
        if response.status_code >= 400:
            return self._failed(operation, response)
        body = _json(response)
        if operation.status_url == operation.result_url:  # Location polling: 200 = done
            return _outcome(operation.kind, body)
        status = dig(body, "status")
        if isinstance(status, str):
            return self._from_status(operation, status, body)
        state = dig(body, "properties", "provisioningState")
        if isinstance(state, str):
            return self._from_status(operation, state, {"error": dig(body, "error")})
        return _outcome(operation.kind, body)

    def _from_status(self, operation: Operation, status: str, body: Any) -> OperationStatus:
        state = _TERMINAL.get(status.lower(), "running")
        if state == "running":
            return OperationStatus("running")
        if state == "failed":
            code = dig(body, "error", "code")
            return OperationStatus(
                "failed", code if isinstance(code, str) and code else f"Operation{status}",
                dig(body, "error", "message") or f"the operation ended {status}",
                retryable=is_retryable(dig(body, "error")))
        job = dig(body, "properties", "jobId")
        if isinstance(job, str) and job:
            return OperationStatus("succeeded", job_id=job)
        if operation.kind == "restore" and operation.result_url:
            return self._result(operation)
        return OperationStatus("succeeded")

    def _result(self, operation: Operation) -> OperationStatus:
        """The final `Location` answer of an operation whose status carried no result."""
        assert operation.result_url is not None
        response = self._get(operation, operation.result_url)
        if response.status_code == 202:
            return OperationStatus("running")
        if response.status_code >= 400:
            return self._failed(operation, response)
        return _outcome(operation.kind, _json(response))

    def _failed(self, operation: Operation, response: Any) -> OperationStatus:
        failure = ArmFailure.of_response(response)
        mapped = domain_error(failure, f"{operation.kind} operation status",
                              _strip_query(str(response.request.url)))
        if mapped is not None:
            raise mapped
        return OperationStatus("failed", failure.code or f"HTTP{failure.status}",
                               failure.message, retryable=is_retryable(dig(_json(response),
                                                                           "error")))

    def _get(self, operation: Operation, url: str) -> Any:
        self._check_origin(url)
        match = _SUBSCRIPTION.search(urlsplit(url).path)
        if match is None:
            raise ValueError(f"not an ARM operation URL: {_strip_query(url)}")
        clients = self._clients_for(match.group(1))
        client = clients.dataprotection if operation.kind in _BACKUP_KINDS else clients.compute
        with translated(f"{operation.kind} operation status", _strip_query(url)):
            return client.send_request(HttpRequest("GET", url))

    def _check_origin(self, url: str) -> None:
        if self._origin is not None and _origin(url) != self._origin:
            raise ValueError(f"refusing to send the app's token to {_origin(url)}: operation "
                             f"URLs must be on the ARM endpoint {self._origin}")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _strip_query(url: str) -> str:
    return url.split("?", 1)[0]


def _json(response: Any) -> Any:
    try:
        raw = response.text()
        return json.loads(raw) if raw and raw.strip() else None
    except ValueError:
        return None


def _decode(url: str | None) -> Any:
    if not url:
        return None
    if not url.startswith(DATA_URL):
        raise ValueError("an operation without a status URL carries its result as a data: URL")
    return json.loads(unquote(url[len(DATA_URL):]))
