"""Applying a change on a real server: it happens once, concurrently, or not at all and leaves nothing.

Each test reads the catalog afterwards: a job's answer is only believed when pg_index agrees.
"""

from __future__ import annotations

import time

import psycopg

from agent.apply.apply_job import ChangeApplier
from tests.integration.agent_apply.conftest import (
    CREATE_CUSTOMER_INDEX,
    DROP_CUSTOMER_INDEX,
    FAST,
    change,
    index_states,
    succeeded,
)


def test_an_approved_index_is_built_concurrently_and_reported_valid(
    orders: psycopg.Connection, applier: ChangeApplier
) -> None:
    result = succeeded(
        applier.run("apply", change(CREATE_CUSTOMER_INDEX, index_name="orders_customer_id_idx"))
    )

    assert result["outcome"] == "applied"
    assert result["index_valid"] is True
    assert result["index_size_bytes"] > 0
    assert result["lock_retries"] == 0
    assert index_states(orders) == {"orders_customer_id_idx": True}


def test_rerunning_an_applied_job_changes_nothing(orders: psycopg.Connection, applier: ChangeApplier) -> None:
    succeeded(applier.run("apply", change(CREATE_CUSTOMER_INDEX)))
    oid_before = orders.execute("SELECT 'orders_customer_id_idx'::regclass::oid").fetchone()

    again = succeeded(applier.run("apply", change(CREATE_CUSTOMER_INDEX)))

    assert again["outcome"] == "already_applied"
    assert again["index_valid"] is True
    assert orders.execute("SELECT 'orders_customer_id_idx'::regclass::oid").fetchone() == oid_before


def test_an_identical_index_written_differently_counts_as_already_applied(
    orders: psycopg.Connection, applier: ChangeApplier
) -> None:
    orders.execute("CREATE INDEX orders_open_idx ON orders USING btree (customer_id) WHERE status = 'open'")

    result = succeeded(
        applier.run(
            "apply",
            change("CREATE INDEX CONCURRENTLY orders_open_idx ON orders (customer_id) WHERE status = 'open'"),
        )
    )

    assert result["outcome"] == "already_applied"


def test_a_different_index_holding_the_name_fails_the_job_and_is_left_alone(
    orders: psycopg.Connection, applier: ChangeApplier
) -> None:
    orders.execute("CREATE INDEX orders_customer_id_idx ON orders (status)")

    result = applier.run("apply", change(CREATE_CUSTOMER_INDEX))

    assert result.status == "failed"
    assert "different definition" in (result.error or "")
    assert index_states(orders) == {"orders_customer_id_idx": True}


def test_rollback_drops_the_index_and_a_second_rollback_finds_it_already_absent(
    orders: psycopg.Connection, applier: ChangeApplier
) -> None:
    succeeded(applier.run("apply", change(CREATE_CUSTOMER_INDEX)))

    first = succeeded(applier.run("rollback", change(DROP_CUSTOMER_INDEX)))
    second = succeeded(applier.run("rollback", change(DROP_CUSTOMER_INDEX)))

    assert (first["outcome"], second["outcome"]) == ("rolled_back", "already_absent")
    assert index_states(orders) == {}


def test_a_table_lock_held_by_another_session_makes_the_build_retry_then_fail_cleanly(
    orders: psycopg.Connection, applier: ChangeApplier, other_session: psycopg.Connection
) -> None:
    # SHARE ROW EXCLUSIVE conflicts with the SHARE UPDATE EXCLUSIVE lock a concurrent build takes first.
    other_session.execute("LOCK TABLE orders IN SHARE ROW EXCLUSIVE MODE")
    started = time.monotonic()

    result = applier.run("apply", change(CREATE_CUSTOMER_INDEX))

    elapsed = time.monotonic() - started
    assert result.status == "failed"
    assert "gave up after 3 attempts (2 retries)" in (result.error or "")
    assert "lock timeout" in (result.error or "")
    # Three waits of 100 ms and two pauses of 50 ms: it waited, but only as long as it was told to.
    assert 0.3 <= elapsed < 2.0
    assert index_states(orders) == {}


def test_a_build_that_gave_up_waiting_for_a_writer_drops_its_invalid_index_and_retries(
    orders: psycopg.Connection, db_url: str, other_session: psycopg.Connection
) -> None:
    # A write does not block the build's first lock: the build creates its (INVALID) index, then waits
    # for the writer and gives up. The writer ends during the first pause between retries.
    other_session.execute("UPDATE orders SET status = 'done' WHERE id = 1")
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        other_session.rollback()

    result = succeeded(ChangeApplier(db_url, FAST, sleep=pause).run("apply", change(CREATE_CUSTOMER_INDEX)))

    assert result["outcome"] == "applied"
    assert result["lock_retries"] == 1
    assert pauses
    assert index_states(orders) == {"orders_customer_id_idx": True}


