"""The lease keeper renews on its tick until the change ends, and gives up only when told no."""

from __future__ import annotations

import threading
import uuid

from agent.apply.lease_keeper import LeaseKeeper
from agent.ship.errors import ControlPlaneUnavailable, PayloadRejected

JOB_ID = uuid.uuid4()


def test_renewals_happen_on_every_tick_while_the_change_runs_and_stop_after() -> None:
    calls: list[uuid.UUID] = []
    three = threading.Event()

    def renew(job_id: uuid.UUID, deadline: float | None) -> None:
        calls.append(job_id)
        if len(calls) == 3:
            three.set()

    with LeaseKeeper(renew, JOB_ID, 0.01) as keeper:
        assert three.wait(2)
    after = len(calls)
    threading.Event().wait(0.05)

    assert calls[:3] == [JOB_ID] * 3
    assert len(calls) == after == keeper.renewals


def test_an_unreachable_control_plane_is_tried_again_at_the_next_tick() -> None:
    calls: list[int] = []
    done = threading.Event()

    def renew(job_id: uuid.UUID, deadline: float | None) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ControlPlaneUnavailable("connection refused")
        done.set()

    with LeaseKeeper(renew, JOB_ID, 0.01) as keeper:
        assert done.wait(2)

    assert keeper.renewals >= 1


def test_a_refused_renewal_stops_the_renewals_but_not_the_change() -> None:
    calls: list[int] = []

    def renew(job_id: uuid.UUID, deadline: float | None) -> None:
        calls.append(1)
        raise PayloadRejected(409, "the job is not leased to this agent")

    with LeaseKeeper(renew, JOB_ID, 0.01):
        threading.Event().wait(0.1)

    assert calls == [1]
