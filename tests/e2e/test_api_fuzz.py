"""Every route of the real control plane, fuzzed from its own OpenAPI document with schemathesis.

One server over one migrated metadata database for the module, a tenant with an admin and a registered
database. Each operation gets generated requests twice, once with the admin's bearer token and once
with the database's agent token, and must answer every one without a 5xx and with a body that keeps
to the schema it declares. Examples are bounded (OPTISCHEMA_TEST_API_FUZZ_EXAMPLES, default 15 per
operation and token) so that `make test` stays minutes, not hours.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from psycopg import sql
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from deploy.local.control_plane_process import ControlPlaneProcess
from deploy.local.throwaway_cluster import ThrowawayCluster
from tests.conftest import unique_name
from tests.e2e.conftest import ADMIN_PASSWORD, create_tenant_admin, login, register_shop

EXAMPLES = int(os.environ.get("OPTISCHEMA_TEST_API_FUZZ_EXAMPLES", "15"))


@dataclass(frozen=True)
class FuzzTarget:
    base_url: str
    admin_email: str
    agent_token: str

    def user_token(self) -> str:
        """A fresh sign-in: a generated POST /auth/logout ends every earlier session, as it should."""
        return login(self.base_url, self.admin_email, ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def fuzz_target(
    ready_cluster: ThrowawayCluster, migrated_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzTarget]:
    name = unique_name("metadata_fuzz")
    with ready_cluster.connect() as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(migrated_template)
            )
        )
    metadata_url = ready_cluster.url(name)
    email = create_tenant_admin(metadata_url)
    log = Path(tmp_path_factory.mktemp("api-fuzz")) / "control-plane.log"
    # Limits high enough that generated requests are judged on their content, not throttled.
    server = ControlPlaneProcess(
        metadata_url,
        log,
        {"OPTISCHEMA_EXPENSIVE_RATE_LIMIT": "100000/minute", "OPTISCHEMA_ENV": "development"},
    )
    server.start()
    try:
        access, body = register_shop(server.base_url, email)
        del access
        yield FuzzTarget(server.base_url, email, body["agent_token"])
    finally:
        server.stop()
        with ready_cluster.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


CHECKS = [not_a_server_error, response_schema_conformance]


def failures_of(target: FuzzTarget, token_for: Callable[[], str], mode: GenerationMode) -> list[str]:
    """Every operation of the document, EXAMPLES generated requests each; the failures, described.

    Driven by hand rather than through schemathesis' pytest plugin, whose fixture-based loader does
    not run on pytest 9 (it rewrites a private node attribute that is gone).
    """
    api = schemathesis.openapi.from_url(f"{target.base_url}/openapi.json")
    failures: list[str] = []
    for result in api.get_all_operations():
        operation = result.ok()
        try:
            fuzz(operation, target.base_url, {"Authorization": f"Bearer {token_for()}"}, mode)
        except Unsatisfiable:
            continue  # nothing to make invalid: an operation without parameters or body
        except Exception as error:  # every failing operation is listed, not only the first
            failures.append(f"{operation.label}: {str(error)[:600]}")
    return failures


def fuzz(operation: APIOperation, base_url: str, headers: dict[str, str], mode: GenerationMode) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def call(case: Case) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

    call()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_route_answers_a_user_with_a_5xx_or_off_its_schema(
    fuzz_target: FuzzTarget, mode: GenerationMode
) -> None:
    assert failures_of(fuzz_target, fuzz_target.user_token, mode) == []


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_route_answers_an_agent_with_a_5xx_or_off_its_schema(
    fuzz_target: FuzzTarget, mode: GenerationMode
) -> None:
    assert failures_of(fuzz_target, lambda: fuzz_target.agent_token, mode) == []


def test_the_fuzzed_server_still_serves_its_tenant(fuzz_target: FuzzTarget) -> None:
    """After every generated request, the admin still signs in and the database is still there."""
    response = httpx.get(
        f"{fuzz_target.base_url}/api/v1/databases",
        headers={"Authorization": f"Bearer {fuzz_target.user_token()}"},
        timeout=30,
        trust_env=False,
    )
    assert response.status_code == 200, response.text
    assert "shop" in [database["name"] for database in response.json()]
