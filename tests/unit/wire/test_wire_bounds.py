"""Wire models refuse, whole and with a reason, what PostgreSQL could not store."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.wire.base import BIGINT_MAX, INTEGER_MAX
from shared.wire.heartbeat import Heartbeat


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"agent_version": "1.0\x00"}, "NUL"),
        ({"agent_version": "1.0", "server_version": "15\x00.4"}, "NUL"),
        ({"agent_version": "1.0", "spooled_snapshots": INTEGER_MAX + 1}, "less than or equal"),
        ({"agent_version": "1.0", "dropped_snapshots": BIGINT_MAX + 1}, "less than or equal"),
        ({"agent_version": "1.0", "dropped_snapshots": -1}, "greater than or equal"),
    ],
    ids=["nul-in-version", "nul-in-optional", "spooled-above-integer", "dropped-above-bigint", "negative"],
)
def test_a_heartbeat_postgresql_could_not_store_is_refused(payload: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError) as refusal:
        Heartbeat.model_validate(payload)

    assert reason in str(refusal.value)


def test_a_heartbeat_at_the_column_limits_is_accepted() -> None:
    heartbeat = Heartbeat(agent_version="1.0", spooled_snapshots=INTEGER_MAX, dropped_snapshots=BIGINT_MAX)

    assert heartbeat.spooled_snapshots == INTEGER_MAX
