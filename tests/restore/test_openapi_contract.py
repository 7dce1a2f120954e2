"""The running app against its OpenAPI document (triggers/openapi.json): every operation is called,
including its error answers, and every answer is checked against the document: the status code
is documented for the operation, the content type is one it lists, the body validates against
the schema documented for that status and content type, and the required headers are there.

Four scenarios under devhost and azsim (restores in virtual time with function keys enforced;
an alert-driven recovery with an approval step in scaled real time; a drill; the catalog with
caller authorization on), then a check that every operation in the document was called. The
static checks are in tests/api/test_openapi.py.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from domain.access.access_policy import encode_client_principal

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "triggers" / "openapi.json"
DOC: dict[str, Any] = json.loads(DOCUMENT.read_text(encoding="utf-8"))
BASE = "urn:diskrestore:openapi"
REGISTRY = Registry().with_resource(BASE, Resource(contents=DOC, specification=DRAFT202012))
PREFIX = DOC["servers"][0]["url"]  # "/api"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
KEY = "contract-test-key"

CALLED: set[tuple[str, str]] = set()  # (path template, method) of every call made
SEEN: set[tuple[str, str, int]] = set()  # and the status codes answered
COMPLETED: set[str] = set()  # scenarios that ran to their end
SCENARIOS = {"restores", "recovery", "drills", "catalog"}

# Bodies that the document accepts but the app may still refuse for reasons a schema cannot
# express: the approver may come from a header instead of the body.
_CONDITIONAL_BODIES = {("/restores/{id}/approve", "post"), ("/restores/{id}/reject", "post")}


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _resolve(item: dict[str, Any], pointer: str) -> tuple[dict[str, Any], str]:
    """Follow a local $ref (components/responses, components/headers); (object, its pointer)."""
    while "$ref" in item:
        pointer = item["$ref"].split("#", 1)[1]
        item = DOC
        for token in pointer.strip("/").split("/"):
            item = item[token.replace("~1", "/").replace("~0", "~")]
    return item, pointer


def _errors(pointer: str, instance: Any) -> list[str]:
    schema = Draft202012Validator({"$ref": f"{BASE}#{pointer}"}, registry=REGISTRY,
                                  format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"
            for e in schema.iter_errors(instance)]


def _template(path: str) -> str:
    """The document's path template for a request path under the prefix."""
    assert path.startswith(PREFIX + "/"), path
    rest = path[len(PREFIX):]
    candidates = []
    for template in DOC["paths"]:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "/?$"
        if re.match(pattern, rest, re.IGNORECASE):
            candidates.append(template)
    assert candidates, f"{path} matches no path of the document"
    return min(candidates, key=lambda t: t.count("{"))  # literal segments win, as in routing


