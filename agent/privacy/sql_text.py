"""Names in SQL text swapped for pseudonyms (on the way out) and back (for jobs), with the real parser.

The text is parsed with sqlglot (`shared.sql.parsing`) and every identifier node of the tree is
replaced according to the role its parent gives it: a table's name, schema or alias, a column, an
index, a user-defined type. Function names are not identifiers in the tree and stay as they are;
keywords are never identifiers, and a column named like a keyword (`"order"`) is an identifier like
any other. Whatever does not parse raises, and its caller drops the text: nothing is sent half-done.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from agent.privacy.names import PSEUDONYM, NameKind, Pseudonyms, UnknownPseudonym
from shared.sql.normalized_text import split_segments
from shared.sql.parsing import UnparseableStatementError, parse_single_statement, to_postgres_sql

# Text PostgreSQL deparsed and the agent scrubbed carries `?` for each constant; sqlglot reads `?`
# as a placeholder only where no cast follows, so it stands in as this parameter while parsed.
_SCRUBBED_PLACEHOLDER = 0

_TABLE_PARTS: dict[str, NameKind] = {"this": "t", "db": "s", "catalog": "d"}
_COLUMN_PARTS: dict[str, NameKind] = {"this": "c", "table": "t", "db": "s", "catalog": "d"}


def _folded(identifier: exp.Identifier) -> str:
    # As PostgreSQL reads it: an unquoted name folds to lower case, a quoted one is kept as written.
    name = str(identifier.this)
    return name if identifier.quoted else name.lower()


def name_kind(identifier: exp.Identifier) -> NameKind:
    parent, role = identifier.parent, identifier.arg_key or ""
    if isinstance(parent, exp.Table):
        is_index = isinstance(parent.parent, exp.Drop) and str(parent.parent.args.get("kind")) == "INDEX"
        return "i" if is_index and role == "this" else _TABLE_PARTS.get(role, "n")
    if isinstance(parent, exp.Column):
        return _COLUMN_PARTS.get(role, "n")
    if isinstance(parent, exp.TableAlias):
        return "t" if role == "this" else "c"
    if isinstance(parent, exp.Alias | exp.Schema):
        return "c"  # an output name, or a column list (INSERT INTO t (a, b))
    if isinstance(parent, exp.Index):
        return "i"
    if isinstance(parent, exp.DataType):
        return "y"
    return "n"


def _rewrite(tree: exp.Expression, rename: Callable[[exp.Identifier], exp.Identifier]) -> None:
    for identifier in list(tree.find_all(exp.Identifier)):
        identifier.replace(rename(identifier))


def pseudonymous_tree(tree: exp.Expression, names: Pseudonyms) -> exp.Expression:
    def rename(identifier: exp.Identifier) -> exp.Identifier:
        return exp.Identifier(this=names.pseudonym(_folded(identifier), name_kind(identifier)), quoted=False)

    _rewrite(tree, rename)
    return tree


def real_tree(tree: exp.Expression, names: Pseudonyms) -> exp.Expression:
    """Pseudonyms back to names (quoted: the catalog spelling exactly). Only an index may have a name
    that is not a pseudonym: a new one the control plane chose, kept as written."""

    def rename(identifier: exp.Identifier) -> exp.Identifier:
        text = str(identifier.this)
        if name_kind(identifier) == "i" and not PSEUDONYM.match(text):
            return exp.Identifier(this=names.real_or_chosen(_folded(identifier)), quoted=True)
        if identifier.quoted:
            raise UnknownPseudonym("a quoted name in the job is not one of this agent's pseudonyms")
        return exp.Identifier(this=names.real(text), quoted=True)

    _rewrite(tree, rename)
    return tree


def pseudonymous_statement(text: str, names: Pseudonyms) -> str:
    """One statement (anonymized query text, CREATE/DROP INDEX) with every name a pseudonym."""
    return to_postgres_sql(pseudonymous_tree(parse_single_statement(text), names), copy=False)


def real_statement(text: str, names: Pseudonyms) -> str:
    return to_postgres_sql(real_tree(parse_single_statement(text), names), copy=False)


def pseudonymous_expression(text: str, names: Pseudonyms, *, sort_key: bool = False) -> str:
    """A plan's expression (`(o.customer_id = $1)`, `o.created_at DESC` as a sort key)."""
    return _expression(text, sort_key, lambda tree: pseudonymous_tree(tree, names))


def real_expression(text: str, names: Pseudonyms) -> str:
    return _expression(text, False, lambda tree: real_tree(tree, names))


def pseudonymous_type(type_text: str, names: Pseudonyms) -> str:
    """A column type as format_type prints it; a user-defined type's name becomes a pseudonym."""
    tree = pseudonymous_tree(parse_single_statement(f"SELECT CAST(NULL AS {type_text})"), names)
    cast = tree.selects[0] if isinstance(tree, exp.Select) and len(tree.selects) == 1 else None
    if not isinstance(cast, exp.Cast):
        raise UnparseableStatementError("not a type")
    return to_postgres_sql(cast.to, copy=False)


def _expression(text: str, sort_key: bool, rewrite: Callable[[exp.Expression], exp.Expression]) -> str:
    wrapped = (
        f"SELECT 1 ORDER BY {_with_parameters(text)}" if sort_key else f"SELECT {_with_parameters(text)}"
    )
    tree = rewrite(parse_single_statement(wrapped))
    if not isinstance(tree, exp.Select):
        raise UnparseableStatementError("not an expression")
    order = tree.args.get("order")
    parts = order.expressions if sort_key and isinstance(order, exp.Order) else tree.selects
    if len(parts) != 1 or not isinstance(parts[0], exp.Expression):
        raise UnparseableStatementError("not one expression")
    for parameter in list(parts[0].find_all(exp.Parameter)):
        if parameter.this.is_int and int(parameter.name) == _SCRUBBED_PLACEHOLDER:
            parameter.replace(exp.Var(this="?"))
    return to_postgres_sql(parts[0], copy=False)


def _with_parameters(text: str) -> str:
    # Only `?` outside strings and quoted names is a scrubbed constant; the scanner knows which is which.
    parts = []
    for segment in split_segments(text):
        if segment.kind != "code":
            parts.append(segment.text)
        else:
            parts.append(segment.text.replace("?", f" ${_SCRUBBED_PLACEHOLDER} "))
    return "".join(parts)
