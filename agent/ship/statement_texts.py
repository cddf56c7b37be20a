"""Which statement texts the control plane was sent lately, so that a snapshot leaves them out.

Of the ~660 bytes a statement takes in a snapshot's JSON, ~600 are its text, and the control plane
keeps each fingerprint's text once (its statement catalog): sent every 30 s, the same texts were
most of every upload and of the control plane's work on it. Left out, a 5,000-statement snapshot
went from 348 to 230 kB gzipped, and the control plane's CPU per stored snapshot from ~70 to ~60 ms
(benchmarks/ingestion_workers.py, capacity, two workers, run alternately, 2026-12-07).

A statement leaves its text (`query`, and `relations`, read from it) out only when this agent sent
that text in a snapshot the control plane acknowledged within `resend_after` (schema version 3 on;
OPTISCHEMA_TEXT_RESEND_AFTER_S, an hour by default). What was sent is held in memory: a restarted
agent sends every text again, once. Every text goes again `resend_after` later, so a control plane
that lost one (a stored body that failed and was set aside, a restore from backup) has it back
within that time; until then it stores the statement's counters but does not list the statement.
A snapshot waiting in the spool keeps its texts: they are left out as it is sent, by what had been
acknowledged by then.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from shared.wire.snapshot import TEXT_OPTIONAL_FROM, Snapshot


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SentTexts:
    """The fingerprints whose text the control plane acknowledged, and when (see the module)."""

    def __init__(self, resend_after: timedelta, clock: Callable[[], datetime] = _utc_now) -> None:
        self._resend_after = resend_after
        self._clock = clock
        self._acknowledged: dict[str, datetime] = {}

    def outgoing(self, snapshot: Snapshot) -> Snapshot:
        """The snapshot as it is sent: without the texts acknowledged within `resend_after`."""
        if snapshot.schema_version < TEXT_OPTIONAL_FROM:
            return snapshot
        self._forget_before(self._clock() - self._resend_after)
        leave_out = [s.query is not None and s.fingerprint in self._acknowledged for s in snapshot.statements]
        if not any(leave_out):
            return snapshot
        statements = [
            s.model_copy(update={"query": None, "relations": []}) if left_out else s
            for s, left_out in zip(snapshot.statements, leave_out, strict=True)
        ]
        return snapshot.model_copy(update={"statements": statements})

    def acknowledged(self, sent: Snapshot) -> None:
        """The control plane acknowledged `sent` (stored, or had it already): the texts it carried
        are known there. A duplicate's first copy carried them too, or left out only texts
        acknowledged before it."""
        now = self._clock()
        for statement in sent.statements:
            if statement.query is not None:
                self._acknowledged[statement.fingerprint] = now

    def _forget_before(self, moment: datetime) -> None:
        stale = [fingerprint for fingerprint, at in self._acknowledged.items() if at < moment]
        for fingerprint in stale:
            del self._acknowledged[fingerprint]
