"""ControlPlaneClient against a real HTTP server on loopback: what arrives, what is retried, what is not."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable

import pytest

from agent.ship.backoff import RetryPolicy, backoff_wait
from agent.ship.errors import (
    AuthenticationRejected,
    ControlPlaneUnavailable,
    PayloadRejected,
    PayloadTooLarge,
    UnexpectedResponse,
    UnsupportedPayloadVersion,
)
from agent.ship.transport import USER_AGENT, ControlPlaneClient
from shared.wire.heartbeat import Heartbeat
from shared.wire.snapshot import Snapshot
from tests.integration.ship.conftest import SEED, SNAPSHOTS_PATH, TOKEN, FakeClock, Reply, ScriptedServer
from tests.unit.ship.snapshots import make_snapshot

MakeClient = Callable[..., ControlPlaneClient]


def expected_waits(policy: RetryPolicy, count: int) -> list[float]:
    rng = random.Random(SEED)
    return [backoff_wait(policy, index, rng) for index in range(count)]


def test_snapshot_arrives_gzipped_with_user_agent_and_bearer_token(
    control_plane: ScriptedServer, make_client: MakeClient
) -> None:
    snapshot = make_snapshot()
    ack = make_client(control_plane.url).post_snapshot(snapshot)
    assert (ack.snapshot_id, ack.stored, ack.duplicate) == (snapshot.snapshot_id, True, False)
    [request] = control_plane.requests
    assert (request.method, request.path) == ("POST", SNAPSHOTS_PATH)
    assert request.headers["content-encoding"] == "gzip"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == USER_AGENT
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.raw_body[:2] == b"\x1f\x8b"
    assert Snapshot.model_validate_json(request.body) == snapshot


def test_a_resend_is_acknowledged_as_duplicate(
    control_plane: ScriptedServer, make_client: MakeClient
) -> None:
    client = make_client(control_plane.url)
    snapshot = make_snapshot()
    client.post_snapshot(snapshot)
    assert client.post_snapshot(snapshot).duplicate


def test_503_503_201_is_retried_on_the_backoff_schedule(
    control_plane: ScriptedServer, make_client: MakeClient, clock: FakeClock
) -> None:
    control_plane.queue(Reply(503), Reply(503))
    snapshot = make_snapshot()
    assert make_client(control_plane.url).post_snapshot(snapshot).stored
    assert control_plane.snapshot_ids() == [str(snapshot.snapshot_id)] * 3
    assert clock.sleeps == expected_waits(RetryPolicy(), 2)
    assert 0 <= clock.sleeps[0] <= 2 and 0 <= clock.sleeps[1] <= 4


def test_429_retry_after_is_honoured(
    control_plane: ScriptedServer, make_client: MakeClient, clock: FakeClock
) -> None:
    control_plane.queue(Reply(429, headers={"Retry-After": "7"}), Reply(429, headers={"Retry-After": "3600"}))
    make_client(control_plane.url).post_snapshot(make_snapshot())
    assert clock.sleeps == [7.0, 64.0]  # the second is capped by the maximum backoff
    assert len(control_plane.requests) == 3


def test_5xx_until_attempts_run_out_raises_unavailable_with_the_last_status(
    control_plane: ScriptedServer, make_client: MakeClient, clock: FakeClock
) -> None:
    control_plane.queue(*[Reply(502)] * 3)
    with pytest.raises(ControlPlaneUnavailable) as raised:
        make_client(control_plane.url, retry=RetryPolicy(max_attempts=3)).post_snapshot(make_snapshot())
    assert raised.value.status == 502
    assert len(control_plane.requests) == 3
    assert len(clock.sleeps) == 2


def test_connection_refused_raises_unavailable_after_max_attempts(
    closed_port: int, make_client: MakeClient, clock: FakeClock
) -> None:
    policy = RetryPolicy(max_attempts=4)
    with pytest.raises(ControlPlaneUnavailable) as raised:
        make_client(f"http://127.0.0.1:{closed_port}", retry=policy).post_snapshot(make_snapshot())
    assert raised.value.status is None
    assert "ConnectError" in (raised.value.cause or "")
    assert "4 attempts" in raised.value.message
    assert clock.sleeps == expected_waits(policy, 3)


def test_deadline_stops_retries_early(
    control_plane: ScriptedServer, make_client: MakeClient, clock: FakeClock
) -> None:
    control_plane.queue(*[Reply(503)] * 10)
    policy = RetryPolicy(initial_s=2.0, max_s=64.0, max_attempts=10)
    deadline = clock.now + 5.0
    with pytest.raises(ControlPlaneUnavailable, match="deadline"):
        make_client(control_plane.url, retry=policy).post_snapshot(make_snapshot(), deadline=deadline)
    # Replaying the same jitter: every wait that fit before the deadline was taken, the next was not.
    taken: list[float] = []
    for wait in expected_waits(policy, 9):
        if sum(taken) + wait > 5.0:
            break
        taken.append(wait)
    assert clock.sleeps == taken
    assert sum(clock.sleeps) <= 5.0
    assert len(control_plane.requests) == len(taken) + 1 < 10


def test_a_deadline_already_past_sends_nothing(
    control_plane: ScriptedServer, make_client: MakeClient, clock: FakeClock
) -> None:
    with pytest.raises(ControlPlaneUnavailable, match="deadline"):
        make_client(control_plane.url).post_snapshot(make_snapshot(), deadline=clock.now)
    assert control_plane.requests == []


@pytest.mark.parametrize("status", [401, 403])
def test_auth_rejection_is_not_retried_and_never_shows_the_token(
    control_plane: ScriptedServer, make_client: MakeClient, clock: FakeClock, status: int
) -> None:
    echo = {"detail": {"message": f"unknown token {TOKEN}", "code": "bad_token"}}
    control_plane.queue(Reply(status, body=echo))
    with pytest.raises(AuthenticationRejected) as raised:
        make_client(control_plane.url).post_snapshot(make_snapshot())
    assert len(control_plane.requests) == 1
    assert clock.sleeps == []
    assert raised.value.status == status
    assert "token is wrong or has been revoked" in str(raised.value)
    assert TOKEN not in str(raised.value) and TOKEN not in repr(raised.value.args)


def test_413_is_payload_too_large_and_not_retried(
    control_plane: ScriptedServer, make_client: MakeClient
) -> None:
    control_plane.queue(
        Reply(413, body={"detail": {"message": "body larger than 10 bytes", "code": "too_large"}})
    )
    with pytest.raises(PayloadTooLarge, match="larger than 10 bytes"):
        make_client(control_plane.url).post_snapshot(make_snapshot())
    assert len(control_plane.requests) == 1


def test_unsupported_schema_version_asks_for_an_upgrade(
    control_plane: ScriptedServer, make_client: MakeClient
) -> None:
    detail = {"message": "unsupported snapshot schema_version 1", "code": "unsupported_schema_version"}
    control_plane.queue(Reply(422, body={"detail": detail}))
    with pytest.raises(UnsupportedPayloadVersion, match="upgrade optischema-agent"):
        make_client(control_plane.url).post_snapshot(make_snapshot())
    assert len(control_plane.requests) == 1


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (400, {"detail": {"message": "body is not JSON", "code": "bad_json"}}, "body is not JSON"),
        (422, {"detail": [{"loc": ["body"], "msg": "field required"}]}, "field required"),
        (400, {"detail": "plain detail"}, "plain detail"),
        (400, b"not json at all", "not json at all"),
    ],
)
def test_other_client_errors_are_payload_rejected_with_the_servers_message(
    control_plane: ScriptedServer, make_client: MakeClient, status: int, body: object, message: str
) -> None:
    control_plane.queue(Reply(status, body=body))
    with pytest.raises(PayloadRejected, match=message) as raised:
        make_client(control_plane.url).post_snapshot(make_snapshot())
    assert raised.value.status == status
    assert len(control_plane.requests) == 1


@pytest.mark.parametrize(
    "reply",
    [
        Reply(404),
        Reply(302, body=None, headers={"Location": "https://elsewhere.example.com/"}),
        Reply(201, body={"snapshot_id": str(uuid.uuid4()), "stored": True, "duplicate": False}),
        Reply(200, body=b"<html>captive portal</html>"),
    ],
)
def test_answers_that_are_not_about_the_payload_are_unexpected(
    control_plane: ScriptedServer, make_client: MakeClient, reply: Reply
) -> None:
    control_plane.queue(reply)
    with pytest.raises(UnexpectedResponse):
        make_client(control_plane.url).post_snapshot(make_snapshot())
    assert len(control_plane.requests) == 1  # a redirect is not followed with the token


def test_heartbeat_is_posted_as_json(control_plane: ScriptedServer, make_client: MakeClient) -> None:
    heartbeat = Heartbeat(
        agent_version="0.1.0", server_version="15.20", spooled_snapshots=3, dropped_snapshots=1
    )
    make_client(control_plane.url).post_heartbeat(heartbeat)
    [request] = control_plane.requests
    assert (request.method, request.path) == ("POST", "/api/v1/agent/heartbeat")
    assert Heartbeat.model_validate_json(request.body) == heartbeat
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_get_and_post_json(control_plane: ScriptedServer, make_client: MakeClient) -> None:
    client = make_client(control_plane.url)
    control_plane.queue(Reply(200, body=[{"id": "job-1"}]), Reply(200, body={"ok": True}))
    assert client.get_json("/agent/jobs") == [{"id": "job-1"}]
    assert client.post_json("/agent/jobs/job-1/result", {"status": "done"}) == {"ok": True}
    get, post = control_plane.requests
    assert (get.method, get.path) == ("GET", "/api/v1/agent/jobs")
    assert (post.method, post.path, post.json()) == (
        "POST",
        "/api/v1/agent/jobs/job-1/result",
        {"status": "done"},
    )


@pytest.mark.parametrize("path", ["agent/jobs", "//evil.example.com/x", "https://evil.example.com/x"])
def test_paths_must_stay_under_the_api_root(
    control_plane: ScriptedServer, make_client: MakeClient, path: str
) -> None:
    with pytest.raises(ValueError, match="under the API root"):
        make_client(control_plane.url).get_json(path)
    assert control_plane.requests == []


def carried_texts(body: bytes) -> list[bool]:
    return [statement.query is not None for statement in Snapshot.model_validate_json(body).statements]


def test_texts_the_control_plane_acknowledged_are_left_out_of_the_next_snapshots(
    control_plane: ScriptedServer, make_client: MakeClient
) -> None:
    client = make_client(control_plane.url)
    control_plane.queue(
        Reply(422, body={"detail": {"message": "statements.0.calls: bad", "code": "invalid"}})
    )
    with pytest.raises(PayloadRejected):
        client.post_snapshot(make_snapshot(1))  # refused: its text does not count as delivered
    client.post_snapshot(make_snapshot(2))
    client.post_snapshot(make_snapshot(3))

    refused, first, second = (request.body for request in control_plane.requests)
    assert carried_texts(refused) == [True]
    assert carried_texts(first) == [True, True]
    assert carried_texts(second) == [False, False, True]
