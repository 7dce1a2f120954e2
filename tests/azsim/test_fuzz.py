"""1,000 random and malformed requests: every answer is a JSON error envelope or a success, never
a 5xx or a traceback, and the server still serves the SDK afterwards."""

from __future__ import annotations

import errno
import http.client
import json
import random
import socket
import ssl
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from conftest import Demo

DRO = "b50d9833-a0cb-478e-945f-707fcc997c13"
DP, AUTHZ, VM, DISKS, RG = "2026-06-01", "2022-04-01", "2026-04-01", "2026-03-02", "2025-04-01"
METHODS = ["GET", "GET", "PUT", "POST", "PATCH", "DELETE", "HEAD", "OPTIONS", "BREW"]
VERSIONS = ["2026-06-01", "2022-04-01", "2026-04-01", "2026-03-02", "2025-04-01", "2099-01-01",
            "latest", "", "2026-06-01&api-version=2022-04-01"]
NOISE = ["", "x", "..", "%00", "%2F", "ünïcødé", "a" * 3000, "{id}", "'", "*", "$", " ", "\t",
         "providers", "Microsoft.Compute", "disks", "backupVaults", "roleAssignments", "-1",
         "00000000-0000-0000-0000-000000000000"]


def endpoints(demo: Demo) -> list[tuple[str, str, str, Any]]:
    """(method, path, api-version, body) of every operation the simulator serves."""
    vault = f"{demo.rg_id(demo.vault_rg)}/providers/Microsoft.DataProtection/backupVaults/bv-demo"
    bi = demo.backup_instance("vm-app01-data0").id
    rp = demo.latest_point(bi.rsplit("/", 1)[-1])
    restore = demo.restore_request(rp.name, "fuzz").as_dict()
    vm = f"{demo.rg_id(demo.app_rg)}/providers/Microsoft.Compute/virtualMachines/vm-app01"
    assignments = f"{demo.rg_id(demo.target_rg)}/providers/Microsoft.Authorization/roleAssignments"
    assignment = {"properties": {"roleDefinitionId": demo.role_id(DRO),
                                 "principalId": demo.vault_principal,
                                 "principalType": "ServicePrincipal"}}
    disk = {"location": "westeurope", "properties": {"creationData": {"createOption": "Empty"},
                                                     "diskSizeGB": 4}}
    compute_op = (f"/subscriptions/{demo.sub}/providers/Microsoft.Compute/locations/westeurope/"
                  "operations/abc")
    dp_op = f"/subscriptions/{demo.sub}/providers/Microsoft.DataProtection/locations/westeurope"
    return [
        ("GET", f"/subscriptions/{demo.sub}/resourcegroups", RG, None),
        ("PUT", demo.rg_id("rg-fuzz"), RG, {"location": "westeurope"}),
        ("GET", vault, DP, None), ("GET", f"{vault}/backupInstances", DP, None),
        ("GET", bi, DP, None), ("GET", f"{bi}/recoveryPoints", DP, None), ("GET", rp.id, DP, None),
        ("POST", f"{bi}/validateRestore", DP, {"restoreRequestObject": restore}),
        ("POST", f"{bi}/restore", DP, restore), ("GET", f"{vault}/backupJobs", DP, None),
        ("GET", f"{vault}/operationStatus/abc", DP, None),
        ("GET", f"{dp_op}/operationResults/abc", DP, None),
        ("GET", f"{dp_op}/operationStatus/abc", DP, None),
        ("GET", assignments, AUTHZ, None),
        ("PUT", f"{assignments}/{uuid.UUID(int=7)}", AUTHZ, assignment),
        ("DELETE", f"{assignments}/{uuid.UUID(int=7)}", AUTHZ, None),
        ("GET", f"/providers/Microsoft.Authorization/roleDefinitions/{DRO}", AUTHZ, None),
        ("GET", f"/subscriptions/{demo.sub}/providers/Microsoft.Authorization/roleDefinitions",
         AUTHZ, None),
        ("GET", demo.disk_id(demo.app_rg, "vm-app01-data0"), DISKS, None),
        ("PUT", demo.disk_id(demo.target_rg, "fuzz"), DISKS, disk),
        ("DELETE", demo.disk_id(demo.target_rg, "fuzz"), DISKS, None),
        ("GET", f"{demo.rg_id(demo.app_rg)}/providers/Microsoft.Compute/disks", DISKS, None),
        ("GET", f"{demo.rg_id('rg-keys')}/providers/Microsoft.Compute/diskEncryptionSets/des-cmk",
         DISKS, None),
        ("GET", vm, VM, None), ("GET", f"{vm}/instanceView", VM, None),
        ("PATCH", vm, VM, {"properties": {"storageProfile": {"dataDisks": [
            {"lun": 9, "createOption": "Attach",
             "managedDisk": {"id": demo.disk_id(demo.target_rg, "fuzz")}}]}}}),
        ("PUT", vm, VM, {"location": "westeurope", "properties": {"storageProfile": {
            "osDisk": {"managedDisk": {"id": demo.disk_id(demo.target_rg, "fuzz")}}}}}),
        ("POST", f"{vm}/attachDetachDataDisks", VM, {
            "dataDisksToAttach": [{"diskId": demo.disk_id(demo.target_rg, "fuzz")}],
            "dataDisksToDetach": [{"diskId": demo.disk_id(demo.app_rg, "vm-app01-data0")}]}),
        ("POST", f"{vm}/deallocate", VM, None), ("POST", f"{vm}/start", VM, None),
        ("POST", f"{vm}/powerOff", VM, None), ("GET", compute_op, VM, None),
    ]


