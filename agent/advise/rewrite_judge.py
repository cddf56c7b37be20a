"""The rewrite judge: is a proposed rewrite of a slow SELECT safe to look at, and is it cheaper?

A rewrite (an LLM's, later) is judged without ever running it or the original:

1. sqlglot must see each text as exactly one read-only SELECT (`check_read_only_select`): no locking
   clause, no SELECT INTO, no data-modifying CTE, no side-effecting built-in. A refusal here sends
   nothing to the server.
2. The rewrite may not introduce a `$n` the original does not have: there would be no value for it.
3. One catalog query refuses a rewrite that calls a VOLATILE function outside pg_catalog. Built-ins
   are judged by the block-list in step 1; a user-defined function is VOLATILE unless its author said
   otherwise, and may well write (an audit table, a sequence), so the rewrite must not call one.
4. Both texts get a generic plan (`explain_generic`: EXPLAIN, never ANALYZE) inside a READ ONLY
   transaction that is rolled back. The planner never evaluates a VOLATILE function, but it does fold
   IMMUTABLE ones with constant arguments: one that lies about its volatility runs while planning,
   and read-only makes its writes (even a sequence step, which rollback would not undo) fail. The
   server refuses a second statement on the extended protocol, should sqlglot ever disagree with it
   on where one ends.
5. The rewrite is accepted only when its estimated total cost is lower, by at least the margin asked.

What this cannot tell: whether the rewrite returns the same rows. Cost says nothing about equivalence,
and estimates are estimates, so an accepted rewrite is of the `estimated` tier: a person (or a test on
a copy of the data) still has to confirm it returns the same result before it replaces the original.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.collect.plans import ExplainOutcome, explain_generic
from agent.db.session import AgentSession
from shared.sql.normalized_text import max_parameter_number
from shared.sql.read_only import called_function_names, check_read_only_select

# Volatile functions a rewrite calls, by name in any schema but pg_catalog. Overloads and same-named
# functions in other schemas are all looked at: refusing one too many beats resolving search_path.
_VOLATILE_FUNCTIONS = """
SELECT DISTINCT n.nspname || '.' || p.proname
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE p.provolatile = 'v'
   AND n.nspname <> 'pg_catalog'
   AND lower(p.proname) = ANY(%s)
 ORDER BY 1
"""


@dataclass(frozen=True)
class RewriteVerdict:
    accepted: bool  # both are read-only single SELECTs, both plan, and the rewrite is cheaper
    reason: str  # why refused, or "cost 8291.1 -> 120.4 (-98.5%)"
    cost_before: float | None
    cost_after: float | None
    improvement_pct: float | None  # 100 * (before - after) / before, rounded to 0.1


def _refused(reason: str) -> RewriteVerdict:
    return RewriteVerdict(False, reason, None, None, None)


def judge_rewrite(
    session: AgentSession,
    original_sql: str,
    rewritten_sql: str,
    server_version_num: int,
    *,
    min_improvement_pct: float = 0.0,
) -> RewriteVerdict:
    """Accept the rewrite only if both texts are safe to plan and the rewrite's plan is cheaper."""
    for role, text in (("original", original_sql), ("rewrite", rewritten_sql)):
        verdict = check_read_only_select(text)
        if not verdict.ok:
            return _refused(f"the {role} is not a read-only SELECT: {verdict.reason}")
    original_parameters = max_parameter_number(original_sql)
    rewrite_parameters = max_parameter_number(rewritten_sql)
    if rewrite_parameters > original_parameters:
        plural = "" if original_parameters == 1 else "s"
        return _refused(
            f"the rewrite uses ${rewrite_parameters}, but the original has only "
            f"{original_parameters} parameter{plural} to give it"
        )
    volatile = _volatile_functions(session, rewritten_sql)
    if volatile:
        return _refused(
            f"the rewrite calls volatile function {', '.join(volatile)}, which may write and could "
            "run a different number of times than in the original"
        )
    before = _explain_read_only(session, original_sql, server_version_num)
    if before.plan is None:
        return _refused(f"the original does not plan: {_planner_error(before)}")
    after = _explain_read_only(session, rewritten_sql, server_version_num)
    if after.plan is None:
        return _refused(f"the rewrite does not plan: {_planner_error(after)}")
    return _compare(before.total_cost, after.total_cost, min_improvement_pct)


def _volatile_functions(session: AgentSession, rewritten_sql: str) -> list[str]:
    names = sorted(called_function_names(rewritten_sql))
    if not names:
        return []  # nothing called, nothing to ask the catalog
    return [str(row[0]) for row in session.fetch_all(_VOLATILE_FUNCTIONS, [names])]


def _explain_read_only(session: AgentSession, text: str, server_version_num: int) -> ExplainOutcome:
    # The planner folds IMMUTABLE calls with constant arguments, so a function lying about its
    # volatility runs while planning, and rollback does not undo a sequence step. In a read-only
    # transaction such a write fails instead, and the rewrite is refused as not planning.
    # explain_generic's own rolled-back transaction becomes a savepoint inside this one.
    with session.rolled_back():
        session.execute_text("SET TRANSACTION READ ONLY")
        return explain_generic(session, text, server_version_num)


def _planner_error(outcome: ExplainOutcome) -> str:
    return outcome.error or "the planner gave no reason"


def _compare(before: float, after: float, min_improvement_pct: float) -> RewriteVerdict:
    # A zero-cost original cannot be beaten, and has no percentage to be beaten by.
    exact = 100 * (before - after) / before if before > 0 else None
    improvement = round(exact, 1) if exact is not None else None
    change = f"cost {_cost(before)} -> {_cost(after)}"
    if improvement is not None:
        change += f" ({0.0 - improvement:+.1f}%)"  # 0.0 - x: equal costs read +0.0, not -0.0
    if after >= before:
        return RewriteVerdict(False, f"rewrite is not cheaper: {change}", before, after, improvement)
    # The unrounded figure decides: 9.96% must not pass a 10% bar by rounding up.
    if exact is None or exact < min_improvement_pct:
        return RewriteVerdict(
            False,
            f"rewrite is not cheaper enough: {change}, {min_improvement_pct:g}% required",
            before,
            after,
            improvement,
        )
    return RewriteVerdict(True, change, before, after, improvement)


def _cost(value: float) -> str:
    # Plans under one cost unit (SELECT 1 is 0.01) would all read 0.0 at one decimal.
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"
