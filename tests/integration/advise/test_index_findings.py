"""Unused, duplicate and invalid index findings, on real indexes read by the agent's own schema reader."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import psycopg
import pytest

from agent.advise.index_findings import (
    duplicate_indexes,
    index_findings,
    invalid_indexes,
    unused_indexes,
)
from agent.collect.schema import SchemaReading, read_schema
from agent.db.session import MonitoredDatabase
from shared.wire.advice import Recommendation

OLD_ENOUGH = timedelta(days=30)


def read(db_url: str) -> SchemaReading:
    with MonitoredDatabase(db_url) as monitored, monitored.session() as session:
        return read_schema(session)


def dropped(recommendations: list[Recommendation]) -> list[str]:
    """The index names the recommendations drop, from their SQL."""
    return [
        r.sql.removeprefix("DROP INDEX CONCURRENTLY IF EXISTS public.").rstrip(";") for r in recommendations
    ]


def make_table(db: psycopg.Connection, name: str = "t") -> None:
    db.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, a int, b int, c text)")
    db.execute(f"INSERT INTO {name} SELECT g, g % 100, g % 7, 'x' || g FROM generate_series(1, 2000) g")
    db.execute(f"ANALYZE {name}")


def scan_with(db: psycopg.Connection, index_name: str, query: str, times: int = 3) -> None:
    """Run `query` through `index_name` and flush the statistics so another session sees the scans."""
    db.execute("SET enable_seqscan = off")
    db.execute("SET enable_bitmapscan = off")
    plan = "\n".join(str(row[0]) for row in db.execute(f"EXPLAIN {query}").fetchall())
    assert index_name in plan, plan
    for _ in range(times):
        db.execute(query).fetchall()
    db.execute("SELECT pg_stat_force_next_flush()")
    db.execute("RESET ALL")


def test_an_unused_index_is_reported_once_statistics_are_old_enough(
    db: psycopg.Connection, db_url: str
) -> None:
    make_table(db)
    db.execute("CREATE INDEX t_b_idx ON t (b)")
    reading = read(db_url)

    found = unused_indexes(
        reading.indexes, stats_age=OLD_ENOUGH, raw_definitions=reading.raw_index_definitions
    )

    assert dropped(found) == ["t_b_idx"]
    finding = found[0]
    assert (finding.kind, finding.tier, finding.table, finding.columns) == (
        "drop_index",
        "advisory",
        "public.t",
        ["b"],
    )
    assert finding.id.startswith("drop_index:") and len(finding.id) == len("drop_index:") + 16
    assert finding.rollback_sql == "CREATE INDEX CONCURRENTLY t_b_idx ON public.t USING btree (b);"
    assert "0 scans since statistics were reset 30 days ago" in finding.rationale
    assert "not unique and not backing a constraint" in finding.rationale
    assert finding.improvement_pct is None and finding.queries == []
    # The SQL and its rollback both run as they are, outside a transaction as CONCURRENTLY requires.
    db.execute(finding.sql)
    assert "t_b_idx" not in {i.name for i in read(db_url).indexes}
    assert finding.rollback_sql is not None
    db.execute(finding.rollback_sql)
    assert "t_b_idx" in {i.name for i in read(db_url).indexes}


def test_nothing_is_reported_unused_while_statistics_are_too_young_or_of_unknown_age(
    db: psycopg.Connection, db_url: str
) -> None:
    make_table(db)
    db.execute("CREATE INDEX t_b_idx ON t (b)")
    indexes = read(db_url).indexes
    assert unused_indexes(indexes, stats_age=timedelta(days=2)) == []
    assert unused_indexes(indexes, stats_age=None) == []
    assert dropped(unused_indexes(indexes, stats_age=timedelta(days=2), min_stats_age=timedelta(days=1))) == [
        "t_b_idx"
    ]


def test_a_scanned_index_is_not_unused(db: psycopg.Connection, db_url: str) -> None:
    make_table(db)
    db.execute("CREATE INDEX t_b_idx ON t (b)")
    scan_with(db, "t_b_idx", "SELECT * FROM t WHERE b = 3")
    assert unused_indexes(read(db_url).indexes, stats_age=OLD_ENOUGH) == []


def test_indexes_enforcing_something_are_never_reported_unused(db: psycopg.Connection, db_url: str) -> None:
    db.execute("CREATE TABLE t (id int PRIMARY KEY, code text UNIQUE, email text, a int)")
    db.execute("CREATE UNIQUE INDEX t_email_key ON t (email)")
    db.execute("ALTER TABLE t ADD CONSTRAINT t_a_excl EXCLUDE USING btree (a WITH =)")
    indexes = read(db_url).indexes
    assert {i.name for i in indexes} == {"t_pkey", "t_code_key", "t_email_key", "t_a_excl"}
    assert all(i.idx_scan == 0 for i in indexes)
    assert unused_indexes(indexes, stats_age=OLD_ENOUGH) == []


def test_exact_duplicates_keep_the_one_with_more_scans(db: psycopg.Connection, db_url: str) -> None:
    make_table(db)
    db.execute("CREATE INDEX t_a_second ON t (a)")
    scan_with(db, "t_a_second", "SELECT * FROM t WHERE a = 5")
    db.execute("CREATE INDEX t_a_first ON t (a)")  # alphabetically first, but never scanned
    reading = read(db_url)

    found = duplicate_indexes(reading.indexes, raw_definitions=reading.raw_index_definitions)

    assert dropped(found) == ["t_a_first"]
    assert "Same definition as t_a_second" in found[0].rationale
    assert "it has more scans" in found[0].rationale
    assert found[0].rollback_sql == "CREATE INDEX CONCURRENTLY t_a_first ON public.t USING btree (a);"


def test_exact_duplicates_without_scans_keep_the_alphabetically_first(
    db: psycopg.Connection, db_url: str
) -> None:
    make_table(db)
    db.execute("CREATE INDEX t_a_2 ON t (a)")
    db.execute("CREATE INDEX t_a_1 ON t (a)")
    assert dropped(duplicate_indexes(read(db_url).indexes)) == ["t_a_2"]


def test_a_duplicate_of_a_constraint_index_drops_the_other_one(db: psycopg.Connection, db_url: str) -> None:
    db.execute("CREATE TABLE t (id int, code text CONSTRAINT t_code_key UNIQUE)")
    db.execute("CREATE UNIQUE INDEX a_code_copy ON t (code)")  # alphabetically first, still dropped
    db.execute("CREATE UNIQUE INDEX t_id_pkey_twin ON t (id)")
    db.execute("ALTER TABLE t ADD PRIMARY KEY (id)")
    found = duplicate_indexes(read(db_url).indexes)
    assert sorted(dropped(found)) == ["a_code_copy", "t_id_pkey_twin"]
    assert all("it backs a constraint" in r.rationale for r in found)


def test_indexes_that_differ_are_not_duplicates(db: psycopg.Connection, db_url: str) -> None:
    make_table(db)
    db.execute("CREATE INDEX t_a_asc ON t (a)")
    db.execute("CREATE INDEX t_a_desc ON t (a DESC)")
    db.execute("CREATE INDEX t_a_hash ON t USING hash (a)")
    db.execute("CREATE INDEX t_a_partial_1 ON t (a) WHERE b = 1")
    db.execute("CREATE INDEX t_a_partial_2 ON t (a) WHERE b = 2")  # differs only in a constant
    db.execute("CREATE INDEX t_c_pattern ON t (c text_pattern_ops)")
    db.execute("CREATE INDEX t_c_plain ON t (c)")
    db.execute("CREATE INDEX t_a_include ON t (a) INCLUDE (c)")
    reading = read(db_url)
    assert duplicate_indexes(reading.indexes, raw_definitions=reading.raw_index_definitions) == []
    # Without the raw definitions the partial indexes cannot be told apart, so they are not compared.
    assert duplicate_indexes(reading.indexes) == []


def test_a_prefix_of_a_wider_btree_is_redundant(db: psycopg.Connection, db_url: str) -> None:
    make_table(db)
    db.execute("CREATE INDEX t_a_idx ON t (a)")
    db.execute("CREATE INDEX t_a_b_idx ON t (a, b)")
    db.execute("CREATE INDEX t_a_b_c_idx ON t (a, b, c)")
    found = duplicate_indexes(read(db_url).indexes)
    assert dropped(found) == ["t_a_b_idx", "t_a_idx"]
    assert "lead t_a_b_c_idx (a, b, c)" in found[0].rationale
    assert "lead t_a_b_idx (a, b)" in found[1].rationale  # the narrowest wider index is named


def test_a_unique_prefix_is_not_redundant(db: psycopg.Connection, db_url: str) -> None:
    db.execute("CREATE TABLE u (a int, b int)")
    db.execute("CREATE UNIQUE INDEX u_a_key ON u (a)")  # enforces what (a, b) does not
    db.execute("CREATE INDEX u_a_b_idx ON u (a, b)")
    assert duplicate_indexes(read(db_url).indexes) == []


def test_prefixes_that_serve_something_else_are_not_redundant(db: psycopg.Connection, db_url: str) -> None:
    make_table(db)
    db.execute("CREATE INDEX t_c_b_idx ON t (c, b)")
    db.execute("CREATE INDEX t_c_pattern ON t (c text_pattern_ops)")  # LIKE 'x%' under any collation
    db.execute("CREATE INDEX t_c_partial ON t (c) WHERE a > 5")
    db.execute("CREATE INDEX t_c_include ON t (c) INCLUDE (a)")  # index-only scans reading a
    db.execute("CREATE INDEX t_lower_c ON t (lower(c))")
    db.execute("CREATE INDEX t_lower_c_b ON t (lower(c), b)")
    reading = read(db_url)
    assert duplicate_indexes(reading.indexes, raw_definitions=reading.raw_index_definitions) == []


def test_an_invalid_index_left_by_a_failed_concurrent_build_is_reported(
    db: psycopg.Connection, db_url: str
) -> None:
    make_table(db)
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute("CREATE UNIQUE INDEX CONCURRENTLY t_b_key ON t (b)")  # b repeats every 7 rows
    reading = read(db_url)
    invalid = [i for i in reading.indexes if i.name == "t_b_key"]
    assert len(invalid) == 1 and not invalid[0].is_valid

    found = invalid_indexes(reading.indexes, raw_definitions=reading.raw_index_definitions)

    assert dropped(found) == ["t_b_key"]
    assert "INVALID" in found[0].rationale and "duplicate values" in found[0].rationale
    assert found[0].rollback_sql == "CREATE UNIQUE INDEX CONCURRENTLY t_b_key ON public.t USING btree (b);"
    # Neither unused (it is unique) nor a duplicate: reported once, as invalid.
    everything = index_findings(
        reading.indexes, stats_age=OLD_ENOUGH, raw_definitions=reading.raw_index_definitions
    )
    assert dropped(everything) == ["t_b_key"]
    db.execute(found[0].sql)
    assert "t_b_key" not in {i.name for i in read(db_url).indexes}


def test_index_findings_report_each_index_once(db: psycopg.Connection, db_url: str) -> None:
    make_table(db)
    db.execute("CREATE INDEX t_a_1 ON t (a)")
    db.execute("CREATE INDEX t_a_2 ON t (a)")  # unused and a duplicate
    found = index_findings(read(db_url).indexes, stats_age=OLD_ENOUGH)
    assert sorted(dropped(found)) == ["t_a_1", "t_a_2"]
    duplicate = next(r for r in found if r.sql.endswith("t_a_2;"))
    assert duplicate.rationale.startswith("Same definition as t_a_1")
    assert len({r.id for r in found}) == len(found)


def test_indexes_of_partitioned_tables_are_left_alone(db: psycopg.Connection, db_url: str) -> None:
    db.execute("CREATE TABLE p (id int, a int, b int) PARTITION BY RANGE (id)")
    db.execute("CREATE INDEX p_a_idx ON p (a)")
    db.execute("CREATE INDEX p_a_twin ON p (a)")
    db.execute("CREATE TABLE p_1 PARTITION OF p FOR VALUES FROM (0) TO (100)")
    # Invalid until the partitions' indexes are attached: a lock-free build in progress, not a failure.
    db.execute("CREATE INDEX p_b_idx ON ONLY p (b)")
    reading = read(db_url)
    parents = [i for i in reading.indexes if i.table == "p"]
    assert {i.name for i in parents} == {"p_a_idx", "p_a_twin", "p_b_idx"}
    assert not next(i for i in parents if i.name == "p_b_idx").is_valid
    # The partition's own (attached) indexes cannot be told apart from plain ones here; leave them out.
    reading = dataclasses.replace(reading, indexes=parents)
    assert (
        index_findings(reading.indexes, stats_age=OLD_ENOUGH, raw_definitions=reading.raw_index_definitions)
        == []
    )
