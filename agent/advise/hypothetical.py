"""HypoPG in one session: hypothetical indexes the planner sees and nobody else does.

Hypothetical indexes live in the backend's memory, not in a transaction, so the session resets
them on entry and on exit, whatever happens in between. HypoPG hands out fake OIDs from a small
range, so callers create indexes in batches and drop them as they go.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

import psycopg
from psycopg import sql

from agent.advise.candidate_index import CandidateIndex
from agent.db.session import AgentSession


@dataclass(frozen=True)
class HypotheticalIndex:
    candidate: CandidateIndex
    oid: int
    name: str  # HypoPG's own name, such as "<13543>btree_orders_customer_id", as plans show it


class HypoPGUnavailable(Exception):
    pass


def hypopg_schema(session: AgentSession) -> str | None:
    row = session.fetch_one(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'hypopg'"
    )
    return None if row is None else str(row[0])


class HypotheticalIndexes:
    def __init__(self, session: AgentSession, schema: str) -> None:
        self._session = session
        self._schema = sql.Identifier(schema)
        self._live: dict[int, HypotheticalIndex] = {}

    def __enter__(self) -> HypotheticalIndexes:
        self.reset()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.reset()

    def reset(self) -> None:
        self._session.fetch_all(sql.SQL("SELECT {}.hypopg_reset()").format(self._schema))
        self._live.clear()

    def create(self, candidate: CandidateIndex) -> HypotheticalIndex | str:
        """The hypothetical index, or PostgreSQL's reason it cannot exist (a mutable expression, say)."""
        try:
            with self._session.rolled_back():
                row = self._session.fetch_one(
                    sql.SQL("SELECT indexrelid, indexname FROM {}.hypopg_create_index(%s)").format(
                        self._schema
                    ),
                    [candidate.hypothetical_sql()],
                )
        except psycopg.Error as error:
            return (error.diag.message_primary or type(error).__name__).splitlines()[0]
        assert row is not None
        index = HypotheticalIndex(candidate, int(row[0]), str(row[1]))
        self._live[index.oid] = index
        return index

    def drop(self, index: HypotheticalIndex) -> None:
        self._session.fetch_all(sql.SQL("SELECT {}.hypopg_drop_index(%s)").format(self._schema), [index.oid])
        self._live.pop(index.oid, None)

    def estimated_size(self, index: HypotheticalIndex) -> int:
        row = self._session.fetch_one(
            sql.SQL("SELECT {}.hypopg_relation_size(%s)").format(self._schema), [index.oid]
        )
        return int(row[0]) if row and row[0] is not None else 0

    def by_name(self, name: str) -> HypotheticalIndex | None:
        for index in self._live.values():
            if index.name == name:
                return index
        return None
