"""One cycle of the daemon: collect, spool, deliver, check in, run jobs.

The snapshot goes to the spool before anything is sent (write-ahead), and the collector's state is
saved only after that: an agent killed at any point loses no interval, and a resend is harmless
because the control plane is idempotent on `snapshot_id`. Each step is guarded: a failed or slow
step is logged, the cycle goes on to what does not depend on it, and the loop keeps running.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from agent.advise.advisor import AdvisorSettings
from agent.advise.selection import SearchBounds
from agent.anonymize.findings import findings_for_wire
from agent.config import AgentConfig, collector_state_path
from agent.db.session import DatabaseUnavailable, MonitoredDatabase
from agent.jobs.executor import WorkloadView
from agent.privacy.names import Pseudonyms
from agent.privacy.snapshot import PRIVACY_MODE, pseudonymous_snapshot
from agent.runner.checkpoint import spool_with_state
from agent.runner.job_round import JobRound
from agent.runner.local_advice import advice_due, advise_database
from agent.ship.delivery import deliver_spooled
from agent.ship.errors import AuthenticationRejected, ShipError
from agent.ship.spool import Spool
from agent.ship.transport import ControlPlaneClient
from agent.snapshot.collector import Collection, Collector, PrerequisitesMissing
from shared.version import PRODUCT_VERSION
from shared.wire.heartbeat import Heartbeat
from shared.wire.snapshot import Snapshot

log = logging.getLogger("optischema.agent.run")


class ShutdownRequested(Exception):
    """SIGTERM arrived while the cycle was waiting to retry: stop talking, the work is spooled."""


@dataclass
class CycleReport:
    number: int
    collected: bool = False
    findings: int | None = None
    delivered: int = 0
    spooled: int = 0
    jobs_done: int = 0
    jobs_refused: int = 0
    auth_failed: bool = False
    upgrade_required: bool = False
    errors: list[str] = field(default_factory=list)

    def failed(self, step: str, error: BaseException) -> None:
        message = f"{step}: {error}"
        self.errors.append(message)
        log.warning("cycle %d: %s", self.number, message)


class AgentRunner:
    def __init__(
        self,
        config: AgentConfig,
        database: MonitoredDatabase,
        client: ControlPlaneClient,
        spool: Spool,
        *,
        collector: Collector,
        jobs: JobRound,
        workload: WorkloadView,
        monotonic: Callable[[], float] = time.monotonic,
        names: Pseudonyms | None = None,
    ) -> None:
        self._config = config
        self._database = database
        self._client = client
        self._spool = spool
        self._collector = collector
        self._jobs = jobs
        self._workload = workload
        self._monotonic = monotonic
        self._names = names  # privacy mode: what is spooled and sent names only pseudonyms
        self._cycle = 0
        self._server_version: str | None = None
        self.shipping_stopped: str | None = None  # why, once the control plane refused our token

    def run_cycle(self) -> CycleReport:
        self._cycle += 1
        report = CycleReport(self._cycle)
        deadline = self._monotonic() + self._config.cycle_deadline_s
        collection = self._collect(report)
        if collection is not None:
            self._spool_snapshot(collection, report)
        if self.shipping_stopped is None:
            self._ship(report, deadline)
        if self.shipping_stopped is not None:
            report.auth_failed = True
        report.spooled = self._spool.pending_count
        return report

    # -- local work --------------------------------------------------------------------------------
    def _collect(self, report: CycleReport) -> Collection | None:
        try:
            collection = self._collector.collect()
        except (DatabaseUnavailable, PrerequisitesMissing) as error:
            report.failed("collect", error)
            return None
        self._workload.server_version_num = collection.snapshot.server.version_num
        self._server_version = collection.snapshot.server.version
        # Every statement pg_stat_statements holds, not only this interval's: a job may name any.
        self._workload.statement_texts = self._collector.statement_texts()
        self._workload.known_columns = {
            f"{table.schema_name}.{table.name}": {column.name for column in table.columns}
            for table in collection.schema.tables
        }
        self._workload.tables = list(collection.schema.tables)
        report.collected = True
        return collection

    def _spool_snapshot(self, collection: Collection, report: CycleReport) -> None:
        snapshot = collection.snapshot
        if advice_due(self._cycle, self._config.run.advise_every_cycles):
            snapshot = self._with_findings(snapshot, report)
        if self._names is not None:
            try:
                snapshot = pseudonymous_snapshot(snapshot, self._names)
            except Exception as error:
                # Nothing with a real name is spooled: the baseline stays, the next delta covers it.
                log.exception("the snapshot could not be pseudonymized; it is not sent")
                report.failed("privacy", error)
                return
        try:
            if self._names is not None:
                self._names.save()  # before the snapshot can be sent: every pseudonym can come back
            spool_with_state(self._spool, snapshot, collection.state, collector_state_path(self._config))
        except OSError as error:
            # The old baseline stays: the next cycle's delta covers this interval too.
            report.failed("spool", error)

    def _with_findings(self, snapshot: Snapshot, report: CycleReport) -> Snapshot:
        run = self._config.run
        settings = AdvisorSettings(
            min_improvement_pct=run.advise_min_improvement_pct,
            bounds=SearchBounds(time_budget_s=run.advise_time_budget_s),
            min_stats_age=timedelta(hours=run.advise_min_stats_age_h),
        )
        try:
            advice = advise_database(self._database, self._config.collector, settings)
        except (DatabaseUnavailable, PrerequisitesMissing) as error:
            report.failed("advise", error)
            return snapshot
        except Exception as error:
            log.exception("the local advisor failed")
            report.failed("advise", error)
            return snapshot
        findings = findings_for_wire(advice)
        report.findings = len(findings.recommendations)
        log.info("advisor: %d findings to send", report.findings)
        return snapshot.model_copy(update={"findings": findings})

    # -- the network ---------------------------------------------------------------------------------
    def _ship(self, report: CycleReport, deadline: float) -> None:
        try:
            outcome = deliver_spooled(self._spool, self._client, deadline=deadline)
            report.delivered = outcome.delivered
            report.upgrade_required = outcome.upgrade_required
            if outcome.auth_failed:
                self._stop_shipping(outcome.stopped_reason or "the control plane rejected the agent token")
                return
            if outcome.upgrade_required:
                log.error(
                    "the control plane does not accept this agent's payload version (%s): upgrade "
                    "optischema-agent; snapshots stay in the spool until then",
                    PRODUCT_VERSION,
                )
            elif outcome.stopped_reason:
                log.warning(
                    "delivery stopped: %s (%d snapshots stay spooled)",
                    outcome.stopped_reason,
                    outcome.remaining,
                )
            self._heartbeat(deadline)
            jobs = self._jobs.run(deadline)
            report.jobs_done, report.jobs_refused = jobs.done, jobs.refused
        except AuthenticationRejected as error:
            self._stop_shipping(str(error))
        except ShutdownRequested:
            report.errors.append("shutdown requested; the rest of this cycle's work stays spooled")
        except ShipError as error:
            report.failed("control plane", error)

    def _heartbeat(self, deadline: float) -> None:
        dropped = self._spool.dropped_unreported()
        self._client.post_heartbeat(
            Heartbeat(
                agent_version=PRODUCT_VERSION,
                server_version=self._server_version,
                spooled_snapshots=self._spool.pending_count,
                dropped_snapshots=dropped,
                # Said only when true: an older control plane refuses a heartbeat key it does not know.
                sandbox=True if self._config.sandbox_database_url else None,
                privacy=None if self._names is None else PRIVACY_MODE,
            ),
            deadline=deadline,
        )
        if dropped:
            self._spool.acknowledge_dropped(dropped)

    def _stop_shipping(self, reason: str) -> None:
        if self.shipping_stopped is None:
            log.error(
                "stopped sending to the control plane: %s. Snapshots keep going to the spool; fix "
                "OPTISCHEMA_AGENT_TOKEN and restart the agent.",
                reason,
            )
        self.shipping_stopped = reason
