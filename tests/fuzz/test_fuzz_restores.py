"""Fuzzing the restore API (issue 10): POST /api/restores, GET /api/restores, and GET/POST
/api/restores/{id}[/cancel|/approve|/reject], over real HTTP to the app under devhost.

Every answer: no 5xx; a refusal is problem+json whose detail (and errors) name what is wrong (for a
valid request with one change, the changed field); no orchestration starts from a refused request;
the OpenAPI document accepts a request body exactly when the app does. Valid requests are dry runs
(or name a disk no vault protects), so azsim sees no write at all.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import pytest
import requests
from fuzzlib import (
    FUZZ,
    MAX_URL,
    RG,
    ROOT,
    VM,
    Mutated,
    collecting,
    dumps,
    json_values,
    mutations,
    names,
    nested,
    open_bug,
    problem_of,
    query,
    raw_bodies,
    texts,
    url_quote,
)
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from rfc3339_validator import validate_rfc3339

DISK = f"{RG}/rg-app/providers/Microsoft.Compute/disks/vm-app01-data0"  # protected
GHOST = f"{RG}/rg-app/providers/Microsoft.Compute/disks/fuzz-ghost"  # protected by no vault
BI = f"{RG}/rg-backup/providers/Microsoft.DataProtection/backupVaults/bv-demo/backupInstances/bi-1"
TARGET = f"{RG}/rg-restore-target"
BASES = [
    {"source": {"diskId": DISK}, "target": {"resourceGroupId": TARGET,
                                            "diskName": "fuzz-restored"}, "dryRun": True},
    {"requestId": "fuzz-1", "source": {"diskId": DISK}, "recoveryPoint": {"before":
                                                                          "2026-11-20T10:00:00Z"},
     "target": {"resourceGroupId": TARGET, "diskName": "fuzz-restored_"},
     "attach": {"vmId": VM, "lun": 3, "caching": "ReadOnly"}, "dryRun": True},
    {"source": {"backupInstanceId": BI}, "recoveryPoint": {"id": "rp-1"},
     "target": {"resourceGroupId": TARGET, "diskName": "f"}, "swapOsDisk": {"vmId": VM},
     "dryRun": True, "schema": 1},
    {"source": {"diskId": GHOST}, "recoveryPoint": "latest",
     "target": {"resourceGroupId": TARGET, "diskName": "fuzz.restored-2"},
     "attach": {"vmId": VM}, "dryRun": True},
]
TOP_LEVEL = ["requestId", "source", "recoveryPoint", "target", "attach", "swapOsDisk", "dryRun",
             "schema", "reason", "diskId", "backupInstanceId", "vmId", "lun", "caching", "id",
             "before", "resourceGroupId", "diskName"]
# one change can make another field wrong: attach and swapOsDisk exclude each other
RELATED = {"attach": {"swapOsDisk"}, "swapOsDisk": {"attach"}}

DOCUMENT: dict[str, Any] = json.loads((ROOT / "triggers" / "openapi.json").read_text("utf-8"))
_REGISTRY = Registry().with_resource("urn:openapi", Resource(contents=DOCUMENT,
                                                              specification=DRAFT202012))


_FORMATS = FormatChecker()


@_FORMATS.checks("date-time")
def _date_time(value: object) -> bool:
    """RFC 3339, whole: rfc3339-validator's pattern ends in "$", which takes "...Z\n"."""
    return not isinstance(value, str) or (validate_rfc3339(value) and "\n" not in value)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    """"pattern" as ECMA-262 reads it: its "$" is the end of the text; Python's also matches
    before a final newline, so jsonschema took "fuzz-1\n" for a requestId."""
    if isinstance(instance, str) and not re.search(re.sub(r"(?<!\\)\$", r"\\Z", pattern),
                                                   instance):
        yield ValidationError(f"{instance[:100]!r} does not match {pattern!r}")


_Ecma = validators.extend(Draft202012Validator, {"pattern": _pattern})


