"""The Python worker, driven in process the way the Functions host drives it over gRPC.

Azure runs a v2 Python app in a worker process that the host talks to with FunctionRpc messages:
WorkerInitRequest (the worker imports `function_app.py` and indexes it: `app.get_functions()` plus
its own load checks on every function), FunctionsMetadataRequest (the functions and their raw
bindings), one FunctionLoadRequest per function, then an InvocationRequest per call, whose inputs
are TypedData and whose answer carries the return value, the output bindings and, on failure, the
worker's RpcException text. The worker's logic ships on PyPI as `azure-functions-runtime`
(requirements-worker.txt); devhost sends it exactly those messages, so what the worker refuses
(a PEP 585 `dict[str, Any]` binding annotation, a parameter with no binding, ...) devhost refuses,
and binding conversion, return-value rules and exception text are the worker's own.

The library keeps its function registry in module globals (one worker process, one app), so
each Worker imports a private copy of it: two hosts in one test process are two worker processes.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

try:
    import azure_functions_runtime
    import functionrpc_protos as protos
except ImportError as exc:  # pragma: no cover - what a venv not made by `make` says
    raise ImportError(
        f"devhost needs the Python worker's code ({exc.name}): run `make venv`, which installs "
        "requirements-worker.txt and the RPC messages (python -m tools.worker_protos)") from exc

# What the host says of itself in WorkerInitRequest (Functions host 4.x).
HOST_VERSION = "4.1040.0"
_copies = itertools.count(1)
_copies_lock = threading.Lock()


class WorkerError(RuntimeError):
    """The worker answered a host request with a failure."""


class IndexingError(WorkerError):
    """The worker refused the app while indexing it: in Azure no function of the app would run."""


class FunctionFailed(Exception):
    """An invocation failed in the worker; `message` is the worker's RpcException message
    ("Type: text", what the host logs and the Durable extension reports) and `stack_trace` its
    trace."""

    def __init__(self, message: str, stack_trace: str = "") -> None:
        super().__init__(message)
        self.message, self.stack_trace = message, stack_trace


@dataclass(frozen=True)
class _Message:
    """What the worker's handlers receive: the StreamingMessage and the channel's properties."""

    request: Any
    properties: dict[str, Any]


def _private_runtime() -> ModuleType:
    """A fresh import of azure_functions_runtime under a name of its own (its globals are the
    worker's per-process state). Its submodules import each other relatively, so they follow."""
    spec = importlib.util.find_spec(azure_functions_runtime.__name__)
    assert spec is not None and spec.origin and spec.submodule_search_locations is not None
    with _copies_lock:
        alias = f"_devhost_worker_{next(_copies)}"
    copy = importlib.util.spec_from_file_location(
        alias, spec.origin, submodule_search_locations=list(spec.submodule_search_locations))
    assert copy is not None and copy.loader is not None
    module = importlib.util.module_from_spec(copy)
    sys.modules[alias] = module
    copy.loader.exec_module(module)
    return module


class Worker:
    """One worker for one host and one app directory. `start()` indexes and loads the app (raises
    IndexingError with the worker's message if it refuses it); `invoke()` runs one function."""

    def __init__(self, app_dir: str | Path, loop: asyncio.AbstractEventLoop) -> None:
        self.app_dir = str(Path(app_dir).resolve())
        self.loop = loop
        self.rt = _private_runtime()
        self.functions: list[Any] = []  # RpcFunctionMetadata, as FunctionsMetadataResponse had it

    # ---- the host's requests ---------------------------------------------------------------------
    def start(self) -> list[Any]:
        self.rt.start_threadpool_executor()
        init = self._send(worker_init_request=protos.WorkerInitRequest(
            host_version=HOST_VERSION, function_app_directory=self.app_dir,
            worker_directory=str(Path(azure_functions_runtime.__file__).parent)))
        if init.result.status != protos.StatusResult.Success:
            # The host's own words, then the worker's exception (what Azure's log stream shows).
            raise IndexingError("Worker failed to index functions: "
                                f"{init.result.exception.message}")
        answer = self._send(functions_metadata_request=protos.FunctionsMetadataRequest(
            function_app_directory=self.app_dir))
        if answer.result.status != protos.StatusResult.Success:
            raise IndexingError(f"Worker failed to index functions: "
                                f"{answer.result.exception.message}")
        if not answer.function_metadata_results:
            raise IndexingError(f"Worker found no functions in {self.app_dir}: a v2 app needs "
                                "function_app.py with one FunctionApp (or DFApp) at top level")
        for meta in answer.function_metadata_results:
            loaded = self._send(function_load_request=protos.FunctionLoadRequest(
                function_id=meta.function_id, metadata=meta))
            if loaded.result.status != protos.StatusResult.Success:
                raise WorkerError(f"Worker failed to load function {meta.name}: "
                                  f"{loaded.result.exception.message}")
        self.functions = list(answer.function_metadata_results)
        return self.functions

    def invoke(self, function_id: str, invocation_id: str, inputs: dict[str, Any],
               trigger_metadata: dict[str, Any]) -> Any:
        """One InvocationRequest (inputs and metadata as TypedData); the InvocationResponse.
        Raises FunctionFailed with the worker's exception text when the invocation failed."""
        answer = self._send(invocation_request=protos.InvocationRequest(
            invocation_id=invocation_id, function_id=function_id,
            input_data=[protos.ParameterBinding(name=name, data=data)
                        for name, data in inputs.items()],
            trigger_metadata=trigger_metadata))
        if answer.result.status != protos.StatusResult.Success:
            raise FunctionFailed(answer.result.exception.message,
                                 answer.result.exception.stack_trace)
        return answer

    def user_function(self, function_id: str) -> Any:
        """The Python callable the worker registered (the fidelity oracle replays orchestrators)."""
        info = self.rt.handle_event._functions.get_function(function_id)
        if info is None:
            raise LookupError(f"the worker has no function {function_id}")
        return info.func

    def stop(self) -> None:
        # A host that stops does not wait for the worker's running functions (the process ends).
        executor = self.rt.get_threadpool_executor()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        for name in [n for n in sys.modules if n == self.rt.__name__
                     or n.startswith(self.rt.__name__ + ".")]:
            del sys.modules[name]

    # ---- the channel -----------------------------------------------------------------------------
    def _send(self, **message: Any) -> Any:
        (field, _), = message.items()
        handler = getattr(self.rt, field)
        request = _Message(protos.StreamingMessage(**message),
                           {"host": "127.0.0.1", "protos": protos})
        if _on_loop(self.loop):
            raise RuntimeError("devhost called the worker from its own event loop")
        return asyncio.run_coroutine_threadsafe(handler(request), self.loop).result()


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def binding_specs(meta: Any) -> list[dict[str, Any]]:
    """A function's bindings as the host reads them: the raw binding JSON the worker sent."""
    return [json.loads(raw) for raw in meta.raw_bindings]
