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
from psycopg.errors import QueryCanceled

from agent.benchmark.measurements import StatementTiming
from agent.db.session import AGENT_MARKER, AgentSession

BENCHMARK_SETTING_PREFIX = "optischema_bench.p"
# An argument computed from a parameter's value when the statement runs (binding.window_argument).
ArgumentOf = Callable[[sql.Composable], sql.Composable]
_EXPLAIN = "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON) EXECUTE {}({})"
_PLAN = "EXPLAIN (FORMAT JSON) EXECUTE {}({})"


# pg_prepared_statements names a char(n) parameter `character`, and `::character` is char(1): TPC-H's
# `r_name = $2` was bound as 'A' for 'AMERICA' and every run timed an empty join (11 ms for Q5 at
# SF 0.3, where the application's query takes 230 ms). The unbounded spellings keep the whole value.
_UNBOUNDED = {"character": "bpchar", "bit": "varbit"}


def castable_type(type_name: str) -> str:
    element, brackets = (type_name[:-2], "[]") if type_name.endswith("[]") else (type_name, "")
    return _UNBOUNDED.get(element, element) + brackets  # character[] is char(1)[] too


@dataclass(frozen=True)
class PreparedStatement:
    name: str
    parameter_types: tuple[str, ...]
    values: tuple[tuple[str, ...], ...]  # per parameter, the values to cycle through
    # Per parameter, an expression that turns its value ({value}) into the argument when it runs (a
    # window back from now: binding.window_argument); None: the value itself, cast.
    arguments: tuple[ArgumentOf | None, ...] = ()

    def bind(self, session: AgentSession, run: int) -> sql.Composable:
        """The EXECUTE arguments of a run. Each value goes into a transaction-local setting through a
        bound parameter (`SELECT set_config($1, $2, true)`), and the arguments only read the settings:
        no value is ever part of a statement's text, which the sandbox's own pg_stat_statements or
        log_statement would keep. EXECUTE evaluates them before planning, so custom plans see them."""
        arguments: list[sql.Composable] = []
        for number, (values, type_name) in enumerate(zip(self.values, self.parameter_types, strict=True), 1):
            setting = f"{BENCHMARK_SETTING_PREFIX}{number}"
            session.fetch_all(
                "SELECT pg_catalog.set_config(%s, %s, true)", [setting, values[run % len(values)]]
            )
            read = sql.SQL("pg_catalog.current_setting({})").format(sql.Literal(setting))
            computed = self.arguments[number - 1] if number <= len(self.arguments) else None
            argument = read if computed is None else sql.SQL("({})").format(computed(read))
            arguments.append(sql.SQL("{}::{}").format(argument, sql.SQL(castable_type(type_name))))
        return sql.SQL(", ").join(arguments)


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
    with session.rolled_back():
        explain = sql.SQL(_EXPLAIN).format(sql.Identifier(statement.name), statement.bind(session, run))
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


def _with_index(
    session: AgentSession, statement: PreparedStatement, run: int, timing: StatementTiming
) -> Run:
    """A run with the index; one cancelled by the statement budget is noted on the timing when the
    same values ran within it without the index (the warm-up runs that side first)."""
    try:
        return timed_run(session, statement, run, None)
    except QueryCanceled:
        timing.timed_out_with_index = True
        raise


def plan_changes(session: AgentSession, statement: PreparedStatement, drop_index: str, probes: int) -> bool:
    """Whether the index changes the plan of the statement for any of its first `probes` value sets:
    EXPLAIN only (planning, nothing executed), with and without the index, each rolled back."""
    for run in range(probes):
        shapes = set()
        for drop_first in (drop_index, None):
            with session.rolled_back():
                explain = sql.SQL(_PLAN).format(sql.Identifier(statement.name), statement.bind(session, run))
                if drop_first is not None:
                    session.connection.execute(drop_first)
                row = session.connection.execute(
                    sql.Composed([sql.SQL(AGENT_MARKER + " "), explain, sql.SQL(" " + AGENT_MARKER)])
                ).fetchone()
            assert row is not None
            shapes.add(_shape(row[0][0]["Plan"]))
        if len(shapes) > 1:
            return True
    return False


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
        _with_index(session, statement, run, timing)
    for run in range(runs):
        sides: Sequence[bool] = (True, False) if run % 2 == 0 else (False, True)
        for before in sides:
            check_budget()
            if before:
                result = timed_run(session, statement, run, drop_index)
            else:
                result = _with_index(session, statement, run, timing)
            (timing.before_ms if before else timing.after_ms).append(result.milliseconds)
            (timing.buffers_before if before else timing.buffers_after).append(result.shared_buffers)
            (timing.plans_before if before else timing.plans_after).add(result.shape)
