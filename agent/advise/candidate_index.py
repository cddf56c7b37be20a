"""A candidate index: one B-tree on one table, and the SQL that creates, drops or simulates it.

A key is either a column name exactly as PostgreSQL spells it (`customer_id`, `Email`) or the SQL
text of an expression as `expression_key` writes it (`lower(email)`, `(data ->> 'k')`), which always
contains a parenthesis. So a key containing `(` is an expression; a column whose real name contains
one is never proposed (the generator skips it) and therefore never misread.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

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
_KEYWORDS_NEEDING_QUOTES = frozenset(_KEYWORDS_TEXT.split())
_BARE_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")

# A function call whose parentheses hold no quotes and nest at most twice. Such text is a valid
# index key as it is; anything else (operators such as `data ->> 'k'`, string arguments) needs a
# pair of parentheses around it, which PostgreSQL accepts around any expression key.
_PLAIN_FUNCTION_CALL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\((?:[^()'\"]|\((?:[^()'\"]|\([^()'\"]*\))*\))*\)")

MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL silently truncates longer names
_HASH_SUFFIX_LENGTH = len("_12345678_idx")


def quote_identifier(name: str) -> str:
    """`name` as PostgreSQL's quote_ident() would write it: quoted only when it has to be."""
    if _BARE_IDENTIFIER.fullmatch(name) and name not in _KEYWORDS_NEEDING_QUOTES:
        return name
    return '"' + name.replace('"', '""') + '"'


def is_expression_key(key: str) -> bool:
    return "(" in key


def expression_key(sql: str) -> str:
    """The key for an index expression: written so that CREATE INDEX can take it as it is."""
    return sql if _PLAIN_FUNCTION_CALL.fullmatch(sql) or _parenthesized(sql) else f"({sql})"


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


@dataclass(frozen=True, order=True)
class CandidateIndex:
    schema_name: str
    table: str
    columns: tuple[str, ...]

    def key(self) -> str:
        """Identity for deduplication and for stable recommendation ids."""
        return f"{self.schema_name}.{self.table}({','.join(self.columns)})"

    def name(self) -> str:
        """A deterministic index name of at most 63 bytes of [a-z0-9_]: `orders_customer_id_idx`.

        Sanitizing can map two candidates to the same name (`Orders` and `orders`, `lower(email)` and
        a column `lower_email`), and index names are unique per schema, so whenever it loses
        information, or the name is too long, a hash of the key keeps names apart.
        """
        parts = [self.table, *self.columns]
        sanitized = [_sanitize(part) for part in parts]
        base = "_".join(part for part in sanitized if part)
        lossy = any(part != clean for part, clean in zip(parts, sanitized, strict=True))
        if not lossy and len(base) + len("_idx") <= MAX_IDENTIFIER_BYTES:
            return f"{base}_idx"
        digest = hashlib.sha256(self.key().encode()).hexdigest()[:8]
        prefix = base[: MAX_IDENTIFIER_BYTES - _HASH_SUFFIX_LENGTH].rstrip("_")
        return f"{prefix}_{digest}_idx" if prefix else f"{digest}_idx"

    def qualified_table(self) -> str:
        return f"{quote_identifier(self.schema_name)}.{quote_identifier(self.table)}"

    def key_list(self) -> str:
        """The key list of CREATE INDEX, without its surrounding parentheses."""
        return ", ".join(_render_key(column) for column in self.columns)

    def create_sql(self) -> str:
        # CONCURRENTLY: a plain CREATE INDEX blocks every write to the table while it builds.
        return (
            f"CREATE INDEX CONCURRENTLY {quote_identifier(self.name())} "
            f"ON {self.qualified_table()} ({self.key_list()});"
        )

    def rollback_sql(self) -> str:
        return (
            f"DROP INDEX CONCURRENTLY IF EXISTS {quote_identifier(self.schema_name)}."
            f"{quote_identifier(self.name())};"
        )

    def hypothetical_sql(self) -> str:
        """The statement for hypopg_create_index(): no name (HypoPG makes one up), no CONCURRENTLY."""
        return f"CREATE INDEX ON {self.qualified_table()} ({self.key_list()})"

    def covers(self, other: CandidateIndex) -> bool:
        """An index on these keys also serves every query `other` would: its keys are our prefix."""
        return (
            self.schema_name == other.schema_name
            and self.table == other.table
            and self.columns[: len(other.columns)] == other.columns
        )


def _render_key(key: str) -> str:
    return expression_key(key) if is_expression_key(key) else quote_identifier(key)
