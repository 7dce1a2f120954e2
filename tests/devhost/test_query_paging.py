"""Listing instances pages as the Durable extension does over Azure Storage: at most 100 per page
(or `top`, at most 1,000), in instance id order, the continuation in the x-ms-continuation-token
response header and back in the same request header, an empty token when nothing follows, and
short or empty pages where the Table service would end a segment early."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import requests

SAMPLE = Path(__file__).parent / "apps" / "sample"
TOKEN = "x-ms-continuation-token"


def _start(host, instance_id: str) -> None:
    # renamed_orchestration with input 3 ends in its first episode
    answer = requests.post(f"{host.base_url}/durabletask/orchestrators/renamed_orchestration/"
                           f"{instance_id}", json=3, timeout=10)
    assert answer.status_code == 202, answer.text


def _pages(url: str, token: str = "") -> list[requests.Response]:
    pages = []
    while True:
        page = requests.get(url, headers={TOKEN: token} if token else {}, timeout=10)
        assert page.status_code == 200, page.text
        pages.append(page)
        token = page.headers[TOKEN]  # always there; empty when nothing follows
        if not token:
            return pages


def _ids(page: requests.Response) -> list[str]:
    return [doc["instanceId"] for doc in page.json()]


def test_pages_of_100_in_instance_id_order_with_the_token_in_the_request_header(devhost):
    host = devhost(SAMPLE)
    expected = [f"a-{i:03d}" for i in range(150)] + [f"b-{i:03d}" for i in range(100)]
    for instance_id in reversed(expected):  # created in the opposite order: pages follow the ids
        _start(host, instance_id)
    for instance_id in expected:
        host.wait_for(instance_id)
    url = f"{host.base_url}/durabletask/instances/"

    pages = _pages(url)
    # 100, then the rest of the "a" ids (a short page, with a token: the Table service ends a
    # segment at a partition boundary), then the "b" ids; the last token is empty, not absent
    assert [len(p.json()) for p in pages] == [100, 50, 100]
    assert [i for p in pages for i in _ids(p)] == expected
    assert all(p.headers[TOKEN] for p in pages[:-1]) and pages[-1].headers[TOKEN] == ""

    # the token names where the next page starts: the same query sent with it goes on from there
    again = requests.get(url, headers={TOKEN: pages[0].headers[TOKEN]}, timeout=10)
    assert _ids(again) == _ids(pages[1])
    # a token in the query string is not read (the extension reads only the header)
    ignored = requests.get(url, params={"continuationToken": pages[0].headers[TOKEN]}, timeout=10)
    assert _ids(ignored) == _ids(pages[0])
    # both routes, the same answer
    webhook = requests.get(f"{host.base_url}/runtime/webhooks/durabletask/instances", timeout=10)
    assert _ids(webhook) == _ids(pages[0]) and webhook.headers[TOKEN] == pages[0].headers[TOKEN]

    # `top` below 100: pages of `top`
    small = _pages(f"{url}?top=40")
    assert [len(p.json()) for p in small] == [40, 40, 40, 30, 40, 40, 20]
    assert [i for p in small for i in _ids(p)] == expected
    # above 100: up to the segment's end
    assert [len(p.json()) for p in _pages(f"{url}?top=500")] == [150, 100]
    # what int.TryParse refuses is ignored: the default of 100
    for text in ("abc", "", "1.5", "99999999999", "1_0"):
        assert len(requests.get(url, params={"top": text}, timeout=10).json()) == 100, text
    assert len(requests.get(url, params={"top": " +7 "}, timeout=10).json()) == 7
    # TableQuery.TakeCount refuses anything below 1: 400
    for text in ("0", "-3"):
        refused = requests.get(url, params={"top": text}, timeout=10)
        assert refused.status_code == 400, text
        assert "Take count must be positive" in refused.json()["ExceptionMessage"]


def test_filters_page_too_and_a_segment_may_hold_no_match(devhost):
    host = devhost(SAMPLE)
    for i in range(3):
        _start(host, f"a-{i}")
        host.wait_for(f"a-{i}")
    answer = requests.post(f"{host.base_url}/durabletask/orchestrators/fails/b-failed",
                           timeout=10)
    assert answer.status_code == 202
    host.wait_for("b-failed")
    url = f"{host.base_url}/durabletask/instances/?runtimeStatus=Failed"

    pages = _pages(url)
    # nothing among the "a" ids failed: an empty page that still carries a token
    assert [_ids(p) for p in pages] == [[], ["b-failed"]]
    assert pages[0].headers[TOKEN]


def test_inputs_are_listed_unless_show_input_is_false(devhost):
    host = devhost(SAMPLE)
    _start(host, "with-input")
    host.wait_for("with-input")
    url = f"{host.base_url}/durabletask/instances/"
    # OrchestrationStatusQueryCondition.ShowInput defaults to true; the stored JSON text
    assert requests.get(url, timeout=10).json()[0]["input"] == "3"
    assert requests.get(url, params={"showInput": "False"}, timeout=10).json()[0]["input"] is None


def test_at_most_1000_a_page_whatever_top_asks(devhost):
    host = devhost(SAMPLE)
    store = host.host.store
    now = host.clock.time()
    # 1,001 ended instances written as the engine stores them: starting that many orchestrations
    # would only make the test slow
    with store.tx() as db:
        db.executemany("INSERT INTO instances VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", [
            (f"x-{i:04d}", "renamed_orchestration", uuid.uuid4().hex, "Completed", "3",
             json.dumps("done after 3 generations"), None, None, None, None, now, now)
            for i in range(1001)])
    url = f"{host.base_url}/durabletask/instances/"
    first = requests.get(url, params={"top": "5000"}, timeout=30)
    assert len(first.json()) == 1000 and first.headers[TOKEN]
    rest = requests.get(url, params={"top": "5000"}, headers={TOKEN: first.headers[TOKEN]},
                        timeout=30)
    assert _ids(rest) == ["x-1000"] and rest.headers[TOKEN] == ""


def test_a_token_that_is_not_one_is_a_500_as_in_the_extension(devhost):
    host = devhost(SAMPLE)
    _start(host, "only")
    url = f"{host.base_url}/durabletask/instances/"
    not_json = base64.b64encode(b"not json").decode()
    for token in ("not base64!", not_json):
        answer = requests.get(url, headers={TOKEN: token}, timeout=10)
        assert answer.status_code == 500, token
        assert answer.json()["Message"] == "Something went wrong while processing your request"
