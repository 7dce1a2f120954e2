"""The `diskrestore` command line (issue 8), every command driven against the app under devhost
and azsim: what it prints, its exit codes, and what happened in azsim."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from demo import APP_IDENTITY
from diskrestore_cli import main as cli
from diskrestore_cli import table
from rich.cells import cell_len

ROOT = Path(__file__).resolve().parents[2]
ROLE_WRITE = "Microsoft.Authorization/roleAssignments/write"


@pytest.fixture
def diskrestore(capsys, monkeypatch):
    """Run the CLI in-process: (exit code, stdout, stderr), at a width where nothing folds."""
    monkeypatch.setattr(cli.out, "width", 300)
    monkeypatch.setattr(cli.err, "width", 300)

    def run(env: Any, *args: str, key: str | None = None) -> tuple[int, str, str]:
        capsys.readouterr()
        base = ["--url", env.host.base_url, "--poll-interval", "0.05"]
        code = cli.run([*base, *(["--function-key", key] if key else []), *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    return run


def _request_args(env: Any, disk: str = "vm-app01-data0", *extra: str) -> list[str]:
    return ["--disk", env.disk(disk), "--target-rg", env.rg("rg-restore-target"), *extra]


def test_plan_shows_the_resolved_plan_and_changes_nothing(restore_env, diskrestore):
    env = restore_env()
    code, out, err = diskrestore(env, "plan", *_request_args(env), "--attach", env.vm())
    assert code == 0, err
    target = env.disk("vm-app01-data0-restored", "rg-restore-target")
    assert "dry run: nothing was changed" in out
    assert target in out and f"Disk Restore Operator on {env.rg('rg-restore-target')}" in out
    assert "to vm-app01 at LUN 2 (caching None)" in out  # LUNs 0 and 1 are taken
    assert env.writes(ROLE_WRITE) == [] and env.resource(target) is None

    code, out, _ = diskrestore(env, "plan", *_request_args(env), "--json")
    assert code == 0
    first = json.loads(out)
    plan = first["result"]["plan"]
    assert plan["targetDiskId"].lower() == target.lower() and plan["attach"] is None

    # planning again plans afresh (a dry run changes nothing; an old plan would be stale)
    def point_reads() -> int:
        return sum(1 for e in env.sim.audit(write=False) if "recoverypoints" in
                   e["operation"].lower())
    before = point_reads()
    code, out, _ = diskrestore(env, "plan", *_request_args(env), "--json")
    assert code == 0 and json.loads(out)["id"] == first["id"]
    assert point_reads() > before  # it read the recovery points again


def test_restore_follows_every_phase_to_success(restore_env, diskrestore):
    env = restore_env()
    code, out, err = diskrestore(env, "restore", *_request_args(env), "--attach", env.vm(),
                                 "--caching", "ReadOnly")
    assert code == 0, out + err
    lines = err.splitlines()
    instance = lines[0].split()[1].rstrip(":")
    assert instance.startswith("restore-")
    # not a terminal: one line per change, in the order the run went
    phases = [line.split(": ", 1)[1].split(" ")[0] for line in lines[1:]]
    assert [p for p in ("plan", "propagate", "track", "attach", "done") if p in phases] == \
        ["plan", "propagate", "track", "attach", "done"], err
    assert "validation probe" in err and "job " in err
    assert "Succeeded" in out and "vm-app01 at LUN 2" in out
    assert "1 used, 1 revoked" in out and "LEFT" not in out
    assert "LUN 2: - -> vm-app01-data0-restored" in out and "infrastructure code" in out
    restored = env.disk("vm-app01-data0-restored", "rg-restore-target")
    data_disks = env.resource(env.vm())["properties"]["storageProfile"]["dataDisks"]
    assert [d["caching"] for d in data_disks if d["managedDisk"]["id"].lower() ==
            restored.lower()] == ["ReadOnly"]
    assert env.leftover_assignments() == set()

    # the same request again names the same run, and --json is one document
    code, out, err = diskrestore(env, "restore", *_request_args(env), "--attach", env.vm(),
                                 "--caching", "ReadOnly", "--json")
    assert code == 0 and json.loads(out)["id"] == instance and err == ""
    assert len(env.writes("Microsoft.DataProtection/backupVaults/backupInstances/"
                          "restore/action")) == 1


def test_replace_puts_the_restored_disk_in_the_source_disks_place(restore_env, diskrestore):
    env = restore_env()
    code, out, err = diskrestore(env, "restore", *_request_args(env), "--replace", env.vm())
    assert code == 0, out + err
    assert "replaced" in out and "vm-app01-data0 on vm-app01 at LUN 0" in out, out
    assert "LUN 0: vm-app01-data0 -> vm-app01-data0-restored" in out
    code, _, err = diskrestore(env, "plan", *_request_args(env), "--replace", env.vm(),
                               "--lun", "3")
    assert code == 2 and "--lun and --caching need --attach" in err, err


def test_a_whole_vm_restore_and_its_undo(restore_env, diskrestore):
    env = restore_env(lambda s: s.update(osDiskSwapRequires="stopped"))
    target = env.rg("rg-restore-target")
    code, out, err = diskrestore(env, "restore", "--vm", env.vm(), "--target-rg", target,
                                 "--yes")
    assert code == 0, out + err
    assert "disk OS disk" in out and "disk LUN 0" in out and "disk LUN 1" in out, out
    assert "skew 0" in out and "LUN 0: vm-app01-data0 -> vm-app01-data0-restored" in out
    run = err.splitlines()[0].split()[1].rstrip(":")
    assert run.startswith("restorevm-"), err
    code, out, err = diskrestore(env, "undo", run)
    assert code == 0, out + err
    assert "undoes" in out and "LUN 0: vm-app01-data0-restored -> vm-app01-data0" in out, out
    code, _, err = diskrestore(env, "plan", "--vm", env.vm(), "--target-rg", target,
                               "--disk", env.disk("vm-app01-data0"))
    assert code == 2 and "--vm cannot be combined with --disk" in err, err


def test_a_failed_restore_exits_1_naming_the_error_code_and_a_hint(restore_env, diskrestore):
    env = restore_env()
    code, out, err = diskrestore(env, "restore", "--disk", env.disk("vm-app01-data0"),
                                 "--target-rg", env.rg("rg-app"), "--name", "vm-app01-data1")
    assert code == 1
    assert "error: TargetDiskExists:" in err and "hint: " in err
    assert env.writes(ROLE_WRITE) == []

    code, out, _ = diskrestore(env, "restore", "--disk", env.disk("vm-app01-data0"),
                               "--target-rg", env.rg("rg-app"), "--name", "vm-app01-data1",
                               "--json")
    assert code == 1 and json.loads(out)["error"]["code"] == "TargetDiskExists"


def test_bad_input_exits_2_naming_the_problem(restore_env, diskrestore):
    env = restore_env()
    code, _, err = diskrestore(env, "restore", "--disk", env.disk("vm-app01-data0"))
    assert code == 2 and "missing --target-rg" in err and "hint:" in err
    # the app's own validation, every bad field named
    code, _, err = diskrestore(env, "plan", *_request_args(env), "--attach", env.vm(),
                               "--caching", "Sometimes", "--request-id", "has space")
    assert code == 2 and "attach.caching" in err and "requestId" in err, err
    code, out, _ = diskrestore(env, "plan", *_request_args(env), "--attach", env.vm(),
                               "--caching", "Sometimes", "--json")
    error = json.loads(out)["error"]
    assert error["code"] == "InvalidRequest" and error["exitCode"] == 2
    assert [e["field"] for e in error["errors"]] == ["attach.caching"]
    code, _, err = diskrestore(env, "restore", *_request_args(env), "--swap", env.vm(), "--json")
    assert code == 2 and "--yes" in err  # an OS swap is never started unasked
    assert env.writes(ROLE_WRITE) == []
    code, _, err = diskrestore(env, "list", "--since", "yesterday")
    assert code == 2 and "--since 'yesterday'" in err


def test_request_from_a_file_and_from_stdin(restore_env, diskrestore, tmp_path, monkeypatch):
    env = restore_env()
    body = env.request(dryRun=False)
    path = tmp_path / "request.json"
    path.write_text(json.dumps(body))
    code, out, err = diskrestore(env, "plan", "-f", str(path), "--json")
    assert code == 0, err
    assert json.loads(out)["result"]["outcome"] == "DryRun"
    import io
    monkeypatch.setattr(sys, "stdin", io.StringIO("not json"))
    code, _, err = diskrestore(env, "plan", "-f", "-")
    assert code == 2 and "cannot read the request from -" in err
    code, _, err = diskrestore(env, "plan", "-f", str(path), "--disk", env.disk("x"))
    assert code == 2 and "--file cannot be combined with --disk" in err


def test_status_and_list(restore_env, diskrestore):
    env = restore_env()
    code, out, _ = diskrestore(env, "restore", *_request_args(env), "--no-wait")
    assert code == 0
    instance = out.strip()
    env.host.wait_for(instance, timeout=120)
    code, out, err = diskrestore(env, "status", instance)
    assert code == 0, err
    assert "Succeeded" in out and "restore job" in out and "revoke roles" in out
    code, out, _ = diskrestore(env, "status", instance, "--json")
    assert json.loads(out)["result"]["outcome"] == "Succeeded"

    failed = env.run(env.request("vm-app01-data1", target={
        "resourceGroupId": env.rg("rg-app"), "diskName": "vm-app01-data0"}))
    assert failed["outcome"] == "Failed"
    code, out, _ = diskrestore(env, "status", failed["id"])
    assert code == 1  # status of a failed run fails too, for scripts

    code, out, _ = diskrestore(env, "list", "--json")
    runs = {r["id"]: r for r in json.loads(out)["restores"]}
    assert runs[instance]["outcome"] == "Succeeded"
    assert runs[instance]["source"].lower() == env.disk("vm-app01-data0").lower()
    assert runs[failed["id"]]["errorCode"] == "TargetDiskExists"
    code, out, _ = diskrestore(env, "list")
    assert code == 0 and instance in out and "TargetDiskExists" in out
    code, out, _ = diskrestore(env, "list", "--status", "Failed,Running", "--json")
    assert [r["id"] for r in json.loads(out)["restores"]] == []  # the failed one "Completed"
    code, out, _ = diskrestore(env, "list", "--top", "1", "--json")
    listing = json.loads(out)
    assert listing["count"] == 1 and listing["truncated"] is True
    code, _, err = diskrestore(env, "list", "--status", "Sleeping")
    assert code == 2 and "Sleeping" in err

    code, _, err = diskrestore(env, "status", "restore-nope")
    assert code == 3 and "no restore with id 'restore-nope'" in err and "diskrestore list" in err


def test_cancel_stops_a_running_restore(restore_env, diskrestore):
    def slow(scenario):
        scenario["durations"]["rolePropagation"] = 3600
    env = restore_env(slow, real_time_scale=100)
    code, out, _ = diskrestore(env, "restore", *_request_args(env), "--no-wait")
    instance = out.strip()
    _wait(lambda: _phase(env, instance) == "propagate")
    code, out, err = diskrestore(env, "cancel", instance)
    assert code == 0 and f"cancel requested for {instance}" in out, err
    code, out, err = diskrestore(env, "status", instance, "--watch")
    assert code == 1 and "error: Cancelled" in err
    assert env.leftover_assignments() == set()
    code, _, err = diskrestore(env, "cancel", instance)
    assert code == 3 and "already finished" in err


def test_approve_and_reject_a_recovery_waiting_for_approval(recovery_env, payloads, diskrestore):
    env, run = _swap_recovery(recovery_env, payloads)
    code, _, err = diskrestore(env, "approve", run, "--approver", "alice")
    assert code == 3 and "not waiting for approval" in err  # not yet: it restores first
    _wait(lambda: _phase(env, f"restore-{run}-0") == "approval")
    code, out, err = diskrestore(env, "status", run)
    assert code == 0 and run in out, err
    code, out, err = diskrestore(env, "approve", run, "--approver", "alice",
                                 "--comment", "checked")
    assert code == 0, err
    assert out.strip() == f"approved by alice (unauthenticated): restore-{run}-0"
    assert env.host.wait_for(run, timeout=120)["output"]["outcome"] == "Succeeded"
    code, out, _ = diskrestore(env, "list", "--json")
    listed = {x["id"]: x for x in json.loads(out)["restores"]}
    assert listed[run]["kind"] == "recovery"
    assert listed[run]["source"].lower() == payloads.vm_id().lower()


def test_reject_deletes_the_restored_disk(recovery_env, payloads, diskrestore):
    env, run = _swap_recovery(recovery_env, payloads)
    child = f"restore-{run}-0"
    _wait(lambda: _phase(env, child) == "approval")
    restored = env.host.status(child)["customStatus"]["detail"]["restoredDiskId"]
    code, out, err = diskrestore(env, "reject", child, "--approver", "bob", "--json")
    assert code == 0 and json.loads(out)["decision"] == "rejected", err
    code, _, err = diskrestore(env, "status", child, "--watch")
    assert code == 1 and "ApprovalRejected" in err
    assert env.resource(restored) is None


def test_drill_start_status_and_report(drill_env, diskrestore, tmp_path):
    sub = "/subscriptions/6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6/resourceGroups"
    d = drill_env({"version": 1, "plans": [{
        "name": "nightly", "schedule": "0 30 2 * * *",
        "selection": {"vaults": [f"{sub}/rg-backup/providers/Microsoft.DataProtection/"
                                 "backupVaults/bv-demo"], "resourceGroups": [f"{sub}/rg-app"]},
        "recoveryPoint": "latest", "sandboxResourceGroupId": f"{sub}/rg-restore-target",
        "maxParallel": 2, "timeBudgetMinutes": 240, "keepFailed": False, "expiryHours": 24}]})
    env = d.env
    code, out, err = diskrestore(env, "drill", "start", "nightly")
    assert code == 0, err
    drill = err.splitlines()[0].split()[1]
    assert out.strip().startswith(f"drill {drill}: Completed, 3 passed, 0 failed")
    code, out, _ = diskrestore(env, "drill", "status", drill, "--json")
    assert code == 0 and json.loads(out)["summary"]["passed"] == 3
    code, out, _ = diskrestore(env, "drill", "report", drill)
    assert code == 0 and "3 passed" in out and out.count("passed") >= 4  # one per disk
    code, out, _ = diskrestore(env, "drill", "report", drill, "--json")
    report = json.loads(out)
    assert report["drillId"] == drill and len(report["disks"]) == 3

    # --open through the real console script and a stand-in browser (BROWSER)
    seen = tmp_path / "browser-got"
    browser = tmp_path / "browser"
    browser.write_text(f"#!/bin/sh\necho \"$1\" > {seen}\n")
    browser.chmod(0o755)
    page = tmp_path / "report.html"
    done = _console_script(env, "drill", "report", drill, "--open", "-o", str(page),
                           extra_env={"BROWSER": str(browser)})
    assert done.returncode == 0, done.stderr
    assert seen.read_text().strip() == page.resolve().as_uri()
    assert "<svg" in page.read_text()

    code, _, err = diskrestore(env, "drill", "start", "nope")
    assert code == 3 and "no drill plan 'nope' (plans: nightly)" in err
    code, _, err = diskrestore(env, "drill", "report", "drill-nope")
    assert code == 3 and "no drill with id" in err


def test_function_key_and_entra_token_are_sent(restore_env, diskrestore, monkeypatch, tmp_path):
    monkeypatch.setenv("DEVHOST_FUNCTION_KEY", "s3cret")
    env = restore_env()
    code, _, err = diskrestore(env, "list")
    assert code == 4 and "refused us (401" in err and "--function-key" in err
    code, out, err = diskrestore(env, "list", "--json", key="s3cret")
    assert code == 0 and json.loads(out)["restores"] == [], err

    # Entra ID: azure-identity's own credential chain, here through the Azure CLI credential
    # (a stand-in `az` on PATH); a recording server shows what the CLI sends.
    fake_az = tmp_path / "bin" / "az"
    fake_az.parent.mkdir()
    fake_az.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import json, sys, time
        resource = sys.argv[sys.argv.index("--resource") + 1] if "--resource" in sys.argv \\
            else sys.argv[sys.argv.index("--scope") + 1]
        print(json.dumps({{"accessToken": "token-for-" + resource, "tokenType": "Bearer",
                          "expiresOn": "2099-01-01 00:00:00.000000",
                          "expires_on": int(time.time()) + 3600}}))
        """))
    fake_az.chmod(0o755)
    seen: list[dict[str, str]] = []
    server = _recording_server(seen)
    try:
        done = _console_script(None, "--url", f"http://127.0.0.1:{server.server_port}",
                               "--entra-scope", "api://diskrestore-app/.default",
                               "--function-key", "k1", "list", "--json",
                               extra_env={"PATH": f"{fake_az.parent}:{os.environ['PATH']}",
                                          "AZURE_TOKEN_CREDENTIALS": "AzureCliCredential"})
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    assert seen[0]["authorization"] == "Bearer token-for-api://diskrestore-app"
    assert seen[0]["x-functions-key"] == "k1"


