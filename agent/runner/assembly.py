"""Putting the daemon together from the configuration: database, transport, spool, keys, jobs."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from agent.apply.apply_job import ChangeApplier
from agent.apply.errors import ChangeFailed
from agent.benchmark.settings import BenchmarkSettings
from agent.config import AgentConfig, collector_state_path
from agent.db.session import MonitoredDatabase
from agent.jobs.benchmark_index import IndexBenchmarker
from agent.jobs.executor import JobExecutor, WorkloadView
from agent.jobs.trust import PinnedKeys, parse_public_key
from agent.jobs.verification import JobVerifier, ReplayStore
from agent.privacy.jobs import PseudonymousJobExecutor
from agent.privacy.key import PrivacyKeyError, load_or_create_key
from agent.privacy.names import NAMES_FILE, Pseudonyms
from agent.runner.checkpoint import recover_state
from agent.runner.cycle import AgentRunner
from agent.runner.daemon import interruptible_sleep
from agent.runner.job_round import JobRound
from agent.runner.signing_keys import SigningKeys
from agent.ship.backoff import RetryPolicy
from agent.ship.spool import Spool, SpoolLimits
from agent.ship.statement_texts import SentTexts
from agent.ship.transport import ControlPlaneClient, TransportTimeouts
from agent.snapshot.collector import Collector


class ConfigurationError(Exception):
    pass


def _configured_public_key(config: AgentConfig) -> bytes | None:
    if config.control_plane_public_key is None:
        return None
    try:
        return parse_public_key(config.control_plane_public_key)
    except ValueError as error:
        raise ConfigurationError(f"--control-plane-public-key: {error}") from None


def build_client(config: AgentConfig, stop: threading.Event) -> ControlPlaneClient:
    if not config.api_url:
        raise ConfigurationError("no control plane configured: set --api-url or OPTISCHEMA_API_URL")
    if not config.agent_token:
        raise ConfigurationError("no agent token configured: set --agent-token or OPTISCHEMA_AGENT_TOKEN")
    run = config.run
    timeout = run.http_timeout_s
    try:
        return ControlPlaneClient(
            config.api_url,
            config.agent_token,
            ca_bundle=run.ca_bundle,
            timeouts=TransportTimeouts(connect_s=min(10.0, timeout), read_s=timeout, write_s=timeout),
            retry=RetryPolicy(
                run.retry_initial_s, max(run.retry_max_s, run.retry_initial_s), run.retry_max_attempts
            ),
            sleep=interruptible_sleep(stop),
            texts=SentTexts(timedelta(seconds=run.text_resend_after_s)),
        )
    except ValueError as error:
        raise ConfigurationError(str(error)) from None


def privacy_names(config: AgentConfig) -> Pseudonyms | None:
    """In privacy mode, the pseudonyms and their reverse map, kept beside the key in the spool dir."""
    if config.privacy_mode == "off":
        return None
    try:
        key = load_or_create_key(config.spool_dir, config.privacy_key)
    except (PrivacyKeyError, OSError) as error:
        raise ConfigurationError(f"privacy mode: {error}") from None
    return Pseudonyms(key, config.spool_dir / NAMES_FILE)


def _retry_sleep(stop: threading.Event) -> Callable[[float], None]:
    """The pause between lock retries of a change: cut short, and the change given up, on shutdown."""

    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise ChangeFailed("the agent is shutting down: the change was not retried")

    return sleep


@contextmanager
def assembled_runner(
    config: AgentConfig, stop: threading.Event, benchmark: BenchmarkSettings | None = None
) -> Iterator[AgentRunner]:
    run = config.run
    client = build_client(config, stop)
    try:
        pinned = PinnedKeys.load(config.spool_dir, _configured_public_key(config))
    except ValueError as error:
        client.close()
        raise ConfigurationError(str(error)) from None
    spool = Spool(
        config.spool_dir,
        SpoolLimits(
            max_bytes=run.spool_max_bytes,
            max_age=timedelta(seconds=run.spool_max_age_s),
            max_disk_fraction=run.spool_max_disk_fraction,
        ),
    )
    database = MonitoredDatabase(config.database_url, config.limits)
    workload = WorkloadView()
    applier = ChangeApplier(config.effective_apply_database_url, config.apply, sleep=_retry_sleep(stop))
    benchmarker = IndexBenchmarker(
        database, config.sandbox_database_url, config.limits, benchmark or BenchmarkSettings()
    )
    names = privacy_names(config)
    executor = (
        JobExecutor(
            database, workload, allow_apply=config.allow_apply, applier=applier, benchmarker=benchmarker
        )
        if names is None
        else PseudonymousJobExecutor(
            database,
            workload,
            names,
            allow_apply=config.allow_apply,
            applier=applier,
            benchmarker=benchmarker,
        )
    )
    verifier = JobVerifier(
        pinned,
        ReplayStore.load(config.spool_dir),
        database_id=None,
        leeway=timedelta(seconds=run.job_clock_leeway_s),
    )
    jobs = JobRound(
        client,
        executor,
        verifier=verifier,
        keys=SigningKeys(client, pinned),
        max_jobs=run.max_jobs_per_cycle,
        lease_renew_interval_s=config.apply.lease_renew_interval_s,
    )
    collector = Collector(database, config.collector, recover_state(spool, collector_state_path(config)))
    with client, database:
        yield AgentRunner(
            config, database, client, spool, collector=collector, jobs=jobs, workload=workload, names=names
        )
