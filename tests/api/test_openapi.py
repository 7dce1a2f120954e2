"""The OpenAPI document (triggers/openapi.json) against the app, without running it: the file
is the one dev/tools/openapi_document.py builds from its sources, a valid OpenAPI 3.1 document,
exactly the routes and methods the app registers (with the security their auth levels imply and
their path parameters), examples that satisfy their own schemas, and request schemas that accept
exactly what the app accepts (the app validates with these schemas, but runs its own checks where
a schema can only describe: ARM ids, times, numbers and statuses in a query).

The answers the running app gives are checked in tests/restore/test_openapi_contract.py.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "triggers" / "openapi.json"
BASE = "urn:diskrestore:openapi"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


DOC: dict[str, Any] = json.loads(DOCUMENT.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return DOC


@functools.cache
def _app() -> tuple[Any, dict[str, Any]]:
    """The app as devhost (and a Functions worker) loads it, and the modules it loaded then.

    Not a plain `import function_app`: devhost shares every module imported before its first app
    load with all later loads, so a plain import here would leave later hosts in this process
    with this import's blueprints and settings-dependent registrations."""
    from devhost.discovery import load_app
    app = load_app(ROOT)
    names = ("triggers.http", "triggers.http_inputs", "domain.restore.request", "domain.errors",
             "domain.recovery.signals")
    return app, {name: sys.modules[name] for name in names}


def _module(name: str) -> Any:
    return _app()[1][name]


@pytest.fixture(scope="module")
def routes() -> dict[tuple[str, str], dict[str, Any]]:
    """(path as the document writes it, method) -> the function's name, route and auth level,
    from the app's own registrations."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for function in _app()[0].get_functions():
        for binding in function.get_bindings():
            spec = binding.get_dict_repr()
            if spec["type"] != "httpTrigger":
                continue
            route = spec.get("route") or function.get_function_name()
            for method in spec.get("methods") or METHODS:
                method = str(getattr(method, "value", method)).lower()
                level = str(getattr(spec.get("authLevel"), "value", spec.get("authLevel")))
                found[("/" + route.strip("/"), method)] = {
                    "name": function.get_function_name(), "route": route,
                    "authLevel": level.lower()}
    assert found, "the app registers no HTTP routes: the introspection is broken"
    return found


def operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(path, method): item[method] for path, item in doc["paths"].items()
            for method in METHODS if method in item}


@functools.cache
def validator(pointer: str) -> Draft202012Validator:
    """A validator for the schema at `pointer` in the document, resolving $refs against it."""
    registry = Registry().with_resource(BASE, Resource(contents=DOC, specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"{BASE}#{pointer}"}, registry=registry,
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


# ---- a. a valid OpenAPI 3.1 document, kept in one canonical form ------------------------------
def test_the_document_is_valid_openapi_3_1(doc):
    assert doc["openapi"].startswith("3.1.")
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in OpenAPIV31SpecValidator(doc).iter_errors()]
    assert not errors, "\n".join(errors)


def test_the_committed_document_is_the_one_its_sources_build(doc):
    """The request schemas and query parameters come from the code that validates with them
    (domain/restore/request.py, triggers/http_inputs.py), the rest from
    triggers/openapi.base.json: a change to either without `make openapi` fails here."""
    from tools.openapi_document import build
    assert build() == doc, "triggers/openapi.json is stale: run `make openapi`"


def test_the_file_is_json_indented_by_two(doc):
    """One canonical form (indent 2, keys in the order written, a final newline), so a diff of
    the document shows the change and nothing else."""
    text = DOCUMENT.read_text(encoding="utf-8")
    assert text == json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# ---- b. the routes, their methods and their security ------------------------------------------
def test_the_document_has_exactly_the_routes_the_app_registers(doc, routes):
    documented, registered = set(operations(doc)), set(routes)
    missing = sorted(registered - documented)
    extra = sorted(documented - registered)
    assert not missing and not extra, (
        f"registered but not documented: {missing}; documented but not registered: {extra}")


def test_each_operation_is_named_after_its_function(doc, routes):
    wrong = {key: (op.get("operationId"), routes[key]["name"])
             for key, op in operations(doc).items()
             if key in routes and op.get("operationId") != routes[key]["name"]}
    assert not wrong, f"operationId differs from the function's name: {wrong}"


def test_security_matches_each_routes_auth_level(doc, routes):
    schemes = doc["components"]["securitySchemes"]
    assert {(s["type"], s["in"], s["name"]) for s in schemes.values()} == {
        ("apiKey", "header", "x-functions-key"), ("apiKey", "query", "code")}
    wrong = {}
    for key, op in operations(doc).items():
        if key not in routes:
            continue
        security = op.get("security", doc.get("security", []))
        anonymous = routes[key]["authLevel"] == "anonymous"
        if anonymous != (security in ([], [{}])):
            wrong[key] = (routes[key]["authLevel"], security)
        for requirement in security:
            assert set(requirement) <= set(schemes), f"{key}: unknown scheme in {requirement}"
    assert not wrong, f"security does not match the auth level: {wrong}"


def test_every_secured_operation_documents_401_and_the_anonymous_one_does_not(doc):
    for key, op in operations(doc).items():
        secured = op.get("security", doc.get("security", [])) not in ([], [{}])
        assert ("401" in op["responses"]) == secured, key


def _checks_the_caller(function_name: str) -> bool:
    """The route's function asks about the caller: its decorator says so (`@api(reads=True)`),
    or it (or what it delegates to in its module) calls authorize(...) or reader(...)."""
    import ast
    import inspect
    for module in ("triggers.http", "triggers.drill_routes", "triggers.events", "triggers.openapi",
                   "triggers.catalog_routes", "triggers.readiness_routes"):
        source = inspect.getsource(sys.modules[module])
        tree = ast.parse(source)
        defs = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.AsyncFunctionDef |
                                                                  ast.FunctionDef)}
        if function_name not in defs:
            continue
        for decorator in defs[function_name].decorator_list:
            if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", None) == "api" \
                    and any(k.arg == "reads" and getattr(k.value, "value", None) is True
                            for k in decorator.keywords):
                return True
        seen, todo = set(), [function_name]
        while todo:
            name = todo.pop()
            if name in seen or name not in defs:
                continue
            seen.add(name)
            for node in ast.walk(defs[name]):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                    if node.func.id in ("authorize", "reader"):
                        return True
                    todo.append(node.func.id)
        return False
    raise AssertionError(f"no route function {function_name}")


def test_the_routes_that_check_the_caller_document_403_and_the_others_do_not(doc, routes):
    """Caller authorization (docs/security.md): a route that asks about the caller can answer
    403, and says so; the machine callers' routes (alerts, this document) do not."""
    checked = {key for key, route in routes.items() if _checks_the_caller(route["name"])}
    assert {p for p, _ in checked} >= {"/restores", "/restores/{id}/approve", "/drills"}
    for key, op in operations(doc).items():
        assert ("403" in op["responses"]) == (key in checked), key


