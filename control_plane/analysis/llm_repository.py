"""The LLM answer cache, monthly token usage and a tenant's own provider settings. Tenant-scoped."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.models import LLMAnswer, LLMTokenUsage, Tenant, TenantLLMSettings
from control_plane.tenancy.context import TenantContext


class LLMRepository:
    def __init__(self, session: AsyncSession, context: TenantContext) -> None:
        self._session = session
        self._tenant_id = context.tenant_id

    async def cached_answer(
        self, fingerprint: str, context_hash: str, provider: str, model: str
    ) -> str | None:
        return await self._session.scalar(
            select(LLMAnswer.answer).where(
                LLMAnswer.tenant_id == self._tenant_id,
                LLMAnswer.fingerprint == fingerprint,
                LLMAnswer.context_hash == context_hash,
                LLMAnswer.provider == provider,
                LLMAnswer.model == model,
            )
        )

    async def cache_answer(
        self,
        fingerprint: str,
        context_hash: str,
        provider: str,
        model: str,
        answer: str,
        input_tokens: int,
        output_tokens: int,
    ) -> None:
        await self._session.execute(
            insert(LLMAnswer)
            .values(
                tenant_id=self._tenant_id,
                fingerprint=fingerprint,
                context_hash=context_hash,
                provider=provider,
                model=model,
                answer=answer,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
            )
            .on_conflict_do_nothing()
        )

    async def tokens_used(self, month: date) -> int:
        found = await self._session.scalar(
            select(LLMTokenUsage.input_tokens + LLMTokenUsage.output_tokens).where(
                LLMTokenUsage.tenant_id == self._tenant_id, LLMTokenUsage.month == month
            )
        )
        return int(found or 0)

    async def add_tokens(self, month: date, input_tokens: int, output_tokens: int) -> None:
        upsert = insert(LLMTokenUsage).values(
            tenant_id=self._tenant_id, month=month, input_tokens=input_tokens, output_tokens=output_tokens
        )
        await self._session.execute(
            upsert.on_conflict_do_update(
                index_elements=[LLMTokenUsage.tenant_id, LLMTokenUsage.month],
                set_={
                    "input_tokens": LLMTokenUsage.input_tokens + upsert.excluded.input_tokens,
                    "output_tokens": LLMTokenUsage.output_tokens + upsert.excluded.output_tokens,
                    "updated_at": func.now(),
                },
            )
        )

    async def budget_override(self) -> int | None:
        return await self._session.scalar(
            select(Tenant.llm_token_budget_monthly).where(Tenant.id == self._tenant_id)
        )

    async def set_budget_override(self, budget: int | None) -> None:
        await self._session.execute(
            update(Tenant).where(Tenant.id == self._tenant_id).values(llm_token_budget_monthly=budget)
        )

    async def provider_settings(self) -> TenantLLMSettings | None:
        return await self._session.scalar(
            select(TenantLLMSettings).where(TenantLLMSettings.tenant_id == self._tenant_id)
        )

    async def forget_provider_settings(self) -> None:
        await self._session.execute(
            delete(TenantLLMSettings).where(TenantLLMSettings.tenant_id == self._tenant_id)
        )

    async def save_provider_settings(
        self,
        *,
        provider: str,
        base_url: str | None,
        model: str | None,
        api_key_encrypted: bytes | None,
        keep_key: bool,
    ) -> None:
        values: dict[str, object] = {"provider": provider, "base_url": base_url, "model": model}
        if not keep_key:
            values["api_key_encrypted"] = api_key_encrypted
        upsert = insert(TenantLLMSettings).values(
            tenant_id=self._tenant_id,
            api_key_encrypted=api_key_encrypted,
            **{k: v for k, v in values.items() if k != "api_key_encrypted"},
        )
        await self._session.execute(
            upsert.on_conflict_do_update(
                index_elements=[TenantLLMSettings.tenant_id],
                set_={**{name: upsert.excluded[name] for name in values}, "updated_at": func.now()},
            )
        )
