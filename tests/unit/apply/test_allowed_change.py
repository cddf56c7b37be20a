"""A job's payload must describe the very change its statement makes."""

from __future__ import annotations

import uuid

import pytest

from agent.apply.allowed_change import allowed_change
from agent.apply.errors import ChangeRefused
from shared.wire.jobs import ChangePayload

CREATE = "CREATE INDEX CONCURRENTLY orders_customer_id_idx ON public.orders (customer_id)"


def payload(sql: str, *, table: str | None = None, index_name: str | None = None) -> ChangePayload:
    return ChangePayload(recommendation_id=uuid.uuid4(), sql=sql, table=table, index_name=index_name)


def test_a_payload_that_agrees_with_its_statement_is_allowed() -> None:
    change = allowed_change(
        "apply", payload(CREATE, table="public.orders", index_name="orders_customer_id_idx")
    )

    assert change.ddl.kind == "create_index"
    assert change.payload_table == ("public", "orders")


@pytest.mark.parametrize(
    ("job_payload", "reason"),
    [
        (payload(CREATE, index_name="other_idx"), "names index other_idx"),
        (payload(CREATE, table="public.customers"), "names table public.customers"),
        (payload(CREATE, table="sales.orders"), "names table sales.orders"),
        (payload("DROP TABLE public.orders"), "not on the agent's allow-list"),
    ],
)
def test_a_payload_that_disagrees_with_its_statement_is_refused(
    job_payload: ChangePayload, reason: str
) -> None:
    with pytest.raises(ChangeRefused) as refusal:
        allowed_change("apply", job_payload)

    assert reason in refusal.value.reason


def test_analyze_is_no_rollback() -> None:
    with pytest.raises(ChangeRefused, match="cannot be a rollback"):
        allowed_change("rollback", payload("ANALYZE public.orders"))
