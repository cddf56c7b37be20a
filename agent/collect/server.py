"""Server context: version, role (primary or replica), tuning settings, cache and connection figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from agent.db.session import AgentSession
from shared.wire.snapshot import ServerInfo

# The settings a tuning advisor reasons about. Their values are configuration, never data.
TUNING_SETTINGS: tuple[str, ...] = (
    "shared_buffers",
    "work_mem",
    "maintenance_work_mem",
    "effective_cache_size",
    "random_page_cost",
    "seq_page_cost",
    "effective_io_concurrency",
    "max_connections",
    "max_parallel_workers_per_gather",
    "max_worker_processes",
    "default_statistics_target",
    "autovacuum",
    "jit",
    "max_wal_size",
    "checkpoint_timeout",
    "track_io_timing",
    "pg_stat_statements.max",
    "pg_stat_statements.track",
    "pg_stat_statements.track_utility",
)


@dataclass(frozen=True)
class DatabaseActivity:
    """Cumulative counters of pg_stat_database, kept between polls to turn into rates."""

    observed_at: datetime
    transactions: int
    blocks_hit: int
    blocks_read: int


@dataclass(frozen=True)
class ServerReading:
    info: ServerInfo
    activity: DatabaseActivity
    database_name: str


def _setting_with_unit(setting: str, unit: str | None) -> str:
    return f"{setting}{unit}" if unit and unit not in ("", None) else setting


def read_server(
    session: AgentSession, previous: DatabaseActivity | None, stats_reset_at: datetime | None
) -> ServerReading:
    row = session.fetch_one(
        """
        SELECT current_setting('server_version'), current_setting('server_version_num')::int,
               pg_is_in_recovery(), current_database(), clock_timestamp(),
               coalesce(d.xact_commit + d.xact_rollback, 0), coalesce(d.blks_hit, 0), coalesce(d.blks_read, 0)
          FROM pg_stat_database d
         WHERE d.datname = current_database()
        """
    )
    assert row is not None
    version, version_num, in_recovery, database_name, now, transactions, hit, read = row
    activity = DatabaseActivity(now, int(transactions), int(hit), int(read))

    settings = {
        name: _setting_with_unit(setting, unit)
        for name, setting, unit in session.fetch_all(
            "SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s)", [list(TUNING_SETTINGS)]
        )
    }
    connections = {
        str(state): int(count)
        for state, count in session.fetch_all(
            """
            SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity
             WHERE backend_type = 'client backend' GROUP BY 1
            """
        )
    }

    info = ServerInfo(
        version=str(version).split(" ")[0],
        version_num=int(version_num),
        is_replica=bool(in_recovery),
        settings=settings,
        cache_hit_ratio=_cache_hit_ratio(activity, previous),
        connections_by_state=connections,
        transactions_per_second=_transactions_per_second(activity, previous),
        stats_reset_at=stats_reset_at,
        pg_stat_statements_max=int(settings["pg_stat_statements.max"])
        if "pg_stat_statements.max" in settings
        else None,
    )
    return ServerReading(info=info, activity=activity, database_name=str(database_name))


def _cache_hit_ratio(current: DatabaseActivity, previous: DatabaseActivity | None) -> float | None:
    hit, read = current.blocks_hit, current.blocks_read
    if previous is not None and hit >= previous.blocks_hit and read >= previous.blocks_read:
        # Over the interval when we can: the lifetime ratio hides today's regressions.
        hit, read = hit - previous.blocks_hit, read - previous.blocks_read
    total = hit + read
    return round(hit / total, 6) if total else None


def _transactions_per_second(current: DatabaseActivity, previous: DatabaseActivity | None) -> float | None:
    if previous is None or current.transactions < previous.transactions:
        return None
    seconds = (current.observed_at - previous.observed_at).total_seconds()
    if seconds <= 0:
        return None
    return round((current.transactions - previous.transactions) / seconds, 3)


def index_stats_age(session: AgentSession) -> timedelta | None:
    """How long index and table usage has been counted: since the last reset, or the server's start."""
    row = session.fetch_one(
        """
        SELECT clock_timestamp() - coalesce(stats_reset, pg_postmaster_start_time())
          FROM pg_stat_database WHERE datname = current_database()
        """
    )
    return None if row is None or row[0] is None else row[0]
