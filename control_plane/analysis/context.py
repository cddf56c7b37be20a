"""Everything the analysis knows about one statement, assembled from what snapshots stored.

All of it is anonymized already (query text with $n placeholders, scrubbed plans, column statistics
without values). `structural_document` is the part that decides what advice makes sense (text,
plan shape, tables, indexes, settings); its hash keys the LLM answer cache, so a statement whose
calls grew but whose plan and schema did not is not asked about twice.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from control_plane.analysis.plan_nodes import PlanNode, flatten, scrub_literals

# Settings that change plans or memory use; the rest of a snapshot's settings say nothing here.
RELEVANT_SETTINGS = (
    "work_mem",
    "hash_mem_multiplier",
    "maintenance_work_mem",
    "shared_buffers",
    "effective_cache_size",
    "random_page_cost",
    "seq_page_cost",
    "effective_io_concurrency",
    "default_statistics_target",
    "max_parallel_workers_per_gather",
    "jit",
    "enable_seqscan",
    "enable_nestloop",
    "enable_hashjoin",
    "enable_mergejoin",
    "enable_indexscan",
    "enable_bitmapscan",
    "plan_cache_mode",
)


@dataclass(frozen=True)
class ColumnContext:
    name: str
    type: str
    n_distinct: float | None = None
    null_frac: float | None = None


@dataclass(frozen=True)
class IndexContext:
    name: str
    columns: tuple[str, ...]
    unique: bool = False
    primary: bool = False


@dataclass(frozen=True)
class TableContext:
    name: str  # schema.table
    row_estimate: float
    total_bytes: int = 0
    columns: tuple[ColumnContext, ...] = ()
    indexes: tuple[IndexContext, ...] = ()

    def has_column(self, column: str) -> bool:
        return any(c.name == column for c in self.columns)

    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(frozen=True)
class WorkloadFigures:
    calls: int = 0
    total_ms: float = 0.0
    load_pct: float = 0.0
    rows: int = 0
    temp_blks_read: int = 0
    temp_blks_written: int = 0
    shared_blks_hit: int = 0
    shared_blks_read: int = 0

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class StatementContext:
    fingerprint: str
    query: str
    statement_type: str
    workload: WorkloadFigures
    plan: dict[str, Any] | None
    plan_cost: float | None
    tables: tuple[TableContext, ...]
    settings: Mapping[str, str] = field(default_factory=dict)

    def nodes(self) -> list[PlanNode]:
        return flatten(self.plan)

    def table(self, name: str | None) -> TableContext | None:
        """A touched table by `schema.table` or, when unambiguous, by its bare name."""
        return resolve_table(name, self.tables)

    def structural_document(self) -> dict[str, Any]:
        return {
            "query": scrub_literals(self.query),
            "statement_type": self.statement_type,
            "plan": plan_summary(self.nodes()),
            "tables": [_table_document(t) for t in self.tables],
            "settings": dict(sorted(self.settings.items())),
        }

    def context_hash(self) -> str:
        encoded = json.dumps(self.structural_document(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(encoded.encode()).hexdigest()


def resolve_table(name: str | None, tables: Iterable[TableContext]) -> TableContext | None:
    if not name:
        return None
    candidates = list(tables)
    exact = [t for t in candidates if t.name == name]
    if exact:
        return exact[0]
    bare = name.split(".")[-1]
    named = [t for t in candidates if t.name.split(".", 1)[-1] == bare]
    return named[0] if len(named) == 1 else None


def _two_significant(value: float) -> float:
    """Row estimates drift with every ANALYZE; advice does not. Two digits keep the hash stable."""
    if value <= 0:
        return 0.0
    digits = 1 - math.floor(math.log10(value))
    return round(value, digits)


def plan_summary(nodes: list[PlanNode]) -> list[dict[str, Any]]:
    return [
        {
            "depth": node.depth,
            "node": node.describe(),
            "estimated_rows": _two_significant(node.plan_rows),
            "total_cost": _two_significant(node.total_cost),
            **({"conditions": node.conditions} if node.conditions else {}),
            **({"sort_keys": list(node.sort_keys)} if node.sort_keys else {}),
        }
        for node in nodes
    ]


def _table_document(table: TableContext) -> dict[str, Any]:
    return {
        "table": table.name,
        "estimated_rows": _two_significant(table.row_estimate),
        "size_bytes": _two_significant(float(table.total_bytes)),
        "columns": [
            {"name": c.name, "type": c.type, "n_distinct": c.n_distinct, "null_frac": c.null_frac}
            for c in table.columns
        ],
        "indexes": [
            {"name": i.name, "columns": list(i.columns), "unique": i.unique, "primary": i.primary}
            for i in table.indexes
        ],
    }


def schema_tables(tables: list[dict[str, Any]], indexes: list[dict[str, Any]]) -> list[TableContext]:
    """The stored schema (`database_schemas.tables`/`indexes`, TableStats and IndexStats as JSON)."""
    by_table: dict[str, list[IndexContext]] = {}
    for index in indexes:
        key = f"{index.get('schema_name')}.{index.get('table')}"
        by_table.setdefault(key, []).append(
            IndexContext(
                name=str(index.get("name")),
                columns=tuple(str(c) for c in index.get("columns", [])),
                unique=bool(index.get("is_unique")),
                primary=bool(index.get("is_primary")),
            )
        )
    found = []
    for table in tables:
        name = f"{table.get('schema_name')}.{table.get('name')}"
        found.append(
            TableContext(
                name=name,
                row_estimate=max(float(table.get("row_estimate") or 0.0), 0.0),
                total_bytes=int(table.get("total_bytes") or 0),
                columns=tuple(
                    ColumnContext(
                        name=str(c.get("name")),
                        type=str(c.get("type")),
                        n_distinct=c.get("n_distinct"),
                        null_frac=c.get("null_frac"),
                    )
                    for c in table.get("columns", [])
                ),
                indexes=tuple(by_table.get(name, [])),
            )
        )
    return found


def touched_tables(
    relations: Iterable[str], nodes: Iterable[PlanNode], tables: list[TableContext]
) -> tuple[TableContext, ...]:
    """The tables a statement reads or writes: its recorded relations and the plan's scans."""
    names = [*relations, *(n.relation for n in nodes if n.relation)]
    found: dict[str, TableContext] = {}
    for name in names:
        table = resolve_table(name, tables)
        if table is not None:
            found.setdefault(table.name, table)
    return tuple(found.values())


def relevant_settings(settings: Mapping[str, str]) -> dict[str, str]:
    return {name: settings[name] for name in RELEVANT_SETTINGS if name in settings}
