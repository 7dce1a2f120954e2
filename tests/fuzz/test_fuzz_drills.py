"""Fuzzing restore drills (issue 10): POST /api/drills, GET /api/drills/{id} and
GET /api/drills/{id}/report. The one plan selects nothing, so a drill it starts writes nothing.

Every answer: no 5xx; a refusal is problem+json naming what is wrong; a drill starts only for the
plan that exists.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
import requests
from fuzzlib import (
    FUZZ,
    MAX_URL,
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

PLAN = "fuzz-empty"


@pytest.fixture
def drill(app, http) -> str:
    answer = http.post(f"{app.base}/api/drills", json={"plan": PLAN}, timeout=60)
    assert answer.status_code == 202, answer.text
    app.env.host.wait_for(answer.json()["id"], timeout=120)
    return answer.json()["id"]


def _count(tally: Any, answer: requests.Response) -> None:
    tally.cases += 1
    tally.statuses[answer.status_code] = tally.statuses.get(answer.status_code, 0) + 1
    if answer.status_code >= 400:
        tally.rejected += 1
    else:
        tally.accepted += 1


def drill_bodies() -> st.SearchStrategy[tuple[bytes, Mutated | None]]:
    mutated = st.sampled_from([{"plan": PLAN}, {"plan": "nightly"}]).flatmap(
        lambda b: mutations(b, extra_keys=["plan", "name", "when"]))
    return st.one_of(mutated.map(lambda m: (dumps(m.doc), m)),
                     mutated.map(lambda m: (dumps(m.doc), m)),
                     json_values().map(lambda v: (dumps(v), None)),
                     nested().map(lambda v: (dumps(v), None)),
                     raw_bodies().map(lambda b: (b, None)))


@FUZZ
@given(case=drill_bodies())
@collecting
def test_post_drills(app, http, tally, case):
    body, mutated = case
    count = tally("POST /api/drills")
    before = app.top_level_runs()
    answer = http.post(f"{app.base}/api/drills", data=body, timeout=60,
                       headers={"Content-Type": "application/json"})
    started = app.top_level_runs() - before
    _count(count, answer)
    if open_bug(answer.status_code, body=body):
        return
    assert answer.status_code < 500, f"{answer.status_code} {answer.text[:1000]!r}"
    if answer.status_code >= 400:
        assert answer.status_code in (400, 404), answer.text[:500]
        problem = problem_of(answer)
        assert started == 0, "a refused request started a drill"
        if answer.status_code == 404:
            assert "plan" in problem["detail"] and PLAN in problem["detail"], problem
        elif mutated is not None:
            assert names(problem, mutated.path) or "plan" in problem["detail"], problem
        return
    view = answer.json()
    assert view["id"].startswith(f"drill-{PLAN}-"), view
    assert started == (1 if view["started"] else 0), (view, started)


@functools.cache  # built once: validating a strategy per example costs more than the request
def drill_ids(known: str) -> st.SearchStrategy[str]:
    near = st.sampled_from([known, known.upper(), known + "x", known[:-1], known + "#x",
                            known + "?format=html", known + ":lane-0", known + " ",
                            "restore-x", "dryrun-x", "sweep-drill-disks", "drill-", "drill-x"])
    return st.one_of(near, texts()).filter(
        lambda i: i not in ("", ".", "..") and "/" not in i and len(url_quote(i)) <= MAX_URL)


@FUZZ
@given(data=st.data())
@collecting
def test_get_drill(app, http, tally, drill, data):
    instance = data.draw(drill_ids(drill))
    count = tally("GET /api/drills/{id}")
    before = app.top_level_runs()
    answer = http.get(f"{app.base}/api/drills/{url_quote(instance)}", timeout=60)
    _count(count, answer)
    shown = answer.json().get("id") if answer.status_code in (200, 202) else None
    if open_bug(answer.status_code, instance=instance, wrong=shown not in (None, instance)):
        return
    assert answer.status_code < 500, f"{instance!r}: {answer.status_code} {answer.text[:1000]!r}"
    assert app.top_level_runs() == before
    if answer.status_code >= 400:
        assert answer.status_code == 404
        problem_of(answer)
        return
    assert answer.json()["id"] == instance, (instance, answer.json()["id"])


@functools.cache
def report_params() -> st.SearchStrategy[dict[str, str]]:
    value = st.one_of(st.sampled_from(["json", "html", "JSON", "Html", "xml", "", " json"]),
                      texts())
    key = st.one_of(st.sampled_from(["format", "code", "Format", "download"]),
                    st.text(max_size=6))
    return st.dictionaries(key, value, max_size=3).filter(lambda p: len(query(p)) <= MAX_URL)


@FUZZ
@given(data=st.data())
@collecting
def test_get_drill_report(app, http, tally, drill, data):
    instance = data.draw(drill_ids(drill))
    params = data.draw(report_params())
    count = tally("GET /api/drills/{id}/report")
    answer = http.get(f"{app.base}/api/drills/{url_quote(instance)}/report?{query(params)}",
                      timeout=60)
    _count(count, answer)
    if open_bug(answer.status_code, instance=instance, wrong=answer.status_code == 200
                and instance != drill):
        return
    assert answer.status_code < 500, \
        f"{instance!r} {params!r}: {answer.status_code} {answer.text[:1000]!r}"
    if answer.status_code >= 400:
        assert answer.status_code in (400, 404, 409), answer.text[:300]
        problem = problem_of(answer)
        if answer.status_code == 400:
            assert "format" in problem["detail"], problem
        return
    assert instance == drill and set(params) <= {"format", "code"}, (instance, params)
    kind = answer.headers["Content-Type"]
    assert kind.startswith("text/html" if params.get("format") == "html"
                           else "application/json"), kind
