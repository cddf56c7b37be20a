"""One index, and the SQL that creates, drops or simulates it: written here once for both sides.

The agent's advisor, its simulate jobs and apply cleanup, and the control plane's analysis proof all
build their index DDL from `IndexDefinition`, so an index the control plane proposes and the same
index the agent finds have the same name and the same text, and `shared.sql.ddl_allow_list.admit_ddl`
admits what either writes.

A key is either a column name exactly as the catalog spells it (`customer_id`, `CustomerId`,
`order`) or the SQL text of an expression as `expression_key` writes it (`lower(email)`,
`(data ->> 'k')`), which always contains a parenthesis. So a key containing `(` is an expression; a
column whose real name contains one is never proposed (the advisor skips it) and so never misread.

Tables cross the wire as `"schema.table"` strings of catalog names, unquoted and with their case:
`Sales.OrderLines` is the table `"Sales"."OrderLines"`. `split_table_name` reads them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal, get_args

# PostgreSQL's own quote_ident() leaves a name bare only when it is all lowercase ASCII letters,
# digits and underscores, does not start with a digit, and is not a keyword outside the
# "unreserved" category. These are those keywords (pg_get_keywords() WHERE catcode <> 'U') as of
# PostgreSQL 15, plus the ones 16 and 17 added: quoting a word that does not need it is harmless,
# leaving a needed quote out breaks the statement.
_KEYWORDS_TEXT = """
    all analyse analyze and any array as asc asymmetric authorization between bigint binary bit
    boolean both case cast char character check coalesce collate collation column concurrently
    constraint create cross current_catalog current_date current_role current_schema current_time
    current_timestamp current_user dec decimal default deferrable desc distinct do else end except
    exists extract false fetch float for foreign freeze from full grant greatest group grouping
    having ilike in initially inner inout int integer intersect interval into is isnull join
    lateral leading least left like limit localtime localtimestamp national natural nchar none
    normalize not notnull null nullif numeric offset on only or order out outer overlaps overlay
    placing position precision primary real references returning right row select session_user
    setof similar smallint some substring symmetric table tablesample then time timestamp to
    trailing treat trim true union unique user using values varchar variadic verbose when where
    window with xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi
    xmlroot xmlserialize xmltable
    json json_array json_arrayagg json_exists json_object json_objectagg json_query json_scalar
    json_serialize json_table json_value merge_action system_user
"""
KEYWORDS_NEEDING_QUOTES = frozenset(_KEYWORDS_TEXT.split())
_BARE_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")

# A function call whose parentheses hold no quotes and nest at most twice. Such text is a valid
# index key as it is; anything else (operators such as `data ->> 'k'`, string arguments) needs a
# pair of parentheses around it, which PostgreSQL accepts around any expression key.
_PLAIN_FUNCTION_CALL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\((?:[^()'\"]|\((?:[^()'\"]|\([^()'\"]*\))*\))*\)")

MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL silently truncates longer names
_HASH_SUFFIX_LENGTH = len("_12345678_idx")

IndexMethod = Literal["btree", "hash", "gist", "spgist", "gin", "brin"]
INDEX_METHODS: frozenset[str] = frozenset(get_args(IndexMethod))
# INCLUDE is supported by btree (PostgreSQL 11), gist (12) and spgist (14); UNIQUE only by btree.
_METHODS_WITH_INCLUDE = frozenset({"btree", "gist", "spgist"})
# The access methods hypopg_create_index() can simulate (HypoPG 1.4): not gin, gist or spgist, so
# a trigram or jsonb index can only be recommended as advisory, never verified.
HYPOPG_METHODS = frozenset({"btree", "brin", "hash"})
TRIGRAM_OPCLASS: dict[IndexMethod, str] = {"gin": "gin_trgm_ops", "gist": "gist_trgm_ops"}
# Operator classes that come from an extension, which must exist before the index can be built.
_OPCLASS_EXTENSIONS = {"gin_trgm_ops": "pg_trgm", "gist_trgm_ops": "pg_trgm"}
_OPCLASS = re.compile(r"[a-z_][a-z0-9_]*")


def quote_identifier(name: str) -> str:
    """`name` as PostgreSQL's quote_ident() would write it: quoted only when it has to be."""
    if _BARE_IDENTIFIER.fullmatch(name) and name not in KEYWORDS_NEEDING_QUOTES:
        return name
    return '"' + name.replace('"', '""') + '"'


def qualified_name(schema: str, name: str) -> str:
    """`schema.name` with each part quoted as quote_ident() would: `"Sales"."OrderLines"`."""
    return f"{quote_identifier(schema)}.{quote_identifier(name)}"


