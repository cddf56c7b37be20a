"""Apply and rollback jobs wait for the database's maintenance window and for `not_before`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from control_plane.changes.maintenance_window import DAYS
from tests.integration.control_plane.api.conftest import SeededTenant, as_user
from tests.integration.control_plane.changes.flow import approve, lease, recommendation, shop_with_finding

BERLIN = "Europe/Berlin"


def window_url(database_id: str) -> str:
    return f"/api/v1/databases/{database_id}/maintenance-window"


def today_in(zone: str) -> str:
    return DAYS[datetime.now(ZoneInfo(zone)).weekday()]


def test_a_closed_window_holds_the_apply_job_until_the_window_includes_now(
    client: TestClient, acme: SeededTenant
) -> None:
    shop = shop_with_finding(client, acme)
    admin = as_user(client, acme, "admin")
    every_other_day = [day for day in DAYS if day != today_in(BERLIN)]
    closed = {"days": every_other_day, "start": "00:00", "end": "00:00", "time_zone": BERLIN}
    assert client.put(window_url(shop.database_id), json=closed, headers=admin).status_code == 200
    approve(client, shop)

    while_closed = lease(client, shop)
    status_while_closed = recommendation(client, shop)["status"]
    opened = client.put(
        window_url(shop.database_id),
        json={**closed, "days": [today_in(BERLIN)]},
        headers=admin,
    )
    once_open = lease(client, shop)

    assert while_closed == []
    assert status_while_closed == "approved"
    assert opened.status_code == 200 and opened.json()["days"] == [today_in(BERLIN)]
    assert [job.kind for job in once_open] == ["apply"]
    assert recommendation(client, shop)["status"] == "applying"


def test_not_before_in_the_future_holds_the_apply_job(client: TestClient, acme: SeededTenant) -> None:
    shop = shop_with_finding(client, acme)

    approved = approve(client, shop, not_before=(datetime.now(UTC) + timedelta(hours=1)).isoformat())

    assert approved.status_code == 200, approved.text
    assert lease(client, shop) == []
    assert recommendation(client, shop)["status"] == "approved"


def test_the_window_is_read_and_cleared_by_admins_only_and_checked(
    client: TestClient, acme: SeededTenant
) -> None:
    shop = shop_with_finding(client, acme)
    admin, analyst = as_user(client, acme, "admin"), as_user(client, acme, "analyst")
    window = {"days": ["sat", "sun", "sat"], "start": "22:00", "end": "04:00", "time_zone": BERLIN}

    unset = client.get(window_url(shop.database_id), headers=admin)
    stored = client.put(window_url(shop.database_id), json=window, headers=admin)
    by_analyst = client.put(window_url(shop.database_id), json=window, headers=analyst)
    bad_zone = client.put(
        window_url(shop.database_id), json={**window, "time_zone": "Mars/Olympus"}, headers=admin
    )
    bad_time = client.put(window_url(shop.database_id), json={**window, "end": "24:30"}, headers=admin)
    read = client.get(window_url(shop.database_id), headers=admin)
    cleared = client.put(window_url(shop.database_id), json=None, headers=admin)

    assert (unset.status_code, unset.json()) == (200, None)
    assert stored.status_code == 200 and stored.json()["days"] == ["sat", "sun"]
    assert by_analyst.status_code == 403
    assert bad_zone.status_code == 422 and bad_time.status_code == 422
    assert read.json() == {"days": ["sat", "sun"], "start": "22:00", "end": "04:00", "time_zone": BERLIN}
    assert (cleared.status_code, client.get(window_url(shop.database_id), headers=admin).json()) == (
        200,
        None,
    )