class Api:
    """Calls the app and checks each answer against the document."""

    def __init__(self, base_url: str, key: str | None = None) -> None:
        self.base_url, self.key = base_url, key

    def call(self, method: str, url: str, *, expect: int | tuple[int, ...] | None = None,
             key: bool = True, **kw: Any) -> requests.Response:
        parts = urlsplit(url)  # a path, or a URL the app answered with (same host)
        assert not parts.query and (not parts.scheme or
                                    f"{parts.scheme}://{parts.netloc}" == self.base_url), url
        path = parts.path
        headers = dict(kw.pop("headers", None) or {})
        if key and self.key:
            headers["x-functions-key"] = self.key
        answer = requests.request(method, self.base_url + path, headers=headers, timeout=60,
                                  **kw)
        self.check(method.lower(), path, answer, kw)
        if expect is not None:
            wanted = expect if isinstance(expect, tuple) else (expect,)
            assert answer.status_code in wanted, \
                f"{method} {path}: {answer.status_code} {answer.text[:500]}"
        return answer

    @staticmethod
    def check(method: str, path: str, answer: requests.Response, sent: dict[str, Any]) -> None:
        template = _template(path)
        where = f"{method.upper()} {path} ({template}) -> {answer.status_code}"
        operation = DOC["paths"][template].get(method)
        assert operation is not None, f"{where}: the document has no {method} here"
        CALLED.add((template, method))
        SEEN.add((template, method, answer.status_code))
        op_pointer = f"/paths/{_escape(template)}/{method}"

        documented = operation["responses"]
        status = str(answer.status_code)
        assert status in documented, \
            f"{where}: status not documented (documented: {sorted(documented)}): {answer.text}"
        response, pointer = _resolve(documented[status], f"{op_pointer}/responses/{status}")

        for name, header in (response.get("headers") or {}).items():
            header, header_pointer = _resolve(header, f"{pointer}/headers/{_escape(name)}")
            value = answer.headers.get(name)
            if value is None:
                assert not header.get("required"), f"{where}: required header {name} missing"
                continue
            problems = _errors(f"{header_pointer}/schema", value)
            assert not problems, f"{where}: header {name}: {value!r}: {problems}"

        content = response.get("content")
        if not content:
            assert answer.content == b"", f"{where}: a body where none is documented"
            return
        if response.get("x-body-optional") and answer.content == b"":
            return  # e.g. 401: the host's answer (no body) or the app's (problem details)
        media = (answer.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        assert media in content, f"{where}: Content-Type {media!r} is not one of {list(content)}"
        schema_pointer = f"{pointer}/content/{_escape(media)}/schema"
        if media == "application/json" or media.endswith("+json"):
            body = answer.json()
        else:
            body = answer.text
        problems = _errors(schema_pointer, body)
        assert not problems, f"{where}: the body does not match the document:\n" + \
            "\n".join(problems) + f"\n{json.dumps(body, indent=1)[:3000]}"

        # The request body against the document: a body the document refuses must not be
        # accepted, and one it accepts must not be refused as a bad request.
        request = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if request and "json" in sent:
            request_pointer = f"{op_pointer}/requestBody/content/application~1json/schema"
            refused = _errors(request_pointer, sent["json"])
            if refused:
                assert answer.status_code >= 400, \
                    f"{where}: the app accepted a body the document refuses: {refused}"
            elif (template, method) not in _CONDITIONAL_BODIES:
                assert answer.status_code != 400, \
                    f"{where}: the app refused a body the document accepts: {answer.text}"


def wait_phase(env: Any, instance_id: str, phase: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = env.host.status(instance_id)
        if status and (status.get("customStatus") or {}).get("phase") == phase:
            return status
        time.sleep(0.05)
    raise AssertionError(f"{instance_id} never reached {phase}: {env.host.status(instance_id)}")


def problem(answer: requests.Response, *fields: str) -> dict[str, Any]:
    """The problem details, naming exactly `fields` when given."""
    body = answer.json()
    if fields:
        assert {e["field"] for e in body.get("errors", [])} == set(fields), body
    return body


# ---- restores, with function keys enforced --------------------------------------------------
def test_restore_routes_answer_as_documented(restore_env, monkeypatch):
    for setting in ("RECOVERY_POLICIES_PATH", "DRILL_PLANS_PATH"):
        monkeypatch.delenv(setting, raising=False)
    monkeypatch.setenv("DEVHOST_FUNCTION_KEY", KEY)
    env = restore_env()
    api = Api(env.host.base_url, KEY)

    # The document itself: anonymous, the file's bytes, as JSON.
    served = api.call("GET", "/api/openapi.json", key=False, expect=200)
    assert served.content == DOCUMENT.read_bytes()
    assert served.headers["Content-Type"].split(";")[0] == "application/json"
    assert served.json() == DOC
    # Every other route needs the key: header or `code`.
    api.call("GET", "/api/restores", key=False, expect=401)
    api.call("POST", "/api/restores", key=False, json=env.request(), expect=401)
    api.call("GET", "/api/restores/x", key=False, params={"code": "wrong"}, expect=401)
    api.call("GET", "/api/restores/x", key=False, params={"code": KEY}, expect=404)

    # POST /restores: every kind of bad request, then a restore, the same again, a dry run and
    # one that fails.
    assert "errors" not in problem(api.call("POST", "/api/restores", data=b"{not json",
                                            expect=400))
    api.call("POST", "/api/restores", data=b"", expect=400)
    problem(api.call("POST", "/api/restores", json=[], expect=400), "")
    problem(api.call("POST", "/api/restores", expect=400,
                     json={"source": {"diskId": "x"}, "target": {}, "colour": "red"}),
            "colour", "source.diskId", "target.resourceGroupId", "target.diskName")
    problem(api.call("POST", "/api/restores", expect=400,
                     json=env.request(attach={"vmId": env.vm()}, swapOsDisk={"vmId": env.vm()},
                                      recoveryPoint={"before": "2026-11-20T10:00:00"})),
            "swapOsDisk", "recoveryPoint.before")
    problem(api.call("POST", "/api/restores", expect=400,
                     json=env.request(attach={"vmId": env.vm(), "lun": 64, "caching": "Fast"})),
            "attach.lun", "attach.caching")

    body = env.request(requestId="contract-1", attach={"vmId": env.vm()})
    started = api.call("POST", "/api/restores", json=body, expect=202).json()
    assert started["id"] == "restore-contract-1" and started["started"] is True
    api.call("GET", started["statusQueryGetUri"], expect=(200, 202))
    again = api.call("POST", "/api/restores", json=body, expect=200).json()
    assert again["id"] == started["id"] and again["started"] is False
    dry = api.call("POST", "/api/restores", expect=202,
                   json=dict(body, dryRun=True)).json()
    assert dry["id"] == "dryrun-contract-1"
    failing = env.request(requestId="contract-2")
    failing["target"]["resourceGroupId"] = env.rg("rg-does-not-exist")
    failed = api.call("POST", "/api/restores", json=failing, expect=202).json()
    for run in (started, dry, failed):
        env.host.wait_for(run["id"], timeout=120)

    done = api.call("GET", started["statusQueryGetUri"], expect=200).json()
    assert done["outcome"] == "Succeeded" and done["result"]["attach"]["lun"] == 2, done
    plan = api.call("GET", dry["statusQueryGetUri"], expect=200).json()
    assert plan["outcome"] == "DryRun" and plan["result"]["plan"]["attach"]["lun"] == 2
    refused = api.call("GET", failed["statusQueryGetUri"], expect=200).json()
    assert refused["error"]["code"] == "TargetResourceGroupNotFound", refused
    api.call("GET", "/api/restores/restore-nope", expect=404)

    # Cancel and decisions on a finished run, an unknown one, and bad decision bodies.
    run = f"/api/restores/{started['id']}"
    assert problem(api.call("POST", f"{run}/cancel", expect=409))["title"] == "Already finished"
    api.call("POST", "/api/restores/restore-nope/cancel", expect=404)
    for verb in ("approve", "reject"):
        api.call("POST", f"{run}/{verb}", json={"approver": "oncall@contoso.com"}, expect=409)
        # App Service authentication is off here: the sign-in header alone names nobody
        api.call("POST", f"{run}/{verb}", expect=400,
                 headers={"X-MS-CLIENT-PRINCIPAL-NAME": "oncall@contoso.com"})
        api.call("POST", f"/api/restores/restore-nope/{verb}", json={"approver": "a"},
                 expect=404)
        api.call("POST", f"{run}/{verb}", data=b"{nope", expect=400)
        for bad in ({}, [], {"approver": " "}, {"approver": "x" * 201}, {"approver": 5},
                    {"approver": "a", "reason": "extra field"},
                    {"approver": "a", "comment": {"why": "an object"}}):
            api.call("POST", f"{run}/{verb}", json=bad, expect=400)

    # The list, and each way its query can be wrong.
    listed = api.call("GET", "/api/restores", expect=200).json()
    assert {r["id"] for r in listed["restores"]} == \
        {"restore-contract-1", "dryrun-contract-1", "restore-contract-2"}, listed
    assert listed["count"] == 3 and listed["truncated"] is False
    one = api.call("GET", "/api/restores", params={"status": "completed, failed", "top": "1"},
                   expect=200).json()
    assert one["count"] == 1 and one["truncated"] is True
    assert api.call("GET", "/api/restores", params={"status": "Running"},
                    expect=200).json()["restores"] == []
    api.call("GET", "/api/restores", params={"since": "2000-01-01T00:00:00Z"}, expect=200)
    for params, field in ((({"top": "0"}), "top"), ({"top": "abc"}, "top"),
                          ({"top": "501"}, "top"), ({"since": "yesterday"}, "since"),
                          ({"since": "2026-11-20T00:00:00"}, "since"),
                          ({"status": "Nope"}, "status"), ({"status": ","}, "status"),
                          ({"colour": "red"}, "colour"), ({"top": "\u00b2"}, "top")):
        problem(api.call("GET", "/api/restores", params=params, expect=400), field)
    # RFC 3339's lowercase z, and the function key in the query (the host's, not ours)
    api.call("GET", "/api/restores", params={"since": "2000-01-01T00:00:00z", "code": "k"},
             expect=200)

    # A run that ended without success is started again by sending its request again.
    again = api.call("POST", "/api/restores", json=failing, expect=202).json()
    assert again["id"] == failed["id"] and again["started"] is True
    env.host.wait_for(failed["id"], timeout=120)

    # Without a policy file or a plan file: 503 where they are needed. Drills by unknown id.
    alert = common_alert(env.vm())
    assert api.call("POST", "/api/alerts", json=alert, expect=503).headers["Retry-After"] == "300"
    api.call("GET", "/api/recovery/policies", expect=503)
    api.call("POST", "/api/drills", json={"plan": "nightly"}, expect=503)
    api.call("POST", "/api/drills", data=b"nope", expect=400)
    for bad in ({"plan": 5}, {"plan": "nightly", "when": "now"}, {}, ["nightly"]):
        api.call("POST", "/api/drills", json=bad, expect=400)
    api.call("GET", "/api/drills/drill-nope", expect=404)
    api.call("GET", f"/api/drills/{started['id']}", expect=404)  # a restore is not a drill
    api.call("GET", "/api/drills/drill-nope/report", expect=404)
    api.call("GET", "/api/drills/drill-nope/report", params={"format": "pdf"}, expect=400)
    api.call("GET", "/api/drills/drill-nope/report", params={"page": "1"}, expect=400)
    assert env.leftover_assignments() == set()
    COMPLETED.add("restores")


# ---- alert-driven recovery with an approval step ----------------------------------------------
SUB = "6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6"


def common_alert(vm: str, rule: str = "vm-data-corruption", **essentials: Any) -> dict[str, Any]:
    alert = {"schemaId": "azureMonitorCommonAlertSchema", "data": {
        "essentials": {
            "alertId": f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/"
                       f"{uuid.uuid4()}",
            "alertRule": rule, "severity": "Sev1", "signalType": "Metric",
            "monitorCondition": "Fired", "monitoringService": "Platform",
            "alertTargetIDs": [vm.lower()], "configurationItems": [vm.rsplit("/", 1)[-1]],
            "firedDateTime": time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime()),
            "description": "", "essentialsVersion": "1.0", "alertContextVersion": "1.0"},
        "alertContext": {"conditionType": "SingleResourceMultipleMetricCriteria"},
        "customProperties": None}}
    alert["data"]["essentials"].update(essentials)
    return alert


def approval_policies(p: Any) -> dict[str, Any]:
    return {"version": 1, "maxConcurrentRecoveries": 3, "policies": [{
        "name": "data-disks", "description": "corrupted data disks come back, once approved",
        "match": {"eventTypes": ["azureMonitorCommonAlertSchema"],
                  "resourceTypes": ["Microsoft.Compute/virtualMachines"],
                  "alertRules": ["vm-data-corruption"]},
        # disk after disk, each with its own approval: the routes' every answer in one run
        "action": {"type": "restoreDataDisksAndAttachBeside"},
        "approval": {"required": True, "timeoutMinutes": 30}}]}


def test_recovery_routes_answer_as_documented(recovery_env, payloads):
    r = recovery_env(approval_policies(payloads), payloads.restore_into_rg_app,
                     real_time_scale=60, WEBSITE_AUTH_ENABLED="true")  # sign-in headers trusted
    api, vm = Api(r.base), payloads.vm_id()
    policies = api.call("GET", "/api/recovery/policies", expect=200).json()
    assert [p["name"] for p in policies["policies"]] == ["data-disks"]
    assert api.call("GET", "/api/recovery/events", expect=200).json() == {"events": []}

    # Alerts that can never be processed: 400, and recorded as malformed.
    api.call("POST", "/api/alerts", data="{nope", expect=400)
    api.call("POST", "/api/alerts", json={"schemaId": "Microsoft.Insights/activityLogs",
                                          "data": {}}, expect=400)
    api.call("POST", "/api/alerts", json=[], expect=400)
    api.call("POST", "/api/alerts", json=common_alert(vm, alertTargetIDs=[]), expect=400)
    api.call("POST", "/api/alerts", json=common_alert(vm, firedDateTime="yesterday"),
             expect=400)

    # One alert starts a recovery run; the same again is deduplicated; another rule rejected.
    alert = common_alert(vm)
    (decision,) = api.call("POST", "/api/alerts", json=alert, expect=200).json()["signals"]
    assert decision["disposition"] == "started", decision
    run = decision["runId"]
    (again,) = api.call("POST", "/api/alerts", json=alert, expect=200).json()["signals"]
    assert again["disposition"] == "deduplicated" and again["runId"] == run
    (other,) = api.call("POST", "/api/alerts", json=common_alert(vm, rule="cpu-high"),
                        expect=200).json()["signals"]
    assert other["disposition"] == "rejected"

    # A manual restore, cancelled while it runs.
    manual = api.call("POST", "/api/restores", json=r.env.request(requestId="to-cancel"),
                      expect=202).json()
    cancel = api.call("POST", manual["cancelPostUri"], expect=202).json()
    assert cancel["appliedTo"] == [manual["id"]]
    # Nothing to undo: it has not finished (or, once it has, it did not succeed).
    undo = api.call("POST", f"/api/restores/{manual['id']}/undo", expect=409,
                    json={"reason": "the contract"}).json()
    assert "cannot be undone" in undo["detail"]
    api.call("POST", "/api/restores/restore-none/undo", expect=404)

    # The run's two restores wait for approval in turn: approve the first, reject the second.
    first, second = f"restore-{run}-0", f"restore-{run}-1"
    waiting = wait_phase(r.env, first, "approval")["customStatus"]["detail"]
    assert waiting["action"] == "attach"
    view = api.call("GET", decision["statusQueryGetUri"], expect=202).json()
    assert view["phase"] == "restore" and view["progress"]["children"] == [first, second]
    api.call("GET", f"/api/restores/{first}", expect=202)
    api.call("POST", f"/api/restores/{run}/approve", json={"foo": "bar"}, expect=400)
    approved = api.call("POST", f"/api/restores/{run}/approve", expect=202,
                        json={"approver": "oncall@contoso.com", "comment": "go"}).json()
    assert approved["appliedTo"] == [first] and approved["authenticated"] is False
    wait_phase(r.env, second, "approval")
    running = api.call("GET", "/api/restores", params={"status": "Running,Pending"},
                       expect=200).json()
    assert {(x["id"], x["kind"]) for x in running["restores"]} >= {(run, "recovery"),
                                                                  (second, "restore")}
    rejected = api.call("POST", f"/api/restores/{run}/reject", expect=202,
                        headers={"X-MS-CLIENT-PRINCIPAL-NAME": "bob@contoso.com",
                                 "X-MS-CLIENT-PRINCIPAL-ID": "11111111-2222",
                                 "X-MS-CLIENT-PRINCIPAL": encode_client_principal(
                                     "11111111-2222", "bob@contoso.com")}).json()
    assert rejected["appliedTo"] == [second] and rejected["authenticated"] is True

    for instance in (run, manual["id"]):
        r.env.host.wait_for(instance, timeout=120)
    result = api.call("GET", f"/api/restores/{run}", expect=200).json()
    assert result["outcome"] == "PartiallySucceeded", json.dumps(result, indent=1)
    assert [x["outcome"] for x in result["result"]["restores"]] == ["Succeeded", "NotApproved"]
    cancelled = api.call("GET", manual["statusQueryGetUri"], expect=200).json()
    assert cancelled["outcome"] == "Cancelled", cancelled
    api.call("POST", f"/api/restores/{run}/approve", json={"approver": "late"}, expect=409)
    api.call("POST", f"/api/restores/{run}/cancel", expect=409)

    # The ledger: every alert once (the redelivery finds the first answer), newest first.
    events = api.call("GET", "/api/recovery/events", expect=200).json()["events"]
    assert sorted(e["disposition"] for e in events) == ["malformed"] * 5 + ["rejected",
                                                                            "started"], events
    assert len(api.call("GET", "/api/recovery/events", params={"limit": "2"},
                        expect=200).json()["events"]) == 2
    api.call("GET", "/api/recovery/events", params={"since": "2000-01-01T00:00:00Z"},
             expect=200)
    for params in ({"limit": "0"}, {"limit": "1001"}, {"limit": "many"},
                   {"since": "yesterday"}):
        api.call("GET", "/api/recovery/events", params=params, expect=400)
    assert r.env.leftover_assignments() == set()
    COMPLETED.add("recovery")


# ---- a drill ------------------------------------------------------------------------------------
def drill_plans() -> dict[str, Any]:
    return {"version": 1, "plans": [{
        "name": "nightly", "schedule": "0 30 2 * * *",
        "selection": {"vaults": [f"/subscriptions/{SUB}/resourceGroups/rg-backup/providers/"
                                 "Microsoft.DataProtection/backupVaults/bv-demo"],
                      "resourceGroups": [f"/subscriptions/{SUB}/resourceGroups/rg-app"]},
        "recoveryPoint": "latest",
        "sandboxResourceGroupId": f"/subscriptions/{SUB}/resourceGroups/rg-restore-target",
        "maxParallel": 2, "timeBudgetMinutes": 240, "keepFailed": False, "expiryHours": 24,
        "notify": {"queue": f"drill-failures-{uuid.uuid4().hex[:8]}"}}]}


def test_drill_routes_answer_as_documented(drill_env):
    vault = f"/subscriptions/{SUB}/resourceGroups/rg-backup/providers/Microsoft.DataProtection/" \
        "backupVaults/bv-demo"
    d = drill_env(drill_plans(), BACKUP_VAULT_IDS=vault)
    api = Api(d.env.host.base_url)
    # readiness (docs/readiness.md), on the drill's report store: nothing before a run
    api.call("GET", "/api/readiness", expect=404)
    api.call("GET", "/api/readiness", params={"format": "pdf"}, expect=400)
    run = api.call("POST", "/api/readiness", expect=(202, 200))
    assert run.headers["Location"] == run.json()["reportUri"]
    d.env.host.wait_for(run.json()["id"], timeout=120)
    ready = api.call("GET", "/api/readiness", expect=200).json()
    assert ready["summary"]["disks"] == 3 and ready["checkedAt"], ready
    page = api.call("GET", "/api/readiness", params={"format": "html"}, expect=200)
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.text.startswith("<!DOCTYPE html>")

    api.call("POST", "/api/drills", data=b"{", expect=400)
    api.call("POST", "/api/drills", json={"plan": "nightly", "now": True}, expect=400)
    unknown = problem(api.call("POST", "/api/drills", json={"plan": "weekly"}, expect=404))
    assert "nightly" in unknown["detail"]

    started = api.call("POST", "/api/drills", json={"plan": "nightly"}, expect=202)
    drill = started.json()["id"]
    assert started.headers["Location"] == started.json()["statusQueryGetUri"]
    early = api.call("GET", f"/api/drills/{drill}/report", expect=409)
    assert early.headers["Retry-After"] == "30"
    api.call("GET", f"/api/drills/{drill}", expect=202)
    d.env.host.wait_for(drill, timeout=300)

    view = api.call("GET", f"/api/drills/{drill}", expect=200).json()
    assert view["summary"]["passed"] == 3 and view["reports"]["json"], view
    api.call("GET", f"/api/restores/{drill}", expect=404)  # a drill is not a restore
    report = api.call("GET", f"/api/drills/{drill}/report", expect=200)
    assert report.content.decode() == d.blob(f"nightly/{drill}.json")
    assert api.call("GET", f"/api/drills/{drill}/report", params={"format": "json"},
                    expect=200).json() == report.json()
    page = api.call("GET", f"/api/drills/{drill}/report", params={"format": "html"},
                    expect=200)
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.text == d.blob(f"nightly/{drill}.html")
    api.call("GET", f"/api/drills/{drill}/report", params={"format": "HTML"}, expect=400)
    api.call("GET", f"/api/drills/{drill}/report", params={"format": "json", "x": "1"},
             expect=400)
    # The drill's sub-orchestrations share its prefix; they are not drills.
    api.call("GET", f"/api/drills/{drill}-lane-0", expect=404)
    api.call("GET", f"/api/drills/{drill}-lane-0/report", expect=404)
    api.call("GET", f"/api/drills/{drill}-disk-0", expect=404)
    api.call("GET", f"/api/drills/{drill}/report", params={"format": "html", "code": "key"},
             expect=200)  # the function key in the query is the host's, not a parameter
    api.call("GET", "/api/drills/drill-nightly-19990101T000000", expect=404)
    COMPLETED.add("drills")


# ---- the catalog, with caller authorization on -------------------------------------------------
CATALOG_POLICY = {"version": 1, "rules": [{
    "name": "app-team", "principals": {"ids": ["a11ce000-0000-4000-8000-0000000a11ce"]},
    "actions": ["restore"], "sourceDisks": [f"/subscriptions/{SUB}/resourceGroups/rg-app"],
    "vaults": ["*"], "targetResourceGroups": ["*"]}]}


def test_catalog_routes_answer_as_documented(restore_env, monkeypatch, tmp_path):
    for setting in ("RECOVERY_POLICIES_PATH", "DRILL_PLANS_PATH"):
        monkeypatch.delenv(setting, raising=False)
    monkeypatch.setenv("DEVHOST_FUNCTION_KEY", KEY)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(CATALOG_POLICY))
    vault = f"/subscriptions/{SUB}/resourceGroups/rg-backup/providers/" \
            "Microsoft.DataProtection/backupVaults/bv-demo"
    env = restore_env(CALLER_AUTHORIZATION="policy", WEBSITE_AUTH_ENABLED="true",
                      ACCESS_POLICY_PATH=str(policy), BACKUP_VAULT_IDS=vault)
    api = Api(env.host.base_url, KEY)
    alice = {"x-ms-client-principal": encode_client_principal(
        "a11ce000-0000-4000-8000-0000000a11ce", "alice")}
    dave = {"x-ms-client-principal": encode_client_principal(
        "d0d00000-0000-4000-8000-00000000d0d0", "dave")}
    points = f"/api/disks/{SUB}/rg-app/vm-app01-data0/recovery-points"

    api.call("GET", "/api/disks", key=False, expect=401)  # the host: no key
    api.call("GET", "/api/disks", expect=401)  # the app: nobody signed in
    api.call("GET", "/api/disks", headers=dave, expect=403)
    api.call("GET", points, headers=dave, expect=403)
    first = api.call("GET", "/api/disks", headers=alice, params={"top": "2"}, expect=200).json()
    link = urlsplit(first["nextLink"])
    rest = api.call("GET", link.path, headers=alice, params=dict(parse_qsl(link.query)),
                    expect=200).json()
    assert [i["name"] for i in first["value"] + rest["value"]] == [
        "vm-app01-data0", "vm-app01-data1", "vm-app01-osdisk"] and rest["nextLink"] is None
    api.call("GET", "/api/disks", headers=alice, params={"tag": "workload=app01", "vm": "vm-app01",
                                                         "code": KEY}, expect=200)
    for params, field in (({"top": "0"}, "top"), ({"tag": "x"}, "tag"),
                          ({"skipToken": "zz"}, "skipToken"), ({"colour": "red"}, "colour")):
        problem(api.call("GET", "/api/disks", headers=alice, params=params, expect=400), field)

    view = api.call("GET", points, headers=alice, expect=200).json()
    assert view["value"] and all(p["restorable"] for p in view["value"])
    api.call("GET", f"/api/disks/{SUB}/rg-app/nowhere/recovery-points", headers=alice,
             expect=404)
    api.call("GET", f"/api/disks/{SUB}/rg-restore-target/x/recovery-points", headers=alice,
             expect=404)
    problem(api.call("GET", "/api/disks/not-a-guid/rg-app/d/recovery-points", headers=alice,
                     expect=400), "subscriptionId")
    problem(api.call("GET", points, headers=alice, params={"top": "1"}, expect=400), "top")

    # Azure refuses a read: one line, 503, Retry-After
    env.sim.add_fault(kind="status", status=403, code="AuthorizationFailed",
                      message="no jobs read", operation="*/backupJobs/read", count=2)
    for path in ("/api/disks", points):
        failed = api.call("GET", path, headers=alice, expect=503)
        assert failed.headers["Retry-After"] == "300" and "backupJobs" in failed.json()["detail"]
    COMPLETED.add("catalog")


# ---- every operation was called ------------------------------------------------------------------
def test_every_documented_operation_was_called():
    """Last in this file: a route added to the app and the document without a live check here
    fails this test."""
    if COMPLETED != SCENARIOS:
        pytest.skip(f"needs every scenario of this file to have passed; missing: "
                    f"{sorted(SCENARIOS - COMPLETED)}")
    documented = {(path, method) for path, item in DOC["paths"].items()
                  for method in METHODS if method in item}
    missing = sorted(documented - CALLED)
    assert not missing, f"documented operations never called by this file: {missing}"
    for template, method, status in SEEN:
        assert str(status) in DOC["paths"][template][method]["responses"]


