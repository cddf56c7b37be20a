"""One candidate benchmarked on the sandbox: built, timed before and after, dropped whatever happens."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from psycopg import sql

from agent.advise.candidate_index import CandidateIndex
from agent.benchmark.binding import (
    aggregate_values,
    bind_values,
    range_bounds,
    sorted_values,
    window_argument,
)
from agent.benchmark.candidate import BudgetExhausted, CandidateBench, Deadline, ServedStatement
from agent.benchmark.measurements import CandidateBenchmark
from agent.benchmark.parameters import AggregateRef, ColumnRef, WindowRef, parameter_sources
from agent.benchmark.sandbox import sandbox_database
from agent.benchmark.settings import BenchmarkSettings
from agent.config import CollectorSettings, SessionLimits
from agent.db.session import MonitoredDatabase
from agent.snapshot.collector import Collector
from shared.wire.snapshot import TableStats
from tests.integration.benchmark.conftest import Pair, bench_indexes, planted, sandbox_rows


class CountdownDeadline(Deadline):
    """A budget that runs out after a number of checks instead of seconds: the point where it runs
    out (after the build, between two timed runs) is then the same on every machine."""

    def __init__(self, checks: int) -> None:
        super().__init__(3600)
        self.checks_left = checks

    def check(self) -> None:
        self.checks_left -= 1
        if self.checks_left < 0:
            raise BudgetExhausted("the total benchmark budget ran out")


def workload_of(pair: Pair, keep: Callable[[str], bool]) -> tuple[list[ServedStatement], list[TableStats]]:
    """The statements whose text `keep` takes, as the collector reads them from the monitored
    database, and the schema's tables."""
    database = MonitoredDatabase(pair.monitored_url)
    with database:
        collection = Collector(database, CollectorSettings(plans_per_cycle=0)).collect()
    served = [
        ServedStatement(item.stats.fingerprint, item.stats.calls, item.raw_text)
        for item in collection.workload
        if keep(item.raw_text)
    ]
    return served, collection.schema.tables


def served_statements(pair: Pair) -> tuple[list[ServedStatement], list[TableStats]]:
    """The planted lookup and update."""
    served, tables = workload_of(
        pair, lambda text: text.startswith(("SELECT id, kind FROM events", "UPDATE events"))
    )
    assert len(served) == 2
    return served, tables


def bench(pair: Pair, deadline: Deadline, settings: BenchmarkSettings) -> CandidateBenchmark:
    served, tables = served_statements(pair)
    sandbox = sandbox_database(pair.sandbox_url, SessionLimits())
    with sandbox, sandbox.session() as session:
        return CandidateBench(session, tables, settings, deadline).run(
            CandidateIndex("public", "events", ("device_id",)), served
        )


def bench_on(
    pair: Pair, candidate: CandidateIndex, table: str
) -> tuple[CandidateBenchmark, list[ServedStatement], list[TableStats]]:
    """The workload's statements on `table` served by `candidate` and timed on the sandbox (3 runs a
    side): the result, the statements and the schema's tables."""
    served, tables = workload_of(pair, lambda text: f" {table}" in text)
    sandbox = sandbox_database(pair.sandbox_url, SessionLimits())
    with sandbox, sandbox.session() as session:
        bench = CandidateBench(session, tables, BenchmarkSettings(runs=3), Deadline(300))
        return bench.run(candidate, served), served, tables


@pytest.mark.both_servers
def test_both_statements_are_timed_before_and_after_and_the_update_is_rolled_back(pair: Pair) -> None:
    planted(pair)
    sandbox_before = sandbox_rows(pair.sandbox)

    result = bench(pair, Deadline(300), BenchmarkSettings(runs=4, warmups=1))

    assert result.measured and result.skipped == {}
    assert result.gain_pct > 50
    for timing in result.timings:
        assert len(timing.before_ms) == len(timing.after_ms) == 4
        assert timing.median_ms_after < timing.median_ms_before
        assert timing.plan_changed and timing.index_used
    assert result.index_size_bytes > 100_000
    assert bench_indexes(pair.sandbox) == []
    assert sandbox_rows(pair.sandbox) == sandbox_before


