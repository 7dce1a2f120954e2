"""Recovery signals: Event Grid, CloudEvents and Azure Monitor alert payloads read into one shape.

Triggers hand the raw JSON here and policies decide from a Signal, never from the payload. Anything
that cannot be read raises MalformedEvent naming the field: redelivering it will not help.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from domain.errors import RestoreError
from domain.resource_id import InvalidResourceId, ResourceId


class MalformedEvent(RestoreError):
    """The payload is not a readable recovery signal; it can never succeed as sent."""

    code: ClassVar[str] = "MalformedEvent"
    retryable: ClassVar[bool] = False


ALERT_EVENT_TYPE = "azureMonitorCommonAlertSchema"
RESOURCE_DELETED = "Microsoft.Resources.ResourceDeleteSuccess"
ARN_DELETED = "Microsoft.ResourceNotifications.Resources.Deleted"
HEALTH_CHANGED = "Microsoft.ResourceNotifications.HealthResources.AvailabilityStatusChanged"
DELETION_TYPES = frozenset({RESOURCE_DELETED, ARN_DELETED})

_HEALTH_PREFIX = "Microsoft.ResourceNotifications.HealthResources."
_HANDSHAKES = frozenset({"Microsoft.EventGrid.SubscriptionValidationEvent",
                         "Microsoft.EventGrid.SubscriptionDeletionEvent"})
# Date and time are required; seconds, fraction (any digits, e.g. .NET's 7) and offset are not.
_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2})?)(?:[.,](\d+))?"
                  r"([Zz]|[+-]\d{2}:?\d{2})?$")
_NOUNS = {"microsoft.compute/disks": "disk", "microsoft.compute/virtualmachines": "vm"}
# Who made an ARM call, best first: a user's display name or UPN, else the calling app.
_CALLER_CLAIMS = ("name", "upn", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
                  "appid")
# Bounds on what a payload may hand over: a signal is stored whole in the ledger (an Azure Table
# row: 32K UTF-16 characters of JSON, where one emoji is written as 12), and its ids become
# ledger keys. Lengths are counted as JSON writes them; real ids and names are far shorter.
_OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"
_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\Z")
_HEX = re.compile(r"^[0-9a-f]{32}\Z")
MAX_ID = 1024  # event ids, alert ids, ARM resource ids
MAX_TEXT = 256  # free text kept in details (alertRule, severity, caller, ...): cut to this
_SHOWN = 120  # how much of a bad value a message quotes
_FIELDS = (("key", "key"), ("source", "source"), ("event_type", "eventType"),
           ("resource_id", "resourceId"), ("resource_type", "resourceType"),
           ("resource_group_id", "resourceGroupId"), ("occurred", "occurred"),
           ("summary", "summary"), ("details", "details"))


@dataclass(frozen=True)
class Signal:
    key: str  # dedupe key, stable across redeliveries of the same event
    source: str  # "eventgrid" | "cloudevents" | "alert"
    event_type: str
    resource_id: str
    resource_type: str
    resource_group_id: str
    occurred: str  # ISO-8601 UTC, ending in "Z"
    summary: str
    details: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def is_deletion(self) -> bool:
        return self.event_type in DELETION_TYPES

    def to_dict(self) -> dict[str, Any]:
        doc = {camel: getattr(self, name) for name, camel in _FIELDS}
        doc["details"] = dict(self.details)
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Signal:
        if not isinstance(doc, dict):
            raise MalformedEvent(f"a signal must be a JSON object, not {type(doc).__name__}")
        missing = [camel for _, camel in _FIELDS if camel not in doc]
        if missing:
            raise MalformedEvent(f"signal is missing {', '.join(missing)}")
        values = {name: doc[camel] for name, camel in _FIELDS}
        values["details"] = dict(values["details"] or {})
        return cls(**values)


def is_alert(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("schemaId") == ALERT_EVENT_TYPE


def parse_event(event: dict[str, Any]) -> Signal:
    """One event in either schema: CloudEvents carry "specversion", Event Grid events do not."""
    if isinstance(event, dict) and "specversion" in event:
        return parse_cloud_event(event)
    return parse_event_grid(event)


def parse_event_grid(event: dict[str, Any]) -> Signal:
    return _parse(event, "eventgrid", id_field="id", type_field="eventType", time_field="eventTime")


def parse_cloud_event(event: dict[str, Any]) -> Signal:
    if isinstance(event, dict) and event.get("specversion") != "1.0":
        raise MalformedEvent(f"specversion {shown(event.get('specversion'))} is not '1.0'")
    return _parse(event, "cloudevents", id_field="id", type_field="type", time_field="time")


def parse_alert(doc: dict[str, Any]) -> list[Signal]:
    """One Signal per alertTargetIDs entry (case-insensitive duplicates collapsed), in order."""
    _require_object(doc, "the alert")
    if doc.get("schemaId") != ALERT_EVENT_TYPE:
        raise MalformedEvent(f"schemaId {shown(doc.get('schemaId'))} is not {ALERT_EVENT_TYPE!r}")
    data = doc.get("data")
    if not isinstance(data, dict):
        raise MalformedEvent("data is missing")
    essentials = data.get("essentials")
    if not isinstance(essentials, dict):
        raise MalformedEvent("data.essentials is missing")
    path = "data.essentials"
    alert_id = _text(essentials, "alertId", f"{path}.alertId")
    occurred = _time(_text(essentials, "firedDateTime", f"{path}.firedDateTime"),
                     f"{path}.firedDateTime")
    targets = essentials.get("alertTargetIDs")
    if targets is None:
        raise MalformedEvent(f"{path}.alertTargetIDs is missing")
    if not isinstance(targets, list):
        raise MalformedEvent(f"{path}.alertTargetIDs must be a list, not {type(targets).__name__}")
    if not targets:
        raise MalformedEvent(f"{path}.alertTargetIDs is empty")
    details: dict[str, Any] = {"eventId": alert_id, "alertId": alert_id}
    for name in ("alertRule", "severity", "monitorCondition", "signalType", "monitoringService"):
        details[name] = _optional(essentials, name)
    rule, condition = details["alertRule"] or "?", details["monitorCondition"] or "?"
    severity = f" ({details['severity']})" if details["severity"] else ""
    signals: dict[str, Signal] = {}
    for index, target in enumerate(targets):
        rid = _resource(target, f"{path}.alertTargetIDs[{index}]")
        # Fired and Resolved notifications share the alertId: the condition keeps them apart.
        key = f"alert:{alert_id}:{condition.lower()}:{rid.key()}"
        signals.setdefault(key, Signal(
            key=key, source="alert", event_type=ALERT_EVENT_TYPE, resource_id=str(rid),
            resource_type=rid.type, resource_group_id=rid.resource_group_id, occurred=occurred,
            summary=f"alert '{rule}' {condition}{severity} on {rid.name}", details=dict(details)))
    return list(signals.values())


def _parse(event: Any, source: str, *, id_field: str, type_field: str, time_field: str) -> Signal:
    _require_object(event, "the event")
    event_id = _text(event, id_field, id_field)
    event_type = _text(event, type_field, type_field)
    if event_type in _HANDSHAKES:
        raise MalformedEvent(f"{type_field} {shown(event_type)} is a subscription handshake, "
                             "answered by the host; not a recovery signal")
    occurred = _time(_text(event, time_field, time_field), time_field)
    data = _object(event.get("data"))
    info = _object(data.get("resourceInfo"))
    details: dict[str, Any] = {"eventId": event_id}
    if event_type.startswith(_HEALTH_PREFIX):
        # resourceInfo.id is the availabilityStatuses/annotations child; the target is the resource.
        path = "data.resourceInfo.properties"
        props = _object(info.get("properties"))
        target = f"{path}.targetResourceId"
        rid = _resource(_text(props, "targetResourceId", target), target)
        if props.get("occurredTime") not in (None, ""):
            occurred = _time(_text(props, "occurredTime", f"{path}.occurredTime"),
                             f"{path}.occurredTime")
        if event_type == HEALTH_CHANGED:
            state = _text(props, "availabilityState", f"{path}.availabilityState")
            previous = _optional(props, "previousAvailabilityState")
            details.update(availabilityState=state, previousAvailabilityState=previous)
            summary = f"{rid.name}: {previous or 'Unknown'} -> {state}"
        else:
            summary = f"{event_type} on {rid.name}"
    else:
        rid = _first_resource((("data.resourceUri", data.get("resourceUri")),
                               ("data.resourceInfo.id", info.get("id")),
                               ("subject", event.get("subject"))))
        operation = _optional(data, "operationName")
        extras = {"operationName": operation, "correlationId": _optional(data, "correlationId"),
                  "caller": _caller(data.get("claims")),
                  "callerObjectId": _caller_object_id(data)}
        details.update({name: value for name, value in extras.items() if value})
        if event_type in DELETION_TYPES:
            noun = _NOUNS.get(rid.type.lower(), rid.type)
            summary = f"{noun} {rid.name} deleted" + (f" ({operation})" if operation else "")
        else:
            summary = f"{event_type} on {rid.name}"
    return Signal(key=f"eventgrid:{event_id}", source=source, event_type=event_type,
                  resource_id=str(rid), resource_type=rid.type,
                  resource_group_id=rid.resource_group_id, occurred=occurred, summary=summary,
                  details=details)


def _require_object(doc: Any, what: str) -> None:
    if not isinstance(doc, dict):
        raise MalformedEvent(f"{what} must be a JSON object, not {type(doc).__name__}")


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(doc: dict[str, Any], name: str, path: str, limit: int = MAX_ID) -> str:
    value = doc.get(name)
    if value is None or value == "":
        raise MalformedEvent(f"{path} is missing")
    if not isinstance(value, str):
        raise MalformedEvent(f"{path} must be a string, not {type(value).__name__}")
    return _bounded(value, path, limit)


def _bounded(value: str, path: str, limit: int = MAX_ID) -> str:
    """Text that can be stored and used as a key: not too long, and valid Unicode (JSON's \\u
    escapes can carry half a surrogate pair, which no UTF-8 encoder takes)."""
    if len(value) > limit or json_length(value) > limit:
        raise MalformedEvent(f"{path} is {len(value)} characters long ({json_length(value)} as "
                             f"JSON), more than {limit} ({shown(value)})")
    if not encodable(value):
        raise MalformedEvent(f"{path} {shown(value)} is not valid Unicode text (it holds an "
                             "unpaired surrogate)")
    return value


def _optional(doc: dict[str, Any], name: str) -> str | None:
    """A free-text detail: absent unless a non-empty string; cut to MAX_TEXT, invalid Unicode
    replaced (it is shown and stored, never matched as an id)."""
    value = doc.get(name)
    if not isinstance(value, str) or not value:
        return None
    value = value[:MAX_TEXT].encode("utf-8", "replace").decode("utf-8")
    while json_length(value) > MAX_TEXT:
        value = value[:len(value) * 3 // 4]
    return value


def json_length(text: str) -> int:
    """How long `text` is once written as a JSON string (without its quotes)."""
    return len(json.dumps(text)) - 2


def encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(value: Any) -> str:
    """A value as a message quotes it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}... ({len(text)} characters)"


