"""Restore drills end to end (issue 6): the app under devhost, azsim behind the real SDK clients,
reports in a real Azurite blob container, notices on a real Azurite queue."""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import requests
from azure.data.tables import TableClient
from bench.drill_scale import drill_at_scale

from domain.drills.drill_report import percentile
from gateway.ledger import Ledger

SUB = "6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6"
RG = f"/subscriptions/{SUB}/resourceGroups"
VAULT = f"{RG}/rg-backup/providers/Microsoft.DataProtection/backupVaults/bv-demo"
SANDBOX = f"{RG}/rg-restore-target"


def plans(**overrides: Any) -> dict[str, Any]:
    """One plan, "nightly"; its failure notices go to a queue of its own (Azurite is shared)."""
    plan = {"name": "nightly", "schedule": "0 30 2 * * *",
            "selection": {"vaults": [VAULT], "resourceGroups": [f"{RG}/rg-app"]},
            "recoveryPoint": "latest", "sandboxResourceGroupId": SANDBOX, "maxParallel": 2,
            "timeBudgetMinutes": 240, "keepFailed": False, "expiryHours": 24,
            "notify": {"queue": f"drill-failures-{uuid.uuid4().hex[:8]}"}}
    plan.update(overrides)
    return {"version": 1, "plans": [plan]}


def sandbox_disks(env: Any) -> list[str]:
    return [r["id"] for r in env.sim.snapshot()["resources"]
            if r["id"].lower().startswith(SANDBOX.lower() + "/providers/microsoft.compute/disks/")]


OBJECTIVES = {"rtoMinutes": 600, "rpoHours": 26}  # daily points at 02:00: under 24 h old


def test_a_drill_over_the_demo_scenario_reports_correct_figures_and_leaves_nothing(drill_env):
    d = drill_env(plans(objectives=OBJECTIVES))
    view = d.run("nightly")
    assert view["outcome"] is None and view["runtimeStatus"] == "Completed", view
    summary = view["summary"]
    report = json.loads(d.blob(f"nightly/{view['id']}.json"))
    assert (summary["disks"], summary["passed"], summary["failed"], summary["skipped"]) == \
        (3, 3, 0, 0), [x["reason"] for x in report["disks"]]
    assert summary["successRate"] == 1.0

    report = json.loads(d.blob(f"nightly/{view['id']}.json"))
    times = [disk["recoverySeconds"] for disk in report["disks"]]
    assert all(t > 0 for t in times)
    assert summary["recoveryP50"] == round(percentile(times, 50), 1)
    assert summary["recoveryP95"] == round(percentile(times, 95), 1)
    for disk in report["disks"]:
        assert disk["verdict"] == "passed" and disk["reason"] == ""
        assert {c["name"] for c in disk["checks"]} >= {"exists", "sizeGB", "sku", "osType",
                                                       "encryptionSet"}
        assert all(c["ok"] for c in disk["checks"])
        assert disk["recoveryPointAgeHours"] is not None and disk["kept"] is False
        # the recovery time covers the restore and the verification, and no more than the disk's
        # own span
        span = (datetime.fromisoformat(disk["finished"]) -
                datetime.fromisoformat(disk["started"])).total_seconds()
        assert disk["recoverySeconds"] <= span + 0.1
    cmk = next(x for x in report["disks"] if x["diskId"].endswith("vm-app01-data1"))
    assert next(c for c in cmk["checks"] if c["name"] == "encryptionSet")["actual"]  # CMK kept
    assert report["observedParallel"] <= 2

    # objective verdicts, from what the report measured and what Azure (azsim) holds
    for disk in report["disks"]:
        assert disk["rto"] == {"objective": "rto", "verdict": "met", "target": 600,
                               "actual": round(disk["recoverySeconds"] / 60, 1)}
        # a "latest" plan restored the newest point: the RPO's point is the restored one
        assert disk["newestRecoveryPoint"]["id"] == disk["recoveryPointId"]
        assert disk["rpo"]["verdict"] == "met" and disk["rpo"]["target"] == 26.0
        assert 0 <= disk["rpo"]["actual"] < 24
        assert abs(disk["rpo"]["actual"] - disk["recoveryPointAgeHours"]) <= 0.06
    assert summary["objectives"] == {"met": 3, "missed": 0, "unknown": 0,
                                     "rto": {"met": 3, "missed": 0, "unknown": 0},
                                     "rpo": {"met": 3, "missed": 0, "unknown": 0}}

    html = d.blob(f"nightly/{view['id']}.html")
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == 3
    assert "<dt>Objectives met / missed / unknown (disks)</dt><dd>3 / 0 / 0</dd>" in html
    assert html.count('<td class="v-met">met</td>') == 6  # RTO and RPO of three disks
    assert len(re.findall(r'<rect class="bar"', html)) == 3
    assert "src=" not in html and "https://" not in html  # self-contained

    assert sandbox_disks(d.env) == []  # every restored disk was deleted after verification
    assert d.env.leftover_assignments() == set()  # and every role revoked
    assert d.queue_messages(d.plan_queue) == []  # nothing failed, nobody notified

    second = d.run("nightly")  # the trend carries the earlier drill
    later = json.loads(d.blob(f"nightly/{second['id']}.json"))
    assert [t["drillId"] for t in later["trend"]] == [view["id"], second["id"]]
    assert [t["objectives"] for t in later["trend"]] == [{"met": 3, "missed": 0, "unknown": 0}] * 2
    for disk in later["disks"]:  # each disk's verdicts in both drills
        assert [(h["drillId"], h["rto"], h["rpo"]) for h in disk["history"]] == \
            [(view["id"], "met", "met"), (second["id"], "met", "met")]
    # the catalog's last drill of each disk, in the app's ledger table
    last = Ledger(TableClient.from_connection_string(
        d.connection, os.environ["RECOVERY_LEDGER_TABLE"],
        connection_verify=d.ca_bundle)).last_drills()
    assert {k: (v["drillId"], v["verdict"], v["rto"]["verdict"]) for k, v in last.items()} == \
        {x["diskId"].lower(): (second["id"], "passed", "met") for x in later["disks"]}