@pytest.mark.both_servers
def test_a_budget_running_out_between_runs_still_drops_the_built_index(pair: Pair) -> None:
    planted(pair)
    sandbox_before = sandbox_rows(pair.sandbox)

    # One check before the build, two for the warm-up pair, then the first timed run finds it gone.
    result = bench(pair, CountdownDeadline(checks=3), BenchmarkSettings())

    assert result.failure == "the total benchmark budget ran out"
    assert result.build_seconds > 0 and result.index_size_bytes > 0  # it was built, then dropped
    assert bench_indexes(pair.sandbox) == []
    assert sandbox_rows(pair.sandbox) == sandbox_before


KIND_COUNT = "SELECT count(*) FROM events WHERE kind = %s"
DEVICE_RANGE = "SELECT max(amount) FROM events WHERE device_id >= %s AND device_id < %s"


@pytest.mark.both_servers
def test_other_statements_on_the_table_are_timed_when_the_index_changes_their_plan(pair: Pair) -> None:
    planted(pair)
    pair.workload(KIND_COUNT, [["buy"], ["view"]])
    pair.workload(DEVICE_RANGE, [[10, 20], [500, 600]])
    database = MonitoredDatabase(pair.monitored_url)
    with database:
        collection = Collector(database, CollectorSettings(plans_per_cycle=0)).collect()
    statements = {
        item.raw_text.split(" WHERE")[0]: ServedStatement(
            item.stats.fingerprint, item.stats.calls, item.raw_text
        )
        for item in collection.workload
        if " events" in item.raw_text
    }
    served = statements.pop("SELECT id, kind FROM events")
    others = list(statements.values())
    sandbox = sandbox_database(pair.sandbox_url, SessionLimits())

    with sandbox, sandbox.session() as session:
        result = CandidateBench(
            session, collection.schema.tables, BenchmarkSettings(runs=3), Deadline(300)
        ).run(CandidateIndex("public", "events", ("device_id",)), [served], others)

    timed = {t.fingerprint: t for t in result.timings}
    # The lookup it serves; the update and the range read it was not recommended for, whose plans
    # it changes (an index scan instead of a sequential one; the range bound as a range, not empty).
    assert timed[served.fingerprint].served
    for text in ("UPDATE events SET amount = $1", "SELECT max(amount) FROM events"):
        other = timed[statements[text].fingerprint]
        assert not other.served and other.plan_changed and other.index_used
    # The count by kind cannot use an index on device_id: its plan is the same, it is not timed.
    assert statements["SELECT count(*) FROM events"].fingerprint not in timed
    assert "not served but its plan changed" in result.summary()
    assert bench_indexes(pair.sandbox) == []


SHIPMENTS = """
    CREATE TABLE shipments (id int PRIMARY KEY, mode char(10) NOT NULL, qty numeric(15, 2) NOT NULL, pad text);
    INSERT INTO shipments SELECT g, (ARRAY['AIR','RAIL','TRUCK','SHIP','MAIL','FOB','REG AIR','BOAT'])[1 + g % 8],
           g % 50, repeat('x', 200) FROM generate_series(1, 40000) g;
    ANALYZE shipments;
"""
# What pg_stat_statements keeps of it: `sum(CASE WHEN mode = $1 THEN $2 ELSE $3 END) ... mode = $4 AND
# qty <= $5 + $6`: char(n) parameters, CASE results and an offset the server cannot type by itself.
SHIPMENT_SHARE = "SELECT sum(CASE WHEN mode = 'AIR' THEN 1 ELSE 0 END) FROM shipments WHERE mode = 'TRUCK' AND qty <= 5 + 1"


@pytest.mark.both_servers
def test_char_parameters_bind_whole_and_untyped_constants_are_declared_numeric(pair: Pair) -> None:
    pair.load(SHIPMENTS)
    pair.fresh_statistics()
    pair.workload(SHIPMENT_SHARE, [[]] * 3)

    result, _, _ = bench_on(pair, CandidateIndex("public", "shipments", ("mode",)), "shipments")

    assert result.skipped == {} and result.measured
    [timing] = result.timings
    # A mode bound as its first letter ('T' for 'TRUCK', `::character` is char(1)) matches no row: the
    # index scan touched 2 blocks. Whole values read an eighth of the table's rows.
    assert min(timing.buffers_after) > 100
    assert bench_indexes(pair.sandbox) == []