# ---- c. path parameters ------------------------------------------------------------------------
def test_path_parameters_match_the_route_templates(doc, routes):
    problems = []
    for (path, method), op in operations(doc).items():
        if (path, method) not in routes:
            continue
        template = routes[(path, method)]["route"]
        in_route = {re.sub(r"[:=?].*$", "", m).lstrip("*")
                    for m in re.findall(r"\{([^}]+)\}", template)}
        in_path = set(re.findall(r"\{([^}]+)\}", path))
        params = [*doc["paths"][path].get("parameters", []), *op.get("parameters", [])]
        declared = {p["name"] for p in params if p.get("in") == "path"}
        if not (in_route == in_path == declared):
            problems.append(f"{method.upper()} {path}: route {template!r} has {sorted(in_route)},"
                            f" the path {sorted(in_path)}, declared {sorted(declared)}")
        problems += [f"{method.upper()} {path}: path parameter {p['name']} is not required"
                     for p in params if p.get("in") == "path" and p.get("required") is not True]
    assert not problems, "\n".join(problems)


# ---- examples ----------------------------------------------------------------------------------
def test_every_request_body_has_an_example_that_its_schema_accepts(doc):
    checked = 0
    for (path, method), op in operations(doc).items():
        for media, content in op.get("requestBody", {}).get("content", {}).items():
            examples = content.get("examples") or {}
            assert len(examples) == 1, f"{method.upper()} {path} {media}: one example, please"
            pointer = (f"/paths/{escape(path)}/{method}/requestBody/content/{escape(media)}"
                       "/schema")
            for name, example in examples.items():
                errors = [e.message for e in validator(pointer).iter_errors(
                    example["value"])]
                assert not errors, f"{method.upper()} {path} example {name}: {errors}"
                checked += 1
    assert checked >= 5  # restores, approve, reject, alerts, drills


