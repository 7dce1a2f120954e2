"""The app's HTTP API, as the CLI uses it: one requests session, the function key and an Entra ID
token on every call, and every failure turned into a CliError with one line and a hint."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

DEFAULT_URL = "http://localhost:7071"

# Exit codes (docs/cli.md): 0 done, 1 the restore or drill ended unsuccessfully, 2 bad input,
# 3 not found or not possible now, 4 the app could not be reached or refused us, 130 Ctrl-C.
EXIT_FAILED, EXIT_INPUT, EXIT_STATE, EXIT_APP, EXIT_INTERRUPTED = 1, 2, 3, 4, 130


@dataclass
class CliError(Exception):
    """One line saying what went wrong, a hint saying what to do, and the exit code."""
    message: str
    hint: str | None = None
    exit_code: int = EXIT_APP
    code: str | None = None  # the API's error code, when it gave one
    details: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "hint": self.hint,
                          "errors": self.details or None, "exitCode": self.exit_code}}


@dataclass
class Api:
    """`base_url` is the app (http://localhost:7071 for devhost, https://<app>.azurewebsites.net
    deployed); `token` is called for a bearer token on each request (None: no token)."""
    base_url: str = DEFAULT_URL
    function_key: str | None = None
    token: Callable[[], str] | None = None
    timeout: float = 30.0
    session: requests.Session = field(default_factory=requests.Session)

    # ---- restores ------------------------------------------------------------------------------
    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", "/api/restores", json=body)

    def restore(self, instance_id: str) -> dict[str, Any]:
        return self.call("GET", f"/api/restores/{_quote(instance_id)}", what="restore")

    def restores(self, **query: Any) -> dict[str, Any]:
        return self.call("GET", "/api/restores",
                         params={k: v for k, v in query.items() if v is not None})

    def cancel(self, instance_id: str) -> dict[str, Any]:
        return self.call("POST", f"/api/restores/{_quote(instance_id)}/cancel", what="restore")

    def undo(self, instance_id: str, reason: str | None) -> dict[str, Any]:
        return self.call("POST", f"/api/restores/{_quote(instance_id)}/undo",
                         json={"reason": reason} if reason else {}, what="restore")

    def decide(self, instance_id: str, *, approve: bool, approver: str | None,
               comment: str | None) -> dict[str, Any]:
        body = {k: v for k, v in (("approver", approver), ("comment", comment)) if v}
        verb = "approve" if approve else "reject"
        return self.call("POST", f"/api/restores/{_quote(instance_id)}/{verb}", json=body,
                         what="restore")

    # ---- drills --------------------------------------------------------------------------------
    def start_drill(self, plan: str) -> dict[str, Any]:
        return self.call("POST", "/api/drills", json={"plan": plan})

    def drill(self, drill_id: str) -> dict[str, Any]:
        return self.call("GET", f"/api/drills/{_quote(drill_id)}", what="drill")

    def drill_report(self, drill_id: str, fmt: str = "json") -> Any:
        return self.call("GET", f"/api/drills/{_quote(drill_id)}/report",
                         params={"format": fmt}, what="drill", raw=fmt != "json")

    # ---- the catalog ---------------------------------------------------------------------------
    def disks(self, *, resource_group: str | None = None, vm: str | None = None,
              tags: list[str] | None = None, top: int | None = None) -> dict[str, Any]:
        """One page of GET /api/disks: {"value": [...], "nextLink": url | None}."""
        params: dict[str, Any] = {"resourceGroup": resource_group, "vm": vm,
                                  "tag": tags or None, "top": top}
        return self.call("GET", "/api/disks",
                         params={k: v for k, v in params.items() if v is not None})

    def next_page(self, next_link: str) -> dict[str, Any]:
        """The page a nextLink names, asked of --url: the link's path and query only (the app
        may name itself by a host this machine does not reach, e.g. behind a proxy)."""
        link = urlsplit(next_link)
        if not link.path.startswith("/api/"):
            raise CliError(f"the app's nextLink {next_link[:120]!r} is not a page of /api/disks",
                           hint="report it: the catalog's paging is broken")
        return self.call("GET", link.path + (f"?{link.query}" if link.query else ""))

    def recovery_points(self, subscription_id: str, resource_group: str,
                        disk_name: str) -> dict[str, Any]:
        return self.call("GET", f"/api/disks/{_quote(subscription_id)}/{_quote(resource_group)}/"
                                f"{_quote(disk_name)}/recovery-points", what="disk")

    # ---- the wire ------------------------------------------------------------------------------
    def headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "diskrestore-cli/0.1"}
        if self.function_key:
            headers["x-functions-key"] = self.function_key
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token()}"
        return headers

    def call(self, method: str, path: str, *, json: Any = None, params: Any = None,
             what: str | None = None, raw: bool = False) -> Any:
        url = self.base_url.rstrip("/") + path
        try:
            answer = self.session.request(method, url, json=json, params=params,
                                          headers=self.headers(), timeout=self.timeout)
        except requests.ConnectionError as exc:
            raise CliError(f"cannot reach the app at {self.base_url}: {_reason(exc)}",
                           hint="start it locally (make serve, or python -m devhost start) or "
                                "pass --url / set DISKRESTORE_URL to the deployed app") from exc
        except requests.Timeout as exc:
            raise CliError(f"the app at {self.base_url} did not answer within "
                           f"{self.timeout:g} s", hint="try again; check the app's health") from exc
        if answer.status_code >= 400:
            raise _refusal(answer, method, path, what)
        if raw:
            return answer.content
        try:
            return answer.json()
        except ValueError as exc:
            raise CliError(f"{method} {path} answered {answer.status_code} with a body that is "
                           f"not JSON: {answer.text[:120]!r}",
                           hint="is --url the diskrestore app?") from exc


def _quote(value: str) -> str:
    return requests.utils.quote(value, safe="")


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out",
                   "No route to host"):
        if marker in text:
            return marker.lower()
    return text.splitlines()[0][:160]


def _refusal(answer: requests.Response, method: str, path: str, what: str | None) -> CliError:
    """The API's problem details as one line, a hint and an exit code."""
    try:
        problem = answer.json()
    except ValueError:
        problem = {}
    problem = problem if isinstance(problem, dict) else {}
    status = answer.status_code
    detail = problem.get("detail") or answer.text[:200] or answer.reason
    fields: list[dict[str, Any]] = problem["errors"] if isinstance(problem.get("errors"), list) \
        else []
    if status == 400:
        return CliError(f"the app refused the request: {detail}", code="InvalidRequest",
                        hint="fix the named fields (diskrestore COMMAND --help shows examples)",
                        exit_code=EXIT_INPUT, details=fields)
    if status in (401, 403):
        return CliError(f"the app refused us ({status} {answer.reason}) on {method} {path}",
                        hint="pass the function key (--function-key or DISKRESTORE_FUNCTION_KEY)"
                             " and, with App Service authentication, --entra-scope",
                        exit_code=EXIT_APP, code="Unauthorized" if status == 401 else "Forbidden")
    if status == 404:
        hint = {"restore": "list runs with: diskrestore list",
                "drill": "start one with: diskrestore drill start PLAN",
                "disk": "list the protected disks with: diskrestore disks"}.get(what or "",
                                                                            "check --url")
        return CliError(detail if problem else f"{method} {path}: not found (is --url the "
                        f"diskrestore app?)", hint=hint, exit_code=EXIT_STATE, code="NotFound")
    if status == 409:
        return CliError(detail, hint="see its state with: diskrestore status ID",
                        exit_code=EXIT_STATE,
                        code=problem.get("title", "Conflict").replace(" ", ""))
    if status == 503:
        retry = answer.headers.get("Retry-After")
        return CliError(f"the app cannot do this now: {detail}", exit_code=EXIT_APP,
                        hint=f"retry{f' after {retry} s' if retry else ''}; the app's log names "
                             "the cause", code="Unavailable")
    return CliError(f"{method} {path} failed with {status} {answer.reason}"
                    + (f": {detail}" if problem else ""), exit_code=EXIT_APP,
                    hint="see the app's log (Application Insights, or devhost's output)",
                    code=f"Http{status}")
