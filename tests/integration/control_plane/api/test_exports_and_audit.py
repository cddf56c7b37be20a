"""CSV beside JSON for top queries, recommendations and the audit log (parsed with the csv module),
and an audit log people can read: emails, database names, filters and paging."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.integration.control_plane.api.conftest import SeededTenant, as_user
from tests.integration.control_plane.changes.flow import Shop, approve, send, shop_with_finding, workload


def parsed_csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def header(response: Any) -> list[str]:
    return next(csv.reader(io.StringIO(response.text)))


def busy_shop(client: TestClient, acme: SeededTenant) -> Shop:
    shop = shop_with_finding(client, acme)
    send(client, shop.agent, workload(datetime.now(UTC) - timedelta(minutes=1), calls=40, total_ms=200.0))
    return shop


def test_top_queries_as_csv_are_the_json_rows_with_a_header(client: TestClient, acme: SeededTenant) -> None:
    shop = busy_shop(client, acme)
    viewer = as_user(client, acme, "viewer")
    at = f"/api/v1/databases/{shop.database_id}/queries"

    as_json = client.get(at, headers=viewer).json()
    response = client.get(f"{at}?format=csv", headers=viewer)
    rows = parsed_csv(response)

    assert header(response) == list(as_json[0])
    assert [row["fingerprint"] for row in rows] == [row["fingerprint"] for row in as_json]
    assert int(rows[0]["calls"]) == as_json[0]["calls"] == 40
    assert float(rows[0]["total_exec_time_ms"]) == as_json[0]["total_exec_time_ms"]


def test_recommendations_as_csv_carry_every_json_field(client: TestClient, acme: SeededTenant) -> None:
    shop = busy_shop(client, acme)
    analyst = as_user(client, acme, "analyst")
    at = f"/api/v1/databases/{shop.database_id}/recommendations"

    (as_json,) = client.get(at, headers=analyst).json()
    response = client.get(f"{at}?format=csv", headers=analyst)
    (row,) = parsed_csv(response)

    assert header(response) == list(as_json)
    assert row["id"] == as_json["id"] and row["status"] == "proposed"
    assert row["sql"] == as_json["sql"]  # commas, parentheses and quotes survive the quoting
    assert json.loads(row["columns"]) == ["customer_id", "status"]
    assert json.loads(row["allowed_actions"]) == ["reject"]
    assert row["superseded_by"] == ""  # null is an empty cell


def test_the_audit_log_names_people_and_databases_in_json_and_csv(
    client: TestClient, acme: SeededTenant
) -> None:
    shop = busy_shop(client, acme)
    assert approve(client, shop).status_code == 200
    admin = as_user(client, acme, "admin")

    entries = client.get("/api/v1/audit", headers=admin).json()
    approval = next(e for e in entries if e["action"] == "recommendation.approve")
    created = next(e for e in entries if e["action"] == "database.create")
    rows = parsed_csv(client.get("/api/v1/audit?format=csv", headers=admin))

    assert approval["actor"] == f"user:{acme.users['admin']}"  # the id stays, the email is beside it
    assert approval["actor_email"] == acme.emails["admin"]
    assert (approval["database_id"], approval["database_name"]) == (shop.database_id, "shop")
    assert (created["actor_email"], created["database_name"]) == (acme.emails["admin"], "shop")
    approved_row = next(r for r in rows if r["action"] == "recommendation.approve")
    assert approved_row["actor_email"] == acme.emails["admin"] and approved_row["database_name"] == "shop"
    assert json.loads(approved_row["detail"])["database_id"] == shop.database_id
    assert len(rows) == len(entries)


def test_the_audit_log_filters_by_person_action_object_and_time_and_pages(
    client: TestClient, acme: SeededTenant
) -> None:
    shop = busy_shop(client, acme)
    assert approve(client, shop).status_code == 200
    admin = as_user(client, acme, "admin")

    def listed(query: str) -> list[dict[str, Any]]:
        response = client.get(f"/api/v1/audit?{query}", headers=admin)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        return found

    everything = listed("limit=1000")
    by_email = listed(f"actor={acme.emails['admin']}")
    approvals = listed("action=recommendation.approve")
    on_recommendations = listed("object=recommendation:")
    on_this_one = listed(f"object=recommendation:{shop.recommendation_id}")
    future = listed(f"from={(datetime.now(UTC) + timedelta(hours=1)).isoformat().replace('+00:00', 'Z')}")
    first, second = listed("limit=2"), listed("limit=2&offset=2")

    assert by_email and all(e["actor_email"] == acme.emails["admin"] for e in by_email)
    assert len(by_email) == len([e for e in everything if e["actor"] == f"user:{acme.users['admin']}"])
    assert [e["action"] for e in approvals] == ["recommendation.approve"]
    assert on_recommendations and all(e["object"].startswith("recommendation:") for e in on_recommendations)
    assert {e["action"] for e in on_this_one} == {"recommendation.approve"}
    assert future == []
    assert first + second == everything[:4]
    assert listed(f"actor=nobody@{acme.id}.example") == []
