"""Caller authorization, end to end: the app under devhost with App Service authentication on
(the platform's X-MS-CLIENT-PRINCIPAL, which these tests write as Easy Auth writes it), an access
policy file, and azsim behind. The allowed and denied matrix, the vault check once a restore is
planned, four eyes on an attach, and the audit record of every privileged action and denial."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
import requests

from domain.access import audit
from domain.access.access_policy import encode_client_principal

SUB = "6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6"  # azsim's demo subscription
RG = f"/subscriptions/{SUB}/resourceGroups"
VAULT = f"{RG}/rg-backup/providers/Microsoft.DataProtection/backupVaults/bv-demo"
VM = f"{RG}/rg-app/providers/Microsoft.Compute/virtualMachines/vm-app01"

# Callers as Entra ID signs them in: object id, name, app roles, groups.
ALICE = ("a1a1a1a1-0000-4000-8000-000000000001", "alice@contoso.com", ("Restore.AppTeam",), ())
BOB = ("b2b2b2b2-0000-4000-8000-000000000002", "bob@contoso.com", (), ("5f0e0000-sre0-group",))
CAROL = ("c3c3c3c3-0000-4000-8000-000000000003", "carol@contoso.com", ("Restore.Approver",), ())
DAVE = ("d4d4d4d4-0000-4000-8000-000000000004", "dave@contoso.com", ("Reader",), ())
ERIN = ("e5e5e5e5-0000-4000-8000-000000000005", "erin@contoso.com", ("Restore.OtherVault",), ())

POLICY = {"version": 1, "rules": [
    {"name": "app-team", "principals": {"roles": ["Restore.AppTeam"]},
     "actions": ["plan", "restore", "cancel"], "sourceDisks": [f"{RG}/rg-app"], "vaults": ["*"],
     "targetResourceGroups": [f"{RG}/rg-restore-target"], "vms": [VM],
     "approval": {"required": True, "timeoutMinutes": 60}},
    {"name": "sre", "principals": {"groups": ["5F0E0000-SRE0-GROUP"]},  # groups: any case
     "actions": ["plan", "restore", "swap", "approve", "drill"], "sourceDisks": [f"{RG}/rg-app"],
     "vaults": [VAULT], "targetResourceGroups": [f"{RG}/rg-restore-*"], "vms": [f"{RG}/rg-app"],
     "drillPlans": ["nightly"]},
    {"name": "approvers", "principals": {"roles": ["Restore.Approver"]}, "actions": ["approve"],
     "targetResourceGroups": [f"{RG}/rg-restore-target"], "vms": ["*"]},
    {"name": "other-vault", "principals": {"roles": ["Restore.OtherVault"]}, "actions": ["plan"],
     "sourceDisks": ["*"],
     "vaults": [f"{RG}/rg-backup/providers/Microsoft.DataProtection/backupVaults/bv-other"],
     "targetResourceGroups": ["*"]},
]}


def signed_in(who: tuple[str, str, tuple[str, ...], tuple[str, ...]]) -> dict[str, str]:
    """The headers App Service authentication sets for a signed-in caller."""
    oid, name, roles, groups = who
    return {"X-MS-CLIENT-PRINCIPAL": encode_client_principal(oid, name, roles, groups),
            "X-MS-CLIENT-PRINCIPAL-ID": oid, "X-MS-CLIENT-PRINCIPAL-NAME": name,
            "X-MS-CLIENT-PRINCIPAL-IDP": "aad"}


def request(case: str, *, disk: str = "vm-app01-data0", source_rg: str = "rg-app",
            target: str = "rg-restore-target", **extra: Any) -> dict[str, Any]:
    return {"requestId": f"access-{case}", "dryRun": True,
            "source": {"diskId": f"{RG}/{source_rg}/providers/Microsoft.Compute/disks/{disk}"},
            "target": {"resourceGroupId": f"{RG}/{target}", "diskName": f"{disk}-{case}"},
            **extra}


@pytest.fixture
def access_env(restore_env, tmp_path):
    def start(**kw: Any):
        path = tmp_path / "access-policy.json"
        path.write_text(json.dumps(POLICY), encoding="utf-8")
        return restore_env(WEBSITE_AUTH_ENABLED="true", CALLER_AUTHORIZATION="policy",
                           ACCESS_POLICY_PATH=str(path), **kw)
    return start


def audit_records(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r for r in (audit.parse(rec.getMessage()) for rec in caplog.records
                        if rec.name == audit.LOGGER) if r]


# (case, caller, request changes, status, words the refusal must contain or, when the request
# is allowed, how the run ends)
MATRIX = [
    ("alice-plan", ALICE, {}, 202, "DryRun"),
    ("alice-restore-other-target", ALICE, {"target": "rg-app", "dryRun": False}, 403,
     "target resource group"),
    ("alice-restore-foreign-disk", ALICE, {"source_rg": "rg-keys", "dryRun": False}, 403,
     "source disk"),
    ("alice-attach-other-vm", ALICE, {"dryRun": False, "attach": {
        "vmId": f"{RG}/rg-app/providers/Microsoft.Compute/virtualMachines/vm-other"}}, 403, "VM"),
    ("alice-swap", ALICE, {"dryRun": False, "swapOsDisk": {"vmId": VM}}, 403, "swap"),
    ("bob-plan-swap", BOB, {"disk": "vm-app01-osdisk", "swapOsDisk": {"vmId": VM}}, 202,
     "DryRun"),
    # allowed by the rule's rg-restore-* pattern; Azure then has no such group
    ("bob-other-target-pattern", BOB, {"target": "rg-restore-scratch"}, 202,
     "TargetResourceGroupNotFound"),
    ("bob-target-outside-pattern", BOB, {"target": "rg-keys"}, 403, "target resource group"),
    ("carol-plan", CAROL, {}, 403, "plan"),
    ("dave-plan", DAVE, {}, 403, "no access rule names"),
    ("nobody", None, {}, 401, "sign in"),
]


def test_the_allowed_and_denied_matrix(access_env, caplog):
    caplog.set_level(logging.INFO, logger=audit.LOGGER)
    env = access_env()
    seen = []
    for case, who, changes, status, words in MATRIX:
        answer = requests.post(env.api, json=request(case, **changes), timeout=30,
                               headers=signed_in(who) if who else {})
        seen.append((case, answer.status_code))
        assert answer.status_code == status, (case, answer.text)
        if status >= 400:
            assert answer.headers["Content-Type"].startswith("application/problem+json")
            assert words in answer.json()["detail"], (case, answer.json())
        else:
            out = env.host.wait_for(answer.json()["id"], timeout=60)["output"]
            assert words in (out["outcome"], (out["error"] or {}).get("code")), (case, out)
    # No write reached Azure for any of it: plans and refusals change nothing.
    assert env.writes("Microsoft.Authorization/roleAssignments/write") == []
    denials = [r for r in audit_records(caplog) if r["action"] == "deny"]
    expected = [(c, w) for c, w, _, s, _ in MATRIX if s == 403]
    assert len(denials) == len(expected), json.dumps(denials, indent=1)
    for record, (case, who) in zip(denials, expected, strict=True):
        assert record["who"]["id"] == who[0] and record["outcome"] == "denied"
        assert record["runId"] == f"dryrun-access-{case}" or record["runId"] == \
            f"restore-access-{case}"
        assert record["reason"] and record["when"]
    requests_allowed = [r for r in audit_records(caplog) if r["action"] == "request"]
    assert {r["who"]["name"] for r in requests_allowed} == {"alice@contoso.com",
                                                             "bob@contoso.com"}
    assert all(r["reason"].startswith("allowed by rule") for r in requests_allowed)


def test_a_malformed_principal_and_a_spoofed_name_are_refused(access_env):
    env = access_env()
    bad = requests.post(env.api, json=request("bad"), timeout=30,
                        headers={"X-MS-CLIENT-PRINCIPAL": "%%% not base64 %%%"})
    assert bad.status_code == 401 and "base64" in bad.json()["detail"]
    name_only = requests.post(env.api, json=request("name-only"), timeout=30,
                              headers={"X-MS-CLIENT-PRINCIPAL-NAME": "alice@contoso.com"})
    assert name_only.status_code == 401 and "X-MS-CLIENT-PRINCIPAL" in name_only.json()["detail"]


def test_reads_need_a_caller_the_policy_names(access_env):
    env = access_env()
    assert requests.get(env.api, timeout=30).status_code == 401
    dave = requests.get(env.api, headers=signed_in(DAVE), timeout=30)
    assert dave.status_code == 403 and "dave@contoso.com" in dave.json()["detail"]
    assert requests.get(env.api, headers=signed_in(CAROL), timeout=30).status_code == 200
    one = requests.get(f"{env.api}/restore-x", headers=signed_in(DAVE), timeout=30)
    assert one.status_code == 403


def test_drills_need_the_drill_action_on_that_plan(access_env):
    env = access_env()
    drills = f"{env.host.base_url}/api/drills"
    alice = requests.post(drills, json={"plan": "nightly"}, headers=signed_in(ALICE), timeout=30)
    assert alice.status_code == 403 and "drill" in alice.json()["detail"]
    other = requests.post(drills, json={"plan": "weekly"}, headers=signed_in(BOB), timeout=30)
    assert other.status_code == 403 and "drill plan weekly" in other.json()["detail"]
    # bob may: he passes the policy and meets the next check (no plans configured here)
    bob = requests.post(drills, json={"plan": "nightly"}, headers=signed_in(BOB), timeout=30)
    assert bob.status_code == 503 and "DRILL_PLANS_PATH" in bob.json()["detail"]


def test_the_vault_a_restore_resolves_to_is_checked_once_planned(access_env, caplog):
    """erin's rule names another vault; her request names a disk, whose vault is found only by
    planning: the run stops there, before any change, and the denial is audited."""
    caplog.set_level(logging.INFO, logger=audit.LOGGER)
    env = access_env()
    answer = requests.post(env.api, json=request("erin"), headers=signed_in(ERIN), timeout=30)
    assert answer.status_code == 202, answer.text
    out = env.host.wait_for(answer.json()["id"], timeout=60)["output"]
    assert out["outcome"] == "Failed" and out["error"]["code"] == "AccessDenied", out
    assert "bv-demo" in out["error"]["message"] and "other-vault" in out["error"]["message"]
    (plan,) = [r for r in audit_records(caplog) if r["action"] == "plan"]
    assert plan["outcome"] == "denied" and plan["who"]["name"] == "erin@contoso.com"
    assert plan["runId"] == "dryrun-access-erin"
    # Named directly, the same vault is refused at the door.
    by_instance = request("erin-bi")
    by_instance["source"] = {"backupInstanceId": f"{VAULT}/backupInstances/bi-x"}
    refused = requests.post(env.api, json=by_instance, headers=signed_in(ERIN), timeout=30)
    assert refused.status_code == 403 and "Backup vault" in refused.json()["detail"]


def _wait_phase(env, instance_id: str, phase: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = env.host.status(instance_id) or {}
        if (status.get("customStatus") or {}).get("phase") == phase:
            return status
        assert status.get("runtimeStatus") not in ("Completed", "Failed"), status
        time.sleep(0.1)
    raise AssertionError(f"{instance_id} never reached {phase}")


def test_four_eyes_the_requester_cannot_approve_their_own_attach(access_env, caplog):
    """alice's rule requires a second person before her restored disk goes onto the VM. She
    cannot approve it herself, dave has no approve rule, carol can; every step is audited."""
    caplog.set_level(logging.INFO, logger=audit.LOGGER)
    env = access_env(real_time_scale=60)
    body = request("four-eyes", dryRun=False, attach={"vmId": VM},
                   reason="INC-4711: data0 corrupted")
    answer = requests.post(env.api, json=body, headers=signed_in(ALICE), timeout=30)
    assert answer.status_code == 202, answer.text
    run = answer.json()["id"]
    _wait_phase(env, run, "approval")

    url = f"{env.api}/{run}"
    own = requests.post(f"{url}/approve", headers=signed_in(ALICE), timeout=30)
    assert own.status_code == 403 and "different principal" in own.json()["detail"]
    own_reject = requests.post(f"{url}/reject", headers=signed_in(ALICE), timeout=30)
    assert own_reject.status_code == 403
    dave = requests.post(f"{url}/approve", headers=signed_in(DAVE), timeout=30)
    assert dave.status_code == 403 and "no access rule names" in dave.json()["detail"]
    dave_cancel = requests.post(f"{url}/cancel", headers=signed_in(DAVE), timeout=30)
    assert dave_cancel.status_code == 403
    carol = requests.post(f"{url}/approve", headers=signed_in(CAROL), timeout=30,
                          json={"comment": "checked with the app owner"})
    assert carol.status_code == 202, carol.text
    assert carol.json()["by"] == "carol@contoso.com" and carol.json()["authenticated"] is True

    out = env.host.wait_for(run, timeout=120)["output"]
    assert out["outcome"] == "Succeeded", json.dumps(out, indent=1)
    assert out["approval"]["principalId"] == CAROL[0]
    assert env.leftover_assignments() == set()

    records = audit_records(caplog)
    mine = [r for r in records if r["runId"] == run]
    actions = [(r["action"], r["outcome"]) for r in mine]
    assert actions[0] == ("request", "succeeded")
    for expected in (("plan", "succeeded"), ("grant", "succeeded"), ("restore", "succeeded"),
                     ("revoke", "succeeded"), ("deny", "denied"), ("approve", "succeeded"),
                     ("attach", "succeeded")):
        assert expected in actions, (expected, actions)
    for record in mine:  # who, what, when, why and the run, on every record
        assert record["who"] and record["what"] and record["when"] and record["runId"] == run
    by_alice = [r for r in mine if r["who"]["id"] == ALICE[0]]
    assert {r["action"] for r in by_alice} >= {"request", "deny", "grant", "restore", "attach"}
    assert all(r["why"] == "INC-4711: data0 corrupted" for r in mine
               if r["action"] in ("grant", "restore", "attach", "revoke"))
    (approval,) = [r for r in mine if r["action"] == "approve"]
    assert approval["who"]["id"] == CAROL[0] and approval["why"] == "checked with the app owner"
    assert approval["reason"] == "allowed by rule approvers"
    grant = next(r for r in mine if r["action"] == "grant")
    assert grant["what"]["role"] and grant["what"]["scope"] and grant["what"]["assignmentId"]
    attach = next(r for r in mine if r["action"] == "attach")
    assert attach["what"]["vmId"].lower() == VM.lower()