@functools.cache
def _validator(pointer: str) -> Draft202012Validator:
    return _Ecma({"$ref": f"urn:openapi#{pointer}"}, registry=_REGISTRY,
                 format_checker=_FORMATS)


def documented(pointer: str, instance: Any) -> list[str]:
    """What the OpenAPI document finds wrong with `instance` (empty: it accepts it)."""
    return [e.message[:300] for e in _validator(pointer).iter_errors(instance)]


def _never_a_real_restore(m: Mutated) -> Mutated:
    """A change to dryRun (dropped, false) would make a valid request a real restore: aim it at a
    disk no vault protects, so the run ends at its plan and changes nothing."""
    if m.path == "dryRun" and isinstance(m.doc, dict) and isinstance(m.doc.get("source"), dict):
        m.doc["source"] = {"diskId": GHOST}
    return m


def restore_bodies() -> st.SearchStrategy[tuple[bytes, Mutated | None]]:
    mutated = st.sampled_from(BASES).flatmap(
        lambda base: mutations(base, extra_keys=TOP_LEVEL)).map(_never_a_real_restore)
    as_sent = mutated.map(lambda m: (dumps(m.doc), m))
    anything = st.one_of(json_values().map(lambda v: (dumps(v), None)),
                         nested().map(lambda v: (dumps(v), None)),
                         raw_bodies().map(lambda b: (b, None)))
    return st.one_of(as_sent, as_sent, as_sent, anything)


def _count(tally: Any, answer: requests.Response) -> None:
    tally.cases += 1
    tally.statuses[answer.status_code] = tally.statuses.get(answer.status_code, 0) + 1
    if answer.status_code >= 400:
        tally.rejected += 1
    else:
        tally.accepted += 1


def _no_5xx(answer: requests.Response, what: str) -> None:
    assert answer.status_code < 500, \
        f"{what}: {answer.status_code} {answer.text[:1000]!r}"


# ---- POST /api/restores ------------------------------------------------------------------------
@FUZZ
@given(case=restore_bodies())
@collecting
def test_post_restores(app, http, tally, case):
    body, mutated = case
    count = tally("POST /api/restores")
    before = app.top_level_runs()
    answer = http.post(f"{app.base}/api/restores", data=body, timeout=60,
                       headers={"Content-Type": "application/json"})
    started = app.top_level_runs() - before
    _count(count, answer)
    if open_bug(answer.status_code, body=body):
        return
    _no_5xx(answer, "POST /api/restores")
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        doc = None
    if answer.status_code == 409:
        # a valid request whose requestId an earlier case's different request already took
        problem = problem_of(answer)
        assert problem["title"] == "Request id reused" and problem.get("errors"), problem
        assert isinstance(doc, dict) and doc.get("requestId"), problem
        assert started == 0, f"a refused request started {started} orchestration(s)"
        return
    if answer.status_code >= 400:
        assert answer.status_code == 400, answer.text[:500]
        problem = problem_of(answer)
        assert started == 0, f"a refused request started {started} orchestration(s)"
        if mutated is not None:
            assert names(problem, mutated.path, related=RELATED), \
                f"the problem does not name {mutated.path!r}: {problem}"
            assert problem.get("errors"), problem
        # (a time with no UTC equivalent, 0001-01-01T00:00+01:00, is RFC 3339 all the same)
        out_of_range = any(e["message"] == "is out of range"
                           for e in problem.get("errors") or [])
        if isinstance(doc, dict) and mutated is not None and not out_of_range:
            assert documented("/components/schemas/RestoreRequest", doc), \
                f"the app refuses what the document accepts: {problem}"
        return
    # (the app may accept more than the document describes: "before" takes any ISO 8601 time
    # with a zone, the document's date-time format is RFC 3339's)
    assert answer.status_code in (200, 202), answer.text[:500]
    view = answer.json()
    assert isinstance(view.get("id"), str) and view["started"] is (answer.status_code == 202)
    assert started == (1 if view["started"] else 0) or (view["started"] and started == 0), \
        (view, started)  # a restart replaces the finished run of the same id
    assert isinstance(doc, dict), doc
    if doc.get("dryRun") is True:
        assert view["id"].startswith("dryrun-"), view


