"""ARM resource ids, parsed once and compared case-insensitively (as ARM compares them)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# \Z, not $: "$" also matches before a final newline ("rg\n" was a resource group name)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\Z")
_RG_NAME = re.compile(r"^[-\w._()]{1,90}\Z")
# Managed disk names: 1-80 chars; letters, digits, _ . -; start with a letter or digit; end with a
# letter, digit or underscore.
DISK_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?\Z")


class InvalidResourceId(ValueError):
    pass


@dataclass(frozen=True)
class ResourceId:
    subscription: str
    resource_group: str
    provider: str | None = None  # e.g. "Microsoft.Compute"
    types: tuple[str, ...] = ()  # e.g. ("disks",) or ("backupVaults", "backupInstances")
    names: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> ResourceId:
        if not isinstance(text, str) or not text.startswith("/"):
            raise InvalidResourceId("must be an ARM resource id starting with /subscriptions/")
        parts = text.strip("/").split("/")
        if len(parts) < 4 or parts[0].lower() != "subscriptions" or \
                parts[2].lower() != "resourcegroups":
            raise InvalidResourceId("must look like /subscriptions/{id}/resourceGroups/{name}/...")
        if not _GUID.match(parts[1]):
            raise InvalidResourceId(f"subscription id {parts[1]!r} is not a GUID")
        if not _RG_NAME.match(parts[3]) or parts[3].endswith("."):
            raise InvalidResourceId(f"resource group name {parts[3]!r} is not valid")
        rest = parts[4:]
        if not rest:
            return cls(parts[1].lower(), parts[3])
        if rest[0].lower() != "providers" or len(rest) < 4 or len(rest) % 2:
            raise InvalidResourceId("must continue with /providers/{namespace}/{type}/{name}")
        pairs = rest[2:]
        if any(not p for p in pairs):
            raise InvalidResourceId("has an empty segment")
        return cls(parts[1].lower(), parts[3], rest[1], tuple(pairs[0::2]), tuple(pairs[1::2]))

    @property
    def name(self) -> str:
        return self.names[-1] if self.names else self.resource_group

    @property
    def type(self) -> str:
        """Like "Microsoft.Compute/disks"; "resourceGroups" for a resource group id."""
        if self.provider is None:
            return "resourceGroups"
        return "/".join((self.provider, *self.types))

    def is_type(self, full_type: str) -> bool:
        return self.type.lower() == full_type.lower()

    @property
    def resource_group_id(self) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"

    def __str__(self) -> str:
        if self.provider is None:
            return self.resource_group_id
        tail = "/".join(f"{t}/{n}" for t, n in zip(self.types, self.names, strict=True))
        return f"{self.resource_group_id}/providers/{self.provider}/{tail}"

    def key(self) -> str:
        """The id for comparisons and dictionary keys: ARM ids are case-insensitive."""
        return str(self).lower()

    def same_as(self, other: ResourceId | str) -> bool:
        other_key = other.key() if isinstance(other, ResourceId) else str(other).lower().rstrip("/")
        return self.key() == other_key


# ---- as JSON Schema (domain/validation.py) --------------------------------------------------
def _any_case(text: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in text)


_GUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_GROUP_PATTERN = (f"^/+{_any_case('subscriptions')}/{_GUID_PATTERN}/"
                  f"{_any_case('resourceGroups')}/[-\\w.()]{{0,89}}[-\\w()]")


def id_schema(full_type: str, description: str, example: str) -> dict[str, object]:
    """An ARM id of `full_type` ("resourceGroups", "Microsoft.Compute/disks", ...): its pattern
    is ResourceId.parse written for the document's readers (tests/api holds the two in line);
    the app runs the parser itself (x-check), for its messages."""
    if full_type == "resourceGroups":
        tail = ""
    else:
        provider, *types = full_type.split("/")
        tail = f"/{_any_case('providers')}/{_any_case(provider)}" + "".join(
            f"/{_any_case(t)}/[^/]+" for t in types)
    return {"type": "string", "description": description,
            "pattern": f"{_GROUP_PATTERN}{tail}/*$", "examples": [example],
            "x-check": "resource-id", "x-resource-type": full_type}


def id_problem(value: object, expected: str) -> str | None:
    """What is wrong with `value` as the id of an `expected` resource, or None."""
    if value is None:
        return "is required"
    try:
        rid = ResourceId.parse(value)  # type: ignore[arg-type]
    except InvalidResourceId as exc:
        return str(exc)
    if not rid.is_type(expected):
        return f"must be a {expected} id, got a {rid.type} id"
    return None
