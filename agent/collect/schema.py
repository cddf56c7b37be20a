"""Schema context: tables, columns and indexes with their statistics.

Never reads `most_common_vals` or histograms from pg_stats: they hold real values. Index
definitions can hold literals (partial-index predicates, expressions), so they are scrubbed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.anonymize.definitions import scrub_index_definition
from agent.db.session import AgentSession
from shared.wire.snapshot import ColumnStats, IndexStats, TableStats

_USER_SCHEMAS = """
    n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp%%'
"""

TABLES_QUERY = (
    """
    SELECT c.oid, n.nspname, c.relname, c.relkind = 'p', c.reltuples,
           pg_total_relation_size(c.oid), pg_table_size(c.oid), pg_indexes_size(c.oid),
           coalesce(s.seq_scan, 0), coalesce(s.seq_tup_read, 0), coalesce(s.idx_scan, 0),
           coalesce(s.idx_tup_fetch, 0), coalesce(s.n_tup_ins, 0), coalesce(s.n_tup_upd, 0),
           coalesce(s.n_tup_del, 0), coalesce(s.n_tup_hot_upd, 0), coalesce(s.n_live_tup, 0),
           coalesce(s.n_dead_tup, 0), s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
     WHERE c.relkind IN ('r', 'p', 'm') AND """
    + _USER_SCHEMAS
    + " ORDER BY n.nspname, c.relname"
)

COLUMNS_QUERY = (
    """
    SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
           s.null_frac, s.n_distinct, s.correlation, s.avg_width
      FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname
                          AND s.attname = a.attname AND s.inherited = (c.relkind = 'p')
     WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'm') AND """
    + _USER_SCHEMAS
    + " ORDER BY a.attrelid, a.attnum"
)

INDEXES_QUERY = (
    """
    SELECT n.nspname, t.relname, i.relname, pg_get_indexdef(i.oid), am.amname,
           x.indisunique, x.indisprimary, x.indisvalid, x.indpred IS NOT NULL,
           EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.oid),
           pg_relation_size(i.oid), coalesce(s.idx_scan, 0), coalesce(s.idx_tup_read, 0),
           coalesce(s.idx_tup_fetch, 0),
           ARRAY(SELECT coalesce(a.attname, 'expr')
                   FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                   LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
                                           AND k.attnum > 0
                  WHERE k.ord <= x.indnkeyatts
                  ORDER BY k.ord)
      FROM pg_index x
      JOIN pg_class i ON i.oid = x.indexrelid
      JOIN pg_class t ON t.oid = x.indrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
      JOIN pg_am am ON am.oid = i.relam
      LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = x.indexrelid
     WHERE """
    + _USER_SCHEMAS
    + " ORDER BY n.nspname, t.relname, i.relname"
)


@dataclass(frozen=True)
class SchemaReading:
    tables: list[TableStats]
    indexes: list[IndexStats]
    # Raw definitions stay inside the agent: the local advisor needs them, the wire never sees them.
    raw_index_definitions: dict[tuple[str, str], str]


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def read_schema(session: AgentSession) -> SchemaReading:
    columns_by_table: dict[int, list[ColumnStats]] = {}
    for relid, name, type_name, not_null, null_frac, n_distinct, correlation, avg_width in session.fetch_all(
        COLUMNS_QUERY
    ):
        columns_by_table.setdefault(int(relid), []).append(
            ColumnStats(
                name=name,
                type=type_name,
                not_null=bool(not_null),
                null_frac=_float_or_none(null_frac),
                n_distinct=_float_or_none(n_distinct),
                correlation=_float_or_none(correlation),
                avg_width=None if avg_width is None else int(avg_width),
            )
        )

    tables = [
        TableStats(
            schema_name=row[1],
            name=row[2],
            is_partitioned=bool(row[3]),
            row_estimate=max(float(row[4]), 0.0),  # -1 means "never analyzed" on PostgreSQL 14+
            total_bytes=int(row[5]),
            table_bytes=int(row[6]),
            index_bytes=int(row[7]),
            seq_scan=int(row[8]),
            seq_tup_read=int(row[9]),
            idx_scan=int(row[10]),
            idx_tup_fetch=int(row[11]),
            n_tup_ins=int(row[12]),
            n_tup_upd=int(row[13]),
            n_tup_del=int(row[14]),
            n_tup_hot_upd=int(row[15]),
            n_live_tup=int(row[16]),
            n_dead_tup=int(row[17]),
            last_vacuum=row[18],
            last_autovacuum=row[19],
            last_analyze=row[20],
            last_autoanalyze=row[21],
            columns=columns_by_table.get(int(row[0]), []),
        )
        for row in session.fetch_all(TABLES_QUERY)
    ]

    indexes: list[IndexStats] = []
    raw_definitions: dict[tuple[str, str], str] = {}
    for row in session.fetch_all(INDEXES_QUERY):
        schema_name, table, name, definition = row[0], row[1], row[2], row[3]
        raw_definitions[(schema_name, name)] = definition
        indexes.append(
            IndexStats(
                schema_name=schema_name,
                table=table,
                name=name,
                definition=scrub_index_definition(definition),
                access_method=row[4],
                is_unique=bool(row[5]),
                is_primary=bool(row[6]),
                is_valid=bool(row[7]),
                is_partial=bool(row[8]),
                backs_constraint=bool(row[9]),
                size_bytes=int(row[10]),
                idx_scan=int(row[11]),
                idx_tup_read=int(row[12]),
                idx_tup_fetch=int(row[13]),
                columns=list(row[14]),
            )
        )
    return SchemaReading(tables=tables, indexes=indexes, raw_index_definitions=raw_definitions)
