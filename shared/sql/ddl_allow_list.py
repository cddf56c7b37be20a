"""The only schema changes an agent makes: decided on sqlglot's tree and tokens, never on a regex.

Admitted, one statement each:
- `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] <name> ON <table> [USING m] (...) [INCLUDE (...)]
  [WITH (...)] [WHERE ...]`, with an explicit name (the agent finds its index in the catalog by it);
- `DROP INDEX CONCURRENTLY [IF EXISTS] <name>`, one index, no CASCADE;
- `ANALYZE <table>`, one table, no options.

Everything else is refused with a reason a person understands, signed or not. The agent runs the text
as it was approved (minus a trailing semicolon), so the checks also close the gaps where sqlglot and
PostgreSQL might read the same text differently: no comments (PostgreSQL nests block comments,
sqlglot does not), no backslashes (escape rules depend on `standard_conforming_strings`), only plain
'...' string literals (no E'', U&'' or dollar quoting), and at most one semicolon, at the end. The
agent also sends the text over the extended query protocol, where the server itself refuses a second
statement: a parser gap can at worst change the index, never add a statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlglot import Token, TokenType, exp

from shared.sql.index_ddl import MAX_IDENTIFIER_BYTES
from shared.sql.parsing import POSTGRES, to_postgres_sql
from shared.sql.read_only import function_names

ChangeKind = Literal["create_index", "drop_index", "analyze"]

MAX_TEXT_LENGTH = 20_000
_PLAIN_STRING = TokenType.STRING
_STRING_TOKENS = frozenset(
    {
        TokenType.STRING,
        TokenType.BYTE_STRING,
        TokenType.RAW_STRING,
        TokenType.HEREDOC_STRING,
        TokenType.NATIONAL_STRING,
        TokenType.HEX_STRING,
        TokenType.BIT_STRING,
        TokenType.UNICODE_STRING,
    }
)
_INDEX_CLAUSES = frozenset({"using", "columns", "where", "include", "with_storage"})
# Functions that change something, wait, or return something new per call. PostgreSQL refuses every
# function not marked IMMUTABLE in an index anyway; this catches the obvious ones before the server
# and says why. A user-defined function falsely marked IMMUTABLE cannot be told apart from the text.
_VOLATILE_FUNCTIONS = frozenset(
    {
        "random", "rand", "random_normal", "setseed", "nextval", "setval", "currval", "lastval",
        "clock_timestamp", "statement_timestamp", "transaction_timestamp", "timeofday", "now",
        "current_timestamp", "current_date", "current_time", "localtime", "localtimestamp",
        "gen_random_uuid", "uuid", "uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4",
        "set_config", "txid_current", "pg_current_xact_id", "pg_notify", "query_to_xml",
    }
)  # fmt: skip
_VOLATILE_PREFIXES = ("pg_sleep", "pg_advisory", "pg_try_advisory", "dblink", "lo_", "pg_read_", "pg_ls_")


class DdlRefused(ValueError):
    """The text is not an admitted change. The reason quotes no literal from the text."""


@dataclass(frozen=True)
class AllowedDdl:
    """An admitted change. Names are as the catalog spells them (unquoted identifiers folded)."""

    kind: ChangeKind
    schema: str | None  # None: unqualified, resolved by the server's search_path
    table: str | None  # None for DROP INDEX: the statement does not say
    index_name: str | None  # None for ANALYZE
    unique: bool
    sql: str  # the text to run: as approved, without its trailing semicolon
    tree: exp.Expression

    @property
    def normalized_sql(self) -> str:
        """sqlglot's rendering, for reports."""
        return to_postgres_sql(self.tree, normalize=True)


