"""Why nothing was proposed for a statement: the "why not" users of other advisors keep asking for.

Each class of statement gets its own true reason: one that reads no table, one over tables the
planner knows nothing about (never analysed, or empty), tiny tables, an existing index, and only
then "it reads whole tables".
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.advise.workload import AdvisedStatement
from agent.collect.schema import SchemaReading
from shared.sql.index_ddl import qualified_name
from shared.wire.snapshot import TableStats

TINY_TABLE_ROWS = 1_000


def never_analyzed(table: TableStats) -> bool:
    """No ANALYZE (manual or auto) has left statistics: its row count is the planner's guess.

    pg_stats rows (a column's n_distinct) survive a statistics reset that clears last_analyze, so
    both must be missing. A partitioned parent is judged by its partitions, which hold the rows."""
    if table.is_partitioned or table.last_analyze or table.last_autoanalyze:
        return False
    return not any(column.n_distinct is not None for column in table.columns)


def empty(table: TableStats) -> bool:
    return not table.is_partitioned and table.row_estimate == 0 and table.n_live_tup == 0


def unknown_tables_reason(tables: Sequence[TableStats]) -> str | None:
    """The reason to skip a statement whose plan rests on the planner's default size guess.

    Without statistics PostgreSQL assumes a table of about ten pages whatever it holds, so an index
    it "proves" would be proven on invented numbers."""
    unanalyzed = [t for t in tables if never_analyzed(t)]
    if unanalyzed:
        names = ", ".join(qualified_name(t.schema_name, t.name) for t in unanalyzed)
        return (
            f"{names} never analysed: the planner's costs rest on its default size guess, so no index "
            f"can be judged; run ANALYZE {names}; and advise again"
        )
    hollow = [t for t in tables if empty(t)]
    if hollow:
        names = ", ".join(qualified_name(t.schema_name, t.name) for t in hollow)
        return (
            f"{names} empty as far as ANALYZE saw: the planner's costs are its default size guess; "
            f"once it holds data run ANALYZE {names}; and advise again"
        )
    return None


def reason_without_candidates(statement: AdvisedStatement, schema: SchemaReading) -> str:
    tables = [table for table in schema.tables if statement.touches(table)]
    if not statement.stats.relations and not tables:
        return "it reads no table (constants or function calls only): there is nothing to index"
    if statement.stats.statement_type == "insert" and not statement.base_indexes:
        return "an INSERT only pays for indexes; none can make it cheaper"
    if tables and all(table.row_estimate < TINY_TABLE_ROWS for table in tables):
        rows = ", ".join(f"{t.name} ~{t.row_estimate:.0f} rows" for t in tables)
        return f"its tables are tiny ({rows}): reading them whole is already cheapest"
    if statement.base_indexes:
        used = ", ".join(sorted(statement.base_indexes))
        return f"already served by an existing index ({used}) and nothing narrower or wider beats it"
    if not tables:
        return "it reads no table the advisor could resolve (a function, a foreign table or an unknown view)"
    return "it has no filter, join, sort or grouping column an index could serve: it reads whole tables"


def catalog_reason(count: int) -> str:
    return (
        f"{count} statement(s) read only system catalogs (pg_catalog, information_schema) or call only "
        "pg_* functions: their indexes are PostgreSQL's own and cannot be changed"
    )
