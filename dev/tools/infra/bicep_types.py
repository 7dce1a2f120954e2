"""The Bicep compiler's resource type data, read offline (no compiler can be installed here).

The data is Azure/bicep-types-az's `generated/<provider dir>/<namespace>/<api version>/types.json`
(what the compiler embeds), kept outside the project: `<project root>/../shared/bicep-types` by
default, or the folder `BICEP_TYPES_DIR` names. A missing folder is an error naming where it
looked, never a silent skip.

A types.json file is a JSON array of types; `{"$ref": "#/N"}` points at entry N of the same file.
Only the files a lookup needs are read: the folder names give the namespace and API version, so
`Microsoft.Storage/storageAccounts@2023-05-01` reads `*/microsoft.storage/2023-05-01/types.json`
(several provider folders may hold the same namespace and version, e.g. resources_7 and
resources_11: each is tried).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_VAR = "BICEP_TYPES_DIR"
PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DIR = PROJECT_ROOT.parent / "shared" / "bicep-types"

# ObjectTypePropertyFlags (Azure.Bicep.Types). DeployTimeConstant needs to know which
# expressions are runtime values, which pycep cannot tell: it is not checked.
REQUIRED, READ_ONLY, WRITE_ONLY, DEPLOY_TIME_CONSTANT = 1, 2, 4, 8
# ScopeType bits of a ResourceType's readableScopes and writableScopes.
TENANT, MANAGEMENT_GROUP, SUBSCRIPTION, RESOURCE_GROUP, EXTENSION = 1, 2, 4, 8, 16

JsonObject = Mapping[str, Any]


class TypeDataMissing(Exception):
    """The type data folder is not where it was looked for."""


def configured_dir() -> tuple[Path, str]:
    """The type data folder, and how it was chosen (for the error when it is missing)."""
    given = os.environ.get(ENV_VAR, "").strip()
    if given:
        return Path(given).expanduser().resolve(), f"{ENV_VAR}={given}"
    return DEFAULT_DIR.resolve(), (f"the default, <project root>/../shared/bicep-types "
                                   f"({ENV_VAR} is not set)")


@dataclass(frozen=True)
class Node:
    """One entry of a types.json file; `file` resolves the `$ref`s inside it."""
    file: Path
    data: JsonObject

    @property
    def kind(self) -> str:
        return str(self.data.get("$type"))

    @property
    def name(self) -> str:
        return str(self.data.get("name") or self.kind)


@dataclass(frozen=True)
class Property:
    name: str
    type: Node
    flags: int

    @property
    def required(self) -> bool:
        return bool(self.flags & REQUIRED)

    @property
    def read_only(self) -> bool:
        return bool(self.flags & READ_ONLY)


@dataclass(frozen=True)
class ResourceType:
    name: str  # as the data spells it, e.g. Microsoft.Web/sites@2024-04-01
    body: Node
    readable_scopes: int
    writable_scopes: int


@dataclass
class TypeData:
    """The folder of type data, and the types.json files read from it so far."""
    root: Path
    _folders: dict[tuple[str, str], list[Path]] = field(default_factory=dict)
    _files: dict[Path, list[JsonObject]] = field(default_factory=dict)
    _resources: dict[Path, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def open(cls, root: Path, how: str = "") -> TypeData:
        generated = root / "generated"
        if not generated.is_dir():
            where = f"{generated} does not exist" if root.is_dir() else f"{root} does not exist"
            raise TypeDataMissing(
                f"no Bicep type data: {where} (looked there because of {how or 'the caller'}); "
                f"the check needs the bicep-types folder of the shared reference data, or "
                f"{ENV_VAR} naming a copy of it")
        data = cls(root=root)
        # Folder names only (cheap): which files hold which namespace at which API version.
        for types_json in sorted(generated.glob("*/*/*/types.json")):
            version, namespace = types_json.parent.name, types_json.parent.parent.name
            data._folders.setdefault((namespace.lower(), version.lower()), []).append(types_json)
        return data

    @property
    def loaded(self) -> list[Path]:
        return list(self._files)

    @property
    def file_count(self) -> int:
        return sum(len(paths) for paths in self._folders.values())

    def versions(self, namespace: str) -> list[str]:
        """The API versions the data holds for a namespace (folder names, nothing read)."""
        return sorted({v for ns, v in self._folders if ns == namespace.lower()})

    def resource(self, type_name: str, api_version: str) -> ResourceType | None:
        """`Microsoft.X/y@version`, matched case-insensitively as the compiler does; None if
        the data does not have it."""
        wanted = f"{type_name}@{api_version}".lower()
        for path in self._folders.get((type_name.split("/")[0].lower(), api_version.lower()), []):
            index = self._resource_index(path).get(wanted)
            if index is not None:
                entry = self._file(path)[index]
                return ResourceType(name=str(entry["name"]), body=self.deref(path, entry["body"]),
                                    readable_scopes=int(entry.get("readableScopes", 0)),
                                    writable_scopes=int(entry.get("writableScopes", 0)))
        return None

    def deref(self, file: Path, ref: JsonObject) -> Node:
        """The type a `{"$ref": "[other.json]#/N"}` points at (relative to `file`)."""
        target, _, index = str(ref["$ref"]).partition("#/")
        path = (file.parent / target).resolve() if target else file
        return Node(path, self._file(path)[int(index)])

    def properties(self, node: Node) -> dict[str, Property]:
        raw = node.data.get("properties") or {}
        return {name: Property(name, self.deref(node.file, spec["type"]), int(spec.get("flags", 0)))
                for name, spec in raw.items()}

    def additional_properties(self, node: Node) -> Node | None:
        ref = node.data.get("additionalProperties")
        return self.deref(node.file, ref) if ref else None

    def members(self, node: Node) -> list[Node]:
        return [self.deref(node.file, ref) for ref in node.data.get("elements") or []]

    def variant(self, node: Node, key: str) -> tuple[dict[str, Property], Node | None]:
        """The properties of one variant of a DiscriminatedObjectType: its own, then the base
        properties it does not redefine (compared case-insensitively, as the compiler merges
        them), and its additionalProperties."""
        element = self.deref(node.file, node.data["elements"][key])
        merged = self.properties(element)
        own = {name.lower() for name in merged}
        for name, spec in (node.data.get("baseProperties") or {}).items():
            if name.lower() not in own:
                merged[name] = Property(name, self.deref(node.file, spec["type"]),
                                        int(spec.get("flags", 0)))
        return merged, self.additional_properties(element)

    def literals(self, node: Node) -> list[str] | None:
        """The strings a closed enum allows, in the data's order; None when the type is not a
        closed enum (a union with `string` in it is extensible: any string is accepted)."""
        if node.kind == "StringLiteralType":
            return [str(node.data["value"])]
        if node.kind != "UnionType":
            return None
        found: list[str] = []
        for member in self.members(node):
            if member.kind != "StringLiteralType":
                return None
            found.append(str(member.data["value"]))
        return found

    def describe(self, node: Node) -> str:
        """A type as a message shows it: `'a' | 'b' | string`, `int`, `Sku`, `string[]`."""
        simple = {"StringType": "string", "IntegerType": "int", "BooleanType": "bool",
                  "AnyType": "any", "NullType": "null"}
        if node.kind in simple:
            return simple[node.kind]
        if node.kind == "StringLiteralType":
            return f"'{node.data['value']}'"
        if node.kind == "UnionType":
            return " | ".join(self.describe(m) for m in self.members(node))
        if node.kind == "ArrayType":
            return f"{self.describe(self.deref(node.file, node.data['itemType']))}[]"
        return node.name

    def _file(self, path: Path) -> list[JsonObject]:
        if path not in self._files:
            with path.open(encoding="utf-8") as handle:
                loaded = json.load(handle)
            if not isinstance(loaded, list):
                raise ValueError(f"{path}: not a types.json array")
            self._files[path] = loaded
        return self._files[path]

    def _resource_index(self, path: Path) -> dict[str, int]:
        if path not in self._resources:
            self._resources[path] = {str(t["name"]).lower(): i
                                     for i, t in enumerate(self._file(path))
                                     if t.get("$type") == "ResourceType"}
        return self._resources[path]
