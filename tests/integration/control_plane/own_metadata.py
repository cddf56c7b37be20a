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
import psycopg
from psycopg import sql

from control_plane.db.session import APP_ROLE
from deploy.local.control_plane_process import run_admin
from deploy.local.pgbouncer import PgBouncer, running_pgbouncer
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


LOGIN_ROLE = "optischema_login"  # the app's login role: neither superuser nor owner
PGBOUNCER_SERVER_CONNECTIONS = 2


@dataclass(frozen=True)
class Bounced:
    """An own metadata cluster with PgBouncer (transaction pooling) in front of it."""

    metadata: OwnMetadata
    bouncer: PgBouncer

    def app_url(self, dbname: str = METADATA_DATABASE) -> str:
        return self.bouncer.url(dbname, LOGIN_ROLE)


@contextmanager
def bounced_metadata_cluster() -> Iterator[Bounced]:
    """The login role may only become `optischema_app`, as in production; PgBouncer lets it in with
    SCRAM and gives every database on the cluster PGBOUNCER_SERVER_CONNECTIONS server connections."""
    with own_metadata_cluster() as metadata:
        password = uuid.uuid4().hex
        with psycopg.connect(metadata.url, autocommit=True) as conn:
            role = sql.Identifier(LOGIN_ROLE)
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(password)))
            conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(APP_ROLE), role))
        cluster = metadata.cluster
        with running_pgbouncer(
            cluster.host, cluster.port, {LOGIN_ROLE: password}, pool_size=PGBOUNCER_SERVER_CONNECTIONS
        ) as bouncer:
            yield Bounced(metadata, bouncer)


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