def admit_ddl(text: str) -> AllowedDdl:
    """The change the text describes, or DdlRefused with the reason it may not run."""
    statement_text, tokens = _single_statement_text(text)
    try:
        parsed = [tree for tree in POSTGRES.parse(statement_text) if tree is not None]
    except Exception:
        # sqlglot's messages quote the input: dropped, as in shared.sql.parsing.
        raise DdlRefused("the statement could not be parsed as PostgreSQL") from None
    statements = [tree for tree in parsed if not isinstance(tree, exp.Semicolon)]
    if len(statements) != 1:
        raise DdlRefused(f"the text holds {len(statements)} statements; exactly one is allowed")
    tree = statements[0]
    if isinstance(tree, exp.Create):
        admitted = _admit_create(tree, statement_text)
    elif isinstance(tree, exp.Drop):
        admitted = _admit_drop(tree, statement_text)
    elif isinstance(tree, exp.Analyze):
        admitted = _admit_analyze(tree, statement_text)
    else:
        raise DdlRefused(f"{_describe(tree)} is not on the agent's allow-list{_ALLOWED}")
    _require_plain_strings(text, tokens)
    return admitted


_ALLOWED = " (only CREATE INDEX CONCURRENTLY with a name, DROP INDEX CONCURRENTLY and ANALYZE of one table)"


def _describe(tree: exp.Expr) -> str:
    if isinstance(tree, exp.Command):
        return f"a {str(tree.this).upper()} statement"
    kind = tree.args.get("kind")
    keyword = tree.key.upper() if not isinstance(tree, exp.TruncateTable) else "TRUNCATE"
    if isinstance(kind, str) and isinstance(tree, exp.Create | exp.Drop | exp.Alter):
        keyword = f"{keyword} {kind.upper()}"
    return f"a {keyword} statement"


def _single_statement_text(text: str) -> tuple[str, list[Token]]:
    if len(text) > MAX_TEXT_LENGTH:
        raise DdlRefused(f"the text is longer than {MAX_TEXT_LENGTH} characters")
    # Substring checks, not a statement regex: any comment or backslash anywhere is refused outright.
    if "--" in text or "/*" in text or "*/" in text:
        raise DdlRefused("comments are not allowed in a change: they can hide text from a reader")
    if "\\" in text:
        raise DdlRefused("backslashes are not allowed in a change: escape rules differ between parsers")
    try:
        tokens = POSTGRES.tokenize(text)
    except Exception:
        raise DdlRefused("the statement could not be tokenized as PostgreSQL") from None
    if not tokens:
        raise DdlRefused("the text is empty")
    semicolons = [index for index, token in enumerate(tokens) if token.token_type is TokenType.SEMICOLON]
    if len(semicolons) > 1 or (semicolons and semicolons[0] != len(tokens) - 1):
        raise DdlRefused("the text holds more than one statement; exactly one is allowed")
    end = tokens[semicolons[0]].start if semicolons else len(text)
    return text[:end].strip(), tokens


def _require_plain_strings(text: str, tokens: list[Token]) -> None:
    """Checked once the statement is known to be an allowed shape (sqlglot tokenizes the rest of an
    unknown command as one string, which would give a misleading reason)."""
    for token in tokens:
        if token.token_type in _STRING_TOKENS and (
            token.token_type is not _PLAIN_STRING or text[token.start] != "'"
        ):
            raise DdlRefused("only plain '...' string literals are allowed (no E'', U&'' or $$ quoting)")


def catalog_name(identifier: exp.Expression | None) -> str | None:
    """The name as PostgreSQL stores it: quoted names as written, unquoted ones folded to lowercase."""
    if identifier is None:
        return None
    if not isinstance(identifier, exp.Identifier):
        raise DdlRefused("names must be plain identifiers")
    name = identifier.name if identifier.quoted else identifier.name.lower()
    if not name or len(name.encode()) > MAX_IDENTIFIER_BYTES:
        raise DdlRefused(f"a name is empty or longer than {MAX_IDENTIFIER_BYTES} bytes")
    return name


def _table_parts(table: object) -> tuple[str | None, str]:
    if not isinstance(table, exp.Table) or not isinstance(table.this, exp.Identifier):
        raise DdlRefused("the statement must name exactly one table (no column list)")
    extra = [key for key, value in table.args.items() if value and key not in ("this", "db")]
    if extra:
        raise DdlRefused(f"the table reference carries {', '.join(sorted(extra))}, which is not allowed")
    table_name = catalog_name(table.this)
    assert table_name is not None
    return catalog_name(table.args.get("db")), table_name


def _truthy_args(node: exp.Expression, allowed: set[str]) -> list[str]:
    return sorted(key for key, value in node.args.items() if value and key not in allowed)


