"""The access policy and the caller, as pure functions: scope matching, deny by default, one
rule must cover everything, the approval requirement, the vault check after planning, and
App Service authentication's principal header."""

from __future__ import annotations

import base64
import json

import pytest

from domain.access import audit
from domain.access.access_policy import (
    AccessPolicy,
    Caller,
    InvalidAccessPolicy,
    RunAccess,
    check_resolved,
    covers,
    encode_client_principal,
)
from domain.errors import AccessDenied, Unauthenticated

SUB = "/subscriptions/00000000-0000-0000-0000-000000000001"
DISK = f"{SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/disks/data0"
VAULT = f"{SUB}/resourceGroups/rg-backup/providers/Microsoft.DataProtection/backupVaults/bv1"
TEAM = Caller("user", "oid-1", "alice", roles=("Team",))


def policy(**rule) -> AccessPolicy:
    base = {"name": "team", "principals": {"roles": ["Team"]}, "actions": ["restore"],
            "sourceDisks": [f"{SUB}/resourceGroups/rg-app"], "vaults": ["*"],
            "targetResourceGroups": [f"{SUB}/resourceGroups/rg-target"]}
    return AccessPolicy.from_dict({"version": 1, "rules": [{**base, **rule}]})


@pytest.mark.parametrize("pattern, resource, expected", [
    ("*", DISK, True),
    (DISK, DISK, True),
    (DISK.upper(), DISK, True),  # ARM ids compare case-insensitively
    (f"{SUB}/resourceGroups/rg-app", DISK, True),  # a scope above covers what is in it
    (SUB, DISK, True),
    (f"{SUB}/resourceGroups/rg-ap", DISK, False),  # a prefix of a name is not a scope above
    (f"{SUB}/resourceGroups/rg-app2", DISK, False),
    (f"{SUB}/resourceGroups/rg-*", DISK, True),
    (f"{SUB}/resourceGroups/prod-*", DISK, False),
    (f"{DISK}/extra", DISK, False),  # below is not above
])
def test_scopes_cover_like_azure_rbac_scopes(pattern, resource, expected):
    assert covers(pattern, resource) is expected


def test_deny_by_default_and_each_denial_names_what_is_missing():
    team = policy()
    target = f"{SUB}/resourceGroups/rg-target"
    ok = team.decide(TEAM, "restore", {"sourceDisks": DISK, "targetResourceGroups": target})
    assert ok.allowed and ok.rule == "team"
    assert "no access rule names" in team.decide(Caller("user", "x", "mallory"), "restore",
                                                  {}).reason
    assert not team.decide(Caller("key"), "restore", {}).allowed  # not signed in: nobody
    assert "swap" in team.decide(TEAM, "swap", {}).reason
    outside = team.decide(TEAM, "restore", {"sourceDisks": DISK,
                                            "targetResourceGroups": f"{SUB}/resourceGroups/x"})
    assert not outside.allowed and "target resource group" in outside.reason
    assert not AccessPolicy(()).decide(TEAM, "restore", {}).allowed  # no rules: nothing


def test_one_rule_must_cover_everything_a_request_touches():
    """Rule A covers the disk, rule B the target: together they do not allow the restore."""
    doc = {"version": 1, "rules": [
        {"name": "a", "principals": {"roles": ["Team"]}, "actions": ["restore"],
         "sourceDisks": [DISK], "vaults": ["*"], "targetResourceGroups": [f"{SUB}/x"]},
        {"name": "b", "principals": {"roles": ["Team"]}, "actions": ["restore"],
         "sourceDisks": [f"{SUB}/y"], "vaults": ["*"],
         "targetResourceGroups": [f"{SUB}/resourceGroups/rg-target"]}]}
    decision = AccessPolicy.from_dict(doc).decide(TEAM, "restore", {
        "sourceDisks": DISK, "targetResourceGroups": f"{SUB}/resourceGroups/rg-target"})
    assert not decision.allowed


def test_groups_ids_and_roles_each_name_a_caller():
    by_group = policy(principals={"groups": ["ABC-DEF"]})
    assert by_group.reads(Caller("user", "o", "n", groups=("abc-def",)))
    by_id = policy(principals={"ids": ["OID-9"]})
    assert by_id.reads(Caller("user", "oid-9", "n"))
    assert not by_id.reads(Caller("user", "oid-8", "n", roles=("Team",)))


def test_approval_is_required_only_if_every_allowing_rule_requires_it():
    strict = {"name": "strict", "principals": {"roles": ["Team"]}, "actions": ["restore"],
              "sourceDisks": ["*"], "vaults": ["*"], "targetResourceGroups": ["*"],
              "approval": {"required": True, "timeoutMinutes": 30}}
    resources = {"sourceDisks": DISK, "targetResourceGroups": f"{SUB}/resourceGroups/rg-target"}
    one = AccessPolicy.from_dict({"version": 1, "rules": [strict]})
    assert one.decide(TEAM, "restore", resources).approval_minutes == 30
    lenient = {**strict, "name": "lenient", "approval": {"required": False}}
    both = AccessPolicy.from_dict({"version": 1, "rules": [strict, lenient]})
    assert both.decide(TEAM, "restore", resources).approval_minutes is None


def test_an_invalid_policy_names_every_problem_by_path():
    with pytest.raises(InvalidAccessPolicy) as caught:
        AccessPolicy.from_dict({"version": 2, "extra": 1, "rules": [
            {"name": "Bad Name", "principals": {}, "actions": ["restore", "nuke"],
             "sourceDisks": ["not-an-id"], "approval": {"required": "yes"}}]})
    text = caught.value.message
    for expected in ("extra: unknown field", "version: 2 is not supported", "rules[0].name",
                     "rules[0].principals: must name at least one", "'nuke' is not an action",
                     "rules[0].sourceDisks[0]",
                     "rules[0].vaults: is required for action 'restore'",
                     "rules[0].approval.required"):
        assert expected in text, (expected, text)
    with pytest.raises(InvalidAccessPolicy):
        AccessPolicy.from_dict(["not", "an", "object"])