# ---- request schemas accept exactly what the app accepts ---------------------------------------
SUB = "6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6"
RG = f"/subscriptions/{SUB}/resourceGroups"
DISK = f"{RG}/rg-app/providers/Microsoft.Compute/disks/vm-app01-data0"
VM = f"{RG}/rg-app/providers/Microsoft.Compute/virtualMachines/vm-app01"
BI = (f"{RG}/rg-backup/providers/Microsoft.DataProtection/backupVaults/bv-demo/backupInstances/"
      "bi-1")
TARGET_RG = f"{RG}/rg-restore-target"
ODD = [None, 0, 5, 2.5, True, "", "x", [], {}, {"x": 1}]


def _ids(good: str) -> list[Any]:
    """An id and near misses: ARM ids compare case-insensitively, slashes at the ends are
    stripped, the subscription must be a GUID, a resource group name has rules of its own."""
    head, tail = good.split("/resourceGroups/", 1)
    group, rest = [*tail.split("/", 1), ""][:2]
    rest = "/" + rest if rest else ""
    return [good, good.upper(), good.lower(), good + "/", "/" + good, good + "//",
            good.replace(SUB, "not-a-guid"), f"{head}/resourceGroups/{group}.{rest}",
            f"{head}/resourceGroups/rg-ü(1){rest}", f"{head}/resourceGroups/{'r' * 91}{rest}",
            f"{head}/resourceGroups/{'r' * 90}{rest}", good[1:], good + "/extra",
            good.replace("/providers/", "/provider/"), f"{head}/resourceGroups/{group}",
            DISK, VM, BI, TARGET_RG, good.rsplit("/", 1)[0] + "/a name with spaces",
            good.rsplit("/", 1)[0] + "/", *ODD]


def _restore_pools() -> dict[str, list[Any]]:
    return {
        "requestId": ["ticket-1234", "a", "A" * 100, "A" * 101, "-x", "x y", "x.y_z-1", "é",
                      *ODD],
        "source": [{"diskId": d} for d in _ids(DISK)] +
                  [{"backupInstanceId": b} for b in _ids(BI)] +
                  [{"diskId": DISK, "backupInstanceId": BI}, {"diskId": DISK, "x": 1}, *ODD],
        "recoveryPoint": ["latest", "Latest", {"id": "rp-1"}, {"id": " "}, {"id": 5},
                          {"id": "rp", "x": 1}, {"before": "2026-11-20T10:00:00Z"},
                          {"before": "2026-11-20T10:00:00.5+01:00"},
                          {"before": "2026-11-20T10:00:00"}, {"before": "yesterday"},
                          {"before": 5}, {"id": "rp", "before": "2026-11-20T10:00:00Z"}, *ODD],
        "target": [{"resourceGroupId": g, "diskName": "d1-restored"} for g in _ids(TARGET_RG)] +
                  [{"resourceGroupId": TARGET_RG, "diskName": n}
                   for n in ["d", "d_", "d.", "-d", "d-", "a" * 80, "a" * 81, "d 1", "é", *ODD]] +
                  [{"resourceGroupId": TARGET_RG}, {"diskName": "d"},
                   {"resourceGroupId": TARGET_RG, "diskName": "d", "x": 1}, *ODD],
        "attach": [{"vmId": v} for v in _ids(VM)] +
                  [{"vmId": VM, "lun": n} for n in [0, 63, 64, -1, True, 2.5, "3", None]] +
                  [{"vmId": VM, "caching": c}
                   for c in ["None", "ReadOnly", "ReadWrite", "readonly", None, 1]] +
                  [{"vmId": VM, "x": 1}, {"lun": 1}, *ODD],
        "swapOsDisk": [{"vmId": v} for v in _ids(VM)] + [{"vmId": VM, "x": 1}, *ODD],
        "dryRun": [True, False, None, 0, "true"],
        "schema": [1, "x", None],
        "colour": ["red"],
    }


def _bodies(pools: dict[str, list[Any]], good: dict[str, Any]) -> st.SearchStrategy:
    """The good body with a few fields replaced by (or added from) the pools, or dropped."""
    def build(changes: list[tuple[str, int, bool]]) -> dict[str, Any]:
        body = json.loads(json.dumps(good))
        for key, index, drop in changes:
            if drop:
                body.pop(key, None)
            else:
                body[key] = json.loads(json.dumps(pools[key][index % len(pools[key])]))
        return body
    change = st.tuples(st.sampled_from(sorted(pools)), st.integers(0, 10_000), st.booleans())
    return st.lists(change, max_size=3).map(build)


