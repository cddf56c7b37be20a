"""Which table each column of a statement belongs to, the way PostgreSQL's parser decides it.

Each appearance of a known table in a FROM list is its own `TableOccurrence`: in
`orders a JOIN orders b ON a.parent_id = b.id` the two sides want different indexes, so merging them
per table would invent a composite neither side can use. The walk records each WHERE/ON condition
and ORDER BY/GROUP BY list with the `Scope` that resolves its names. Whatever cannot be attributed
with certainty (ambiguous or unknown columns, functions in FROM) resolves to nothing.

What the planner flattens is followed the way it flattens it: a view (through its definition), a
subquery in FROM and a CTE PostgreSQL 12+ inlines (referenced once, or NOT MATERIALIZED) pass an
outer filter or sort on one of their plain output columns through to the table column beneath, so
`WITH c AS (SELECT * FROM t) SELECT * FROM c WHERE c.x = $1` asks for an index on t(x). A
MATERIALIZED CTE is scanned as it was computed: only its body's own conditions count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlglot import exp

from agent.advise.candidate_index import expression_key, is_expression_key, quote_identifier
from shared.wire.snapshot import TableStats

# Inside an index expression these make it unindexable (aggregates, parameters, subqueries) or
# unknowable (`t.*`).
_NOT_IN_INDEX_EXPRESSIONS = (exp.AggFunc, exp.Window, exp.Query, exp.Parameter, exp.Placeholder, exp.Star)
_NOT_IN_SAMPLED_EXPRESSIONS = tuple(t for t in _NOT_IN_INDEX_EXPRESSIONS if t is not exp.Parameter)


@dataclass(eq=False)  # identity semantics: two appearances of one table stay two
class TableOccurrence:
    table: TableStats
    alias: str
    column_names: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self.column_names = frozenset(column.name for column in self.table.columns)

    def has(self, name: str) -> bool:
        return name in self.column_names

    @property
    def unknown(self) -> bool:
        return not self.column_names


_Passthrough = dict[str, tuple[TableOccurrence, str]]


@dataclass(frozen=True, eq=False)
class _Opaque:
    """A source that is not a known table: a subquery, a CTE, a view, a function. None: columns unknown.

    `passthrough`: the output columns that are a table column the planner reaches through it."""

    columns: frozenset[str] | None
    passthrough: _Passthrough = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return (self.columns is not None and name in self.columns) or name in self.passthrough

    @property
    def unknown(self) -> bool:
        return self.columns is None


_Source = TableOccurrence | _Opaque
_Frame = dict[str, _Source]
_Ctes = dict[str, _Opaque]
# (schema, name) of a view -> its definition, parsed: the advisor reads each once per run.
ViewDefinitions = dict[tuple[str, str], exp.Query]
# An ORDER BY / GROUP BY position beyond this is not an ordinal anyone writes.
_MAX_ORDINAL = 1_000


def _through(source: _Source, name: str) -> tuple[_Source, str]:
    """The table column an output column of a flattened subquery, CTE or view is, or itself."""
    if isinstance(source, _Opaque) and name in source.passthrough:
        return source.passthrough[name]
    return source, name


def identifier_name(node: exp.Expr | None) -> str:
    """PostgreSQL folds unquoted identifiers to lower case; quoted ones are taken as written."""
    if not isinstance(node, exp.Identifier):
        return ""
    return str(node.this) if node.quoted else str(node.this).lower()


@dataclass(frozen=True)
class Scope:
    """The sources visible at one query level: its own FROM list last, enclosing levels before it."""

    frames: tuple[_Frame, ...]

    def local(self) -> Scope:
        return Scope(self.frames[-1:])

    def resolve(self, column: exp.Column) -> tuple[_Source, str] | None:
        name = identifier_name(column.this)
        if not name:
            return None
        qualifier = identifier_name(column.args.get("table"))
        for frame in reversed(self.frames):
            if qualifier:
                source = frame.get(qualifier)
                if source is not None:
                    return _through(source, name) if source.has(name) or source.unknown else None
                continue
            owners = [source for source in frame.values() if source.has(name)]
            # The statement ran, so a name that one source has cannot also belong to another.
            if len(owners) == 1:
                return _through(owners[0], name)
            if owners or any(source.unknown for source in frame.values()):
                return None
        return None

    def key(self, node: exp.Expr, *, parameters: bool = False) -> tuple[TableOccurrence, str] | None:
        """The index key `node` is: a column, or an expression over one table occurrence. With
        `parameters`, an expression may also hold `$n` (`substring(c_phone FROM $1 FOR $2)`): no
        index key, but what the sandbox benchmark samples values of (agent.benchmark.parameters)."""
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.Column):
            resolved = self.resolve(node)
            if resolved is None or not isinstance(resolved[0], TableOccurrence):
                return None
            # A column whose name looks like an expression would be misread as one downstream.
            return None if is_expression_key(resolved[1]) else (resolved[0], resolved[1])
        excluded = _NOT_IN_INDEX_EXPRESSIONS if not parameters else _NOT_IN_SAMPLED_EXPRESSIONS
        if not isinstance(node, exp.Func) or any(isinstance(n, excluded) for n in node.walk()):
            return None
        owners = [self.resolve(column) for column in node.find_all(exp.Column)]
        sources = {id(owner[0]): owner[0] for owner in owners if owner is not None}
        if not owners or None in owners or len(sources) != 1:
            return None
        occurrence = next(iter(sources.values()))
        if not isinstance(occurrence, TableOccurrence):
            return None
        rendered = node.copy()
        for column in list(rendered.find_all(exp.Column)):
            name = identifier_name(column.this)
            column.replace(exp.column(name, quoted=quote_identifier(name) != name))
        return occurrence, expression_key(rendered.sql(dialect="postgres", normalize_functions="lower"))

    def involves(self, node: exp.Expr, occurrence: TableOccurrence) -> bool:
        """Whether `node` may depend on the row of `occurrence` (True when it cannot be told)."""
        for child in node.walk(prune=lambda n: isinstance(n, exp.Query)):
            if isinstance(child, exp.Query):
                # A correlated subquery names the outer table by its alias; that is all we check.
                if any(
                    identifier_name(c.args.get("table")) == occurrence.alias
                    for c in child.find_all(exp.Column)
                ):
                    return True
            elif isinstance(child, exp.Column):
                resolved = self.resolve(child)
                if resolved is None or resolved[0] is occurrence:
                    return True
        return False


def occurrences_beneath(source: _Source) -> list[TableOccurrence]:
    """The table occurrences a FROM item reads: itself, or those a flattened source passes through."""
    if isinstance(source, TableOccurrence):
        return [source]
    return list({id(o): o for o, _ in source.passthrough.values()}.values())


@dataclass(frozen=True)
class HavingClause:
    """A query's HAVING condition, its scope and its GROUP BY keys (what the aggregates run over)."""

    condition: exp.Expr
    scope: Scope
    groups: list[exp.Expr]


