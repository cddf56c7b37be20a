"""One apply or rollback job, from its payload to exactly one answer.

The catalog decides what to do, every time, so a job delivered again (after a crash, a lost answer or
a re-lease) does no harm: a valid identical index means the work is done, an INVALID one is the
remains of an earlier attempt (dropped and built again unless another backend is still building it),
and nothing means build. `IF NOT EXISTS` would skip a same-named but different index; the catalog
check tells them apart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from agent.anonymize.error_text import scrub_error
from agent.apply import preflight
from agent.apply.allowed_change import AllowedChange, ChangeJobKind, allowed_change
from agent.apply.catalog_state import IndexInfo, TableInfo, describe_relkind, find_index, find_relation
from agent.apply.cleanup import drop_invalid_leftover, refuse_while_building
from agent.apply.connection import ApplyConnection
from agent.apply.errors import ChangeFailed, ChangeRefused
from agent.apply.index_build import run_with_lock_retries
from agent.apply.index_definition import same_index_definition
from agent.config import ApplySettings
from shared.wire.jobs import ChangeOutcome, ChangePayload, ChangeResult, JobResult

log = logging.getLogger(__name__)


@dataclass
class _Progress:
    """What a run has done so far: reported on success, and the retries on failure too."""

    started: float
    lock_retries: int = 0
    warnings: list[str] = field(default_factory=list)


class ChangeApplier:
    def __init__(
        self,
        apply_database_url: str,
        settings: ApplySettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = apply_database_url
        self._settings = settings
        self._sleep = sleep
        self._monotonic = monotonic

    def run(self, job_kind: ChangeJobKind, payload: ChangePayload) -> JobResult:
        try:
            change = allowed_change(job_kind, payload)
            with ApplyConnection.open(self._url, self._settings) as connection:
                result = self._make(connection, change, _Progress(started=self._monotonic()))
        except ChangeRefused as refusal:
            log.warning("%s refused: %s", job_kind, refusal.reason)
            return JobResult(status="refused", error=f"{job_kind} refused: {refusal.reason}")
        except ChangeFailed as failure:
            log.warning("%s failed: %s", job_kind, failure.reason)
            return JobResult(status="failed", error=failure.reason)
        except psycopg.Error as error:
            return JobResult(status="failed", error=f"{job_kind} failed: {scrub_error(error)}")
        return JobResult(status="succeeded", result=result.model_dump(mode="json"))

    def _make(self, connection: ApplyConnection, change: AllowedChange, progress: _Progress) -> ChangeResult:
        preflight.require_primary(connection)
        if change.ddl.kind == "create_index":
            return self._create(connection, change, progress)
        if change.ddl.kind == "drop_index":
            return self._drop(connection, change, progress)
        return self._analyze(connection, change, progress)

    # -- CREATE INDEX CONCURRENTLY ------------------------------------------------------------------
    def _create(
        self, connection: ApplyConnection, change: AllowedChange, progress: _Progress
    ) -> ChangeResult:
        ddl = change.ddl
        assert ddl.table is not None and ddl.index_name is not None
        index_name = ddl.index_name
        table = preflight.require_table(connection, ddl.schema, ddl.table)
        preflight.require_payload_table(table, change.payload_table)
        preflight.refuse_partitioned(table)
        existing = self._existing_index(connection, change, table)
        if existing is not None and existing.valid:
            return self._result(change, progress, existing, did_work=False)
        if existing is not None:
            # Said before the preflight: a build running for hours is also an old transaction.
            refuse_while_building(connection, existing)
        progress.warnings += preflight.old_transactions(connection, self._settings.max_transaction_age_s)
        size = change.payload.estimated_size_bytes or preflight.hypothetical_size(connection, ddl)
        progress.warnings += preflight.free_disk(connection, size)
        if existing is not None and self._drop_leftover(connection, table.schema, ddl.index_name):
            progress.warnings.append(
                f"dropped the INVALID index {existing.qualified} left by an earlier attempt, then built it again"
            )
        try:
            progress.lock_retries = run_with_lock_retries(
                connection,
                ddl.sql,
                self._settings,
                what=f"building index {table.schema}.{ddl.index_name}",
                between_attempts=lambda: self._drop_leftover_quietly(connection, table.schema, index_name),
                sleep=self._sleep,
            )
        except ChangeFailed as failure:
            raise self._after_failed_build(
                connection, table, ddl.index_name, failure.reason, failure.lock_retries
            ) from None
        except psycopg.Error as error:
            reason = f"building index {table.schema}.{ddl.index_name} failed: {scrub_error(error)}"
            raise self._after_failed_build(connection, table, ddl.index_name, reason, 0) from None
        built = find_index(connection, table.schema, ddl.index_name)
        if built is None or not built.valid:
            raise self._after_failed_build(
                connection, table, ddl.index_name, "the build ended but the index is not valid", 0
            )
        return self._result(change, progress, built, did_work=True)

    def _existing_index(
        self, connection: ApplyConnection, change: AllowedChange, table: TableInfo
    ) -> IndexInfo | None:
        name = change.ddl.index_name
        assert name is not None
        relation = find_relation(connection, table.schema, name)
        if relation is None:
            return None
        index = find_index(connection, table.schema, name)
        if index is None:
            raise ChangeFailed(
                f"the name {table.schema}.{name} is taken by a {describe_relkind(relation.relkind)}"
            )
        if index.table.oid != table.oid or not same_index_definition(
            change.ddl.tree, index.definition, table.schema
        ):
            state = "a valid" if index.valid else "an INVALID"
            raise ChangeFailed(
                f"{state} index named {index.qualified} already exists on {index.table.qualified} with a "
                "different definition; it was left alone"
            )
        return index

    def _drop_leftover(self, connection: ApplyConnection, schema: str, name: str) -> bool:
        return drop_invalid_leftover(connection, schema, name, self._settings, sleep=self._sleep)

    def _drop_leftover_quietly(self, connection: ApplyConnection, schema: str, name: str) -> None:
        self._drop_leftover(connection, schema, name)

    def _after_failed_build(
        self, connection: ApplyConnection, table: TableInfo, name: str, reason: str, lock_retries: int
    ) -> ChangeFailed:
        """The failure to report, once the INVALID index the build may have left is dropped."""
        try:
            if self._drop_leftover(connection, table.schema, name):
                reason += f"; the INVALID index {table.schema}.{name} it left was dropped"
        except ChangeFailed as cleanup_failure:
            reason += f"; cleanup: {cleanup_failure.reason}"
        except psycopg.Error as error:
            reason += f"; cleanup failed: {scrub_error(error)}"
        return ChangeFailed(reason, lock_retries=lock_retries)

    # -- DROP INDEX CONCURRENTLY --------------------------------------------------------------------
    def _drop(self, connection: ApplyConnection, change: AllowedChange, progress: _Progress) -> ChangeResult:
        ddl = change.ddl
        assert ddl.index_name is not None
        index = find_index(connection, ddl.schema, ddl.index_name)
        if index is None:
            relation = find_relation(connection, ddl.schema, ddl.index_name)
            if relation is not None:
                raise ChangeRefused(
                    f"{ddl.index_name} is a {describe_relkind(relation.relkind)}, not an index"
                )
            return self._result(change, progress, None, did_work=False)
        preflight.require_payload_table(index.table, change.payload_table)
        preflight.refuse_partitioned(index.table)
        if index.backs_constraint:
            raise ChangeFailed(f"index {index.qualified} backs a constraint: it is not dropped by the agent")
        progress.warnings += preflight.old_transactions(connection, self._settings.max_transaction_age_s)
        try:
            progress.lock_retries = run_with_lock_retries(
                connection,
                ddl.sql,
                self._settings,
                what=f"dropping index {index.qualified}",
                sleep=self._sleep,
            )
        except psycopg.Error as error:
            raise ChangeFailed(f"dropping index {index.qualified} failed: {scrub_error(error)}") from None
        if find_index(connection, index.schema, index.name) is not None:
            raise ChangeFailed(f"index {index.qualified} is still in the catalog after the drop")
        return self._result(change, progress, None, did_work=True)

    # -- ANALYZE ------------------------------------------------------------------------------------
    def _analyze(
        self, connection: ApplyConnection, change: AllowedChange, progress: _Progress
    ) -> ChangeResult:
        ddl = change.ddl
        assert ddl.table is not None
        table = preflight.require_table(connection, ddl.schema, ddl.table)
        preflight.require_payload_table(table, change.payload_table)
        try:
            progress.lock_retries = run_with_lock_retries(
                connection, ddl.sql, self._settings, what=f"analyzing {table.qualified}", sleep=self._sleep
            )
        except psycopg.Error as error:
            raise ChangeFailed(f"analyzing {table.qualified} failed: {scrub_error(error)}") from None
        return self._result(change, progress, None, did_work=True)

    def _result(
        self, change: AllowedChange, progress: _Progress, index: IndexInfo | None, *, did_work: bool
    ) -> ChangeResult:
        return ChangeResult(
            outcome=_outcome(change, did_work),
            index_name=index.name if index is not None else change.ddl.index_name,
            index_valid=index.valid if index is not None else None,
            index_size_bytes=index.size_bytes if index is not None else None,
            duration_s=max(0.0, self._monotonic() - progress.started),
            lock_retries=progress.lock_retries,
            warnings=[warning[:1000] for warning in progress.warnings[:20]],
            finished_at=datetime.now(UTC),
        )


def _outcome(change: AllowedChange, did_work: bool) -> ChangeOutcome:
    """apply: applied, or already_applied when the catalog already shows the change made.

    rollback: rolled_back; with nothing to do, a DROP finds the index already_absent and a CREATE (the
    rollback of a dropped index) finds it already there, which is already_applied.
    """
    if change.job_kind == "apply":
        return "applied" if did_work else "already_applied"
    if did_work:
        return "rolled_back"
    return "already_absent" if change.ddl.kind == "drop_index" else "already_applied"