def test_a_bad_recovery_point_is_a_failed_verdict_with_its_reason_and_a_notice(drill_env):
    def bad_latest_point(scenario: dict[str, Any]) -> None:
        for bi in scenario["backupVaults"][0]["backupInstances"]:
            if bi["disk"].endswith("/vm-app01-data0"):
                bi["recoveryPoints"]["deletedSnapshots"] = [0]  # the latest point's snapshot
    d = drill_env(plans(keepFailed=True, objectives=OBJECTIVES), bad_latest_point)
    view = d.run("nightly")
    summary = view["summary"]
    assert (summary["passed"], summary["failed"]) == (2, 1), summary
    report = json.loads(d.blob(f"nightly/{view['id']}.json"))
    failed = report["disks"][0]  # failed disks first
    assert failed["verdict"] == "failed" and failed["diskId"].endswith("/vm-app01-data0")
    assert failed["reason"].startswith("SnapshotNotFound"), failed["reason"]
    assert failed["restoredDiskId"] is None and failed["kept"] is False  # nothing was created
    # no usable disk: the RTO is missed, however fast the restore failed; the point exists
    assert failed["rto"]["verdict"] == "missed" and failed["rpo"]["verdict"] == "met"
    assert summary["objectives"]["missed"] == 1 and summary["objectives"]["met"] == 2
    html = d.blob(f"nightly/{view['id']}.html")
    assert "SnapshotNotFound" in html and '<td class="v-missed">missed</td>' in html
    (notice,) = d.queue_messages(d.plan_queue)
    assert notice["event"] == "RestoreDrillFailed" and notice["drillId"] == view["id"]
    assert notice["failed"][0]["diskId"].endswith("/vm-app01-data0")
    assert "SnapshotNotFound" in notice["failed"][0]["reason"]
    assert sandbox_disks(d.env) == [] and d.env.leftover_assignments() == set()


