"""The fuzzers' environment: the app under devhost in-process (virtual time) with azsim, a real
Azurite for the ledger, the drill reports and the queues, recovery policies and a drill plan, so
every entry point answers as it would in Azure.

`FUZZ_EXAMPLES` (set by `make fuzz`, 10,000 there) selects the full profile: that many cases per
entry point, randomized, no deadline. Without it the short profile runs (in `make test`): a few
hundred cases per entry point, derandomized so that a test run is repeatable.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))  # fuzzlib (importlib mode: tests/ is not a package)

# The restore, recovery and drill fixtures (tests/restore/conftest.py), shared rather than copied.
_spec = importlib.util.spec_from_file_location("_restore_conftest",
                                               ROOT / "tests" / "restore" / "conftest.py")
_restore = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
sys.modules[_spec.name] = _restore
_spec.loader.exec_module(_restore)  # type: ignore[union-attr]
restore_env = _restore.restore_env
shared_azurite = _restore.shared_azurite

from fuzzlib import COLLECTED, EXAMPLES, FULL, OPEN_COUNTS, RG, SUB  # noqa: E402 - after sys.path

if os.environ.get("FUZZ_LOG"):  # every error the app and devhost log, with its traceback
    import logging
    _handler = logging.FileHandler(os.environ["FUZZ_LOG"])
    _handler.setLevel(logging.ERROR)
    logging.getLogger().addHandler(_handler)


# ---- per entry point: cases run and wall time (printed at the end of the session) ---------------
@dataclass
class Tally:
    cases: int = 0
    rejected: int = 0  # answered 4xx / poisoned / recorded as malformed
    accepted: int = 0
    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)


TALLIES: dict[str, Tally] = {}


@pytest.fixture
def tally(request) -> Iterator[Callable[[str], Tally]]:
    started = time.monotonic()
    used: list[str] = []

    def get(name: str) -> Tally:
        used.append(name)
        return TALLIES.setdefault(name, Tally())

    yield get
    for name in set(used):
        TALLIES[name].seconds += time.monotonic() - started


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    write = terminalreporter.write_line
    if COLLECTED:
        terminalreporter.section("fuzz: failures collected (FUZZ_COLLECT)")
        for key, (count, message, example) in sorted(COLLECTED.items()):
            write(f"{count:>6} x {key}\n         {message[:700]!r}\n         {example[:900]}")
    if not TALLIES:
        return
    terminalreporter.section(f"fuzz: cases per entry point ({'full' if FULL else 'short'} "
                             f"profile, max_examples={EXAMPLES})")
    write(f"{'entry point':48} {'cases':>7} {'rejected':>9} {'accepted':>9} {'seconds':>8}")
    for name, t in sorted(TALLIES.items()):
        write(f"{name:48} {t.cases:>7} {t.rejected:>9} {t.accepted:>9} {t.seconds:>8.1f}")
    write(f"{'total':48} {sum(t.cases for t in TALLIES.values()):>7} "
          f"{'':>9} {'':>9} {sum(t.seconds for t in TALLIES.values()):>8.1f}")
    for name, count in sorted(OPEN_COUNTS.items()):
        write(f"open bug, fix proposed, let pass {count:>6} times: {name}")
    out = os.environ.get("FUZZ_REPORT")
    if out:
        Path(out).write_text(json.dumps({name: {"cases": t.cases, "rejected": t.rejected,
                                                "accepted": t.accepted,
                                                "seconds": round(t.seconds, 1),
                                                "statuses": t.statuses}
                                         for name, t in sorted(TALLIES.items())}, indent=2))


# ---- one app with every entry point configured ---------------------------------------------------
DELETIONS = ["Microsoft.Resources.ResourceDeleteSuccess",
             "Microsoft.ResourceNotifications.Resources.Deleted"]
HEALTH = "Microsoft.ResourceNotifications.HealthResources.AvailabilityStatusChanged"
ALERT = "azureMonitorCommonAlertSchema"


def fuzz_policies() -> dict[str, Any]:
    """Policies that match only what lands in rg-fuzz (which azsim does not have: a run started
    there ends quickly, Ignored, and writes nothing), and one that reads tags in rg-app and never
    matches: valid signals are judged in full, and almost all are rejected without a run."""
    return {"version": 1, "maxConcurrentRecoveries": 3, "policies": [
        {"name": "fuzz-deleted-disks",
         "match": {"eventTypes": DELETIONS, "resourceTypes": ["Microsoft.Compute/disks"],
                   "resourceGroups": [f"{RG}/rg-fuzz"]},
         "action": {"type": "restoreDeletedDisk"}},
        {"name": "fuzz-unhealthy-vms",
         "match": {"eventTypes": [HEALTH, ALERT],
                   "resourceTypes": ["Microsoft.Compute/virtualMachines"],
                   "resourceGroups": [f"{RG}/rg-fuzz"], "availabilityStates": ["Unavailable"]},
         "action": {"type": "restoreDataDisksAndAttach"}},
        {"name": "fuzz-tagged-vms",
         "match": {"eventTypes": [ALERT], "resourceTypes": ["Microsoft.Compute/virtualMachines"],
                   "resourceGroups": [f"{RG}/rg-app"], "tags": {"fuzz": "never-set"},
                   "alertRules": ["fuzz-tags"]},
         "action": {"type": "restoreOsDiskAndSwap"}},
    ]}


def fuzz_plans() -> dict[str, Any]:
    """One plan whose selection is empty (a vault in rg-fuzz): a drill it starts reports
    nothing to drill and writes nothing to ARM."""
    return {"version": 1, "plans": [{
        "name": "fuzz-empty", "schedule": "0 30 2 * * *",
        "selection": {"vaults": [f"{RG}/rg-fuzz/providers/Microsoft.DataProtection/backupVaults/"
                                 "bv-none"]},
        "recoveryPoint": "latest", "sandboxResourceGroupId": f"{RG}/rg-restore-target",
        "maxParallel": 1, "timeBudgetMinutes": 60, "keepFailed": False, "expiryHours": 1}]}


@dataclass
class App:
    env: Any  # tests/restore/conftest.py Env
    connection: str  # Azurite

    @property
    def base(self) -> str:
        return self.env.host.base_url

    @property
    def sim(self) -> Any:
        return self.env.sim

    def top_level_runs(self) -> int:
        """Orchestrations started by an entry point (sub-orchestrations have a parent)."""
        store = self.env.host.host.store
        return store._all("SELECT COUNT(*) FROM instances WHERE parent_id IS NULL")[0][0]

    def instance_ids(self) -> set[str]:
        store = self.env.host.host.store
        return {r[0] for r in store._all("SELECT id FROM instances WHERE parent_id IS NULL")}

    def arm_writes(self) -> int:
        return self.sim.audit_counts()["writes"]

    def ledger(self) -> Any:
        from gateway.ledger import ledger_for
        from settings import settings as app_settings
        return ledger_for(app_settings())


@pytest.fixture
def fuzz_app(restore_env, shared_azurite, monkeypatch, tmp_path: Path) -> Callable[..., App]:
    """`fuzz_app()`: the app with policies, a drill plan and Azurite, started in virtual time."""
    def start(**settings_: str) -> App:
        policies, plans = tmp_path / "policies.json", tmp_path / "drills.json"
        policies.write_text(json.dumps(fuzz_policies()))
        plans.write_text(json.dumps(fuzz_plans()))
        env = {"AzureWebJobsStorage": shared_azurite.connection_string,
               "RECOVERY_LEDGER_TABLE": f"t{uuid.uuid4().hex[:20]}",
               "RECOVERY_POLICIES_PATH": str(policies), "DRILL_PLANS_PATH": str(plans),
               "DRILL_REPORTS_CONTAINER": f"reports-{uuid.uuid4().hex[:12]}",
               # who may do what is not under test here (a setting of issue 10)
               "CALLER_AUTHORIZATION": "off",
               # the catalog (GET /api/disks...) lists the demo vault's disks, not a 503
               "BACKUP_VAULT_IDS": f"/subscriptions/{SUB}/resourceGroups/rg-backup/providers/"
                                   "Microsoft.DataProtection/backupVaults/bv-demo"}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return App(restore_env(oracle=False, **settings_), shared_azurite.connection_string)
    return start


@pytest.fixture
def app(fuzz_app):
    """The fuzzed app (one per module run; see fuzz_app)."""
    return fuzz_app()


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session
