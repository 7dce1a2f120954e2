"""Canned answers of the app's catalog routes and GET /api/restores, in the shapes of issue 18
(docs/cli.md), and a stand-in app serving them over HTTP: what the CLI's own tests render and
call. The routes themselves are tested with the app (tests/restore)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SUB = "6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6"
SUB2 = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
VAULT = f"/subscriptions/{SUB}/resourceGroups/rg-backup/providers/Microsoft.DataProtection/" \
        "backupVaults/bv-demo"


def _iso(hours: float) -> str:
    return (NOW - timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def disk_id(name: str, rg: str = "rg-app", sub: str = SUB) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/disks/{name}"


def vm_id(name: str, rg: str = "rg-app", sub: str = SUB) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/" \
           f"virtualMachines/{name}"


def verdict(objective: str, met: bool) -> dict[str, Any]:
    return {"objective": objective, "verdict": "met" if met else "missed",
            "target": 240 if objective == "rto" else 24, "actual": 38 if met else 30}


def item(name: str, *, rg: str = "rg-app", sub: str = SUB, vm: str | None = "vm-app01",
         newest_hours: float | None = 3, points: int = 14, left: int = 10,
         drill: str | None = "passed", ready: str | None = "ready",
         findings: list[str] | None = None, tags: dict[str, str] | None = None) -> dict[str, Any]:
    instance = f"{VAULT}/backupInstances/{name}-{name}-{sub[:8]}"
    newest = {"id": f"{name[:4]}{int(newest_hours or 0):04d}aa0b1c2d3e4f5a6b7c8d9e0f1a2b",
              "time": _iso(newest_hours)} if newest_hours is not None else None
    return {
        "diskId": disk_id(name, rg, sub), "name": name, "resourceGroup": rg,
        "subscriptionId": sub, "location": "westeurope",
        "vmId": vm_id(vm, rg, sub) if vm else None, "tags": tags or {"env": "prod"},
        "vaultId": VAULT, "backupInstanceId": instance, "policyName": "daily-7d",
        "protectionState": "ProtectionConfigured",
        "newestRecoveryPoint": newest,
        "oldestRecoveryPoint": {"id": "0ldest", "time": _iso(24 * 7)} if newest else None,
        "recoveryPointCount": points if newest else 0, "restoresLeftToday": left,
        "lastDrill": {"drillId": "drill-nightly-20261125T023000", "at": _iso(9.5),
                      "verdict": drill, "rto": verdict("rto", drill == "passed"),
                      "rpo": verdict("rpo", True)} if drill else None,
        "readiness": {"status": ready, "findings": findings or [],
                      "checkedAt": _iso(0.5)} if ready else None}


def catalog() -> list[dict[str, Any]]:
    """Six disks: ready, stale, spent budget, never drilled, unchecked, a long name."""
    return [
        item("vm-app01-os"),
        item("vm-app01-data0", newest_hours=30, drill="failed", ready="atRisk",
             findings=["RecoveryPointStale"]),
        item("vm-app01-data1", left=0, ready="notReady",
             findings=["RestoreBudgetSpent", "SnapshotMissing"]),
        item("sql-prod-weu-001-data-log-volume-0007", rg="rg-sql-production-westeurope",
             vm="sql-prod-weu-001", points=30, newest_hours=0.2),
        item("scratch", rg="rg-batch", vm=None, newest_hours=None, drill=None, ready=None),
        item("vm-web01-os", rg="rg-web", vm="vm-web01", drill=None, ready="unknown"),
    ]


def recovery_points(disk: dict[str, Any]) -> dict[str, Any]:
    """Newest first: five operational points, the oldest's snapshot deleted."""
    value = []
    for n, hours in enumerate((3, 27, 51, 75, 99)):
        gone = n == 4
        value.append({
            "id": f"{n}a1f3c5e7b9d4f6a8c0e2b4d6f8a0c2e{n}",
            "time": _iso(hours), "tier": "operational", "state": "Completed",
            "restorable": not gone,
            "reason": "its snapshot was deleted from the snapshot resource group "
                      "rg-snapshots (Microsoft.Compute/snapshots/rp-4)" if gone else None})
    return {"diskId": disk["diskId"], "backupInstanceId": disk["backupInstanceId"],
            "restoresLeftToday": disk["restoresLeftToday"], "value": value}


