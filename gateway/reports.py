"""Drill reports in blob storage (the app's storage account; Azurite locally), drill failure
notifications (a Storage queue message or a webhook), and the drill's verification webhook.

Blobs, per plan: `<plan>/<drill id>.json` (the report), `<plan>/<drill id>.html` (the page) and
`<plan>/<drill id>.summary.json` (the summary alone, read back for the next drills' trend);
`.write-check` at the container's root is what `check_writable` writes when a drill starts.
Storage is reached as the host reaches it, and its failures are domain errors with one line
naming the container or queue, the endpoint and what to check (gateway/storage.py).
"""

from __future__ import annotations

import base64
import functools
import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContainerClient, ContentSettings

from settings import Settings

from .storage import blob_service, queue_client, translated

TREND = 30  # earlier drills (readiness runs) in a report's trend
# Readiness reports live under `_readiness/` in the same container: a drill plan's name never
# starts with "_" (domain/drills/drill_plan.py), so no plan's reports or trend mix with them.
READINESS_PREFIX = "_readiness"
_KINDS = {"json": "application/json", "html": "text/html; charset=utf-8"}


class ReportStore:
    def __init__(self, container: ContainerClient, settings: Settings) -> None:
        self._container, self._settings = container, settings

    @classmethod
    def from_settings(cls, settings: Settings) -> ReportStore:
        container = blob_service(settings.storage).get_container_client(
            settings.drill_reports_container)
        store = cls(container, settings)
        with store._translated():
            try:
                container.create_container()
            except ResourceExistsError:
                pass
        return store

    def _translated(self) -> Any:
        return translated(f"the drill report store (container {self._container.container_name})",
                          "blob", self._container.url)

    def check_writable(self) -> None:
        """Write `.write-check`, so a drill that could not write its report is refused when it
        starts, not after it has restored every disk."""
        with self._translated():
            self._container.upload_blob(".write-check", datetime.now(UTC).isoformat().encode(),
                                        overwrite=True)

    def previous_summaries(self, plan: str) -> list[dict[str, Any]]:
        with self._translated():
            names = sorted(b.name for b in self._container.list_blobs(name_starts_with=f"{plan}/")
                           if b.name.endswith(".summary.json"))
            return [json.loads(self._container.download_blob(n).readall())
                    for n in names[-TREND:]]

    def write(self, plan: str, drill_id: str, report: dict[str, Any], html: str) -> dict[str, str]:
        urls = {}
        with self._translated():
            for suffix, body, kind in ((".json", json.dumps(report, indent=1), "application/json"),
                                       (".html", html, "text/html; charset=utf-8"),
                                       (".summary.json", json.dumps(report["summary"]),
                                        "application/json")):
                blob = self._container.upload_blob(f"{plan}/{drill_id}{suffix}", body.encode(),
                                                   overwrite=True,
                                                   content_settings=ContentSettings(kind))
                urls[suffix.strip(".").replace(".json", "") or "json"] = blob.url
        return {"json": urls["json"], "html": urls["html"]}

    def read(self, plan: str, drill_id: str, kind: str) -> bytes | None:
        """A drill's report as written: kind "json" or "html"; None if there is none."""
        with self._translated():
            try:
                return self._container.download_blob(f"{plan}/{drill_id}.{kind}").readall()
            except ResourceNotFoundError:
                return None

    # ---- readiness reports (domain/readiness) ---------------------------------------------------
    def write_readiness(self, run_id: str, report: dict[str, Any], html: str,
                        trend_point: dict[str, Any]) -> dict[str, str]:
        """`_readiness/<run id>.json|.html`, its `.summary.json` (the next runs' trend) and
        `_readiness/latest.json|.html` (what GET /api/readiness answers)."""
        urls = {}
        bodies = {"json": json.dumps(report, indent=1), "html": html}
        with self._translated():
            for name in (run_id, "latest"):
                for kind, body in bodies.items():
                    blob = self._container.upload_blob(
                        f"{READINESS_PREFIX}/{name}.{kind}", body.encode(), overwrite=True,
                        content_settings=ContentSettings(_KINDS[kind]))
                    if name == run_id:
                        urls[kind] = blob.url
            self._container.upload_blob(f"{READINESS_PREFIX}/{run_id}.summary.json",
                                        json.dumps(trend_point).encode(), overwrite=True,
                                        content_settings=ContentSettings("application/json"))
        return urls

    def readiness_trend(self, exclude: str | None = None) -> list[dict[str, Any]]:
        """The trend points of the last runs (oldest first), but `exclude`'s (a re-run's own)."""
        skip = f"{READINESS_PREFIX}/{exclude}.summary.json"
        with self._translated():
            names = sorted(b.name for b in self._container.list_blobs(
                name_starts_with=f"{READINESS_PREFIX}/")
                if b.name.endswith(".summary.json") and b.name != skip)
            return [json.loads(self._container.download_blob(n).readall())
                    for n in names[-TREND:]]

    def readiness_latest(self, kind: str) -> bytes | None:
        """The latest readiness report as written: kind "json" or "html"; None before any run."""
        with self._translated():
            try:
                return self._container.download_blob(
                    f"{READINESS_PREFIX}/latest.{kind}").readall()
            except ResourceNotFoundError:
                return None

    def notify_queue(self, queue: str, message: dict[str, Any]) -> None:
        """One message, base64-encoded as a Functions queue trigger expects by default."""
        client = queue_client(self._settings.storage, queue)
        with translated(f"the drill notice queue {queue}", "queue", client.url):
            try:
                client.create_queue()
            except ResourceExistsError:
                pass
            client.send_message(base64.b64encode(json.dumps(message).encode()).decode())


@functools.lru_cache(maxsize=4)
def report_store_for(settings: Settings) -> ReportStore:
    return ReportStore.from_settings(settings)


def post_json(url: str, body: dict[str, Any], timeout: float) -> tuple[int, Any]:
    """POST `body` as JSON; (status, parsed JSON answer or the text). Network errors raise."""
    # The plan allows https, or http to loopback only (domain/drills/drill_plan.py); no file: or
    # custom scheme reaches urllib here, whatever the caller passed.
    if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        raise ValueError(f"a webhook must be an http(s) URL, not {url!r}")
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - as above
            status, text = answer.status, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode("utf-8", "replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def webhook_verdict(url: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The verification webhook's answer: 2xx with {"pass": bool, "reason": str}. Anything
    else is a failed check that says what came back."""
    try:
        status, answer = post_json(url, body, timeout)
    except (OSError, urllib.error.URLError) as exc:
        return {"pass": False, "reason": f"the webhook could not be reached: {exc}"}
    if not 200 <= status < 300:
        return {"pass": False, "reason": f"the webhook answered HTTP {status}: {str(answer)[:200]}"}
    if not isinstance(answer, dict) or not isinstance(answer.get("pass"), bool):
        return {"pass": False, "reason": 'the webhook must answer {"pass": true|false, '
                                         f'"reason": "..."}}, not {str(answer)[:200]}'}
    return {"pass": answer["pass"], "reason": str(answer.get("reason") or "")}

