"""Admission of recovery signals, shared by the Event Grid trigger, the alert webhook and the queue.

For each signal: a redelivery gets the first answer; no matching policy rejects it, naming each
rule's reason; the policy's guard deduplicates (run in progress, cooldown) or rejects (hourly
limit); the overall concurrency limit rejects; otherwise one `recover` run starts. Every outcome
is written to the ledger, so every event is accounted for.

The ports come in an Intake (the ledger, the policies, the VM tag reader, the clock, the run
configuration): triggers/wiring.py builds the real ones, tests build fakes. Ledger and gateway
calls are blocking SDK calls: they run in a worker thread, off the loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from azure.durable_functions import DurableOrchestrationClient, OrchestrationRuntimeStatus

from domain.document import DocumentUnavailable
from domain.recovery.admission import (
    DEDUPLICATED,
    IGNORED,
    MALFORMED,
    REJECTED,
    STARTED,
    Decision,
    check_guard,
    run_id,
)
from domain.recovery.policy import Policies, Policy
from domain.recovery.recovery_run import RecoveryInput
from domain.recovery.signals import MAX_ID, MalformedEvent, Signal, encodable, parse_alert
from domain.restore.restore_run import RunSettings
from gateway.ledger import Ledger
from orchestrations.recover import recover

log = logging.getLogger(__name__)
_LIVE = {OrchestrationRuntimeStatus.Pending, OrchestrationRuntimeStatus.Running,
         OrchestrationRuntimeStatus.Suspended}
_ATTEMPTS = 8  # optimistic-concurrency rounds before giving up (the caller's retry takes over)
SLOT_GRACE = timedelta(minutes=2)


PoliciesUnavailable = DocumentUnavailable  # no valid policy file: events are refused, retryably


@dataclass(frozen=True)
class Intake:
    """What admission needs, as ports. The ledger and the policies are reached only when needed:
    a malformed event needs no policy, and without policies nothing is judged."""

    ledger: Callable[[], Ledger]
    policies: Callable[[], Policies]  # raises PoliciesUnavailable naming the problem
    run_settings: Callable[[], RunSettings]  # what a recover run carries from the settings
    vm_tags: Callable[[str], dict[str, str] | None]  # blocking; None: no such VM
    now: Callable[[], datetime]
    own_principal_id: str | None = None  # the identity the app calls ARM with

    def admission(self) -> Admission:
        """Policies first: without them nothing is judged, and the ledger need not be reached."""
        policies = self.policies()
        return Admission(self.ledger(), policies, self)


@dataclass(frozen=True)
class Admission:
    ledger: Ledger
    policies: Policies
    intake: Intake


async def account_malformed(intake: Intake, key: str, error: MalformedEvent,
                            source: str) -> Decision:
    decision = Decision(MALFORMED, error.message)
    ledger = intake.ledger()
    await asyncio.to_thread(ledger.record_event, key, {
        "key": key, "received": intake.now().isoformat(), "source": source,
        **decision_view(decision)})
    log.warning("recovery event %s is malformed: %s", key, error.message)
    return decision


async def admit(client: DurableOrchestrationClient, signal: Signal, gate: Admission) -> Decision:
    ledger, now = gate.ledger, gate.intake.now()
    prior = await asyncio.to_thread(ledger.event, signal.key)
    if prior is not None:
        return Decision(DEDUPLICATED, f"event {signal.key} was already handled at "
                                      f"{prior['received']}: {prior['disposition']}",
                        prior.get("policy"), prior.get("runId"))
    own, caller = gate.intake.own_principal_id, signal.details.get("callerObjectId")
    if own and caller == own.lower():
        # The app deletes only disks it made (a restore whose approval was rejected or timed
        # out, an expired drill disk): recovering them would start the next cycle, each one
        # spending one of the disk's 10 restores a day.
        decision = Decision(IGNORED, f"caused by this app's own identity ({caller}), which "
                                     "deletes only disks it restored itself: not recovered")
    else:
        policy, rejections = gate.policies.first_match(signal, await _tags(gate, signal))
        if policy is None:
            reasons = "; ".join(f"{r.policy or 'policies'}: {r.reason}" for r in rejections)
            decision = Decision(REJECTED, f"no policy matches: {reasons or 'there are none'}")
        else:
            decision = await _start(client, signal, policy, gate, now)
    first = await asyncio.to_thread(ledger.record_event, signal.key, {
        "key": signal.key, "received": now.isoformat(), "signal": signal.to_dict(),
        **decision_view(decision)})
    if first is not None and decision.disposition != STARTED:
        # a concurrent delivery of the same event answered first: that answer stands
        decision = Decision(DEDUPLICATED, f"event {signal.key} was handled concurrently: "
                                          f"{first['disposition']}", first.get("policy"),
                            first.get("runId"))
    log.info("recovery signal %s (%s): %s, %s", signal.key, signal.summary,
             decision.disposition, decision.reason)
    return decision


def decision_view(decision: Decision) -> dict[str, Any]:
    """A decision as the API and the ledger show it."""
    return {"disposition": decision.disposition, "reason": decision.reason,
            "policy": decision.policy, "runId": decision.run_id}


async def _tags(gate: Admission, signal: Signal) -> dict[str, str] | None:
    """The resource's tags, read only when a candidate policy has tag conditions; None when
    they cannot be read (the policy then does not match, and says why)."""
    if not gate.policies.needs_tags(signal):
        return {}
    try:
        return await asyncio.to_thread(gate.intake.vm_tags, signal.resource_id)
    except Exception:
        log.warning("could not read the tags of %s", signal.resource_id, exc_info=True)
        return None


async def _start(client: DurableOrchestrationClient, signal: Signal, policy: Policy,
                 gate: Admission, now: datetime) -> Decision:
    """The guard first (one winner per policy and resource), then an overall slot; a run that
    gets no slot gives its start back to the guard, so it does not count as a start."""
    ledger = gate.ledger
    for _ in range(_ATTEMPTS):
        guard, etag = await asyncio.to_thread(ledger.guard, policy.name, signal.resource_id)
        active = bool(guard.last_run_id) and await _live(client, guard.last_run_id or "")
        blocked = check_guard(policy, guard, now, last_run_active=active)
        if blocked is not None:
            return blocked
        run = run_id(policy, signal.resource_id, now)
        won = await asyncio.to_thread(ledger.save_guard, guard.started(run, now), etag)
        if won is None:
            continue  # another delivery changed the guard: judge again against what it did
        full = await _take_slot(client, ledger, run, gate.policies.max_concurrent_recoveries,
                                now)
        if full is not None:
            await asyncio.to_thread(ledger.save_guard, guard, won)  # not a start after all
            return Decision(REJECTED, full, policy.name)
        try:
            await recover.start(client, run, RecoveryInput(run, policy, signal,
                                                           gate.intake.run_settings()))
        except Exception:
            await asyncio.to_thread(ledger.release_slot, run)
            await asyncio.to_thread(ledger.save_guard, guard, won)
            raise
        return Decision(STARTED, f"policy {policy.name}: {policy.action.type}", policy.name, run)
    raise RuntimeError(f"the ledger kept changing under {signal.key}; retry")


async def _live(client: DurableOrchestrationClient, instance_id: str) -> bool:
    status = await client.get_status(instance_id, show_input=False)
    return status.runtime_status in _LIVE


async def _take_slot(client: DurableOrchestrationClient, ledger: Ledger, run: str, limit: int,
                     now: datetime) -> str | None:
    """Take one of the `limit` overall slots for `run`; else say why not. Slots of runs that
    ended without giving theirs back (terminated, purged) are reclaimed on the way; a slot taken
    within SLOT_GRACE counts even before its run exists (it is being started)."""
    for _ in range(_ATTEMPTS):
        runs, etag = await asyncio.to_thread(ledger.slots)
        if len(runs) >= limit:
            runs = {r: t for r, t in runs.items()
                    if now - datetime.fromisoformat(t) < SLOT_GRACE or await _live(client, r)}
        if len(runs) >= limit:
            return (f"concurrency limit: {len(runs)} recoveries running ({', '.join(runs)}); "
                    f"at most {limit} at a time")
        if await asyncio.to_thread(ledger.save_slots, {**runs, run: now.isoformat()}, etag):
            return None
    raise RuntimeError("the concurrency slots kept changing; retry")


def malformed_key(source: str, text: str) -> str:
    """A ledger key for an input too broken to have an id of its own."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{source}:unidentified:{digest}"


def event_key(prefix: str, ident: Any, source: str, text: str) -> str:
    """`prefix:ident` for a malformed input with a usable id of its own (a string that can be a
    ledger key: not too long, valid Unicode); otherwise the hash of the input."""
    if isinstance(ident, str) and ident and len(ident) <= MAX_ID and encodable(ident):
        return f"{prefix}:{ident}"
    return malformed_key(source, text)


async def handle_alert(client: DurableOrchestrationClient, body: Any, text: str,
                       intake: Intake) -> list[tuple[Signal, Decision]]:
    """A common-alert-schema payload (webhook or queue): one decision per alert target.
    Raises MalformedEvent (after accounting for it) and PoliciesUnavailable."""
    try:
        signals = parse_alert(body)
    except MalformedEvent as exc:
        data = body.get("data") if isinstance(body, dict) else None
        essentials = data.get("essentials") if isinstance(data, dict) else None
        alert_id = essentials.get("alertId") if isinstance(essentials, dict) else None
        key = event_key("alert", alert_id, "alert", text)
        await account_malformed(intake, key, exc, "alert")
        raise
    gate = intake.admission()
    return [(signal, await admit(client, signal, gate)) for signal in signals]