def test_post_restores_changes_nothing_in_azure(app, http):
    """The premise of the fuzzers above: dry runs and refused requests write nothing to ARM."""
    for base in BASES:
        answer = http.post(f"{app.base}/api/restores", json=base, timeout=60)
        assert answer.status_code in (200, 202), answer.text
        app.env.host.wait_for(answer.json()["id"], timeout=120)
    assert app.arm_writes() == 0


# ---- GET /api/restores -------------------------------------------------------------------------
def query_params() -> st.SearchStrategy[dict[str, str]]:
    value = st.one_of(texts(), st.sampled_from([
        "Running", "running,completed", "Completed, Failed", ",", "Nope", "ContinuedAsNew",
        "1", "50", "500", "501", "0", "-1", "+5", "٣", "1e2", "0x10", " 5", "5 ",
        "2026-11-20T00:00:00Z", "2026-11-20T00:00:00", "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00", "2026-11-20T00:00:00+14:00", "2026-11-20",
        "2026-11-20T00:00:00z", "1970-01-01T00:00:00Z"]))
    key = st.one_of(st.sampled_from(["since", "status", "top", "code"]),
                    st.sampled_from(["limit", "Since", "TOP", "$top", "status[]", ""]),
                    st.text(max_size=8))
    return st.dictionaries(key, value, max_size=4).filter(lambda p: len(query(p)) <= MAX_URL)


KNOWN_QUERY = {"since", "status", "top", "code"}


@FUZZ
@given(params=query_params())
@collecting
def test_list_restores(app, http, tally, params):
    count = tally("GET /api/restores")
    answer = http.get(f"{app.base}/api/restores?{query(params)}", timeout=60)
    _count(count, answer)
    if open_bug(answer.status_code, since=params.get("since"), top=params.get("top")):
        return
    _no_5xx(answer, f"GET /api/restores {params!r}")
    if answer.status_code >= 400:
        assert answer.status_code == 400, answer.text[:500]
        problem = problem_of(answer)
        fields = {e["field"] for e in problem.get("errors") or []}
        assert fields and fields <= set(params), (params, problem)
        unknown = {k for k in params if k not in KNOWN_QUERY}
        assert unknown <= fields, f"unknown parameters not named: {unknown - fields}"
        return
    assert answer.status_code == 200
    assert not {k for k in params if k not in KNOWN_QUERY}, f"accepted {params!r}"
    body = answer.json()
    assert isinstance(body["restores"], list) and body["count"] == len(body["restores"])


