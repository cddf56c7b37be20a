"""What the app holds for its whole life, built once in the lifespan and read by dependencies."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.auth.access_tokens import AccessTokenKeyring
from control_plane.ingestion.snapshot_checks import SnapshotChecks
from control_plane.settings import Settings


@dataclass(frozen=True)
class AppServices:
    settings: Settings
    engine: AsyncEngine
    keyring: AccessTokenKeyring

    @property
    def snapshot_checks(self) -> SnapshotChecks:
        return SnapshotChecks(self.settings.snapshot_check_processes)

    @property
    def secret_key(self) -> str:
        return self.settings.secret_key.get_secret_value()


def services(request: Request) -> AppServices:
    found: AppServices = request.app.state.services
    return found
