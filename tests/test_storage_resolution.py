"""The app's storage resolver (settings.py + gateway/storage.py) and devhost's
(dev/devhost/config.py) give the same answer for every shape of AzureWebJobsStorage: the same
endpoints and identity, or both refuse, naming the same settings. They are two implementations of
the host's documented rules (the app must not import devhost, nor devhost the app), held together
here."""

from __future__ import annotations

import re
from typing import Any

import pytest
from devhost.config import StorageSettingError, resolve_connection

from domain import errors
from gateway import storage
from settings import Settings, SettingsError

KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
       "KBHBeksoGMGw==")
UAMI = "5f1c7e2a-8b3d-4c9e-a1f0-6d2b8e4c7a90"
P = "AzureWebJobsStorage"
AZURITE = {s: f"https://127.0.0.1:{port}/devstoreaccount1"
           for s, port in (("blob", 41000), ("queue", 41001), ("table", 41002))}
MI = {f"{P}__credential": "managedidentity", f"{P}__clientId": UAMI}

SHAPES: dict[str, dict[str, str]] = {
    "nothing": {},
    "emulator": {P: "UseDevelopmentStorage=true"},
    "emulator on devhost's Azurite": {P: "UseDevelopmentStorage=true",
                                      "DEVHOST_AZURITE_BLOB_PORT": "41000",
                                      "DEVHOST_AZURITE_QUEUE_PORT": "41001",
                                      "DEVHOST_AZURITE_TABLE_PORT": "41002"},
    "emulator, spelled loosely": {P: " usedevelopmentstorage = TRUE "},
    "key connection string": {P: f"DefaultEndpointsProtocol=https;AccountName=acct;"
                                 f"AccountKey={KEY};EndpointSuffix=core.windows.net"},
    "__connectionString": {f"{P}__connectionString": f"AccountName=acct;AccountKey={KEY}"},
    "account, system-assigned": {f"{P}__accountName": "acct"},
    "production (infra/app/function.bicep)": {f"{P}__accountName": "acct", **MI},
    "credential in capitals": {f"{P}__accountName": "acct",
                               f"{P}__credential": "ManagedIdentity", f"{P}__clientId": UAMI},
    "Azurite: account plus service URIs": {
        f"{P}__accountName": "devstoreaccount1", **MI,
        **{f"{P}__{s}ServiceUri": uri + "/" for s, uri in AZURITE.items()}},
    "service URIs only": {**{f"{P}__{s}ServiceUri": uri for s, uri in AZURITE.items()}, **MI},
    "one URI, the rest from the account": {
        f"{P}__accountName": "acct", f"{P}__blobServiceUri": "https://acct.privatelink.blob."
                                                               "core.windows.net", **MI},
    "a custom domain (its account cannot be told)": {
        f"{P}__accountName": "acct", f"{P}__blobServiceUri": "https://files.contoso.com", **MI},
    # refused, by both, naming the same settings
    "credential other than managedidentity": {f"{P}__accountName": "acct",
                                              f"{P}__credential": "clientsecret"},
    "clientId without credential": {f"{P}__accountName": "acct", f"{P}__clientId": UAMI},
    "clientId not a GUID": {f"{P}__accountName": "acct", f"{P}__credential": "managedidentity",
                            f"{P}__clientId": "my-identity"},
    "__serviceUri on host storage": {f"{P}__serviceUri": AZURITE["queue"], **MI},
    "account and URI disagree": {f"{P}__accountName": "acct", **MI,
                                 f"{P}__blobServiceUri": "https://other.blob.core.windows.net"},
    "account and Azurite URI disagree": {f"{P}__accountName": "acct", **MI,
                                         **{f"{P}__{s}ServiceUri": u for s, u in AZURITE.items()}},
    "plain http service URI": {**{f"{P}__{s}ServiceUri": u for s, u in AZURITE.items()},
                               f"{P}__blobServiceUri": "http://127.0.0.1:41000/devstoreaccount1",
                               **MI},
    "queue and table missing": {f"{P}__blobServiceUri": AZURITE["blob"], **MI},
    "connection string and identity": {P: "UseDevelopmentStorage=true",
                                       f"{P}__accountName": "acct"},
    "managedIdentityResourceId": {f"{P}__accountName": "acct", f"{P}__credential":
                                  "managedidentity", f"{P}__managedIdentityResourceId": "/x"},
    "not an account name": {f"{P}__accountName": "My_Account", **MI},
}
REFUSED = {name for name in SHAPES if list(SHAPES).index(name) >=
           list(SHAPES).index("credential other than managedidentity")}


def app_answer(env: dict[str, str]) -> Any:
    try:
        config = Settings.from_env(env)
    except SettingsError as exc:
        return ("refused", _named(str(exc)))
    try:
        return storage.resolve(config.storage).describe()
    except errors.StorageNotConfigured:
        return None


def host_answer(env: dict[str, str]) -> Any:
    try:
        connection = resolve_connection(P, env)
    except StorageSettingError as exc:
        return ("refused", _named(str(exc)))
    return connection.describe() if connection is not None else None


def _named(text: str) -> set[str]:
    return {name.lower() for name in re.findall(rf"{P}__\w+", text)}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_app_and_devhost_resolve_storage_alike(shape):
    env = SHAPES[shape]
    app, host = app_answer(env), host_answer(env)
    assert app == host
    assert (isinstance(app, tuple) and app[0] == "refused") == (shape in REFUSED), app


def test_the_answers_are_the_documented_ones():
    """A few answers spelled out, so the matrix cannot agree on something wrong."""
    azurite = host_answer(SHAPES["emulator on devhost's Azurite"])["connectionString"]
    assert "QueueEndpoint=http://127.0.0.1:41001/devstoreaccount1" in azurite
    assert "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1" in \
        app_answer(SHAPES["emulator"])["connectionString"]  # the SDK's own default ports
    assert app_answer(SHAPES["production (infra/app/function.bicep)"]) == {
        "blob": "https://acct.blob.core.windows.net", "queue": "https://acct.queue.core.windows."
        "net", "table": "https://acct.table.core.windows.net", "managedIdentity": UAMI}
    assert app_answer(SHAPES["Azurite: account plus service URIs"]) == {
        **AZURITE, "managedIdentity": UAMI}  # the explicit URI wins, as in the host
    assert app_answer(SHAPES["account, system-assigned"])["managedIdentity"] == \
        "system-assigned"
    assert app_answer(SHAPES["one URI, the rest from the account"])["queue"] == \
        "https://acct.queue.core.windows.net"


def test_devhost_reads_connection_settings_as_dotnet_configuration_does():
    """Case-insensitive keys, and `AzureWebJobs<name>` before `<name>` (the host's order); the
    app reads its own settings by their exact names, as Python does in Azure too."""
    env = {"OTHER__QUEUESERVICEURI": AZURITE["queue"], "other__credential": "managedidentity",
           "Other__ClientId": UAMI}
    conn = resolve_connection("Other", env)
    assert conn is not None and (conn.queue, conn.client_id) == (AZURITE["queue"], UAMI)
    assert conn.blob is None  # only the queue is needed by a queue binding
    prefixed = resolve_connection("Other", {**env,
                                            "AzureWebJobsOther": "UseDevelopmentStorage=true"})
    assert prefixed is not None and prefixed.setting == "AzureWebJobsOther"
    alias = resolve_connection("Other", {"Other__serviceUri": AZURITE["queue"]})
    assert alias is not None and alias.queue == AZURITE["queue"]  # not on AzureWebJobsStorage
