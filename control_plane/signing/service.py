"""Which key signs jobs, and the key set agents pin and follow.

At start the app makes sure an active key exists: the configured one (OPTISCHEMA_JOB_SIGNING_KEY),
or one generated on first start. Rotation adds a `next` key, published at once in the signed key
set, so agents that pinned the active key adopt it before it signs anything; it becomes active
after the grace period (or at `optischema-admin rotate-signing-key --activate`), and the old key
stays published as `retired` for a while so jobs signed just before the switch still verify.

A configured key that differs from the active one goes through the same path: it becomes `next`,
then active after the grace period, so changing the environment variable never leaves pinned
agents behind.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import cast

from fastapi import HTTPException, Request, status
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from control_plane.db.session import lookup_session
from control_plane.models import SigningKey
from control_plane.settings import Settings
from control_plane.signing.keys import (
    KeyMaterial,
    SigningKeyUnreadable,
    decrypt_private_key,
    encrypt_private_key,
    parse_configured_key,
)
from control_plane.signing.repository import SigningKeyRepository
from shared.job_signing import b64url_encode, sign_job, sign_key_set
from shared.wire.jobs import JobBody, KeyStatus, PublishedKey, SignedJob, SigningKeySet

log = logging.getLogger(__name__)


class SigningUnavailable(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(status.HTTP_503_SERVICE_UNAVAILABLE, detail=detail)


class JobSigningKeys:
    """Held by the app for its whole life. Decrypts each stored key once; reads which key is
    active on every use, so a rotation done by another replica or the admin CLI applies at once."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self._engine = engine
        self._secret = settings.secret_key.get_secret_value()
        configured = settings.job_signing_key
        self._configured = parse_configured_key(configured.get_secret_value()) if configured else None
        self._grace = timedelta(seconds=settings.job_signing_rotation_grace_s)
        self._retired_published = timedelta(seconds=settings.job_signing_retired_publish_s)
        self._decrypted: dict[str, KeyMaterial] = {}

    async def ensure(self) -> None:
        """An active key exists afterwards; a `next` key past its grace period is active."""
        async with lookup_session(self._engine) as session:
            keys = SigningKeyRepository(session)
            if self._configured is not None:
                key = self._configured
                placed = await keys.add(key.key_id, key.public_key, encrypt_private_key(self._secret, key))
                if placed == "retired":
                    log.warning(
                        "OPTISCHEMA_JOB_SIGNING_KEY is %s, a retired key: it will not sign", key.key_id
                    )
            elif await keys.active() is None:
                key = KeyMaterial.generate()
                encrypted = encrypt_private_key(self._secret, key)
                if await keys.add(key.key_id, key.public_key, encrypted, only_if_none_active=True):
                    log.info("generated the job-signing key %s", key.key_id)
            activated = await keys.activate_next(self._grace)
            if activated:
                log.info("the job-signing key %s is now active", activated)

    async def ensure_at_start(self) -> None:
        """`ensure`, without stopping the app when the metadata database is not reachable yet
        (/readyz reports that): the first job handed out tries again."""
        try:
            await self.ensure()
        except (SQLAlchemyError, OSError) as error:
            log.warning("could not prepare the job-signing key yet: %s", type(error).__name__)

    def _material(self, row: SigningKey) -> KeyMaterial:
        found = self._decrypted.get(row.key_id)
        if found is None:
            if row.private_key_encrypted is None:
                raise SigningUnavailable(f"the job-signing key {row.key_id} has no private key")
            try:
                found = decrypt_private_key(self._secret, row.key_id, row.private_key_encrypted)
            except SigningKeyUnreadable as error:
                raise SigningUnavailable(str(error)) from None
            self._decrypted[row.key_id] = found
        return found

    async def _active(self, session: AsyncSession) -> KeyMaterial:
        keys = SigningKeyRepository(session)
        row = await keys.active()
        if row is None:  # the start-up step failed (metadata database down then): try again now
            await self.ensure()
            row = await keys.active()
        if row is None:
            raise SigningUnavailable("no job-signing key is active")
        return self._material(row)

    async def sign(self, session: AsyncSession, bodies: list[JobBody]) -> list[SignedJob]:
        if not bodies:
            return []
        key = await self._active(session)
        return [sign_job(key.private_key, key.key_id, body) for body in bodies]

    async def key_set(self, session: AsyncSession) -> SigningKeySet:
        keys = SigningKeyRepository(session)
        active = await self._active(session)
        now = await keys.now()
        published = [
            PublishedKey(
                key_id=row.key_id,
                public_key=b64url_encode(row.public_key),
                status=cast(KeyStatus, row.status),
            )
            for row in await keys.published(retired_after=now - self._retired_published)
        ]
        return sign_key_set(active.private_key, active.key_id, published, now)


def job_signing_keys(request: Request) -> JobSigningKeys:
    """The request dependency: the app's one JobSigningKeys, made in the lifespan."""
    found: JobSigningKeys = request.app.state.job_signing_keys
    return found


async def rotate_signing_key(engine: AsyncEngine, secret: str, *, activate: bool) -> tuple[str, str]:
    """`optischema-admin rotate-signing-key`: (key id, its status now).

    Without `activate`, a new key is added as `next` (an unused `next` is replaced). With it, the
    `next` key becomes active right away and the active one retired; LookupError when there is none.
    """
    async with lookup_session(engine) as session:
        keys = SigningKeyRepository(session)
        if activate:
            activated = await keys.activate_next(timedelta(0))
            if activated is None:
                raise LookupError(
                    "there is no next key to activate: run rotate-signing-key without --activate first"
                )
            return activated, "active"
        key = KeyMaterial.generate()
        placed = await keys.add(key.key_id, key.public_key, encrypt_private_key(secret, key))
        return key.key_id, placed or "next"


async def list_signing_keys(engine: AsyncEngine) -> list[PublishedKey]:
    """`optischema-admin signing-keys`: every key's public half, for pinning an agent by configuration."""
    async with lookup_session(engine) as session:
        rows = await SigningKeyRepository(session).published(retired_after=datetime.min.replace(tzinfo=UTC))
    return [
        PublishedKey(
            key_id=row.key_id, public_key=b64url_encode(row.public_key), status=cast(KeyStatus, row.status)
        )
        for row in rows
    ]
