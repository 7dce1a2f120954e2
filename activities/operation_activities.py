"""ARM long-running operations: one poll of an operation an activity started."""

from __future__ import annotations

from domain.model import Operation, OperationStatus
from gateway.port import ControlPlane

from .activity import activity


@activity()
def get_operation(operation: Operation, azure: ControlPlane) -> OperationStatus:
    return azure.get_operation(operation)
