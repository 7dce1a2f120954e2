"""The recovery ledger: an Azure Storage table (the app's own storage account; Azurite locally).

Three kinds of rows, each a JSON document in `doc`:
* `event/<hash of the signal key>`: what became of one event or alert, written once (the first
  writer wins, so a redelivered event finds the first answer);
* `guard/<hash of policy and resource>`: the runs a policy started for a resource (cooldown and
  hourly limit), replaced only if unchanged since read (ETag), so two deliveries racing for the
  same resource start one run;
* `limits/concurrency`: the recovery runs holding one of the overall slots, also ETag-guarded;
* `drilled/<hash of a backup instance>`: the recovery points restore drills have restored;
* `lastdrill/<hash of a disk id>`: the disk's last drill and its verdicts (the catalog shows it),
  replaced only by a drill that started no earlier (ETag-guarded);
* `lease/<hash of scope, role and principal>`: the runs holding a shared role assignment and its
  generation (domain/access/grant_lease.py), ETag-guarded.
Table keys may not contain '/', so rows are keyed by a hash and keep the readable key inside.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from domain.access.grant_lease import GrantLease, LeaseKey
from domain.recovery.admission import Guard
from settings import Settings

from .storage import table_client, translated

EVENT, GUARD, LIMITS, CONCURRENCY = "event", "guard", "limits", "concurrency"
DRILLED, LEASE, LAST_DRILL = "drilled", "lease", "lastdrill"


def _key(text: str) -> str:
    return hashlib.sha256(text.lower().encode()).hexdigest()


class Ledger:
    def __init__(self, table: TableClient) -> None:
        self._table = table

    @classmethod
    def from_settings(cls, settings: Settings) -> Ledger:
        """The table in AzureWebJobsStorage, reached as the host reaches it (gateway/storage.py)."""
        ledger = cls(table_client(settings.storage, settings.ledger_table))
        ledger.ensure_table()
        return ledger

    def ensure_table(self) -> None:
        try:
            self._table.create_table()
        except ResourceExistsError:
            pass

    # ---- events ----------------------------------------------------------------------------
    def event(self, key: str) -> dict[str, Any] | None:
        doc, _ = self._get(EVENT, _key(key))
        return doc

    def record_event(self, key: str, doc: dict[str, Any]) -> dict[str, Any] | None:
        """Write the event's record; if one exists already, keep it and return it."""
        try:
            self._table.create_entity({"PartitionKey": EVENT, "RowKey": _key(key),
                                       "received": doc.get("received", ""),
                                       "doc": json.dumps(doc)})
            return None
        except ResourceExistsError:
            return self.event(key)

    def events(self, since: datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The latest event records, newest first."""
        query = f"PartitionKey eq '{EVENT}'"
        if since is not None:
            utc = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
            query += f" and received ge '{utc.isoformat()}'"  # received is UTC text
        docs = [json.loads(e["doc"]) for e in self._table.query_entities(query)]
        docs.sort(key=lambda d: d.get("received", ""), reverse=True)
        return docs[:limit]

    # ---- guards ----------------------------------------------------------------------------
    def guard(self, policy: str, resource_id: str) -> tuple[Guard, str | None]:
        doc, etag = self._get(GUARD, _key(f"{policy}|{resource_id}"))
        return (Guard.from_dict(doc) if doc else Guard(policy, resource_id)), etag

    def save_guard(self, guard: Guard, etag: str | None) -> str | None:
        """The new ETag; None when someone else changed the guard since it was read."""
        return self._put(GUARD, _key(f"{guard.policy}|{guard.resource_id}"), guard.to_dict(), etag)

    # ---- the overall concurrency slots -----------------------------------------------------
    def slots(self) -> tuple[dict[str, str], str | None]:
        """The runs holding a slot, each with the time it took it."""
        doc, etag = self._get(LIMITS, CONCURRENCY)
        return (dict(doc["runs"]) if doc else {}), etag

    def save_slots(self, runs: dict[str, str], etag: str | None) -> bool:
        return self._put(LIMITS, CONCURRENCY, {"runs": runs}, etag) is not None

    def release_slot(self, run_id: str) -> bool:
        """Give back `run_id`'s slot; False if it held none (already released)."""
        while True:
            runs, etag = self.slots()
            if run_id not in runs:
                return False
            if self.save_slots({r: t for r, t in runs.items() if r != run_id}, etag):
                return True

    # ---- drills: the recovery points already drilled, per backup instance -----------------
    def drilled(self, backup_instance_ids: list[str]) -> dict[str, set[str]]:
        """Lower-cased backup instance id -> ids of its points that drills restored."""
        found = {}
        for bi in backup_instance_ids:
            doc, _ = self._get(DRILLED, _key(bi))
            if doc:
                found[bi.lower()] = set(doc["points"])
        return found

    def record_drilled(self, backup_instance_id: str, point_id: str) -> None:
        while True:
            doc, etag = self._get(DRILLED, _key(backup_instance_id))
            points = list(doc["points"]) if doc else []
            if point_id in points:
                return
            if self._put(DRILLED, _key(backup_instance_id),
                         {"backupInstanceId": backup_instance_id,
                          "points": [*points, point_id][-500:]}, etag):
                return

    # ---- drills: each disk's last drill ------------------------------------------------------
    def record_last_drill(self, disk_id: str, doc: dict[str, Any]) -> None:
        """Upsert the disk's row: {"drillId", "at" (the drill's start, ISO-8601), "verdict":
        "passed"|"failed", "rto": Verdict, "rpo": Verdict}. A row from a drill that started
        later stays (a report activity re-run after a newer drill must not put the older one
        back); the same drill's row is replaced (a re-run writes the same)."""
        row = _key(disk_id)
        while True:
            existing, etag = self._get(LAST_DRILL, row)
            if existing is not None and _later(existing.get("at"), doc.get("at")):
                return
            if self._put(LAST_DRILL, row, {**doc, "diskId": disk_id}, etag):
                return

    def last_drills(self) -> dict[str, dict[str, Any]]:
        """Every disk's last drill, by lower-cased disk id, as record_last_drill took it."""
        found = {}
        for entity in self._table.query_entities(f"PartitionKey eq '{LAST_DRILL}'"):
            doc = json.loads(entity["doc"])
            found[str(doc.pop("diskId")).lower()] = doc
        return found

    # ---- leases on shared role assignments -------------------------------------------------
    def lease(self, key: LeaseKey) -> tuple[GrantLease, str | None]:
        doc, etag = self._get(LEASE, _key(key.text))
        return (GrantLease.from_dict(doc) if doc else GrantLease(key)), etag

    def save_lease(self, lease: GrantLease, etag: str | None) -> bool:
        """False when someone else changed the lease since it was read: read it again."""
        return self._put(LEASE, _key(lease.key.text), lease.to_dict(), etag) is not None

    def change_lease(self, key: LeaseKey,
                     change: Callable[[GrantLease], GrantLease]) -> GrantLease:
        """Apply `change` to the lease as it is now, again after every conflict (another run
        changed it between our read and our write); the lease as saved."""
        while True:
            lease, etag = self.lease(key)
            changed = change(lease)
            if changed == lease:
                return lease
            if self.save_lease(changed, etag):
                return changed

    def leases(self) -> list[GrantLease]:
        """Every lease row (held, or with generations still to revoke, or idle)."""
        return [GrantLease.from_dict(json.loads(e["doc"]))
                for e in self._table.query_entities(f"PartitionKey eq '{LEASE}'")]

    # ---- rows ------------------------------------------------------------------------------
    def _get(self, partition: str, row: str) -> tuple[dict[str, Any] | None, str | None]:
        try:
            entity = self._table.get_entity(partition, row)
        except ResourceNotFoundError:
            return None, None
        return json.loads(entity["doc"]), entity.metadata["etag"]

    def _put(self, partition: str, row: str, doc: dict[str, Any],
             etag: str | None) -> str | None:
        """Create (etag None) or replace-if-unchanged; the new ETag, or None on a conflict."""
        entity = {"PartitionKey": partition, "RowKey": row, "doc": json.dumps(doc)}
        try:
            if etag is None:
                answer = self._table.create_entity(entity)
            else:
                answer = self._table.update_entity(entity, mode=UpdateMode.REPLACE, etag=etag,
                                                   match_condition=MatchConditions.IfNotModified)
        except (ResourceExistsError, ResourceModifiedError):
            return None
        return str(answer["etag"])


def _later(kept: Any, new: Any) -> bool:
    """Whether the time `kept` is after `new` (ISO-8601 texts, compared as times: offsets may
    differ); unreadable times never block a write."""
    try:
        return bool(datetime.fromisoformat(str(kept)) > datetime.fromisoformat(str(new)))
    except (TypeError, ValueError):
        return False


def _reachable(method: Any) -> Any:
    """What escapes a ledger call (the table unreachable, refused, throttled) as one domain
    error naming the table, the endpoint and what to check: the callers answer it (503, or a
    500 Event Grid retries) instead of crashing with the SDK's trace."""
    @functools.wraps(method)
    def call(self: Ledger, *args: Any, **kwargs: Any) -> Any:
        with translated(f"the recovery ledger (table {self._table.table_name})", "table",
                        self._table.url):
            return method(self, *args, **kwargs)
    return call


for _name, _method in list(vars(Ledger).items()):
    if not _name.startswith("_") and inspect.isfunction(_method):
        setattr(Ledger, _name, _reachable(_method))


@functools.lru_cache(maxsize=4)
def ledger_for(settings: Settings) -> Ledger:
    """One ledger client per process and settings (the table is created on first use)."""
    return Ledger.from_settings(settings)
