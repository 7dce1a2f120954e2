"""The Azure Storage provider's dispatch latency (dev/devhost/durable/dispatch.py): the back-off
schedule of a queue's poller, what wakes it, and the engine running episodes when the poller
would have found their messages. The expected schedules are computed here from the source's
rules (DurableTask.AzureStorage's BackoffPollingHelper: 50 ms minimum, each empty wait
`min + factor * 2^(n-1) * min`, capped), not read back from the model."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from devhost.config import ConfigError, HostConfig
from devhost.durable.dispatch import (
    MIN_INTERVAL,
    WORK_ITEMS,
    DispatchModel,
    Poller,
    partition_of,
)
from devhost.durable.trace import Trace

pytest_plugins = ["devhost.testing"]

APP = Path(__file__).parent / "apps" / "dispatch"
ROOT = Path(__file__).resolve().parents[2]


def schedule(max_interval: float, until: float) -> list[float]:
    """Poll times after a reset at 0, the randomisation at its mean (factor 1)."""
    polls, t, empty = [0.0], 0.0, 0
    wait = MIN_INTERVAL  # a reset sets the interval to the minimum
    while t < until:
        t += wait
        polls.append(t)
        empty += 1
        wait = min(max_interval, MIN_INTERVAL + 2 ** (empty - 1) * MIN_INTERVAL) \
            if wait < max_interval else max_interval
    return polls


def first_poll(max_interval: float, after: float) -> float:
    return next(p for p in schedule(max_interval, after + max_interval) if p >= after - 1e-9)


# ---- the poller ----------------------------------------------------------------------------------
@pytest.mark.parametrize("max_interval", [10.0, 30.0])
@pytest.mark.parametrize("visible", [0.0, 0.04, 1.0, 5.0, 10.0, 20.0, 95.0, 3600.0])
def test_a_message_visible_at_t_is_found_by_the_next_poll_of_the_schedule(max_interval, visible):
    poller = Poller("control-00", max_interval, seed=None, start=100.0)
    found = poller.first_poll_at_or_after(100.0 + visible)
    assert found == pytest.approx(100.0 + first_poll(max_interval, visible))
    assert found >= 100.0 + visible


def test_an_idle_poller_backs_off_to_the_maximum_and_stays_there():
    poller = Poller("control-00", 30.0, seed=None, start=0.0)
    polls, t = [], 0.0
    for _ in range(20):
        t = poller.first_poll_at_or_after(t + 1e-6)
        polls.append(t)
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(gaps))  # only ever longer
    assert gaps[0] == pytest.approx(0.1)  # after the 50 ms wait that follows a reset
    assert gaps[-6:] == pytest.approx([30.0] * 6)
    assert max(gaps) == pytest.approx(30.0)


def test_a_reset_brings_the_quick_polls_back():
    poller = Poller("control-00", 30.0, seed=None, start=0.0)
    assert poller.first_poll_at_or_after(500.0) - 500.0 > 1.0  # backed off: a wait
    poller.reset(500.0)
    assert poller.first_poll_at_or_after(500.0) == 500.0
    assert poller.first_poll_at_or_after(500.01) == pytest.approx(500.05)
    assert poller.first_poll_at_or_after(505.0) == pytest.approx(500.0 + first_poll(30.0, 5.0))


def test_a_maximum_under_the_minimum_polls_every_50_ms():
    poller = Poller("workitems", 0.01, seed=None, start=0.0)
    assert [poller.first_poll_at_or_after(t) for t in (0.01, 0.07, 2.0)] == \
        pytest.approx([0.05, 0.1, 2.0])


def test_seeded_jitter_stays_within_the_sources_bounds_and_repeats():
    a = Poller("control-01", 30.0, seed=7, start=0.0)
    b = Poller("control-01", 30.0, seed=7, start=0.0)
    other = Poller("control-01", 30.0, seed=8, start=0.0)
    times = [a.first_poll_at_or_after(t) for t in (1.0, 5.0, 20.0, 100.0)]
    assert times == [b.first_poll_at_or_after(t) for t in (1.0, 5.0, 20.0, 100.0)]
    assert times != [other.first_poll_at_or_after(t) for t in (1.0, 5.0, 20.0, 100.0)]
    offsets = a._offsets
    for n in range(2, len(offsets)):
        wait = offsets[n] - offsets[n - 1]
        grow = 2 ** (n - 2) * MIN_INTERVAL
        low, high = MIN_INTERVAL + 0.8 * grow, MIN_INTERVAL + 1.2 * grow  # U(0.8, 1.2)
        assert min(low, 30.0) - 1e-9 <= wait <= min(high, 30.0) + 1e-9


def test_polls_are_counted_for_the_cost_estimate():
    poller = Poller("control-00", 10.0, seed=None, start=0.0)
    expected = [p for p in schedule(10.0, 100.0) if p < 100.0]
    assert poller.polls_until(100.0) == len(expected)
    poller.reset(40.0)
    assert poller.polls_until(41.0) == len([p for p in expected if p < 40.0]) + \
        len([p for p in schedule(10.0, 1.0) if p < 1.0])


# ---- partitions and the model --------------------------------------------------------------------
def test_instances_go_to_the_control_queue_of_their_fnv1a_hash():
    # FNV-1a 32-bit test vectors: "a" -> 0xe40c292c, "foobar" -> 0xbf9cf968
    assert partition_of("a", 16) == 0xE40C292C % 16
    assert partition_of("foobar", 4) == 0xBF9CF968 % 4
    model = DispatchModel(partitions=4)
    assert model.queue_of("foobar") == f"control-{0xBF9CF968 % 4:02d}"


def _two_queues(model: DispatchModel) -> tuple[str, str]:
    ids = [f"i{n}" for n in range(50)]
    first = ids[0]
    second = next(i for i in ids if model.queue_of(i) != model.queue_of(first))
    return first, second


def test_an_enqueue_by_the_host_wakes_only_its_own_queue():
    model = DispatchModel(max_interval=30.0, partitions=4)
    model.restart(0.0)
    woken, idle = _two_queues(model)
    model.posted(1, woken, 600.0)
    model.posted(2, idle, 0.0)  # earlier: that poller has backed off since
    messages = [(1, woken, 600.0), (2, idle, 600.0)]
    assert model.dispatch(messages, 600.0) == {woken}
    assert model.next_due(messages) == pytest.approx(
        model.poller(model.queue_of(idle)).first_poll_at_or_after(600.0))
    assert model.next_due(messages) > 600.0


def test_a_timer_waits_for_the_first_poll_after_it_fires():
    model = DispatchModel(max_interval=10.0, partitions=4)
    model.restart(0.0)
    model.posted(7, "x", 50.0)  # created at 50, fires at 70
    timer = [(7, "x", 70.0)]
    expected = 50.0 + first_poll(10.0, 20.0)
    assert model.dispatch(timer, 70.0) == set()
    assert model.next_due(timer) == pytest.approx(expected)
    assert model.dispatch(timer, expected) == {"x"}
    assert model.next_due(timer) is None  # dispatched: nothing else waits


def test_a_poll_that_finds_messages_resets_the_back_off():
    model = DispatchModel(max_interval=30.0, partitions=1, in_process_wake=False)
    model.restart(0.0)
    first = [(1, "x", 100.0)]
    found = model.next_due(first)
    assert found == pytest.approx(first_poll(30.0, 100.0))
    assert model.dispatch(first, found) == {"x"}
    later = [(1, "x", 100.0), (2, "y", found + 0.1)]  # found's poll already took message 1
    assert model.next_due(later) == pytest.approx(found + first_poll(30.0, 0.1))


def test_without_same_process_wakes_every_message_waits_for_a_poll():
    model = DispatchModel(max_interval=30.0, partitions=1, in_process_wake=False)
    model.restart(0.0)
    model.posted(1, "x", 600.0)
    assert model.dispatch([(1, "x", 600.0)], 600.0) == set()
    assert model.next_due([(1, "x", 600.0)]) == pytest.approx(first_poll(30.0, 600.0))


def test_a_clients_message_wakes_the_poller_only_if_the_client_shares_its_process():
    for client_wake in (False, True):
        model = DispatchModel(max_interval=30.0, partitions=1, client_wake=client_wake)
        model.restart(0.0)
        model.posted(1, "x", 600.0, client=True)  # e.g. an HTTP function's start_new
        handed = model.dispatch([(1, "x", 600.0)], 600.0)
        assert handed == ({"x"} if client_wake else set())
    assert model.next_due([]) is None


def test_work_items_have_their_own_poller():
    model = DispatchModel(max_interval=30.0, partitions=1)
    model.restart(0.0)
    model.scheduled(5, 300.0)
    assert model.dispatch_work([(5, 300.0)], 300.0) == {5}
    quiet = DispatchModel(max_interval=30.0, partitions=1, in_process_wake=False)
    quiet.restart(0.0)
    quiet.scheduled(5, 300.0)
    assert quiet.dispatch_work([(5, 300.0)], 300.0) == set()
    assert quiet.next_due([], [(5, 300.0)]) == pytest.approx(
        quiet.poller(WORK_ITEMS).first_poll_at_or_after(300.0))


def test_a_reused_message_id_waits_for_its_own_poll():
    model = DispatchModel(max_interval=30.0, partitions=1, in_process_wake=False)
    model.restart(0.0)
    due = model.next_due([(1, "x", 100.0)])
    assert model.dispatch([(1, "x", 100.0)], due) == {"x"}
    model.posted(1, "x", due + 500.0)  # SQLite handed the consumed message's id to a new one
    assert model.dispatch([(1, "x", due + 500.0)], due + 500.0) == set()


# ---- host.json -----------------------------------------------------------------------------------
def _provider(**settings: object) -> dict:
    return {"extensions": {"durableTask": {"storageProvider": settings}}}


def test_host_json_polling_settings_are_read_with_the_extensions_defaults():
    assert HostConfig.from_dict({}).max_queue_polling_interval == 30.0
    # the queue trigger's ceiling: the host's default, never a kinder local one
    assert HostConfig.from_dict({}).queue_max_polling_interval == 60.0
    assert HostConfig.load(ROOT).queue_max_polling_interval == 2.0  # this app's host.json
    assert HostConfig.from_dict({}).partition_count == 4
    config = HostConfig.from_dict(_provider(maxQueuePollingInterval="00:00:10",
                                            partitionCount=2))
    assert (config.max_queue_polling_interval, config.partition_count) == (10.0, 2)
    assert HostConfig.from_dict(_provider(maxQueuePollingInterval="1.00:00:00.5")
                                ).max_queue_polling_interval == 86400.5


@pytest.mark.parametrize("value, why", [
    ("10", "not a TimeSpan"),  # .NET would read ten DAYS
    ("00:10", "not a TimeSpan"),  # .NET would read ten minutes
    ("24:00:00", "not a TimeSpan"),  # .NET would read 24 days
    ("00:00:75", "not a TimeSpan"),
    ("soon", "not a TimeSpan"),
    (10, "must be a TimeSpan string"),
    ("00:00:00", "must be more than zero"),
])
def test_a_bad_polling_interval_is_an_error_naming_the_setting(value, why):
    with pytest.raises(ConfigError, match=why) as caught:
        HostConfig.from_dict(_provider(maxQueuePollingInterval=value))
    assert "extensions.durableTask.storageProvider.maxQueuePollingInterval" in str(caught.value)


@pytest.mark.parametrize("value", [0, 17, "4", 2.5, True])
def test_a_bad_partition_count_is_an_error_naming_the_setting(value):
    with pytest.raises(ConfigError, match=re.escape("storageProvider.partitionCount must be "
                                                    "an integer from 1 to 16")):
        HostConfig.from_dict(_provider(partitionCount=value))


def test_the_model_follows_the_configured_backend():
    model = DispatchModel.from_config(HostConfig.from_dict(_provider(
        maxQueuePollingInterval="00:00:05", partitionCount=3)))
    assert model is not None and (model.max_interval, model.partitions) == (5.0, 3)
    assert DispatchModel.from_config(HostConfig.from_dict(_provider(type="azureManaged"))) is None
    with pytest.raises(ConfigError, match=re.escape("storageProvider.type 'mssql'")):
        DispatchModel.from_config(HostConfig.from_dict(_provider(type="mssql")))


# ---- the engine under the model ------------------------------------------------------------------
def _steps(host, durations: list[int]) -> list[dict[str, float]]:
    iid = host.client.start_new("timers", client_input=durations)
    done = host.wait_for(iid)
    assert done["runtimeStatus"] == "Completed", done
    return done["output"]


def test_without_the_model_a_timer_runs_its_episode_when_it_fires(devhost):
    host = devhost(APP)
    for step in _steps(host, [5, 20]):
        assert step["fired"] - step["timerSet"] == pytest.approx(5.0, abs=1e-3) or \
            step["fired"] - step["timerSet"] == pytest.approx(20.0, abs=1e-3)
        assert step["answered"] == step["asked"]


def test_timers_are_dispatched_by_the_control_queues_next_poll(devhost):
    host = devhost(APP, dispatch=True)  # host.json: 00:00:10, 2 partitions
    assert (host.host.engine.dispatch.max_interval, host.host.engine.dispatch.partitions) == \
        (10.0, 2)
    steps = _steps(host, [5, 20, 300])
    for step, seconds in zip(steps, [5, 20, 300], strict=True):
        # The timer's creation enqueued its (invisible) message and so woke the poller: the
        # schedule starts there, and nothing else uses this app's queues meanwhile.
        assert step["fired"] - step["timerSet"] == pytest.approx(first_poll(10.0, seconds),
                                                                 abs=1e-3)
        assert step["answered"] == step["asked"]  # results the host enqueues wake the poller


def test_the_maximum_interval_decides_how_late_a_long_timer_is_seen(devhost):
    late = {}
    for max_interval in (10.0, 30.0):
        host = devhost(APP, dispatch=DispatchModel(max_interval=max_interval, partitions=2))
        (step,) = _steps(host, [20])
        late[max_interval] = step["fired"] - step["timerSet"] - 20.0
    assert late[10.0] == pytest.approx(first_poll(10.0, 20.0) - 20.0, abs=1e-3)
    assert late[30.0] == pytest.approx(first_poll(30.0, 20.0) - 20.0, abs=1e-3)
    assert late[30.0] > late[10.0] > 0


def test_a_start_from_another_instance_waits_for_the_backed_off_poll(devhost):
    """On Flex the HTTP function that starts a restore runs outside the durable group: its start
    message waits for the durable instance's poller, which has backed off while idle."""
    host = devhost(APP, dispatch=DispatchModel(max_interval=10.0, partitions=2))
    started = host.clock.time()
    host.clock.advance(600.0)  # ten quiet minutes after the host started
    (step,) = _steps(host, [5])
    assert step["asked"] - started == pytest.approx(first_poll(10.0, 600.0), abs=1e-3)
    assert step["asked"] - started > 600.0


