"""The one way this project asks sqlglot to parse PostgreSQL text: quietly.

sqlglot logs a warning that quotes the whole statement when it falls back to an opaque Command
(`ALTER ROLE bob PASSWORD 'hunter2'`), and its error messages quote the text too. Statement text may
hold credentials and customer data, so sqlglot's logger is muted for the whole process as soon as
this module is imported, and parse errors are reported without their message.
"""

from __future__ import annotations

import logging

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel
from sqlglot.generators.postgres import PostgresGenerator

# Above CRITICAL: not even a future sqlglot release logging at CRITICAL gets through.
logging.getLogger("sqlglot").setLevel(logging.CRITICAL + 1)

POSTGRES = Dialect.get_or_raise("postgres")


class UnparseableStatementError(ValueError):
    """The text is not one statement sqlglot understands. Deliberately carries no text from the input."""


def parse_single_statement(text: str) -> exp.Expression:
    """Parse text holding exactly one statement (a trailing semicolon is fine)."""
    try:
        statements = [statement for statement in POSTGRES.parse(text) if statement is not None]
    except Exception:
        # sqlglot's messages embed the input: drop them, and drop the chain that carries them.
        raise UnparseableStatementError("sqlglot could not parse the statement") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Expression):
        raise UnparseableStatementError("expected exactly one statement")
    return statements[0]


class _PostgresGenerator(PostgresGenerator):
    def extract_sql(self, expression: exp.Extract) -> str:
        # PostgreSQL parses date_part($1, x) as EXTRACT($1 FROM x), then refuses to print it that way:
        # EXTRACT only takes a field name. A parameter field has to be spelled as the function.
        if isinstance(expression.this, exp.Parameter | exp.Placeholder):
            return self.func("DATE_PART", expression.this, expression.expression)
        return super().extract_sql(expression)


def to_postgres_sql(expression: exp.Expression, *, copy: bool = True, normalize: bool = False) -> str:
    """Generate comment-free PostgreSQL text; unsupported-feature notes (which quote SQL) are not logged.

    normalize lowercases unquoted identifiers, as PostgreSQL itself folds them.
    """
    generator = _PostgresGenerator(
        dialect=POSTGRES, comments=False, unsupported_level=ErrorLevel.IGNORE, normalize=normalize
    )
    return generator.generate(expression, copy=copy)
