"""enqueue_job refuses an apply or rollback job whose statement the agent's allow-list would refuse,
whoever the caller is: it fails before the session is touched (None here)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest

from control_plane.job_kinds import register_job_kinds
from control_plane.jobs.service import enqueue_job
from shared.sql.ddl_allow_list import DdlRefused
from shared.wire.jobs import ChangePayload


@pytest.mark.parametrize("kind", ["apply", "rollback"])
@pytest.mark.parametrize(
    "sql", ["DROP TABLE public.orders", "CREATE INDEX i ON public.orders (a)", "DROP INDEX public.i CASCADE"]
)
def test_a_change_the_agent_would_refuse_is_never_queued(kind: Any, sql: str) -> None:
    payload = ChangePayload(recommendation_id=uuid.uuid4(), sql=sql)
    register_job_kinds()  # as the app does at start-up: the changes domain's handler admits the DDL
    with pytest.raises(DdlRefused):
        asyncio.run(
            enqueue_job(
                None,  # type: ignore[arg-type]
                None,  # type: ignore[arg-type]
                uuid.uuid4(),
                kind,
                payload,
                expires_in=timedelta(minutes=5),
                max_attempts=1,
            )
        )
