"""Long ranges read the running totals (prefix sums of the daily rollups), and still equal the raw rows.

The job (control_plane.queries.running_totals) is run here by hand, as the workers would run it; the
raw per-interval rows stay the reference, summed straight from the database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from fastapi import FastAPI
from fastapi.testclient import TestClient

from control_plane.api.services import AppServices
from control_plane.queries.running_totals import maintain_running_totals
from tests.integration.control_plane.api.conftest import SeededTenant, as_user, bearer, register_database
from tests.integration.control_plane.api.snapshots import as_json, fingerprint, make_snapshot
from tests.integration.control_plane.api.test_statement_rollups import raw_sums, statements_sent
from tests.integration.control_plane.inbox import drain_inbox, fold_days

# The job's clock is pinned to the moment this module was read: a run that crosses midnight UTC would
# otherwise see seven days over where the seeding saw six.
MOMENT = datetime.now(UTC)
TODAY = MOMENT.replace(hour=0, minute=0, second=0, microsecond=0)
FIRST = TODAY - timedelta(days=6)
# Statements 0-2 on the first two days, only statement 0 on the third and fourth (1 and 2 carried
# forward), statements 0-3 on the fifth (3 is new) and today; none on the sixth.
STATEMENTS_ON = {0: 3, 1: 3, 2: 1, 3: 1, 4: 4, 6: 4}


def send(client: TestClient, token: str, at: datetime, statements: int, calls: int) -> None:
    snapshot = make_snapshot(statements=statements, collected_at=at, calls=calls)
    sent = client.post("/api/v1/agent/snapshots", json=as_json(snapshot), headers=bearer(token))
    assert sent.status_code == 202, sent.text
    drain_inbox(client)


def seed(client: TestClient, token: str) -> None:
    number = 0
    for day, statements in STATEMENTS_ON.items():
        hours = (1, 13, 23) if day < 6 else (0,)
        for hour in hours:
            number += 1  # different counts per snapshot: a sum over the wrong rows cannot match
            at = FIRST + timedelta(days=day, hours=hour, minutes=7)
            if at < MOMENT:
                send(client, token, at, statements, number)


def run_job(client: TestClient, **overrides: Any) -> int:
    """The running-totals job, after the daily-rollups job it follows (only folded days are summed)."""
    fold_days(client, MOMENT)
    app = client.app
    assert isinstance(app, FastAPI)
    services: AppServices = app.state.services
    settings = services.settings.model_copy(update={"running_totals_settle_s": 0.0, **overrides})
    return client.portal.call(maintain_running_totals, services.engine, settings, MOMENT)  # type: ignore[union-attr]


def top(
    client: TestClient, headers: dict[str, str], database_id: str, since: datetime, until: datetime
) -> Any:
    response = client.get(
        f"/api/v1/databases/{database_id}/queries",
        params={"from": since.isoformat(), "to": until.isoformat(), "limit": 100},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return {row["fingerprint"]: (row["calls"], row["total_exec_time_ms"]) for row in response.json()}


def state(metadata_url: str, database_id: str) -> tuple[Any, ...] | None:
    with psycopg.connect(metadata_url) as conn:
        return conn.execute(
            "SELECT first_day, through_day, computed_at FROM statement_running_total_state WHERE database_id = %s",
            [database_id],
        ).fetchone()


RANGES = {
    "the whole history to now": (FIRST - timedelta(days=1), None),
    "from an early hour of the first day to now": (FIRST + timedelta(hours=5, minutes=30), None),
    "from inside an hour with a snapshot before it": (FIRST + timedelta(days=1, hours=1, minutes=10), None),
    "from a late hour of a day": (FIRST + timedelta(days=1, hours=13, minutes=30), None),
    "whole days inside the totals": (FIRST + timedelta(days=1), FIRST + timedelta(days=5)),
    "cut days at both ends": (
        FIRST + timedelta(days=1, hours=12),
        FIRST + timedelta(days=4, hours=13, minutes=7),
    ),
    "days after the first two, to now": (FIRST + timedelta(days=2), None),
}


def test_ranges_of_days_read_from_the_running_totals_equal_the_intervals(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    database = register_database(client, acme)
    seed(client, database["agent_token"])

    assert run_job(client) == 6  # the six days that are over; today is not
    first_day, through_day, _ = state(metadata_url, database["id"]) or (None, None, None)
    assert (first_day, through_day) == (FIRST, TODAY - timedelta(days=1))
    assert run_job(client) == 0  # nothing new, nothing late

    viewer = as_user(client, acme, "viewer")
    for name, (since, until) in RANGES.items():
        end = until or datetime.now(UTC)
        expected = raw_sums(metadata_url, database["id"], since, end)
        assert expected, name
        with statements_sent() as sent:
            assert top(client, viewer, database["id"], since, end) == expected, name
        assert any("FROM statement_running_totals" in statement for statement in sent), name
    carried = raw_sums(metadata_url, database["id"], FIRST + timedelta(days=2), FIRST + timedelta(days=4))
    assert set(carried) == {fingerprint(0)}  # 1 and 2 did not run: their totals were carried, not added


def test_ranges_read_the_same_sums_whatever_hour_the_days_are_folded_to(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    database = register_database(client, acme)
    seed(client, database["agent_token"])
    viewer = as_user(client, acme, "viewer")
    now = datetime.now(UTC)
    expected = {
        name: raw_sums(metadata_url, database["id"], since, until or now)
        for name, (since, until) in RANGES.items()
    }

    # Nothing folded, then a day folded to its noon, then days later, then every hour that is over.
    for mark in (None, FIRST + timedelta(days=1, hours=12), FIRST + timedelta(days=4, hours=5), MOMENT):
        if mark is not None:
            assert fold_days(client, mark) == 1
        for name, (since, until) in RANGES.items():
            assert top(client, viewer, database["id"], since, until or now) == expected[name], (mark, name)


def test_a_snapshot_stored_late_for_a_summed_day_is_counted_at_once_and_summed_again_by_the_job(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    database = register_database(client, acme)
    seed(client, database["agent_token"])
    assert run_job(client) == 6
    computed_before = state(metadata_url, database["id"])

    # An agent's spool replays an outage: a snapshot of the third day arrives now.
    send(client, database["agent_token"], FIRST + timedelta(days=2, hours=16), 2, 1000)

    viewer = as_user(client, acme, "viewer")
    since = FIRST + timedelta(days=1)
    expected = raw_sums(metadata_url, database["id"], since, datetime.now(UTC))
    assert expected[fingerprint(1)][0] > 1000
    assert top(client, viewer, database["id"], since, datetime.now(UTC)) == expected  # the rollups, meanwhile

    assert run_job(client) == 4  # from the late snapshot's day through yesterday
    computed_after = state(metadata_url, database["id"])
    assert computed_before and computed_after and computed_after[2] > computed_before[2]
    assert top(client, viewer, database["id"], since, datetime.now(UTC)) == expected


def test_totals_of_a_deleted_database_go_with_it(
    client: TestClient, acme: SeededTenant, metadata_url: str
) -> None:
    database = register_database(client, acme)
    seed(client, database["agent_token"])
    assert run_job(client) == 6

    deleted = client.delete(f"/api/v1/databases/{database['id']}", headers=as_user(client, acme, "admin"))

    assert deleted.status_code == 204, deleted.text
    with psycopg.connect(metadata_url) as conn:
        left = conn.execute(
            "SELECT (SELECT count(*) FROM statement_running_totals WHERE database_id = %(id)s)"
            " + (SELECT count(*) FROM statement_running_total_state WHERE database_id = %(id)s)",
            {"id": database["id"]},
        ).fetchone()
    assert left == (0,)
