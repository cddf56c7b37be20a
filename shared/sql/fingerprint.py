"""Fingerprints: one stable identifier per statement shape, shared by the agent and the control plane.

pg_stat_statements' queryid differs between servers, major versions and IN-list lengths, so we key
statements by a digest of a canonical text instead: PostgreSQL SQL as sqlglot generates it (which
already erases spacing, keyword case and comments), unquoted identifiers folded to lowercase as
PostgreSQL folds them, every parameter written as `?`, and lists whose items are all the same
(`IN ($1, $2, $3)`, multi-row `VALUES`, `ARRAY[...]`) cut to one item. sha256 rather than Python's
hash() so that every run on every machine agrees.
"""

from __future__ import annotations

import hashlib

from sqlglot import exp

from shared.sql.normalized_text import repair_normalized_text
from shared.sql.parsing import UnparseableStatementError, parse_single_statement, to_postgres_sql
from shared.wire.base import FINGERPRINT_LENGTH

# Lists whose length is workload noise rather than statement shape.
_COLLAPSIBLE_LISTS = (exp.In, exp.Values, exp.Array)


def canonical_text(expression: exp.Expression, *, copy: bool = True) -> str:
    """The text a fingerprint digests; exposed so a mismatch between two fingerprints can be explained.

    With copy=False the expression is rewritten in place (cheaper, for callers done with it).
    """
    canonical = expression.copy() if copy else expression
    # A statement is never a bare parameter, so every placeholder has a parent to be replaced in.
    placeholders = [
        node
        for node in canonical.walk(bfs=False, prune=lambda node: isinstance(node, exp.Parameter))
        if isinstance(node, exp.Parameter | exp.Placeholder)
    ]
    for placeholder in placeholders:
        placeholder.replace(exp.var("?"))
    # Children before parents, so that a list of lists (`VALUES (?, ?), (?, ?)`) compares collapsed rows.
    for collection in reversed(list(canonical.find_all(*_COLLAPSIBLE_LISTS))):
        items = collection.args.get("expressions")
        if isinstance(items, list) and len(items) > 1 and all(item == items[0] for item in items[1:]):
            collection.set("expressions", [items[0]])
    return to_postgres_sql(canonical, copy=False, normalize=True)


def fingerprint_of(expression: exp.Expression, *, copy: bool = True) -> str:
    """16 hex characters identifying the shape of an already-anonymized statement.

    The expression is left untouched unless copy=False, which consumes it to save a tree copy.
    """
    digest = hashlib.sha256(canonical_text(expression, copy=copy).encode("utf-8")).hexdigest()
    return digest[:FINGERPRINT_LENGTH]


def fingerprint_text(anonymized_sql: str) -> str | None:
    """The fingerprint of anonymized SQL text, or None when it is not exactly one parseable statement."""
    try:
        return fingerprint_of(parse_single_statement(repair_normalized_text(anonymized_sql)), copy=False)
    except UnparseableStatementError:
        return None
    except Exception:
        # Generation can fail on trees sqlglot parsed but cannot print; still "cannot fingerprint".
        return None
