"""Running the migrations from code (`optischema-admin migrate`, the tests), with no alembic.ini.

Everything Alembic needs ships inside the package, so this works from an installed wheel as well
as from a checkout.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from control_plane.db.engine import sync_database_url

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    # set_main_option goes through ConfigParser, which would read a '%' in the path as interpolation.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url is not None:
        config.attributes["url"] = url  # attributes bypass ConfigParser: passwords may contain '%'
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def upgrade_to_head(url: str) -> None:
    """Brings the metadata database at the plain postgresql:// `url` to the latest revision."""
    command.upgrade(alembic_config(url), "head")


def current_revision(url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    engine = create_engine(sync_database_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
