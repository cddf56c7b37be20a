"""The API key must never reach a log record, an exception message, or a repr."""

from __future__ import annotations

import logging

import httpx
import pytest
import respx
from pydantic import SecretStr

from control_plane.analysis.llm import ProviderChain, ProviderConfig, ProviderError, build_adapter
from tests.unit.llm.conftest import CASES, SECRET, ProviderCase, RecordedSleeps, build_request


def test_api_key_is_not_in_config_repr() -> None:
    config = ProviderConfig(kind="openai", model="gpt-4o", api_key=SecretStr(SECRET))
    assert SECRET not in repr(config)
    assert SECRET not in str(config)


@pytest.mark.asyncio
async def test_key_absent_from_logs_and_errors_across_failures(
    case: ProviderCase,
    router: respx.MockRouter,
    client: httpx.AsyncClient,
    sleeps: RecordedSleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # OpenAI's 401 echoes part of the key; the body must not find its way into our messages.
    echoed = {"error": {"message": f"Incorrect API key provided: {SECRET}", "type": "invalid_request_error"}}
    router.post(case.url).mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": "1"}, json=echoed),
            httpx.ReadTimeout(f"timed out talking with key {SECRET}"),
            httpx.Response(401, json=echoed),
        ]
    )

    with caplog.at_level(logging.DEBUG):
        adapter = build_adapter(case.config, client, sleep=sleeps)
        with pytest.raises(ProviderError) as raised:
            await adapter.complete(build_request())

        router.post(case.url).mock(return_value=httpx.Response(500, json=echoed))
        outcome = await ProviderChain([adapter]).attempt(build_request())

    assert SECRET not in str(raised.value) and SECRET not in repr(raised.value)
    assert outcome.response is None
    assert all(SECRET not in failure.reason for failure in outcome.failures)
    assert caplog.records, "expected retry and failover warnings to be logged"
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in str(record.args)


def test_every_case_uses_the_secret() -> None:
    # Guard against the test above silently checking a config without the key.
    assert all(c.config.api_key.get_secret_value() == SECRET for c in CASES.values())
