"""The answers azsim never gives (a synchronous 200 with a result, a PUT without a poll header),
read by the same code with a stand-in HTTP response."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain import errors
from domain.model import Operation, OperationStatus
from gateway.lro import Lro, finished


class Answer:
    """Just what azure.core.rest.HttpResponse offers the gateway."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None,
                 url: str = "https://management.azure.com/subscriptions/s/x") -> None:
        self.status_code, self.headers = status, headers or {}
        self._text = json.dumps(body) if body is not None else ""
        self.reason = "Reason"
        self.request = type("Request", (), {"url": url})()

    def text(self) -> str:
        return self._text


def _started(answer: Answer, method: str = "POST", kind: str = "restore") -> Operation:
    return Lro(lambda _sub: None)._started(kind, answer, method, "action", "scope")  # type: ignore


def test_a_synchronous_result_is_an_operation_that_is_already_over() -> None:
    job = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/v/" \
          "backupJobs/8a1c"
    operation = _started(Answer(200, {"objectType": "OperationJobExtendedInfo", "jobId": job}))

    assert operation.status_url is None
    status = Lro(lambda _sub: None).poll(Operation.from_dict(operation.to_dict()))  # type: ignore
    assert status == OperationStatus("succeeded", job_id=job)


def test_a_synchronous_refusal_keeps_code_and_message() -> None:
    operation = _started(Answer(409, {"error": {"code": "UserErrorSameNameDiskAlreadyExists",
                                                "message": "same name", "additionalInfo": None}}))

    assert Lro(lambda _sub: None).poll(operation) == OperationStatus(  # type: ignore[arg-type]
        "failed", "UserErrorSameNameDiskAlreadyExists", "same name")


@pytest.mark.parametrize(("status", "error"), [(401, errors.AppNotAuthorized),
                                               (403, errors.AppNotAuthorized),
                                               (408, errors.AzureUnavailable),
                                               (429, errors.AzureThrottled),
                                               (502, errors.AzureUnavailable)])
def test_infrastructure_answers_to_a_start_raise(status: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        _started(Answer(status, {"error": {"code": "X", "message": "y"}}))


def test_headers_win_and_retry_after_is_kept() -> None:
    operation = _started(Answer(202, None, {"Azure-AsyncOperation": "https://a/status",
                                            "Location": "https://a/result", "Retry-After": "7"}))
    assert operation == Operation("restore", "https://a/status", "https://a/result", 7.0)
    location_only = _started(Answer(202, None, {"Location": "https://a/result"}), kind="attach")
    assert location_only == Operation("attach", "https://a/result", "https://a/result")


def test_a_put_still_provisioning_without_a_header_polls_the_resource() -> None:
    answer = Answer(201, {"properties": {"provisioningState": "Updating"}},
                    url="https://management.azure.com/subscriptions/s/resourceGroups/rg/vm")
    operation = _started(answer, method="PUT", kind="swap")
    assert operation.status_url == answer.request.url and operation.result_url is None
    failed = _started(Answer(200, {"properties": {"provisioningState": "Failed"}}), "PUT")
    assert Lro(lambda _sub: None).poll(failed).state == "failed"  # type: ignore[arg-type]


def test_nothing_to_carry_means_no_result_url() -> None:
    assert finished("swap") == Operation("swap", None, None)


@pytest.mark.parametrize(("error", "retryable"), [
    ({"code": "CloudInternalError", "message": "m", "isRetryable": True}, True),
    ({"code": "CloudInvalidInputError", "message": "m", "isRetryable": False}, False),
    ({"code": "X", "message": "m", "details": [{"code": "Y", "isRetryable": True}]}, True),
    ({"code": "X", "message": "m", "isRetryable": "yes"}, None),  # not a boolean: not said
    ({"code": "X", "message": "m"}, None)])
def test_the_services_is_retryable_is_kept_on_a_refusal(error: dict[str, Any],
                                                        retryable: bool | None) -> None:
    operation = _started(Answer(400, {"error": error}))
    status = Lro(lambda _sub: None).poll(Operation.from_dict(operation.to_dict()))  # type: ignore
    assert status.state == "failed" and status.retryable is retryable


def test_the_services_is_retryable_is_kept_on_a_failed_operation() -> None:
    class Client:
        def send_request(self, request: Any) -> Answer:
            return Answer(200, {"status": "Failed", "error": {
                "code": "CloudServiceRetryableError", "message": "A transient error occurred.",
                "isRetryable": True}})

    clients = type("Clients", (), {"dataprotection": Client()})()
    operation = Operation("validate", "https://management.azure.com/subscriptions/s/providers/"
                          "Microsoft.DataProtection/backupVaults/v/operationStatus/o", None)
    status = Lro(lambda _sub: clients).poll(operation)  # type: ignore[arg-type, return-value]
    assert status == OperationStatus("failed", "CloudServiceRetryableError",
                                     "A transient error occurred.", retryable=True)
