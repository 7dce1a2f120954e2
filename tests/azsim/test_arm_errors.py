"""Requests ARM itself refuses: unknown paths, bad api-versions, unreadable bodies, missing or
invalid tokens. Each gets an ARM error envelope with the right status, never a stack trace."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from azsim.sdk import FakeTokenCredential, mgmt_clients
from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError

if TYPE_CHECKING:
    from conftest import Demo

DISKS = "api-version=2026-03-02"


def _rg(demo: Demo) -> str:
    return demo.rg_id(demo.app_rg)


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("GET", "/nothing/here?api-version=2022-04-01", 404, "NotFound"),
    ("GET", "{rg}/providers/Microsoft.Foo/bars/x?api-version=2022-04-01", 404,
     "InvalidResourceNamespace"),
    ("GET", "{rg}/providers/Microsoft.Compute/gadgets/x?" + DISKS, 404, "InvalidResourceType"),
    ("PATCH", "{rg}/providers/Microsoft.DataProtection/backupVaults/bv-demo?api-version=2026-06-01",
     405, "MethodNotAllowed"),
    ("GET", "{rg}/providers/Microsoft.Compute/disks/vm-app01-data0", 400,
     "MissingApiVersionParameter"),
    ("GET", "{rg}/providers/Microsoft.Compute/disks/vm-app01-data0?api-version=latest", 400,
     "InvalidApiVersionParameter"),
    ("GET", "{rg}/providers/Microsoft.Compute/disks/vm-app01-data0?api-version=2099-01-01", 400,
     "NoRegisteredProviderFound"),
    ("GET", "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/x?"
     "api-version=2025-04-01", 404, "SubscriptionNotFound"),
    ("GET", "/subscriptions/{sub}/resourceGroups/nope/providers/Microsoft.Compute/disks/d?" + DISKS,
     404, "ResourceGroupNotFound"),
    ("GET", "{rg}/providers/Microsoft.Compute/disks/none?" + DISKS, 404, "ResourceNotFound"),
])
def test_unknown_paths_and_bad_api_versions(demo: Demo, method: str, path: str, status: int,
                                            code: str) -> None:
    got, _, body = demo.raw(method, path.format(rg=_rg(demo), sub=demo.sub))
    assert (got, body["error"]["code"]) == (status, code)
    assert isinstance(body["error"]["message"], str)


@pytest.mark.parametrize(("raw_body", "fragment"), [
    (b"", "empty"),
    (b"{not json", "Expecting property name"),
    (b"[1, 2]", "JSON object"),
    (b'"\xff\xfe"', "invalid"),
    (b"[" * 100_000 + b"]" * 100_000, "recursion"),
])
def test_malformed_bodies(demo: Demo, raw_body: bytes, fragment: str) -> None:
    path = f"{demo.disk_id(demo.target_rg, 'new')}?{DISKS}"
    status, _, body = demo.raw("PUT", path, raw_body=raw_body)
    assert (status, body["error"]["code"]) == (400, "InvalidRequestContent")
    assert fragment in body["error"]["message"]


@pytest.mark.parametrize(("body", "code"), [
    ({"properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 8}},
     "LocationRequired"),
    ({"location": "westeurope", "properties": {"creationData": {"createOption": "Empty"}}},
     "InvalidParameter"),
    ({"location": "westeurope", "properties": {"creationData": "Empty"}}, "InvalidParameter"),
    ({"location": "westeurope", "sku": {"name": "Gold"},
      "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 8}},
     "InvalidParameter"),
])
def test_invalid_disk_bodies(demo: Demo, body: dict[str, object], code: str) -> None:
    status, _, answer = demo.raw("PUT", f"{demo.disk_id(demo.target_rg, 'new')}?{DISKS}", body)
    assert (status, answer["error"]["code"]) == (400, code)


@pytest.mark.parametrize(("token", "code"), [
    (None, "AuthenticationFailed"),
    ("not-a-jwt", "InvalidAuthenticationToken"),
    ("e30.e30.", "InvalidAuthenticationToken"),  # {} claims: no oid
])
def test_missing_or_invalid_tokens(demo: Demo, token: str | None, code: str) -> None:
    path = f"{demo.disk_id(demo.app_rg, 'vm-app01-data0')}?{DISKS}"
    status, _, body = demo.raw("GET", path, token=token, anonymous=token is None)
    assert (status, body["error"]["code"]) == (401, code)


def test_sdk_maps_the_envelopes_to_its_exceptions(demo: Demo) -> None:
    with pytest.raises(ResourceNotFoundError) as missing:
        demo.c.compute.disks.get(demo.app_rg, "none")
    assert missing.value.error.code == "ResourceNotFound"
    with pytest.raises(ResourceNotFoundError) as no_group:
        demo.c.resource.resource_groups.get("nope")
    assert no_group.value.error.code == "ResourceGroupNotFound"
    assert demo.c.resource.resource_groups.check_existence("nope") is False
    assert demo.c.resource.resource_groups.check_existence(demo.app_rg) is True


def test_wrong_tenant_is_refused(demo: Demo) -> None:
    credential = FakeTokenCredential(demo.sim.app_principal_id,
                                     "11111111-0000-4000-8000-0000000000ff")
    with mgmt_clients(demo.sim, credential) as other, pytest.raises(ClientAuthenticationError):
        other.compute.disks.get(demo.app_rg, "vm-app01-data0")