@dataclass
class StatementReading:
    occurrences: list[TableOccurrence] = field(default_factory=list)
    conditions: list[tuple[exp.Expr, Scope]] = field(default_factory=list)  # WHERE and JOIN ... ON
    orderings: list[tuple[list[exp.Expr], Scope]] = field(default_factory=list)  # ORDER BY, GROUP BY
    having: list[HavingClause] = field(default_factory=list)


class _Walker:
    def __init__(self, tables: Sequence[TableStats], views: ViewDefinitions) -> None:
        self._tables: dict[str, list[TableStats]] = {}
        for table in tables:
            self._tables.setdefault(table.name, []).append(table)
        self._views: dict[str, list[tuple[str, exp.Query]]] = {}
        for (schema, name), definition in sorted(views.items(), key=lambda item: item[0]):
            self._views.setdefault(name, []).append((schema, definition))
        self._expanding: set[tuple[str, str]] = set()
        self._passthroughs: dict[int, _Passthrough] = {}
        self._references: dict[str, int] = {}
        self.reading = StatementReading()

    def statement(self, root: exp.Expr) -> None:
        for table in root.find_all(exp.Table):
            if not table.args.get("db"):
                name = identifier_name(table.this)
                self._references[name] = self._references.get(name, 0) + 1
        if isinstance(root, exp.Query):
            self.query(root, (), {})
        elif isinstance(root, exp.Update | exp.Delete):
            ctes = self._ctes(root, (), {})
            frame: _Frame = {}
            from_ = root.args.get("from_")
            for relation in [root.this, from_.this if from_ else None, *(root.args.get("using") or [])]:
                self._add_source(relation, frame, (), ctes)
            self._clauses(root, Scope((frame,)), ctes, skip={"with_", "this", "from_", "using"})
        elif isinstance(root, exp.Insert) and isinstance(root.expression, exp.Query):
            self.query(root.expression, (), self._ctes(root, (), {}))

    def query(self, node: exp.Expr, outer: tuple[_Frame, ...], ctes: _Ctes) -> frozenset[str] | None:
        """Walk one query level and all nested in it; returns its output column names (None: unknown)."""
        if isinstance(node, exp.Subquery):
            return self.query(node.this, outer, ctes)
        ctes = self._ctes(node, outer, ctes)
        if isinstance(node, exp.SetOperation):
            names = self.query(node.left, outer, ctes)
            self.query(node.right, outer, ctes)
            return names
        if not isinstance(node, exp.Select):
            return None
        frame: _Frame = {}
        scope = Scope((*outer, frame))
        from_ = node.args.get("from_")
        joins = node.args.get("joins") or []
        for source in [from_.this if from_ else None, *(join.this for join in joins)]:
            self._add_source(source, frame, scope.frames, ctes)
        for join in joins:
            for column in join.args.get("using") or []:
                self._using_condition(identifier_name(column), _alias(join.this), frame, scope)
            self._clauses(join, scope, ctes, skip={"this"})
        self._clauses(node, scope, ctes, skip={"with_", "from_", "joins"})
        # ORDER BY prefers output names (`ORDER BY total` of `sum(x) AS total`); GROUP BY input names.
        # Both read `ORDER BY 1` / `GROUP BY 2` as the select list's first / second expression.
        outputs = {
            identifier_name(e.args["alias"]): e.this for e in node.expressions if isinstance(e, exp.Alias)
        }
        # A sort or grouping reads the current level's own sources only: scope.local().
        order, group = node.args.get("order"), node.args.get("group")
        if order is not None:
            keys = [_ordinal(node, o.this) for o in order.expressions]
            keys = [
                outputs.get(identifier_name(k.this), k) if isinstance(k, exp.Column) and not k.table else k
                for k in keys
            ]
            self.reading.orderings.append((keys, scope.local()))
        if group is not None and group.expressions:
            local = scope.local()
            grouping = [_ordinal(node, k) for k in group.expressions]
            grouping = [
                outputs[identifier_name(k.this)]
                if isinstance(k, exp.Column)
                and not k.table
                and identifier_name(k.this) in outputs
                and local.resolve(k) is None
                else k
                for k in grouping
            ]
            self.reading.orderings.append((grouping, local))
        passthrough = _passthrough(node, scope.local())
        if passthrough:
            self._passthroughs[id(node)] = passthrough
        names = _output_names(node)
        if names is None and passthrough and all(isinstance(s, TableOccurrence) for s in frame.values()):
            names = frozenset(passthrough)  # SELECT * of tables whose columns are known
        return names

    def _flattened(self, body: exp.Expr, names: frozenset[str] | None) -> _Opaque:
        """The source a subquery, inlined CTE or view is to its outer level."""
        while isinstance(body, exp.Subquery):
            body = body.this
        return _Opaque(names, self._passthroughs.get(id(body), {}))

    def _ctes(self, node: exp.Expr, outer: tuple[_Frame, ...], ctes: _Ctes) -> _Ctes:
        with_ = node.args.get("with_")
        if not isinstance(with_, exp.With):
            return ctes
        ctes = dict(ctes)
        for cte in with_.expressions:
            name = _alias(cte)
            ctes[name] = _Opaque(None)  # a recursive CTE refers to itself, never to a table of that name
            names = self.query(cte.this, outer, ctes)
            # PostgreSQL 12+ inlines a side-effect-free CTE referenced once, or one NOT MATERIALIZED.
            materialized = cte.args.get("materialized")
            inlined = not with_.args.get("recursive") and (
                materialized is False or (materialized is None and self._references.get(name, 0) == 1)
            )
            ctes[name] = self._flattened(cte.this, names) if inlined else _Opaque(names)
        return ctes

    def _add_source(
        self, source: exp.Expr | None, frame: _Frame, frames: tuple[_Frame, ...], ctes: _Ctes
    ) -> None:
        if not isinstance(source, exp.Expr):
            return
        # A source without a usable name still hides the outer columns it may have.
        alias = _alias(source) or f"#{len(frame)}"
        if isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier):
            name, schema = identifier_name(source.this), identifier_name(source.args.get("db"))
            table = None if (not schema and name in ctes) else self._lookup(schema, name)
            if table is None and not (not schema and name in ctes):
                view = self._view(schema, name)
                if view is not None:
                    frame[alias] = view
                    return
            if table is None:
                frame[alias] = _Opaque(None) if schema else ctes.get(name, _Opaque(None))
                return
            occurrence = TableOccurrence(table, alias)
            self.reading.occurrences.append(occurrence)
            frame[alias] = occurrence
        elif isinstance(source, exp.Subquery | exp.Lateral):
            names = self.query(source.this, frames, ctes)
            table_alias = source.args.get("alias")
            listed = table_alias.columns if isinstance(table_alias, exp.TableAlias) else []
            if listed:  # renamed outputs: `(SELECT ...) AS s(a, b)`
                frame[alias] = _Opaque(frozenset(identifier_name(c) for c in listed))
            else:
                frame[alias] = self._flattened(source.this, names)
        else:
            frame[alias] = _Opaque(None)

    def _view(self, schema: str, name: str) -> _Opaque | None:
        """A view read through its definition, as the rewriter expands it (a copy per reference)."""
        matches = self._views.get(name, [])
        found = (
            next((m for m in matches if m[0] == schema), None)
            if schema
            else (matches[0] if len(matches) == 1 else next((m for m in matches if m[0] == "public"), None))
        )
        if found is None or (found[0], name) in self._expanding:
            return None
        self._expanding.add((found[0], name))  # guards a view that (impossibly) names itself
        try:
            body = found[1].copy()
            return self._flattened(body, self.query(body, (), {}))
        finally:
            self._expanding.discard((found[0], name))

    def _lookup(self, schema: str, name: str) -> TableStats | None:
        matches = self._tables.get(name, [])
        if schema:
            return next((t for t in matches if t.schema_name == schema), None)
        if len(matches) == 1:
            return matches[0]
        # The search_path is unknown; public is where an unqualified name lands by default.
        return next((t for t in matches if t.schema_name == "public"), None)

    def _clauses(self, node: exp.Expr, scope: Scope, ctes: _Ctes, skip: set[str]) -> None:
        where = node.args.get("where")
        for condition in (where.this if where is not None else None, node.args.get("on")):
            if condition is not None:
                self.reading.conditions.append((condition, scope))
        having, group = node.args.get("having"), node.args.get("group")
        if isinstance(having, exp.Having):
            groups = list(group.expressions) if isinstance(group, exp.Group) else []
            self.reading.having.append(HavingClause(having.this, scope, groups))
        for arg, value in node.args.items():
            if arg in skip:
                continue
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, exp.Expr):
                    for nested in child.walk(prune=lambda n: isinstance(n, exp.Query)):
                        if isinstance(nested, exp.Query):
                            self.query(nested, scope.frames, ctes)

    def _using_condition(self, column: str, right_alias: str, frame: _Frame, scope: Scope) -> None:
        # JOIN ... USING (id) is `left.id = right.id` with the one earlier source that has an id.
        left = [alias for alias, source in frame.items() if alias != right_alias and source.has(column)]
        if len(left) == 1:
            condition = exp.EQ(
                this=exp.column(column, left[0], quoted=True),
                expression=exp.column(column, right_alias, quoted=True),
            )
            self.reading.conditions.append((condition, scope))


