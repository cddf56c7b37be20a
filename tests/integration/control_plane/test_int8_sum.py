"""The bigint sum (migration 0022) that ingestion's rollups and the top-queries read add counters up
with: bigint in, bigint out, as `sum` otherwise behaves, and an overflow is an error rather than a
wrapped or rounded number."""

from __future__ import annotations

import psycopg
import pytest

from control_plane.db.counter_sums import INT8_SUM
from control_plane.ingestion.series_sql import SUMS
from shared.wire.snapshot import StatementCounters

APP_ROLE = "optischema_app"


def as_app(conn: psycopg.Connection, query: str) -> tuple[object, ...] | None:
    with conn.transaction():
        conn.execute(f"SET LOCAL ROLE {APP_ROLE}")
        return conn.execute(query).fetchone()


def test_the_app_role_adds_up_bigints_as_a_bigint_skipping_nulls_as_sum_does(metadata_url: str) -> None:
    with psycopg.connect(metadata_url, autocommit=True) as conn:
        summed = as_app(
            conn,
            f"SELECT {INT8_SUM}(x), pg_typeof({INT8_SUM}(x))::text, sum(x) "
            "FROM (VALUES (9007199254740993::bigint), (NULL), (2)) AS v(x)",
        )
        nothing = as_app(conn, f"SELECT {INT8_SUM}(x) FROM (VALUES (1::bigint)) AS v(x) WHERE false")
    # 2**53 + 3: exact, where a sum through a double would have rounded it.
    assert summed == (9007199254740995, "bigint", 9007199254740995)
    assert nothing == (None,)


def test_a_sum_beyond_bigint_is_an_error_as_storing_it_into_a_bigint_column_was(metadata_url: str) -> None:
    with (
        psycopg.connect(metadata_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.NumericValueOutOfRange),
    ):
        as_app(conn, f"SELECT {INT8_SUM}(x) FROM (VALUES (9223372036854775807::bigint), (1)) AS v(x)")


def test_ingestion_sums_every_integer_counter_as_bigint_and_every_time_as_a_double() -> None:
    for name, field in StatementCounters.model_fields.items():
        aggregate = INT8_SUM if field.annotation is int else "sum"
        assert f"{aggregate}({name}) AS {name}" in SUMS