def split_table_name(table_name: str) -> tuple[str, str]:
    """`("Sales", "OrderLines")` from the wire's `Sales.OrderLines`: split at the first dot, as the
    agent writes `schema.table` (a table name may hold a dot; a schema name that holds one cannot be
    told apart and is not supported)."""
    schema, dot, table = table_name.partition(".")
    if not dot or not schema or not table:
        raise ValueError(f"{table_name!r} is not a schema.table name")
    return schema, table


def is_expression_key(key: str) -> bool:
    return "(" in key


def expression_key(sql: str) -> str:
    """The key for an index expression: written so that CREATE INDEX can take it as it is."""
    return sql if _PLAIN_FUNCTION_CALL.fullmatch(sql) or _parenthesized(sql) else f"({sql})"


def render_key(key: str) -> str:
    """A key as it goes into the key list: an expression as `expression_key`, a column quoted."""
    return expression_key(key) if is_expression_key(key) else quote_identifier(key)


def drop_index_sql(schema: str, index_name: str) -> str:
    """The rollback of a build: CONCURRENTLY, since a plain DROP INDEX locks out reads and writes."""
    return f"DROP INDEX CONCURRENTLY IF EXISTS {qualified_name(schema, index_name)};"


def _parenthesized(text: str) -> bool:
    """Whether the first character opens a parenthesis that the last one closes."""
    depth, quote = 0, ""
    for position, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote  # a doubled quote just closes and reopens
        elif char in "'\"":
            quote = char
        elif char in "()":
            depth += 1 if char == "(" else -1
            if depth == 0 and position < len(text) - 1:
                return False
    return text.startswith("(") and depth == 0


def _sanitize(part: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]", "_", part.lower())).strip("_")


