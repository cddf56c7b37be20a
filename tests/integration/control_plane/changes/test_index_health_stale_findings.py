"""Index health shows an agent's drop finding only while it still holds.

The control plane judges duplicates, prefix-redundant and invalid indexes itself on every read; two
kinds it cannot judge come only from the agent's advisor: unused (the age of the statistics) and
duplicates of partial or expression indexes (their raw definitions). Before, any drop_index row the
control plane did not classify was listed as `unused` with 0 scans, else as `duplicate`: an unused
index that has been scanned since, or one whose twin was dropped, was then listed as a `duplicate`
with a reason that no longer held. Now the kind comes from the finding's own reason, and the row goes
when the snapshot contradicts it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from shared.index_findings import finding_id
from shared.sql.index_ddl import drop_index_sql
from shared.wire.advice import AdviceReport, Recommendation
from shared.wire.snapshot import IndexStats
from tests.integration.control_plane.api.conftest import SeededTenant, as_user, bearer, register_database
from tests.integration.control_plane.changes.flow import Shop, approve, send, workload
from tests.integration.control_plane.changes.test_index_health import health, index

LEGACY = index("orders_legacy_idx", ["legacy_code"], scans=0, size=65536)
PARTIAL = IndexStats(
    **{
        **index("orders_open_idx", ["customer_id"], scans=0).model_dump(),
        "is_partial": True,
        "definition": "CREATE INDEX orders_open_idx ON public.orders USING btree (customer_id) WHERE (?)",
    }
)


def drop(target: IndexStats, rationale: str) -> Recommendation:
    return Recommendation(
        id=finding_id(target),
        kind="drop_index",
        tier="advisory",
        sql=drop_index_sql("public", target.name),
        rollback_sql=None,
        table="public.orders",
        columns=list(target.columns),
        improvement_pct=None,
        queries=[],
        rationale=rationale,
    )


UNUSED = drop(LEGACY, "0 scans since statistics were reset 30 days ago; 64 kB on disk.")
PARTIAL_TWIN = drop(PARTIAL, "Same definition as orders_open_first_idx on public.orders (customer_id); ...")


def snapshot(
    client: TestClient, shop: Shop, at: datetime, indexes: list[IndexStats], *found: Recommendation
) -> None:
    document = workload(
        at,
        findings=AdviceReport(
            server_version="16.4", hypopg=True, statements_analyzed=0, recommendations=list(found)
        )
        if found
        else None,
    )
    document["indexes"] = [i.model_dump(mode="json") for i in indexes]
    send(client, shop.agent, document)


def shop_of(client: TestClient, tenant: SeededTenant) -> Shop:
    database = register_database(client, tenant)
    return Shop(tenant, database["id"], bearer(database["agent_token"]), "")


def scanned(target: IndexStats, scans: int) -> IndexStats:
    return IndexStats(**{**target.model_dump(), "idx_scan": scans})


def test_the_agents_findings_are_listed_with_the_kind_their_reason_gives(
    client: TestClient, acme: SeededTenant
) -> None:
    shop = shop_of(client, acme)
    snapshot(client, shop, datetime.now(UTC), [LEGACY, PARTIAL], UNUSED, PARTIAL_TWIN)

    rows = health(client, shop)

    assert {name: row["kind"] for name, row in rows.items()} == {
        "public.orders_legacy_idx": "unused",
        "public.orders_open_idx": "duplicate",  # 0 scans, yet not called unused: its reason says why
    }


def test_an_unused_index_scanned_since_leaves_index_health(client: TestClient, acme: SeededTenant) -> None:
    shop = shop_of(client, acme)
    now = datetime.now(UTC)
    snapshot(client, shop, now - timedelta(minutes=1), [LEGACY], UNUSED)
    assert health(client, shop)["public.orders_legacy_idx"]["kind"] == "unused"

    snapshot(client, shop, now, [scanned(LEGACY, 12)])  # a monthly job ran: the index is used after all

    assert health(client, shop) == {}


def test_a_drop_the_latest_snapshot_no_longer_bears_out_cannot_be_approved(
    client: TestClient, acme: SeededTenant
) -> None:
    shop = shop_of(client, acme)
    now = datetime.now(UTC)
    snapshot(client, shop, now - timedelta(minutes=2), [LEGACY], UNUSED)
    drop_id = health(client, shop)["public.orders_legacy_idx"]["recommendation_id"]
    the_drop = Shop(shop.tenant, shop.database_id, shop.agent, drop_id)

    snapshot(client, shop, now - timedelta(minutes=1), [scanned(LEGACY, 12)])  # used after all
    refused = approve(client, the_drop)
    assert refused.status_code == 409, refused.text
    assert "orders_legacy_idx has 12 scans" in refused.json()["detail"]
    # The server tells the page so before anyone clicks: no Approve, and the same reason.
    admin = as_user(client, acme, "admin")
    one = client.get(f"/api/v1/recommendations/{drop_id}", headers=admin).json()
    listed = client.get(f"/api/v1/databases/{shop.database_id}/recommendations", headers=admin).json()
    [in_list] = [r for r in listed if r["id"] == drop_id]
    for shown in (one, in_list):
        assert "approve" not in shown["allowed_actions"] and "reject" in shown["allowed_actions"]
        assert shown["approve_refusal"] == refused.json()["detail"]

    snapshot(client, shop, now, [])  # dropped by hand meanwhile
    gone = approve(client, the_drop)
    assert gone.status_code == 409 and "no longer has this index" in gone.json()["detail"]


def test_a_drop_that_still_holds_is_approved(client: TestClient, acme: SeededTenant) -> None:
    shop = shop_of(client, acme)
    snapshot(client, shop, datetime.now(UTC), [LEGACY], UNUSED)
    drop_id = health(client, shop)["public.orders_legacy_idx"]["recommendation_id"]
    offered = client.get(f"/api/v1/recommendations/{drop_id}", headers=as_user(client, acme, "admin")).json()
    assert "approve" in offered["allowed_actions"] and offered["approve_refusal"] is None

    approved = approve(client, Shop(shop.tenant, shop.database_id, shop.agent, drop_id))

    assert approved.status_code == 200, approved.text
