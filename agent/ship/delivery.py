"""Sending what the spool holds, oldest first, and deciding each snapshot's fate from the answer.

A snapshot leaves the spool only when the control plane acknowledged it (stored or duplicate),
when it was replaced by its parts, or when it was set aside and counted as dropped because it can
never be accepted (corrupt, malformed in the server's eyes, too large even alone). Anything that
could succeed later (outage, wrong token, old agent, odd answer) stops the run and keeps it all.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from agent.ship.errors import (
    AuthenticationRejected,
    ControlPlaneUnavailable,
    PayloadRejected,
    PayloadTooLarge,
    UnexpectedResponse,
    UnsupportedPayloadVersion,
)
from agent.ship.split import can_split, split_snapshot
from agent.ship.spool import CorruptSpoolEntry, Spool, SpoolEntry
from agent.ship.transport import ControlPlaneClient

logger = logging.getLogger(__name__)


@dataclass
class DeliveryOutcome:
    """What one pass over the spool achieved.

    `delivered` counts every snapshot the server acknowledged, so it includes `duplicates` (those
    it already had). `dropped` counts snapshots set aside in this pass; the spool's persisted
    counter has them too, for the heartbeat.
    """

    delivered: int = 0
    duplicates: int = 0
    remaining: int = 0
    auth_failed: bool = False
    upgrade_required: bool = False
    stopped_reason: str | None = None
    split: int = 0
    dropped: int = 0

    @property
    def completed(self) -> bool:
        return self.stopped_reason is None


def deliver_spooled(
    spool: Spool, client: ControlPlaneClient, *, deadline: float | None = None
) -> DeliveryOutcome:
    outcome = DeliveryOutcome()
    queue = deque(spool.entries())
    while queue:
        entry = queue.popleft()
        reason = _deliver_one(spool, client, entry, queue, outcome, deadline)
        if reason is not None:
            outcome.stopped_reason = reason
            break
    outcome.remaining = spool.pending_count
    return outcome


def _deliver_one(
    spool: Spool,
    client: ControlPlaneClient,
    entry: SpoolEntry,
    queue: deque[SpoolEntry],
    outcome: DeliveryOutcome,
    deadline: float | None,
) -> str | None:
    """Sends one entry; returns why the whole pass must stop, or None to go on."""
    try:
        snapshot = spool.load(entry)
    except CorruptSpoolEntry:
        outcome.dropped += 1  # already quarantined, counted and logged by the spool
        return None
    except FileNotFoundError:
        return None  # removed since the listing: nothing left to send
    try:
        ack = client.post_snapshot(snapshot, deadline=deadline)
    except ControlPlaneUnavailable as error:
        return error.message
    except AuthenticationRejected as error:
        outcome.auth_failed = True
        logger.error("%s", error.message)
        return error.message
    except UnsupportedPayloadVersion as error:
        outcome.upgrade_required = True
        logger.error("%s", error.message)
        return error.message
    except UnexpectedResponse as error:
        logger.error("%s", error.message)
        return error.message
    except PayloadTooLarge as error:
        if not can_split(snapshot):
            spool.quarantine(entry, f"{error.message}, and a single statement cannot be split further")
            outcome.dropped += 1
            return None
        parts = spool.replace(entry, split_snapshot(snapshot))
        logger.info("snapshot %s was too large; sending it in %d parts", snapshot.snapshot_id, len(parts))
        outcome.split += 1
        queue.extendleft(reversed(parts))  # the parts keep the original's place: oldest first
        return None
    except PayloadRejected as error:
        # The same bytes would get the same verdict: resending would block everything behind it.
        spool.quarantine(entry, error.message)
        outcome.dropped += 1
        return None
    spool.remove(entry)
    outcome.delivered += 1
    if ack.duplicate:
        outcome.duplicates += 1
    return None
