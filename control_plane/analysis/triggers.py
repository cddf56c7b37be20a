"""Automatic analysis: statements whose plan or share of load changed since they were last analysed.

Checked whenever a database has a snapshot not yet looked at (`analysis_watches`), at most once per
OPTISCHEMA_ANALYSIS_CHECK_INTERVAL_S. A run is queued only when something changed materially, no
run of the database is waiting already, the last automatic run is older than the debounce, and the
database has had fewer automatic runs in the last hour than the bound. Otherwise the snapshot stays
unchecked and is looked at again next turn.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.analysis.context import WorkloadFigures
from control_plane.analysis.runs_repository import AnalysisRunRepository, AnalysisWatchRepository
from control_plane.analysis.workload_repository import WorkloadRepository
from control_plane.settings import Settings
from control_plane.tenancy.context import TenantContext


@dataclass(frozen=True)
class Baseline:
    plan_cost: float | None
    load_pct: float | None


@dataclass(frozen=True)
class ChangeThresholds:
    plan_cost_change_pct: float = 20.0
    load_change_points: float = 5.0
    min_load_pct: float = 1.0


def changed_statements(
    figures: Mapping[str, WorkloadFigures],
    plan_costs: Mapping[str, float],
    baselines: Mapping[str, Baseline],
    thresholds: ChangeThresholds,
) -> list[str]:
    """Fingerprints worth analysing again, busiest first (`figures` is in that order)."""
    changed = []
    for fingerprint, workload in figures.items():
        if workload.load_pct < thresholds.min_load_pct:
            continue
        baseline = baselines.get(fingerprint)
        if baseline is None:
            changed.append(fingerprint)  # never analysed
            continue
        cost = plan_costs.get(fingerprint)
        if cost is not None and (
            baseline.plan_cost is None
            or _relative_change(baseline.plan_cost, cost) >= thresholds.plan_cost_change_pct
        ):
            changed.append(fingerprint)
            continue
        if (
            baseline.load_pct is None
            or abs(workload.load_pct - baseline.load_pct) >= thresholds.load_change_points
        ):
            changed.append(fingerprint)
    return changed


def _relative_change(before: float, after: float) -> float:
    if before <= 0:
        return 0.0 if after <= 0 else float("inf")
    return 100.0 * abs(after - before) / before


def change_thresholds(settings: Settings) -> ChangeThresholds:
    return ChangeThresholds(
        plan_cost_change_pct=settings.analysis_plan_cost_change_pct,
        load_change_points=settings.analysis_load_change_points,
        min_load_pct=settings.analysis_min_load_pct,
    )


async def check_for_changes(
    session: AsyncSession, context: TenantContext, settings: Settings, database_id: uuid.UUID
) -> uuid.UUID | None:
    """Queues an automatic run when the database's latest snapshots call for one; its id, or None."""
    runs = AnalysisRunRepository(session, context)
    watches = AnalysisWatchRepository(session, context)
    now = await runs.now()
    if await runs.has_unfinished(database_id):
        await watches.checked(database_id, now)  # the waiting run reads the same snapshots
        return None
    # What could keep a run from being queued is asked first, before the workload is read: that read
    # sums the window's hourly rollups (a day of 5,000 statements is 120,000 rows, tens of ms), and
    # every database with a snapshot since its last check is looked at every turn (30 s), which is
    # every database of a fleet whose agents send every 30 s. The snapshots stay unchecked meanwhile.
    last_checked = await watches.last_checked(database_id)
    if last_checked is not None and now - last_checked < timedelta(
        seconds=settings.analysis_check_interval_s
    ):
        return None
    recent, latest = await runs.auto_runs_since(database_id, timedelta(hours=1))
    if latest is not None and now - latest < timedelta(seconds=settings.analysis_debounce_s):
        return None
    if recent >= settings.analysis_auto_runs_per_hour:
        return None
    workload = WorkloadRepository(session, context, database_id)
    figures = await workload.figures(
        now - timedelta(seconds=settings.analysis_window_s), None, settings.analysis_statements_per_run
    )
    plans = await workload.plans(list(figures))
    baselines = {
        fingerprint: Baseline(row.plan_cost, row.load_pct)
        for fingerprint, row in (await workload.baselines(list(figures))).items()
    }
    changed = changed_statements(
        figures, {f: p.total_cost for f, p in plans.items()}, baselines, change_thresholds(settings)
    )
    if not changed:
        await watches.checked(database_id, now)
        return None
    run = await runs.add(
        database_id, trigger="auto", fingerprints=changed, max_attempts=settings.analysis_max_attempts
    )
    await watches.checked(database_id, now)
    return run.id
