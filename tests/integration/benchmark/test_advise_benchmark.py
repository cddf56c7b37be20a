"""`advise --benchmark`: candidates timed on the sandbox, kept as `benchmarked` or demoted with the figures."""

from __future__ import annotations

import logging

import pytest

from agent.advise.advisor import AdvisorSettings
from agent.benchmark.advice import advise_and_benchmark
from agent.benchmark.binding import sample_values
from agent.benchmark.parameters import ColumnRef
from agent.benchmark.sandbox import sandbox_database
from agent.benchmark.settings import BenchmarkSettings
from agent.config import AgentConfig, SessionLimits
from agent.db.session import MonitoredDatabase
from tests.integration.agent.conftest import run_agent
from tests.integration.benchmark.conftest import (
    SECRET,
    Pair,
    bench_indexes,
    monitored_footprint,
    planted,
    sandbox_rows,
    table_activity,
)


def test_a_real_gain_makes_the_index_benchmarked_with_real_latencies_and_size(pair: Pair) -> None:
    planted(pair)
    monitored_before = monitored_footprint(pair.monitored)
    sandbox_before = sandbox_rows(pair.sandbox)
    sandbox_activity = table_activity(pair.sandbox)

    report, output = pair.advise("--benchmark-runs", "5")

    [recommendation] = [r for r in report["recommendations"] if r["kind"] == "create_index"]
    assert recommendation["tier"] == "benchmarked"
    assert recommendation["columns"] == ["device_id"]
    benchmark = recommendation["benchmark"]
    assert benchmark["index_size_bytes"] > 100_000  # a B-tree over 200,000 rows, really built
    assert benchmark["build_seconds"] > 0
    fingerprints = {q["fingerprint"] for q in recommendation["queries"]}
    assert {s["fingerprint"] for s in benchmark["statements"]} == fingerprints
    for statement in benchmark["statements"]:
        assert statement["median_ms_after"] < statement["median_ms_before"]
        assert statement["p95_ms_before"] >= statement["median_ms_before"]
        assert statement["plan_changed"] is True
        assert statement["shared_buffers_after"] < statement["shared_buffers_before"]
    assert "Benchmarked: real gain" in recommendation["rationale"]
    assert " MB, built in " in recommendation["rationale"]
    # The sandbox: the index gone again, the timed UPDATE rolled back.
    assert bench_indexes(pair.sandbox) == []
    assert sandbox_rows(pair.sandbox) == sandbox_before
    # The statements ran on the sandbox (scans and the rolled-back updates counted there) and not
    # on the monitored database: not one row scanned or written there, no index added.
    scans_and_updates = table_activity(pair.sandbox)
    assert scans_and_updates[1] > sandbox_activity[1] and scans_and_updates[3] > sandbox_activity[3]
    assert monitored_footprint(pair.monitored) == monitored_before
    # The planted value was sampled and bound on the sandbox, and appears nowhere the agent wrote.
    assert SECRET not in output


def test_a_gain_below_the_threshold_is_demoted_with_the_measured_figures(pair: Pair) -> None:
    planted(pair)

    # HypoPG liked the index (it is recommended without --benchmark); no real gain reaches 100%.
    report, output = pair.advise("--benchmark-runs", "3", "--benchmark-min-gain", "100")

    assert [r for r in report["recommendations"] if r["kind"] == "create_index"] == []
    reasons = {s["fingerprint"]: s["reason"] for s in report["skipped"]}
    [lookup] = [s for s in report["skipped"] if (s["query"] or "").startswith("SELECT id, kind FROM events")]
    reason = reasons[lookup["fingerprint"]]
    assert reason.startswith("public.events(device_id): HypoPG estimated ")
    assert (
        "real gain " in reason
        and " ms -> " in reason
        and "below the 100% a benchmarked index needs" in reason
    )
    assert f"{lookup['fingerprint']}: median " in reason
    assert bench_indexes(pair.sandbox) == []
    assert SECRET not in output


def test_a_statement_over_its_budget_is_not_timed_and_the_index_is_dropped(pair: Pair) -> None:
    planted(pair)
    sandbox_before = sandbox_rows(pair.sandbox)

    # A sequential scan of 200,000 rows takes far more than a millisecond: every run is cancelled.
    report, output = pair.advise("--benchmark-statement-budget-ms", "1")

    [recommendation] = [r for r in report["recommendations"] if r["kind"] == "create_index"]
    assert recommendation["tier"] == "verified" and recommendation["benchmark"] is None
    assert "Not benchmarked: no statement it serves could be timed" in recommendation["rationale"]
    assert "a run exceeded the statement budget of 1 ms" in recommendation["rationale"]
    assert bench_indexes(pair.sandbox) == []
    assert sandbox_rows(pair.sandbox) == sandbox_before
    assert SECRET not in output