def test_once_a_statement_got_slower_the_rest_is_not_timed(pair: Pair) -> None:
    planted(pair)
    # A tolerance below zero: the first statement timed with the index counts as slower.
    strict = BenchmarkSettings(runs=2, max_slowdown_pct=-100.0, slowdown_floor_ms=-1e9)

    result = bench(pair, Deadline(300), strict)

    assert len(result.timings) == 1  # of the two statements it serves
    assert result.slowed(strict.max_slowdown_pct, strict.slowdown_floor_ms) == result.timings
    assert bench_indexes(pair.sandbox) == []


PEOPLE = """
    CREATE TABLE people (id int PRIMARY KEY, email text NOT NULL, phone text NOT NULL, pad text);
    INSERT INTO people SELECT g, 'User' || g || '@Example.com', (10 + g % 25) || '-' || lpad((g % 997)::text, 3, '0'),
           repeat('x', 200) FROM generate_series(1, 60000) g;
    ANALYZE people;
"""
EMAIL_LOOKUP = "SELECT id FROM people WHERE lower(email) = %s"
# TPC-H Q22's shape: the parameters inside `substring` and the IN list compared with it.
PHONE_PREFIXES = "SELECT count(*) FROM people WHERE substring(phone FROM 1 FOR 2) IN ('13', '31', '23')"


@pytest.mark.both_servers
def test_statements_comparing_an_expression_are_timed_with_values_of_that_expression(pair: Pair) -> None:
    pair.load(PEOPLE)
    pair.fresh_statistics()
    pair.workload(EMAIL_LOOKUP, [[f"user{n}@example.com"] for n in range(1, 6)])
    pair.workload(PHONE_PREFIXES, [[]] * 3)

    result, served, _ = bench_on(pair, CandidateIndex("public", "people", ("lower(email)",)), "people")

    assert len(served) == 2
    assert result.skipped == {}, result.skipped  # both timed: neither is "unsampleable" any more
    timed = {t.fingerprint: t for t in result.timings}
    [lookup] = [timed[s.fingerprint] for s in served if "lower(email)" in s.raw_text]
    # Bound to real lowered emails: one row each through the expression index, against a scan.
    assert lookup.index_used and lookup.plan_changed
    assert max(lookup.buffers_after) < 10 < min(lookup.buffers_before)
    assert bench_indexes(pair.sandbox) == []


LINES = """
    CREATE TABLE order_lines (order_id int NOT NULL, line int NOT NULL, qty int NOT NULL, pad text);
    INSERT INTO order_lines SELECT o, l, 1 + (o * 7 + l * 13) % 50, repeat('x', 100)
      FROM generate_series(1, 30000) o, generate_series(1, 1 + o % 7) l;
    ANALYZE order_lines;
"""
# TPC-H Q18's shape: the orders whose lines add up to a lot, then their lines.
BIG_ORDERS = """
    SELECT order_id, sum(qty) FROM order_lines
     WHERE order_id IN (SELECT order_id FROM order_lines GROUP BY order_id HAVING sum(qty) > 300)
     GROUP BY order_id
"""


@pytest.mark.both_servers
def test_a_having_threshold_is_timed_with_a_value_that_keeps_few_groups(pair: Pair) -> None:
    pair.load(LINES)
    pair.fresh_statistics()
    pair.workload(BIG_ORDERS, [[]] * 3)

    result, [item], tables = bench_on(
        pair, CandidateIndex("public", "order_lines", ("order_id", "qty")), "order_lines"
    )

    assert result.skipped == {}, result.skipped  # Q18's shape is timed: it was "unsampleable"
    [timing] = result.timings
    assert len(timing.before_ms) == len(timing.after_ms) == 3
    assert bench_indexes(pair.sandbox) == []

    # The thresholds it ran with keep few orders, as `> 300` does (a HAVING is there to filter):
    # each from the top tenth of the orders' sums, never the median that keeps half of them.
    again = sandbox_database(pair.sandbox_url, SessionLimits())
    with again, again.session() as session:
        sources = parameter_sources(item.raw_text, tables, BenchmarkSettings())
        [thresholds] = bind_values(session, sources, ("bigint",), 5)
    groups = pair.sandbox.execute("SELECT count(DISTINCT order_id) FROM order_lines").fetchone()
    for threshold in thresholds:
        kept = pair.sandbox.execute(
            "SELECT count(*) FROM (SELECT order_id FROM order_lines GROUP BY order_id"
            " HAVING sum(qty) > %s::bigint) s",
            [threshold],
        ).fetchone()
        assert kept is not None and groups is not None and 0 <= kept[0] <= groups[0] * 0.15


