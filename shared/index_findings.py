"""Index findings from the schema alone: unused, duplicate, prefix-redundant and invalid indexes.

One rule for both sides: the agent's advisor sends these as `drop_index` recommendations, and the
control plane's index-health page classifies the latest snapshot's indexes with the same functions
(`classified_index_findings`), so a finding has the same id (its stable key) on both.

Dropping an index is judged by people, so these are `advisory`: each carries the numbers behind it
in a rationale someone can check, and a rollback that rebuilds the index when its definition is
known. Indexes that enforce something (primary keys, unique indexes, constraints) are never proposed
for being unused, and a duplicate that enforces something is always the one kept.

Indexes of partitioned tables (pg_get_indexdef prints `ON ONLY`) are left alone: their scans are
counted on the partitions, and neither DROP nor CREATE INDEX CONCURRENTLY works on them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from shared.sql.index_ddl import drop_index_sql
from shared.sql.normalized_text import split_segments
from shared.wire.advice import Recommendation
from shared.wire.snapshot import IndexStats

# (schema, index name) -> pg_get_indexdef() text, as read_schema returns it. Never on the wire.
RawDefinitions = Mapping[tuple[str, str], str]
IndexKind = Literal["unused", "duplicate", "redundant", "invalid"]


@dataclass(frozen=True)
class IndexFinding:
    """One index worth dropping, why (its kind), and the `drop_index` recommendation for it."""

    index: IndexStats
    kind: IndexKind
    recommendation: Recommendation


# Every finding's reason opens with its kind's words. The wire carries no kind, so the control plane
# reads the kind of an agent's finding it cannot judge itself (unused, or a duplicate of a partial
# index) from these: one table for writing and reading them.
_OPENERS: dict[IndexKind, str] = {
    "unused": "0 scans since",
    "duplicate": "Same definition as",
    "redundant": "Its keys",
    "invalid": "INVALID since",
}


def finding_kind(rationale: str) -> IndexKind | None:
    """The kind of a drop finding, from the opening of its reason; None for another text."""
    return next((kind for kind, opener in _OPENERS.items() if rationale.startswith(opener)), None)


_CREATE_INDEX = re.compile(r'CREATE (UNIQUE )?INDEX (?:CONCURRENTLY )?(?:"(?:[^"]|"")+"|\S+) ON ')
_ACCESS_METHOD = re.compile(r" USING \w+ \(")


def _definition(index: IndexStats, raw: RawDefinitions | None) -> str | None:
    return (raw or {}).get((index.schema_name, index.name)) or index.definition


def _on_partitioned_table(index: IndexStats, raw: RawDefinitions | None) -> bool:
    return " ON ONLY " in (_definition(index, raw) or "")


def _nameless_definition(index: IndexStats, raw: RawDefinitions | None) -> str | None:
    """The definition minus the index name, for comparing indexes; None when it cannot be trusted.

    Scrubbing turns every literal into `?`, so two partial or expression indexes that differ only in
    a constant would look identical: those are only compared by their raw definitions.
    """
    definition = (raw or {}).get((index.schema_name, index.name))
    if definition is None and not index.is_partial and "expr" not in index.columns:
        definition = index.definition
    if definition is None or _on_partitioned_table(index, raw):
        return None
    return _CREATE_INDEX.sub(lambda m: f"CREATE {m.group(1) or ''}INDEX ON ", definition, count=1)


def _key_items(definition: str) -> tuple[tuple[str, ...], str] | None:
    """The key items of a definition (with opclass, collation, order) and the text after their list."""
    offset, start = 0, None
    for segment in split_segments(definition):
        method = _ACCESS_METHOD.search(segment.text) if segment.kind == "code" else None
        if method is not None:
            start = offset + method.end()
            break
        offset += len(segment.text)
    if start is None:
        return None
    items: list[str] = []
    current, depth, position = "", 1, start
    for segment in split_segments(definition[start:]):
        if segment.kind != "code":  # a quoted name or string may hold parentheses and commas
            current += segment.text
            position += len(segment.text)
            continue
        for char in segment.text:
            position += 1
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth == 0:
                return (*items, current.strip()), definition[position:]
            if depth == 1 and char == ",":
                items.append(current.strip())
                current = ""
            else:
                current += char
    return None


def _size_text(size: int) -> str:
    # pg_size_pretty's steps, so the number matches what a DBA sees in psql.
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB"):
        if value < 10 * 1024:
            return f"{round(value)} {unit}"
        value /= 1024
    return f"{round(value)} TB"


def _age_text(age: timedelta) -> str:
    if age >= timedelta(days=1):
        return f"{age.days} day{'s' if age.days != 1 else ''}"
    hours = int(age.total_seconds() // 3600)
    if hours == 0:  # a minimum age set below an hour (OPTISCHEMA_MIN_STATS_AGE_H): not "0 hours"
        minutes = int(age.total_seconds() // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{hours} hour{'s' if hours != 1 else ''}"


def _columns_text(index: IndexStats) -> str:
    return f"({', '.join(index.columns)})"


def finding_id(index: IndexStats) -> str:
    """The stable id of any drop finding for this index: the same on the agent and the control plane."""
    return "drop_index:" + hashlib.sha256(f"{index.schema_name}.{index.name}".encode()).hexdigest()[:16]


def _drop(index: IndexStats, rationale: str, raw: RawDefinitions | None) -> Recommendation:
    definition = (raw or {}).get((index.schema_name, index.name))
    rebuild = None
    if definition is not None and _CREATE_INDEX.match(definition):
        # CONCURRENTLY for the same reason as the drop: a plain build blocks writes to the table.
        rebuild = re.sub(r"^CREATE (UNIQUE )?INDEX ", r"CREATE \1INDEX CONCURRENTLY ", definition) + ";"
    return Recommendation(
        id=finding_id(index),
        kind="drop_index",
        tier="advisory",
        sql=drop_index_sql(index.schema_name, index.name),
        rollback_sql=rebuild,
        table=f"{index.schema_name}.{index.table}",
        columns=list(index.columns),
        improvement_pct=None,
        queries=[],
        rationale=rationale,
    )


def _enforces(index: IndexStats) -> bool:
    return index.is_primary or index.backs_constraint or index.is_unique


def unused_indexes(
    indexes: Sequence[IndexStats],
    *,
    stats_age: timedelta | None,
    min_stats_age: timedelta = timedelta(days=7),
    raw_definitions: RawDefinitions | None = None,
) -> list[Recommendation]:
    return [
        found.recommendation
        for found in _unused(indexes, stats_age=stats_age, min_stats_age=min_stats_age, raw=raw_definitions)
    ]


def _unused(
    indexes: Sequence[IndexStats],
    *,
    stats_age: timedelta | None,
    min_stats_age: timedelta,
    raw: RawDefinitions | None,
) -> list[IndexFinding]:
    """Valid, non-enforcing indexes with no scan since statistics were reset at least min_stats_age ago.

    With statistics younger than that (or of unknown age) nothing is reported: a weekly or monthly
    job may not have run yet.
    """
    if stats_age is None or stats_age < min_stats_age:
        return []
    found = []
    for index in indexes:
        if index.idx_scan or not index.is_valid or _enforces(index):
            continue
        if _on_partitioned_table(index, raw):
            continue
        rationale = (
            f"{_OPENERS['unused']} statistics were reset {_age_text(stats_age)} ago; {_size_text(index.size_bytes)}"
            f" on disk; not unique and not backing a constraint; every write to {index.schema_name}.{index.table} still"
            " updates it. Scans on standbys are not counted here: check them before dropping."
        )
        found.append(IndexFinding(index, "unused", _drop(index, rationale, raw)))
    return found


def _keeper_order(index: IndexStats) -> tuple[bool, bool, bool, int, str]:
    return (
        not index.is_primary,
        not index.backs_constraint,
        not index.is_unique,
        -index.idx_scan,
        index.name,
    )


def duplicate_indexes(
    indexes: Sequence[IndexStats], *, raw_definitions: RawDefinitions | None = None
) -> list[Recommendation]:
    """Exact duplicates (all but one), then indexes whose keys lead a wider B-tree on the same table."""
    return [found.recommendation for found in _duplicates(indexes, raw_definitions)]


def _duplicates(indexes: Sequence[IndexStats], raw_definitions: RawDefinitions | None) -> list[IndexFinding]:
    groups: dict[tuple[str, str, str], list[IndexStats]] = {}
    for index in indexes:
        signature = _nameless_definition(index, raw_definitions) if index.is_valid else None
        if signature is not None:
            groups.setdefault((index.schema_name, index.table, signature), []).append(index)
    found: list[IndexFinding] = []
    dropped: set[tuple[str, str]] = set()
    for group in groups.values():
        kept, *others = sorted(group, key=_keeper_order)
        for index in others:
            if index.is_primary or index.backs_constraint:
                continue  # only ALTER TABLE ... DROP CONSTRAINT removes it; the person decides
            rationale = (
                f"{_OPENERS['duplicate']} {kept.name} on {index.schema_name}.{index.table} {_columns_text(index)};"
                f" every write updates both. {_size_text(index.size_bytes)} on disk, {index.idx_scan} scans"
                f" ({kept.name}: {kept.idx_scan}); {kept.name} is kept as {_why_kept(kept, index)}."
            )
            found.append(IndexFinding(index, "duplicate", _drop(index, rationale, raw_definitions)))
            dropped.add((index.schema_name, index.name))
    survivors = [i for i in indexes if (i.schema_name, i.name) not in dropped]
    found.extend(_prefix_redundant(survivors, raw_definitions))
    return found


def _why_kept(kept: IndexStats, other: IndexStats) -> str:
    if kept.is_primary or kept.backs_constraint:
        return "it backs a constraint"
    if kept.idx_scan != other.idx_scan:
        return "it has more scans"
    return "the alphabetically first"


def _prefix_redundant(indexes: Iterable[IndexStats], raw: RawDefinitions | None) -> list[IndexFinding]:
    shapes: list[tuple[IndexStats, tuple[str, ...], str]] = []
    for index in indexes:
        if (
            not index.is_valid
            or index.access_method != "btree"
            or index.is_partial
            or "expr" in index.columns
        ):
            continue
        definition = _nameless_definition(index, raw)
        items = _key_items(definition) if definition is not None else None
        if items is not None:
            shapes.append((index, *items))
    # Compared within each table only: across a database's hundreds of indexes, comparing every
    # pair was 600 x 600 tuples (110 ms of the index-health page on 2 cores).
    by_table: dict[tuple[str, str], list[tuple[IndexStats, tuple[str, ...], str]]] = {}
    for shape in shapes:
        by_table.setdefault((shape[0].schema_name, shape[0].table), []).append(shape)
    found = []
    for short, short_keys, short_rest in shapes:
        # A unique or constraint index enforces what the wider one does not; INCLUDE columns serve
        # index-only scans that the wider one may not.
        if _enforces(short) or "INCLUDE" in short_rest:
            continue
        # Keys compare with their operator class, collation and order: `(a text_pattern_ops)` is no
        # prefix of `(a, b)`.
        wider = sorted(
            (len(keys), long.name, long)
            for long, keys, _ in by_table[(short.schema_name, short.table)]
            if len(keys) > len(short_keys) and keys[: len(short_keys)] == short_keys
        )
        if wider:
            long = wider[0][2]
            rationale = (
                f"{_OPENERS['redundant']} {_columns_text(short)} lead {long.name} {_columns_text(long)} on"
                f" {short.schema_name}.{short.table}, which serves the same lookups and sorts;"
                f" {_size_text(short.size_bytes)} on disk, {short.idx_scan} scans that {long.name} can"
                " take over (a wider index is slightly slower to scan)."
            )
            found.append(IndexFinding(short, "redundant", _drop(short, rationale, raw)))
    return found


def invalid_indexes(
    indexes: Sequence[IndexStats], *, raw_definitions: RawDefinitions | None = None
) -> list[Recommendation]:
    return [found.recommendation for found in _invalid(indexes, raw_definitions)]


def _invalid(indexes: Sequence[IndexStats], raw_definitions: RawDefinitions | None) -> list[IndexFinding]:
    """INVALID indexes: leftovers of a failed CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY."""
    found = []
    for index in indexes:
        if index.is_valid or index.backs_constraint or index.is_primary:
            continue
        # `CREATE INDEX ... ON ONLY` a partitioned table is invalid by design until every partition
        # has its index attached: a step of building it without locks, not a failure.
        if _on_partitioned_table(index, raw_definitions):
            continue
        rationale = (
            f"{_OPENERS['invalid']} a CREATE INDEX CONCURRENTLY (or REINDEX CONCURRENTLY) failed or was cancelled:"
            f" queries never use it, yet writes to {index.schema_name}.{index.table} may still update it;"
            f" {_size_text(index.size_bytes)} on disk. Unless a build is running right now"
            " (pg_stat_progress_create_index), drop it and rebuild it if still wanted"
            + (
                " after removing the duplicate values that broke the unique build."
                if index.is_unique
                else "."
            )
        )
        found.append(IndexFinding(index, "invalid", _drop(index, rationale, raw_definitions)))
    return found


def classified_index_findings(
    indexes: Sequence[IndexStats],
    *,
    stats_age: timedelta | None,
    min_stats_age: timedelta = timedelta(days=7),
    raw_definitions: RawDefinitions | None = None,
) -> list[IndexFinding]:
    """All four kinds, one finding per index: invalid first, then duplicate and redundant, then unused."""
    found: dict[str, IndexFinding] = {}
    for finding in [
        *_invalid(indexes, raw_definitions),
        *_duplicates(indexes, raw_definitions),
        *_unused(indexes, stats_age=stats_age, min_stats_age=min_stats_age, raw=raw_definitions),
    ]:
        found.setdefault(finding.recommendation.id, finding)
    return list(found.values())


def index_findings(
    indexes: Sequence[IndexStats],
    *,
    stats_age: timedelta | None,
    min_stats_age: timedelta = timedelta(days=7),
    raw_definitions: RawDefinitions | None = None,
) -> list[Recommendation]:
    """The findings as the advisor sends them: `drop_index` recommendations."""
    return [
        finding.recommendation
        for finding in classified_index_findings(
            indexes, stats_age=stats_age, min_stats_age=min_stats_age, raw_definitions=raw_definitions
        )
    ]
