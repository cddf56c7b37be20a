"""What the catalog says about a table and an index: the agent's memory across crashes and re-runs.

A concurrent build leaves a trace at every stage: nothing yet, an INVALID index (`pg_index.indisvalid`
false) while it runs or after it failed, a valid index once done. Whether an INVALID one is still being
built is told by `pg_stat_progress_create_index`, or, where the apply role may not see other roles'
progress rows, by the SHARE UPDATE EXCLUSIVE lock the build holds on its table.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.apply.connection import ApplyConnection

PARTITIONED_TABLE = "p"
_TABLE_KINDS = {"r": "table", "p": "partitioned table", "m": "materialized view"}


@dataclass(frozen=True)
class TableInfo:
    oid: int
    schema: str
    name: str
    relkind: str

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def partitioned(self) -> bool:
        return self.relkind == PARTITIONED_TABLE


@dataclass(frozen=True)
class IndexInfo:
    oid: int
    schema: str
    name: str
    table: TableInfo
    valid: bool
    definition: str  # pg_get_indexdef
    size_bytes: int
    backs_constraint: bool

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class Relation:
    oid: int
    relkind: str


def find_relation(connection: ApplyConnection, schema: str | None, name: str) -> Relation | None:
    """Any relation by that name: unqualified names are resolved by search_path, as the server would."""
    row = connection.fetch_one(
        """
        SELECT c.oid::bigint, c.relkind::text FROM pg_class c
        WHERE c.oid = CASE WHEN %s::text IS NULL THEN to_regclass(format('%%I', %s::text))
                           ELSE to_regclass(format('%%I.%%I', %s::text, %s::text)) END
        """,
        [schema, name, schema, name],
    )
    return None if row is None else Relation(oid=int(row[0]), relkind=str(row[1]))


def find_table(connection: ApplyConnection, schema: str | None, name: str) -> TableInfo | None:
    relation = find_relation(connection, schema, name)
    if relation is None or relation.relkind not in _TABLE_KINDS:
        return None
    return _table_by_oid(connection, relation.oid)


def _table_by_oid(connection: ApplyConnection, oid: int) -> TableInfo | None:
    row = connection.fetch_one(
        """
        SELECT c.oid::bigint, n.nspname::text, c.relname::text, c.relkind::text
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = %s
        """,
        [oid],
    )
    return None if row is None else TableInfo(int(row[0]), str(row[1]), str(row[2]), str(row[3]))


def find_index(connection: ApplyConnection, schema: str | None, name: str) -> IndexInfo | None:
    relation = find_relation(connection, schema, name)
    if relation is None or relation.relkind not in ("i", "I"):
        return None
    row = connection.fetch_one(
        """
        SELECT c.oid::bigint, n.nspname::text, c.relname::text, i.indrelid::bigint, i.indisvalid,
               pg_get_indexdef(c.oid), pg_relation_size(c.oid),
               EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid)
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_index i ON i.indexrelid = c.oid
        WHERE c.oid = %s
        """,
        [relation.oid],
    )
    if row is None:
        return None
    table = _table_by_oid(connection, int(row[3]))
    if table is None:
        return None
    return IndexInfo(
        oid=int(row[0]),
        schema=str(row[1]),
        name=str(row[2]),
        table=table,
        valid=bool(row[4]),
        definition=str(row[5]),
        size_bytes=int(row[6]),
        backs_constraint=bool(row[7]),
    )


def describe_relkind(relkind: str) -> str:
    kinds = {**_TABLE_KINDS, "i": "index", "I": "partitioned index", "S": "sequence", "v": "view"}
    return kinds.get(relkind, "relation")


def builds_in_progress(connection: ApplyConnection, index: IndexInfo) -> list[int]:
    """Backends (not this one) that are building this index, or may be: their pids.

    Progress rows of other roles hide their relids from a role without pg_read_all_stats; such a
    row counts when its backend holds the build's lock on the table (conservative: a job that waits
    for a finished build is better than one that drops an index another backend is filling).
    """
    rows = connection.fetch_all(
        """
        SELECT p.pid FROM pg_stat_progress_create_index p
        WHERE p.pid <> pg_backend_pid()
          AND (p.index_relid = %s
               OR (p.relid IS NULL AND EXISTS (
                   SELECT 1 FROM pg_locks l
                   WHERE l.pid = p.pid AND l.relation = %s AND l.mode = 'ShareUpdateExclusiveLock')))
        ORDER BY p.pid
        """,
        [index.oid, index.table.oid],
    )
    return [int(row[0]) for row in rows]
