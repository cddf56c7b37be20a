"""Alembic's entry point: online migrations only, in one transaction, one migrator at a time.

The URL comes from `Config.attributes["url"]` (set by `migrations.runner`, which keeps it out of
ConfigParser's %-interpolation) or, for a developer's own alembic.ini, from `sqlalchemy.url`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

from control_plane.db.engine import sync_database_url
from control_plane.models import Base

# Any constant will do, as long as every migrator uses the same one.
MIGRATION_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('optischema.migrations', 0))"


def run_migrations_online() -> None:
    config = context.config
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no metadata database URL: use migrations.runner.upgrade_to_head(url)")
    engine = create_engine(sync_database_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection, target_metadata=Base.metadata, transaction_per_migration=False
            )
            with context.begin_transaction():
                # Two replicas upgrading at start-up: the second waits, then finds nothing to do.
                connection.execute(text(MIGRATION_LOCK))
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported: 0002 reads the live schema")
run_migrations_online()
