"""kill -9 at every commit point resumes to the same output, with at-least-once activities."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

APP = Path(__file__).parent / "apps" / "crash"
ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {"chain": "ab", "fan": ["ab-0", "ab-1", "ab-2"]}
ACTIVITIES = ["a", "ab", "ab-0", "ab-1", "ab-2"]
EPISODES = 5  # start, after a, after ab, after the timer, after the fan-in


def _host(state: Path, log: Path, kill_at: str | None,
          extra: tuple[str, ...] = ()) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), CRASH_LOG=str(log))
    env.pop("DEVHOST_KILL_AT", None)
    if kill_at:
        env["DEVHOST_KILL_AT"] = kill_at
    # --port 0: the host binds a free port itself and names it (a port found free here could
    # be taken by anything else on the machine before the host binds it)
    proc = subprocess.Popen([sys.executable, "-m", "devhost", "start", "--app-dir", str(APP),
                             "--port", "0", "--state-dir", str(state), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    for line in proc.stdout:
        if line.startswith("Host started: "):
            return proc, line.removeprefix("Host started: ").strip()
    raise AssertionError(f"devhost exited with {proc.wait()} before it started")


def _status(base: str) -> dict:
    r = requests.get(f"{base}/durabletask/instances/run-1", timeout=5)
    return r.json() if r.status_code in (200, 202) else {}


def _run(tmp_path: Path, kill_at: str | None,
         extra: tuple[str, ...] = ()) -> tuple[dict, Counter, int | None]:
    state, log = tmp_path / "state", tmp_path / "activities.log"
    proc, base = _host(state, log, kill_at, extra)
    try:
        requests.post(f"{base}/durabletask/orchestrators/pipeline/run-1", timeout=5)
    except requests.RequestException:
        pass  # killed at the first episode, before the answer went out: the start had committed
    killed_rc = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            killed_rc = proc.returncode
            proc, base = _host(state, log, None, extra)  # same state, no kill this time
        try:
            doc = _status(base)
        except requests.RequestException:  # the host died mid-answer; it is restarted above
            continue
        if doc.get("runtimeStatus") in ("Completed", "Failed", "Terminated"):
            break
        time.sleep(0.05)
    if kill_at and killed_rc is None:
        # The kill comes right AFTER its commit point's commit, so the last episode's commit can
        # be read as Completed before the host dies: wait for the death the point promised (a
        # host that never reaches its point stays up, and the test fails on the exit code).
        try:
            killed_rc = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    return doc, Counter(log.read_text().split()), killed_rc


POINTS = ([f"episode:{k}" for k in range(1, EPISODES + 1)]
          + [f"activity:{k}" for k in range(1, len(ACTIVITIES) + 1)]
          + [f"activity-before-commit:{k}" for k in range(1, len(ACTIVITIES) + 1)])


# A few points again with the Azure Storage provider's polls (dev/devhost/durable/dispatch.py): the
# restarted host's pollers start over, and every message that was waiting is found again.
CASES = [pytest.param(point, (), id=point) for point in POINTS] + [
    pytest.param(point, ("--dispatch-latency",), id=f"{point}-polling") for point in
    ("episode:1", "episode:4", "activity:2", "activity-before-commit:3")]


@pytest.mark.parametrize("kill_at, extra", CASES)
def test_kill_9_at_a_commit_point_resumes_to_the_same_output(tmp_path, kill_at, extra):
    doc, runs, rc = _run(tmp_path, kill_at, extra)
    assert rc == -signal.SIGKILL, "the host was not killed at that point"
    assert doc["runtimeStatus"] == "Completed"
    assert doc["output"] == EXPECTED
    assert set(runs) == set(ACTIVITIES)
    # At-least-once: an activity whose result had not committed when the host died runs again,
    # once; at most the two that can be in flight (maxConcurrentActivityFunctions=2) do.
    again = {name for name, n in runs.items() if n > 1}
    assert all(n <= 2 for n in runs.values()) and len(again) <= 2, runs
    if kill_at.startswith("activity-before-commit"):
        assert again, "the activity killed before its commit did not run again"

def test_without_a_kill_every_activity_runs_once(tmp_path):
    doc, runs, rc = _run(tmp_path, None)
    assert rc is None and doc["output"] == EXPECTED
    assert runs == Counter(ACTIVITIES)
