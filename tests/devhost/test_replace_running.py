"""start_new over an instance that is still running: replaced consistently (AnyState, the
extension's default), or refused (host.json overridableExistingInstanceStates NonRunningStates).

Found by the chaos suite: two POSTs of one request at the same moment both saw no run and both
started it; the second start replaced the instance while its first episode ran, that episode's
commit wrote the old execution's history into the new one, and the run waited forever.
"""

import json
import shutil
from pathlib import Path

import pytest
import requests
from devhost.config import ConfigError, HostConfig

SAMPLE = Path(__file__).parent / "apps" / "sample"


def test_an_instance_replaced_while_its_episode_runs_runs_the_replacement(devhost):
    host = devhost(SAMPLE, virtual_time=False)
    engine = host.host.engine
    original, raced = engine.orchestrate, []

    def racing(inst, past, new):
        result = original(inst, past, new)
        if inst["id"] == "raced" and not raced:  # a second start arrives mid-episode
            raced.append(engine.start_new("renamed_orchestration", "raced", "3"))
        return result

    engine.orchestrate = racing
    host.client.start_new("renamed_orchestration", "raced", 0)
    doc = host.wait_for("raced", timeout=30)
    assert raced, "the race never happened: the test proves nothing"
    assert doc["runtimeStatus"] == "Completed" and doc["output"] == "done after 3 generations"


def test_non_running_states_refuses_to_replace_a_running_instance(devhost, tmp_path):
    app = tmp_path / "app"
    shutil.copytree(SAMPLE, app)
    doc = json.loads((app / "host.json").read_text())
    doc["extensions"]["durableTask"]["overridableExistingInstanceStates"] = "NonRunningStates"
    (app / "host.json").write_text(json.dumps(doc))
    host = devhost(app, virtual_time=False)  # the 1-hour timer must not be skipped
    host.client.start_new("race", "only-one")
    host.wait_for("only-one", statuses=("Running",))
    answer = requests.post(f"{host.base_url}/durabletask/orchestrators/race/only-one", timeout=5)
    assert answer.status_code == 409
    with pytest.raises(Exception, match="already exists"):
        host.client.start_new("renamed_orchestration", "only-one", 3)
    assert host.status("only-one")["name"] == "race"
    host.client.terminate("only-one", "done with it")
    host.wait_for("only-one")
    host.client.start_new("renamed_orchestration", "only-one", 3)  # a finished one is replaced
    assert host.wait_for("only-one")["output"] == "done after 3 generations"


def test_overridable_states_setting_is_validated():
    assert HostConfig.from_dict({}).overridable_existing_instance_states == "AnyState"
    doc = {"extensions": {"durableTask": {"overridableExistingInstanceStates": "nonrunningstates"}}}
    assert HostConfig.from_dict(doc).overridable_existing_instance_states == "NonRunningStates"
    with pytest.raises(ConfigError, match="overridableExistingInstanceStates"):
        HostConfig.from_dict({"extensions": {"durableTask": {
            "overridableExistingInstanceStates": "Sometimes"}}})


def test_this_app_never_replaces_a_running_restore():
    root = Path(__file__).resolve().parents[2]
    assert HostConfig.load(root).overridable_existing_instance_states == "NonRunningStates"
