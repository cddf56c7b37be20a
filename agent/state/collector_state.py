"""The previous poll's counters, so that a restarted agent still reports a true delta.

Written atomically (temp file, fsync, rename): a crash mid-write leaves the old state, never half
of a new one. A state from another database is ignored rather than diffed against.
"""

from __future__ import annotations

import json
from dataclasses import asdict, astuple, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.collect.server import DatabaseActivity
from agent.diff.statement_deltas import Counters, StatementKey
from agent.state.atomic_file import write_json_atomically

STATE_FORMAT = 1
_COUNTER_FIELDS = [field.name for field in fields(Counters)]


@dataclass(frozen=True)
class CollectorState:
    database_oid: int
    collected_at: datetime
    counters: dict[StatementKey, Counters]
    stats_reset: datetime | None
    dealloc: int | None
    activity: DatabaseActivity | None


def _encode(state: CollectorState) -> dict[str, Any]:
    return {
        "format": STATE_FORMAT,
        "database_oid": state.database_oid,
        "collected_at": state.collected_at.isoformat(),
        "stats_reset": state.stats_reset.isoformat() if state.stats_reset else None,
        "dealloc": state.dealloc,
        "activity": None
        if state.activity is None
        else {**asdict(state.activity), "observed_at": state.activity.observed_at.isoformat()},
        "counter_fields": _COUNTER_FIELDS,
        "counters": [[*key, *astuple(counters)] for key, counters in state.counters.items()],
    }


def _decode(document: dict[str, Any]) -> CollectorState | None:
    if document.get("format") != STATE_FORMAT or document.get("counter_fields") != _COUNTER_FIELDS:
        return None  # written by another version: starting fresh is safer than a wrong delta
    activity = document.get("activity")
    return CollectorState(
        database_oid=int(document["database_oid"]),
        collected_at=datetime.fromisoformat(document["collected_at"]),
        stats_reset=datetime.fromisoformat(document["stats_reset"]) if document.get("stats_reset") else None,
        dealloc=document.get("dealloc"),
        activity=None
        if activity is None
        else DatabaseActivity(
            observed_at=datetime.fromisoformat(activity["observed_at"]),
            transactions=int(activity["transactions"]),
            blocks_hit=int(activity["blocks_hit"]),
            blocks_read=int(activity["blocks_read"]),
        ),
        counters={
            StatementKey(int(row[0]), int(row[1]), int(row[2]), bool(row[3])): Counters(*row[4:])
            for row in document["counters"]
        },
    )


def load_state(path: Path) -> CollectorState | None:
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None
    try:
        return _decode(document)
    except (KeyError, TypeError, ValueError):
        return None


def save_state(path: Path, state: CollectorState) -> None:
    write_json_atomically(path, _encode(state))