@dataclass(frozen=True)
class IndexDefinition:
    """One index: `IndexDefinition("public", "docs", ("body",), "gin", ("gin_trgm_ops",))`.

    `opclasses` is empty (every key with its type's default) or one entry per key, None for the
    default. `include` holds plain column names. Invalid combinations raise ValueError at once.
    """

    schema: str
    table: str
    keys: tuple[str, ...]
    method: IndexMethod = "btree"
    opclasses: tuple[str | None, ...] = ()
    include: tuple[str, ...] = ()
    unique: bool = False

    def __post_init__(self) -> None:
        if not self.schema or not self.table or not self.keys or not all(self.keys):
            raise ValueError("an index needs a schema, a table and at least one non-empty key")
        if self.method not in INDEX_METHODS:
            raise ValueError(f"unknown index access method {self.method!r}")
        if self.opclasses and len(self.opclasses) != len(self.keys):
            raise ValueError("opclasses must be empty or name one operator class (or None) per key")
        for opclass in self.opclasses:
            if opclass is not None and not _OPCLASS.fullmatch(opclass):
                raise ValueError(f"operator class {opclass!r} is not a plain lowercase name")
        if self.include and self.method not in _METHODS_WITH_INCLUDE:
            raise ValueError(f"{self.method} indexes do not support INCLUDE")
        if any(not column or is_expression_key(column) for column in self.include):
            raise ValueError("INCLUDE takes column names only, not expressions")
        if self.unique and self.method != "btree":
            raise ValueError("only btree indexes can be unique")

    @classmethod
    def on_table(
        cls,
        table_name: str,
        keys: tuple[str, ...],
        method: IndexMethod = "btree",
        opclasses: tuple[str | None, ...] = (),
    ) -> IndexDefinition:
        """The index on the wire's `schema.table` (see `split_table_name`)."""
        schema, table = split_table_name(table_name)
        return cls(schema, table, tuple(keys), method, tuple(opclasses))

    @classmethod
    def trigram(cls, schema: str, table: str, key: str, method: IndexMethod = "gin") -> IndexDefinition:
        """The pg_trgm index that serves `LIKE '%x%'` and `ILIKE` on `key` (gin or gist)."""
        if method not in TRIGRAM_OPCLASS:
            raise ValueError("trigram indexes are gin or gist")
        return cls(schema, table, (key,), method, (TRIGRAM_OPCLASS[method],))

    @classmethod
    def jsonb(cls, schema: str, table: str, key: str, path_ops: bool = False) -> IndexDefinition:
        """A GIN index for jsonb containment (`@>`); `path_ops` is smaller but serves only `@>`."""
        return cls(schema, table, (key,), "gin", ("jsonb_path_ops" if path_ops else None,))

    @property
    def table_name(self) -> str:
        """The wire's `schema.table`."""
        return f"{self.schema}.{self.table}"

    @property
    def is_plain_btree(self) -> bool:
        return self.method == "btree" and not any(self.opclasses) and not self.include and not self.unique

    @property
    def hypopg_can_simulate(self) -> bool:
        return self.method in HYPOPG_METHODS

    @property
    def required_extensions(self) -> tuple[str, ...]:
        """Extensions the operator classes come from (`pg_trgm`), to install before the build."""
        found = (_OPCLASS_EXTENSIONS.get(opclass or "") for opclass in self.opclasses)
        return tuple(sorted({extension for extension in found if extension}))

    def identity(self) -> str:
        """Identity for deduplication and stable recommendation ids: `public.orders(a,b)` for a plain
        btree, as the advisor always wrote it, with the method, classes and options otherwise."""
        plain = f"{self.table_name}({','.join(self.keys)})"
        if self.is_plain_btree:
            return plain
        keys = ",".join(
            f"{key} {opclass}" if opclass else key
            for key, opclass in zip(self.keys, self.opclasses or (None,) * len(self.keys), strict=True)
        )
        include = f" INCLUDE({','.join(self.include)})" if self.include else ""
        unique = "UNIQUE " if self.unique else ""
        return f"{unique}{self.table_name} USING {self.method}({keys}){include}"

    def name(self) -> str:
        """A deterministic index name of at most 63 bytes of [a-z0-9_]: `orders_customer_id_idx`.

        Sanitizing can map two indexes to the same name (`Orders` and `orders`, `lower(email)` and a
        column `lower_email`), and index names are unique per schema, so whenever the name loses
        information (also: a method, operator class, INCLUDE or UNIQUE, which the words do not say
        exactly), or it is too long, a hash of `identity()` keeps names apart.
        """
        parts = [self.table, *self.keys]
        sanitized = [_sanitize(part) for part in parts]
        hints: list[str] = [] if self.method == "btree" else [self.method]
        if any(opclass in _OPCLASS_EXTENSIONS for opclass in self.opclasses):
            hints.append("trgm")
        base = "_".join(part for part in [*sanitized, *hints] if part)
        lossy = not self.is_plain_btree or any(p != s for p, s in zip(parts, sanitized, strict=True))
        if not lossy and len(base) + len("_idx") <= MAX_IDENTIFIER_BYTES:
            return f"{base}_idx"
        digest = hashlib.sha256(self.identity().encode()).hexdigest()[:8]
        prefix = base[: MAX_IDENTIFIER_BYTES - _HASH_SUFFIX_LENGTH].rstrip("_")
        return f"{prefix}_{digest}_idx" if prefix else f"{digest}_idx"

    def qualified_table(self) -> str:
        return qualified_name(self.schema, self.table)

    def key_list(self) -> str:
        """The key list of CREATE INDEX, without its surrounding parentheses."""
        opclasses = self.opclasses or (None,) * len(self.keys)
        return ", ".join(
            f"{render_key(key)} {opclass}" if opclass else render_key(key)
            for key, opclass in zip(self.keys, opclasses, strict=True)
        )

    def _body(self) -> str:
        """`ON <table> [USING m] (<keys>) [INCLUDE (...)]`: shared by the real and the hypothetical."""
        using = "" if self.method == "btree" else f" USING {self.method}"
        include = ""
        if self.include:
            include = f" INCLUDE ({', '.join(quote_identifier(column) for column in self.include)})"
        return f"ON {self.qualified_table()}{using} ({self.key_list()}){include}"

    def create_sql(self) -> str:
        # CONCURRENTLY: a plain CREATE INDEX blocks every write to the table while it builds.
        unique = "UNIQUE " if self.unique else ""
        return f"CREATE {unique}INDEX CONCURRENTLY {quote_identifier(self.name())} {self._body()};"

    def rollback_sql(self) -> str:
        return drop_index_sql(self.schema, self.name())

    def sandbox_build_sql(self, name: str) -> str:
        """A plain CREATE INDEX under another name, for the benchmark's sandbox copy: blocking its
        writes costs nothing there, and a plain build's time is the one worth reporting."""
        unique = "UNIQUE " if self.unique else ""
        return f"CREATE {unique}INDEX {quote_identifier(name)} {self._body()}"

    def hypothetical_sql(self) -> str:
        """The statement for hypopg_create_index(): no name (HypoPG makes one up), no CONCURRENTLY,
        no semicolon. Only `hypopg_can_simulate` methods can be simulated."""
        unique = "UNIQUE " if self.unique else ""
        return f"CREATE {unique}INDEX {self._body()}"
