"""Approved changes exported for code review: a SQL migration and an Alembic revision."""

from __future__ import annotations

import ast

from fastapi.testclient import TestClient

from tests.integration.control_plane.api.conftest import SeededTenant, as_user
from tests.integration.control_plane.changes.flow import INDEX_SQL, ROLLBACK_SQL, approve, shop_with_finding


def test_approved_changes_export_as_a_sql_migration_and_an_alembic_revision(
    client: TestClient, acme: SeededTenant
) -> None:
    shop = shop_with_finding(client, acme)
    url = f"/api/v1/databases/{shop.database_id}/changes/export"
    analyst = as_user(client, acme, "analyst")
    empty = client.get(url, headers=analyst)
    approve(client, shop)

    sql = client.get(url, params={"format": "sql"}, headers=analyst)
    alembic = client.get(url, params={"format": "alembic"}, headers=analyst)
    by_viewer = client.get(url, headers=as_user(client, acme, "viewer"))

    assert "No approved changes" in empty.text
    assert sql.status_code == 200 and sql.headers["content-type"].startswith("text/plain")
    assert sql.headers["content-disposition"].startswith("attachment;")
    assert INDEX_SQL in sql.text and f"-- Rollback: {ROLLBACK_SQL}" in sql.text
    assert alembic.status_code == 200 and alembic.headers["content-disposition"].endswith('.py"')
    module = ast.parse(alembic.text)  # a Python module, as Alembic will import it
    functions = {node.name for node in module.body if isinstance(node, ast.FunctionDef)}
    assert functions == {"upgrade", "downgrade"}
    assert "with op.get_context().autocommit_block():" in alembic.text
    assert f"op.execute({INDEX_SQL.rstrip(';')!r})" in alembic.text
    assert f"op.execute({ROLLBACK_SQL.rstrip(';')!r})" in alembic.text
    assert by_viewer.status_code == 403
