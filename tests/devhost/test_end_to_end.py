"""The sample app, unchanged, under `python -m devhost start`, followed through the status URLs
its own HTTP starter returned (what a user of `func start` does)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

SAMPLE = Path(__file__).parent / "apps" / "sample"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def served(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # --port 0: the host binds a free port itself and names it. A port found free here and
    # handed over could be taken by anything else on the machine before the host binds it.
    proc = subprocess.Popen(
        [sys.executable, "-m", "devhost", "start", "--app-dir", str(SAMPLE), "--port", "0",
         "--state-dir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env=env, cwd=ROOT)
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if line.startswith("Host started: "):
            break
    else:
        proc.kill()
        pytest.fail("devhost did not start:\n" + "".join(lines))
    yield line.removeprefix("Host started: ").strip(), "".join(lines)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0


def _until_done(url: str, timeout: float = 30) -> requests.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = requests.get(url, timeout=5)
        if r.status_code != 202:
            return r
        time.sleep(0.1)
    raise AssertionError(f"still running after {timeout}s: {r.json()}")


def test_start_prints_routes_like_func_start(served):
    base, banner = served
    assert f"http_start: [POST] {base}/api/orchestrators/{{functionName}}" in banner
    assert "tour: orchestrationTrigger" in banner
    assert "greet: activityTrigger" in banner


def test_the_whole_durable_tour_runs_to_completed_through_the_status_urls(served):
    base, _ = served
    started = requests.post(f"{base}/api/orchestrators/tour", json="Ada", timeout=10)
    assert started.status_code == 202
    urls = started.json()
    assert started.headers["Location"] == urls["statusQueryGetUri"]
    assert urls["statusQueryGetUri"].startswith(f"{base}/runtime/webhooks/durabletask/instances/")

    # The orchestrator parks on wait_for_external_event after its timer, fan-out and retries.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = requests.get(urls["statusQueryGetUri"], timeout=5)
        if status.json()["customStatus"] == {"stage": "waiting for approval"}:
            break
        time.sleep(0.1)
    assert status.status_code == 202 and status.json()["runtimeStatus"] == "Running"

    raised = requests.post(urls["sendEventPostUri"].replace("{eventName}", "approve"),
                           json={"by": "bob"}, timeout=5)
    assert raised.status_code == 202
    done = _until_done(urls["statusQueryGetUri"])
    assert done.status_code == 200
    body = done.json()
    assert body["runtimeStatus"] == "Completed"
    assert body["output"] == {"greeting": "Hello Hello Ada", "squares": [0, 1, 4, 9, 16],
                              "flaky": "succeeded on attempt 3", "approval": {"by": "bob"},
                              "child": 37}
    # start_new double-encodes its input: the host keeps the JSON text, as the extension does.
    assert body["input"] == json.dumps("Ada")

    history = requests.get(urls["statusQueryGetUri"] + "&showHistory=true&showHistoryOutput=true",
                           timeout=5).json()["historyEvents"]
    kinds = [e["EventType"] for e in history]
    assert kinds[0] == "ExecutionStarted" and kinds[-1] == "ExecutionCompleted"
    assert kinds.count("TaskFailed") == 2 and kinds.count("TimerFired") == 3  # 1 + 2 retry timers
    assert {"FunctionName": "flaky"}.items() <= next(e for e in history
                                                      if e["EventType"] == "TaskFailed").items()


def test_http_route_templates_constraints_and_methods(served):
    base, _ = served
    ok = requests.get(f"{base}/api/items/5/more?q=x", timeout=5)
    assert ok.status_code == 200
    assert ok.json() == {"id": 5, "rest": "more", "q": "x", "method": "GET"}
    assert requests.get(f"{base}/api/items/5", timeout=5).json()["rest"] is None
    assert requests.get(f"{base}/api/items/five", timeout=5).status_code == 404  # {id:int}
    assert requests.post(f"{base}/api/items/5", timeout=5).status_code == 404  # GET only
    assert requests.get(f"{base}/api/nothing-here", timeout=5).status_code == 404


def test_function_keys_are_checked_only_when_devhost_is_given_one(devhost, monkeypatch):
    """Like `func start`, no key is needed by default; with DEVHOST_FUNCTION_KEY, a function
    whose authLevel is not anonymous answers 401 without it, as a deployed app does."""
    open_host = devhost(SAMPLE)
    assert requests.get(f"{open_host.base_url}/api/keyed", timeout=5).status_code == 200
    monkeypatch.setenv("DEVHOST_FUNCTION_KEY", "k-123")
    host = devhost(SAMPLE)
    url = f"{host.base_url}/api/keyed"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, headers={"x-functions-key": "wrong"}, timeout=5).status_code == 401
    assert requests.get(url, headers={"x-functions-key": "k-123"}, timeout=5).text == "in"
    assert requests.get(url + "?code=k-123", timeout=5).status_code == 200
    anonymous = requests.get(f"{host.base_url}/api/items/5", timeout=5)  # authLevel anonymous
    assert anonymous.status_code == 200