def random_json(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(8 if depth < 3 else 5)
    scalars = [None, True, rng.randint(-2**40, 2**40), rng.random(), rng.choice(NOISE)]
    if choice < 5:
        return scalars[choice]
    if choice < 7:
        return {rng.choice([*NOISE, "properties", "location", "lun", "managedDisk"]):
                random_json(rng, depth + 1) for _ in range(rng.randrange(4))}
    return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]


def mutate(rng: random.Random, value: Any) -> Any:
    """Replace one random member somewhere in `value` with random JSON."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        return {**value, key: mutate(rng, value[key])}
    if isinstance(value, list) and value and rng.random() < 0.8:
        i = rng.randrange(len(value))
        return [*value[:i], mutate(rng, value[i]), *value[i + 1:]]
    return random_json(rng)


def random_path(rng: random.Random, path: str) -> str:
    segments = path.split("/")
    for _ in range(rng.choice([1, 1, 2])):
        action, i = rng.randrange(4), rng.randrange(1, len(segments))
        if action == 0:
            segments[i] = rng.choice(NOISE)
        elif action == 1:
            segments.insert(i, rng.choice(NOISE))
        elif action == 2 and len(segments) > 2:
            del segments[i]
        else:
            segments[i] = segments[i].swapcase()
    return "/".join(segments)


def random_request(rng: random.Random, spec: tuple[str, str, str, Any], tokens: list[str]
                   ) -> tuple[str, str, bytes, dict[str, str]]:
    """A variation of a valid request: method, path, query, body and token each may be off."""
    method, path, version, body = spec
    method = method if rng.random() < 0.8 else rng.choice(METHODS)
    path = path if rng.random() < 0.7 else random_path(rng, path)
    query = {"api-version": version if rng.random() < 0.8 else rng.choice(VERSIONS)}
    if rng.random() < 0.3:
        query[rng.choice(["$filter", "$skipToken", "$expand", "monitor"])] = rng.choice(
            [*NOISE, "atScope()", "principalId eq 'x'", "startDate eq '2020-01-01T00:00:00Z'",
             "instanceView", "true", "MTA"])
    target = quote(path, safe="/") + "?" + "&".join(
        f"{quote(k)}={quote(v, safe='=&')}" for k, v in query.items())
    kind = rng.random()
    payload = (json.dumps(body).encode() if kind < 0.3 and body is not None
               else json.dumps(mutate(rng, body)).encode() if kind < 0.7
               else rng.randbytes(rng.randrange(200)) if kind < 0.85
               else json.dumps(random_json(rng)).encode())
    headers = {"Content-Type": "application/json"}
    if token := rng.choice(tokens):
        headers["Authorization"] = token
    return method, target, payload, headers


def test_a_thousand_random_requests(demo: Demo) -> None:
    rng = random.Random(1234)
    specs = endpoints(demo)
    app, operator = f"Bearer {demo.token()}", f"Bearer {demo.token('operator')}"
    tokens = [app] * 12 + [operator] * 6 + ["Bearer x.y.z", ""]
    host, port = demo.sim.endpoint.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=demo.sim.ca_bundle)
    connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=10)
    statuses: dict[int, int] = {}
    for i in range(1000):
        method, target, body, headers = random_request(rng, rng.choice(specs), tokens)
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        statuses[response.status] = statuses.get(response.status, 0) + 1
        context_info = f"{method} {target[:200]} -> {response.status} {payload[:300]!r}"
        assert response.status < 500, context_info
        assert b"Traceback" not in payload, context_info
        if payload:
            answer = json.loads(payload)
            if response.status >= 400:
                assert isinstance(answer["error"]["code"], str), context_info
                assert isinstance(answer["error"]["message"], str), context_info
        if i % 100 == 99:
            demo.clock.advance(rng.randrange(600))
    connection.close()
    # The requests really reached the services, and varied: successes and every kind of refusal.
    reached = {e["operation"] for e in demo.sim.audit() if e["status"] < 300}
    assert len(reached) >= 20
    assert {200, 201, 202, 204, 400, 401, 403, 404, 405, 409} <= set(statuses)
    assert demo.c.compute.disks.get(demo.app_rg, "vm-app01-data0").name == "vm-app01-data0"


def _peer_closed(exc: OSError) -> bool:
    """The server hung up first. It owes garbage no answer, and closing with our bytes unread
    sends a reset: depending on when it lands, our next send, shutdown or recv fails with a
    broken pipe, a reset or ENOTCONN (shutdown on a connection already gone)."""
    return isinstance(exc, BrokenPipeError | ConnectionResetError | ssl.SSLEOFError) or \
        exc.errno in (errno.ENOTCONN, errno.ECONNRESET, errno.EPIPE)


def _exchange(sock: socket.socket, payload: bytes, *, half_close: bool) -> bytes:
    """Send `payload`, then read what the server answers (nothing if it hung up first). A
    timeout is not a hang-up: a server that neither answers nor closes still fails the test."""
    try:
        sock.sendall(payload)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        return sock.recv(65536)
    except OSError as exc:
        if not _peer_closed(exc):
            raise
        return b""


def test_garbage_on_the_socket_does_not_stop_the_server(demo: Demo) -> None:
    host, port = demo.sim.endpoint.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=demo.sim.ca_bundle)
    for payload in (b"GET / HTTP/1.1\r\n\r\n", b"\x00" * 64, b"\x16\x03\x01\x00\x05hello"):
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            _exchange(raw, payload, half_close=True)  # the handshake fails: dropped
    for line in (b"NOT A REQUEST\r\n\r\n", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
                 b"GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                 b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"):
        with socket.create_connection((host, int(port)), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            assert b"Traceback" not in _exchange(tls, line, half_close=False)
    silent = socket.create_connection((host, int(port)), timeout=5)  # never says anything
    assert demo.c.compute.disks.get(demo.app_rg, "vm-app01-data0").name == "vm-app01-data0"
    silent.close()


def members(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every member (object key or list index) inside a JSON value."""
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(
        value, list) else ()
    found = []
    for key, child in children:
        found.append((*path, key))
        found.extend(members(child, (*path, key)))
    return found


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    copy = json.loads(json.dumps(value))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return copy


def test_every_body_member_of_every_json_type(demo: Demo) -> None:
    """Each member of each valid request body, replaced in turn by each JSON type."""
    kinds = [None, True, -1, 2.5, "x", [], {}, [{}], {"a": [1]}]
    app = demo.token()
    sent = 0
    for method, path, version, body in endpoints(demo):
        if body is None:
            continue
        for member in members(body):
            for kind in kinds:
                status, _, answer = demo.raw(method, f"{path}?api-version={version}",
                                             replaced(body, member, kind), token=app)
                sent += 1
                assert status < 500, (method, path, member, kind, answer)
                assert status < 400 or isinstance(answer["error"]["code"], str)
        demo.clock.advance(600)  # let anything started finish before the next endpoint
    assert sent > 500
    assert demo.c.compute.disks.get(demo.app_rg, "vm-app01-data0").name == "vm-app01-data0"
