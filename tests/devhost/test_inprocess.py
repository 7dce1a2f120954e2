"""The in-process fixture: the SDK's own client, virtual time, and the Durable HTTP API's codes."""

import json
import time
from pathlib import Path

import requests

SAMPLE = Path(__file__).parent / "apps" / "sample"


def test_virtual_time_skips_a_one_hour_durable_timer(devhost):
    host = devhost(SAMPLE)
    start = host.clock.time()
    iid = host.client.start_new("race")
    # within wait_for's real-time limit (60 s): an hour passed only because the clock jumped
    assert host.wait_for(iid)["output"] == "timed out"
    assert host.clock.time() - start >= 3599.999


def test_sdk_client_raise_event_arrives_as_the_json_string_the_extension_delivers(devhost):
    host = devhost(SAMPLE, virtual_time=False)  # the 1-hour timer must not be skipped
    iid = host.client.start_new("race")
    host.wait_for(iid, statuses=("Running",))
    host.client.raise_event(iid, "go", {"by": "eve"})
    # azure-functions-durable-python #295: the SDK double-encodes, so a dict arrives as a str.
    assert host.wait_for(iid)["output"] == {"event": json.dumps({"by": "eve"})}


def test_orchestration_name_override_and_continue_as_new(devhost):
    host = devhost(SAMPLE)
    iid = host.client.start_new("renamed_orchestration", client_input=0)
    doc = host.wait_for(iid)
    assert doc["runtimeStatus"] == "Completed"
    assert doc["output"] == "done after 3 generations"
    # continue_as_new restarts the history: the last generation's history is short.
    history = host.status(iid, show_history=True)["historyEvents"]
    assert [e["EventType"] for e in history] == ["ExecutionStarted", "ExecutionCompleted"]


def test_activity_failure_fails_the_orchestration_with_the_reason(devhost):
    host = devhost(SAMPLE)
    iid = host.client.start_new("fails")
    doc = host.wait_for(iid)
    assert doc["runtimeStatus"] == "Failed"
    assert "Orchestrator function 'fails' failed" in doc["output"]
    assert "boom: x" in doc["output"]


def test_unknown_orchestrator_is_a_clear_error(devhost):
    host = devhost(SAMPLE)
    try:
        host.client.start_new("no_such_orchestrator")
    except Exception as exc:  # the SDK raises the extension's ExceptionMessage
        assert "no_such_orchestrator" in str(exc) and "doesn't exist" in str(exc)
    else:
        raise AssertionError("start_new accepted an unknown orchestrator")


def test_terminate_suspend_resume_purge_and_their_status_codes(devhost):
    host = devhost(SAMPLE, virtual_time=False)  # the 1-hour timer must not be skipped
    api = f"{host.base_url}/runtime/webhooks/durabletask/instances"
    iid = host.client.start_new("race")
    host.wait_for(iid, statuses=("Running",))
    assert requests.post(f"{api}/{iid}/suspend?reason=pause", timeout=5).status_code == 202
    host.wait_for(iid, statuses=("Suspended",))
    host.client.raise_event(iid, "go", "held while suspended")
    time.sleep(0.3)
    assert host.status(iid)["runtimeStatus"] == "Suspended"
    assert requests.post(f"{api}/{iid}/resume", timeout=5).status_code == 202
    assert host.wait_for(iid)["output"] == {"event": json.dumps("held while suspended")}  # #295
    # Finished: terminate and raiseEvent answer 410 Gone; unknown ids 404.
    assert requests.post(f"{api}/{iid}/terminate?reason=x", timeout=5).status_code == 410
    assert requests.post(f"{api}/nope/terminate", timeout=5).status_code == 404
    assert requests.get(f"{api}/nope", timeout=5).status_code == 404

    other = host.client.start_new("race")
    host.wait_for(other, statuses=("Running",))
    host.client.terminate(other, "operator said so")
    doc = host.wait_for(other)
    assert doc["runtimeStatus"] == "Terminated" and doc["output"] == "operator said so"

    assert host.client.purge_instance_history(other).instances_deleted == 1
    assert host.client.purge_instance_history(other).instances_deleted == 0
    assert host.status(other) is None


def test_list_and_query_instances(devhost):
    host = devhost(SAMPLE, virtual_time=False)  # the 1-hour timer must not be skipped
    done = host.client.start_new("renamed_orchestration", "query-done", 3)
    host.wait_for(done)
    waiting = host.client.start_new("race", "query-waiting")
    host.wait_for(waiting, statuses=("Running",))
    everything = {s.instance_id for s in host.client.get_status_all()}
    assert {"query-done", "query-waiting"} <= everything
    running = host.client.get_status_by(runtime_status=[
        __import__("azure.durable_functions", fromlist=["OrchestrationRuntimeStatus"])
        .OrchestrationRuntimeStatus.Running])
    assert [s.instance_id for s in running] == ["query-waiting"]
    page = requests.get(f"{host.base_url}/durabletask/instances/?top=1", timeout=5)
    assert len(page.json()) == 1 and page.headers["x-ms-continuation-token"]


def test_start_new_with_an_existing_id_replaces_it_like_the_default_host(devhost):
    host = devhost(SAMPLE, virtual_time=False)  # the 1-hour timer must not be skipped
    host.client.start_new("renamed_orchestration", "same-id", 3)
    host.wait_for("same-id")
    host.client.start_new("race", "same-id")
    assert host.wait_for("same-id", statuses=("Running",))["name"] == "race"
