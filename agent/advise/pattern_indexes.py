"""Index ideas HypoPG cannot simulate: trigram indexes for `LIKE '%x%'`/`ILIKE`, GIN for `@>`.

A B-tree serves `LIKE 'abc%'` only (a left-anchored pattern, with a C collation or the
text_pattern_ops class); pg_stat_statements keeps `LIKE $1`, so whether the application sends
'%abc%' is unknowable, and `ILIKE` or a leading wildcard needs a pg_trgm GIN (or GiST) index. jsonb
and array containment (`@>`) want a GIN index. HypoPG 1.4 simulates neither, so these are
`advisory` ideas with their prerequisites, never `verified` ones. The DDL comes from
`shared.sql.index_ddl`, as every other index the product writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import SqlglotError

from agent.advise.candidates import conjuncts
from agent.advise.name_resolution import ViewDefinitions, read_statement
from agent.advise.recommendation_ids import recommendation_id
from agent.advise.workload import AdvisedStatement
from agent.collect.schema import SchemaReading
from shared.sql.index_ddl import IndexDefinition
from shared.sql.normalized_text import repair_normalized_text
from shared.sql.parsing import UnparseableStatementError, parse_single_statement
from shared.wire.advice import QueryEvidence, Recommendation
from shared.wire.snapshot import IndexStats, TableStats

_TEXT_TYPES = ("text", "character varying", "character", "citext", "varchar")
_CONTAINMENT_TYPES = ("jsonb",)
_ANALYZED = (exp.Query, exp.Update, exp.Delete, exp.Insert)


@dataclass(frozen=True)
class PatternIdea:
    definition: IndexDefinition
    why: str  # what in the statement asks for it, without any of its values


def _anchored_literal(pattern: exp.Expr) -> bool:
    """A written pattern that starts with a fixed character: a B-tree candidate already covers it."""
    if not isinstance(pattern, exp.Literal) or not pattern.is_string:
        return False
    text = str(pattern.this)
    return bool(text) and text[0] not in "%_\\"


def _column_type(table: TableStats, column: str) -> str:
    found = next((c for c in table.columns if c.name == column), None)
    return found.type.lower() if found is not None else ""


def _has_index(table: TableStats, column: str, methods: set[str], indexes: list[IndexStats]) -> bool:
    return any(
        index.is_valid
        and not index.is_partial
        and index.access_method in methods
        and (index.schema_name, index.table) == (table.schema_name, table.name)
        and index.columns[:1] == [column]
        for index in indexes
    )


def pattern_ideas(
    sql_text: str, tables: list[TableStats], indexes: list[IndexStats], views: ViewDefinitions | None = None
) -> list[PatternIdea]:
    """The trigram and GIN indexes one statement's predicates ask for, existing ones left out."""
    try:
        statement = parse_single_statement(repair_normalized_text(sql_text))
        if not isinstance(statement, _ANALYZED):
            return []
        reading = read_statement(statement, tables, views)
    except (UnparseableStatementError, SqlglotError, RecursionError):
        return []
    ideas: dict[str, PatternIdea] = {}
    for condition, scope in reading.conditions:
        for predicate in conjuncts(condition):
            if isinstance(predicate, exp.Like | exp.ILike) and predicate.args.get("negate"):
                continue  # NOT LIKE keeps most rows: no index narrows it
            if isinstance(predicate, exp.Like | exp.ILike) and not _anchored_literal(predicate.expression):
                key = scope.key(predicate.this)
                if key is None or not _column_type(key[0].table, key[1]).startswith(_TEXT_TYPES):
                    continue
                table, column = key[0].table, key[1]
                if _has_index(table, column, {"gin", "gist"}, indexes):
                    continue
                definition = IndexDefinition.trigram(table.schema_name, table.name, column)
                operator = "ILIKE" if isinstance(predicate, exp.ILike) else "LIKE"
                why = (
                    f"{operator} on {column} with a pattern that may start with a wildcard ('%...%'): "
                    "a B-tree cannot serve it, a pg_trgm GIN index can"
                )
                ideas.setdefault(definition.identity(), PatternIdea(definition, why))
            elif isinstance(predicate, exp.ArrayContainsAll):
                key = scope.key(predicate.this)
                if key is None:
                    continue
                table, column = key[0].table, key[1]
                kind = _column_type(table, column)
                if not (kind.startswith(_CONTAINMENT_TYPES) or kind.endswith("[]")):
                    continue
                if _has_index(table, column, {"gin"}, indexes):
                    continue
                definition = IndexDefinition.jsonb(table.schema_name, table.name, column)
                why = f"containment (@>) on {column} ({kind}): only a GIN index can serve it"
                ideas.setdefault(definition.identity(), PatternIdea(definition, why))
    return [ideas[identity] for identity in sorted(ideas)]


def _prerequisites(definition: IndexDefinition, installed: set[str]) -> str:
    needs = [
        f"the {name} extension ("
        + ("installed" if name in installed else f"not installed: CREATE EXTENSION {name};")
        + ")"
        for name in definition.required_extensions
    ]
    return f" Needs {', '.join(needs)}." if needs else ""


def pattern_recommendations(
    statements: list[AdvisedStatement], schema: SchemaReading, installed: set[str], views: ViewDefinitions
) -> list[Recommendation]:
    """The ideas as `advisory` recommendations, one per index with every statement asking for it.

    `installed`: the extensions the database has, so the rationale says what to install first."""
    by_index: dict[str, Recommendation] = {}
    for statement in statements:
        for idea in pattern_ideas(statement.raw_text, schema.tables, schema.indexes, views):
            evidence = QueryEvidence(
                fingerprint=statement.fingerprint, query=statement.stats.query, calls=statement.stats.calls
            )
            identity = idea.definition.identity()
            if identity in by_index:
                by_index[identity].queries.append(evidence)
                continue
            by_index[identity] = Recommendation(
                id=recommendation_id("create_index", identity),
                kind="create_index",
                tier="advisory",
                sql=idea.definition.create_sql(),
                rollback_sql=idea.definition.rollback_sql(),
                table=idea.definition.table_name,
                columns=list(idea.definition.keys),
                queries=[evidence],
                rationale=(
                    f"{idea.why}. HypoPG cannot simulate a {idea.definition.method} index, so this is not "
                    "verified: check the plan after building it." + _prerequisites(idea.definition, installed)
                ),
            )
    return [by_index[identity] for identity in sorted(by_index)]
