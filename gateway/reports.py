"""Drill reports in blob storage (the app's storage account; Azurite locally), drill failure
notifications (a Storage queue message or a webhook), and the drill's verification webhook.

Blobs, per plan: `<plan>/<drill id>.json` (the report), `<plan>/<drill id>.html` (the page) and
`<plan>/<drill id>.summary.json` (the summary alone, read back for the next drills' trend).
"""

from __future__ import annotations

import base64
import functools
import json
import urllib.error
import urllib.request
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient, ContentSettings
from azure.storage.queue import QueueClient

from settings import Settings

TREND = 30  # earlier drills in a report's trend


class ReportStore:
    def __init__(self, container: ContainerClient, settings: Settings) -> None:
        self._container, self._settings = container, settings

    @classmethod
    def from_settings(cls, settings: Settings) -> ReportStore:
        if settings.storage_connection:
            service = BlobServiceClient.from_connection_string(settings.storage_connection)
        else:
            from azure.identity import ManagedIdentityCredential
            service = BlobServiceClient(
                f"https://{settings.storage_account}.blob.core.windows.net",
                credential=ManagedIdentityCredential(client_id=settings.managed_identity_client_id))
        container = service.get_container_client(settings.drill_reports_container)
        try:
            container.create_container()
        except ResourceExistsError:
            pass
        return cls(container, settings)

    def previous_summaries(self, plan: str) -> list[dict[str, Any]]:
        names = sorted(b.name for b in self._container.list_blobs(name_starts_with=f"{plan}/")
                       if b.name.endswith(".summary.json"))
        return [json.loads(self._container.download_blob(n).readall()) for n in names[-TREND:]]

    def write(self, plan: str, drill_id: str, report: dict[str, Any], html: str) -> dict[str, str]:
        urls = {}
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
        try:
            return self._container.download_blob(f"{plan}/{drill_id}.{kind}").readall()
        except ResourceNotFoundError:
            return None

    def notify_queue(self, queue: str, message: dict[str, Any]) -> None:
        """One message, base64-encoded as a Functions queue trigger expects by default."""
        if self._settings.storage_connection:
            client = QueueClient.from_connection_string(self._settings.storage_connection, queue)
        else:
            from azure.identity import ManagedIdentityCredential
            client = QueueClient(
                f"https://{self._settings.storage_account}.queue.core.windows.net", queue,
                credential=ManagedIdentityCredential(
                    client_id=self._settings.managed_identity_client_id))
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
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - https, or loopback only (validated in the plan)
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
