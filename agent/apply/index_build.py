"""Running a change with a short lock timeout, spaced retries, and no statement timeout.

A concurrent build or drop waits for locks twice: for the table's SHARE UPDATE EXCLUSIVE lock, then
for older transactions to finish. `lock_timeout` bounds every one of those waits, so a busy moment
costs a few seconds and a retry instead of a build stuck behind a long transaction (or, worse, other
sessions queued behind the build's lock request). Between attempts the caller may clean up what the
failed attempt left (an INVALID index holds the name the retry needs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from psycopg import errors

from agent.anonymize.error_text import scrub_error
from agent.apply.connection import ApplyConnection
from agent.apply.errors import ChangeFailed
from agent.config import ApplySettings

log = logging.getLogger(__name__)


class LockWaitsExhausted(ChangeFailed):
    """Every attempt gave up waiting for a lock."""


def run_with_lock_retries(
    connection: ApplyConnection,
    statement: str,
    settings: ApplySettings,
    *,
    what: str,
    between_attempts: Callable[[], None] = lambda: None,
    sleep: Callable[[float], None],
) -> int:
    """Runs the statement; returns how many lock-timeout retries it took. Other errors propagate."""
    retries = 0
    while True:
        try:
            connection.run_change(statement)
            return retries
        except errors.LockNotAvailable as error:
            attempts = retries + 1
            if retries >= settings.lock_retries:
                raise LockWaitsExhausted(
                    f"{what} gave up after {attempts} attempts ({retries} retries), each waiting at most "
                    f"{settings.lock_timeout_ms} ms for a lock held by another session: {scrub_error(error)}",
                    lock_retries=retries,
                ) from None
            log.warning(
                "%s: a lock was not granted within %d ms (attempt %d of %d); retrying in %.1f s",
                what,
                settings.lock_timeout_ms,
                attempts,
                settings.lock_retries + 1,
                settings.retry_spacing_s,
            )
            between_attempts()
            sleep(settings.retry_spacing_s)
            retries += 1
