"""optischema-admin: the operator's commands against the metadata database.

    optischema-admin migrate [--metadata-url URL]
    optischema-admin create-tenant --name N --admin-email E [--admin-password P]
    optischema-admin rotate-signing-key [--activate]
    optischema-admin signing-keys

The URL comes from `--metadata-url` or OPTISCHEMA_METADATA_URL. Progress and errors go to stderr;
stdout carries only results meant for scripts (create-tenant's JSON).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from control_plane.auth.passwords import hash_password
from control_plane.db.engine import engine_from_url
from control_plane.db.session import INVALID_PARAMETER_VALUE, UNIQUE_VIOLATION, lookup_session, sqlstate
from control_plane.settings import Settings
from control_plane.signing.service import list_signing_keys, rotate_signing_key
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


async def _rotate(settings: Settings, activate: bool) -> tuple[str, str]:
    engine = engine_from_url(settings.metadata_url, pool_size=1, max_overflow=0)
    try:
        return await rotate_signing_key(engine, settings.secret_key.get_secret_value(), activate=activate)
    finally:
        await engine.dispose()


@cli.command("rotate-signing-key")
@_metadata_url
@click.option(
    "--activate",
    is_flag=True,
    help="Make the next key active now (the old one retires) instead of adding a next key.",
)
def rotate_signing_key_command(metadata_url: str, activate: bool) -> None:
    """Rotate the job-signing key: add a `next` key, published at once, or activate it.

    Agents adopt a published next key on their next key-set fetch; without --activate it becomes
    active on its own after OPTISCHEMA_JOB_SIGNING_ROTATION_GRACE_S. Prints {"key_id", "status"}.
    Needs the server's OPTISCHEMA_SECRET_KEY, which encrypts the stored private key.
    """
    try:
        settings = Settings(metadata_url=metadata_url)
    except ValidationError as error:
        raise click.ClickException(error.errors()[0]["msg"]) from None
    try:
        key_id, status = asyncio.run(_rotate(settings, activate))
    except LookupError as error:
        raise click.ClickException(str(error)) from None
    except DBAPIError as error:
        raise _database_error(error) from None
    except OSError as error:
        raise click.ClickException(f"cannot reach the metadata database: {error}") from None
    _say(f"the job-signing key {key_id} is {status}")
    click.echo(json.dumps({"key_id": key_id, "status": status}))


async def _list_keys(url: str) -> list[dict[str, str]]:
    engine = engine_from_url(url, pool_size=1, max_overflow=0)
    try:
        return [key.model_dump() for key in await list_signing_keys(engine)]
    finally:
        await engine.dispose()


@cli.command("signing-keys")
@_metadata_url
def signing_keys_command(metadata_url: str) -> None:
    """Print the job-signing public keys: {"keys": [{"key_id", "public_key", "status"}]}.

    The active key's public_key is what an agent's --control-plane-public-key takes.
    """
    try:
        keys = asyncio.run(_list_keys(metadata_url))
    except DBAPIError as error:
        raise _database_error(error) from None
    except OSError as error:
        raise click.ClickException(f"cannot reach the metadata database: {error}") from None
    click.echo(json.dumps({"keys": keys}))


def main() -> None:
    cli(prog_name="optischema-admin")
