"""devhost.azurite: a clear error without the binary, stderr on a failed start, no leftovers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from azure.storage.queue import QueueServiceClient
from devhost.azurite import Azurite, AzuriteError, azurite_binary


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "fake-azurite"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def test_missing_binary_says_to_run_make_azurite(tmp_path: Path) -> None:
    with pytest.raises(AzuriteError, match=r"not found at .*nowhere.*Run `make azurite`"):
        azurite_binary({"AZURITE_BIN": str(tmp_path / "nowhere")})


def test_failed_start_reports_binary_and_stderr(tmp_path: Path) -> None:
    fake = script(tmp_path, 'echo "error: unknown option --loose" >&2; exit 3')
    with pytest.raises(AzuriteError) as info:
        Azurite(fake).start()
    assert str(fake) in str(info.value)
    assert "exited with code 3" in str(info.value)
    assert "error: unknown option --loose" in str(info.value)


def test_start_timeout_kills_the_process(tmp_path: Path) -> None:
    fake = script(tmp_path, 'echo $$ > "$0.pid"; echo "starting" >&2; exec sleep 30')
    # 2 s: the script must have run its first lines by then, even on a loaded machine
    expected = r"did not accept connections within 2 s[\s\S]*starting"
    with pytest.raises(AzuriteError, match=expected):
        Azurite(fake, start_timeout=2).start()
    pid = int(Path(f"{fake}.pid").read_text())
    assert _gone(pid)  # killed and reaped before start() raised


@pytest.mark.azurite
def test_real_azurite_serves_queues_and_stops_cleanly() -> None:
    with Azurite() as az:
        assert az.running
        pid = az._proc.pid  # type: ignore[union-attr]
        service = QueueServiceClient.from_connection_string(az.connection_string)
        service.create_queue("probe")
        assert [q.name for q in service.list_queues()] == ["probe"]
        assert az.env()["DEVHOST_AZURITE_QUEUE_PORT"] == str(az.ports.queue)
    assert not az.running
    assert _gone(pid)


@pytest.mark.azurite
def test_oauth_azurite_serves_https_with_its_own_ca_and_says_how_to_connect() -> None:
    with Azurite(oauth=True) as az:
        assert az.scheme == "https" and Path(az.ca_bundle or "").is_file()
        assert all(uri.startswith("https://127.0.0.1:") and uri.endswith("/devstoreaccount1")
                   for uri in az.service_uris().values())
        settings = az.identity_settings("11111111-2222-4333-8444-555555555555")
        assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
        assert not any("AccountKey" in value for value in settings.values())
        bundle = Path(az.trust_env()["REQUESTS_CA_BUNDLE"]).read_text()
        assert Path(az.ca_bundle).read_text().strip() in bundle  # Azurite's CA...
        assert bundle.count("BEGIN CERTIFICATE") > 50  # ...and the public ones, still trusted
        with pytest.raises(AzuriteError, match="UseDevelopmentStorage=true means http://"):
            az.env()
        service = QueueServiceClient.from_connection_string(az.connection_string,
                                                            connection_verify=az.ca_bundle)
        service.create_queue("probe")  # the key still works over HTTPS (tests read with it)
    with Azurite() as plain, pytest.raises(AzuriteError, match="need HTTPS and OAuth"):
        plain.identity_settings("11111111-2222-4333-8444-555555555555")
