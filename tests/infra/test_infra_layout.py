"""The azd layout, and the Bicep against the code it deploys: the parameters file names only
parameters main.bicep declares; the queues, table and container the code uses are the ones the
Bicep creates; Event Grid delivers to a function that exists; the alert queries match the log
lines the code writes; the custom target role holds every compute action the gateway performs."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from tools.infra.bicep import Project

import settings

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"


def _main(infra: Project):
    main = infra.file(INFRA / "main.bicep")
    assert main is not None
    return main


def test_azure_yaml_deploys_the_repository_root_as_a_python_function_app() -> None:
    text = (REPO / "azure.yaml").read_text(encoding="utf-8")
    for line in ("project: .", "language: python", "host: function", "provider: bicep",
                 "path: infra", "module: main"):
        assert re.search(rf"^\s+{re.escape(line)}\s*$", text, re.MULTILINE), line
    for hook in re.findall(r"run: (\S+)", text):
        assert (REPO / hook).is_file(), hook
    assert (REPO / "function_app.py").is_file() and (REPO / "host.json").is_file()


def test_the_parameters_file_matches_main_bicep(infra: Project) -> None:
    raw = (INFRA / "main.parameters.json").read_text(encoding="utf-8")
    # azd substitutes ${NAME} and ${NAME=default} before parsing; emulate it with the defaults.
    text = re.sub(r"\$\{[A-Z_]+=([^}]*)\}", r"\1", raw)
    text = re.sub(r"\$\{[A-Z_]+\}", "x", text)
    given = set(json.loads(text)["parameters"])
    declared = _main(infra).parameters
    assert given <= set(declared)
    required = {n for n, p in declared.items() if p.get("default") is None}
    assert required <= given


def test_the_bicep_creates_the_queues_table_and_container_the_code_uses(infra: Project) -> None:
    main = _main(infra)
    defaults = settings.Settings()
    tree = ast.parse((REPO / "triggers" / "queue.py").read_text(encoding="utf-8"))
    queues = next(n.value for n in tree.body if isinstance(n, ast.Assign)
                  and [getattr(t, "id", None) for t in getattr(n.targets[0], "elts", [])]
                  == ["QUEUE", "POISON"])
    queue, poison = (c.value for c in queues.elts)  # type: ignore[attr-defined]
    expected = {"restoreQueueName": queue, "restorePoisonQueueName": poison,
                "ledgerTableName": defaults.ledger_table,
                "drillReportsContainerName": defaults.drill_reports_container}
    assert queue == defaults.restore_queue
    for variable, value in expected.items():
        assert infra.values(variable, main) == [value], variable


def test_event_grid_delivers_to_a_function_that_exists(infra: Project) -> None:
    events = infra.file(INFRA / "app" / "events.bicep")
    assert events is not None
    body = events.resources["diskDeletions"]["config"]["config"]
    destination = body["properties"]["destination"]
    assert destination["endpointType"] == "AzureFunction"
    target = infra.strings(destination["properties"]["resourceId"], events)
    assert len(target) == 1 and str(target[0]).endswith("/functions/recovery_event")
    source = (REPO / "triggers" / "events.py").read_text(encoding="utf-8")
    assert re.search(r"@bp\.event_grid_trigger\([^)]*\)\s*\n(@.*\n)*async def recovery_event\(",
                     source)


def test_the_alert_queries_match_the_log_lines_the_code_writes(infra: Project) -> None:
    alerts = infra.file(INFRA / "app" / "alerts.bicep")
    assert alerts is not None
    drill = str(infra.values("failedDrillQuery", alerts)[0])
    restore = str(infra.values("failedRestoreQuery", alerts)[0])
    code = {"activities/drill_activities.py": ('"restore drill completed: %s"', drill),
            "activities/restore_activities.py": ('"restore finished: %s"', restore)}
    for path, (line, query) in code.items():
        assert line in (REPO / path).read_text(encoding="utf-8"), path
        prefix = line.strip('"').removesuffix("%s")
        assert f'startswith "{prefix}"' in query
    assert '"RestoreDrillCompleted"' in drill and "toint(drill.failed) > 0" in drill
    missed = str(infra.values("missedObjectivesQuery", alerts)[0])
    assert 'startswith "restore drill completed: "' in missed
    assert "toint(drill.objectivesMissed) > 0" in missed
    assert '"RestoreFinished"' in restore and 'tostring(restore.outcome) == "Failed"' in restore
    domain = (REPO / "domain" / "drills" / "drill_report.py").read_text(encoding="utf-8")
    assert '"event": "RestoreDrillCompleted"' in domain and '"failed"' in domain
    assert '"objectivesMissed"' in domain and '"missedObjectiveDisks"' in domain


def _gateway_compute_actions() -> set[str]:
    """Every Microsoft.Compute action string in gateway/compute.py (f"{_VM}/x" included)."""
    tree = ast.parse((REPO / "gateway" / "compute.py").read_text(encoding="utf-8"))
    constants = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                 for t in n.targets if isinstance(t, ast.Name)
                 and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)}
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [p.value if isinstance(p, ast.Constant) else
                     constants.get(getattr(p.value, "id", ""), "{?}")
                     for p in node.values if isinstance(p, ast.Constant | ast.FormattedValue)]
            text = "".join(str(p) for p in parts)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if re.fullmatch(r"Microsoft\.Compute/[A-Za-z/]+/(write|delete|action|read)", text) or \
                re.fullmatch(r"Microsoft\.Compute/virtualMachines/[A-Za-z]+/action", text):
            found.add(text)
    return found


def test_the_target_role_holds_every_compute_action_the_gateway_performs(
        infra: Project) -> None:
    main = _main(infra)
    role = main.resources["targetOperatorRole"]["config"]
    (permissions,) = role["properties"]["permissions"]
    actions = set(permissions["actions"])
    used = _gateway_compute_actions()
    assert {"Microsoft.Compute/disks/delete", "Microsoft.Compute/virtualMachines/write",
            "Microsoft.Compute/virtualMachines/attachDetachDataDisks/action"} <= used
    # Resource SKUs are listed per subscription: their own role, at the subscription
    subscription_wide = {"Microsoft.Compute/skus/read"}
    assert subscription_wide <= used
    (sizes,) = main.resources["sizeReaderRole"]["config"]["properties"]["permissions"]
    assert set(sizes["actions"]) == subscription_wide
    assert used - subscription_wide <= actions, used - subscription_wide - actions
    assert not any(a.endswith("/*") or a == "*" for a in actions)


def test_the_source_reader_role_reads_the_snapshot_groups_snapshots_and_writes_nothing(
        infra: Project) -> None:
    """The planner lists the snapshots in a backup instance's snapshot resource group (a deleted
    disk's Disk Encryption Set is on them: gateway/compute.py `list_snapshots`); the role on the
    source and snapshot groups allows that read and nothing that changes anything."""
    main = _main(infra)
    role = main.resources["sourceReaderRole"]["config"]["config"]  # a conditional resource
    (permissions,) = role["properties"]["permissions"]
    actions = set(permissions["actions"])
    assert "Microsoft.Compute/snapshots/read" in _gateway_compute_actions()
    assert "Microsoft.Compute/snapshots/read" in actions
    assert all(a.endswith("/read") for a in actions), actions
