"""Workload reads: top queries and a statement's text and plan. Aggregation happens in PostgreSQL, over
the hourly and daily rollups and the raw edge hours (queries.counters_statement says which)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Integer,
    Select,
    String,
    bindparam,
    cast,
    desc,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.db.counter_sums import counter_sum
from control_plane.db.session import NUMERIC_VALUE_OUT_OF_RANGE, sqlstate
from control_plane.ingestion.repository import rollup_bucket
from control_plane.models import Plan, Statement
from control_plane.queries.counters_statement import (
    SUMMED,
    RangeBinds,
    RangeShape,
    counters_union,
    named_binds,
    params,
    plan_range,
    valued_binds,
)
from control_plane.queries.running_totals_repository import RunningTotals, RunningTotalsRepository
from control_plane.tenancy.context import TenantContext

__all__ = [
    "SUMMED",
    "QueryRepository",
    "StatementSums",
    "TopPage",
    "rollup_bucket",
    "statement_text_of",
    "utc_aware",
]
# Top statements kept, one per shape of range, order, search and sums (a few dozen in practice).
TOP_STATEMENTS_KEPT = 256


@dataclass(frozen=True)
class StatementSums:
    """One statement's counters added up over a range, and the database's total time in it."""

    fingerprint: str
    query: str
    calls: int
    total_exec_time_ms: float
    rows: int
    shared_blks_hit: int
    shared_blks_read: int
    temp_blks_written: int
    grand_total_exec_time_ms: float


@dataclass(frozen=True)
class TopPage:
    matching: int  # statements in the range (that the search matched), before paging
    statements: list[StatementSums]


def _ranked(sums: Any, order_by: str) -> tuple[ColumnElement[Any], ...]:
    """The order of a page of top statements, from the columns of their sums: busiest first by
    `order_by`, ties by fingerprint (so that pages never overlap)."""
    total, calls = sums.total_exec_time_ms, sums.calls
    orderings: dict[str, ColumnElement[Any]] = {
        "total_time": total,
        "mean_time": total / func.nullif(cast(calls, Float), 0),
        "calls": calls,
        "rows": sums.rows,
        "shared_blks_read": sums.shared_blks_read,
        "temp_blks_written": sums.temp_blks_written,
    }
    return desc(orderings[order_by]).nulls_last(), sums.fingerprint


def utc_aware(at: datetime) -> datetime:
    """A time without an offset is UTC, as PostgreSQL reads it for a timestamptz parameter."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _search_pattern(search: str) -> str:
    """ILIKE's pattern for text containing `search` (`\\` escapes)."""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class QueryRepository:
    def __init__(self, session: AsyncSession, context: TenantContext, database_id: uuid.UUID) -> None:
        self._session = session
        self._context = context
        self._tenant_id = context.tenant_id
        self._database_id = database_id

    async def running_totals(self) -> RunningTotals | None:
        return await RunningTotalsRepository(self._session, self._context, self._database_id).current()

    def counters_select(
        self,
        since: datetime,
        until: datetime,
        without_first_snapshots: bool = False,
        whole_days: bool = False,
        fingerprints: Any = None,
        totals: RunningTotals | None = None,
    ) -> Any:
        """(fingerprint, at, *SUMMED) rows whose per-fingerprint sums are those of the raw rows over
        [since, until], carrying their values (queries.counters_statement.counters_union)."""
        shape, values = plan_range(
            self._tenant_id,
            self._database_id,
            since,
            until,
            whole_days=whole_days,
            without_first_snapshots=without_first_snapshots,
            totals=totals,
        )
        return counters_union(shape, valued_binds(values), fingerprints)

    async def top(
        self,
        since: datetime,
        until: datetime,
        order_by: str,
        limit: int,
        offset: int = 0,
        search: str | None = None,
    ) -> TopPage:
        """One page of the statements over the range, busiest first, and how many there are in all
        (those whose text contains `search`, case-insensitively, when given)."""
        since, until = utc_aware(since), utc_aware(until)
        if since > until:
            return TopPage(matching=0, statements=[])
        shape, values = plan_range(
            self._tenant_id,
            self._database_id,
            since,
            until,
            whole_days=True,
            totals=await self.running_totals(),
        )
        page = {
            "page_limit": limit,
            "page_offset": offset,
            "search": _search_pattern(search) if search else "",
        }
        parameters = {**params(values), **page}
        # Bigint counters summed as bigint, not numeric (db.counter_sums): ~13 -> ~9 ms for 5,000.
        # A range whose sums pass 9.2e18 (only counters no server produces, a forged snapshot's)
        # is read again with numeric sums, behind a savepoint: exact, as before, not an error.
        try:
            async with self._session.begin_nested():
                statement = _top_statement(shape, order_by, bool(search), exact=False)
                rows = (await self._session.execute(statement, parameters)).all()
        except DBAPIError as error:
            if sqlstate(error) != NUMERIC_VALUE_OUT_OF_RANGE:
                raise
            statement = _top_statement(shape, order_by, bool(search), exact=True)
            rows = (await self._session.execute(statement, parameters)).all()
        everything_row, top = rows[0], rows[1:]
        grand_total = float(everything_row.total_exec_time_ms or 0.0)
        return TopPage(
            matching=int(everything_row.matching),
            statements=[
                StatementSums(
                    fingerprint=row.fingerprint,
                    query=row.query,
                    grand_total_exec_time_ms=grand_total,
                    **{name: getattr(row, name) for name in SUMMED},
                )
                for row in top
                # Not catalogued until a snapshot brings its text (ingestion.repository): rare, brief.
                if row.query is not None
            ],
        )

    async def text_and_plan(self, fingerprint: str) -> tuple[str, dict[str, Any] | None] | None:
        """The statement's text and its latest plan (None without one), in one round trip; None
        when the database has no such statement."""
        row = (
            await self._session.execute(
                select(Statement.query, Plan.plan)
                .outerjoin(
                    Plan,
                    (Plan.tenant_id == Statement.tenant_id)
                    & (Plan.database_id == Statement.database_id)
                    & (Plan.fingerprint == Statement.fingerprint),
                )
                .where(
                    Statement.tenant_id == self._tenant_id,
                    Statement.database_id == self._database_id,
                    Statement.fingerprint == fingerprint,
                )
            )
        ).first()
        return None if row is None else (row.query, row.plan)


