"""The services the triggers call (triggers/services/), driven with in-memory fakes of their
ports: a durable client, a ledger, a VM tag reader, an access policy, an audit sink and a clock.
No host, no Azure, no storage: milliseconds."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.durable_functions import OrchestrationRuntimeStatus

from domain import errors
from domain.access.access_policy import AccessPolicy, Caller
from domain.document import DocumentUnavailable
from domain.recovery.admission import (
    DEDUPLICATED,
    IGNORED,
    MALFORMED,
    REJECTED,
    STARTED,
    Guard,
)
from domain.recovery.policy import Policies
from domain.recovery.signals import MalformedEvent, parse_alert, parse_event_grid
from domain.restore.restore_run import RunSettings
from orchestrations.recover import recover
from orchestrations.restore_managed_disk import restore_managed_disk
from settings import Settings
from triggers.services import authorization, signal_intake, submit

SUB = "6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6"
RG = f"/subscriptions/{SUB}/resourceGroups"
VM = f"{RG}/rg-app/providers/Microsoft.Compute/virtualMachines/vm-app01"
DISK = f"{RG}/rg-app/providers/Microsoft.Compute/disks/vm-app01-data0"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
RUNNING, COMPLETED = OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Completed


# ---- fakes of the ports ------------------------------------------------------------------------
@dataclass
class Status:
    runtime_status: OrchestrationRuntimeStatus | None = None
    output: Any = None
    name: str | None = None
    input_: Any = None


@dataclass
class FakeClient:
    """The durable client as the services use it: statuses, starts, events."""

    runs: dict[str, Status] = field(default_factory=dict)
    started: list[tuple[str, str, Any]] = field(default_factory=list)

    async def get_status(self, instance_id: str, show_input: bool = False) -> Status:
        status = self.runs.get(instance_id, Status())
        return status if show_input else replace(status, input_=None)

    async def start_new(self, name: str, instance_id: str, doc: Any) -> str:
        self.started.append((name, instance_id, doc))
        # as the Durable client shows it: the input as the JSON text it was stored as
        self.runs[instance_id] = Status(RUNNING, None, name, json.dumps(doc))
        return instance_id


@dataclass
class FakeLedger:
    """The recovery ledger's contract: events written once (the first writer wins), guards and
    slots replaced only if unchanged since read (an etag)."""

    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    guards: dict[tuple[str, str], tuple[Guard, str]] = field(default_factory=dict)
    concurrency: tuple[dict[str, str], str] = ({}, "0")

    def event(self, key: str) -> dict[str, Any] | None:
        return self.events.get(key)

    def record_event(self, key: str, doc: dict[str, Any]) -> dict[str, Any] | None:
        if key in self.events:
            return self.events[key]
        self.events[key] = doc
        return None

    def guard(self, policy: str, resource_id: str) -> tuple[Guard, str | None]:
        guard, etag = self.guards.get((policy, resource_id.lower()),
                                      (Guard(policy, resource_id), None))
        return guard, etag

    def save_guard(self, guard: Guard, etag: str | None) -> str | None:
        key = (guard.policy, guard.resource_id.lower())
        if self.guards.get(key, (None, None))[1] != etag:
            return None
        self.guards[key] = (guard, str(int(etag or 0) + 1))
        return self.guards[key][1]

    def slots(self) -> tuple[dict[str, str], str | None]:
        return dict(self.concurrency[0]), self.concurrency[1]

    def save_slots(self, runs: dict[str, str], etag: str | None) -> bool:
        if etag != self.concurrency[1]:
            return False
        self.concurrency = (dict(runs), str(int(etag or 0) + 1))
        return True

    def release_slot(self, run_id: str) -> bool:
        runs = dict(self.concurrency[0])
        runs.pop(run_id, None)
        self.concurrency = (runs, self.concurrency[1])
        return True


def policies(*, tags: dict[str, str] | None = None, max_concurrent: int = 3) -> Policies:
    match: dict[str, Any] = {"eventTypes": ["azureMonitorCommonAlertSchema"],
                             "resourceTypes": ["Microsoft.Compute/virtualMachines"],
                             "alertRules": ["vm-data-corruption"]}
    if tags:
        match["tags"] = tags
    return Policies.parse({"version": 1, "maxConcurrentRecoveries": max_concurrent,
                           "policies": [{"name": "data-disks", "match": match,
                                         "action": {"type": "restoreDataDisksAndAttach"}}]})


def alert(rule: str = "vm-data-corruption", alert_id: str = "a1") -> dict[str, Any]:
    return {"schemaId": "azureMonitorCommonAlertSchema", "data": {"essentials": {
        "alertId": f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/{alert_id}",
        "alertRule": rule, "severity": "Sev1", "monitorCondition": "Fired",
        "firedDateTime": "2026-11-24T11:55:00Z", "alertTargetIDs": [VM.lower()]}}}


@dataclass
class Ports:
    """An Intake over the fakes, counting what was reached."""

    ledger: FakeLedger = field(default_factory=FakeLedger)
    loaded: Policies | Exception = field(default_factory=policies)
    tags: dict[str, str] | None = None
    tag_reads: list[str] = field(default_factory=list)
    policy_loads: int = 0
    own_principal_id: str | None = None

    def intake(self) -> signal_intake.Intake:
        def load() -> Policies:
            self.policy_loads += 1
            if isinstance(self.loaded, Exception):
                raise self.loaded
            return self.loaded

        def vm_tags(resource_id: str) -> dict[str, str] | None:
            self.tag_reads.append(resource_id)
            return self.tags

        return signal_intake.Intake(ledger=lambda: self.ledger, policies=load,
                                    run_settings=lambda: PACE, vm_tags=vm_tags,
                                    now=lambda: NOW, own_principal_id=self.own_principal_id)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


# ---- submit ------------------------------------------------------------------------------------
# how a run paces itself, as the intake's run_settings port gives it
PACE = RunSettings(propagation_timeout_s=60, job_timeout_s=600, probe_interval_s=5,
                   poll_interval_s=1, operation_poll_s=1)

REQUEST = {"requestId": "t-1", "source": {"diskId": DISK},
           "target": {"resourceGroupId": f"{RG}/rg-restore-target", "diskName": "restored"}}


def test_the_same_request_twice_starts_one_restore():
    client, config = FakeClient(), Settings()
    first = run(submit.submit(client, REQUEST, config, requested_by={"kind": "key"}))
    again = run(submit.submit(client, REQUEST, config, requested_by={"kind": "key"}))
    assert (first.instance_id, first.started) == ("restore-t-1", True)
    assert (again.instance_id, again.started) == ("restore-t-1", False)
    [(name, instance, doc)] = client.started
    assert (name, instance) == (restore_managed_disk.name, "restore-t-1")
    assert doc["request"]["requestId"] == "t-1" and doc["why"] == "restore request restore-t-1"
    assert RunSettings.from_dict(doc["settings"]) == submit.run_settings(config)


def test_a_restore_that_failed_is_started_again_and_one_that_succeeded_is_not():
    client, config = FakeClient(), Settings()
    client.runs["restore-t-1"] = Status(COMPLETED, {"outcome": "Failed"}, restore_managed_disk.name)
    assert run(submit.submit(client, REQUEST, config, requested_by={})).started is True
    client.runs["restore-t-1"] = Status(COMPLETED, {"outcome": "Succeeded"},
                                        restore_managed_disk.name)
    assert run(submit.submit(client, REQUEST, config, requested_by={})).started is False
    assert len(client.started) == 1


def _other(**changes: Any) -> dict[str, Any]:
    return {**REQUEST, **changes}


def test_a_request_id_sent_again_with_another_request_is_refused_naming_what_differs():
    client = FakeClient()
    run(submit.submit(client, REQUEST, Settings(), requested_by={}))
    with pytest.raises(errors.RequestIdReused) as refused:
        run(submit.submit(client, _other(target={**REQUEST["target"], "diskName": "other"},
                                         dryRun=False, attach={"vmId": VM}),
                          Settings(), requested_by={}))
    assert refused.value.run_id == "restore-t-1"
    assert [e.field for e in refused.value.errors] == ["attach.caching", "attach.vmId",
                                                       "target.diskName"]
    [disk_name] = [e for e in refused.value.errors if e.field == "target.diskName"]
    assert "'restored'" in disk_name.message and "'other'" in disk_name.message
    assert "restore-t-1" in refused.value.message and len(client.started) == 1


def test_the_same_request_with_another_reason_or_the_ids_cased_otherwise_is_the_same_run():
    client = FakeClient()
    run(submit.submit(client, REQUEST, Settings(), requested_by={}))
    again = _other(reason="INC-7", source={"diskId": DISK.upper().replace(
        "/SUBSCRIPTIONS/", "/subscriptions/")})
    assert run(submit.submit(client, again, Settings(), requested_by={})).started is False
    assert len(client.started) == 1


def test_a_request_id_is_refused_for_another_request_even_after_its_run_failed():
    client = FakeClient()
    run(submit.submit(client, REQUEST, Settings(), requested_by={}))
    client.runs["restore-t-1"] = replace(client.runs["restore-t-1"],
                                         runtime_status=OrchestrationRuntimeStatus.Failed)
    with pytest.raises(errors.RequestIdReused):
        run(submit.submit(client, _other(recoveryPoint={"before": "2026-11-20T10:00:00Z"}),
                          Settings(), requested_by={}))
    # the same request restarts the failed run, as before
    assert run(submit.submit(client, REQUEST, Settings(), requested_by={})).started is True


def test_a_run_whose_input_this_version_cannot_read_is_not_judged():
    client = FakeClient()
    client.runs["restore-t-1"] = Status(RUNNING, None, "restore_managed_disk", {"old": "shape"})
    assert run(submit.submit(client, _other(target={**REQUEST["target"], "diskName": "x"}),
                             Settings(), requested_by={})).started is False


def test_an_approval_rule_puts_its_timeout_into_the_run():
    client = FakeClient()
    run(submit.submit(client, REQUEST, Settings(), requested_by={}, approval_minutes=30))
    assert client.started[0][2]["approval"] == {"timeoutMinutes": 30}


# ---- signal intake -----------------------------------------------------------------------------
def _admit(ports: Ports, client: FakeClient, body: dict[str, Any]) -> list[Any]:
    decisions = run(signal_intake.handle_alert(client, body, "{}", ports.intake()))
    return [decision for _, decision in decisions]


def test_an_alert_a_policy_matches_starts_one_recovery_and_its_redelivery_finds_the_answer():
    ports, client = Ports(), FakeClient()
    [decision] = _admit(ports, client, alert())
    assert decision.disposition == STARTED and decision.policy == "data-disks"
    [(name, instance, doc)] = client.started
    assert (name, instance) == (recover.name, decision.run_id)
    assert RunSettings.from_dict(doc["settings"]) == PACE  # the run_settings port
    recorded = next(iter(ports.ledger.events.values()))
    assert recorded["disposition"] == STARTED and recorded["received"] == NOW.isoformat()
    [again] = _admit(ports, client, alert())
    assert again.disposition == DEDUPLICATED and again.run_id == decision.run_id
    assert len(client.started) == 1


def test_no_matching_policy_rejects_and_names_why():
    ports, client = Ports(), FakeClient()
    [decision] = _admit(ports, client, alert(rule="cpu-high"))
    assert decision.disposition == REJECTED and "no policy matches" in decision.reason
    assert client.started == [] and ports.tag_reads == []  # no tag condition: no VM read


def test_tags_are_read_only_for_a_policy_with_tag_conditions():
    ports = Ports(loaded=policies(tags={"restore": "auto"}), tags={"restore": "auto"})
    [decision] = _admit(ports, FakeClient(), alert())
    assert decision.disposition == STARTED
    assert [r.lower() for r in ports.tag_reads] == [VM.lower()]
    unknown = Ports(loaded=policies(tags={"restore": "auto"}), tags=None)  # no such VM
    [refused] = _admit(unknown, FakeClient(), alert())
    assert refused.disposition == REJECTED


def test_the_concurrency_limit_rejects_and_gives_the_start_back_to_the_guard():
    ports = Ports(loaded=policies(max_concurrent=1))
    ports.ledger.concurrency = ({"recover-other": (NOW - timedelta(minutes=1)).isoformat()}, "7")
    client = FakeClient(runs={"recover-other": Status(RUNNING, None, "recover")})
    [decision] = _admit(ports, client, alert())
    assert decision.disposition == REJECTED and "concurrency limit" in decision.reason
    assert client.started == []
    [(guard, _)] = ports.ledger.guards.values()
    assert guard.starts == [] and guard.last_run_id is None  # not a start after all


APP = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"  # the app's own identity


def _deleted(caller: str) -> Any:
    disk = f"{RG}/rg-app/providers/Microsoft.Compute/disks/vm-app01-data0"
    return parse_event_grid({
        "id": f"e-{caller}", "subject": disk, "eventTime": "2026-11-24T11:55:00Z",
        "eventType": "Microsoft.Resources.ResourceDeleteSuccess",
        "data": {"resourceUri": disk, "operationName": "Microsoft.Compute/disks/delete",
                 "claims": {"http://schemas.microsoft.com/identity/claims/objectidentifier":
                            caller}}})


def test_what_the_apps_own_identity_caused_is_recorded_as_ignored_and_never_judged():
    deletions = Policies.parse({"version": 1, "policies": [{
        "name": "deleted", "match": {"eventTypes": ["Microsoft.Resources.ResourceDeleteSuccess"],
                                     "resourceTypes": ["Microsoft.Compute/disks"]},
        "action": {"type": "restoreDeletedDisk"}}]})
    ports, client = Ports(loaded=deletions, own_principal_id=APP), FakeClient()
    own = run(signal_intake.admit(client, _deleted(APP.upper()), ports.intake().admission()))
    assert own.disposition == IGNORED and APP in own.reason and own.run_id is None
    assert client.started == [] and ports.tag_reads == []
    [recorded] = ports.ledger.events.values()
    assert recorded["disposition"] == IGNORED
    # anyone else's deletion of the same disk is judged as before
    other = run(signal_intake.admit(client, _deleted("5b1d7c1e-2f0a-4c3d-9e8f-7a6b5c4d3e2f"),
                                    ports.intake().admission()))
    assert other.disposition == STARTED and len(client.started) == 1


def test_a_malformed_alert_is_accounted_for_without_reading_the_policies():
    ports = Ports(loaded=DocumentUnavailable("no recovery policies"))
    broken = alert()
    broken["data"]["essentials"]["alertTargetIDs"] = []
    with pytest.raises(MalformedEvent):
        _admit(ports, FakeClient(), broken)
    [(key, doc)] = ports.ledger.events.items()
    assert key.startswith("alert:/subscriptions/") and doc["disposition"] == MALFORMED
    assert ports.policy_loads == 0


def test_without_policies_nothing_is_judged_and_the_ledger_is_not_reached():
    ports = Ports(loaded=DocumentUnavailable("no recovery policies"))
    with pytest.raises(signal_intake.PoliciesUnavailable):
        _admit(ports, FakeClient(), alert())
    assert ports.ledger.events == {}
    assert parse_alert(alert())  # the alert itself was fine


# ---- authorization -----------------------------------------------------------------------------
ALICE = Caller("user", "a1", "alice@contoso.com", roles=("Restore.Operator",))
BOB = Caller("user", "b2", "bob@contoso.com")
POLICY = AccessPolicy.from_dict({"version": 1, "rules": [{
    "name": "operators", "principals": {"roles": ["Restore.Operator"]},
    "actions": ["restore", "approve"], "sourceDisks": ["*"], "vaults": ["*"],
    "targetResourceGroups": [f"{RG}/rg-restore-target"], "vms": ["*"]}]})
SCOPE = {"sourceDisks": DISK, "vaults": None, "targetResourceGroups": f"{RG}/rg-restore-target",
         "vms": None}


def gate(mode: str = "policy", policy: AccessPolicy | Exception = POLICY,
         audit: list[dict[str, Any]] | None = None) -> authorization.Gate:
    def load() -> AccessPolicy:
        if isinstance(policy, Exception):
            raise policy
        return policy
    sink = audit if audit is not None else []
    return authorization.Gate(mode, True, True, load, sink.append, lambda: NOW)


def test_a_caller_the_policy_covers_is_allowed_and_the_action_audited_at_the_clocks_time():
    records: list[dict[str, Any]] = []
    the_gate = gate(audit=records)
    allowed = authorization.authorize(the_gate, ALICE, "restore", SCOPE, run_id="restore-1")
    assert allowed.caller == ALICE and allowed.decision.rule == "operators"
    authorization.record_action(the_gate, "request", allowed, {"action": "restore"},
                                run_id="restore-1", why="INC-1")
    [record] = records
    assert (record["action"], record["outcome"], record["when"]) == \
        ("request", "succeeded", NOW.isoformat())
    assert record["who"]["name"] == "alice@contoso.com" and record["why"] == "INC-1"


def test_a_caller_no_rule_covers_is_denied_and_the_denial_audited():
    records: list[dict[str, Any]] = []
    with pytest.raises(authorization.Denied) as denied:
        authorization.authorize(gate(audit=records), BOB, "restore", SCOPE, run_id="r")
    assert denied.value.status == 403 and denied.value.title == "Forbidden"
    assert [(r["action"], r["what"]["action"], r["outcome"]) for r in records] == \
        [("deny", "restore", "denied")]


def test_nobody_signed_in_is_401_and_with_authorization_off_a_key_holder():
    with pytest.raises(authorization.Denied) as denied:
        authorization.authorize(gate(), None, "restore", SCOPE)
    assert denied.value.status == 401 and "WWW-Authenticate" in denied.value.headers
    allowed = authorization.authorize(gate("off"), None, "restore", SCOPE)
    assert allowed.caller.kind == "key" and allowed.mode == "off"


def test_nobody_approves_their_own_request_whatever_the_mode():
    for mode in ("policy", "off"):
        records: list[dict[str, Any]] = []
        with pytest.raises(authorization.Denied) as denied:
            authorization.authorize(gate(mode, audit=records), ALICE, "approve", SCOPE,
                                    not_by=ALICE, attempted="reject")
        assert denied.value.status == 403 and "different principal" in denied.value.detail
        assert records[0]["what"]["action"] == "reject" and records[0]["authorization"] == mode


def test_a_broken_policy_file_is_503_and_readers_need_a_rule():
    broken = DocumentUnavailable("ACCESS_POLICY_PATH: not JSON")
    with pytest.raises(authorization.Denied) as denied:
        authorization.authorize(gate(policy=broken), ALICE, "restore", SCOPE)
    assert (denied.value.status, denied.value.title) == (503, "Access policy unavailable")
    assert authorization.reader(gate(), ALICE) == ALICE
    with pytest.raises(authorization.Denied) as unnamed:
        authorization.reader(gate(), BOB)
    assert unnamed.value.status == 403 and "bob@contoso.com" in unnamed.value.detail