def _alias(source: exp.Expr) -> str:
    table_alias = source.args.get("alias")
    if isinstance(table_alias, exp.TableAlias):
        return identifier_name(table_alias.this)
    return identifier_name(source.this) if isinstance(source, exp.Table) else ""


def _ordinal(select: exp.Select, key: exp.Expr) -> exp.Expr:
    """`ORDER BY 2` / `GROUP BY 2`: the second select-list expression (its alias dropped)."""
    if isinstance(key, exp.Literal) and key.is_int and 1 <= int(key.name) <= _MAX_ORDINAL:
        position = int(key.name)
        if position <= len(select.expressions):
            chosen: exp.Expr = select.expressions[position - 1]
            inner = chosen.this if isinstance(chosen, exp.Alias) else chosen
            return inner if isinstance(inner, exp.Expr) else key
    return key


def _passthrough(select: exp.Select, local: Scope) -> _Passthrough:
    """Output columns of `select` that the planner can push an outer filter or sort down to.

    Only a level it pulls up whole: no grouping, DISTINCT, LIMIT, window or aggregate."""
    if any(select.args.get(arg) for arg in ("group", "distinct", "limit", "offset", "having")):
        return {}
    if any(select.find(kind) for kind in (exp.AggFunc, exp.Window)):
        return {}
    mapped: _Passthrough = {}
    for expression in select.expressions:
        if isinstance(expression, exp.Star):
            occurrences = [s for s in local.frames[-1].values() if isinstance(s, TableOccurrence)]
            counts: dict[str, int] = {}
            for occurrence in occurrences:
                for column in occurrence.column_names:
                    counts[column] = counts.get(column, 0) + 1
            for occurrence in occurrences:
                for column in sorted(occurrence.column_names):
                    if counts[column] == 1:
                        mapped.setdefault(column, (occurrence, column))
            continue
        inner = expression.this if isinstance(expression, exp.Alias) else expression
        if not isinstance(inner, exp.Column) or isinstance(inner.this, exp.Star):
            continue
        name = identifier_name(expression.args["alias"] if isinstance(expression, exp.Alias) else inner.this)
        resolved = local.resolve(inner)
        if name and resolved is not None and isinstance(resolved[0], TableOccurrence):
            mapped.setdefault(name, (resolved[0], resolved[1]))
    return mapped


def _output_names(select: exp.Select) -> frozenset[str] | None:
    # Outputs without a written name (`*`, `count(*)`) would need PostgreSQL's naming rules to guess.
    names = [
        identifier_name(
            e.args.get("alias") if isinstance(e, exp.Alias) else e.this if isinstance(e, exp.Column) else None
        )
        for e in select.expressions
    ]
    return frozenset(names) if all(names) else None


def read_statement(
    statement: exp.Expr, tables: Sequence[TableStats], views: ViewDefinitions | None = None
) -> StatementReading:
    """The conditions and orderings of SELECT, UPDATE, DELETE or INSERT ... SELECT, with their scopes.

    `views`: the definitions of the views the statement may read. Other statements read as empty.
    Raises RecursionError on absurdly deep statements.
    """
    walker = _Walker(tables, views or {})
    walker.statement(statement)
    return walker.reading