def test_scaled_out_even_activity_results_wait_for_polls(devhost):
    host = devhost(APP, dispatch=DispatchModel(max_interval=10.0, partitions=2,
                                               in_process_wake=False))
    first, second = _steps(host, [300, 5])
    # Just after the host started its pollers still poll quickly; five minutes later they have
    # backed off, and the work item and then its result each wait for a poll.
    assert second["answered"] - second["asked"] > 2 * MIN_INTERVAL
    assert second["answered"] - second["asked"] <= 2 * 10.0
    assert first["fired"] - first["timerSet"] >= 300.0


def test_the_trace_finds_the_critical_path_and_its_dispatch_latency(devhost):
    trace = Trace()
    host = devhost(APP, dispatch=DispatchModel(max_interval=10.0, partitions=2), trace=trace)
    iid = host.client.start_new("chain", client_input=None)
    assert host.wait_for(iid)["runtimeStatus"] == "Completed"
    path = trace.critical_path(iid)
    # chain: start -> activity -> timer -> leaf starts -> leaf's activity -> leaf ends -> chain ends
    assert path["waits"] == {"activity": 2, "start": 1, "sub-orchestration finished": 1,
                             "sub-orchestration started": 1, "timer": 1}
    assert path["episodes"] == 6 and path["instances"] == 2
    assert path["dispatchSeconds"] == pytest.approx(first_poll(10.0, 5.0) - 5.0, abs=1e-3)
    assert path["activityDispatchSeconds"] == 0.0
