"""Behaviour every provider adapter must share, run once per vendor (see conftest.CASES)."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from control_plane.analysis.llm import (
    ProviderChain,
    ProviderFailure,
    ProviderResponseInvalid,
    Rejection,
    SuggestionSet,
    build_adapter,
    parse_structured,
)
from tests.unit.llm.conftest import VALID_TEXT, ProviderCase, RecordedSleeps, build_request

pytestmark = pytest.mark.asyncio


def chain_of(client: httpx.AsyncClient, sleeps: RecordedSleeps, *cases: ProviderCase) -> ProviderChain:
    # jitter=0 makes the backoff deterministic: each delay is half its exponential ceiling.
    return ProviderChain.from_configs([c.config for c in cases], client, sleep=sleeps, jitter=lambda: 0.0)


def ok(case: ProviderCase, text: str = VALID_TEXT) -> httpx.Response:
    return httpx.Response(200, json=case.success(text))


async def test_success_validates_and_counts_tokens(
    case: ProviderCase, router: respx.MockRouter, client: httpx.AsyncClient, sleeps: RecordedSleeps
) -> None:
    router.post(case.url).mock(return_value=ok(case))
    chain = chain_of(client, sleeps, case)

    response = await chain.complete(build_request())

    assert response is not None
    assert response.provider == case.name
    assert (response.input_tokens, response.output_tokens) == (case.input_tokens, case.output_tokens)
    parsed = parse_structured(response.text, SuggestionSet)
    assert isinstance(parsed, SuggestionSet)
    assert parsed.suggestions[0].kind == "create_index"
    assert parsed.suggestions[0].columns == ["customer_id"]
    assert sleeps.calls == []
    assert chain.last_failures == ()


async def test_429_then_success_honours_retry_after(
    case: ProviderCase, router: respx.MockRouter, client: httpx.AsyncClient, sleeps: RecordedSleeps
) -> None:
    route = router.post(case.url).mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": "3"}, json=case.error_body(429)),
            ok(case),
        ]
    )
    chain = chain_of(client, sleeps, case)

    response = await chain.complete(build_request())

    assert response is not None and response.provider == case.name
    assert route.call_count == 2
    assert sleeps.calls == [3.0]
    assert chain.last_failures == ()


async def test_500_exhausts_retries_then_fails_over(
    case: ProviderCase,
    backup: ProviderCase,
    router: respx.MockRouter,
    client: httpx.AsyncClient,
    sleeps: RecordedSleeps,
) -> None:
    primary = router.post(case.url).mock(return_value=httpx.Response(500, json=case.error_body(500)))
    secondary = router.post(backup.url).mock(return_value=ok(backup))
    chain = chain_of(client, sleeps, case, backup)

    response = await chain.complete(build_request())

    assert response is not None and response.provider == backup.name
    assert (response.input_tokens, response.output_tokens) == (backup.input_tokens, backup.output_tokens)
    assert primary.call_count == 3  # one attempt plus max_retries=2
    assert secondary.call_count == 1
    assert sleeps.calls == [0.25, 0.5]  # exponential: ceilings 0.5 then 1.0, halved by zero jitter
    assert chain.last_failures == (ProviderFailure(case.name, "HTTP 500 after 3 attempt(s)"),)


async def test_timeout_with_no_other_provider_means_rules_alone(
    case: ProviderCase, router: respx.MockRouter, client: httpx.AsyncClient, sleeps: RecordedSleeps
) -> None:
    route = router.post(case.url).mock(side_effect=httpx.ReadTimeout("read timed out"))
    chain = chain_of(client, sleeps, case)

    outcome = await chain.attempt(build_request())

    assert outcome.response is None
    assert route.call_count == 3
    assert outcome.failures == (
        ProviderFailure(case.name, "timed out (ReadTimeout, limit 5s) after 3 attempt(s)"),
    )


async def test_timeout_fails_over_to_next_provider(
    case: ProviderCase,
    backup: ProviderCase,
    router: respx.MockRouter,
    client: httpx.AsyncClient,
    sleeps: RecordedSleeps,
) -> None:
    router.post(case.url).mock(side_effect=httpx.ConnectTimeout("connect timed out"))
    router.post(backup.url).mock(return_value=ok(backup))

    response = await chain_of(client, sleeps, case, backup).complete(build_request())

    assert response is not None and response.provider == backup.name


async def test_non_json_text_is_rejected_not_raised(
    case: ProviderCase, router: respx.MockRouter, client: httpx.AsyncClient, sleeps: RecordedSleeps
) -> None:
    prose = "You should add an index on orders(customer_id); it will remove the sequential scan."
    router.post(case.url).mock(return_value=ok(case, prose))

    response = await chain_of(client, sleeps, case).complete(build_request())

    assert response is not None
    assert response.output_tokens == case.output_tokens  # tokens were spent even if output is dropped
    assert parse_structured(response.text, SuggestionSet) == Rejection("response is not JSON")


async def test_json_of_the_wrong_shape_is_rejected(
    case: ProviderCase, router: respx.MockRouter, client: httpx.AsyncClient, sleeps: RecordedSleeps
) -> None:
    wrong = json.dumps({"recommendations": [{"index": "orders(customer_id)", "confidence": "high"}]})
    router.post(case.url).mock(return_value=ok(case, wrong))

    response = await chain_of(client, sleeps, case).complete(build_request())

    assert response is not None
    rejection = parse_structured(response.text, SuggestionSet)
    assert isinstance(rejection, Rejection)
    assert rejection.reason == "wrong shape for SuggestionSet: suggestions: Field required"


async def test_non_json_http_body_fails_over(
    case: ProviderCase,
    backup: ProviderCase,
    router: respx.MockRouter,
    client: httpx.AsyncClient,
    sleeps: RecordedSleeps,
) -> None:
    # A proxy or captive portal answering 200 with HTML.
    router.post(case.url).mock(return_value=httpx.Response(200, text="<html><body>Login</body></html>"))
    router.post(backup.url).mock(return_value=ok(backup))
    chain = chain_of(client, sleeps, case, backup)

    response = await chain.complete(build_request())

    assert response is not None and response.provider == backup.name
    assert chain.last_failures == (ProviderFailure(case.name, "response body is not JSON"),)


async def test_unexpected_envelope_shape_raises_invalid(
    case: ProviderCase, router: respx.MockRouter, client: httpx.AsyncClient, sleeps: RecordedSleeps
) -> None:
    router.post(case.url).mock(return_value=httpx.Response(200, json={"result": "ok"}))
    adapter = build_adapter(case.config, client, sleep=sleeps)

    with pytest.raises(ProviderResponseInvalid, match="unexpected response shape"):
        await adapter.complete(build_request())


async def test_client_error_is_not_retried(
    case: ProviderCase,
    backup: ProviderCase,
    router: respx.MockRouter,
    client: httpx.AsyncClient,
    sleeps: RecordedSleeps,
) -> None:
    primary = router.post(case.url).mock(return_value=httpx.Response(401, json=case.error_body(401)))
    router.post(backup.url).mock(return_value=ok(backup))
    chain = chain_of(client, sleeps, case, backup)

    response = await chain.complete(build_request())

    assert response is not None and response.provider == backup.name
    assert primary.call_count == 1
    assert sleeps.calls == []
    assert chain.last_failures == (ProviderFailure(case.name, "HTTP 401 (not retryable)"),)