def test_sampled_values_are_sorted_in_their_own_type_so_every_range_is_a_range(pair: Pair) -> None:
    # `ORDER BY v` over `SELECT v::text` sorted the text: '10' < '9', so a range of l_quantity (TPC-H
    # Q19's `l_quantity >= $6 AND l_quantity <= $7 + $8`) could be bound as 18 .. 2, an empty one.
    pair.load(LINES)
    pair.fresh_statistics()
    quantity = ColumnRef("public", "order_lines", "qty")
    sandbox = sandbox_database(pair.sandbox_url, SessionLimits())
    with sandbox, sandbox.session() as session:
        values = [int(v) for v in sorted_values(session, quantity, 5)]
        sums = [
            int(v)
            for v in aggregate_values(
                session, AggregateRef("public", "order_lines", "sum(qty)", ("order_id",))
            )
        ]
    assert len(values) > 10 and values == sorted(values)
    assert len(sums) > 10 and sums == sorted(sums)
    assert all(int(low) <= int(high) for low, high in range_bounds([str(v) for v in values], 9))


VISITS = """
    CREATE TABLE visits (id serial PRIMARY KEY, kind text NOT NULL, at timestamptz NOT NULL, day date NOT NULL,
                         pad text);
    INSERT INTO visits (kind, at, day, pad)
    SELECT (ARRAY['page', 'search', 'cart', 'checkout'])[1 + g % 4], now() - g * interval '1 minute',
           current_date - (g / 1440), repeat('x', 80)
      FROM generate_series(1, 60000) g;
    ANALYZE visits;
"""
# The demo shop's shape: the last day's rows of one kind, and the rows older than some days.
RECENT = "SELECT count(*) FROM visits WHERE kind = %s AND at > now() - interval '1 day'"
OLDER = "SELECT count(*) FROM visits WHERE day < current_date - 30"


@pytest.mark.both_servers
def test_a_window_back_from_now_is_timed_with_windows_that_keep_the_newest_or_oldest_rows(pair: Pair) -> None:
    pair.load(VISITS)
    pair.fresh_statistics()
    pair.workload(RECENT, [["search"], ["cart"]])
    pair.workload(OLDER, [[]])

    result, served, tables = bench_on(pair, CandidateIndex("public", "visits", ("kind", "at")), "visits")

    assert len(served) == 2
    assert result.skipped == {}, result.skipped  # "$2 is not compared with a column" before
    [recent] = [
        t
        for t in result.timings
        if "kind" in next(s.raw_text for s in served if s.fingerprint == t.fingerprint)
    ]
    assert recent.index_used and recent.plan_changed
    assert bench_indexes(pair.sandbox) == []

    # The windows it ran with: where each starts on the column, turned into the distance back from
    # now when the statement runs (window_argument); they keep the newest (a lower bound) or the
    # oldest (an upper bound) 2-33 % of the rows, in the parameter's own type.
    [recent_item] = [s for s in served if "kind" in s.raw_text]
    [older_item] = [s for s in served if "day <" in s.raw_text]
    for item, types, kept_sql in (
        (recent_item, ("text", "interval"), "SELECT count(*) FROM visits WHERE at > now() - ({})::interval"),
        (older_item, ("integer",), "SELECT count(*) FROM visits WHERE day < current_date - ({})::integer"),
    ):
        for kept in windows_kept(pair, item, tables, types, kept_sql):
            assert 0.01 * 60000 <= kept <= 0.4 * 60000, kept


def windows_kept(
    pair: Pair, item: ServedStatement, tables: list[TableStats], types: tuple[str, ...], kept_sql: str
) -> list[int]:
    """The rows each bound window of `item`'s last parameter keeps, counted by `kept_sql`."""
    sandbox = sandbox_database(pair.sandbox_url, SessionLimits())
    counts = []
    with sandbox, sandbox.session() as session:
        sources = parameter_sources(item.raw_text, tables, BenchmarkSettings())
        window = sources[len(types)]
        assert isinstance(window, WindowRef)
        argument = window_argument(session, window, types[-1])
        for point in bind_values(session, sources, types, 3)[-1]:
            query = sql.SQL(kept_sql).format(argument(sql.Literal(point)))
            row = session.fetch_one(query.as_string(None))
            assert row is not None
            counts.append(int(row[0]))
    return counts


