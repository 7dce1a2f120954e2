"""Alert-driven recovery: what a matched policy restores, and the concurrency slot a run gives
back when it ends."""

from __future__ import annotations

from domain.recovery.admission import Resolution, resolve
from domain.recovery.recovery_run import ResolutionRequest, SlotRelease, SlotReleased
from gateway.port import ControlPlane

from .activity import activity, ledger


@activity()
def resolve_recovery(request: ResolutionRequest, azure: ControlPlane) -> Resolution:
    return resolve(request.policy, request.signal, request.run_id, azure)


@activity(errors_as_data=False)
def release_recovery_slot(release: SlotRelease, _: ControlPlane) -> SlotReleased:
    """A recovery run gives back its concurrency slot; `held` False if it held none any more."""
    return SlotReleased(ledger().release_slot(release.run_id))
