"""In-memory storage for the app's own storage account: a table the real `gateway.ledger.Ledger`
runs over (its ETag rules, first-writer-wins events and slot bookkeeping are the app's code, not
re-implemented here), and the drill report store.

`FakeTable` answers as Azure Tables does for what the ledger uses: `create_entity` refuses an
existing row (409, `ResourceExistsError`), `update_entity` with `IfNotModified` refuses a stale
ETag (412, `ResourceModifiedError`), `get_entity` of a missing row is 404, and `query_entities`
takes the filters the ledger sends (`X eq 'v'`, `X ge 'v'`, joined by `and`); any other filter
raises, so a new query fails here instead of matching everything.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableEntity, UpdateMode

from gateway.ledger import Ledger
from gateway.reports import ReportStore
from settings import Settings

_CONDITION = re.compile(r"^\s*(\w+) (eq|ge) '((?:[^']|'')*)'\s*$")


class FakeTable:
    """The slice of azure.data.tables.TableClient that the ledger uses, in memory."""

    def __init__(self, table_name: str = "recoveryledger") -> None:
        self.table_name = table_name
        self.url = f"https://fake.table.core.windows.net/{table_name}"
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}
        self._etags = 0

    def create_table(self) -> None:
        raise ResourceExistsError("TableAlreadyExists")  # made with the fake

    def create_entity(self, entity: dict[str, Any]) -> dict[str, Any]:
        key = (entity["PartitionKey"], entity["RowKey"])
        if key in self.rows:
            raise ResourceExistsError("EntityAlreadyExists")
        return self._store(key, entity)

    def update_entity(self, entity: dict[str, Any], mode: UpdateMode = UpdateMode.MERGE, *,
                      etag: str | None = None, match_condition: Any = None) -> dict[str, Any]:
        key = (entity["PartitionKey"], entity["RowKey"])
        current = self.rows.get(key)
        if current is None:
            raise ResourceNotFoundError("ResourceNotFound")
        if match_condition == MatchConditions.IfNotModified and etag != current["etag"]:
            raise ResourceModifiedError("UpdateConditionNotSatisfied")
        body = entity if mode == UpdateMode.REPLACE else {**current["entity"], **entity}
        return self._store(key, body)

    def get_entity(self, partition_key: str, row_key: str) -> TableEntity:
        row = self.rows.get((partition_key, row_key))
        if row is None:
            raise ResourceNotFoundError("ResourceNotFound")
        found = TableEntity(row["entity"])
        found._metadata = {"etag": row["etag"], "timestamp": None}  # as the SDK sets it
        return found

    def query_entities(self, query_filter: str, **_: Any) -> list[TableEntity]:
        conditions = []
        for part in query_filter.split(" and "):
            match = _CONDITION.match(part)
            if match is None:
                raise ValueError(f"the fake table does not understand the filter {part!r}")
            conditions.append((match.group(1), match.group(2), match.group(3).replace("''", "'")))
        found = []
        for row in self.rows.values():
            entity = row["entity"]
            if all(self._holds(entity.get(name), op, value) for name, op, value in conditions):
                item = TableEntity(entity)
                item._metadata = {"etag": row["etag"], "timestamp": None}
                found.append(item)
        return found

    @staticmethod
    def _holds(actual: Any, op: str, value: str) -> bool:
        if actual is None:
            return False
        return str(actual) == value if op == "eq" else str(actual) >= value

    def _store(self, key: tuple[str, str], entity: dict[str, Any]) -> dict[str, Any]:
        self._etags += 1
        etag = f'W/"datetime\'{self._etags}\'"'
        self.rows[key] = {"entity": dict(entity), "etag": etag}
        return {"etag": etag}


def fake_ledger() -> Ledger:
    """The app's Ledger over an in-memory table."""
    return Ledger(FakeTable())  # type: ignore[arg-type]


@dataclass
class _Blob:
    name: str
    url: str


class FakeContainer:
    """The slice of azure.storage.blob.ContainerClient the report store uses, in memory."""

    def __init__(self, name: str = "drill-reports") -> None:
        self.container_name = name
        self.url = f"https://fake.blob.core.windows.net/{name}"
        self.blobs: dict[str, bytes] = {}

    def create_container(self) -> None:
        raise ResourceExistsError("ContainerAlreadyExists")

    def upload_blob(self, name: str, data: bytes, overwrite: bool = False, **_: Any) -> _Blob:
        if name in self.blobs and not overwrite:
            raise ResourceExistsError("BlobAlreadyExists")
        self.blobs[name] = bytes(data)
        return _Blob(name, f"{self.url}/{name}")

    def list_blobs(self, name_starts_with: str | None = None, **_: Any) -> list[_Blob]:
        return [_Blob(n, f"{self.url}/{n}") for n in sorted(self.blobs)
                if name_starts_with is None or n.startswith(name_starts_with)]

    def download_blob(self, name: str, **_: Any) -> Any:
        if name not in self.blobs:
            raise ResourceNotFoundError("BlobNotFound")
        data = self.blobs[name]

        class _Download:
            def readall(self) -> bytes:
                return data
        return _Download()


class FakeReportStore(ReportStore):
    """The app's ReportStore over an in-memory container. Its one queue call (a failed drill's
    notice) builds a queue client from settings of its own, so it alone is replaced: notices
    are kept in `notices` as (queue, message)."""

    def __init__(self) -> None:
        super().__init__(FakeContainer(), Settings())  # type: ignore[arg-type]
        self.notices: list[tuple[str, dict[str, Any]]] = []

    @property
    def blobs(self) -> dict[str, bytes]:
        return self._container.blobs  # type: ignore[attr-defined]

    def report(self, plan: str, drill_id: str) -> dict[str, Any]:
        return json.loads(self.blobs[f"{plan}/{drill_id}.json"])

    def notify_queue(self, queue: str, message: dict[str, Any]) -> None:
        json.dumps(message)  # what the real one sends must be JSON
        self.notices.append((queue, message))
