"""The SQLite store: one owner per state file, and the history kept as the next episode sends it."""

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from devhost.durable.protocol import EventType, context_json, event, played_json
from devhost.durable.store import StateInUseError, Store

SAMPLE = Path(__file__).parent / "apps" / "sample"
ROOT = Path(__file__).parents[2]


def _open_in_another_process(path: Path) -> subprocess.CompletedProcess:
    code = textwrap.dedent(f"""
        from devhost.durable.store import StateInUseError, Store
        try:
            Store({str(path)!r})
        except StateInUseError as exc:
            print("IN USE:", exc)
        else:
            print("OPENED")
    """)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=True)


def test_a_second_process_on_the_same_state_is_refused_with_a_clear_error(tmp_path):
    path = tmp_path / "hub.sqlite"
    store = Store(path)
    try:
        out = _open_in_another_process(path).stdout
        assert out.startswith("IN USE:"), out
        assert str(path) in out and "--state-dir" in out
    finally:
        store.close()
    assert _open_in_another_process(path).stdout.strip() == "OPENED"  # released by close()


def test_a_second_store_in_the_same_process_is_refused_too(tmp_path):
    store = Store(tmp_path / "hub.sqlite")
    try:
        with pytest.raises(StateInUseError, match="in use by another process"):
            Store(tmp_path / "hub.sqlite")
    finally:
        store.close()


def test_a_closed_store_reopens_on_next_use_and_keeps_its_data(tmp_path):
    store = Store(tmp_path / "hub.sqlite")
    with store.tx() as db:
        Store.append_history(db, "i1", 0, played_json([event(EventType.ORCHESTRATOR_STARTED,
                                                             "2026-11-24T00:00:00.0000000Z")]))
    store.close()
    assert [e["EventType"] for e in store.history("i1")] == [EventType.ORCHESTRATOR_STARTED]
    store.close()


def test_context_json_splices_played_text_exactly_as_it_would_serialise_the_whole_history():
    stamp = "2026-11-24T10:00:00.0000000Z"
    past = [event(EventType.ORCHESTRATOR_STARTED, stamp),
            event(EventType.EXECUTION_STARTED, stamp, Name="o", Input='"x"'),
            event(EventType.TASK_SCHEDULED, stamp, 0, Name="a", Input=None),
            event(EventType.ORCHESTRATOR_COMPLETED, stamp)]
    new = [event(EventType.ORCHESTRATOR_STARTED, stamp),
           event(EventType.TASK_COMPLETED, stamp, TaskScheduledId=0, Result='"ü"')]
    kwargs = {"input_": '"x"', "instance_id": "i", "parent_instance_id": None,
              "is_replaying": True}
    spliced = json.loads(context_json(history=new, played=played_json(past), **kwargs))
    whole = json.loads(context_json(history=[dict(e, IsPlayed=True) for e in past] + new,
                                    **kwargs))
    assert spliced == whole
    assert [e["IsPlayed"] for e in spliced["history"]] == [True] * 4 + [False] * 2
    assert json.loads(context_json(history=new, **kwargs))["history"] == new  # nothing played
    assert json.loads(context_json(history=[], played=played_json(past), **kwargs))[
        "history"] == [dict(e, IsPlayed=True) for e in past]


def test_the_cached_history_matches_what_a_restarted_host_reads_back(devhost):
    """The dispatcher keeps running instances' histories (and their JSON) in memory; a host
    that restarts reads the store instead. Both must be the same history."""
    host = devhost(SAMPLE, virtual_time=False)
    iid = host.client.start_new("race")  # waits on an hour-long timer and an event
    host.wait_for(iid, statuses=("Running",))
    engine, deadline = host.host.engine, time.monotonic() + 10
    while iid not in engine._histories and time.monotonic() < deadline:  # set just after commit
        time.sleep(0.01)
    cached = engine._histories[iid]
    assert json.loads(f"[{cached.json}]") == [dict(e, IsPlayed=True) for e in cached.events]
    assert host.host.store.history(iid) == json.loads(f"[{cached.json}]")
    assert host.host.store.played_history(iid) == cached.json
    assert [e["EventType"] for e in cached.events][:2] == [EventType.ORCHESTRATOR_STARTED,
                                                           EventType.EXECUTION_STARTED]
    host.client.terminate(iid, "done")
    host.wait_for(iid)
