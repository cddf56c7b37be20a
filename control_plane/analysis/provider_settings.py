"""Which LLM a tenant's analyses use: its own provider when it set one, else the operator's.

A tenant's API key is stored Fernet-encrypted (key derived from OPTISCHEMA_SECRET_KEY) and never
returned; a tenant's base URL must pass `check_outbound_url` when saved and again before each use,
so the control plane cannot be pointed at its own network.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import anyio
from cryptography.fernet import InvalidToken
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.analysis.llm.provider import ProviderConfig, ProviderKind
from control_plane.analysis.llm_repository import LLMRepository
from control_plane.analysis.schemas import LLMSettingsIn, LLMSettingsOut
from control_plane.api.errors import BadRequest
from control_plane.crypto.keys import fernet_for
from control_plane.edges.outbound_url import UnsafeOutboundUrl, check_outbound_url
from control_plane.models import TenantLLMSettings
from control_plane.settings import Settings
from control_plane.tenancy.context import TenantContext

DEFAULT_MODELS: dict[ProviderKind, str] = {
    "openai": "gpt-4o-mini",
    "gemini": "gemini-1.5-flash",
    "anthropic": "claude-3-5-haiku-latest",
}


def this_month(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).date().replace(day=1)


def operator_config(settings: Settings) -> ProviderConfig | None:
    """The provider chosen by environment (OPTISCHEMA_LLM_*), or None for rules only."""
    if settings.llm_provider == "none":
        return None
    kind: ProviderKind = settings.llm_provider
    return ProviderConfig(
        kind=kind,
        model=settings.llm_model or DEFAULT_MODELS[kind],
        api_key=settings.llm_api_key,
        base_url=settings.llm_base_url,
        name=kind,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
    )


def tenant_config(row: TenantLLMSettings, settings: Settings) -> ProviderConfig | None:
    if row.provider == "none":
        return None
    kind: ProviderKind = row.provider  # type: ignore[assignment]  # the table's check constraint
    key = ""
    if row.api_key_encrypted:
        try:
            key = fernet_for(settings.secret_key.get_secret_value()).decrypt(row.api_key_encrypted).decode()
        except InvalidToken:
            key = ""  # encrypted under another secret: the provider will answer 401, and say so
    return ProviderConfig(
        kind=kind,
        model=row.model or DEFAULT_MODELS[kind],
        api_key=SecretStr(key),
        base_url=row.base_url or "",
        name=f"tenant-{kind}",
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
    )


async def checked_base_url(url: str, settings: Settings) -> str:
    """check_outbound_url off the event loop (it resolves the host name)."""
    return await anyio.to_thread.run_sync(
        lambda: check_outbound_url(url, allow_private=settings.allow_private_outbound)
    )


class ProviderSettingsService:
    def __init__(self, session: AsyncSession, context: TenantContext, settings: Settings) -> None:
        self._llm = LLMRepository(session, context)
        self._settings = settings

    async def effective_budget(self) -> int:
        override = await self._llm.budget_override()
        return self._settings.llm_monthly_token_budget if override is None else override

    async def configs(self) -> tuple[list[ProviderConfig], list[str]]:
        """The providers to try, in order, and notices about any that may not be used."""
        row = await self._llm.provider_settings()
        if row is None:
            config = operator_config(self._settings)
            return ([config] if config else []), []
        config = tenant_config(row, self._settings)
        if config is None:
            return [], []
        if row.base_url:
            try:
                await checked_base_url(row.base_url, self._settings)
            except UnsafeOutboundUrl as error:
                return [], [f"the tenant's LLM base URL may not be called ({error}): rules only"]
        return [config], []

    async def read(self) -> LLMSettingsOut:
        row = await self._llm.provider_settings()
        operator = operator_config(self._settings)
        return LLMSettingsOut(
            provider=(row.provider if row else ("none" if operator is None else operator.kind)),
            base_url=row.base_url if row else None,
            model=row.model if row else (operator.model if operator else None),
            api_key_set=bool(row and row.api_key_encrypted),
            monthly_token_budget=await self._llm.budget_override(),
            effective_monthly_token_budget=await self.effective_budget(),
            tokens_used_this_month=await self._llm.tokens_used(this_month()),
            source="tenant" if row else "operator",
        )

    async def write(self, body: LLMSettingsIn) -> LLMSettingsOut:
        base_url = (body.base_url or "").strip() or None
        if base_url is not None:
            try:
                await checked_base_url(base_url, self._settings)
            except UnsafeOutboundUrl as error:
                raise BadRequest(f"base_url refused: {error}") from None
        if body.provider == "default":
            await self._llm.forget_provider_settings()
            await self._llm.set_budget_override(body.monthly_token_budget)
            return await self.read()
        encrypted: bytes | None = None
        keep_key = body.api_key is None
        if body.api_key is not None and body.api_key.get_secret_value():
            secret = self._settings.secret_key.get_secret_value()
            encrypted = fernet_for(secret).encrypt(body.api_key.get_secret_value().encode())
        await self._llm.save_provider_settings(
            provider=body.provider,
            base_url=base_url,
            model=(body.model or "").strip() or None,
            api_key_encrypted=encrypted,
            keep_key=keep_key,
        )
        await self._llm.set_budget_override(body.monthly_token_budget)
        return await self.read()
