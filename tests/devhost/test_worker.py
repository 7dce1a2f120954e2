"""devhost runs the app through the Python worker's own code, as Azure does.

The worker (azure-functions-runtime, pinned in requirements-worker.txt) indexes the whole app in
one request and refuses it if any function fails its load checks: in Azure not one function
would run. These tests hold this app to those checks, show that devhost refuses what the worker
refuses, with the worker's words, and that invocations carry the worker's rules and text.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from devhost.discovery import load_app, start_worker
from devhost.invoker import worker_loop
from devhost.worker import IndexingError

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = Path(__file__).parent / "apps" / "sample"

DICT_ACTIVITY = """
    from typing import Any

    import azure.durable_functions as df

    app = df.DFApp()


    @app.activity_trigger(input_name="payload")
    def record(payload: dict[str, Any]) -> dict[str, Any]:
        return payload
"""


def _app(tmp_path: Path, source: str) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "function_app.py").write_text(textwrap.dedent(source))
    (app / "host.json").write_text('{"version": "2.0"}')
    return app


def test_the_worker_pin_is_the_one_the_makefile_installs():
    """requirements-worker.txt pins the worker; a different one installed would test another."""
    pinned = (ROOT / "requirements-worker.txt").read_text()
    version = importlib.metadata.version("azure-functions-runtime")
    assert f"azure-functions-runtime=={version} " in pinned


def test_the_worker_indexes_and_loads_every_function_of_this_app():
    """The load checks Azure runs at start-up, over function_app.py: any refusal fails here with
    the worker's own message (IndexingError)."""
    worker, registry = start_worker(ROOT, worker_loop())
    try:
        indexed = set(registry.functions)
    finally:
        worker.stop()
    declared = {f.get_function_name() for f in load_app(ROOT).get_functions()}
    assert indexed == declared
    assert len(indexed) > 40  # every trigger kind of the app is in there


def test_a_pep585_binding_annotation_is_refused_in_the_workers_words(tmp_path):
    with pytest.raises(IndexingError) as refused:
        start_worker(_app(tmp_path, DICT_ACTIVITY), worker_loop())
    assert str(refused.value) == (
        "Worker failed to index functions: FunctionLoadError: cannot load the record function: "
        "binding payload has invalid non-type annotation dict[str, typing.Any]")


def test_a_parameter_no_binding_declares_is_refused(tmp_path):
    app = _app(tmp_path, """
        import azure.functions as func

        app = func.FunctionApp()


        @app.route(route="hello")
        def hello(req: func.HttpRequest, extra: str) -> func.HttpResponse:
            return func.HttpResponse("hi")
    """)
    with pytest.raises(IndexingError, match="the following parameters are declared in Python "
                                            "but not in the function definition"):
        start_worker(app, worker_loop())


def test_devhost_start_stops_with_the_workers_message(tmp_path):
    """`python -m devhost start` on an app the worker refuses ends at once, saying why, as the
    Functions host's "Worker failed to index functions" would."""
    app = _app(tmp_path, DICT_ACTIVITY)
    done = subprocess.run(
        [sys.executable, "-m", "devhost", "start", "--app-dir", str(app), "--port", "0",
         "--state-dir", str(tmp_path / "state")],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert ("devhost: cannot start: Worker failed to index functions: FunctionLoadError: cannot "
            "load the record function: binding payload has invalid non-type annotation "
            "dict[str, typing.Any]") in done.stderr
    assert "Host started" not in done.stdout


def test_an_activity_failure_reaches_the_orchestrator_as_the_extension_words_it(devhost):
    """The host wraps the worker's RpcException ("Result: Failure\\nException: ...\\nStack:");
    the extension reports the text between the labels, leading space included."""
    host = devhost(SAMPLE)
    iid = host.client.start_new("fails")
    doc = host.wait_for(iid)
    assert doc["runtimeStatus"] == "Failed"
    assert "Activity function 'boom' failed:  ValueError: boom: x" in doc["output"]


def test_a_value_returned_without_a_return_binding_fails_the_invocation(devhost, tmp_path):
    """The worker's rule: a function with no $return binding must return None."""
    app = _app(tmp_path, """
        import azure.functions as func

        app = func.FunctionApp()


        @app.route(route="ok")
        def ok(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("fine")


        @app.event_grid_trigger(arg_name="event")
        def on_event(event: func.EventGridEvent) -> None:
            return "a value nobody binds"  # type: ignore[return-value]
    """)
    host = devhost(app)
    from devhost.triggers import eventgrid
    status, _, body = eventgrid.handle(
        host.host.registry, host.host.invoker, "POST", {"functionName": "on_event"},
        {"aeg-event-type": "Notification", "Content-Type": "application/json"},
        b'[{"id": "e1", "topic": "t", "subject": "s", "eventType": "x", "eventTime": '
        b'"2026-12-07T10:00:00Z", "data": {}, "dataVersion": "1"}]')
    assert status == 500
    assert "without a $return binding" in body.decode()
