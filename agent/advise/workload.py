"""The workload as the advisor weighs it: statements merged by fingerprint, weighted by total time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.snapshot.collector import WorkloadStatement
from shared.wire.snapshot import StatementStats, TableStats

if TYPE_CHECKING:
    from agent.advise.representative_plans import RepresentativeArguments

# Statements whose plans an index can change. INSERT ... VALUES only pays for indexes.
INDEXABLE_TYPES = frozenset({"select", "update", "delete", "insert"})
WRITE_TYPES = frozenset({"insert", "update", "delete", "merge"})


@dataclass
class AdvisedStatement:
    stats: StatementStats
    raw_text: str
    base_cost: float = 0.0
    base_indexes: frozenset[str] = frozenset()
    # `schema.table` of tables the statement reads without naming them: beneath views and
    # partitioned parents, as the planner reaches them.
    reached: frozenset[str] = frozenset()
    # Values for start-up partition pruning before PostgreSQL 16: row data, never in a repr or log.
    representative: RepresentativeArguments | None = field(default=None, repr=False)

    @property
    def weight(self) -> float:
        # Total time (calls x mean): a statement's claim on the advisor's attention.
        return self.stats.total_exec_time_ms

    @property
    def fingerprint(self) -> str:
        return self.stats.fingerprint

    def touches(self, table: TableStats) -> bool:
        qualified = f"{table.schema_name}.{table.name}"
        names = {table.name, qualified}
        return qualified in self.reached or any(relation in names for relation in self.stats.relations)


def advised_statements(workload: list[WorkloadStatement]) -> list[AdvisedStatement]:
    return [
        AdvisedStatement(stats=item.stats, raw_text=item.raw_text)
        for item in workload
        if item.stats.statement_type in INDEXABLE_TYPES and item.stats.calls > 0
    ]


def write_share(table: TableStats, statements: list[AdvisedStatement]) -> float:
    """How much of the time spent on this table goes to writes: each new index makes those dearer."""
    on_table = [s for s in statements if s.touches(table)]
    total = sum(s.weight for s in on_table)
    if total <= 0:
        return 0.0
    return sum(s.weight for s in on_table if s.stats.statement_type in WRITE_TYPES) / total
