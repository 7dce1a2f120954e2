"""The catalog's query (GET /api/disks): filters, page size and the opaque skip token, read
from the query string's (name, value) pairs with every bad parameter named.

The skip token carries the sort key of the last disk of the page before (not an offset: a disk
protected or removed between two pages neither repeats nor drops another) and a fingerprint of
the filters, so a token cannot be replayed against another query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from domain.errors import FieldError, InvalidRequest
from domain.resource_id import InvalidResourceId, ResourceId

DEFAULT_TOP, MAX_TOP = 50, 100
PARAMETERS = ("resourceGroup", "vm", "tag", "top", "skipToken")
# `code` is the function key, which the Functions host reads (a deployed app sees it too).
HOST_PARAMETERS = ("code",)
_RG_NAME = re.compile(r"^[-\w._()]{1,90}\Z")
_VM_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\Z")
# Azure tag names: at most 512 characters and none of < > % & \ ? /; values at most 256.
_TAG_NAME = re.compile(r"^[^<>%&\\?/]{1,512}\Z")
_TOKEN_VERSION = 1

SortKey = tuple[str, str, str, str]  # subscription, resource group, disk name, vault (lower)


class InvalidCatalogQuery(InvalidRequest):
    """Bad query parameters: each message names its parameter."""

    title = "Invalid request"

    def __post_init__(self) -> None:
        InvalidRequest.__post_init__(self)
        self.message = "; ".join(e.message for e in self.errors)
        Exception.__init__(self, f"{self.code}: {self.message}")


@dataclass(frozen=True)
class CatalogQuery:
    resource_group: str | None = None  # a name, or a resource group id (lower-cased)
    vm: str | None = None  # a name, or a VM id (lower-cased)
    tags: tuple[tuple[str, str], ...] = ()  # name=value pairs; every one must match
    top: int = DEFAULT_TOP
    after: SortKey | None = None  # from the skip token: the page starts after this disk

    def fingerprint(self) -> str:
        """The filters, hashed: a skip token is only good for the query that made it."""
        text = json.dumps([self.resource_group, self.vm, sorted(self.tags)])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def skip_token(self, last: SortKey) -> str:
        doc = {"v": _TOKEN_VERSION, "after": list(last), "q": self.fingerprint()}
        raw = json.dumps(doc, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def query_string_pairs(self, token: str) -> list[tuple[str, str]]:
        """The parameters of the next page's link: these filters, `top` and `token`."""
        pairs = [("resourceGroup", self.resource_group)] if self.resource_group else []
        pairs += [("vm", self.vm)] if self.vm else []
        pairs += [("tag", f"{name}={value}") for name, value in self.tags]
        return [*pairs, ("top", str(self.top)), ("skipToken", token)]


def parse_query(pairs: Iterable[tuple[str, str]]) -> CatalogQuery:
    """The query, or InvalidCatalogQuery naming every bad parameter."""
    seen: dict[str, list[str]] = {}
    for name, value in pairs:
        seen.setdefault(name, []).append(value)
    problems: list[FieldError] = []

    def bad(field: str, message: str) -> None:
        problems.append(FieldError(field, message))

    for name in sorted(set(seen) - set(PARAMETERS) - set(HOST_PARAMETERS)):
        bad(name, f"unknown query parameter {name[:100]!r}: use "
                  f"{', '.join(PARAMETERS)}")
    for name in ("resourceGroup", "vm", "top", "skipToken"):
        if len(seen.get(name, [])) > 1:
            bad(name, f"{name} may be given once (got {len(seen[name])})")
    group = _resource_group(_one(seen, "resourceGroup"), bad)
    vm = _vm(_one(seen, "vm"), bad)
    tags = tuple(t for t in (_tag(v, bad) for v in seen.get("tag", [])) if t is not None)
    top = _top(_one(seen, "top"), bad)
    query = CatalogQuery(group, vm, tags, top)
    token = _one(seen, "skipToken")
    after = _after(token, query, bad) if token is not None else None
    if problems:
        raise InvalidCatalogQuery(errors=problems)
    return CatalogQuery(group, vm, tags, top, after)