def test_a_leftover_of_a_killed_run_is_swept_and_an_exhausted_budget_builds_nothing(pair: Pair) -> None:
    planted(pair)
    pair.sandbox.execute("CREATE INDEX optischema_bench_leftover ON events (kind)")

    report, output = pair.advise("--benchmark-total-budget", "0")

    [recommendation] = [r for r in report["recommendations"] if r["kind"] == "create_index"]
    assert recommendation["tier"] == "verified"
    assert "Not benchmarked: the total benchmark budget of 0 s ran out" in recommendation["rationale"]
    assert "dropped the leftover index public.optischema_bench_leftover" in output
    assert bench_indexes(pair.sandbox) == []


def test_no_sampled_value_reaches_the_report_or_the_logs(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    planted(pair)
    pair.sandbox.execute("CREATE EXTENSION pg_stat_statements")
    caplog.set_level(logging.DEBUG)
    config = AgentConfig(database_url=pair.monitored_url, sandbox_database_url=pair.sandbox_url)
    database = MonitoredDatabase(config.database_url, config.limits)

    with database:
        report = advise_and_benchmark(
            database, config, config.collector, AdvisorSettings(), BenchmarkSettings(runs=3)
        )

    [recommendation] = [r for r in report.recommendations if r.kind == "create_index"]
    assert recommendation.tier == "benchmarked"
    assert "benchmark: public.events(device_id) kept" in caplog.text
    # The planted value is the most common value of `note`, so it was bound in the lookup's runs.
    sandbox = sandbox_database(pair.sandbox_url, SessionLimits())
    with sandbox, sandbox.session() as session:
        assert sample_values(session, ColumnRef("public", "events", "note"), 20)[0] == SECRET
    assert SECRET not in report.model_dump_json()
    assert SECRET not in caplog.text
    assert "note-" not in report.model_dump_json() + caplog.text
    # Nor in the text of any statement the sandbox ran (its pg_stat_statements keeps texts as sent):
    # values travel as bound parameters into transaction-local settings.
    texts = pair.sandbox.execute("SELECT query FROM pg_stat_statements").fetchall()
    assert any('EXECUTE "optischema_bench_' in text for (text,) in texts), texts
    assert not [text for (text,) in texts if SECRET in text or "note-" in text]


def test_benchmark_without_a_sandbox_is_refused_before_anything_runs(pair: Pair) -> None:
    result = run_agent("advise", "--database-url", pair.monitored_url, "--benchmark")

    assert result.returncode == 2
    assert "--benchmark needs --sandbox-database-url" in result.stderr


# Statistics gone stale on the monitored database: `code` was unique when it was last analyzed,
# then every row got the same code. HypoPG plans with those statistics and sees a one-row lookup;
# the sandbox (a fresh copy, analyzed) knows that every row matches, so no plan uses the index.
STALE_TAGS = """
    CREATE TABLE tags (id int PRIMARY KEY, code int NOT NULL, label text NOT NULL)
      WITH (autovacuum_enabled = false);
    INSERT INTO tags SELECT g, g, 'tag-' || g FROM generate_series(1, 100000) g;
"""
TAG_LOOKUP = "SELECT id, label FROM tags WHERE code = %s"


def test_an_index_hypopg_liked_but_the_real_run_does_not_is_demoted_beside_a_benchmarked_one(
    pair: Pair,
) -> None:
    pair.load(STALE_TAGS)
    planted(pair)
    pair.load("UPDATE tags SET code = 7")
    pair.sandbox.execute("ANALYZE tags")
    pair.workload(TAG_LOOKUP, [[n] for n in range(30)])

    report, output = pair.advise("--benchmark-runs", "5")

    tiers = {r["table"]: r["tier"] for r in report["recommendations"] if r["kind"] == "create_index"}
    assert tiers == {"public.events": "benchmarked"}
    [demoted] = [s for s in report["skipped"] if (s["query"] or "").startswith("SELECT id, label FROM tags")]
    assert demoted["reason"].startswith("public.tags(code")
    assert "HypoPG estimated " in demoted["reason"] and "real gain " in demoted["reason"]
    assert "real gain 0.0%" in demoted["reason"] and "no plan used the index" in demoted["reason"]
    assert "below the 10% a benchmarked index needs" in demoted["reason"]
    assert bench_indexes(pair.sandbox) == []
    assert SECRET not in output


def test_an_index_that_makes_a_statement_slower_is_demoted_whatever_its_gain(pair: Pair) -> None:
    planted(pair)
    config = AgentConfig(database_url=pair.monitored_url, sandbox_database_url=pair.sandbox_url)
    database = MonitoredDatabase(config.database_url, config.limits)
    # A tolerance below zero makes every timed statement that used the index "slower": the real
    # gain is there (the test above), and the slowdown rule alone decides.
    strict = BenchmarkSettings(runs=3, max_slowdown_pct=-100.0, slowdown_floor_ms=-1e9)

    with database:
        report = advise_and_benchmark(database, config, config.collector, AdvisorSettings(), strict)

    assert [r for r in report.recommendations if r.kind == "create_index"] == []
    [reason] = {s.reason for s in report.skipped if (s.query or "").startswith("SELECT id, kind FROM events")}
    assert reason.startswith("public.events(device_id): HypoPG estimated ")
    assert "below the" not in reason  # the gain was enough
    assert "slower, by more than the -100% a benchmarked index may cost any statement" in reason
    assert bench_indexes(pair.sandbox) == []
