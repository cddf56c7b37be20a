"""A candidate index: one B-tree on one table, as the advisor searches over them.

The SQL that creates, drops or simulates it, its name and its identifier quoting come from
`shared.sql.index_ddl`, the one place both the agent and the control plane write index DDL, so a
candidate's DDL is exactly what the control plane's analysis writes for the same table and columns.
A key is a column name as the catalog spells it or an expression key (see that module).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from shared.sql.index_ddl import (
    MAX_IDENTIFIER_BYTES,
    IndexDefinition,
    expression_key,
    is_expression_key,
    quote_identifier,
)

__all__ = [
    "MAX_IDENTIFIER_BYTES",
    "CandidateIndex",
    "expression_key",
    "is_expression_key",
    "quote_identifier",
]


@dataclass(frozen=True, order=True)
class CandidateIndex:
    schema_name: str
    table: str
    columns: tuple[str, ...]

    @cached_property
    def definition(self) -> IndexDefinition:
        """The index as the shared module writes it (cached: the search asks for names often)."""
        return IndexDefinition(self.schema_name, self.table, self.columns)

    def key(self) -> str:
        """Identity for deduplication and for stable recommendation ids: `public.orders(a,b)`."""
        return self.definition.identity()

    def name(self) -> str:
        """A deterministic index name of at most 63 bytes of [a-z0-9_]: `orders_customer_id_idx`,
        with a hash of the key whenever sanitizing lost information or the name is too long."""
        return self.definition.name()

    def qualified_table(self) -> str:
        return self.definition.qualified_table()

    def key_list(self) -> str:
        """The key list of CREATE INDEX, without its surrounding parentheses."""
        return self.definition.key_list()

    def create_sql(self) -> str:
        return self.definition.create_sql()

    def rollback_sql(self) -> str:
        return self.definition.rollback_sql()

    def hypothetical_sql(self) -> str:
        """The statement for hypopg_create_index(): no name (HypoPG makes one up), no CONCURRENTLY."""
        return self.definition.hypothetical_sql()

    def covers(self, other: CandidateIndex) -> bool:
        """An index on these keys also serves every query `other` would: its keys are our prefix."""
        return (
            self.schema_name == other.schema_name
            and self.table == other.table
            and self.columns[: len(other.columns)] == other.columns
        )