def _disagreement(pointer: str, body: Any, accepted: bool) -> str | None:
    errors = [e.message for e in validator(pointer).iter_errors(body)]
    if (not errors) == accepted:
        return None
    return (f"the app {'accepts' if accepted else 'refuses'} {json.dumps(body)}, the document "
            f"{'refuses it: ' + '; '.join(errors) if errors else 'accepts it'}")


def _agree(pointer: str, body: Any, accepted: bool) -> None:
    problem = _disagreement(pointer, body, accepted)
    assert problem is None, problem


def _single_changes(pools: dict[str, list[Any]], good: dict[str, Any],
                    place: Any = None) -> list[Any]:
    """The good body with each field dropped, and set to each value of its pool in turn."""
    bodies = []
    for key, values in pools.items():
        for change in [(key, i, False) for i in range(len(values))] + [(key, 0, True)]:
            body = json.loads(json.dumps(good))
            where = place(body, key) if place else body
            if isinstance(where, dict):
                if change[2]:
                    where.pop(key, None)
                else:
                    where[key] = json.loads(json.dumps(values[change[1]]))
            bodies.append(body)
    return bodies


def _restore_accepted(body: Any) -> bool:
    try:
        _module("domain.restore.request").RestoreRequest.from_dict(body)
    except _module("domain.errors").InvalidRequest:
        return False
    return True


GOOD_RESTORE = {"source": {"diskId": DISK},
                "target": {"resourceGroupId": TARGET_RG, "diskName": "d1-restored"}}


@pytest.mark.parametrize("body", [
    GOOD_RESTORE,
    dict(GOOD_RESTORE, attach={"vmId": VM}, swapOsDisk={"vmId": VM}),
    dict(GOOD_RESTORE, attach=None, swapOsDisk={"vmId": VM}),
    dict(GOOD_RESTORE, attach={"vmId": VM, "lun": None, "caching": "ReadWrite"}),
    dict(GOOD_RESTORE, requestId=None, recoveryPoint={"id": "x"}, dryRun=True, schema=1),
    dict(GOOD_RESTORE, recoveryPoint=None),
    dict(GOOD_RESTORE, source={"diskId": DISK.replace("/subscriptions/", "/SUBSCRIPTIONS/")}),
    [], "x", None, {},
])
def test_the_restore_request_schema_agrees_with_the_parser(doc, body):
    _agree("/components/schemas/RestoreRequest", body, _restore_accepted(body))


def test_the_restore_request_schema_agrees_with_the_parser_field_by_field():
    bodies = _single_changes(_restore_pools(), GOOD_RESTORE)
    problems = [p for body in bodies if (p := _disagreement(
        "/components/schemas/RestoreRequest", body, _restore_accepted(body)))]
    assert len(bodies) > 200 and not problems, "\n".join(problems)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_the_restore_request_schema_agrees_with_the_parser_on_generated_bodies(data):
    body = data.draw(_bodies(_restore_pools(), GOOD_RESTORE))
    _agree("/components/schemas/RestoreRequest", body, _restore_accepted(body))


def _vm_restore_accepted(body: Any) -> bool:
    _app()  # the app's copies of the domain modules first, so the parser shares them
    import importlib
    vm_request = importlib.import_module("domain.restore.vm_request")
    try:
        vm_request.VmRestoreRequest.from_dict(body)
    except vm_request.InvalidRequest:
        return False
    return True


GOOD_VM_RESTORE = {"source": {"vmId": VM}, "target": {"resourceGroupId": TARGET_RG}}


def _vm_restore_pools() -> dict[str, list[Any]]:
    pools = _restore_pools()
    return {
        "requestId": pools["requestId"], "recoveryPoint": pools["recoveryPoint"],
        "source": [{"vmId": v} for v in _ids(VM)] +
                  [{"vmId": VM, "disks": d} for d in [
                      ["os"], ["os", 0, 63], [2.0], [64], [-1], ["os", "os"], [1, 1.0], [],
                      None, [2.5], ["0"], [True], ["OS"], "os", [None], [[0]]]] +
                  [{"vmId": VM, "diskId": DISK}, {"disks": [0]}, {"diskId": DISK}, *ODD],
        "target": [{"resourceGroupId": g} for g in _ids(TARGET_RG)] +
                  [{"resourceGroupId": TARGET_RG, "diskNameSuffix": x}
                   for x in ["", "-r1124", "_", "-", "x.", "a" * 79, "a" * 80, "é", " x", None,
                             5]] +
                  [{"resourceGroupId": TARGET_RG, "diskName": "d"}, {"diskNameSuffix": "-x"},
                   *ODD],
        "apply": ["replace", "none", "Replace", None, 1],
        "attach": [{"vmId": VM, "mode": "replace"}, None],
        "swapOsDisk": [{"vmId": VM}, None],
        "dryRun": pools["dryRun"], "schema": pools["schema"],
        "reason": ["INC-1", "", " ", "x" * 500, "x" * 501, None, 5],
        "colour": ["red"],
    }


