"""A readiness run: read every configured vault's protected disks, then the posture of each
snapshot resource group they use, then whether the app can grant roles in each restore target
group (the drill plans' sandboxes and the disks' own groups, where alert-driven recovery restores),
and write the report. Nothing is changed in Azure.

The reads run one after the other, each a `run.call` (host retries, then durable ones): no
task_all around retried calls (docs/devhost.md, the fail-fast-plus-retry divergence), and a run
in the background has no deadline worth the risk. A read the app may not make comes back as a
fact ("could not be checked"); Azure being unreachable is ridden out like any step.
Inputs and outputs: domain/readiness/readiness_run.py. Replay rules as in restore_managed_disk.py.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.activity import Activity
from activities.readiness_activities import (
    inspect_snapshot_group,
    inspect_target,
    inspect_vault,
    write_readiness_report,
)
from domain.model import Record
from domain.readiness.readiness_run import (
    READINESS_SCHEMA,
    GroupFacts,
    GroupRequest,
    ReadinessFacts,
    ReadinessInput,
    ReadinessOutcome,
    TargetFacts,
    TargetRequest,
    VaultFacts,
    VaultRequest,
)
from domain.resource_id import InvalidResourceId, ResourceId

from .calls import Orchestration, orchestrator
from .steps import Run


@orchestrator()
def check_readiness(context: df.DurableOrchestrationContext,
              doc: ReadinessInput) -> Orchestration[ReadinessOutcome]:
    run = Run(context)
    now = run.now.isoformat()
    run.enter("vaults", vaults=len(doc.vault_ids))
    vaults: list[VaultFacts] = yield from _all(
        run, inspect_vault, [VaultRequest(v, now) for v in doc.vault_ids])
    run.enter("groups")
    groups: list[GroupFacts] = yield from _all(run, inspect_snapshot_group, _group_requests(vaults))
    run.enter("targets")
    targets: list[TargetFacts] = yield from _all(run, inspect_target,
                                                 _target_requests(doc, vaults))
    run.enter("report")
    written = yield from run.call(write_readiness_report, ReadinessFacts(
        doc.run_id, now, doc, vaults, groups, targets))
    run.finish()
    return ReadinessOutcome(READINESS_SCHEMA, doc.run_id, written.status, written.summary,
                            written.urls)


def _all(run: Run, activity: Activity[Any, Any], values: list[Record]) -> Orchestration[Any]:
    """Each value's activity, one after the other, their outputs in order."""
    found = []
    for value in values:
        found.append((yield from run.call(activity, value)))
    return found


def _group_requests(vaults: list[VaultFacts]) -> list[Record]:
    """Each snapshot group once, with the identities of the vaults that keep snapshots there."""
    principals: dict[str, tuple[str, set[str]]] = {}
    for vault in vaults:
        for bi in vault.instances:
            if not bi.snapshot_resource_group_id:
                continue
            group = principals.setdefault(bi.snapshot_resource_group_id.lower(),
                                          (bi.snapshot_resource_group_id, set()))
            if bi.principal_id:
                group[1].add(bi.principal_id)
    return [GroupRequest(group, sorted(ids)) for group, ids in
            sorted(principals.values(), key=lambda g: g[0].lower())]


def _target_requests(doc: ReadinessInput, vaults: list[VaultFacts]) -> list[Record]:
    """The drill sandboxes, and each protected disk's own group: alert-driven recovery restores
    a disk into its group (domain/recovery/admission.py)."""
    wanted: dict[tuple[str, str], TargetRequest] = {}
    for sandbox in doc.sandbox_group_ids:
        wanted.setdefault((sandbox.lower(), "sandbox"), TargetRequest(sandbox, "sandbox"))
    for vault in vaults:
        for bi in vault.instances:
            try:
                group = ResourceId.parse(bi.disk_id).resource_group_id
            except InvalidResourceId:
                continue
            wanted.setdefault((group.lower(), "source"), TargetRequest(group, "source"))
    return [wanted[k] for k in sorted(wanted)]
