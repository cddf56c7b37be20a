"""Recommendations that reconcile: applying a covering index supersedes the narrow idea it makes
pointless (in the same transaction, audited), approving that one is a 409, and both carry one group."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from shared.wire.advice import Recommendation
from tests.integration.control_plane.api.conftest import SeededTenant, as_user
from tests.integration.control_plane.changes.flow import (
    Shop,
    answer,
    applied_result,
    apply_now,
    audit,
    finding,
    lease,
    shop_with_finding,
)


def index_idea(columns: list[str], improvement: float, using: str = "", include: str = "") -> Recommendation:
    name = (
        "order_items_"
        + "_".join(columns)
        + ("_" + using if using else "")
        + ("_" + include if include else "")
        + "_idx"
    )
    method = f" USING {using}" if using else ""
    covering = f" INCLUDE ({include})" if include else ""
    return finding(key=f"create_index:public.order_items({','.join(columns)}){using}{include}").model_copy(
        update={
            "sql": f"CREATE INDEX CONCURRENTLY {name} ON public.order_items{method} ({', '.join(columns)}){covering};",
            "rollback_sql": f"DROP INDEX CONCURRENTLY IF EXISTS public.{name};",
            "table": "public.order_items",
            "columns": columns,
            "improvement_pct": improvement,
        }
    )


def by_columns(client: TestClient, shop: Shop, role: str = "admin") -> dict[tuple[str, ...], dict[str, Any]]:
    listed = client.get(
        f"/api/v1/databases/{shop.database_id}/recommendations", headers=as_user(client, shop.tenant, role)
    ).json()
    # Keyed by the key columns, plus "+include" for the idea with INCLUDE columns (same keys as NARROW).
    return {(*row["columns"], *(["+include"] if "INCLUDE" in row["sql"] else [])): row for row in listed}


COVERING = ("product_id", "quantity", "order_id")
NARROW = ("product_id",)
OTHER_LEADING = ("quantity",)


def covering_shop(client: TestClient, tenant: SeededTenant) -> Shop:
    """Four ideas on order_items; the covering one is the most improving, so it is `recommendation_id`."""
    return shop_with_finding(
        client,
        tenant,
        index_idea(list(COVERING), 99.9),
        index_idea(list(NARROW), 99.5),
        index_idea(list(OTHER_LEADING), 60.0),
        index_idea(["product_id", "quantity"], 40.0, using="brin"),
        index_idea(["product_id"], 30.0, include="status"),
    )


def test_applying_the_covering_index_supersedes_the_narrow_one_and_nothing_else(
    client: TestClient, acme: SeededTenant
) -> None:
    shop = covering_shop(client, acme)
    before = by_columns(client, shop)

    apply_now(client, shop)
    after = by_columns(client, shop)
    narrow = after[NARROW]
    refused = client.post(
        f"/api/v1/recommendations/{narrow['id']}/approve", headers=as_user(client, acme, "admin")
    )

    assert before[COVERING]["group"] == before[NARROW]["group"] == "public.order_items(product_id)"
    assert before[OTHER_LEADING]["group"] == "public.order_items(quantity)"
    assert before[NARROW]["allowed_actions"] == ["approve", "reject"]
    assert after[COVERING]["status"] == "applied"
    assert narrow["status"] == "superseded" and narrow["superseded_by"] == shop.recommendation_id
    assert narrow["allowed_actions"] == [] and "would be redundant" in narrow["status_reason"]
    assert after[OTHER_LEADING]["status"] == "proposed"  # another leading column: still useful
    assert after[("product_id", "quantity")]["status"] == "proposed"  # BRIN answers another question
    assert after[("product_id", "+include")]["status"] == "proposed"  # index-only scans of status
    assert refused.status_code == 409 and "superseded by" in refused.json()["detail"]
    superseded = [e for e in audit(client, acme) if e["action"] == "recommendation.superseded"]
    assert [e["object"] for e in superseded] == [f"recommendation:{narrow['id']}"]
    listed = client.get(
        f"/api/v1/databases/{shop.database_id}/recommendations?status=superseded",
        headers=as_user(client, acme, "viewer"),
    ).json()
    assert [row["id"] for row in listed] == [narrow["id"]]


def test_rolling_back_the_covering_index_reopens_what_it_superseded(
    client: TestClient, acme: SeededTenant
) -> None:
    shop = covering_shop(client, acme)
    apply_now(client, shop)

    queued = client.post(
        f"/api/v1/recommendations/{shop.recommendation_id}/rollback", headers=as_user(client, acme, "admin")
    )
    assert queued.status_code == 200, queued.text
    (job,) = lease(client, shop)
    answer(client, shop, job.id, {"status": "succeeded", "result": applied_result("rolled_back")})
    after = by_columns(client, shop)

    assert after[COVERING]["status"] == "rolled_back"
    assert after[NARROW]["status"] == "proposed" and after[NARROW]["superseded_by"] is None
    assert after[NARROW]["allowed_actions"] == ["approve", "reject"]