@pytest.mark.parametrize("body", [
    GOOD_VM_RESTORE, dict(GOOD_VM_RESTORE, recoveryPoint={"id": "rp-1"}),
    dict(GOOD_VM_RESTORE, apply="none", dryRun=True, requestId=None, schema=1),
    [], "x", None, {},
])
def test_the_vm_restore_request_schema_agrees_with_the_parser(doc, body):
    _agree("/components/schemas/VmRestoreRequest", body, _vm_restore_accepted(body))


def test_the_vm_restore_request_schema_agrees_with_the_parser_field_by_field():
    bodies = _single_changes(_vm_restore_pools(), GOOD_VM_RESTORE)
    problems = [p for body in bodies if (p := _disagreement(
        "/components/schemas/VmRestoreRequest", body, _vm_restore_accepted(body)))]
    assert len(bodies) > 150 and not problems, "\n".join(problems)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_the_vm_restore_request_schema_agrees_with_the_parser_on_generated_bodies(data):
    body = data.draw(_bodies(_vm_restore_pools(), GOOD_VM_RESTORE))
    _agree("/components/schemas/VmRestoreRequest", body, _vm_restore_accepted(body))


@pytest.mark.parametrize("body", [GOOD_RESTORE, GOOD_VM_RESTORE,
                                  dict(GOOD_VM_RESTORE, source={"vmId": VM, "diskId": DISK}),
                                  dict(GOOD_RESTORE, source={"diskId": DISK, "vmId": VM}),
                                  dict(GOOD_RESTORE, source={}), [], {}])
def test_the_restore_body_is_one_kind_or_the_other(doc, body):
    """RestoreBody: a body is a single disk's request or a whole VM's, never both."""
    accepted = _restore_accepted(body) or _vm_restore_accepted(body)
    _agree("/components/schemas/RestoreBody", body, accepted)


def _alert_accepted(body: Any) -> bool:
    signals = _module("domain.recovery.signals")
    if not signals.is_alert(body):
        return False
    try:
        signals.parse_alert(body)
    except signals.MalformedEvent:
        return False
    return True


GOOD_ALERT = {"schemaId": "azureMonitorCommonAlertSchema", "data": {"essentials": {
    "alertId": f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/a1",
    "alertRule": "vm-unhealthy", "severity": "Sev1", "monitorCondition": "Fired",
    "firedDateTime": "2026-11-24T10:15:03.4527234Z", "alertTargetIDs": [VM.lower()]},
    "alertContext": {}}, "extra": "ignored"}


def _alert_pools() -> dict[str, list[Any]]:
    return {
        "schemaId": ["azureMonitorCommonAlertSchema", "Microsoft.Insights/activityLogs", *ODD],
        "alertId": ["a", "", *ODD],
        "firedDateTime": ["2026-11-24T10:15:03Z", "2026-11-24 10:15", "2026-11-24t10:15:03z",
                          "2026-11-24T10:15:03,5+0100", " 2026-11-24T10:15:03+01:00 ",
                          "2026-11-24T10:15:03.1234567", "2026-13-01T00:00:00Z",
                          "2026-11-24T24:00:00Z", "2026-11-24", "yesterday", *ODD],
        "alertTargetIDs": [[i] for i in _ids(VM)] + [[VM, VM.upper()], [VM, "x"],
                                                     [f"{RG}/rg/providers//t/n"], *ODD],
        "alertRule": ["vm-unhealthy", *ODD],
        "severity": ["Sev0", *ODD],
        "monitorCondition": ["Resolved", *ODD],
        "data": [{}, {"essentials": "x"}, *ODD],
        "essentials": [{}, *ODD],
    }


def _alert_place(body: dict[str, Any], key: str) -> Any:
    """Where an alert's field lives: the top level, data, or data.essentials."""
    data = body.get("data")
    essentials = data.get("essentials") if isinstance(data, dict) else None
    return body if key in ("schemaId", "data") else data if key == "essentials" else essentials


