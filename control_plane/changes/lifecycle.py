"""The one place that says which status a recommendation may move to, and from which.

    proposed ──approve──> approved ──agent leases the job──> applying ──> applied | failed
    proposed | failed ──reject──> rejected
    failed ──approve──> approved          (the agent dropped the INVALID index it left: safe to retry)
    applied ──rollback job succeeds──> rolled_back
    proposed ──another index applied that serves it──> superseded ──that index rolled back──> proposed

A rollback in flight is not a status: the index is still there until the agent drops it, so the
recommendation stays `applied` with `rollback_job_id` set, and goes back to plain `applied` if the
rollback fails. An apply job that expires or fails in any way ends as `failed`, never stuck in
`approved` or `applying`.

Every move is one conditional `UPDATE ... WHERE status IN (sources) RETURNING` (see
ChangeRepository.transition): of two admins approving at once, the second waits on the first's row
lock, then finds the row no longer `proposed` and gets a 409, so exactly one apply job is queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from control_plane.auth.permissions import Permission, permissions_of
from control_plane.models import Recommendation
from control_plane.tenancy.context import TenantContext

Action = Literal["approve", "reject", "rollback", "benchmark"]
# The tiers a benchmark on the agent's sandbox may start from: HypoPG's proof, or an earlier
# benchmark being repeated (control_plane.benchmarks).
BENCHMARKABLE_TIERS = ("verified", "benchmarked", "demoted")

# Kinds the agent can apply; rewrites and configuration changes are advice for a person to carry out.
APPLICABLE_KINDS = frozenset({"create_index", "drop_index"})
CHANGE_JOB_KINDS = ("apply", "rollback")


@dataclass(frozen=True)
class Transition:
    action: str  # the audit action that records it
    sources: frozenset[str]
    target: str

    def refusal(self, status: str) -> str:
        allowed = " or ".join(sorted(self.sources))
        return f"the recommendation is {status}; only a {allowed} one can be moved to {self.target}"


APPROVE = Transition("recommendation.approve", frozenset({"proposed", "failed"}), "approved")
REJECT = Transition("recommendation.reject", frozenset({"proposed", "failed"}), "rejected")
START_APPLY = Transition("recommendation.applying", frozenset({"approved"}), "applying")
APPLIED = Transition("recommendation.apply", frozenset({"approved", "applying"}), "applied")
APPLY_FAILED = Transition("recommendation.apply_failed", frozenset({"approved", "applying"}), "failed")
# Queueing the rollback and its failure keep the status; only its success changes it.
REQUEST_ROLLBACK = Transition("recommendation.rollback", frozenset({"applied"}), "applied")
ROLLBACK_FAILED = Transition("recommendation.rollback_failed", frozenset({"applied"}), "applied")
ROLLED_BACK = Transition("recommendation.rolled_back", frozenset({"applied"}), "rolled_back")
# Another applied index makes it pointless (control_plane.changes.supersede); its rollback reopens it.
SUPERSEDE = Transition("recommendation.superseded", frozenset({"proposed"}), "superseded")
REOPEN_SUPERSEDED = Transition("recommendation.reopened", frozenset({"superseded"}), "proposed")


class NotApplicable(ValueError):
    """The recommendation is advice the agent cannot carry out; the message says why."""


def ensure_applicable(recommendation: Recommendation) -> None:
    if recommendation.kind not in APPLICABLE_KINDS:
        raise NotApplicable(
            f"a {recommendation.kind} recommendation is advisory: OptiSchema applies only index "
            "changes; carry this one out yourself, or reject it"
        )
    if not recommendation.sql.strip():
        raise NotApplicable("the recommendation has no SQL to apply")


def ensure_rollback_possible(recommendation: Recommendation) -> None:
    if not (recommendation.rollback_sql or "").strip():
        raise NotApplicable("the recommendation has no rollback SQL")


def rollback_available(recommendation: Recommendation) -> bool:
    return (
        recommendation.status == "applied"
        and recommendation.rollback_job_id is None
        and bool((recommendation.rollback_sql or "").strip())
    )


def benchmark_refusal(recommendation: Recommendation, has_sandbox: bool) -> str | None:
    """Why the recommendation cannot be benchmarked now (the 409's message), None when it can."""
    if recommendation.kind != "create_index" or recommendation.tier not in BENCHMARKABLE_TIERS:
        return f"only a verified create_index can be benchmarked, not a {recommendation.tier} {recommendation.kind}"
    if recommendation.status != "proposed":
        return f"the recommendation is {recommendation.status}: only a proposed one is benchmarked"
    if not recommendation.table_name or not recommendation.columns or not recommendation.fingerprints:
        return "the recommendation names no table, columns or statements to time"
    earlier = recommendation.benchmark or {}
    if earlier.get("verdict") == "queued":
        return f"a benchmark is already queued (job {earlier.get('job_id')})"
    if not has_sandbox:
        return (
            "the database's agent has no sandbox: start it with --sandbox-database-url "
            "(OPTISCHEMA_SANDBOX_DATABASE_URL) to benchmark indexes"
        )
    return None


def applicable(recommendation: Recommendation) -> bool:
    try:
        ensure_applicable(recommendation)
    except NotApplicable:
        return False
    return True


# Each action a person can take on a recommendation: the permission it needs and whether the
# recommendation's state admits it now. The dashboard shows exactly these buttons, no more.
_ACTIONS: tuple[tuple[Action, Permission], ...] = (
    ("approve", "recommendation.approve"),
    ("reject", "recommendation.reject"),
    ("rollback", "recommendation.rollback"),
    ("benchmark", "simulation.run"),
)


def allowed_actions(
    recommendation: Recommendation,
    context: TenantContext,
    has_sandbox: bool = False,
    approve_refusal: str | None = None,
) -> list[Action]:
    """What the caller may do to this recommendation now: permission table AND lifecycle (and, to
    benchmark it, an agent with a sandbox; to approve it, no refusal such as a stale drop's)."""
    held = permissions_of(context.role) if context.principal == "user" else frozenset()
    possible: dict[Action, bool] = {
        "approve": applicable(recommendation)
        and recommendation.status in APPROVE.sources
        and approve_refusal is None,
        "reject": recommendation.status in REJECT.sources,
        "rollback": rollback_available(recommendation),
        "benchmark": benchmark_refusal(recommendation, has_sandbox) is None,
    }
    return [action for action, needed in _ACTIONS if needed in held and possible[action]]
