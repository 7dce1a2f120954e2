"""Fuzzing alert-driven recovery (issue 10): POST /api/alerts (Azure Monitor common alert schema),
the Event Grid webhook (/runtime/webhooks/eventgrid?functionName=recovery_event: Event Grid schema
and CloudEvents, arrays, the handshakes) and GET /api/recovery/events.

Every answer: no 5xx; a refused alert is problem+json naming what is wrong; every alert and event is
accounted for in the ledger (a malformed one with the reason, naming the changed field); runs start
only for signals a policy matched (the policies match only rg-fuzz, which azsim does not have, so
a run ends Ignored and writes nothing), never for malformed ones.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

import pytest
from fuzzlib import (
    FUZZ,
    MAX_URL,
    RG,
    SUB,
    VM,
    Mutated,
    collecting,
    dumps,
    json_values,
    mentions,
    mutations,
    names,
    nested,
    problem_of,
    query,
    raw_bodies,
    texts,
    time_variants,
)
from hypothesis import given
from hypothesis import strategies as st

from domain.recovery.signals import MAX_ID, encodable

WEBHOOK = "/runtime/webhooks/eventgrid?functionName=recovery_event"
ALERT = "azureMonitorCommonAlertSchema"
HEALTH = "Microsoft.ResourceNotifications.HealthResources.AvailabilityStatusChanged"
DELETIONS = ["Microsoft.Resources.ResourceDeleteSuccess",
             "Microsoft.ResourceNotifications.Resources.Deleted"]
FUZZ_VM = f"{RG}/rg-fuzz/providers/Microsoft.Compute/virtualMachines/vm-fuzz"
DISKS = [f"{RG}/rg-app/providers/Microsoft.Compute/disks/vm-app01-data0",
         f"{RG}/rg-fuzz/providers/Microsoft.Compute/disks/fuzz-data"]


@pytest.fixture
def ledger_checks(app):
    """Checks of the ledger's records, made at the end of the test from one query of them all
    (a read per case cost more than the case). Each: (key, check(record) -> problem or None)."""
    checks: list[tuple[str, Any]] = []
    yield checks
    if not checks:
        return
    table = app.ledger()._table
    records = {json.loads(e["doc"])["key"].lower(): json.loads(e["doc"])
               for e in table.query_entities("PartitionKey eq 'event'")}
    problems = [f"{key!r}: " + (problem if record else "not in the ledger")
                for key, check in checks
                if (problem := check(record := records.get(key.lower()))) or not record]
    assert not problems, f"{len(problems)} of {len(checks)} ledger records are wrong:\n" + \
        "\n".join(problems[:20])


def _count(tally: Any, status: int, rejected: bool) -> None:
    tally.cases += 1
    tally.statuses[status] = tally.statuses.get(status, 0) + 1
    if rejected:
        tally.rejected += 1
    else:
        tally.accepted += 1


ID = "{{ID}}"  # stands for a fresh id, put in when the case is sent: ledger records are per id,
# and hypothesis draws the same value again and again (the first record of an id would stand)


def fresh(body: bytes) -> bytes:
    return re.sub(rb"\{\{ID\}\}", lambda _: str(uuid.uuid4()).encode(), body)


def fresh_doc(doc: Any) -> Any:
    return json.loads(fresh(dumps(doc)))


def _ledger_key(text: str) -> str:
    """domain: triggers/recovery.malformed_key, for an input too broken to have an id."""
    return f"alert:unidentified:{hashlib.sha256(text.encode()).hexdigest()[:32]}"


# ---- POST /api/alerts ----------------------------------------------------------------------------
def common_alert(uid: uuid.UUID, targets: list[str], rule: str, condition: str,
                 fired: str) -> dict[str, Any]:
    return {"schemaId": ALERT, "data": {
        "essentials": {
            "alertId": f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/{ID}",
            "alertRule": rule, "severity": "Sev1", "signalType": "Metric",
            "monitorCondition": condition, "monitoringService": "Platform",
            "alertTargetIDs": targets, "configurationItems": [t.rsplit("/", 1)[-1]
                                                              for t in targets],
            "originAlertId": str(uid), "firedDateTime": fired, "description": "",
            "essentialsVersion": "1.0", "alertContextVersion": "1.0"},
        "alertContext": {"conditionType": "SingleResourceMultipleMetricCriteria",
                         "condition": {"windowSize": "PT5M", "allOf": [{"metricName": "cpu"}]}},
        "customProperties": None}}


def alerts() -> st.SearchStrategy[Mutated]:
    base = st.builds(common_alert, st.uuids(),
                     st.sampled_from([[VM.lower()], [VM, VM.upper()], [FUZZ_VM],
                                      [VM, FUZZ_VM, DISKS[0]]]),
                     st.sampled_from(["vm-unhealthy", "fuzz-tags"]),
                     st.sampled_from(["Fired", "Resolved"]),
                     st.sampled_from(["2026-11-24T10:15:03.4527234Z", "2026-11-24T10:15:03Z"]))
    return base.flatmap(lambda doc: mutations(doc, extra_keys=[
        "schemaId", "data", "essentials", "alertId", "alertTargetIDs", "firedDateTime"]))


def alert_bodies() -> st.SearchStrategy[tuple[bytes, Mutated | None]]:
    mutated = alerts().map(lambda m: (dumps(m.doc), m))
    anything = st.one_of(json_values().map(lambda v: (dumps(v), None)),
                         nested().map(lambda v: (dumps(v), None)),
                         raw_bodies().map(lambda b: (b, None)))
    return st.one_of(mutated, mutated, mutated, anything)


@FUZZ
@given(case=alert_bodies())
@collecting
def test_post_alerts(app, http, tally, ledger_checks, case):
    body, mutated = case
    body = fresh(body)
    count = tally("POST /api/alerts")
    before = app.top_level_runs()
    answer = http.post(f"{app.base}/api/alerts", data=body, timeout=60,
                       headers={"Content-Type": "application/json"})
    started = app.top_level_runs() - before
    _count(count, answer.status_code, answer.status_code >= 400)
    assert answer.status_code < 500, f"{answer.status_code} {answer.text[:1000]!r}"
    if answer.status_code >= 400:
        assert answer.status_code == 400, answer.text[:500]
        problem = problem_of(answer)
        assert started == 0, f"a refused alert started {started} orchestration(s)"
        if mutated is not None:
            assert names(problem, mutated.path), \
                f"the problem does not name {mutated.path!r}: {problem}"
        ledger_checks.append((_alert_key(body), _is_recorded))
        return
    assert answer.status_code == 200
    signals = answer.json()["signals"]
    assert signals and all(s["disposition"] in ("started", "deduplicated", "rejected")
                           and isinstance(s["reason"], str) and s["reason"] for s in signals), \
        signals
    runs = [s for s in signals if s["disposition"] == "started"]
    assert started == len(runs), (started, signals)
    for signal in runs:
        assert "/rg-fuzz/" in signal["key"].lower() and signal["runId"], signal
        assert signal["statusQueryGetUri"].endswith(f"/api/restores/{signal['runId']}")


def _alert_key(body: bytes) -> str:
    """The ledger key of a refused alert (triggers/recovery.handle_alert, event_key)."""
    text = body.decode("utf-8", errors="replace")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        doc = None
    data = doc.get("data") if isinstance(doc, dict) else None
    essentials = data.get("essentials") if isinstance(data, dict) else None
    alert_id = essentials.get("alertId") if isinstance(essentials, dict) else None
    return f"alert:{alert_id}" if _usable_id(alert_id) and doc.get("schemaId") == ALERT \
        else _ledger_key(text)


def _is_recorded(record: dict[str, Any] | None) -> str | None:
    """A refused alert is accounted for (malformed, with its reason; or an earlier record of the
    same id, which stands)."""
    if record is None:
        return None  # reported as missing
    return None if record.get("reason") else f"no reason: {record}"


# ---- the Event Grid webhook ----------------------------------------------------------------------
def delete_event(uid: uuid.UUID, disk: str, event_type: str, when: str) -> dict[str, Any]:
    return {"id": ID, "topic": f"/subscriptions/{SUB}", "subject": disk,
            "eventType": event_type, "eventTime": when, "dataVersion": "2",
            "metadataVersion": "1",
            "data": {"operationName": "Microsoft.Compute/disks/delete", "resourceUri": disk,
                     "resourceProvider": "Microsoft.Compute", "status": "Succeeded",
                     "subscriptionId": SUB, "tenantId": str(uid),
                     "correlationId": str(uid), "claims": {"name": "alice@contoso.com"},
                     "httpRequest": {"method": "DELETE",
                                     "url": f"https://management.azure.com{disk}"}}}


def health_event(uid: uuid.UUID, vm: str, state: str, when: str) -> dict[str, Any]:
    status = f"{vm}/providers/Microsoft.ResourceHealth/availabilityStatuses/current"
    return {"id": ID, "topic": f"/subscriptions/{SUB}", "subject": status,
            "eventType": HEALTH, "eventTime": when, "dataVersion": "1", "metadataVersion": "1",
            "data": {"resourceInfo": {
                "id": status, "name": "current",
                "type": "Microsoft.ResourceHealth/availabilityStatuses",
                "properties": {"targetResourceId": vm,
                               "targetResourceType": "Microsoft.Compute/virtualMachines",
                               "occurredTime": when, "previousAvailabilityState": "Available",
                               "availabilityState": state}},
                "apiVersion": "2023-12-01", "operationalInfo": {"resourceEventTime": when}}}


def as_cloud_event(event: dict[str, Any]) -> dict[str, Any]:
    return {"specversion": "1.0", "id": event["id"], "source": event["topic"],
            "type": event["eventType"], "time": event["eventTime"], "subject": event["subject"],
            "datacontenttype": "application/json", "data": event["data"]}


WHEN = st.sampled_from(["2026-11-24T10:15:03.4527234Z", "2026-11-24T10:15:03Z",
                        "2026-11-24T10:15:03.123Z"])


def events() -> st.SearchStrategy[tuple[Mutated, bool]]:
    """(an event with one change, whether it goes as a CloudEvent)."""
    base = st.one_of(
        st.builds(delete_event, st.uuids(), st.sampled_from(DISKS), st.sampled_from(DELETIONS),
                  WHEN),
        st.builds(health_event, st.uuids(), st.sampled_from([VM, FUZZ_VM]),
                  st.sampled_from(["Unavailable", "Available", "Degraded"]), WHEN))
    cloud = st.booleans()
    return st.tuples(base, cloud).flatmap(lambda bc: st.tuples(
        mutations(as_cloud_event(bc[0]) if bc[1] else bc[0],
                  extra_keys=["id", "subject", "data", "specversion", "eventType", "type"]),
        st.just(bc[1])))


def deliveries() -> st.SearchStrategy[dict[str, Any]]:
    """One webhook request: a Notification of events, a handshake, or something else."""
    batch = st.lists(events(), min_size=1, max_size=3)
    notification = batch.map(lambda evs: {"kind": "Notification", "events": evs, "body": None,
                                          "cloud": any(c for _, c in evs)})
    validation = st.tuples(st.uuids(), json_values()).flatmap(lambda uv: mutations(
        [{"id": str(uv[0]), "topic": f"/subscriptions/{SUB}", "subject": "",
          "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
          "eventTime": "2026-11-24T10:00:00Z", "dataVersion": "1",
          "data": {"validationCode": str(uv[0]),
                   "validationUrl": "https://rp-westeurope.eventgrid.azure.net:553/x"}}])).map(
        lambda m: {"kind": "SubscriptionValidation", "events": [], "body": dumps(m.doc),
                   "cloud": False})
    other = st.tuples(st.sampled_from(["Notification", "SubscriptionValidation", "Unsubscribe",
                                       None, "", "notification", "Bogus"]),
                      st.one_of(json_values().map(dumps), raw_bodies(), nested().map(dumps),
                                st.lists(json_values(), max_size=3).map(dumps))).map(
        lambda kb: {"kind": kb[0], "events": [], "body": kb[1], "cloud": False})
    return st.one_of(notification, notification, notification, validation, other)


def _as_events(body: bytes) -> list[Any]:
    """The events a Notification body holds, as the webhook splits it."""
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (ValueError, RecursionError):
        return []
    return [e for e in (doc if isinstance(doc, list) else [doc]) if isinstance(e, dict)]


def _converter_reads(event: Any) -> bool:
    """Whether azure.functions' Event Grid converter (the worker's, before the function runs)
    can read the event: it parses eventTime/time itself, and fails on what it cannot parse."""
    from azure.functions import meta
    from azure.functions.eventgrid import EventGridEventInConverter
    try:
        EventGridEventInConverter.decode(meta.Datum(json.dumps(event), "json"),
                                         trigger_metadata={})
    except Exception:
        return False
    return True


@FUZZ
@given(delivery=deliveries())
@collecting
def test_eventgrid_webhook(app, http, tally, ledger_checks, delivery):
    count = tally("POST eventgrid webhook (recovery_event)")
    headers = {"Content-Type": "application/cloudevents+json; charset=utf-8"
               if delivery["cloud"] else "application/json"}
    if delivery["kind"] is not None:
        headers["aeg-event-type"] = delivery["kind"]
    events_sent = [Mutated(fresh_doc(m.doc), m.path, m.kind) for m, _ in delivery["events"]]
    body = delivery["body"]
    if body is None:  # a batch (an array), or one CloudEvent (an object), as Event Grid sends
        single = len(events_sent) == 1 and delivery["events"][0][1]
        body = dumps(events_sent[0].doc if single else [m.doc for m in events_sent])
    before = app.top_level_runs()
    answer = http.post(app.base + WEBHOOK, data=body, headers=headers, timeout=60)
    started = app.top_level_runs() - before
    unreadable = [e for e in _as_events(body) if not _converter_reads(e)]
    _count(count, answer.status_code, answer.status_code >= 400 or bool(unreadable))
    if unreadable and answer.status_code == 500 and \
            (delivery["kind"] or "").lower() == "notification":
        # azure.functions' converter cannot read the envelope time (see test_open_issues): the
        # host answers 500 and Event Grid retries; the function never ran, so nothing started
        count.statuses["500: converter"] = count.statuses.get("500: converter", 0) + 1
        assert started == 0
        return
    assert answer.status_code < 500, f"{answer.status_code} {answer.text[:1000]!r}"
    if answer.status_code >= 400:
        # the host's own answer (text/plain), for what is not an Event Grid request at all
        assert answer.status_code in (400, 405), answer.text[:300]
        assert len(answer.text.strip()) >= 12, answer.text
        assert started == 0
        return
    if delivery["kind"] == "SubscriptionValidation":
        assert answer.status_code == 200 and "validationResponse" in answer.json()
        assert started == 0
        return
    if (delivery["kind"] or "").lower() != "notification":
        assert answer.status_code == 202 and started == 0
        return
    assert answer.status_code == 202, answer.text[:300]
    for (sent, _), m in zip(delivery["events"], events_sent, strict=True):
        if isinstance(m.doc, dict) and _usable_id(m.doc.get("id")):  # else keyed by a hash
            own = isinstance(sent.doc, dict) and ID in str(sent.doc.get("id"))  # a fresh id
            ledger_checks.append((f"eventgrid:{m.doc['id']}", _event_check(m, own)))
    assert started <= len(events_sent), (started, len(events_sent))


def _event_check(m: Mutated, own: bool) -> Any:
    """The event is in the ledger; if malformed, the reason names what was changed (when the id
    is its own: of ids drawn again, the first record stands)."""
    def check(record: dict[str, Any] | None) -> str | None:
        if record is None or record["disposition"] != "malformed" or m.kind == "same" or not own:
            return None
        if mentions(record["reason"], m.path) or m.path in ("", "data") or \
                _names_event_field(record["reason"], m.path):
            return None
        return f"the reason does not name {m.path!r}: {record['reason']!r}"
    return check


_EVENT_FIELDS = {"id", "eventType", "type", "eventTime", "time", "subject", "specversion"}


def _names_event_field(reason: str, path: str) -> bool:
    """A change to the envelope, or under data, named by the field the parser read instead (a
    dropped resourceUri makes the subject the resource: the reason names the subject)."""
    head = path.split(".")[0].split("[")[0]
    if head == "specversion" and "eventType" in reason:
        return True  # no specversion: an Event Grid event to the converter, which drops "type"
    return (head in _EVENT_FIELDS and head in reason) or \
        any(f in reason for f in ("subject", "data.resourceUri", "data.resourceInfo",
                                  "no resource id"))


def _usable_id(ident: Any) -> bool:
    """An id the app keys its ledger record by (triggers/recovery.event_key); else a hash."""
    return isinstance(ident, str) and 0 < len(ident) <= MAX_ID and encodable(ident)


# ---- GET /api/recovery/events --------------------------------------------------------------------
def event_queries() -> st.SearchStrategy[dict[str, str]]:
    value = st.one_of(texts(), time_variants(), st.sampled_from([
        "1", "100", "1000", "1001", "0", "-1", "+5", "٣", "1e2", "0x10", " 5", "5 ", "1_000"]))
    key = st.one_of(st.sampled_from(["since", "limit", "code"]), st.text(max_size=6))
    return st.dictionaries(key, value, max_size=3).filter(lambda p: len(query(p)) <= MAX_URL)


@FUZZ
@given(params=event_queries())
@collecting
def test_recovery_events(app, http, tally, params):
    count = tally("GET /api/recovery/events")
    answer = http.get(f"{app.base}/api/recovery/events?{query(params)}", timeout=60)
    _count(count, answer.status_code, answer.status_code >= 400)
    assert answer.status_code < 500, f"{params!r}: {answer.status_code} {answer.text[:1000]!r}"
    if answer.status_code >= 400:
        assert answer.status_code == 400
        problem = problem_of(answer)
        named = {e["field"] for e in problem.get("errors") or []} or \
            {p for p in ("since", "limit") if p in problem["detail"]}
        assert named and named <= set(params), (params, problem)
        return
    assert isinstance(answer.json()["events"], list)