def test_the_vault_found_by_planning_must_be_covered_by_an_allowing_rule():
    access = RunAccess.from_dict({"mode": "policy", "rules": [{
        "name": "team", "vaults": [VAULT], "sourceDisks": [f"{SUB}/resourceGroups/rg-app"]}]})
    check_resolved(access, VAULT, None)
    check_resolved(access, VAULT, DISK)
    with pytest.raises(AccessDenied, match="bv2"):
        check_resolved(access, VAULT.replace("bv1", "bv2"), None)
    with pytest.raises(AccessDenied, match="source disk"):
        check_resolved(access, VAULT, DISK.replace("rg-app", "rg-other"))
    check_resolved(None, VAULT, None)  # runs no self-service caller started
    check_resolved(RunAccess("off"), VAULT, None)


def test_the_client_principal_header_as_app_service_writes_it():
    caller = Caller.from_client_principal(
        encode_client_principal("OID-1", "alice@contoso.com", ("Team",), ("G1",)))
    assert (caller.kind, caller.id, caller.name) == ("user", "OID-1", "alice@contoso.com")
    assert caller.roles == ("Team",) and caller.groups == ("g1",)
    # a client-credentials caller: an app with an app role, no name claim
    doc = {"auth_typ": "aad", "name_typ": "name", "role_typ": "roles", "claims": [
        {"typ": "oid", "val": "sp-oid"}, {"typ": "appid", "val": "app-id"},
        {"typ": "roles", "val": "Team"}]}
    app = Caller.from_client_principal(base64.b64encode(json.dumps(doc).encode()).decode())
    assert (app.id, app.name, app.roles) == ("sp-oid", "app-id", ("Team",))
    overage = dict(doc, claims=[*doc["claims"], {"typ": "hasgroups", "val": "true"}])
    crowded = Caller.from_client_principal(
        base64.b64encode(json.dumps(overage).encode()).decode())
    assert "too many" in AccessPolicy(()).decide(crowded, "restore", {}).reason


@pytest.mark.parametrize("header, problem", [
    ("%%%", "not base64"), (base64.b64encode(b"[1, 2]").decode(), "no claims"),
    (base64.b64encode(b'{"claims": [{"typ": "name", "val": "x"}]}').decode(), "object id"),
    (base64.b64encode(b"\xff\xfe").decode(), "not base64-encoded JSON"),
])
def test_a_malformed_principal_is_unauthenticated_naming_why(header, problem):
    with pytest.raises(Unauthenticated, match=problem):
        Caller.from_client_principal(header)


def test_same_principal_compares_object_ids_not_names():
    assert TEAM.same_principal(Caller("user", "OID-1", "someone else"))
    assert not TEAM.same_principal(Caller("user", "oid-2", "alice"))
    assert not Caller("key").same_principal(Caller("key"))  # unknown is never "the same"


def test_audit_records_carry_who_what_when_why_and_the_run():
    grant = {"scope": f"{SUB}/resourceGroups/rg-target", "roleName": "Disk Restore Operator"}
    payload = audit.wrap(grant, audit.context("run-1", TEAM, "INC-1", "policy"))
    inner, context = audit.unwrap(payload)
    assert inner == grant and context is not None and context.run_id == "run-1"
    assert payload["audit"] == {"runId": "run-1", "who": TEAM.to_dict(), "why": "INC-1",
                                "authorization": "policy"}  # camelCase on the wire
    outcome, _ = audit.outcome({"id": "ra-1"}, None)
    doc = audit.record("grant", outcome, when="2026-11-25T00:00:00+00:00",
                       who=context.who.to_dict(), what={"assignmentId": "ra-1"},
                       why=context.why, run_id=context.run_id)
    assert audit.parse("INFO " + audit.line(doc)) == doc
    assert (doc["who"]["name"], doc["why"], doc["outcome"]) == ("alice", "INC-1", "succeeded")
    assert audit.outcome({"error": {"code": "AccessDenied", "message": "m"}}, None)[0] == "denied"
    assert audit.outcome(None, RuntimeError("boom\nmore"))[1] == "boom"
    assert audit.wrap("vm-id", None) == "vm-id"  # no context: the payload as it is
    assert audit.unwrap("vm-id") == ("vm-id", None)
    assert audit.context("run-2", None, None).who.kind == "unknown"
    assert audit.parse("restore finished: {}") is None


def test_the_documented_example_policy_is_valid_and_means_what_it_says():
    from pathlib import Path
    example = Path(__file__).resolve().parents[2] / "docs" / "access-policy.example.json"
    policy = AccessPolicy.load(example)
    assert [r.name for r in policy.rules] == ["app-team", "sre", "drill-runner"]
    sub = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups"
    team = Caller("user", "o", "n", roles=("DiskRestore.AppTeam",))
    decision = policy.decide(team, "restore", {
        "sourceDisks": f"{sub}/rg-app-prod/providers/Microsoft.Compute/disks/d",
        "targetResourceGroups": f"{sub}/rg-restore",
        "vms": f"{sub}/rg-app-prod/providers/Microsoft.Compute/virtualMachines/vm"})
    assert decision.allowed and decision.approval_minutes == 120
    assert not policy.decide(team, "swap", {}).allowed