def _one(seen: dict[str, list[str]], name: str) -> str | None:
    values = seen.get(name)
    return values[-1] if values else None


def _resource_group(value: str | None, bad: Any) -> str | None:
    return _name_or_id(
        "resourceGroup", value, bad, what="resource group",
        is_kind=lambda rid: rid.provider is None,
        id_form="/subscriptions/{id}/resourceGroups/{name}",
        canonical=lambda rid, _: f"/subscriptions/{rid.subscription}/resourcegroups/"
                                 f"{rid.resource_group}".lower(),
        name_ok=lambda text: bool(_RG_NAME.match(text)) and not text.endswith("."),
        name_rule="1-90 letters, digits, - _ . ( ), not ending with .")


def _vm(value: str | None, bad: Any) -> str | None:
    return _name_or_id(
        "vm", value, bad, what="virtual machine",
        is_kind=lambda rid: rid.type.lower() == "microsoft.compute/virtualmachines",
        id_form=".../providers/Microsoft.Compute/virtualMachines/{name}",
        canonical=lambda _, text: text.rstrip("/").lower(),
        name_ok=lambda text: bool(_VM_NAME.match(text)), name_rule="1-64 letters, digits, _ . -")


def _name_or_id(field: str, value: str | None, bad: Any, *, what: str,
                is_kind: Callable[[ResourceId], bool], id_form: str,
                canonical: Callable[[ResourceId, str], str], name_ok: Callable[[str], bool],
                name_rule: str) -> str | None:
    """A filter given as a name or an ARM id, lower-cased (an id in its canonical form); None
    when absent or bad (`bad` named the problem)."""
    if value is None:
        return None
    text = value.strip()
    if text.startswith("/"):
        try:
            rid = ResourceId.parse(text.rstrip("/"))
        except InvalidResourceId as exc:
            bad(field, f"{field} {text[:200]!r} is not a {what} id: {exc}")
            return None
        if not is_kind(rid):
            bad(field, f"{field} {text[:200]!r} is not a {what} id ({id_form})")
            return None
        return canonical(rid, text)
    if not name_ok(text):
        bad(field, f"{field} {text[:200]!r} is neither a {what} name ({name_rule}) nor an id")
        return None
    return text.lower()


def _tag(value: str, bad: Any) -> tuple[str, str] | None:
    name, sep, tag_value = value.partition("=")
    if not sep:
        bad("tag", f"tag {value[:200]!r} must be name=value (repeat tag for more than one)")
        return None
    if not _TAG_NAME.match(name):
        bad("tag", f"tag name {name[:200]!r} must be 1-512 characters without < > % & \\ ? /")
        return None
    if len(tag_value) > 256:
        bad("tag", f"the value of tag {name[:100]!r} is longer than 256 characters")
        return None
    return name, tag_value


def _top(value: str | None, bad: Any) -> int:
    if value is None:
        return DEFAULT_TOP
    text = value.strip()
    if text.isascii() and text.isdigit() and len(text) <= 3 and 1 <= int(text) <= MAX_TOP:
        return int(text)
    bad("top", f"top must be a whole number from 1 to {MAX_TOP} (got {value[:20]!r})")
    return DEFAULT_TOP


def _after(token: str, query: CatalogQuery, bad: Any) -> SortKey | None:
    try:
        doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        doc = None
    after = doc.get("after") if isinstance(doc, dict) else None
    if not (isinstance(doc, dict) and doc.get("v") == _TOKEN_VERSION and isinstance(after, list)
            and len(after) == 4 and all(isinstance(a, str) for a in after)):
        bad("skipToken", "skipToken is not one this API gave: take it from the nextLink of the "
                         "page before")
        return None
    if doc.get("q") != query.fingerprint():
        bad("skipToken", "skipToken belongs to a query with other filters (resourceGroup, vm, "
                         "tag): follow nextLink as it is, or start again without skipToken")
        return None
    return (after[0], after[1], after[2], after[3])