LAST_WEEK_BUT_TODAY = (
    "SELECT count(*) FROM visits WHERE at >= now() - interval '7 days' AND at < now() - interval '1 day'"
)


@pytest.mark.both_servers
def test_windows_on_both_ends_of_a_column_are_bound_as_a_range_never_an_empty_one(pair: Pair) -> None:
    pair.load(VISITS)
    pair.fresh_statistics()
    pair.workload(LAST_WEEK_BUT_TODAY, [[]])
    served, tables = workload_of(pair, lambda text: "interval" in text.lower() or "$2" in text)
    [item] = [s for s in served if "visits" in s.raw_text]

    sandbox = sandbox_database(pair.sandbox_url, SessionLimits())
    with sandbox, sandbox.session() as session:
        starts, ends = bind_values(
            session,
            parameter_sources(item.raw_text, tables, BenchmarkSettings()),
            ("interval", "interval"),
            5,
        )
    # `at >= now() - $1 AND at < now() - $2`: $1 is where the range starts, $2 where it ends; bound
    # one by one (newest for the lower, oldest for the upper) every run would read no row at all.
    assert len(starts) == len(ends) == 5
    for start, end in zip(starts, ends, strict=True):
        kept = pair.sandbox.execute(
            "SELECT count(*) FROM visits WHERE at >= %s::timestamptz AND at < %s::timestamptz", [start, end]
        ).fetchone()
        assert kept is not None and kept[0] > 0, (start, end)


# How ORMs send an IN list: one array parameter (psycopg adapts a list to an array).
EMAILS_ANY = "SELECT id FROM people WHERE email = ANY(%s)"
PHONES_NOT_ALL = "SELECT count(*) FROM people WHERE phone <> ALL(%s::text[]) AND email = ANY(%s)"


@pytest.mark.both_servers
def test_an_array_parameter_is_timed_with_arrays_of_the_columns_values(pair: Pair) -> None:
    pair.load(PEOPLE)
    pair.fresh_statistics()
    pair.workload(EMAILS_ANY, [[[f"User{n}@Example.com", f"User{n + 1}@Example.com"]] for n in range(1, 4)])
    pair.workload(PHONES_NOT_ALL, [[["10-001"], ["User5@Example.com"]]])

    result, served, _ = bench_on(pair, CandidateIndex("public", "people", ("email",)), "people")

    assert len(served) == 2
    assert result.skipped == {}, result.skipped  # "$1 is not compared with a column" before
    for timing in result.timings:
        # Bound to arrays of real emails: a handful of rows through the index, against a scan.
        assert timing.index_used and timing.plan_changed
        assert max(timing.buffers_after) < 40 < min(timing.buffers_before)
    assert bench_indexes(pair.sandbox) == []


# Keyset pagination: the page after the last row seen.
NEXT_PAGE = "SELECT id, kind FROM visits WHERE (at, id) < (%s, %s) ORDER BY at DESC, id DESC LIMIT 20"


@pytest.mark.both_servers
def test_a_row_comparison_is_timed_with_values_of_the_columns_in_its_positions(pair: Pair) -> None:
    pair.load(VISITS)
    last_seen = pair.monitored.execute(
        "SELECT at, id FROM visits ORDER BY at DESC, id DESC OFFSET 500 LIMIT 1"
    )
    pages = [list(row) for row in last_seen.fetchall()]
    pair.fresh_statistics()  # the lookup above is not part of the workload
    pair.workload(NEXT_PAGE, pages)

    result, [item], _ = bench_on(pair, CandidateIndex("public", "visits", ("at", "id")), "visits")

    assert result.skipped == {}, result.skipped  # "$1, $2 are not compared" before
    [timing] = result.timings
    assert timing.fingerprint == item.fingerprint
    assert timing.index_used and timing.plan_changed  # 20 rows read in index order, not a sort of all
    assert bench_indexes(pair.sandbox) == []
