"""Cost control: an unchanged statement is not paid for twice, and a tenant over its monthly token
budget gets rules only, with a notice saying so."""

from __future__ import annotations

import httpx
import respx

from tests.integration.control_plane.analysis.conftest import (
    INDEX_ANSWER,
    LLM_URL,
    Shop,
    chat_completion,
    make_snapshot,
    run_worker,
)


def test_a_second_analysis_of_an_unchanged_statement_makes_no_provider_call(llm_shop: Shop) -> None:
    llm_shop.send_snapshot(make_snapshot())
    with respx.mock(assert_all_called=False) as provider:
        chat = provider.post(LLM_URL).mock(
            return_value=httpx.Response(200, json=chat_completion(INDEX_ANSWER))
        )
        first = llm_shop.analyze()
        run_worker(llm_shop.settings)
        calls_after_first = chat.call_count
        llm_shop.send_snapshot(make_snapshot(lookup_calls=45))  # busier, but the same plan and schema
        second = llm_shop.analyze()
        run_worker(llm_shop.settings)

    assert calls_after_first == 2  # one per analysed statement
    assert chat.call_count == calls_after_first
    assert llm_shop.run(first)["summary"]["llm_calls"] == 2
    assert llm_shop.run(second)["summary"]["llm_calls"] == 0
    assert llm_shop.run(second)["summary"]["llm_cache_hits"] == 2


def test_a_tenant_over_its_budget_gets_rules_only_and_a_notice(llm_shop: Shop) -> None:
    budget = llm_shop.client.put(
        "/api/v1/settings/llm",
        json={"provider": "default", "monthly_token_budget": 1000},
        headers=llm_shop.admin(),
    )
    assert budget.status_code == 200, budget.text
    assert budget.json()["effective_monthly_token_budget"] == 1000
    llm_shop.send_snapshot(make_snapshot())
    with respx.mock(assert_all_called=False) as provider:
        chat = provider.post(LLM_URL).mock(
            return_value=httpx.Response(
                200, json=chat_completion(INDEX_ANSWER, prompt_tokens=900, completion_tokens=150)
            )
        )
        first = llm_shop.analyze()
        run_worker(llm_shop.settings)
        llm_shop.send_snapshot(make_snapshot(lookup_cost=5000.0))  # a changed plan: not in the cache
        second = llm_shop.analyze()
        run_worker(llm_shop.settings)

    assert chat.call_count == 1  # 1,050 tokens: the second statement already found the budget used up
    for run_id in (first, second):
        notices = llm_shop.run(run_id)["notices"]
        assert any("budget" in notice and "rules only" in notice for notice in notices), notices
    assert llm_shop.run(second)["summary"]["llm_calls"] == 0
    usage = llm_shop.client.get("/api/v1/settings/llm", headers=llm_shop.admin()).json()
    assert usage["tokens_used_this_month"] == 1050
    rules = [r for r in llm_shop.recommendations() if r["source"] == "rules"]
    assert rules, "rules still analyse a tenant over budget"
