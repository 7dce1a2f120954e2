"""Every orchestration instance a query matches, read page by page.

The Durable HTTP API answers a list query one page at a time (100 instances by default, fewer
whenever Azure Storage ends a segment early, even none) with the next page's token in the
`x-ms-continuation-token` response header; the caller sends it back in the same request header.
azure-functions-durable 1.7's `get_status_by` / `get_status_all` read only the first page
(azure-functions-durable-python #580), so past 100 instances (a restore makes three) they go
blind. This asks the same URL the SDK builds, through the SDK's own HTTP session, and follows the
token until it comes back empty.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import aiohttp
import azure.durable_functions as df
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus
from azure.durable_functions.models.RpcManagementOptions import RpcManagementOptions
from azure.durable_functions.models.utils import http_utils

TOKEN = "x-ms-continuation-token"  # noqa: S105 - a header name, not a secret


class InstanceListError(RuntimeError):
    """The Durable HTTP API refused a list query, or its paging went wrong."""


async def list_instances(client: df.DurableOrchestrationClient, *,
                         created_from: datetime | None = None,
                         runtime_status: list[df.OrchestrationRuntimeStatus] | None = None,
                         ) -> list[DurableOrchestrationStatus]:
    """Every instance created since `created_from` in one of `runtime_status` (None: any),
    without inputs, in the order the pages come (instance id order in Azure Storage)."""
    url = _list_url(client, created_from, runtime_status)
    found: list[DurableOrchestrationStatus] = []
    token, seen = "", set()
    while True:
        page, token = await _page(url, token)
        found += [DurableOrchestrationStatus.from_json(doc) for doc in page]
        if not token:  # empty or absent: nothing follows (a short page is no sign of the end)
            return found
        if token in seen:  # a server that does not move on would keep us here for ever
            raise InstanceListError(f"the Durable HTTP API sent continuation token {token!r} "
                                    "twice: stopped listing instead of looping")
        seen.add(token)


def _list_url(client: df.DurableOrchestrationClient, created_from: datetime | None,
              runtime_status: list[df.OrchestrationRuntimeStatus] | None) -> str:
    # The SDK keeps the binding's rpcBaseUrl only here (azure-functions-durable 1.7, pinned);
    # its own get_status_by builds the same URL from it with RpcManagementOptions.
    base = client._orchestration_bindings.rpc_base_url  # noqa: SLF001
    if not base:
        raise InstanceListError("the durable client binding has no rpcBaseUrl: this host's "
                                "Durable extension is too old to list instances from Python")
    url = RpcManagementOptions(created_time_from=created_from,
                               runtime_status=runtime_status).to_url(base)
    # RpcManagementOptions leaves out a false showInput, and the extension's default is true:
    # the inputs (each run's whole request) would come with every page for nothing.
    return f"{url}{'&' if '?' in url else '?'}showInput=false"


async def _page(url: str, token: str) -> tuple[list[dict[str, Any]], str]:
    # The SDK's module-wide session (one connection pool per worker), used as the SDK uses it:
    # a connection error drops the session, so the next request starts a fresh one.
    session = await http_utils._get_session()  # noqa: SLF001
    try:
        async with session.get(url, headers={TOKEN: token} if token else None) as response:
            text = await response.text()
            next_token = response.headers.get(TOKEN, "")
            status = response.status
    except (TimeoutError, aiohttp.ClientError):
        await http_utils._handle_request_error()  # noqa: SLF001
        raise
    try:
        body = json.loads(text) if status == 200 else None
    except ValueError:
        body = None
    if not isinstance(body, list):
        raise InstanceListError(f"listing orchestration instances failed: HTTP {status}: "
                                f"{text[:300]}")
    return body, next_token
