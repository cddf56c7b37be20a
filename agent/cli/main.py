"""optischema-agent: results on standard output, progress and logs on standard error."""

from __future__ import annotations

import logging
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from agent.advise.advisor import AdvisorSettings
from agent.advise.report_text import render_text
from agent.advise.selection import SearchBounds
from agent.benchmark.advice import SandboxIsMonitored, advise_and_benchmark
from agent.benchmark.check import check_sandbox
from agent.cli.options import (
    agent_options,
    benchmark_options,
    benchmark_tuning_options,
    build_benchmark_settings,
    build_config,
    run_options,
)
from agent.collect.prerequisites import all_required_ok, check_server
from agent.config import collector_state_path
from agent.db.session import DatabaseUnavailable, MonitoredDatabase
from agent.privacy.snapshot import pseudonymous_snapshot
from agent.runner.assembly import ConfigurationError, assembled_runner, privacy_names
from agent.runner.control_plane_check import check_control_plane
from agent.runner.daemon import run_cycles, stop_on_signals
from agent.runner.local_advice import advise_database
from agent.snapshot.collector import Collector, PrerequisitesMissing
from agent.state.collector_state import load_state
from shared.log_setup import DEFAULT_LOG_LEVEL, LOG_LEVELS, configure_logging
from shared.version import PRODUCT_VERSION

log = logging.getLogger("optischema.agent")


@click.group()
@click.version_option(PRODUCT_VERSION, prog_name="optischema-agent")
@click.option(
    "--log-level",
    envvar="OPTISCHEMA_LOG_LEVEL",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default=DEFAULT_LOG_LEVEL,
    show_default=True,
)
def cli(log_level: str) -> None:
    """OptiSchema agent: reads PostgreSQL statistics locally and ships only anonymized metrics."""
    # The pool retries in the background and would repeat the same connection error many times.
    configure_logging(log_level, floors={"psycopg.pool": logging.CRITICAL})


@cli.command()
@agent_options
def check(**options: Any) -> None:
    """Check every prerequisite and print the exact fix for what is missing."""
    config = build_config(options)
    database = MonitoredDatabase(config.database_url, config.limits)
    try:
        with database, database.session() as session:
            results, _ = check_server(session)
    except DatabaseUnavailable as error:
        click.echo(f"fail  connection: {error}")
        sys.exit(1)
    click.echo(f"ok    connection: {database.redacted_url}")
    results.append(check_sandbox(config))
    for result in results:
        click.echo(result.line())
    control_plane_ok = True
    if config.api_url:
        control_plane_ok, line = check_control_plane(config)
        click.echo(line)
    sys.exit(0 if all_required_ok(results) and control_plane_ok else 1)


@cli.command()
@agent_options
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write here, not stdout"
)
def snapshot(output: Path | None, **options: Any) -> None:
    """Collect once and print exactly the payload `run` would send. Sends nothing, changes nothing."""
    config = build_config(options)
    database = MonitoredDatabase(config.database_url, config.limits)
    try:
        with database:
            collection = Collector(
                database, config.collector, load_state(collector_state_path(config))
            ).collect()
        names = privacy_names(config)  # privacy mode: the payload names only pseudonyms, as `run` sends it
    except (DatabaseUnavailable, PrerequisitesMissing, ConfigurationError) as error:
        click.echo(f"optischema-agent snapshot: {error}", err=True)
        sys.exit(1)
    sent = collection.snapshot if names is None else pseudonymous_snapshot(collection.snapshot, names)
    payload = sent.model_dump_json(indent=2)
    if output is None:
        click.echo(payload)
    else:
        output.write_text(payload + "\n")
        log.info("wrote snapshot %s to %s", collection.snapshot.snapshot_id, output)


@cli.command()
@agent_options
@click.option(
    "--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option(
    "--min-improvement",
    type=click.FloatRange(0, 100),
    default=AdvisorSettings.min_improvement_pct,
    show_default=True,
    help="A recommendation must cut the cost of the statements it serves by this many per cent",
)
@click.option(
    "--time-budget",
    envvar="OPTISCHEMA_ADVISE_TIME_BUDGET_S",
    type=float,
    default=SearchBounds.time_budget_s,
    show_default=True,
)
@click.option(
    "--max-candidates",
    envvar="OPTISCHEMA_ADVISE_MAX_CANDIDATES",
    type=int,
    default=SearchBounds.max_candidates,
    show_default=True,
)
@click.option(
    "--min-stats-age-hours",
    envvar="OPTISCHEMA_MIN_STATS_AGE_H",
    type=float,
    default=AdvisorSettings.min_stats_age / timedelta(hours=1),
    show_default=True,
    help="Index usage must have been counted this long before 'unused' is said",
)
@benchmark_options
def advise(
    output_format: str,
    min_improvement: float,
    time_budget: float,
    max_candidates: int,
    min_stats_age_hours: float,
    benchmark: bool,
    **options: Any,
) -> None:
    """Local mode: recommendations for this database's workload, verified with HypoPG."""
    config = build_config(options)
    if benchmark and not config.sandbox_database_url:
        click.echo("optischema-agent advise: --benchmark needs --sandbox-database-url", err=True)
        sys.exit(2)
    database = MonitoredDatabase(config.database_url, config.limits)
    settings = AdvisorSettings(
        min_improvement_pct=min_improvement,
        bounds=SearchBounds(time_budget_s=time_budget, max_candidates=max_candidates),
        min_stats_age=timedelta(hours=min_stats_age_hours),
    )
    try:
        with database:
            log.info("reading the workload from pg_stat_statements")
            if benchmark:
                report = advise_and_benchmark(
                    database, config, config.collector, settings, build_benchmark_settings(options)
                )
            else:
                report = advise_database(database, config.collector, settings)
    except (DatabaseUnavailable, PrerequisitesMissing, SandboxIsMonitored) as error:
        click.echo(f"optischema-agent advise: {error}", err=True)
        sys.exit(1)
    if output_format == "json":
        click.echo(
            report.model_dump_json(indent=2, exclude={"bounds_hit"} if not report.bounds_hit else None)
        )
    else:
        click.echo(render_text(report), nl=False)


@cli.command()
@agent_options
@run_options
@benchmark_tuning_options
def run(once: bool, **options: Any) -> None:
    """The daemon: collect, push, pull jobs and run them, every poll interval (--once: one cycle)."""
    config = build_config({**options, "once": once})
    stop = threading.Event()
    try:
        benchmark = build_benchmark_settings(options)
        with assembled_runner(config, stop, benchmark) as runner, stop_on_signals(stop):
            last = run_cycles(runner, interval_s=config.poll_interval_s, stop=stop, once=once)
    except ConfigurationError as error:
        click.echo(f"optischema-agent run: {error}", err=True)
        sys.exit(1)
    if last is not None and last.auth_failed:
        click.echo(f"optischema-agent run: stopped sending: {runner.shipping_stopped}", err=True)
        sys.exit(1)
    if once and last is not None and not last.collected:
        sys.exit(1)


def main() -> None:
    cli()
