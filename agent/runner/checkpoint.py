"""Spooling a snapshot and advancing the collector's baseline as one step, across a crash.

The snapshot and the counters it was computed from must move together: a snapshot spooled with the
old baseline kept would be counted again by the next delta, and a baseline advanced without its
snapshot would lose the interval. Rename is atomic for one file only, so the new baseline is first
written beside the current one as `<state>.next`, then the snapshot is spooled, then `.next`
replaces the baseline. On start, a leftover `.next` is promoted only if the spool holds the snapshot
of the same instant; otherwise the snapshot never made it and the old baseline still covers the
interval. (The snapshot cannot have been delivered and removed already: delivery comes after.)
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from agent.ship.spool import Spool
from agent.state.collector_state import CollectorState, load_state, save_state
from shared.wire.snapshot import Snapshot

log = logging.getLogger(__name__)


def _next_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".next")


def spool_with_state(spool: Spool, snapshot: Snapshot, state: CollectorState, state_path: Path) -> None:
    pending = _next_path(state_path)
    save_state(pending, state)
    try:
        spool.put(snapshot)
    except BaseException:
        pending.unlink(missing_ok=True)  # the old baseline stays: the next delta covers this interval
        raise
    os.replace(pending, state_path)


def recover_state(spool: Spool, state_path: Path) -> CollectorState | None:
    """The baseline to start from, finishing or undoing a checkpoint a crash interrupted."""
    pending_path = _next_path(state_path)
    pending = load_state(pending_path)
    if pending is not None:
        spooled = {entry.collected_at for entry in spool.entries()}
        if pending.collected_at in spooled:
            os.replace(pending_path, state_path)
            log.info(
                "finished the checkpoint of %s interrupted by a restart", pending.collected_at.isoformat()
            )
        else:
            pending_path.unlink(missing_ok=True)
    elif pending_path.exists():
        pending_path.unlink(missing_ok=True)
    return load_state(state_path)