@lru_cache(maxsize=TOP_STATEMENTS_KEPT)
def _top_statement(shape: RangeShape, order_by: str, searching: bool, exact: bool) -> Select[Any]:
    """The statement of `top`, built once per shape and kept (see queries.counters_statement): the
    grand total's row, then the page's, with their texts. Its parameters are the range's
    (counters_statement.params), `page_limit`, `page_offset` and `search` (an ILIKE pattern)."""
    b = named_binds()
    counters = counters_union(shape, b).subquery("counters")
    sums = {name: counter_sum(name, getattr(counters.c, name), exact) for name in SUMMED}
    # GROUPING SETS: one pass yields each statement's sums and, first, the sums over all of
    # them (what load_pct divides by), which a window over every statement would cost twice.
    # A search keeps the statements it matches (HAVING) but not out of that grand total: the
    # share of load stays the share of the database's.
    is_everything = func.grouping(counters.c.fingerprint)
    # A statement whose counters net to no calls ran only before the range: the day `since`
    # falls in is read as its daily rollup less its hours before `since` (counters_statement),
    # so a statement of those hours alone sums to zero and must not be listed (a range starting
    # between 01:00 and 11:59 listed it with 0 calls).
    kept = [or_(is_everything == 1, sums["calls"] > 0)]
    if searching:
        kept.append(or_(is_everything == 1, counters.c.fingerprint.in_(_matching(b))))
    grouped = (
        select(
            counters.c.fingerprint,
            *(column.label(name) for name, column in sums.items()),
            is_everything.label("is_everything"),
        )
        .group_by(func.grouping_sets(tuple_(counters.c.fingerprint), tuple_()))
        .having(*kept)
        .cte("grouped")
    )
    # The grand total's row, with how many statements there are, then the page: ORDER BY with
    # a LIMIT keeps only the page's rows while it reads the statements (a top-N sort), where
    # numbering every statement with a window sorted all 5,000 and ran two windows over them:
    # ~6 of the ~15 ms the read took in PostgreSQL.
    everything = select(
        grouped,
        (select(func.count()).select_from(grouped).scalar_subquery() - 1).label("matching"),
    ).where(grouped.c.is_everything == 1)
    one_page = (
        select(grouped, cast(literal(None), BigInteger).label("matching"))
        .where(grouped.c.is_everything == 0)
        .order_by(*_ranked(grouped.c, order_by))
        .offset(bindparam("page_offset", type_=Integer))
        .limit(bindparam("page_limit", type_=Integer))
    )
    page = union_all(everything, one_page.subquery().select()).subquery()
    text_of = statement_text_of(b.tenant_id, b.database_id, page.c.fingerprint)
    return (
        select(page, text_of.c.query)
        .outerjoin(text_of, true())
        .order_by(page.c.is_everything.desc(), *_ranked(page.c, order_by))
    )


def statement_text_of(tenant_id: Any, database_id: Any, fingerprint: ColumnElement[str]) -> Any:
    """A LATERAL subquery with the text (`query`) of the statement whose fingerprint is the outer
    row's, to outer-join on true: one index lookup per row, whatever the planner guesses about
    `statements` (with no statistics yet it takes the database's catalog for one row and compares
    every statement with every row). The LIMIT keeps PostgreSQL from flattening the LATERAL into a
    join; the fingerprint is the catalog's key, so there is one row anyway."""
    return (
        select(Statement.query)
        .where(
            Statement.tenant_id == tenant_id,
            Statement.database_id == database_id,
            Statement.fingerprint == fingerprint,
        )
        .limit(1)
        .lateral("text_of")
    )


def _matching(b: RangeBinds) -> Select[Any]:
    """The database's statements whose text contains the search (table names are in the text)."""
    return select(Statement.fingerprint).where(
        Statement.tenant_id == b.tenant_id,
        Statement.database_id == b.database_id,
        Statement.query.ilike(bindparam("search", type_=String), escape="\\"),
    )
