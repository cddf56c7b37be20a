"""The snapshot: what one collection cycle of the agent sends to the control plane.

Everything in here has already been anonymized by the agent: query text with every literal replaced
by a placeholder, plans and index definitions scrubbed the same way, and no row data at all
(column statistics carry only null fractions, distinct counts and correlation).
"""

from __future__ import annotations

import gzip
from datetime import datetime
from typing import Final, Literal
from uuid import UUID

from pydantic import Field, model_validator

from shared.wire.advice import AdviceReport
from shared.wire.base import Fingerprint, NonNegativeFloat, NonNegativeInt, WireModel

# The version of this payload. The control plane accepts this one and the previous one so that
# agents can be upgraded after the control plane. Version 2 added `findings`; version 3 lets a
# statement leave out its `query` (and `relations`) when the agent sent them within the hour
# (agent/ship/statement_texts.py).
SNAPSHOT_SCHEMA_VERSION: Final = 3
# The first version whose statements may leave their text out.
TEXT_OPTIONAL_FROM: Final = 3

StatementType = Literal["select", "insert", "update", "delete", "merge"]
# Privacy mode: every schema, table, column and index name in the payload is a keyed pseudonym.
PrivacyMode = Literal["pseudonyms"]


class StatementCounters(WireModel):
    """Counters of pg_stat_statements over one interval (or since the last reset, see IntervalInfo)."""

    calls: NonNegativeInt = 0
    rows: NonNegativeInt = 0
    total_exec_time_ms: NonNegativeFloat = 0.0
    total_plan_time_ms: NonNegativeFloat = 0.0
    shared_blks_hit: NonNegativeInt = 0
    shared_blks_read: NonNegativeInt = 0
    shared_blks_dirtied: NonNegativeInt = 0
    shared_blks_written: NonNegativeInt = 0
    local_blks_hit: NonNegativeInt = 0
    local_blks_read: NonNegativeInt = 0
    temp_blks_read: NonNegativeInt = 0
    temp_blks_written: NonNegativeInt = 0
    blk_read_time_ms: NonNegativeFloat = 0.0
    blk_write_time_ms: NonNegativeFloat = 0.0
    wal_bytes: NonNegativeInt = 0


class StatementStats(StatementCounters):
    """One statement, merged over every pg_stat_statements entry that shares its fingerprint."""

    fingerprint: Fingerprint
    # Left out of the JSON when absent, as an agent sends a statement whose text the control plane
    # has: ~600 bytes of a 5,000-statement snapshot's ~660 per statement are its text.
    query: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description=(
            "Anonymized text: every literal is a $n placeholder. From version 3, left out when this"
            " agent sent it in an acknowledged snapshot within the hour"
        ),
    )
    statement_type: StatementType
    relations: list[str] = Field(default_factory=list, description="schema.table names it reads or writes")
    toplevel: bool = True


class ColumnStats(WireModel):
    name: str
    type: str
    not_null: bool
    null_frac: float | None = None
    n_distinct: float | None = None
    correlation: float | None = None
    avg_width: int | None = None


class TableStats(WireModel):
    schema_name: str
    name: str
    is_partitioned: bool = False
    row_estimate: float
    total_bytes: NonNegativeInt
    table_bytes: NonNegativeInt
    index_bytes: NonNegativeInt
    seq_scan: NonNegativeInt = 0
    seq_tup_read: NonNegativeInt = 0
    idx_scan: NonNegativeInt = 0
    idx_tup_fetch: NonNegativeInt = 0
    n_tup_ins: NonNegativeInt = 0
    n_tup_upd: NonNegativeInt = 0
    n_tup_del: NonNegativeInt = 0
    n_tup_hot_upd: NonNegativeInt = 0
    n_live_tup: NonNegativeInt = 0
    n_dead_tup: NonNegativeInt = 0
    last_vacuum: datetime | None = None
    last_autovacuum: datetime | None = None
    last_analyze: datetime | None = None
    last_autoanalyze: datetime | None = None
    columns: list[ColumnStats] = Field(default_factory=list)


class IndexStats(WireModel):
    schema_name: str
    table: str
    name: str
    definition: str | None = Field(description="Scrubbed CREATE INDEX; null when it could not be scrubbed.")
    columns: list[str] = Field(description="Key columns in order; an expression key appears as 'expr'.")
    access_method: str
    is_unique: bool
    is_primary: bool
    is_valid: bool
    is_partial: bool
    backs_constraint: bool
    size_bytes: NonNegativeInt
    idx_scan: NonNegativeInt = 0
    idx_tup_read: NonNegativeInt = 0
    idx_tup_fetch: NonNegativeInt = 0


