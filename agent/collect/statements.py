"""pg_stat_statements polling: counters every cycle, texts only for statements not seen before.

Never calls pg_stat_statements_reset(): the statistics belong to the DBA. Reads counters with
`showtext := false` (cheap: no query-text file read) and only the monitored database's entries,
so other databases' SQL never leaves the server.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from agent.collect.prerequisites import StatementStatsLocation
from agent.collect.statement_columns import StatementColumnMapping, statement_column_mapping
from agent.db.session import AgentSession
from agent.diff.statement_deltas import Counters, StatementKey


@dataclass(frozen=True)
class StatementInfo:
    """pg_stat_statements_info (PostgreSQL 14+): evictions and the last full reset."""

    dealloc: int
    stats_reset: datetime | None


class StatementStatsReader:
    def __init__(self, location: StatementStatsLocation) -> None:
        self._location = location
        self._mapping: StatementColumnMapping | None = None

    def _function(self) -> sql.Composable:
        return sql.SQL("{}.pg_stat_statements").format(sql.Identifier(self._location.schema))

    def mapping(self, session: AgentSession) -> StatementColumnMapping:
        if self._mapping is None:
            columns = [
                row[0]
                for row in session.fetch_all(
                    """
                    SELECT a.attname FROM pg_attribute a
                     WHERE a.attrelid = to_regclass(quote_ident(%s) || '.pg_stat_statements')
                       AND a.attnum > 0 AND NOT a.attisdropped
                    """,
                    [self._location.schema],
                )
            ]
            self._mapping = statement_column_mapping(columns)
        return self._mapping

    def read_counters(self, session: AgentSession) -> dict[StatementKey, Counters]:
        mapping = self.mapping(session)
        query = sql.SQL(
            "SELECT {select_list} FROM {function}(false)"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).format(select_list=sql.SQL(mapping.select_list), function=self._function())
        counters: dict[StatementKey, Counters] = {}
        for row in session.fetch_all(query):
            userid, dbid, queryid, toplevel = row[0], row[1], row[2], row[3]
            if queryid is None:  # a row whose text the role may not see carries no queryid either
                continue
            key = StatementKey(int(userid), int(dbid), int(queryid), bool(toplevel))
            counters[key] = Counters(*_as_counter_values(row[4:]))  # select order is Counters field order
        return counters

    def read_texts(self, session: AgentSession, keys: Iterable[StatementKey]) -> dict[StatementKey, str]:
        """The text of each entry. Entries sharing a queryid can hold different texts: the agent's
        own PREPARE for a generic plan is a nested entry of the application's queryid when both use
        one role, so a text read by queryid alone could be the agent's and hide the workload."""
        wanted = set(keys)
        if not wanted:
            return {}
        toplevel = "toplevel" if self.mapping(session).has_toplevel else "true AS toplevel"
        query = sql.SQL(
            "SELECT userid, dbid, queryid, {toplevel}, query FROM {function}(true)"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND queryid = ANY(%s)"
        ).format(toplevel=sql.SQL(toplevel), function=self._function())
        texts: dict[StatementKey, str] = {}
        for userid, dbid, queryid, is_toplevel, text in session.fetch_all(
            query, [sorted({key.queryid for key in wanted})]
        ):
            key = StatementKey(int(userid), int(dbid), int(queryid), bool(is_toplevel))
            if key in wanted and isinstance(text, str):
                texts[key] = text
        return texts

    def read_info(self, session: AgentSession) -> StatementInfo | None:
        if not self._location.has_info_view:
            return None
        row = session.fetch_one(
            sql.SQL("SELECT dealloc, stats_reset FROM {}.pg_stat_statements_info").format(
                sql.Identifier(self._location.schema)
            )
        )
        return None if row is None else StatementInfo(dealloc=int(row[0]), stats_reset=row[1])


def _as_counter_values(values: Iterable[object]) -> list[Any]:
    # Integer counters come back as int, times as float; None only for columns a role cannot see.
    return [0 if value is None else value for value in values]