def test_an_unreachable_app_is_one_line_and_a_hint(diskrestore):
    code = cli.run(["--url", "http://127.0.0.1:9", "list"])
    assert code == 4


def test_help_shows_examples_for_every_command():
    commands = [[], ["plan"], ["restore"], ["status"], ["list"], ["approve"], ["reject"],
                ["cancel"], ["undo"], ["drill", "start"], ["drill", "status"], ["drill", "report"],
                ["disks"], ["points"]]
    for words in commands:
        done = _console_script(None, *words, "--help", extra_env={"COLUMNS": "120"})
        assert done.returncode == 0, done.stderr
        assert "Examples" in done.stdout and "diskrestore " in done.stdout.split("Examples")[1], \
            f"no examples in: diskrestore {' '.join(words)} --help"


# ---- helpers -----------------------------------------------------------------------------------
def _swap_recovery(recovery_env: Any, payloads: Any) -> tuple[Any, str]:
    """An approval-gated OS-swap recovery started by a VM health event: (env, recovery run)."""
    r = recovery_env(payloads.swap_policies(), payloads.restore_into_rg_app, real_time_scale=60)
    event = payloads.health_event(payloads.vm_id())
    assert r.deliver([event]).status_code == 202
    return r.env, r.event(f"eventgrid:{event['id']}")["runId"]