def test_selection_tags_exclude_and_an_unknown_plan(drill_env):
    data1 = f"{RG}/rg-app/providers/Microsoft.Compute/disks/vm-app01-data1"
    d = drill_env(plans(selection={"vaults": [VAULT], "tags": {"workload": "app01"},
                                   "exclude": [data1]}))
    answer = requests.post(f"{d.env.host.base_url}/api/drills", json={"plan": "weekly"},
                           timeout=30)
    assert answer.status_code == 404 and "nightly" in answer.json()["detail"]
    view = d.run("nightly")
    report = json.loads(d.blob(f"nightly/{view['id']}.json"))
    skipped = {x["diskId"].rsplit("/", 1)[-1]: x["reason"] for x in report["disks"]
               if x["verdict"] == "skipped"}
    assert skipped == {"vm-app01-data1": "excluded by the plan"}
    assert view["summary"]["passed"] == 2


def test_a_drill_at_scale_stays_near_the_ideal_time_and_never_exceeds_its_cap():
    """40 disks, cap 5 (make bench runs 200 and 10: dev/bench/results/drills.md)."""
    figures = drill_at_scale(40, 5)
    assert figures["summary"]["passed"] == 40, figures["summary"]
    assert figures["ratio"] <= 1.2, figures
    assert figures["peakInFlight"] == 5, figures  # the cap held, and was used
    assert figures["restoresSeen"] == 40 and figures["deletesSeen"] == 40
    assert figures["leftoverDisks"] == 0


class _Probe:
    """A verification and notification webhook on loopback, as a probe VM's service would be."""

    def __init__(self) -> None:
        import http.server
        import threading
        self.calls: list[tuple[str, dict[str, Any]]] = []
        probe = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                probe.calls.append((self.path, body))
                if self.path == "/check":
                    bad = body["diskId"].endswith("/vm-app01-data1")
                    answer = {"pass": not bad, "reason": "ext4 journal corrupt" if bad else ""}
                else:
                    answer = {}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def test_the_plans_webhook_check_decides_the_verdict_and_failures_are_notified(drill_env):
    probe = _Probe()
    try:
        d = drill_env(plans(verification={"webhook": f"{probe.url}/check", "timeoutSeconds": 30},
                            notify={"webhook": f"{probe.url}/notify"}, keepFailed=True))
        view = d.run("nightly")
        report = json.loads(d.blob(f"nightly/{view['id']}.json"))
        verdicts = {x["diskId"].rsplit("/", 1)[-1]: (x["verdict"], x["reason"], x["kept"])
                    for x in report["disks"]}
        assert verdicts == {"vm-app01-data1": ("failed", "webhook: ext4 journal corrupt", True),
                            "vm-app01-data0": ("passed", "", False),
                            "vm-app01-osdisk": ("passed", "", False)}
        checks = [body for path, body in probe.calls if path == "/check"]
        assert len(checks) == 3 and {"drillId", "diskId", "restoredDiskId",
                                     "recoveryPointId"} == set(checks[0])
        (notice,) = [body for path, body in probe.calls if path == "/notify"]
        assert notice["failed"] == [{"diskId": next(x["diskId"] for x in report["disks"]
                                                    if x["verdict"] == "failed"),
                                     "reason": "webhook: ext4 journal corrupt"}]
        kept = sandbox_disks(d.env)  # the failed copy is kept, tagged to expire
        assert len(kept) == 1 and kept[0].endswith(f"-d{kept[0].rsplit('-d', 1)[-1]}")
        tags = d.env.resource(kept[0])["tags"]
        assert tags["diskrestore-drill"] == view["id"] and "diskrestore-expiry" in tags
        assert d.env.leftover_assignments() == set()

        # the sweep leaves it until it expires, then deletes it
        host = d.env.host
        early = host.client.start_new("sweep_drill_disks", None, {
            "sandboxes": [SANDBOX], "now": tags["diskrestore-expiry"]})
        assert host.wait_for(early)["output"] == {"report": []}
        late = datetime.fromisoformat(tags["diskrestore-expiry"]) + timedelta(minutes=1)
        sweep = host.client.start_new("sweep_drill_disks", None, {
            "sandboxes": [SANDBOX], "now": late.isoformat()})
        assert host.wait_for(sweep)["output"] == {"report": [{"disk": kept[0], "deleted": True}]}
        d.env.sim.advance(10)
        assert sandbox_disks(d.env) == []
    finally:
        probe.close()