def _admit_create(tree: exp.Create, text: str) -> AllowedDdl:
    if str(tree.args.get("kind") or "").upper() != "INDEX":
        raise DdlRefused(f"{_describe(tree)} is not on the agent's allow-list{_ALLOWED}")
    if not tree.args.get("concurrently"):
        raise DdlRefused("CREATE INDEX without CONCURRENTLY blocks every write to the table while it builds")
    extra = _truthy_args(tree, {"this", "kind", "unique", "exists", "concurrently"})
    if extra:
        raise DdlRefused(f"CREATE INDEX with {', '.join(extra)} is not on the allow-list")
    index = tree.this
    if not isinstance(index, exp.Index):
        raise DdlRefused("the statement could not be read as CREATE INDEX")
    if index.this is None:
        raise DdlRefused("the index has no name: the agent needs one to find it in the catalog")
    index_name = catalog_name(index.this)
    schema, table = _table_parts(index.args.get("table"))
    params = index.args.get("params")
    if not isinstance(params, exp.IndexParameters) or not params.args.get("columns"):
        raise DdlRefused("the index has no key columns")
    extra = _truthy_args(params, set(_INDEX_CLAUSES))
    if extra:
        raise DdlRefused(f"CREATE INDEX with {', '.join(extra).upper()} is not on the allow-list")
    extra = _truthy_args(index, {"this", "table", "params", "unique"})
    if extra:
        raise DdlRefused(f"CREATE INDEX with {', '.join(extra)} is not on the allow-list")
    _check_index_expressions(params)
    return AllowedDdl(
        kind="create_index",
        schema=schema,
        table=table,
        index_name=index_name,
        unique=bool(tree.args.get("unique")),
        sql=text,
        tree=tree,
    )


def _check_index_expressions(params: exp.IndexParameters) -> None:
    parts: list[exp.Expression] = list(params.args.get("columns") or [])
    where = params.args.get("where")
    if isinstance(where, exp.Expression):
        parts.append(where)
    for part in parts:
        for node in part.walk():
            if isinstance(node, exp.Query | exp.Subquery):
                raise DdlRefused("subqueries are not allowed in an index")
            if isinstance(node, exp.Command | exp.Insert | exp.Update | exp.Delete):
                raise DdlRefused("part of the index definition could not be vouched for")
            for name in function_names(node):
                if name in _VOLATILE_FUNCTIONS or name.startswith(_VOLATILE_PREFIXES):
                    raise DdlRefused(f"the index calls {name}(), which is volatile or has side effects")


def _admit_drop(tree: exp.Drop, text: str) -> AllowedDdl:
    if str(tree.args.get("kind") or "").upper() != "INDEX":
        raise DdlRefused(f"{_describe(tree)} is not on the agent's allow-list{_ALLOWED}")
    if not tree.args.get("concurrently"):
        raise DdlRefused("DROP INDEX without CONCURRENTLY locks the table against reads and writes")
    if tree.args.get("cascade"):
        raise DdlRefused("DROP INDEX ... CASCADE may drop more than the index")
    extra = _truthy_args(tree, {"kind", "tables", "exists", "concurrently", "restrict"})
    if extra:
        raise DdlRefused(f"DROP INDEX with {', '.join(extra)} is not on the allow-list")
    tables = tree.args.get("tables") or []
    if len(tables) != 1:
        raise DdlRefused("DROP INDEX must name exactly one index")
    schema, index_name = _table_parts(tables[0])
    return AllowedDdl(
        kind="drop_index",
        schema=schema,
        table=None,
        index_name=index_name,
        unique=False,
        sql=text,
        tree=tree,
    )


def _admit_analyze(tree: exp.Analyze, text: str) -> AllowedDdl:
    extra = _truthy_args(tree, {"tables"})
    if extra:
        raise DdlRefused(f"ANALYZE with {', '.join(extra)} is not on the allow-list")
    tables = tree.args.get("tables") or []
    if len(tables) != 1:
        raise DdlRefused("ANALYZE must name exactly one table")
    schema, table = _table_parts(tables[0])
    return AllowedDdl(
        kind="analyze",
        schema=schema,
        table=table,
        index_name=None,
        unique=False,
        sql=text,
        tree=tree,
    )