def _phase(env: Any, instance: str) -> str | None:
    """The run's phase; None before it exists or before its first step (no custom status)."""
    return ((env.host.status(instance) or {}).get("customStatus") or {}).get("phase")


def _wait(condition: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def _console_script(env: Any, *args: str,
                    extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed `diskrestore` entry point (pyproject.toml), as an operator runs it."""
    script = Path(sys.executable).with_name("diskrestore")
    assert script.exists(), "the diskrestore console script is not installed (pip install -e .)"
    url = ["--url", env.host.base_url] if env is not None else []
    return subprocess.run([str(script), *url, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(extra_env or {})}, cwd=ROOT)


def _recording_server(seen: list[dict[str, str]]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            body = json.dumps({"restores": [], "count": 0, "truncated": False,
                               "since": "2026-11-18T00:00:00+00:00"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_drill_whose_report_cannot_be_written_fails_at_once_in_one_line(drill_env, diskrestore,
                                                                          monkeypatch):
    """The report store refuses or cannot be reached when the drill starts: `diskrestore drill
    start` exits 4 with one line naming the report store, its endpoint and what to check, and
    nothing runs (before issue 19 this failed after minutes, with a raw stack trace)."""
    sub = "/subscriptions/6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6/resourceGroups"
    d = drill_env({"version": 1, "plans": [{
        "name": "nightly", "schedule": "0 30 2 * * *",
        "selection": {"vaults": [f"{sub}/rg-backup/providers/Microsoft.DataProtection/"
                                 "backupVaults/bv-demo"], "resourceGroups": [f"{sub}/rg-app"]},
        "recoveryPoint": "latest", "sandboxResourceGroupId": f"{sub}/rg-restore-target",
        "maxParallel": 2, "timeBudgetMinutes": 240, "keepFailed": False, "expiryHours": 24}]})
    env = d.env
    blob_uri = os.environ["AzureWebJobsStorage__blobServiceUri"]  # noqa: SIM112 - Azure's spelling
    store = f"{blob_uri}/{d.container}"
    # the app's identity is not the one the app has: the identity endpoint refuses a token
    monkeypatch.setenv("AzureWebJobsStorage__clientId", "00000000-0000-4000-8000-00000000dead")
    code, out, err = diskrestore(env, "drill", "start", "nightly")
    assert code == 4 and out == "" and "Traceback" not in err
    said = " ".join(err.split())  # the message and the CLI's hint, however the console wraps
    assert said.startswith(f"error: the app cannot do this now: the drill report store "
                           f"(container {d.container}) cannot be used: the app's managed "
                           f"identity could not get a token for storage at {store} "
                           "(CredentialUnavailableError: Unable to load the proper Managed "
                           "Identity) (check that AzureWebJobsStorage__clientId names a "
                           "user-assigned identity the Function app has"), said

    # storage unreachable: the same, at once, naming the endpoint
    monkeypatch.setenv("AzureWebJobsStorage__clientId", APP_IDENTITY)
    down = "https://127.0.0.1:9/devstoreaccount1"  # nothing listens on port 9
    monkeypatch.setenv("AzureWebJobsStorage__blobServiceUri", down)
    code, _, err = diskrestore(env, "drill", "start", "nightly")
    assert code == 4 and "Traceback" not in err
    assert f"storage at {down}/{d.container} could not be reached (ServiceRequestError: " \
           "Connection refused)" in " ".join(err.split())
    assert env.sim.audit(write=True) == []  # no drill ran: nothing granted, nothing restored
    assert env.host.host.store._all("SELECT COUNT(*) FROM instances")[0][0] == 0


# ---- the catalog: diskrestore disks and points against the real routes (issue 18) --------------
DEMO_VAULT = "/subscriptions/6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6/resourceGroups/rg-backup/" \
             "providers/Microsoft.DataProtection/backupVaults/bv-demo"
JOB = "Microsoft.DataProtection/backupVaults/backupJobs"


def _estate(scenario: dict[str, Any]) -> None:
    """The demo plus rg-db: db-data0 protected (4 points 12 h apart, at 05:00 and 17:00 UTC, not
    the demo's 02:00; tag tier=db), db-scratch not protected; vm-app01-data1 with restores made
    1, 2 and 30 hours before the start (two count today). The app may read disks in rg-db, as
    infra/'s source reader role allows."""
    sub = scenario["subscriptionId"]
    scenario["resourceGroups"].append({"name": "rg-db"})
    for name in ("db-data0", "db-scratch"):
        scenario["disks"].append({"resourceGroup": "rg-db", "name": name, "sku": "Premium_LRS",
                                  "sizeGB": 64, "tags": {"tier": "db"}})
    instances = scenario["backupVaults"][0]["backupInstances"]
    template = instances[0]
    instances.append(dict(template, disk=f"/subscriptions/{sub}/resourceGroups/rg-db/providers/"
                                         "Microsoft.Compute/disks/db-data0",
                          recoveryPoints={**template["recoveryPoints"], "count": 4,
                                          "intervalHours": 12, "hourUtc": 5}))
    data1 = next(i for i in instances if i["disk"].endswith("/vm-app01-data1"))
    data1["pastRestores"] = [1, 2, 30]
    app = scenario["principals"][scenario.get("appPrincipal", "app")]
    app["grants"].append({"scope": f"/subscriptions/{sub}/resourceGroups/rg-db",
                          "actions": ["Microsoft.Compute/disks/read"]})


def _protected(env: Any) -> dict[str, dict[str, Any]]:
    """What azsim holds, by disk id (lower case): the disk's points newest first [(time, id)],
    and its restores left today (its limit minus the restore jobs started in the last 24 h)."""
    state = env.sim.snapshot()
    now = datetime.fromisoformat(state["time"].replace("Z", "+00:00"))
    resources = state["resources"]

    def when(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    found = {}
    for bi in (r for r in resources if r["type"].endswith("/backupInstances")):
        points = sorted(((when(r["properties"]["recoveryPointTime"]),
                          r["properties"]["recoveryPointId"]) for r in resources
                         if r["type"].endswith("/recoveryPoints")
                         and r["id"].startswith(bi["id"] + "/")), reverse=True)
        restores = [r for r in resources if r["type"] == JOB
                    and r["properties"]["operationCategory"] == "Restore"
                    and r["properties"]["backupInstanceId"].lower() == bi["id"].lower()
                    and now - timedelta(hours=24) <= when(r["properties"]["startTime"]) <= now]
        disk = bi["properties"]["dataSourceInfo"]["resourceID"]
        found[disk.lower()] = {"id": disk, "backupInstanceId": bi["id"], "points": points,
                               "left": env.sim.state.daily_restore_limit - len(restores)}
    return found


def _rows(out: str) -> dict[str, dict[str, str]]:
    """A table's rows by their first cell, each {column: cell}; cells are split on the two or
    more spaces between columns (a cell holds at most single spaces)."""
    lines = [line for line in out.splitlines() if line.strip()]
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"(?:(?<=  )|^)\S", header)]
    names = re.split(r"\s{2,}", header.strip())
    assert len(names) == len(starts), header
    rows = {}
    for line in lines[1:]:
        if line.startswith("("):  # "(hidden at N columns: ...)"
            continue
        cells = re.split(r"\s{2,}", line.strip())
        assert len(cells) == len(names), (header, line)
        rows[cells[0]] = dict(zip(names, cells, strict=True))
    return rows


def test_disks_and_points_show_what_azsim_holds(restore_env, diskrestore):
    """`diskrestore disks` and `points` against the app's catalog routes over azsim: exactly the
    protected disks, each with the newest point, the count and the restores left that azsim's
    state gives; the filters; 80 columns without an ARM id; the points newest first; an unknown
    disk in one line."""
    env = restore_env(_estate, BACKUP_VAULT_IDS=DEMO_VAULT)
    held = _protected(env)
    assert len(held) == 4 and held[env.disk("vm-app01-data1").lower()]["left"] == 8

    # --json: the API's items, full ids, exactly the protected disks
    code, out, err = diskrestore(env, "disks", "--json", "--all")
    assert code == 0, err
    items = json.loads(out)["value"]
    assert sorted(i["diskId"].lower() for i in items) == sorted(held)
    by_name = {}
    for item in items:
        disk = held[item["diskId"].lower()]
        assert item["diskId"].startswith("/subscriptions/") and item["vaultId"] == DEMO_VAULT
        assert item["backupInstanceId"].lower() == disk["backupInstanceId"].lower()
        newest_time, newest_id = disk["points"][0]
        assert item["newestRecoveryPoint"]["id"] == newest_id
        assert datetime.fromisoformat(item["newestRecoveryPoint"]["time"]) == newest_time
        assert item["recoveryPointCount"] == len(disk["points"])
        assert item["restoresLeftToday"] == disk["left"]
        by_name[item["name"]] = item
    assert "db-scratch" not in by_name  # in rg-db, readable, but not protected

    # the table, wide: one row per protected disk, its cells what azsim holds
    before = datetime.now(UTC)
    code, out, err = diskrestore(env, "disks", "--width", "300")
    after = datetime.now(UTC)
    assert code == 0, err
    rows = _rows(out)
    assert sorted(rows) == sorted(by_name)
    for name, row in rows.items():
        disk = held[by_name[name]["diskId"].lower()]
        newest = disk["points"][0][0]
        assert row["RG"] == disk["id"].split("/")[4]
        assert row["VM"] == ("vm-app01" if name.startswith("vm-app01") else "-")
        # the age is the CLI's clock against the point's time: either side of the call
        assert row["NEWEST POINT"] in {_age(newest, before), _age(newest, after)}
        assert (row["POINTS"], row["LEFT"]) == (str(len(disk["points"])), str(disk["left"]))
        assert row["VAULT"] == "bv-demo"

    # the filters: a group by name or id, a VM by name or id, tags (all must match)
    def names(*args: str) -> list[str]:
        code, out, err = diskrestore(env, "disks", "--json", *args)
        assert code == 0, (args, err)
        return sorted(i["name"] for i in json.loads(out)["value"])
    app_disks = sorted(n for n in by_name if n.startswith("vm-app01"))
    assert names("--resource-group", "rg-db") == ["db-data0"]
    assert names("-g", env.rg("rg-app")) == app_disks
    assert names("--vm", "vm-app01") == app_disks == names("--vm", env.vm())
    assert names("--tag", "tier=db") == ["db-data0"]
    assert names("--tag", "workload=app01", "--tag", "tier=db") == []
    assert names("--tag", "workload=app01", "-g", "rg-app") == app_disks
    code, out, _ = diskrestore(env, "disks", "-g", "rg-db", "--vm", "vm-app01")
    assert code == 0 and out.startswith("no protected disks match")

    # an 80-column terminal: no line wider, no ARM id, every disk still named
    code, out, _ = diskrestore(env, "disks", "--width", "80")
    assert code == 0 and max(cell_len(line) for line in out.splitlines()) <= 80, out
    assert "/subscriptions/" not in out and sorted(_rows(out)) == sorted(by_name)

    # points, by name and by RG/NAME: newest first, every one restorable
    for given, disk_name, group in (("vm-app01-data0", "vm-app01-data0", "rg-app"),
                                    ("rg-db/db-data0", "db-data0", "rg-db")):
        disk = held[env.disk(disk_name, group).lower()]
        code, out, err = diskrestore(env, "points", given)
        assert code == 0, (given, err)
        head, *table_lines = out.splitlines()
        assert head == f"{disk_name} ({group})  {len(disk['points'])} recovery points, " \
                       f"{disk['left']} restores left today"
        points = list(_rows("\n".join(table_lines)).values())
        assert [(p["TIME"], p["ID"]) for p in points] == \
            [(t.strftime("%Y-%m-%d %H:%M"), i) for t, i in disk["points"]]
        assert {(p["TIER"], p["RESTORABLE"]) for p in points} == {("operational", "yes")}
        code, out, _ = diskrestore(env, "points", given, "--width", "80")
        assert code == 0 and max(cell_len(line) for line in out.splitlines()) <= 80, out
        assert "/subscriptions/" not in out
    code, out, _ = diskrestore(env, "points", "rg-db/db-data0", "--json")
    answer = json.loads(out)
    assert answer["diskId"].lower() == env.disk("db-data0", "rg-db").lower()
    assert [p["id"] for p in answer["value"]] == [i for _, i in held[answer["diskId"].lower()]
                                                  ["points"]]

    # an unknown disk, a disk in another group, a disk that is not protected: one line, exit 3
    for given in ("no-such-disk", "rg-db/vm-app01-data0", env.disk("db-scratch", "rg-db")):
        code, out, err = diskrestore(env, "points", given)
        lines = err.splitlines()
        assert code == 3 and out == "" and "Traceback" not in err, (given, err)
        assert lines[0].startswith("error: no protected disk ") and len(lines) == 2, err
        assert lines[1].startswith("hint: ")


def _age(when: datetime, now: datetime) -> str:
    return table.age(when.isoformat(), now)
