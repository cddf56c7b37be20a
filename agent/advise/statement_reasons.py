"""Why nothing was proposed for a statement: the "why not" users of other advisors keep asking for."""

from __future__ import annotations

from agent.advise.workload import AdvisedStatement
from agent.collect.schema import SchemaReading

TINY_TABLE_ROWS = 1_000


def reason_without_candidates(statement: AdvisedStatement, schema: SchemaReading) -> str:
    tables = [table for table in schema.tables if statement.touches(table)]
    if statement.stats.statement_type == "insert" and not statement.base_indexes:
        return "an INSERT only pays for indexes; none can make it cheaper"
    if tables and all(table.row_estimate < TINY_TABLE_ROWS for table in tables):
        rows = ", ".join(f"{t.name} ~{t.row_estimate:.0f} rows" for t in tables)
        return f"its tables are tiny ({rows}): reading them whole is already cheapest"
    if statement.base_indexes:
        used = ", ".join(sorted(statement.base_indexes))
        return f"already served by an existing index ({used}) and nothing narrower or wider beats it"
    return "it has no filter, join, sort or grouping column an index could serve: it reads whole tables"
