"""Is the index in the catalog the one a job asks for? Compared on sqlglot trees, not on text.

`pg_get_indexdef` prints what PostgreSQL made of the statement: schema-qualified table, `USING btree`,
extra parentheses, and casts on literals and on varchar columns (`(status)::text = 'a'::text`).
Both sides are brought to one shape before comparing: name, CONCURRENTLY and IF NOT EXISTS dropped,
table qualified, default access method spelled out, parentheses and those casts removed. A mismatch
is safe (the job fails and says a different index holds the name); a false match would be wrong, so
everything else, including the key order, the predicate's structure and the uniqueness, must agree.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from shared.sql.parsing import POSTGRES, parse_single_statement

_TEXT_TYPES = frozenset({exp.DType.TEXT, exp.DType.VARCHAR, exp.DType.CHAR, exp.DType.BPCHAR})


def same_index_definition(requested: exp.Expr, catalog_definition: str, schema: str) -> bool:
    """Whether `pg_get_indexdef` text describes the index the requested CREATE INDEX would build."""
    try:
        existing = parse_single_statement(catalog_definition)
    except Exception:
        return False
    if not isinstance(existing, exp.Create):
        return False
    return _shape(requested, schema) == _shape(existing, schema)


def _shape(create: exp.Expr, schema: str) -> exp.Expr:
    tree = normalize_identifiers(create.copy(), dialect=POSTGRES)
    tree.set("concurrently", None)
    tree.set("exists", None)
    tree.set("unique", bool(tree.args.get("unique")))
    index = tree.this
    if isinstance(index, exp.Index):
        index.set("this", None)
        table = index.args.get("table")
        if isinstance(table, exp.Table) and table.args.get("db") is None:
            table.set("db", exp.to_identifier(schema, quoted=True))
        params = index.args.get("params")
        if isinstance(params, exp.IndexParameters):
            if params.args.get("using") is None:
                params.set("using", exp.var("btree"))
            params.set("using", exp.var(str(params.args["using"].name).lower()))
            if not params.args.get("with_storage"):
                params.set("with_storage", None)
    for _ in range(20):  # a removed cast may expose a parenthesis and vice versa: until nothing changes
        simpler = tree.transform(_without_noise)
        if simpler == tree:
            break
        tree = simpler
    for identifier in tree.find_all(exp.Identifier):
        identifier.set("quoted", True)  # names are folded above: quoting no longer changes meaning
    return tree


def _without_noise(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Paren) or (isinstance(node, exp.Cast) and _is_text_cast_of_a_plain_value(node)):
        inner = node.this
        return inner if isinstance(inner, exp.Expr) else node
    return node


def _is_text_cast_of_a_plain_value(node: exp.Cast) -> bool:
    inner = node.this
    while isinstance(inner, exp.Paren):
        inner = inner.this
    if isinstance(inner, exp.Literal):
        return True  # PostgreSQL types every literal it prints: 'a'::text, '5'::integer
    target = node.args.get("to")
    return isinstance(inner, exp.Column) and isinstance(target, exp.DataType) and target.this in _TEXT_TYPES