# ---- GET/POST /api/restores/{id}[/cancel|/approve|/reject] -------------------------------------
@functools.cache  # built once: validating a strategy per example cost more than the request
def instance_ids(known: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Anything a path segment can carry (routing needs at least one character, and no '/')."""
    near = st.sampled_from(known).flatmap(lambda k: st.sampled_from([
        k, k.upper(), k + " ", k + "x", k[:-1], k + "#x", k + "?showInput=true", k + "%", k + ":x",
        k + ":propagate", k + "\x00", k + "&x=1"]))
    return st.one_of(st.sampled_from(known), near, texts(),
                     st.sampled_from(["restore-", "dryrun-", "recover-", "drill-", "sweep",
                                      "sweep-drill-disks", "x" * 5000, "%", "..", "."])
                     ).filter(lambda i: i not in ("", ".", "..") and "/" not in i
                              and len(url_quote(i)) <= MAX_URL)


@functools.cache
def decision_bodies() -> st.SearchStrategy[tuple[bytes, Mutated | None]]:
    base = st.sampled_from([{"approver": "alice@contoso.com", "comment": "checked"},
                            {"approver": "bob"}, {"comment": "ok", "approver": "c"}])
    mutated = base.flatmap(lambda b: mutations(b, extra_keys=["approver", "comment", "by"]))
    return st.one_of(mutated.map(lambda m: (dumps(m.doc), m)), mutated.map(
        lambda m: (dumps(m.doc), m)), json_values().map(lambda v: (dumps(v), None)),
        raw_bodies().map(lambda b: (b, None)), st.just((b"", None)))


@functools.cache
def cancel_bodies() -> st.SearchStrategy[bytes]:
    return st.one_of(st.just(b""), json_values().map(dumps), raw_bodies())


@pytest.fixture
def with_runs(app, http) -> list[str]:
    """Runs the ids can name: a finished dry run, and a drill."""
    answer = http.post(f"{app.base}/api/restores", json=BASES[0], timeout=60)
    assert answer.status_code == 202, answer.text
    dry = answer.json()["id"]
    app.env.host.wait_for(dry, timeout=120)
    answer = http.post(f"{app.base}/api/drills", json={"plan": "fuzz-empty"}, timeout=60)
    assert answer.status_code == 202, answer.text
    drill = answer.json()["id"]
    app.env.host.wait_for(drill, timeout=120)
    return [dry, drill]


def _by_id(app: Any, http: requests.Session, tally: Any, method: str, suffix: str,
           instance: str, body: bytes | None = None) -> requests.Response | None:
    """The answer, checked; None for one of the open bugs (OPEN_BUGS)."""
    before = app.top_level_runs()
    url = f"{app.base}/api/restores/{url_quote(instance)}{suffix}"
    answer = http.request(method, url, data=body, timeout=60)
    _count(tally, answer)
    assert app.top_level_runs() == before, "an orchestration was started"
    try:
        doc = answer.json() if answer.status_code in (200, 202, 400) else {}
    except ValueError:
        doc = {}
    shown = doc.get("id") if answer.status_code in (200, 202) else None
    detail = doc.get("detail") if answer.status_code == 400 else None
    if open_bug(answer.status_code, body=body, instance=instance, detail=detail,
                wrong=shown is not None and shown != instance):
        return None
    _no_5xx(answer, f"{method} /api/restores/{instance!r}{suffix}")
    if answer.status_code >= 400:
        assert answer.status_code in (400, 404, 409), answer.text[:500]
        problem_of(answer)
    return answer


@FUZZ
@given(data=st.data())
@collecting
def test_get_restore(app, http, tally, with_runs, data):
    instance = data.draw(instance_ids(tuple(with_runs)))
    answer = _by_id(app, http, tally("GET /api/restores/{id}"), "GET", "", instance)
    if answer is not None and answer.status_code < 400:
        assert answer.json()["id"] == instance, (instance, answer.json()["id"])


@FUZZ
@given(data=st.data())
@collecting
def test_cancel_restore(app, http, tally, with_runs, data):
    instance = data.draw(instance_ids(tuple(with_runs)))
    body = data.draw(cancel_bodies())
    answer = _by_id(app, http, tally("POST /api/restores/{id}/cancel"), "POST", "/cancel",
                    instance, body)
    if answer is not None:
        assert answer.status_code in (404, 409), answer.text[:500]  # nothing here is running


@pytest.mark.parametrize("decision", ["approve", "reject"])
@FUZZ
@given(data=st.data())
@collecting
def test_decide_restore(app, http, tally, with_runs, decision, data):
    instance = data.draw(instance_ids(tuple(with_runs)))
    body, mutated = data.draw(decision_bodies())
    answer = _by_id(app, http, tally(f"POST /api/restores/{{id}}/{decision}"), "POST",
                    f"/{decision}", instance, body)
    if answer is None:
        return
    assert answer.status_code in (400, 404, 409), answer.text[:500]  # nothing waits
    if answer.status_code == 400 and mutated is not None:
        problem = answer.json()
        assert names(problem, mutated.path) or mutated.path == "", \
            f"the problem does not name {mutated.path!r}: {problem}"