class ServerInfo(WireModel):
    version: str = Field(description="For example '15.19'")
    version_num: int = Field(description="server_version_num, for example 150019")
    is_replica: bool
    settings: dict[str, str] = Field(default_factory=dict, description="Tuning settings with their unit")
    cache_hit_ratio: float | None = None
    connections_by_state: dict[str, NonNegativeInt] = Field(default_factory=dict)
    transactions_per_second: NonNegativeFloat | None = None
    stats_reset_at: datetime | None = Field(default=None, description="pg_stat_statements_info.stats_reset")
    pg_stat_statements_max: NonNegativeInt | None = None


class PlanSample(WireModel):
    fingerprint: Fingerprint
    generic: bool = Field(description="A generic plan (parameters unknown), never an executed one")
    total_cost: NonNegativeFloat
    plan: dict[str, object] = Field(description="EXPLAIN (FORMAT JSON) output, scrubbed of constants")


class IntervalInfo(WireModel):
    kind: Literal["delta", "since_reset"] = Field(
        description="'delta': counters over [started_at, ended_at]; 'since_reset': the agent had no saved "
        "state, so the counters are what accumulated since statistics were last reset"
    )
    started_at: datetime | None
    ended_at: datetime
    seconds: NonNegativeFloat | None
    reset_detected: bool = Field(
        default=False, description="pg_stat_statements was reset during the interval; deltas restart here"
    )
    entries_deallocated: NonNegativeInt = Field(
        default=0, description="Entries evicted from pg_stat_statements during the interval (dealloc)"
    )


class DroppedStatements(WireModel):
    """Statements that were observed but never sent, by reason, so that their absence is visible."""

    utility: NonNegativeInt = 0
    unparseable: NonNegativeInt = 0
    agent_own: NonNegativeInt = 0
    catalog_only: NonNegativeInt = 0
    transaction_control: NonNegativeInt = 0
    counters_reset: NonNegativeInt = 0


class Snapshot(WireModel):
    schema_version: Literal[1, 2, 3] = SNAPSHOT_SCHEMA_VERSION
    snapshot_id: UUID
    agent_version: str
    collected_at: datetime
    database_name: str
    interval: IntervalInfo
    server: ServerInfo
    statements: list[StatementStats] = Field(default_factory=list)
    tables: list[TableStats] = Field(default_factory=list)
    indexes: list[IndexStats] = Field(default_factory=list)
    plans: list[PlanSample] = Field(default_factory=list)
    dropped: DroppedStatements = Field(default_factory=DroppedStatements)
    findings: AdviceReport | None = Field(
        default=None, description="The agent's own advisor run, already verified with HypoPG (version 2 on)"
    )
    # Optional and left out of the JSON when unset: a control plane that predates it (extra keys
    # are refused) still accepts every snapshot of an agent not in privacy mode, in either version.
    privacy: PrivacyMode | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="'pseudonyms': every schema, table, column and index name is a keyed pseudonym",
    )

    @model_validator(mode="after")
    def _findings_need_version_2(self) -> Snapshot:
        if self.schema_version < 2 and self.findings is not None:
            raise ValueError("a version 1 snapshot cannot carry findings; send schema_version 2")
        return self

    @model_validator(mode="after")
    def _texts_optional_from_version_3(self) -> Snapshot:
        if self.schema_version < TEXT_OPTIONAL_FROM:
            missing = next((i for i, s in enumerate(self.statements) if s.query is None), None)
            if missing is not None:
                raise ValueError(missing_text_message(self.schema_version, missing))
        return self


def missing_text_message(version: int, index: int) -> str:
    """Why a snapshot of a version before TEXT_OPTIONAL_FROM whose statement `index` has no text is
    refused (the same words from the model and from the control plane's fast path)."""
    return (
        f"statements.{index}.query is required in a version {version} snapshot;"
        f" send schema_version {TEXT_OPTIONAL_FROM} to leave texts out"
    )


def gzipped_json(snapshot: Snapshot) -> bytes:
    """A snapshot as an agent sends it and keeps it in its spool: the model's JSON, gzipped at level
    9 with no timestamp in the header (the same snapshot, the same bytes)."""
    return gzip.compress(snapshot.model_dump_json().encode(), mtime=0)


# The shared types are re-exported: they used to live here, and many modules import them from here.
__all__ = [
    "SNAPSHOT_SCHEMA_VERSION",
    "TEXT_OPTIONAL_FROM",
    "ColumnStats",
    "DroppedStatements",
    "Fingerprint",
    "IndexStats",
    "IntervalInfo",
    "NonNegativeFloat",
    "NonNegativeInt",
    "PlanSample",
    "PrivacyMode",
    "ServerInfo",
    "Snapshot",
    "StatementCounters",
    "StatementStats",
    "StatementType",
    "TableStats",
    "WireModel",
    "gzipped_json",
]
