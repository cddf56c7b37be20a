"""Per-tenant LLM settings (admin only; the key encrypted at rest and never returned; private base
URLs refused) and who may start or read analyses."""

from __future__ import annotations

import psycopg
import pytest

from tests.integration.control_plane.analysis.conftest import Shop
from tests.integration.control_plane.api.conftest import as_user, register_database, seed_tenant

KEY = "sk-tenant-secret-key-0123456789"


def test_the_api_key_is_stored_encrypted_and_never_returned(rules_shop: Shop) -> None:
    saved = rules_shop.client.put(
        "/api/v1/settings/llm",
        json={"provider": "openai", "base_url": "https://8.8.8.8/v1", "model": "gpt-4o-mini", "api_key": KEY},
        headers=rules_shop.admin(),
    )

    assert saved.status_code == 200, saved.text
    read = rules_shop.client.get("/api/v1/settings/llm", headers=rules_shop.admin())
    for body in (saved.text, read.text):
        assert KEY not in body
    assert read.json()["api_key_set"] is True
    assert read.json()["source"] == "tenant"
    with psycopg.connect(rules_shop.settings.metadata_url) as conn:
        [stored] = conn.execute("SELECT api_key_encrypted FROM tenant_llm_settings").fetchone() or [None]
    assert stored is not None and KEY.encode() not in bytes(stored)


def test_keeping_the_key_when_it_is_not_sent_again(rules_shop: Shop) -> None:
    admin = rules_shop.admin()
    rules_shop.client.put(
        "/api/v1/settings/llm", json={"provider": "anthropic", "api_key": KEY}, headers=admin
    )
    again = rules_shop.client.put(
        "/api/v1/settings/llm", json={"provider": "anthropic", "model": "m"}, headers=admin
    )
    assert again.json()["api_key_set"] is True


@pytest.mark.parametrize(
    "base_url",
    ["https://127.0.0.1/v1", "https://10.0.0.8/v1", "https://169.254.169.254/latest", "http://8.8.8.8/v1"],
)
def test_a_private_or_plain_http_base_url_is_refused(rules_shop: Shop, base_url: str) -> None:
    refused = rules_shop.client.put(
        "/api/v1/settings/llm", json={"provider": "openai", "base_url": base_url}, headers=rules_shop.admin()
    )
    assert refused.status_code == 400
    assert "base_url refused" in refused.json()["detail"]


@pytest.mark.parametrize("role", ["analyst", "viewer"])
def test_only_admins_see_or_change_llm_settings(rules_shop: Shop, role: str) -> None:
    headers = as_user(rules_shop.client, rules_shop.tenant, role)
    assert rules_shop.client.get("/api/v1/settings/llm", headers=headers).status_code == 403
    assert (
        rules_shop.client.put("/api/v1/settings/llm", json={"provider": "none"}, headers=headers).status_code
        == 403
    )


@pytest.mark.parametrize(("role", "status"), [("admin", 202), ("analyst", 202), ("viewer", 403)])
def test_who_may_start_an_analysis(rules_shop: Shop, role: str, status: int) -> None:
    headers = as_user(rules_shop.client, rules_shop.tenant, role)
    response = rules_shop.client.post(
        f"/api/v1/databases/{rules_shop.database_id}/analyze", json={}, headers=headers
    )
    assert response.status_code == status


def test_another_tenants_database_and_runs_are_not_found(rules_shop: Shop, metadata_url: str) -> None:
    run_id = rules_shop.analyze()
    other = seed_tenant(metadata_url, "globex")
    register_database(rules_shop.client, other)
    intruder = as_user(rules_shop.client, other, "admin")
    base = f"/api/v1/databases/{rules_shop.database_id}"
    assert rules_shop.client.post(f"{base}/analyze", json={}, headers=intruder).status_code == 404
    assert rules_shop.client.get(f"{base}/analyses/{run_id}", headers=intruder).status_code == 404
    assert rules_shop.client.get(f"{base}/analyses", headers=intruder).status_code == 404
    assert rules_shop.client.get("/api/v1/settings/llm", headers=intruder).json()["api_key_set"] is False


def test_viewers_read_runs_with_their_notices(rules_shop: Shop) -> None:
    run_id = rules_shop.analyze()
    viewer = as_user(rules_shop.client, rules_shop.tenant, "viewer")
    response = rules_shop.client.get(
        f"/api/v1/databases/{rules_shop.database_id}/analyses/{run_id}", headers=viewer
    )
    assert response.status_code == 200
    assert response.json()["status"] == "queued"
