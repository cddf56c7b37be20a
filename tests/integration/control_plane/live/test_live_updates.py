"""Live updates: a single-use ticket opens a stream of the database's changes, tenant by tenant.

Everything goes through HTTP against a real server: the agent stores snapshots and answers jobs,
people queue and reject, and an open stream tells of each within a few polls.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from control_plane.app import create_app
from deploy.local.control_plane_process import control_plane_server
from deploy.local.throwaway_cluster import free_port
from tests.integration.control_plane.api.conftest import SECRET, SeededTenant, settings_for
from tests.integration.control_plane.api.snapshots import as_json, make_snapshot
from tests.integration.control_plane.api.test_agent_findings import finding, snapshot_with
from tests.integration.control_plane.api.test_agent_jobs import SIMULATED, SIMULATION
from tests.integration.control_plane.inbox import drain_inbox_at
from tests.integration.control_plane.live.conftest import (
    Event,
    live_settings,
    serve,
    signed_in,
    streaming,
    ticket,
)

CHANGES = ("snapshot", "job", "recommendation")


def database(api: httpx.Client, tenant: SeededTenant) -> tuple[str, dict[str, str]]:
    """A new database of the tenant: its id and its agent's credentials."""
    response = api.post("/databases", json={"name": "shop"}, headers=signed_in(api, tenant, "admin"))
    assert response.status_code == 201, response.text
    return response.json()["id"], {"Authorization": f"Bearer {response.json()['agent_token']}"}


def redeem(api: httpx.Client, database_id: str, live_ticket: str, **headers: str) -> httpx.Response:
    return api.get(
        "/live/events", params={"database_id": database_id, "ticket": live_ticket}, headers=headers
    )


def test_a_ticket_opens_one_stream_and_only_once(api: httpx.Client, acme: SeededTenant) -> None:
    database_id, _ = database(api, acme)
    issued = api.post("/live/ticket", headers=signed_in(api, acme, "viewer"))
    live_ticket = issued.json()["ticket"]

    with streaming(api, database_id, live_ticket) as stream:
        content_type = stream.content_type
    again = redeem(api, database_id, live_ticket)

    assert issued.status_code == 200
    assert issued.json()["expires_in"] == 30.0
    assert live_ticket.startswith("osl_")
    assert content_type.startswith("text/event-stream")
    assert again.status_code == 401


def test_an_expired_ticket_is_refused(metadata_url: str, acme: SeededTenant) -> None:
    with (
        serve(live_settings(metadata_url, live_ticket_ttl_s=0.2)) as url,
        httpx.Client(base_url=f"{url}/api/v1", trust_env=False, timeout=30) as api,
    ):
        database_id, _ = database(api, acme)
        live_ticket = ticket(api, signed_in(api, acme))
        time.sleep(1.0)  # five lifetimes of the ticket
        assert redeem(api, database_id, live_ticket).status_code == 401


def test_the_stream_opens_with_a_ticket_and_nothing_else(api: httpx.Client, acme: SeededTenant) -> None:
    database_id, agent = database(api, acme)
    viewer = signed_in(api, acme)
    access_token = viewer["Authorization"].removeprefix("Bearer ")
    forged = f"osl_{acme.id.hex}{'A' * 43}"

    no_ticket = api.get("/live/events", params={"database_id": database_id}, headers=viewer)
    token_as_ticket = redeem(api, database_id, access_token)
    agent_token_as_ticket = redeem(api, database_id, agent["Authorization"].removeprefix("Bearer "))
    forged_ticket = redeem(api, database_id, forged)
    ticket_without_sign_in = api.post("/live/ticket")
    ticket_for_an_agent = api.post("/live/ticket", headers=agent)

    assert [
        response.status_code
        for response in (
            no_ticket,
            token_as_ticket,
            agent_token_as_ticket,
            forged_ticket,
            ticket_without_sign_in,
            ticket_for_an_agent,
        )
    ] == [401] * 6


def test_a_snapshot_stored_by_the_agent_reaches_an_open_stream(
    api: httpx.Client, acme: SeededTenant, metadata_url: str
) -> None:
    database_id, agent = database(api, acme)
    snapshot = make_snapshot()

    with streaming(api, database_id, ticket(api, signed_in(api, acme))) as stream:
        stored = api.post("/agent/snapshots", json=as_json(snapshot), headers=agent)
        drain_inbox_at(metadata_url)
        event, _ = stream.until("snapshot")

    assert stored.status_code == 202, stored.text
    assert event.data["database_id"] == database_id
    assert datetime.fromisoformat(event.data["collected_at"]) == snapshot.collected_at


def test_a_snapshot_stored_by_another_server_process_reaches_the_stream(
    api: httpx.Client, acme: SeededTenant, metadata_url: str, tmp_path: Path
) -> None:
    """The real `optischema-control-plane`, whose own workers store the snapshot it accepted: the
    stream learns of it through the metadata database alone."""
    database_id, agent = database(api, acme)
    other_server = {
        "OPTISCHEMA_SECRET_KEY": SECRET,
        "OPTISCHEMA_WEB_CONCURRENCY": "1",
        "OPTISCHEMA_WORKERS": "on",
        "OPTISCHEMA_SNAPSHOT_INBOX_INTERVAL_S": "0.05",
    }

    with (
        control_plane_server(metadata_url, tmp_path / "other.log", other_server) as other,
        streaming(api, database_id, ticket(api, signed_in(api, acme))) as stream,
    ):
        stored = httpx.post(
            f"{other.base_url}/api/v1/agent/snapshots",
            json=as_json(make_snapshot()),
            headers=agent,
            trust_env=False,
            timeout=30,
        )
        event, _ = stream.until("snapshot")

    assert stored.status_code == 202, stored.text
    assert event.data["database_id"] == database_id


