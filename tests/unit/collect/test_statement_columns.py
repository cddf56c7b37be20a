"""statement_column_mapping: one select list per pg_stat_statements version, always the same output.

The select list is parsed with sqlglot rather than matched as text, so that the tests check what the
SQL means (which columns each output reads) and not how it happens to be spelled.
"""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from agent.collect.statement_columns import (
    PGSS_COLUMNS_BY_VERSION,
    StatementColumnMapping,
    statement_column_mapping,
)
from shared.wire.snapshot import StatementCounters

COUNTERS = tuple(StatementCounters.model_fields)
OUTPUT_NAMES = ("userid", "dbid", "queryid", "toplevel", *COUNTERS)

# The function's OUT columns in contrib/pg_stat_statements/pg_stat_statements--1.10--1.11.sql
# (PostgreSQL 17), transcribed independently of the module's set arithmetic.
UPSTREAM_1_11 = (
    "userid", "dbid", "toplevel", "queryid", "query", "plans", "total_plan_time", "min_plan_time",
    "max_plan_time", "mean_plan_time", "stddev_plan_time", "calls", "total_exec_time", "min_exec_time",
    "max_exec_time", "mean_exec_time", "stddev_exec_time", "rows", "shared_blks_hit", "shared_blks_read",
    "shared_blks_dirtied", "shared_blks_written", "local_blks_hit", "local_blks_read",
    "local_blks_dirtied", "local_blks_written", "temp_blks_read", "temp_blks_written",
    "shared_blk_read_time", "shared_blk_write_time", "local_blk_read_time", "local_blk_write_time",
    "temp_blk_read_time", "temp_blk_write_time", "wal_records", "wal_fpi", "wal_bytes", "jit_functions",
    "jit_generation_time", "jit_inlining_count", "jit_inlining_time", "jit_optimization_count",
    "jit_optimization_time", "jit_emission_count", "jit_emission_time", "jit_deform_count",
    "jit_deform_time", "stats_since", "minmax_stats_since",
)  # fmt: skip

# Outputs that do not simply read the column of their own name; an empty set is a literal.
SOURCES_1_7 = {
    "toplevel": set(),
    "total_exec_time_ms": {"total_time"},
    "total_plan_time_ms": set(),
    "blk_read_time_ms": {"blk_read_time"},
    "blk_write_time_ms": {"blk_write_time"},
    "wal_bytes": set(),
}
SOURCES_1_8 = SOURCES_1_7 | {
    "total_exec_time_ms": {"total_exec_time"},
    "total_plan_time_ms": {"total_plan_time"},
    "wal_bytes": {"wal_bytes"},
}
SOURCES_1_9 = SOURCES_1_8 | {"toplevel": {"toplevel"}}
SOURCES_1_11 = SOURCES_1_9 | {
    "blk_read_time_ms": {"shared_blk_read_time", "local_blk_read_time"},
    "blk_write_time_ms": {"shared_blk_write_time", "local_blk_write_time"},
}
EXPECTED_SOURCES = {
    "1.7": SOURCES_1_7,
    "1.8": SOURCES_1_8,
    "1.9": SOURCES_1_9,
    "1.10": SOURCES_1_9,
    "1.11": SOURCES_1_11,
    "1.12": SOURCES_1_11,
}
SERVERS = {
    "1.7": "PG12 or older",
    "1.8": "PG13",
    "1.9": "PG14",
    "1.10": "PG15/16",
    "1.11": "PG17",
    "1.12": "PG18",
}
VERSIONS = pytest.mark.parametrize("version", list(SERVERS), ids=[f"{v} ({s})" for v, s in SERVERS.items()])


def parsed_outputs(mapping: StatementColumnMapping) -> dict[str, set[str]]:
    """Output name -> the view columns its expression reads."""
    select = sqlglot.parse_one(f"SELECT {mapping.select_list} FROM pg_stat_statements", read="postgres")
    assert isinstance(select, exp.Select)
    return {e.alias_or_name: {c.name for c in e.find_all(exp.Column)} for e in select.expressions}


def test_documented_versions_are_the_ones_the_agent_supports() -> None:
    assert list(PGSS_COLUMNS_BY_VERSION) == list(SERVERS)


def test_documented_1_11_columns_match_the_upstream_definition() -> None:
    assert len(UPSTREAM_1_11) == len(set(UPSTREAM_1_11)) == 49
    assert set(UPSTREAM_1_11) == PGSS_COLUMNS_BY_VERSION["1.11"]


def test_documented_1_12_adds_wal_buffers_and_parallel_workers_to_1_11() -> None:
    # Read off a real PostgreSQL 18.6 view (tests/integration/test_statement_columns_on_server.py
    # checks it against the server itself).
    added = {"wal_buffers_full", "parallel_workers_to_launch", "parallel_workers_launched"}
    assert PGSS_COLUMNS_BY_VERSION["1.12"] == set(UPSTREAM_1_11) | added


def stats(*prefixes: str) -> set[str]:
    return {f"{kind}_{p}" for p in prefixes for kind in ("total", "min", "max", "mean", "stddev")}


