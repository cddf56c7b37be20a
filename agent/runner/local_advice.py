"""The local advisor as the daemon runs it: on the whole workload since the last reset, bounded in time.

A cycle's own collection carries only the last interval's deltas, too thin to weigh a workload by,
so the advisor reads pg_stat_statements afresh (no saved state: counters since the last reset),
exactly as `optischema-agent advise` does. No plans are sampled for the snapshot on that read.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from agent.advise.advisor import Advisor, AdvisorSettings
from agent.collect.server import index_stats_age
from agent.config import CollectorSettings
from agent.db.session import MonitoredDatabase
from agent.snapshot.collector import Collector
from shared.wire.advice import AdviceReport

log = logging.getLogger(__name__)


def advise_database(
    database: MonitoredDatabase, collector: CollectorSettings, settings: AdvisorSettings
) -> AdviceReport:
    collection = Collector(database, replace(collector, plans_per_cycle=0)).collect()
    log.info("advisor: analyzing %d statements", len(collection.workload))
    with database.session() as session:
        settings = replace(settings, stats_age=index_stats_age(session))
        return Advisor(session, collection, settings).advise()


def advice_due(cycle: int, every: int) -> bool:
    """On the first cycle, then every `every` cycles (never when `every` is 0)."""
    return every > 0 and (cycle - 1) % every == 0
