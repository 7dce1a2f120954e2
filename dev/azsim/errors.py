"""ARM error envelopes.

Every failure the simulator answers is an `ArmError`: the server turns it into
`{"error": {"code", "message", ...}}` with its HTTP status. Optional members are left out rather
than sent as null, because azure-core cannot parse an envelope with `"additionalInfo": null`.
"""

from __future__ import annotations

from typing import Any


class ArmError(Exception):
    """An ARM error response: HTTP status, error code, message and optional extras."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.headers = headers or {}
        self.extra = extra or {}  # more members of the error object (Data Protection: isRetryable)

    def body(self) -> dict[str, Any]:
        return {"error": self.error_object()}

    def error_object(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        error.update(self.extra)
        return error


def bad_request(code: str, message: str, target: str | None = None) -> ArmError:
    return ArmError(400, code, message, target=target)


def conflict(code: str, message: str, target: str | None = None) -> ArmError:
    return ArmError(409, code, message, target=target)


def resource_not_found(resource_type: str, name: str, resource_group: str) -> ArmError:
    # The exact ARM wording for a missing tracked resource.
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' was not "
        "found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def invalid_content(detail: str) -> ArmError:
    return bad_request(
        "InvalidRequestContent",
        f"The request content was invalid and could not be deserialized: '{detail}'.",
    )
