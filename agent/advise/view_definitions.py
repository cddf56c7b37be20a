"""The definitions of the views a workload reads, so candidates reach the tables beneath them.

PostgreSQL's rewriter replaces a view by its stored query before planning: the index that helps a
statement over a view is an index on the view's base tables. The definitions come from
pg_get_viewdef (the stored pg_rewrite rule, deparsed) in one catalog query per level of nesting
for the whole workload, and are parsed once per run. They stay in the agent: the text may hold
literals (`WHERE status = 'open'`), and only table and column names ever come out of it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp
from sqlglot.errors import SqlglotError

from agent.db.session import AgentSession
from shared.sql.parsing import UnparseableStatementError, parse_single_statement

ViewKey = tuple[str, str]
# A view over a view over a view ...: real schemas nest a few levels; the bound keeps it one query each.
MAX_VIEW_NESTING = 8

_VIEWS_NAMED = """
SELECT n.nspname, c.relname, pg_get_viewdef(c.oid)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'v' AND c.relname = ANY(%s)
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
 ORDER BY n.nspname, c.relname
"""


def _names(relations: Iterable[str]) -> set[str]:
    # The wire's relation names are `schema.name` or `name`, with a quoted name's case kept.
    return {relation.rpartition(".")[2] for relation in relations}


def _referenced(definition: exp.Query) -> set[str]:
    return {str(t.this.this) for t in definition.find_all(exp.Table) if isinstance(t.this, exp.Identifier)}


def read_view_definitions(
    session: AgentSession, relations: Iterable[str], known_tables: set[str]
) -> dict[ViewKey, exp.Query]:
    """Every view named in `relations` (or inside those views), parsed; unparseable ones left out.

    `known_tables`: names of tables already known, not looked up again."""
    definitions: dict[ViewKey, exp.Query] = {}
    looked_up: set[str] = set(known_tables)
    wanted = _names(relations) - looked_up
    for _ in range(MAX_VIEW_NESTING):
        if not wanted:
            break
        looked_up |= wanted
        found: set[str] = set()
        for schema, name, text in session.fetch_all(_VIEWS_NAMED, [sorted(wanted)]):
            try:
                parsed = parse_single_statement(str(text).strip().rstrip(";"))
            except (UnparseableStatementError, SqlglotError, RecursionError):
                continue
            if isinstance(parsed, exp.Query):
                definitions[(str(schema), str(name))] = parsed
                found |= _referenced(parsed)
        wanted = found - looked_up
    return definitions
