"""Scenarios: JSON files under `dev/azsim/scenarios/` that seed the simulated subscription.

See README.md for the format. `{subscriptionId}` anywhere in a string is replaced by the
scenario's subscription id; principals are referred to by their alias.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

from . import restore_limit, roles, sizes
from .arm import provider_id, rg_id
from .auth import LIST_AUTHORIZATION, Principal, RoleAssignment
from .clock import Clock
from .compute import DISK_TYPE, new_des, new_disk, new_disk_access, new_snapshot, set_managed_by
from .dataprotection import (
    VAULT_TYPE,
    new_backup_instance,
    new_recovery_point,
    new_resource_guard_proxy,
    new_vault,
)
from .errors import ArmError
from .jobs import completed_backup_job, completed_restore_job
from .locks import LOCK_LISTINGS, new_lock
from .resources import new_body as new_group
from .state import SimState
from .vm_disks import (
    SWAP_POWER_STATES,
    check_for_vm,
    check_zone,
    data_disk_entry,
    default_caching,
    disk_generation,
    security_class,
)
from .vms import VM_TYPE, new_vm

SCENARIOS = Path(__file__).parent / "scenarios"
DAY = 86400.0
RESTORED_DISK_ZONES = ("regional", "source")
SAME_NAME_RULES = ("diskExists", "jobRunning")
OS_DISK_SWAP_REQUIRES = tuple(SWAP_POWER_STATES)
RESTORED_DISK_SECURITY_PROFILES = ("kept", "dropped")
VM_SECURITY_TYPES = ("TrustedLaunch", "ConfidentialVM")
# A VM's security type, Ultra Disk enablement and generation have one way in: the VM's own keys.
_ONE_WAY = {("properties", "securityProfile"): "securityType",
            ("properties", "additionalCapabilities"): "ultraSSDEnabled",
            ("properties", "hardwareProfile"): "size",
            ("instanceView", "hyperVGeneration"): "hyperVGeneration"}


def load(scenario: str | Path | dict[str, Any]) -> dict[str, Any]:
    """A scenario by name (`demo`), by file path, or as an already-loaded dict (copied)."""
    if isinstance(scenario, dict):
        spec = copy.deepcopy(scenario)
    else:
        path = SCENARIOS / f"{scenario}.json"
        spec = json.loads((path if path.exists() else Path(scenario)).read_text())
    return _substitute(spec, spec["subscriptionId"])


def _substitute(value: Any, sub: str) -> Any:
    if isinstance(value, str):
        return value.replace("{subscriptionId}", sub)
    if isinstance(value, list):
        return [_substitute(v, sub) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, sub) for k, v in value.items()}
    return value


# The scenario settings for what Azure does not document (or documents two ways): each picks one
# plausible behaviour, so the product is tested against every one (docs/fidelity.md).
# (scenario key, SimState attribute, default, allowed values; None: any number)
_CHOICES: tuple[tuple[str, str, Any, tuple[str, ...] | None], ...] = (
    # Where Backup puts a restored disk of a zonal source.
    ("restoredDiskZone", "restored_disk_zone", "regional", RESTORED_DISK_ZONES),
    # When Backup refuses a restore's target name (FailIfExists): Azure documents it once the
    # disk exists ("diskExists"); "jobRunning" also while a job is creating it.
    ("sameNameRule", "same_name_rule", "diskExists", SAME_NAME_RULES),
    # Which power states an OS-disk swap accepts: Azure's 2018 docs say deallocated, the newer
    # ones that no stop is needed (reference B5).
    ("osDiskSwapRequires", "os_disk_swap_requires", "deallocated", OS_DISK_SWAP_REQUIRES),
    # Whether a restored disk keeps the source's securityProfile (restore-realities 1.4).
    ("restoredDiskSecurityProfile", "restored_disk_security_profile", "kept",
     RESTORED_DISK_SECURITY_PROFILES),
    # How a recovery point's incremental snapshot's `timeCreated` relates to the point's
    # `recoveryPointTime`: seconds from the point's time (negative: before it, taken within the
    # backup job that ends at that time; positive: after it).
    ("snapshotTimeOffsetSeconds", "snapshot_time_offset", -30, None),
    # A disk or VM list where the caller may read only some of it (auth.py).
    ("listAuthorization", "list_authorization", "deny", LIST_AUTHORIZATION),
    # What a resource group's lock listing shows of the subscription's locks (locks.py).
    ("lockListing", "lock_listing", "withInherited", LOCK_LISTINGS),
)


def _undocumented(state: SimState, spec: dict[str, Any]) -> None:
    for key, attribute, default, allowed in _CHOICES:
        value = spec.get(key, default)
        if allowed is None:
            value = float(value)
        elif value not in allowed:
            raise ValueError(f"scenario: {key} must be one of {allowed}")
        setattr(state, attribute, value)


def build(spec: dict[str, Any], clock: Clock, time_scale: float = 1.0) -> SimState:
    """A fresh simulator state holding everything the scenario describes."""
    sub = spec["subscriptionId"]
    state = SimState(clock, sub, spec["tenantId"], spec["location"], time_scale,
                     spec.get("seed", 0), spec.get("durations", {}), spec.get("pageSize", 100))
    _undocumented(state, spec)
    # Azure Backup's 10 restores a backup instance a day, and how azsim refuses the next one
    # (not documented: restore_limit.py).
    restore_limit.configure(state, spec)
    aliases = _principals(state, spec.get("principals", {}))
    for group in spec.get("resourceGroups", []):
        group_sub = group.get("subscriptionId", sub)
        state.put({"id": f"/subscriptions/{group_sub}", "type": "Microsoft.Resources/subscriptions",
                   "subscriptionId": group_sub})
        state.put(new_group(group_sub, group["name"], group.get("location", state.location),
                            group.get("tags")))
    for des in spec.get("diskEncryptionSets", []):
        body = state.put(new_des(state, sub, des["resourceGroup"], des["name"], des["keyUrl"],
                                 des["keyVaultId"], des.get("tags")))
        body["_keyEnabled"] = des.get("keyEnabled", True)
    for access in spec.get("diskAccesses", []):
        state.put(new_disk_access(state, sub, access["resourceGroup"], access["name"],
                                  access.get("location")))
    for disk in spec.get("disks", []):
        _disk(state, disk)
    for vm in spec.get("virtualMachines", []):
        _vm(state, vm)
    for vault in spec.get("backupVaults", []):
        _vault(state, vault, aliases)
    for assignment in spec.get("roleAssignments", []):
        _assignment(state, assignment, aliases)
    for lock in spec.get("locks", []):
        state.put(new_lock(lock["scope"], lock["name"], lock.get("level", "CanNotDelete"),
                           lock.get("notes")))
    for fault in spec.get("faults", []):
        state.faults.add(fault)
    return state


def _principals(state: SimState, specs: dict[str, dict[str, Any]]) -> dict[str, str]:
    aliases = {}
    for alias, p in specs.items():
        state.principals[p["id"].lower()] = Principal(p["id"], p["type"],
                                                      p.get("displayName", alias),
                                                      p.get("grants", []))
        aliases[alias] = p["id"]
    return aliases


def _disk(state: SimState, spec: dict[str, Any]) -> None:
    rid = provider_id(state.subscription_id, spec["resourceGroup"], DISK_TYPE, spec["name"])
    extra = dict(spec.get("properties", {}))
    if des := spec.get("diskEncryptionSetId"):
        extra["encryption"] = {"type": "EncryptionAtRestWithCustomerKey",
                               "diskEncryptionSetId": des}
    creation = extra.pop("creationData", {"createOption": "Empty"})
    body = new_disk(state, rid, spec.get("location", state.location),
                    spec.get("sku", "Premium_LRS"), spec.get("sizeGB", 128), creation, extra)
    body["tags"] = spec.get("tags", {})
    if spec.get("zones"):
        body["zones"] = spec["zones"]
    state.put(body)


def _vm(state: SimState, spec: dict[str, Any]) -> None:
    sub, rg = state.subscription_id, spec["resourceGroup"]
    rid = provider_id(sub, rg, VM_TYPE, spec["name"])
    where = f"scenario: virtual machine {rg}/{spec['name']}"

    def disk_named(name: str) -> dict[str, Any]:
        disk = state.get(provider_id(sub, rg, DISK_TYPE, name))
        if disk is None:
            raise ValueError(f"{where}: no disk {name!r} in resource group {rg}")
        return disk

    os_disk = disk_named(spec["osDisk"])
    entries, disks = [], []
    for d in spec.get("dataDisks", []):
        disk = disk_named(d["disk"])
        entries.append(data_disk_entry(disk, d["lun"], d.get("caching") or default_caching(disk)))
        disks.append(disk)
    vm = new_vm(state, rid, spec["size"], os_disk, entries, spec.get("power", "running"), spec)
    problems = _vm_problems(spec, vm, os_disk, disks)
    if problems:
        raise ValueError(f"{where}: {'; '.join(problems)}")
    state.put(vm)
    for disk in [os_disk, *disks]:
        set_managed_by(state, disk, rid)


def _vm_problems(spec: dict[str, Any], vm: dict[str, Any], os_disk: dict[str, Any],
                 data_disks: list[dict[str, Any]]) -> list[str]:
    """Everything Azure would not have let this VM be, so scenarios stay honest: a size azsim's
    catalog (sizes.py) holds, a generation and security type the size and the OS disk go with,
    Ultra Disk only where the size has it, and disks Compute would have attached."""
    problems = [f"set `{key}`, not {'.'.join(path)}" for path, key in _ONE_WAY.items()
                if path[1] in (spec.get(path[0]) or {})]
    size = sizes.find(spec["size"])
    if size is None:
        return [*problems, f"size {spec['size']!r} is not in azsim's size catalog "
                           "(dev/azsim/sizes.py): add it there with its real capabilities"]
    security = spec.get("securityType")
    generation = vm["_instanceView"]["hyperVGeneration"]
    if security is not None and security not in VM_SECURITY_TYPES:
        problems.append(f"securityType must be one of {VM_SECURITY_TYPES} (or absent: Standard)")
    if generation not in size.hyper_v_generations:
        problems.append(f"hyperVGeneration {generation} is not one of the size's "
                        f"HyperVGenerations ({','.join(size.hyper_v_generations)})")
    if generation != disk_generation(os_disk):
        problems.append(f"hyperVGeneration {generation} differs from the OS disk's "
                        f"({disk_generation(os_disk)})")
    if security in VM_SECURITY_TYPES and generation != "V2":
        problems.append(f"securityType {security} needs hyperVGeneration V2")
    if security == "ConfidentialVM" and not size.confidential:
        problems.append(f"securityType ConfidentialVM needs a confidential size; {size.name} "
                        "has no ConfidentialComputingType")
    if security_class(security) != security_class(
            os_disk["properties"].get("securityProfile", {}).get("securityType")):
        problems.append("the OS disk's securityProfile.securityType is not of the VM's class "
                        f"({security_class(security)})")
    if spec.get("ultraSSDEnabled") and not (
            spec.get("zones") and set(spec["zones"]) <= set(size.ultra_zones)):
        problems.append(f"ultraSSDEnabled needs a zonal VM in a zone where {size.name} has "
                        f"UltraSSDAvailable ({','.join(size.ultra_zones) or 'none'})")
    if len(data_disks) > size.max_data_disks:
        problems.append(f"{len(data_disks)} data disks, more than the size's MaxDataDiskCount "
                        f"{size.max_data_disks}")
    checks = [(os_disk, "ReadWrite", True)] + [
        (disk, entry["caching"], False)
        for disk, entry in zip(data_disks, vm["properties"]["storageProfile"]["dataDisks"],
                               strict=True)]
    for disk, caching, is_os in checks:
        try:
            check_zone(vm, disk)
            check_for_vm(vm, disk, caching, os_disk=is_os)
        except ArmError as refused:
            problems.append(f"disk {disk['name']}: {refused.message}")
    return problems


def _vault(state: SimState, spec: dict[str, Any], aliases: dict[str, str]) -> None:
    rid = provider_id(state.subscription_id, spec["resourceGroup"], VAULT_TYPE, spec["name"])
    identity: dict[str, Any] = {"type": spec["identity"]["type"]}
    if identity["type"] != "None":  # a vault whose identity was disabled shows only the type
        identity["tenantId"] = state.tenant_id
    if principal := spec["identity"].get("principal"):
        identity["principalId"] = aliases[principal]
    if uamis := spec["identity"].get("userAssignedIdentities"):
        identity["userAssignedIdentities"] = {
            uami_id: {"principalId": aliases[u["principal"]], "clientId": state.new_guid()}
            for uami_id, u in uamis.items()}
    vault = state.put(new_vault(rid, state.location, identity,
                                spec.get("crossSubscriptionRestore", "Enabled"), spec.get("tags")))
    if guard := spec.get("resourceGuard"):  # Multi-User Authorization: the guard's id
        state.put(new_resource_guard_proxy(state, vault, guard))
    for bi_spec in spec.get("backupInstances", []):
        _backup_instance(state, vault, bi_spec)


def _backup_instance(state: SimState, vault: dict[str, Any], spec: dict[str, Any]) -> None:
    disk = state.get(spec["disk"])
    if disk is None:
        raise ValueError(f"scenario: backup instance of unknown disk {spec['disk']}")
    parts = disk["id"].split("/")
    name = f"{parts[4]}-{disk['name']}-{state.new_guid()}"
    snapshot_rg = rg_id(state.subscription_id, spec["snapshotResourceGroup"])
    bi = state.put(new_backup_instance(vault, name, disk, snapshot_rg, spec["policy"]))
    if protection := spec.get("protectionState"):  # e.g. ProtectionStopped, ProtectionError
        bi["properties"]["currentProtectionState"] = protection
        bi["properties"]["protectionStatus"]["status"] = protection
    points = spec.get("recoveryPoints", {})
    interval = points.get("intervalHours", 24) * 3600
    latest = _latest_backup_time(state.now(), points.get("hourUtc", 2), interval)
    if (ago := points.get("latestHoursAgo")) is not None:  # backups stopped that long ago
        latest = state.now() - float(ago) * 3600
    deleted = set(points.get("deletedSnapshots", []))
    made: list[dict[str, Any]] = []  # newest first
    for index in range(points.get("count", 7)):
        t = latest - index * interval
        snapshot = new_snapshot(
            state, f"{snapshot_rg}/providers/Microsoft.Compute/snapshots/{disk['name']}-{int(t)}",
            disk, incremental=True, created=t + state.snapshot_time_offset)
        if index not in deleted and state.get(snapshot_rg) is not None:  # else simply not there
            state.put(snapshot)
        rp = state.put(new_recovery_point(state, bi, t, snapshot["id"],
                                          points.get("retentionDays", 30)))
        completed_backup_job(state, bi, rp, state.duration("backupJob"))
        made.append(rp)
    # Restores made before the start, hours before it (`pastRestores`); `restoresToday: N` is
    # [1, 2, ..., N]: N restores of the last 24 h, an hour apart (drills or incidents that spent
    # the instance's 10 restores a day).
    past = [*spec.get("pastRestores", []), *range(1, int(spec.get("restoresToday", 0)) + 1)]
    for n, hours in enumerate(past):
        if not isinstance(hours, int | float) or isinstance(hours, bool) or hours < 0:
            raise ValueError(f"scenario: pastRestores of {disk['id']}: {hours!r} is not a number "
                             "of hours before the start")
        if not made:
            raise ValueError(f"scenario: pastRestores of {disk['id']} need a recovery point")
        start = state.now() - hours * 3600
        rp = next((p for p in made if p["_time"] <= start), made[-1])
        completed_restore_job(state, bi, rp, start, f"{disk['id']}-restored-{n}")


def _latest_backup_time(now: float, hour_utc: int, interval: float) -> float:
    anchor = math.floor(now / DAY) * DAY + hour_utc * 3600
    return anchor if anchor <= now else anchor - interval


def _assignment(state: SimState, spec: dict[str, Any], aliases: dict[str, str]) -> None:
    role = roles.find(spec["role"])
    if role is None:
        raise ValueError(f"scenario: unknown role {spec['role']}")
    principal_id = aliases.get(spec["principal"], spec["principal"])
    principal = state.principals[principal_id.lower()]
    created = state.now() - 30 * DAY
    state.role_assignments.append(RoleAssignment(
        name=spec.get("name") or state.new_guid(), scope=spec["scope"],
        role_definition_id=f"/subscriptions/{state.subscription_id}/providers/"
                           f"Microsoft.Authorization/roleDefinitions/{role}",
        principal_id=principal_id, principal_type=principal.type, created=created,
        effective_from=-math.inf, description=spec.get("description")))


def add_role_assignments(spec: dict[str, Any],
                         grants: tuple[tuple[str, str, str], ...]) -> dict[str, Any]:
    """Add (scope, role name or GUID, principal alias) assignments, in effect from the start, to a
    loaded scenario; `{subscriptionId}` in a scope is replaced. Returns the same dict."""
    for scope, role, principal in grants:
        spec["roleAssignments"].append({
            "scope": scope.replace("{subscriptionId}", spec["subscriptionId"]),
            "role": role, "principal": principal})
    return spec