def runs() -> dict[str, Any]:
    """GET /api/restores: a success, a failure with its code, a run in progress, a plan."""
    target = {"resourceGroupId": f"/subscriptions/{SUB}/resourceGroups/rg-restore-target",
              "diskName": "vm-app01-data0-restored"}
    base = {"kind": "restore", "dryRun": False, "source": disk_id("vm-app01-data0"),
            "target": target, "lastUpdatedTime": _iso(0.1)}
    return {"since": _iso(24 * 7), "count": 4, "truncated": False, "restores": [
        {**base, "id": "restore-e20df4dec4092a0966e8857f", "runtimeStatus": "Running",
         "done": False, "phase": "track", "outcome": None, "errorCode": None,
         "createdTime": _iso(0.05)},
        {**base, "id": "restore-9d0c5f1e6a7b48c3a2d1e0f9", "runtimeStatus": "Completed",
         "done": True, "phase": "done", "outcome": "Failed", "errorCode": "TargetDiskExists",
         "createdTime": _iso(2), "source": disk_id("vm-app01-data1"),
         "target": {"resourceGroupId": f"/subscriptions/{SUB}/resourceGroups/rg-app",
                    "diskName": "vm-app01-data0"}},
        {**base, "id": "restore-ticket-42", "runtimeStatus": "Completed", "done": True,
         "phase": "done", "outcome": "Succeeded", "errorCode": None, "createdTime": _iso(5)},
        {**base, "id": "dryrun-1b2c3d4e5f60718293a4b5c6", "runtimeStatus": "Completed",
         "done": True, "phase": "done", "outcome": "DryRun", "errorCode": None,
         "createdTime": _iso(26), "dryRun": True},
    ]}


class StandIn:
    """The app's read routes over HTTP, from canned JSON; `seen` holds every request's path and
    query. Pages are at most `page_max` long whatever `top` says, and nextLinks name another
    host (as an app behind a proxy may): the CLI must ask --url for the next page."""

    def __init__(self, disks: list[dict[str, Any]]) -> None:
        self.disks = disks
        self.page_max = 50
        self.seen: list[tuple[str, dict[str, list[str]]]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def requests(self, path: str) -> list[dict[str, list[str]]]:
        return [query for seen, query in self.seen if seen == path]

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts == ["api", "restores"]:
            return 200, runs()
        if parts == ["api", "disks"]:
            return 200, self.page(query)
        if len(parts) == 6 and parts[:2] == ["api", "disks"] and parts[5] == "recovery-points":
            sub, rg, name = (p.lower() for p in parts[2:5])
            for disk in self.disks:
                if (disk["subscriptionId"].lower(), disk["resourceGroup"].lower(),
                        disk["name"].lower()) == (sub, rg, name):
                    return 200, recovery_points(disk)
            return 404, {"title": "Not Found", "status": 404,
                         "detail": f"no protected disk {parts[4]} in {parts[3]} that you may "
                                   "restore"}
        return 404, None

    def page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        found = self.disks
        if "resourceGroup" in query:
            rg = query["resourceGroup"][0].rstrip("/").rsplit("/", 1)[-1].lower()
            found = [d for d in found if d["resourceGroup"].lower() == rg]
        if "vm" in query:
            vm = query["vm"][0].lower()
            found = [d for d in found if d["vmId"] and vm in (d["vmId"].lower(), d["vmId"].lower()
                                                              .rsplit("/", 1)[-1])]
        for tag in query.get("tag", []):
            key, value = tag.split("=", 1)
            found = [d for d in found if d["tags"].get(key) == value]
        size = min(int(query.get("top", ["50"])[0]), self.page_max)
        start = int(query.get("skipToken", ["0"])[0])
        rest = {k: v for k, v in query.items() if k != "skipToken"}
        more = start + size < len(found)
        link = "https://diskrestore-internal.example:8443/api/disks?" + "&".join(
            [f"{k}={v}" for k, vs in rest.items() for v in vs] + [f"skipToken={start + size}"])
        return {"value": found[start:start + size], "nextLink": link if more else None}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                stand_in.seen.append((url.path, query))
                status, body = stand_in.answer(url.path, query)
                data = json.dumps(body).encode() if body is not None else b"Not Found"
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if body is not None
                                 else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass
        return Handler


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    app = StandIn(catalog())
    thread = threading.Thread(target=app.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app
    finally:
        app.server.shutdown()
        app.server.server_close()