def _alert_bodies() -> st.SearchStrategy:
    pools = _alert_pools()

    def build(changes: list[tuple[str, int, bool]]) -> dict[str, Any]:
        body = json.loads(json.dumps(GOOD_ALERT))
        for key, index, drop in changes:
            value = json.loads(json.dumps(pools[key][index % len(pools[key])]))
            where = _alert_place(body, key)
            if not isinstance(where, dict):
                continue
            if drop:
                where.pop(key, None)
            else:
                where[key] = value
        return body
    change = st.tuples(st.sampled_from(sorted(pools)), st.integers(0, 10_000), st.booleans())
    return st.lists(change, max_size=3).map(build)


def test_the_alert_schema_agrees_with_the_alert_parser_field_by_field():
    bodies = _single_changes(_alert_pools(), GOOD_ALERT, _alert_place)
    problems = [p for body in bodies if (p := _disagreement(
        "/components/schemas/CommonAlert", body, _alert_accepted(body)))]
    assert len(bodies) > 80 and not problems, "\n".join(problems)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_the_alert_schema_agrees_with_the_alert_parser(data):
    body = data.draw(_alert_bodies())
    _agree("/components/schemas/CommonAlert", body, _alert_accepted(body))


def _parameter(doc: dict[str, Any], path: str, method: str, name: str) -> tuple[int, Any]:
    params = doc["paths"][path][method]["parameters"]
    index = next(i for i, p in enumerate(params) if p["name"] == name)
    return index, params[index]


STATUS_WORDS = ["Running", "running", "COMPLETED", "ContinuedAsNew", "Failed", "Canceled",
                "Cancelled", "Terminated", "Pending", "Suspended", "Nope", "", " ", ",", "\t"]


def _query_errors(name: str, params: dict[str, str]) -> list[Any]:
    """The problems the app finds in a query (triggers/http_inputs.py: its checks, not the
    document's patterns)."""
    return _module("triggers.http_inputs").INPUTS.errors(name, params)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(words=st.lists(st.sampled_from(STATUS_WORDS), max_size=5),
       separator=st.sampled_from([",", ", ", " ,", ";", " "]))
def test_the_status_filter_schema_agrees_with_the_list_query(words, separator):
    text = separator.join(words)
    index, _ = _parameter(DOC, "/restores", "get", "status")
    bad = _query_errors("RestoreListQuery", {"status": text})
    _agree(f"/paths/~1restores/get/parameters/{index}/schema", text, not bad)


@pytest.mark.parametrize("path, name, text", [
    *[("/restores", "top", t) for t in ["1", "50", "500", "0", "501", "-1", "x", "1.5", "0050"]],
    *[("/recovery/events", "limit", t) for t in ["1", "100", "1000", "0", "1001", "x", "0050"]]])
def test_the_top_and_limit_schemas_agree_with_the_queries(doc, path, name, text):
    _, parameter = _parameter(doc, path, "get", name)
    query = "RestoreListQuery" if path == "/restores" else "RecoveryEventsQuery"
    bad = _query_errors(query, {name: text})
    schema = parameter["schema"]
    documented = re.fullmatch(r"-?[0-9]+", text) is not None and \
        schema["minimum"] <= int(text) <= schema["maximum"]
    if text == "0050" and path == "/restores":
        documented = False  # a client writes 50; top takes at most 3 digits, as before
    assert documented == (not bad), (text, bad)


@pytest.mark.parametrize("text", ["2026-11-20T00:00:00Z", "2026-11-20T00:00:00.123+01:00",
                                  "2026-11-20T00:00:00", "2026-11-20", "yesterday"])
def test_the_since_schema_agrees_with_the_list_query(doc, text):
    index, _ = _parameter(DOC, "/restores", "get", "since")
    bad = _query_errors("RestoreListQuery", {"since": text})
    _agree(f"/paths/~1restores/get/parameters/{index}/schema", text, not bad)


def test_every_bad_query_parameter_is_named_in_the_apps_words():
    bad = _query_errors("RestoreListQuery", {"top": "0", "status": "Nope", "since": "x",
                                             "colour": "red", "code": "the function key"})
    assert {e.field: e.message for e in bad} == {
        "top": "top must be a whole number from 1 to 500 (got '0')",
        "status": "unknown status 'Nope': use Running, Completed, ContinuedAsNew, Failed, "
                  "Canceled, Terminated, Pending, Suspended",
        "since": "since must be an ISO 8601 time with a zone from 1970 on, like "
                 "2026-11-20T00:00:00Z (got 'x')",
        "colour": "unknown query parameter 'colour'"}
