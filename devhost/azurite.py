"""Start and stop a real Azurite (the npm package) for devhost and its tests.

Azurite listens on ports the OS picks (port 0) and prints the ports it got, so two hosts or two
test sessions on one machine never race for a port. The process runs in its own session and is
killed with its whole group by `stop()`, by a finalizer and at interpreter exit, so it is never
left behind.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import IO, NamedTuple

from .config import azurite_connection_string

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BINARY = REPO_ROOT / ".tools" / "node_modules" / ".bin" / "azurite"

# "Azurite Queue service is successfully listening at http://127.0.0.1:40123"
_LISTENING = re.compile(r"Azurite (Blob|Queue|Table) service is successfully listening at "
                        r"https?://[^\s:]+:(\d+)")


class AzuriteError(RuntimeError):
    """Azurite is missing, would not start, or stopped answering."""


class AzuritePorts(NamedTuple):
    blob: int
    queue: int
    table: int


def azurite_binary(env: Mapping[str, str] | None = None) -> Path:
    """AZURITE_BIN, else the copy `make azurite` installs under .tools/; error if neither exists."""
    env = os.environ if env is None else env
    path = Path(env["AZURITE_BIN"]) if env.get("AZURITE_BIN") else DEFAULT_BINARY
    if not path.is_file():
        source = "AZURITE_BIN" if env.get("AZURITE_BIN") else "the default location"
        raise AzuriteError(f"Azurite not found at {path} ({source}). Run `make azurite` in "
                           f"{REPO_ROOT} to install it, or set AZURITE_BIN to an azurite binary.")
    return path


class Azurite:
    """One Azurite process on loopback ports with its own temporary workspace.

    Use as a context manager, or call `start()` / `stop()`. `ports` and `connection_string` are
    valid once started; `env()` gives the DEVHOST_AZURITE_*_PORT variables that make
    `UseDevelopmentStorage=true` resolve to this instance (see devhost.config).
    """

    def __init__(self, binary: str | Path | None = None, *, host: str = "127.0.0.1",
                 ports: AzuritePorts | None = None, start_timeout: float = 30.0) -> None:
        self.binary = Path(binary) if binary is not None else None
        self.host = host
        self._requested = ports or AzuritePorts(0, 0, 0)
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[str] | None = None
        self._workdir: str | None = None
        self._found: dict[str, int] = {}
        self._found_event = threading.Event()
        self._stdout_tail: collections.deque[str] = collections.deque(maxlen=20)
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self._readers: list[threading.Thread] = []
        self._finalizer: weakref.finalize | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Azurite:
        if self._proc is not None:
            return self
        binary = self.binary or azurite_binary()
        self._workdir = tempfile.mkdtemp(prefix="devhost-azurite-")
        try:
            self._proc = subprocess.Popen(
                self._command(binary), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
        except OSError as exc:
            shutil.rmtree(self._workdir, ignore_errors=True)
            raise AzuriteError(f"could not run Azurite ({binary}): {exc}") from exc
        # Registered before waiting, so even a failed start cleans up.
        self._finalizer = weakref.finalize(self, _reap, self._proc, self._workdir)
        self._read(self._proc.stdout, self._stdout_tail, parse=True)
        self._read(self._proc.stderr, self._stderr_tail, parse=False)
        try:
            self._wait_ready(binary)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate Azurite (SIGTERM to its process group), then kill it; remove its workspace."""
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._proc is not None:
            _reap(self._proc, self._workdir, timeout)
            for t in self._readers:  # the pipes reach EOF once the process group is gone
                t.join(timeout=1.0)
            for stream in (self._proc.stdout, self._proc.stderr):
                if stream is not None:
                    stream.close()
        self._proc, self._workdir, self._readers = None, None, []

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ what callers use
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def ports(self) -> AzuritePorts:
        if len(self._found) < 3:
            raise AzuriteError("Azurite is not running (call start() first)")
        return AzuritePorts(self._found["Blob"], self._found["Queue"], self._found["Table"])

    @property
    def connection_string(self) -> str:
        blob, queue, table = self.ports
        return azurite_connection_string(self.host, blob, queue, table)

    def env(self) -> dict[str, str]:
        blob, queue, table = self.ports
        return {"DEVHOST_AZURITE_BLOB_PORT": str(blob), "DEVHOST_AZURITE_QUEUE_PORT": str(queue),
                "DEVHOST_AZURITE_TABLE_PORT": str(table)}

    # ------------------------------------------------------------------ internals
    def _command(self, binary: Path) -> list[str]:
        blob, queue, table = self._requested
        assert self._workdir is not None
        return [str(binary), "--location", self._workdir,
                "--blobHost", self.host, "--blobPort", str(blob),
                "--queueHost", self.host, "--queuePort", str(queue),
                "--tableHost", self.host, "--tablePort", str(table),
                "--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry"]

    def _read(self, stream: IO[str] | None, tail: collections.deque[str], parse: bool) -> None:
        """Drain a pipe on a daemon thread (a full pipe would block Azurite), keeping its tail."""
        def pump() -> None:
            assert stream is not None
            for line in stream:
                tail.append(line.rstrip())
                match = _LISTENING.search(line) if parse else None
                if match:
                    self._found[match.group(1)] = int(match.group(2))
                    if len(self._found) == 3:
                        self._found_event.set()
            self._found_event.set()  # EOF: the process ended; wake the waiter to report it
        t = threading.Thread(target=pump, daemon=True, name="azurite-output")
        t.start()
        self._readers.append(t)

    def _wait_ready(self, binary: Path) -> None:
        # Real time on purpose: Azurite is a real process, whatever clock the host uses.
        deadline = time.monotonic() + self.start_timeout
        self._found_event.wait(self.start_timeout)
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise self._failure(binary, f"exited with code {self._proc.returncode}")
            if len(self._found) == 3 and _accepts(self.host, self._found["Queue"]):
                return
            time.sleep(0.05)
        # Stopped before the failure is written: both pipes then drain to their end, so the
        # message holds everything it said (its readers may still lag behind a live process).
        assert self._proc is not None
        _reap(self._proc, None)
        raise self._failure(binary, f"did not accept connections within {self.start_timeout:g} s")

    def _failure(self, binary: Path, what: str) -> AzuriteError:
        if self._proc is not None and self._proc.poll() is not None:
            for t in self._readers:  # let both pipes drain, so the tail is complete
                t.join(timeout=1.0)
        stderr = "\n".join(self._stderr_tail) or "(empty)"
        stdout = "\n".join(self._stdout_tail) or "(empty)"
        return AzuriteError(f"Azurite ({binary}) {what}.\n--- stderr (tail) ---\n{stderr}\n"
                            f"--- stdout (tail) ---\n{stdout}")


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _reap(proc: subprocess.Popen[str], workdir: str | None, timeout: float = 5.0) -> None:
    """Stop the whole process group: SIGTERM, wait, then SIGKILL. Safe to call twice."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=timeout)
    if workdir:
        shutil.rmtree(workdir, ignore_errors=True)


def _signal_group(proc: subprocess.Popen[str], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # start_new_session made Azurite the leader of its own group
    except ProcessLookupError:
        pass
    except PermissionError:
        proc.send_signal(sig)
