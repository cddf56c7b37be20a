"""The two ways a change does not happen, each answered to the control plane with its reason."""

from __future__ import annotations


class ChangeRefused(Exception):
    """The agent will not make this change at all: not allow-listed, or not what the job claims."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChangeFailed(Exception):
    """The change was allowed but could not be made now; the reason says why (server text scrubbed)."""

    def __init__(self, reason: str, *, lock_retries: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.lock_retries = lock_retries
