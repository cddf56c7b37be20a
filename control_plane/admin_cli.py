"""optischema-admin: the operator's commands against the metadata database.

    optischema-admin migrate [--metadata-url URL]
    optischema-admin create-tenant --name N --admin-email E [--admin-password P]

The URL comes from `--metadata-url` or OPTISCHEMA_METADATA_URL. Progress and errors go to stderr;
stdout carries only results meant for scripts (create-tenant's JSON).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

import click
from sqlalchemy.exc import DBAPIError

from control_plane.auth.passwords import hash_password
from control_plane.db.engine import engine_from_url
from control_plane.db.session import INVALID_PARAMETER_VALUE, UNIQUE_VIOLATION, lookup_session, sqlstate
from control_plane.tenants.repository import ProvisionedTenant, provision_tenant
from control_plane.users.repository import normalize_email
from migrations.runner import current_revision, head_revision, upgrade_to_head

ADMIN_ACTOR = "optischema-admin"
UNDEFINED_TABLE, UNDEFINED_FUNCTION = "42P01", "42883"

F = TypeVar("F", bound=Callable[..., Any])


def _metadata_url(command: F) -> F:
    return click.option(
        "--metadata-url",
        envvar="OPTISCHEMA_METADATA_URL",
        show_envvar=True,
        required=True,
        help="Plain postgresql:// URL of the metadata database.",
    )(command)


def _say(message: str) -> None:
    click.echo(f"optischema-admin: {message}", err=True)


def _database_error(error: DBAPIError) -> click.ClickException:
    code = sqlstate(error)
    if code in (UNDEFINED_TABLE, UNDEFINED_FUNCTION):
        return click.ClickException(
            "the metadata database is not migrated yet: run `optischema-admin migrate`"
        )
    # The first line of the driver's message only: SQLAlchemy appends the SQL and its parameters.
    lines = str(error.orig or error).splitlines()
    return click.ClickException(
        f"the metadata database refused: {lines[0] if lines else type(error).__name__}"
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Operate the OptiSchema control plane's metadata database."""


@cli.command()
@_metadata_url
def migrate(metadata_url: str) -> None:
    """Bring the metadata database's schema to the latest revision (idempotent)."""
    try:
        before = current_revision(metadata_url)
        if before == head_revision():
            _say(f"the metadata database is already at revision {before}; nothing to do")
            return
        upgrade_to_head(metadata_url)
        after = current_revision(metadata_url)
    except DBAPIError as error:
        raise _database_error(error) from None
    _say(f"migrated the metadata database from {before or 'an empty schema'} to revision {after}")


async def _provision(url: str, name: str, email: str, password_hash: str) -> ProvisionedTenant:
    engine = engine_from_url(url, pool_size=1, max_overflow=0)
    try:
        async with lookup_session(engine) as session:
            return await provision_tenant(
                session, name=name, admin_email=email, admin_password_hash=password_hash, actor=ADMIN_ACTOR
            )
    finally:
        await engine.dispose()


@cli.command("create-tenant")
@_metadata_url
@click.option("--name", required=True, help="The tenant's display name.")
@click.option("--admin-email", required=True, help="Email the first admin signs in with.")
@click.option(
    "--admin-password",
    envvar="OPTISCHEMA_ADMIN_PASSWORD",
    show_envvar=True,
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for when omitted, which keeps it out of the shell history and `ps`.",
)
def create_tenant(metadata_url: str, name: str, admin_email: str, admin_password: str) -> None:
    """Create a tenant with its first admin user; prints {"tenant_id": ..., "user_id": ...}."""
    email = normalize_email(admin_email)
    if "@" not in email:
        raise click.BadParameter("not an email address", param_hint="--admin-email")
    if not admin_password:
        raise click.BadParameter("must not be empty", param_hint="--admin-password")
    password_hash = hash_password(admin_password)  # before the transaction: Argon2 is slow on purpose
    try:
        created = asyncio.run(_provision(metadata_url, name, email, password_hash))
    except DBAPIError as error:
        code = sqlstate(error)
        if code == UNIQUE_VIOLATION:
            raise click.ClickException(f"{email} already signs in to a tenant; nothing was created") from None
        if code == INVALID_PARAMETER_VALUE:
            raise click.BadParameter("must not be blank", param_hint="--name") from None
        raise _database_error(error) from None
    except OSError as error:  # asyncpg reports an unreachable server as the socket error it is
        raise click.ClickException(f"cannot reach the metadata database: {error}") from None
    _say(f"created tenant {created.tenant_id} with admin {email}")
    click.echo(json.dumps({"tenant_id": str(created.tenant_id), "user_id": str(created.user_id)}))


def main() -> None:
    cli(prog_name="optischema-admin")
