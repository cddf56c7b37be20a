"""Measured proof: what an applied change did to the statements it was meant to serve.

For each affected statement (the recommendation's fingerprints), the intervals collected in the
window before the change took effect are compared with those of an equally long window after it
(Settings.measure_window_s), once that window has passed. A statement counts only when it ran at
least Settings.measure_min_calls times in each window. Its change is the cut in mean execution time
per call; the recommendation's figure is the average over its statements weighted by their time
before, i.e. the cut in the total time the same workload would have taken. Shared blocks read per
call are recorded beside it. The verdict: improved, neutral or regressed (Settings thresholds). A
regression raises a notification, and the rollback stays offered.

A background job (Settings.measure_interval_s) measures what is due, tenant by tenant. A change
whose statements never ran enough stays unmeasured and is tried again on the next turn.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from control_plane.changes.lifecycle import Transition
from control_plane.changes.repository import ChangeRepository, tenants_awaiting_measurement
from control_plane.changes.trail import record_move
from control_plane.db.session import tenant_session
from control_plane.models import Recommendation
from control_plane.notifications.service import notify
from control_plane.settings import Settings
from control_plane.tenancy.context import TenantContext
from control_plane.workers.each_tenant import for_each_tenant

MEASURED = Transition("recommendation.measured", frozenset({"applied"}), "applied")
BATCH = 100


@dataclass(frozen=True)
class StatementChange:
    fingerprint: str
    calls_before: int
    calls_after: int
    mean_ms_before: float
    mean_ms_after: float
    blocks_read_per_call_before: float
    blocks_read_per_call_after: float

    @property
    def time_before_ms(self) -> float:
        return self.mean_ms_before * self.calls_before

    @property
    def improvement_pct(self) -> float:
        if self.mean_ms_before <= 0:
            return 0.0
        return 100.0 * (self.mean_ms_before - self.mean_ms_after) / self.mean_ms_before


def compare(
    before: dict[str, tuple[int, float, int]], after: dict[str, tuple[int, float, int]], min_calls: int
) -> list[StatementChange]:
    """Statements with enough calls in both windows, from (calls, exec time ms, blocks read) sums."""
    changes = []
    for fingerprint in sorted(before.keys() & after.keys()):
        (calls_b, time_b, read_b), (calls_a, time_a, read_a) = before[fingerprint], after[fingerprint]
        if calls_b < min_calls or calls_a < min_calls:
            continue
        changes.append(
            StatementChange(
                fingerprint=fingerprint,
                calls_before=calls_b,
                calls_after=calls_a,
                mean_ms_before=time_b / calls_b,
                mean_ms_after=time_a / calls_a,
                blocks_read_per_call_before=read_b / calls_b,
                blocks_read_per_call_after=read_a / calls_a,
            )
        )
    return changes


def weighted_improvement(changes: list[StatementChange]) -> float:
    weight = sum(change.time_before_ms for change in changes)
    if weight <= 0:
        return 0.0
    return sum(change.improvement_pct * change.time_before_ms for change in changes) / weight


def verdict(improvement_pct: float, settings: Settings) -> str:
    if improvement_pct >= settings.measure_improved_pct:
        return "improved"
    if improvement_pct <= -settings.measure_regressed_pct:
        return "regressed"
    return "neutral"


async def measure(
    session: AsyncSession, context: TenantContext, recommendation: Recommendation, settings: Settings
) -> Recommendation | None:
    """Records the measured proof of one applied change; None when its statements did not run enough."""
    assert recommendation.applied_at is not None
    window = timedelta(seconds=settings.measure_window_s)
    applied_at: datetime = recommendation.applied_at
    changes_repository = ChangeRepository(session, context)
    database_id, fingerprints = recommendation.database_id, recommendation.fingerprints
    before = await changes_repository.window_sums(database_id, fingerprints, applied_at - window, applied_at)
    after = await changes_repository.window_sums(database_id, fingerprints, applied_at, applied_at + window)
    changes = compare(before, after, settings.measure_min_calls)
    if not changes:
        return None
    improvement = round(weighted_improvement(changes), 2)
    found = verdict(improvement, settings)
    detail: dict[str, Any] = {
        "window_s": settings.measure_window_s,
        "verdict": found,
        "statements": [
            {
                "fingerprint": change.fingerprint,
                "calls_before": change.calls_before,
                "calls_after": change.calls_after,
                "mean_ms_before": round(change.mean_ms_before, 4),
                "mean_ms_after": round(change.mean_ms_after, 4),
                "blocks_read_per_call_before": round(change.blocks_read_per_call_before, 3),
                "blocks_read_per_call_after": round(change.blocks_read_per_call_after, 3),
                "improvement_pct": round(change.improvement_pct, 2),
            }
            for change in changes
        ],
        "statements_without_enough_calls": sorted(set(fingerprints) - {c.fingerprint for c in changes}),
    }
    measured = await changes_repository.transition(
        recommendation.id,
        MEASURED,
        values={
            "tier": "measured",
            "measured_improvement_pct": improvement,
            "measured_verdict": found,
            "measured_at": await changes_repository.now(),
            "measured_detail": detail,
        },
    )
    if measured is None:
        return None
    await record_move(
        session, context, MEASURED, measured, {"measured_improvement_pct": improvement, "verdict": found}
    )
    if found == "regressed":
        await notify(
            session, context, "recommendation.regressed", [measured], dedupe="measured", detail=detail
        )
    return measured


async def measure_tenant(engine: AsyncEngine, settings: Settings, tenant_id: uuid.UUID) -> int:
    context = TenantContext(tenant_id=tenant_id, principal="system")
    measured = 0
    async with tenant_session(engine, context) as session:
        changes = ChangeRepository(session, context)
        due_before = await changes.now() - timedelta(seconds=settings.measure_window_s)
        for recommendation in await changes.awaiting_measurement(due_before, BATCH):
            if await measure(session, context, recommendation, settings) is not None:
                measured += 1
    return measured


async def measure_applied_changes(engine: AsyncEngine, settings: Settings) -> int:
    """The background job: measures every applied change whose after-window has passed."""
    return await for_each_tenant(
        engine,
        tenants_awaiting_measurement,
        lambda tenant_id: measure_tenant(engine, settings, tenant_id),
        "measuring the applied changes",
    )
