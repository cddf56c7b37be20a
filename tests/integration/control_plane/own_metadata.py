"""A metadata database on a cluster of the test's own, for tests that stop it or put things in front of it.

The session's shared cluster serves every other test at the same time, so a test that stops its
metadata database (or routes it through PgBouncer) starts a throwaway cluster with `start_cluster()`
and migrates one database there. Also: a tenant with an admin and a registered database, made
the way an operator and an admin make them (`optischema-admin`, then the API).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from deploy.local.control_plane_process import run_admin
from deploy.local.throwaway_cluster import ThrowawayCluster, start_cluster
from migrations.runner import upgrade_to_head

METADATA_DATABASE = "metadata"
ADMIN_PASSWORD = "an own-cluster admin password, long enough"
# A small, fast cluster: nothing here is monitored, and durability does not matter to a test.
OWN_CLUSTER_SETTINGS: Mapping[str, str] = {"fsync": "off", "full_page_writes": "off", "max_connections": "60"}


@dataclass(frozen=True)
class OwnMetadata:
    cluster: ThrowawayCluster
    url: str  # as the superuser: setup and inspection only


@contextmanager
def own_metadata_cluster() -> Iterator[OwnMetadata]:
    cluster = start_cluster(OWN_CLUSTER_SETTINGS)
    try:
        url = cluster.create_database(METADATA_DATABASE)
        upgrade_to_head(url)
        yield OwnMetadata(cluster, url)
    finally:
        cluster.stop()


@dataclass(frozen=True)
class Tenant:
    email: str
    access_token: str
    database_id: str
    agent_token: str

    @property
    def user_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    @property
    def agent_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.agent_token}"}


def login(client: httpx.Client, email: str) -> str:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def tenant_with_database(metadata_url: str, client: httpx.Client, name: str = "tenant") -> Tenant:
    """A tenant made with `optischema-admin`; its admin signs in over `client` and registers `shop`."""
    email = f"admin-{uuid.uuid4().hex[:8]}@{name}.example"
    run_admin(
        metadata_url,
        "create-tenant",
        "--name",
        name,
        "--admin-email",
        email,
        "--admin-password",
        ADMIN_PASSWORD,
    )
    access = login(client, email)
    created = client.post(
        "/api/v1/databases", json={"name": "shop"}, headers={"Authorization": f"Bearer {access}"}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    return Tenant(email, access, body["id"], body["agent_token"])
