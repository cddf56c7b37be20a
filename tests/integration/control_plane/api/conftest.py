"""An app on a freshly migrated metadata database, and tenants seeded straight into it.

Tenants are seeded as the superuser (setup only); everything under test goes through HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg
import pytest
from fastapi.testclient import TestClient

from control_plane.app import create_app
from control_plane.auth.passwords import hash_password
from control_plane.settings import Settings

PASSWORD = "correct horse battery staple"
PASSWORD_HASH = hash_password(PASSWORD)  # once: Argon2 is slow on purpose
SECRET = "test-secret-key-that-is-long-enough-for-production-use"


@dataclass
class SeededTenant:
    id: uuid.UUID
    users: dict[str, uuid.UUID] = field(default_factory=dict)  # role -> user id
    emails: dict[str, str] = field(default_factory=dict)


def seed_tenant(metadata_url: str, name: str) -> SeededTenant:
    tenant = SeededTenant(id=uuid.uuid4())
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        conn.execute("INSERT INTO tenants (id, name) VALUES (%s, %s)", [tenant.id, name])
        for role in ("admin", "analyst", "viewer"):
            user_id, email = uuid.uuid4(), f"{role}@{name}.example"
            conn.execute(
                "INSERT INTO users (tenant_id, id, email, password_hash, role) VALUES (%s, %s, %s, %s, %s)",
                [tenant.id, user_id, email, PASSWORD_HASH, role],
            )
            conn.execute(
                "INSERT INTO login_emails (email, tenant_id, user_id) VALUES (%s, %s, %s)",
                [email, tenant.id, user_id],
            )
            tenant.users[role], tenant.emails[role] = user_id, email
    return tenant


def settings_for(metadata_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "production",
        "metadata_url": metadata_url,
        "secret_key": SECRET,
        "workers": "off",
        "login_rate_limit": "1000/minute",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def client(metadata_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(metadata_url))) as test_client:
        yield test_client


@pytest.fixture
def acme(metadata_url: str) -> SeededTenant:
    return seed_tenant(metadata_url, "acme")


@pytest.fixture
def globex(metadata_url: str) -> SeededTenant:
    return seed_tenant(metadata_url, "globex")


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def as_user(client: TestClient, tenant: SeededTenant, role: str) -> dict[str, str]:
    return bearer(login(client, tenant.emails[role])["access_token"])


def register_database(client: TestClient, tenant: SeededTenant, name: str = "shop") -> dict[str, str]:
    response = client.post("/api/v1/databases", json={"name": name}, headers=as_user(client, tenant, "admin"))
    assert response.status_code == 201, response.text
    body: dict[str, str] = response.json()
    return body
