"""Timing one prepared workload statement on the sandbox, with and without the candidate index.

The index is built once; a run "before" drops it inside a transaction that is rolled back (the
catalog change is undone, the index is back at once, no rebuild), a run "after" leaves it. Every run,
SELECT or DML, happens inside a rolled-back transaction, so a timed UPDATE changes no row. Times are
the server's own `Execution Time` of EXPLAIN ANALYZE (TIMING OFF: no per-node clock overhead), which
leaves out the network and the client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from agent.benchmark.measurements import StatementTiming
from agent.db.session import AGENT_MARKER, AgentSession

_EXPLAIN = "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON) EXECUTE {}({})"


@dataclass(frozen=True)
class PreparedStatement:
    name: str
    parameter_types: tuple[str, ...]
    values: tuple[tuple[str, ...], ...]  # per parameter, the values to cycle through

    def arguments(self, run: int) -> sql.Composable:
        """The run's value of every parameter, cast to the type the server inferred for it."""
        return sql.SQL(", ").join(
            sql.SQL("{}::{}").format(sql.Literal(values[run % len(values)]), sql.SQL(type_name))
            for values, type_name in zip(self.values, self.parameter_types, strict=True)
        )


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def _shape(plan: dict[str, Any]) -> str:
    """The plan's node types and index names, without conditions (which quote the values)."""
    return " > ".join(
        f"{n['Node Type']}{'(' + n['Index Name'] + ')' if 'Index Name' in n else ''}" for n in _nodes(plan)
    )


@dataclass(frozen=True)
class Run:
    milliseconds: float
    shared_buffers: int
    shape: str


def timed_run(session: AgentSession, statement: PreparedStatement, run: int, drop_first: str | None) -> Run:
    """One EXPLAIN ANALYZE of the statement in a transaction that is always rolled back; with
    `drop_first` (a DROP INDEX statement), the index is gone for this run only."""
    explain = sql.SQL(_EXPLAIN).format(sql.Identifier(statement.name), statement.arguments(run))
    with session.rolled_back():
        if drop_first is not None:
            session.connection.execute(drop_first)
        session.workload_statements_sent += 1
        row = session.connection.execute(
            sql.Composed([sql.SQL(AGENT_MARKER + " "), explain, sql.SQL(" " + AGENT_MARKER)])
        ).fetchone()
    assert row is not None
    result = row[0][0]
    plan = result["Plan"]
    return Run(
        milliseconds=float(result["Execution Time"]),
        shared_buffers=int(plan.get("Shared Hit Blocks", 0)) + int(plan.get("Shared Read Blocks", 0)),
        shape=_shape(plan),
    )


def time_statement(
    session: AgentSession,
    statement: PreparedStatement,
    timing: StatementTiming,
    *,
    drop_index: str,
    warmups: int,
    runs: int,
    check_budget: Callable[[], None],
) -> None:
    """Warm-ups of both sides first, then `runs` pairs alternating which side goes first, so that a
    cache still warming up or a drifting load does not favour one side; each pair binds the same values."""
    for run in range(warmups):
        check_budget()
        timed_run(session, statement, run, drop_index)
        timed_run(session, statement, run, None)
    for run in range(runs):
        sides: Sequence[bool] = (True, False) if run % 2 == 0 else (False, True)
        for before in sides:
            check_budget()
            result = timed_run(session, statement, run, drop_index if before else None)
            (timing.before_ms if before else timing.after_ms).append(result.milliseconds)
            (timing.buffers_before if before else timing.buffers_after).append(result.shared_buffers)
            (timing.plans_before if before else timing.plans_after).add(result.shape)