def _caller(claims: Any) -> str | None:
    claims = _object(claims)
    return next((c for c in (_optional(claims, name) for name in _CALLER_CLAIMS) if c), None)


def _caller_object_id(data: dict[str, Any]) -> str | None:
    """The object id of the identity that made the ARM call, lower-case with hyphens: the `oid`
    claim of its token, else the principal its role assignment named (authorization.evidence,
    which ARM writes as 32 hex digits without hyphens); None when neither is an object id."""
    claims = _object(data.get("claims"))
    evidence = _object(_object(data.get("authorization")).get("evidence"))
    for value in (claims.get(_OID_CLAIM), claims.get("oid"), evidence.get("principalId")):
        if isinstance(value, str) and (_OBJECT_ID.match(value) or _HEX.match(value.lower())):
            d = value.replace("-", "").lower()
            return f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:]}"
    return None


def _time(text: str, path: str) -> str:
    """Any ISO-8601 date-time as UTC "...Z"; no offset is read as UTC (ARM times are UTC)."""
    match = _ISO.match(text.strip())
    try:
        if not match:
            raise ValueError(text)
        main, digits, offset = match.groups()
        fraction = f".{digits[:6].ljust(6, '0')}" if digits else ""
        zone = "+00:00" if offset in (None, "Z", "z") else offset
        when = datetime.fromisoformat(f"{main.replace('t', 'T')}{fraction}{zone}")
    except ValueError:
        raise MalformedEvent(f"{path} {shown(text)} is not an ISO-8601 time") from None
    try:
        return when.astimezone(UTC).isoformat().replace("+00:00", "Z")
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first UTC time Python has
        raise MalformedEvent(f"{path} {shown(text)} is out of range in UTC") from None


def _resource(text: Any, path: str) -> ResourceId:
    if isinstance(text, str):
        _bounded(text, path)
    try:
        rid = ResourceId.parse(text)
    except InvalidResourceId as error:
        raise MalformedEvent(f"{path} {shown(text)} is not an ARM resource id: {error}") from None
    if rid.provider is None:
        raise MalformedEvent(f"{path} {shown(text)} is not an ARM resource id: it names a "
                             "resource group, not a resource")
    return rid


def _first_resource(candidates: tuple[tuple[str, Any], ...]) -> ResourceId:
    for path, value in candidates:
        if value is not None and value != "":
            return _resource(value, path)
    paths = ", ".join(path for path, _ in candidates)
    raise MalformedEvent(f"no resource id: {paths} are all missing")
