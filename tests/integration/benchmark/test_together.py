"""The benchmarked indexes built together: a statement the set makes slower costs its weakest member."""

from __future__ import annotations

from agent.advise.candidate_index import CandidateIndex
from agent.benchmark.candidate import Deadline, ServedStatement
from agent.benchmark.sandbox import sandbox_database
from agent.benchmark.settings import BenchmarkSettings
from agent.benchmark.together import Member, TogetherResult, check_together
from agent.config import CollectorSettings, SessionLimits
from agent.db.session import MonitoredDatabase
from agent.snapshot.collector import Collector
from tests.integration.benchmark.conftest import Pair, bench_indexes, planted

EITHER = "SELECT id FROM events WHERE device_id = %s OR account_id = %s"
MEMBERS = [
    Member("create_index:device", CandidateIndex("public", "events", ("device_id",)), gain_pct=80.0),
    Member("create_index:account", CandidateIndex("public", "events", ("account_id",)), gain_pct=30.0),
]


def together(pair: Pair, settings: BenchmarkSettings) -> TogetherResult:
    planted(pair)
    pair.workload(EITHER, [[n, n] for n in range(10)])
    database = MonitoredDatabase(pair.monitored_url)
    with database:
        collection = Collector(database, CollectorSettings(plans_per_cycle=0)).collect()
    [item] = [i for i in collection.workload if " OR account_id" in i.raw_text]
    statement = ServedStatement(item.stats.fingerprint, item.stats.calls, item.raw_text)
    sandbox = sandbox_database(pair.sandbox_url, SessionLimits())
    with sandbox, sandbox.session() as session:
        return check_together(
            session, collection.schema.tables, settings, Deadline(300), MEMBERS, [statement]
        )


def test_a_statement_both_indexes_serve_is_timed_with_the_set_and_nothing_is_demoted_for_a_gain(
    pair: Pair,
) -> None:
    result = together(pair, BenchmarkSettings(runs=3))

    # device_id = $1 OR account_id = $2: a BitmapOr of both indexes, far faster than a sequential scan.
    [timing] = result.timings
    assert timing.median_ms_after < timing.median_ms_before
    assert result.failure is None and result.demoted == {}
    assert bench_indexes(pair.sandbox) == []


def test_a_statement_the_set_makes_slower_demotes_the_member_with_the_smaller_gain(pair: Pair) -> None:
    # A tolerance below zero: every statement whose plan used an index counts as slower.
    strict = BenchmarkSettings(runs=3, max_slowdown_pct=-100.0, slowdown_floor_ms=-1e9)

    result = together(pair, strict)

    assert list(result.demoted) == ["create_index:account"]
    reason = result.demoted["create_index:account"]
    assert reason.startswith(
        "public.events(account_id): with the other benchmarked indexes (public.events(device_id))"
    )
    assert "alone it gained 30.0%" in reason
    assert bench_indexes(pair.sandbox) == []