def test_a_job_and_its_result_reach_an_open_stream(api: httpx.Client, acme: SeededTenant) -> None:
    database_id, agent = database(api, acme)

    with streaming(api, database_id, ticket(api, signed_in(api, acme))) as stream:
        queued = api.post(
            f"/databases/{database_id}/simulations", json=SIMULATION, headers=signed_in(api, acme, "analyst")
        )
        job_id = queued.json()["job_id"]
        on_queue, _ = stream.until("job", job_id=job_id, status="queued")
        leased = api.get("/agent/jobs", headers=agent)
        on_lease, _ = stream.until("job", job_id=job_id, status="leased")
        answered = api.post(
            f"/agent/jobs/{job_id}/result", json={"status": "succeeded", "result": SIMULATED}, headers=agent
        )
        on_result, _ = stream.until("job", job_id=job_id, status="succeeded")

    assert (queued.status_code, leased.status_code, answered.status_code) == (202, 200, 200)
    assert on_queue.data == {"job_id": job_id, "kind": "simulate_indexes", "status": "queued"}
    assert on_lease.data["kind"] == on_result.data["kind"] == "simulate_indexes"


def test_a_new_recommendation_and_its_rejection_reach_an_open_stream(
    api: httpx.Client, acme: SeededTenant, metadata_url: str
) -> None:
    database_id, agent = database(api, acme)

    with streaming(api, database_id, ticket(api, signed_in(api, acme))) as stream:
        assert api.post("/agent/snapshots", json=snapshot_with(finding()), headers=agent).status_code == 202
        drain_inbox_at(metadata_url)
        proposed, _ = stream.until("recommendation", status="proposed")
        recommendation_id = proposed.data["recommendation_id"]
        rejected = api.post(
            f"/recommendations/{recommendation_id}/reject",
            json={"reason": "not now"},
            headers=signed_in(api, acme, "analyst"),
        )
        on_reject, _ = stream.until("recommendation", recommendation_id=recommendation_id)

    assert rejected.status_code == 200, rejected.text
    assert on_reject.data == {"recommendation_id": recommendation_id, "status": "rejected"}


def test_another_tenants_stream_sees_nothing_and_its_database_is_not_found(
    api: httpx.Client, acme: SeededTenant, globex: SeededTenant, metadata_url: str
) -> None:
    acme_database, acme_agent = database(api, acme)
    globex_database, _ = database(api, globex)
    globex_viewer = signed_in(api, globex)
    spent = ticket(api, globex_viewer)

    foreign = redeem(api, acme_database, spent)
    spent_again = redeem(api, globex_database, spent)
    with (
        streaming(api, acme_database, ticket(api, signed_in(api, acme))) as acme_stream,
        streaming(api, globex_database, ticket(api, globex_viewer)) as globex_stream,
    ):
        stored = api.post("/agent/snapshots", json=snapshot_with(finding()), headers=acme_agent)
        drain_inbox_at(metadata_url)
        acme_stream.until("snapshot")
        acme_stream.until("recommendation")
        globex_saw = globex_stream.polls(3)  # each keep-alive follows one more poll

    assert stored.status_code == 202
    assert (foreign.status_code, spent_again.status_code) == (404, 401)
    assert [event for event in globex_saw if event.name in CHANGES] == []


def test_signing_out_ends_the_stream(api: httpx.Client, acme: SeededTenant) -> None:
    database_id, _ = database(api, acme)
    viewer = signed_in(api, acme)

    with streaming(api, database_id, ticket(api, viewer)) as stream:
        signed_out = api.post("/auth/logout", headers=viewer)
        last, _ = stream.until("reconnect")
        after = stream.next()

    assert signed_out.status_code == 204
    assert last.data == {"reason": "signed_out"}
    assert after is None


def test_a_stream_ends_after_its_longest_duration_with_a_reconnect(
    metadata_url: str, acme: SeededTenant
) -> None:
    with (
        serve(live_settings(metadata_url, live_max_stream_s=0.5)) as url,
        httpx.Client(base_url=f"{url}/api/v1", trust_env=False, timeout=30) as api,
    ):
        database_id, _ = database(api, acme)
        with streaming(api, database_id, ticket(api, signed_in(api, acme))) as stream:
            last, _ = stream.until("reconnect")
            after = stream.next()

    assert last == Event("reconnect", {"reason": "max_duration"})
    assert after is None


def test_a_ticket_meets_503_while_the_metadata_database_is_away() -> None:
    nowhere = f"postgresql://optischema@127.0.0.1:{free_port()}/metadata"
    settings = settings_for(nowhere, metadata_connect_timeout_s=1.0, unavailable_retry_after_s=3)
    well_formed = f"osl_{uuid.uuid4().hex}{'A' * 43}"

    with TestClient(create_app(settings)) as client:
        response = client.get(
            "/api/v1/live/events", params={"database_id": str(uuid.uuid4()), "ticket": well_formed}
        )

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "3"
