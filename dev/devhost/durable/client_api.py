"""The Durable extension's HTTP API (HttpApiHandler), with its status codes.

Served twice: under `rpcBaseUrl` (`/durabletask/`, what `DurableOrchestrationClient` calls) and
under `/runtime/webhooks/durabletask/` (what the management URLs handed to callers point at).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .engine import DurableEngine, InstanceExistsError, UnknownOrchestratorError, status_json
from .store import TERMINAL

Response = tuple[int, dict[str, str], bytes]
RPC_PREFIX = "/durabletask/"
WEBHOOK_PREFIX = "/runtime/webhooks/durabletask/"
TOKEN_HEADER = "x-ms-continuation-token"  # noqa: S105 - a header name, not a password
PAGE_SIZE = 100  # OrchestrationStatusQueryCondition.PageSize
TABLE_MAX_RESULTS = 1000  # TableConstants.TableServiceMaxResults
_INT32 = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)[ \t\n\v\f\r]*")


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, \
        json.dumps(body).encode()


def _empty(status: int) -> Response:
    return status, {}, b""


def _error(status: int, message: str) -> Response:
    return _json(status, {"Message": message, "ExceptionMessage": message})


class ClientApi:
    def __init__(self, engine: DurableEngine, base_url: str, hub: str) -> None:
        self.engine, self.base_url, self.hub = engine, base_url.rstrip("/"), hub

    # ---- what the durableClient binding receives ---------------------------------------------
    def binding_json(self) -> str:
        base = f"{self.base_url}/runtime/webhooks/durabletask"
        q = f"taskHub={self.hub}&connection=Storage"
        return json.dumps({
            "taskHubName": self.hub,
            "creationUrls": {
                "createNewInstancePostUri":
                    f"{base}/orchestrators/{{functionName}}[/{{instanceId}}]?{q}",
                "createAndWaitOnNewInstancePostUri":
                    f"{base}/orchestrators/{{functionName}}[/{{instanceId}}]?timeout="
                    f"{{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&{q}"},
            "managementUrls": self._management_urls("INSTANCEID"),
            "baseUrl": base, "requiredQueryStringParameters": q,
            "rpcBaseUrl": f"{self.base_url}{RPC_PREFIX}",
        })

    def _management_urls(self, instance_id: str) -> dict[str, str]:
        inst = f"{self.base_url}/runtime/webhooks/durabletask/instances/{instance_id}"
        q = f"taskHub={self.hub}&connection=Storage"
        return {"id": instance_id, "statusQueryGetUri": f"{inst}?{q}",
                "sendEventPostUri": f"{inst}/raiseEvent/{{eventName}}?{q}",
                "terminatePostUri": f"{inst}/terminate?reason={{text}}&{q}",
                "rewindPostUri": f"{inst}/rewind?reason={{text}}&{q}",
                "purgeHistoryDeleteUri": f"{inst}?{q}",
                "restartPostUri": f"{inst}/restart?{q}",
                "suspendPostUri": f"{inst}/suspend?reason={{text}}&{q}",
                "resumePostUri": f"{inst}/resume?reason={{text}}&{q}"}

    # ---- dispatch ------------------------------------------------------------------------------
    def handle(self, method: str, rest: str, query: Mapping[str, str],
               headers: Mapping[str, str], body: bytes) -> Response:
        seg = [s for s in rest.split("/") if s]
        if not seg:
            return _error(404, "Not found")
        if seg[0] == "orchestrators" and method == "POST" and len(seg) in (2, 3):
            return self._start(seg[1], seg[2] if len(seg) == 3 else None, body)
        if seg[0] == "entities":
            return _error(501, "Durable entities are not supported by devhost")
        if seg[0] != "instances":
            return _error(404, f"Unknown durable task route: {rest}")
        if len(seg) == 1:
            return self._collection(method, query, headers)
        instance_id, op = seg[1], seg[2] if len(seg) > 2 else None
        if op is None:
            return self._instance(method, instance_id, query)
        if method != "POST":
            return _error(405, f"{op} requires POST")
        return self._operation(instance_id, op, seg[3:], query, headers, body)

    def _start(self, name: str, instance_id: str | None, body: bytes) -> Response:
        try:
            raw = json.loads(body) if body else None
        except ValueError:
            return _error(400, "The request body is not valid JSON")
        # The SDK posts json=df_dumps(input): a JSON string whose content is JSON text. The
        # extension keeps that string as the input; other JSON bodies are kept as their text.
        input_json = raw if raw is None or isinstance(raw, str) else json.dumps(raw)
        try:
            instance_id = self.engine.start_new(name, instance_id, input_json)
        except UnknownOrchestratorError as exc:
            return _error(400, str(exc))
        except InstanceExistsError as exc:
            return _error(409, str(exc))
        urls = self._management_urls(instance_id)
        return _json(202, urls, {"Location": urls["statusQueryGetUri"]})

    def _instance(self, method: str, instance_id: str, query: Mapping[str, str]) -> Response:
        store = self.engine.store
        if method == "DELETE":
            deleted = self.engine.purge(instance_id)
            return _json(200, {"instancesDeleted": deleted}) if deleted else _empty(404)
        if method != "GET":
            return _error(405, "instances/{id} supports GET and DELETE")
        doc = status_json(store, instance_id, show_history=_flag(query, "showHistory"),
                          show_history_output=_flag(query, "showHistoryOutput"),
                          show_input=query.get("showInput", "true").lower() != "false")
        if doc is None:
            return _empty(404)
        if doc["runtimeStatus"] in TERMINAL:
            return _json(200, doc)
        location = self._management_urls(instance_id)["statusQueryGetUri"]
        return _json(202, doc, {"Location": location, "Retry-After": "10"})

    def _collection(self, method: str, query: Mapping[str, str],
                    headers: Mapping[str, str]) -> Response:
        try:
            filters = {
                "created_from": _time(query.get("createdTimeFrom")),
                "created_to": _time(query.get("createdTimeTo")),
                "statuses": [s for s in query.get("runtimeStatus", "").split(",") if s] or None,
                "prefix": query.get("instanceIdPrefix") or None,
            }
        except ValueError as exc:
            return _error(400, f"Bad query parameter: {exc}")
        if method == "DELETE":
            rows = self.engine.store.query(**filters)
            deleted = sum(self.engine.purge(r["id"]) for r in rows)
            return _json(200, {"instancesDeleted": deleted}) if deleted else _empty(404)
        if method != "GET":
            return _error(405, "instances supports GET and DELETE")
        # HttpApiHandler.HandleGetStatusRequestAsync: `top` only if int.TryParse takes it (else
        # OrchestrationStatusQueryCondition.PageSize's default, 100); the token only from the
        # request header. Azure Storage's TableQuery refuses a take count below 1 (an
        # ArgumentException: 400) and sends $top=min(take, 1000).
        top = _int32(query.get("top"))
        page_size = PAGE_SIZE if top is None else top
        if page_size < 1:
            return _json(400, {"Message": "One or more of the arguments submitted is incorrect",
                               "ExceptionMessage": "Take count must be positive and greater "
                                                   "than 0."})
        try:
            start = _read_token(headers.get(TOKEN_HEADER) or "")
        except ValueError as exc:  # Convert.FromBase64String or the JSON reader throws: 500
            return _json(500, {"Message": "Something went wrong while processing your request",
                               "ExceptionMessage": str(exc)})
        rows, following = self.engine.store.page(**filters, start=start,
                                                 size=min(page_size, TABLE_MAX_RESULTS))
        # OrchestrationStatusQueryCondition.ShowInput defaults to true for lists as well
        show_input = query.get("showInput", "true").strip().lower() != "false"
        docs = [status_json(self.engine.store, r["id"], show_input=show_input) for r in rows]
        # The header is always added; with no more pages its value is null, which .NET's
        # HttpHeaders.Add writes as an empty value: "no more" is an empty token, not no header.
        return _json(200, docs, {TOKEN_HEADER: _token(following) if following else ""})

    def _operation(self, instance_id: str, op: str, extra: list[str], query: Mapping[str, str],
                   headers: Mapping[str, str], body: bytes) -> Response:
        row = self.engine.store.instance(instance_id)
        if row is None:
            return _empty(404)
        done = row["status"] in TERMINAL
        reason = query.get("reason")
        if op == "raiseEvent" and len(extra) == 1:
            if done:
                return _empty(410)
            if "application/json" not in headers.get("Content-Type", "").lower():
                return _error(400, "Only application/json request content is supported")
            try:
                data = json.loads(body) if body else None
            except ValueError:
                return _error(400, "The request body is not valid JSON")
            # The SDK posts json=json.dumps(data): the event input is that JSON *string*
            # (azure-functions-durable-python issue #295). Reproduced, not fixed.
            self.engine.raise_event(instance_id, extra[0], json.dumps(data))
            return _empty(202)
        if op in ("terminate", "suspend", "resume"):
            if done:
                return _empty(410)
            getattr(self.engine, op)(instance_id, reason)
            return _empty(202)
        if op == "restart":
            new_id = None if query.get("restartWithNewInstanceId", "true").lower() == "true" \
                else instance_id
            started = self.engine.start_new(row["name"], new_id, row["input"])
            urls = self._management_urls(started)
            return _json(202, urls, {"Location": urls["statusQueryGetUri"]})
        if op == "rewind":
            return _error(501, "rewind is not supported by devhost")
        return _error(404, f"Unknown instance operation: {op}")


def _flag(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "false").lower() == "true"


def _time(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _int32(text: str | None) -> int | None:
    """.NET int.TryParse (NumberStyles.Integer): None where it would fail, overflow included."""
    match = _INT32.fullmatch(text or "")
    if match is None:
        return None
    value = int(match.group(1))
    return value if -2**31 <= value < 2**31 else None


def _token(next_id: str) -> str:
    """Opaque, like DTFx's (base64 of the Table service's continuation as JSON): where the next
    page starts."""
    doc = {"NextPartitionKey": next_id, "NextRowKey": ""}
    return base64.b64encode(json.dumps(doc).encode()).decode()


def _read_token(token: str) -> str | None:
    if not token:  # string.IsNullOrEmpty: from the start
        return None
    try:
        doc = json.loads(base64.b64decode(token.strip(), validate=True))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"The continuation token {token[:100]!r} is not valid: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("NextPartitionKey"), str):
        raise ValueError(f"The continuation token {token[:100]!r} is not valid")
    return doc["NextPartitionKey"]
