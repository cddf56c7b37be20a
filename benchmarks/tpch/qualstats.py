"""pg_qualstats' own advisor, `pg_qualstats_index_advisor()` (pg_qualstats 2.0.4, Debian package
postgresql-<ver>-pg-qualstats), fed by the workload with `pg_qualstats.sample_rate = 1`.

Its signature on 2.0.4: `pg_qualstats_index_advisor(min_filter integer DEFAULT 1000, min_selectivity
integer DEFAULT 30, forbidden_am text[] DEFAULT '{}') RETURNS json`, the JSON being
`{"indexes": ["CREATE INDEX ON public.t USING btree (c)", ...], "unoptimised": ["t.c ~~ ?", ...]}`.
It looks only at filter quals (not join quals) that removed at least `min_filter` rows per execution on
average with at least `min_selectivity` percent; we call it with its defaults. It can return the same
statement several times (one per round that picks the same quals again): exact duplicates are kept once,
since nobody would build them twice; the raw count is kept beside.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import psycopg

SERVER_SETTINGS: Mapping[str, str] = {
    "shared_preload_libraries": "pg_stat_statements,pg_qualstats",
    "pg_qualstats.sample_rate": "1",
}


@dataclass
class QualstatsAdvice:
    indexes: list[str]
    raw_count: int = 0
    unoptimised: list[str] = field(default_factory=list)
    seconds: float = 0.0
    version: str = ""


def reset(conn: psycopg.Connection) -> None:
    conn.execute("SELECT pg_qualstats_reset()")


def advise(url: str) -> QualstatsAdvice:
    with psycopg.connect(url, autocommit=True) as conn:
        version = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'pg_qualstats'"
        ).fetchone()
        # Its PL/pgSQL statements would otherwise land in pg_stat_statements (track = all) before ours runs.
        conn.execute("SET pg_stat_statements.track = 'none'")
        started = time.perf_counter()
        row = conn.execute("SELECT pg_qualstats_index_advisor()").fetchone()
        seconds = time.perf_counter() - started
    result = row[0] if row else {}
    if isinstance(result, str):
        result = json.loads(result)
    statements = [str(statement) for statement in result.get("indexes") or []]
    return QualstatsAdvice(
        indexes=list(dict.fromkeys(statements)),
        raw_count=len(statements),
        unoptimised=[str(qual) for qual in result.get("unoptimised") or []],
        seconds=seconds,
        version=str(version[0]) if version else "",
    )
