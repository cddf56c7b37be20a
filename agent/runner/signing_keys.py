"""The control plane's job-signing keys as this agent holds them: pinned once, followed on rotation.

At first contact (no key configured) the published set is pinned as it is: trust on first use,
like SSH. From then on a new set is adopted only when a key already pinned signed it, so the
control plane can publish its next key ahead of a rotation and the agent follows without a gap.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pydantic import ValidationError

from agent.jobs.trust import PinnedKeys, UntrustedKeySet
from agent.ship.errors import ShipError
from agent.ship.transport import ControlPlaneClient
from shared.wire.jobs import SigningKeySet

log = logging.getLogger("optischema.agent.jobs")

SIGNING_KEYS_PATH = "/agent/signing-keys"


# A rotation publishes the next key a grace period (a day by default) before using it; looking
# hourly adopts it long before the set starts being signed by a key this agent never pinned.
DEFAULT_REFRESH_INTERVAL_S = 3600.0


class SigningKeys:
    def __init__(
        self,
        client: ControlPlaneClient,
        pinned: PinnedKeys,
        *,
        refresh_interval_s: float = DEFAULT_REFRESH_INTERVAL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._pinned = pinned
        self._refresh_interval_s = refresh_interval_s
        self._monotonic = monotonic
        self._fetched_at: float | None = None

    def knows(self, key_id: str) -> bool:
        return self._pinned.public_key(key_id) is not None

    def refresh(self, deadline: float | None, *, force: bool) -> None:
        fresh = (
            self._fetched_at is not None and self._monotonic() - self._fetched_at < self._refresh_interval_s
        )
        if self._pinned.key_ids and fresh and not force:
            return
        document = self._client.get_json(SIGNING_KEYS_PATH, deadline=deadline)
        self._fetched_at = self._monotonic()
        try:
            key_set = SigningKeySet.model_validate(document)
        except ValidationError as error:
            raise ShipError(f"the published signing keys are malformed: {error.errors()[0]['msg']}") from None
        first_use = self._pinned.trusts_first_use
        try:
            changed = self._pinned.update_from(key_set)
        except UntrustedKeySet as error:
            # Jobs signed by keys we cannot trust will be refused one by one, each with a reason.
            log.error("not adopting the control plane's signing keys: %s", error)
            return
        if first_use:
            log.info("pinned the control plane's signing keys %s", ", ".join(self._pinned.key_ids))
        elif changed:
            log.info(
                "following the control plane's key rotation: now trusting %s", ", ".join(self._pinned.key_ids)
            )
