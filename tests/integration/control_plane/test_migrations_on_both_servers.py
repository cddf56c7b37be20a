"""The metadata migrations on Debian's PostgreSQL and on PostgreSQL 18 (tests/conftest.py).

Each server's session template is migrated from an empty database (`migrated_template`,
`migrated_template_18`); here the result is compared with the models, and the revisions that can be
undone are undone and redone. Row-level security on both is in test_row_level_security.py.
"""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, pool

from control_plane.db.engine import sync_database_url
from control_plane.models import Base
from migrations.runner import alembic_config, current_revision, head_revision, upgrade_to_head

pytestmark = pytest.mark.both_servers

# 0001 and 0002 refuse to go down (tenants' data, tenant isolation): 0002 is as low as it goes.
LOWEST_REVERSIBLE = "0002"


def differences_from_the_models(url: str) -> list[object]:
    engine = create_engine(sync_database_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))
    finally:
        engine.dispose()


def test_the_migrated_schema_is_the_models_schema(metadata_url: str) -> None:
    assert current_revision(metadata_url) == head_revision()
    assert differences_from_the_models(metadata_url) == []


def test_the_reversible_revisions_go_down_and_up_again(metadata_url: str) -> None:
    command.downgrade(alembic_config(metadata_url), LOWEST_REVERSIBLE)
    assert current_revision(metadata_url) == LOWEST_REVERSIBLE

    upgrade_to_head(metadata_url)

    assert current_revision(metadata_url) == head_revision()
    assert differences_from_the_models(metadata_url) == []
