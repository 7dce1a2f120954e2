"""Start and stop a real Azurite (the npm package) for devhost and its tests.

Azurite listens on ports the OS picks (port 0) and prints the ports it got, so two hosts or two
test sessions on one machine never race for a port. The process runs in its own session and is
killed with its whole group by `stop()`, by a finalizer and at interpreter exit, so it is never
left behind.

Two modes:
* plain HTTP with the well-known account key (the default): what `UseDevelopmentStorage=true`
  and key-based connection strings reach;
* `oauth=True`: HTTPS with a throw-away certificate (devtls) and Azurite's `--oauth basic`, so
  clients connect as production does, by identity (bearer tokens from devhost's managed identity
  endpoint, dev/devhost/identity.py) to service URIs, verifying the certificate against
  `ca_bundle`. What basic mode checks in a token is in docs/devhost.md ("Storage"). Shared keys
  still work in this mode (tests read what the app wrote with them); the app is never given one.
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
from typing import IO, TYPE_CHECKING, NamedTuple

from .config import AZURITE_ACCOUNT, azurite_connection_string

if TYPE_CHECKING:
    from devtls import TlsFiles

REPO_ROOT = Path(__file__).resolve().parents[2]
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
    `UseDevelopmentStorage=true` resolve to this instance (see devhost.config); with
    `oauth=True`, `identity_settings()` gives the identity-based settings that reach it and
    `trust_env()` the REQUESTS_CA_BUNDLE that trusts its certificate.
    """

    def __init__(self, binary: str | Path | None = None, *, host: str = "127.0.0.1",
                 ports: AzuritePorts | None = None, start_timeout: float = 30.0,
                 oauth: bool = False) -> None:
        self.binary = Path(binary) if binary is not None else None
        self.host = host
        self.oauth = oauth
        self.ca_bundle: str | None = None  # with oauth: the CA that signed Azurite's certificate
        self._trust: str | None = None
        self._tls: TlsFiles | None = None
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
        if self.oauth:
            self._make_certificate()
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
        self.ca_bundle = self._trust = None

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
    def scheme(self) -> str:
        return "https" if self.oauth else "http"

    @property
    def connection_string(self) -> str:
        """The account key connection string (for tests reading what the app wrote; an HTTPS
        instance's clients also need `connection_verify=ca_bundle`)."""
        blob, queue, table = self.ports
        return azurite_connection_string(self.host, blob, queue, table, scheme=self.scheme)

    def service_uris(self) -> dict[str, str]:
        """{"blob"|"queue"|"table": the service URI} (path-style: the account is the path)."""
        return {service: f"{self.scheme}://{self.host}:{port}/{AZURITE_ACCOUNT}"
                for service, port in zip(("blob", "queue", "table"), self.ports, strict=True)}

    def env(self) -> dict[str, str]:
        """DEVHOST_AZURITE_*_PORT: where `UseDevelopmentStorage=true` leads (devhost.config).

        Only for the HTTP instance: the SDKs resolve UseDevelopmentStorage=true to http://, which
        an HTTPS instance does not serve."""
        if self.oauth:
            raise AzuriteError("UseDevelopmentStorage=true means http://, and this Azurite "
                               "serves HTTPS (oauth=True): connect with identity_settings()")
        blob, queue, table = self.ports
        return {"DEVHOST_AZURITE_BLOB_PORT": str(blob), "DEVHOST_AZURITE_QUEUE_PORT": str(queue),
                "DEVHOST_AZURITE_TABLE_PORT": str(table)}

    def identity_settings(self, client_id: str, prefix: str = "AzureWebJobsStorage"
                          ) -> dict[str, str]:
        """The production shape of an identity-based connection (infra/app/function.bicep:
        accountName, credential, clientId), plus the service URIs Azurite needs, since
        `accountName` alone means https://<account>.<service>.core.windows.net. No connection
        string, no key."""
        if not self.oauth:
            raise AzuriteError("identity-based connections need HTTPS and OAuth: "
                               "Azurite(oauth=True)")
        uris = self.service_uris()
        return {f"{prefix}__accountName": AZURITE_ACCOUNT,
                f"{prefix}__blobServiceUri": uris["blob"],
                f"{prefix}__queueServiceUri": uris["queue"],
                f"{prefix}__tableServiceUri": uris["table"],
                f"{prefix}__credential": "managedidentity", f"{prefix}__clientId": client_id}

    def trust_env(self) -> dict[str, str]:
        """REQUESTS_CA_BUNDLE naming a bundle of the public CAs plus this Azurite's CA: azure-core's
        requests transport verifies against it (requests reads it when no bundle is passed), so
        storage clients built exactly as in production trust this Azurite, and TLS verification
        stays on. ARM clients keep their own ARM_CA_BUNDLE (azsim), passed explicitly."""
        if self._trust is None:
            raise AzuriteError("only an Azurite(oauth=True) that has started has a certificate")
        return {"REQUESTS_CA_BUNDLE": self._trust}

    # ------------------------------------------------------------------ internals
    def _make_certificate(self) -> None:
        from devtls import create, trust_bundle

        assert self._workdir is not None
        tls_dir = Path(self._workdir) / "tls"
        tls_dir.mkdir()
        files = create(tls_dir, ca_name="devhost Azurite local CA")
        self._tls = files
        self.ca_bundle = str(files.ca_bundle)
        self._trust = str(trust_bundle(tls_dir / "trust.pem", files.ca_bundle))

    def _command(self, binary: Path) -> list[str]:
        blob, queue, table = self._requested
        assert self._workdir is not None
        command = [str(binary), "--location", self._workdir,
                   "--blobHost", self.host, "--blobPort", str(blob),
                   "--queueHost", self.host, "--queuePort", str(queue),
                   "--tableHost", self.host, "--tablePort", str(table),
                   "--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry"]
        if self._tls is not None:  # Azurite accepts bearer tokens only over HTTPS
            command += ["--cert", str(self._tls.cert), "--key", str(self._tls.key),
                        "--oauth", "basic"]
        return command

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
