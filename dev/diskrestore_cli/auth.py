"""Bearer tokens for an app behind App Service authentication (Entra ID), from azure-identity:
whatever DefaultAzureCredential finds (az login, environment, managed identity, ...)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .client import EXIT_APP, CliError


def token_provider(scope: str) -> Callable[[], str]:
    """A callable returning a token for `scope` (e.g. api://<app client id>/.default), fetched
    once and renewed five minutes before it expires."""
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
    lock = threading.Lock()
    cached: dict[str, Any] = {"token": "", "expires": 0.0}

    def token() -> str:
        with lock:
            if cached["expires"] - 300 < time.time():
                try:
                    access = credential.get_token(scope)
                except ClientAuthenticationError as exc:
                    raise CliError(f"no Entra ID token for {scope}: "
                                   f"{str(exc).splitlines()[0][:200]}",
                                   hint="sign in (az login) or set AZURE_CLIENT_ID/"
                                        "AZURE_TENANT_ID/AZURE_CLIENT_SECRET",
                                   exit_code=EXIT_APP, code="NoToken") from exc
                cached.update(token=access.token, expires=float(access.expires_on))
            return str(cached["token"])
    return token