def test_an_invalid_index_that_cannot_be_dropped_yet_is_reported_then_reconciled_by_the_next_run(
    orders: psycopg.Connection, applier: ChangeApplier, other_session: psycopg.Connection
) -> None:
    other_session.execute("UPDATE orders SET status = 'done' WHERE id = 1")

    failed = applier.run("apply", change(CREATE_CUSTOMER_INDEX))

    assert failed.status == "failed"
    assert "lock timeout" in (failed.error or "")
    assert "the INVALID index stays until the job runs again" in (failed.error or "")
    assert index_states(orders) == {"orders_customer_id_idx": False}

    other_session.rollback()
    again = succeeded(applier.run("apply", change(CREATE_CUSTOMER_INDEX)))

    assert again["outcome"] == "applied"
    assert any(
        "INVALID index public.orders_customer_id_idx left by an earlier attempt" in w
        for w in again["warnings"]
    )
    assert index_states(orders) == {"orders_customer_id_idx": True}


def test_a_unique_index_over_duplicate_rows_fails_and_leaves_no_invalid_index(
    orders: psycopg.Connection, applier: ChangeApplier
) -> None:
    result = applier.run(
        "apply", change("CREATE UNIQUE INDEX CONCURRENTLY orders_customer_id_key ON orders (customer_id)")
    )

    assert result.status == "failed"
    assert "could not create unique index" in (result.error or "")
    assert "it left was dropped" in (result.error or "")
    assert index_states(orders) == {}


def test_a_failure_reports_the_servers_error_without_literal_values(
    orders: psycopg.Connection, applier: ChangeApplier
) -> None:
    result = applier.run(
        "apply", change("CREATE UNIQUE INDEX CONCURRENTLY orders_status_key ON orders (status)")
    )

    assert result.status == "failed"
    assert "done" not in (result.error or "") and "open" not in (result.error or "")


def test_a_transaction_older_than_the_threshold_stops_the_build_before_it_starts(
    orders: psycopg.Connection, db_url: str, other_session: psycopg.Connection
) -> None:
    other_session.execute("SELECT 1")  # opens a transaction and keeps it open
    pid = other_session.info.backend_pid
    impatient = ChangeApplier(db_url, FAST.__class__(**{**FAST.__dict__, "max_transaction_age_s": 0.0}))

    result = impatient.run("apply", change(CREATE_CUSTOMER_INDEX))

    assert result.status == "failed"
    assert f"pid {pid} open for" in (result.error or "")
    assert index_states(orders) == {}


def test_too_little_free_disk_for_the_estimated_size_stops_the_build(
    orders: psycopg.Connection, applier: ChangeApplier
) -> None:
    result = applier.run("apply", change(CREATE_CUSTOMER_INDEX, size=2**62))

    assert result.status == "failed"
    assert "not enough free disk space" in (result.error or "")
    assert index_states(orders) == {}


def test_a_job_without_a_size_estimate_checks_the_disk_against_hypopgs_estimate(
    orders: psycopg.Connection, applier: ChangeApplier
) -> None:
    result = succeeded(applier.run("apply", change(CREATE_CUSTOMER_INDEX, size=None)))

    assert not [warning for warning in result["warnings"] if "free disk space was not checked" in warning]
    assert orders.execute("SELECT count(*) FROM hypopg_list_indexes").fetchone() == (0,)


def test_without_hypopg_a_job_without_a_size_estimate_is_built_with_a_warning(
    orders: psycopg.Connection, applier: ChangeApplier
) -> None:
    orders.execute("DROP EXTENSION hypopg")

    result = succeeded(applier.run("apply", change(CREATE_CUSTOMER_INDEX, size=None)))

    assert any("no size estimate" in warning for warning in result["warnings"])


def test_a_partitioned_table_is_refused_with_its_reason(
    db: psycopg.Connection, applier: ChangeApplier
) -> None:
    db.execute(
        "CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);"
        "CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"
    )

    result = applier.run(
        "apply", change("CREATE INDEX CONCURRENTLY events_at_idx ON events (at)", table="public.events")
    )

    assert result.status == "refused"
    assert "partitioned table" in (result.error or "")


def test_analyze_of_a_table_is_applied(orders: psycopg.Connection, applier: ChangeApplier) -> None:
    result = succeeded(applier.run("apply", change("ANALYZE public.orders")))

    assert result["outcome"] == "applied"
    analyzed = orders.execute(
        "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'orders'"
    ).fetchone()
    assert analyzed == (True,)


def test_a_statement_about_another_table_than_the_job_names_is_refused(
    orders: psycopg.Connection, applier: ChangeApplier
) -> None:
    result = applier.run("apply", change(CREATE_CUSTOMER_INDEX, table="public.customers"))

    assert result.status == "refused"
    assert "public.customers" in (result.error or "")
    assert index_states(orders) == {}


def test_every_statement_of_the_agent_carries_its_marker_and_application_name(
    orders: psycopg.Connection, applier: ChangeApplier
) -> None:
    orders.execute("SELECT pg_stat_statements_reset()")

    succeeded(applier.run("apply", change(CREATE_CUSTOMER_INDEX)))

    texts = [
        row[0]
        for row in orders.execute(
            "SELECT query FROM pg_stat_statements WHERE query ILIKE '%%orders_customer_id_idx%%'"
            " AND query NOT ILIKE '%%pg_stat_statements%%'"
        ).fetchall()
    ]
    assert texts and all(text.startswith("/* optischema-agent */") for text in texts)