@pytest.mark.parametrize(
    ("older", "newer", "removed", "added"),
    [
        (
            "1.7",
            "1.8",
            stats("time"),
            {"plans", *stats("plan_time", "exec_time"), "wal_records", "wal_fpi", "wal_bytes"},
        ),
        ("1.8", "1.9", set(), {"toplevel"}),
        (
            "1.9",
            "1.10",
            set(),
            {"temp_blk_read_time", "temp_blk_write_time", "jit_functions", "jit_generation_time"}
            | {
                f"jit_{step}_{unit}"
                for step in ("inlining", "optimization", "emission")
                for unit in ("count", "time")
            },
        ),
        (
            "1.10",
            "1.11",
            {"blk_read_time", "blk_write_time"},
            {f"{kind}_blk_{op}_time" for kind in ("shared", "local") for op in ("read", "write")}
            | {"jit_deform_count", "jit_deform_time", "stats_since", "minmax_stats_since"},
        ),
    ],
)
def test_each_version_changes_what_its_release_notes_say(
    older: str, newer: str, removed: set[str], added: set[str]
) -> None:
    before, after = PGSS_COLUMNS_BY_VERSION[older], PGSS_COLUMNS_BY_VERSION[newer]
    assert (before - after, after - before) == (frozenset(removed), frozenset(added))


@VERSIONS
def test_output_names_are_the_wire_counters_in_order(version: str) -> None:
    mapping = statement_column_mapping(PGSS_COLUMNS_BY_VERSION[version])
    assert mapping.counter_names == COUNTERS
    assert tuple(parsed_outputs(mapping)) == OUTPUT_NAMES


@VERSIONS
def test_select_list_reads_only_columns_of_that_version(version: str) -> None:
    columns = PGSS_COLUMNS_BY_VERSION[version]
    read = set().union(*parsed_outputs(statement_column_mapping(columns)).values())
    assert read <= columns, read - columns


@VERSIONS
def test_each_counter_reads_the_right_source_columns(version: str) -> None:
    outputs = parsed_outputs(statement_column_mapping(PGSS_COLUMNS_BY_VERSION[version]))
    expected = EXPECTED_SOURCES[version]
    for name, read in outputs.items():
        assert read == expected.get(name, {name}), name


@VERSIONS
def test_toplevel_is_reported_only_from_1_9(version: str) -> None:
    mapping = statement_column_mapping(PGSS_COLUMNS_BY_VERSION[version])
    assert mapping.has_toplevel == (version not in ("1.7", "1.8"))


@pytest.mark.parametrize(
    ("version", "expression"),
    [
        ("1.7", "true AS toplevel"),
        ("1.7", "total_time AS total_exec_time_ms"),
        ("1.7", "0::float8 AS total_plan_time_ms"),
        ("1.7", "0::bigint AS wal_bytes"),
        ("1.8", "total_exec_time AS total_exec_time_ms"),
        ("1.8", "coalesce(wal_bytes, 0)::bigint AS wal_bytes"),
        ("1.10", "blk_read_time AS blk_read_time_ms"),
        ("1.11", "shared_blk_read_time + local_blk_read_time AS blk_read_time_ms"),
        ("1.11", "shared_blk_write_time + local_blk_write_time AS blk_write_time_ms"),
    ],
)
def test_headline_expressions_read_as_documented(version: str, expression: str) -> None:
    mapping = statement_column_mapping(PGSS_COLUMNS_BY_VERSION[version])
    assert f", {expression}," in f", {mapping.select_list},"


def test_pg17_server_still_on_extension_1_7_after_pg_upgrade_maps_like_1_7() -> None:
    # Only the columns decide: the server version is deliberately not an input.
    assert statement_column_mapping(iter(PGSS_COLUMNS_BY_VERSION["1.7"])) == statement_column_mapping(
        PGSS_COLUMNS_BY_VERSION["1.7"]
    )


def test_columns_of_future_versions_are_ignored() -> None:
    # 1.12 (PostgreSQL 18) adds columns such as wal_buffers_full; nothing may change until mapped.
    newer = PGSS_COLUMNS_BY_VERSION["1.11"] | {"wal_buffers_full", "parallel_workers_launched"}
    assert statement_column_mapping(newer) == statement_column_mapping(PGSS_COLUMNS_BY_VERSION["1.11"])


@pytest.mark.parametrize("column", ["userid", "dbid", "queryid", "calls", "rows"])
def test_missing_required_column_is_named_in_the_error(column: str) -> None:
    with pytest.raises(ValueError, match=rf"required column\(s\) {column};"):
        statement_column_mapping(PGSS_COLUMNS_BY_VERSION["1.10"] - {column})


@pytest.mark.parametrize("version", ["1.7", "1.11"])
def test_missing_total_time_is_named_in_the_error(version: str) -> None:
    with pytest.raises(ValueError, match="total_exec_time or total_time"):
        statement_column_mapping(PGSS_COLUMNS_BY_VERSION[version] - {"total_time", "total_exec_time"})


def test_no_columns_at_all_names_everything_missing() -> None:
    with pytest.raises(ValueError, match="userid, dbid, queryid, calls, rows, total_exec_time or total_time"):
        statement_column_mapping([])
