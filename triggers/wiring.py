"""The services' real ports, built from the settings: the one place the triggers wire the
access gate and the recovery intake to Azure (the access policy file, the audit log, the ledger
table, the gateway's VM reader, the clock)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from domain.access import audit
from domain.access.access_policy import AccessPolicy
from domain.document import load_configured
from domain.recovery.policy import Policies
from gateway.ledger import ledger_for
from settings import Settings, settings

from .services.authorization import Gate
from .services.signal_intake import Intake
from .services.submit import run_settings

audit_log = logging.getLogger(audit.LOGGER)


def now() -> datetime:
    return datetime.now(UTC)


def load_access_policy(config: Settings) -> AccessPolicy:
    return load_configured("ACCESS_POLICY_PATH", config.access_policy_path, AccessPolicy.load,
                           "no access policy, so every self-service request is denied")


def write_audit(doc: dict[str, Any]) -> None:
    audit_log.info(audit.line(doc))


def access_gate(config: Settings | None = None) -> Gate:
    config = config or settings()
    return Gate(config.caller_authorization, config.app_service_auth,
                bool(config.access_policy_path), lambda: load_access_policy(config),
                write_audit, now)


def load_policies(config: Settings) -> Policies:
    """The policy file, validated once per path; raises PoliciesUnavailable naming the problem."""
    return load_configured("RECOVERY_POLICIES_PATH", config.recovery_policies_path,
                           Policies.load, "no recovery policies")


def _vm_tags(resource_id: str) -> dict[str, str] | None:
    from activities.activity import gateway  # the app's one gateway, built lazily
    vm = gateway().get_vm(resource_id)
    return None if vm is None else vm.tags


def recovery_intake(config: Settings | None = None) -> Intake:
    config = config or settings()
    return Intake(ledger=lambda: ledger_for(config), policies=lambda: load_policies(config),
                  run_settings=lambda: run_settings(config), vm_tags=_vm_tags, now=now,
                  own_principal_id=config.app_principal_id)


# ---- the catalog (issue 18) ---------------------------------------------------------------------
def app_ledger() -> Any:
    """The app's recovery ledger (gateway.ledger.Ledger): the one the activities use, so the fast
    tier's in-memory ledger stands in here too."""
    from activities.activity import ledger  # built lazily, as the gateway is
    return ledger()


def app_report_store() -> Any:
    """The app's report store (gateway.reports.ReportStore), as the activities reach it."""
    from activities.activity import report_store
    return report_store()


def catalog_reader() -> Any:
    """The app's one gateway (a gateway.port.ControlPlane), which the catalog reads through."""
    from activities.activity import gateway  # built lazily, as for the VM tag reader
    return gateway()
