"""The analysis queue: two replicas never analyse one run twice, and a run whose worker died is
picked up again once its lease runs out."""

from __future__ import annotations

import asyncio

import httpx
import psycopg

from control_plane.analysis.worker import AnalysisWorker
from control_plane.db.engine import engine_from_url
from tests.integration.control_plane.analysis.conftest import (
    Shop,
    analysis_settings,
    make_snapshot,
    open_shop,
    run_worker,
)


async def two_replicas_at_once(shop: Shop) -> list[int]:
    engines = [engine_from_url(shop.settings.metadata_url, pool_size=2) for _ in range(2)]
    try:
        workers = [AnalysisWorker(engine, shop.settings, httpx.AsyncClient) for engine in engines]
        return list(await asyncio.gather(*(worker.run_once() for worker in workers)))
    finally:
        for engine in engines:
            await engine.dispose()


def test_two_workers_at_once_analyse_each_run_exactly_once(rules_shop: Shop) -> None:
    rules_shop.send_snapshot(make_snapshot())
    runs = [rules_shop.analyze() for _ in range(3)]

    finished = asyncio.run(two_replicas_at_once(rules_shop))

    assert sum(finished) == 3
    for run_id in runs:
        run = rules_shop.run(run_id)
        assert (run["status"], run["attempts"]) == ("succeeded", 1)


def test_a_run_whose_worker_died_is_taken_again_after_its_lease(rules_shop: Shop) -> None:
    rules_shop.send_snapshot(make_snapshot())
    run_id = rules_shop.analyze()
    with psycopg.connect(rules_shop.settings.metadata_url, autocommit=True) as conn:
        # What a replica that leased the run and then died leaves behind: a lease that ran out.
        conn.execute(
            "UPDATE analysis_runs SET status = 'running', attempts = 1, lease_expires_at = now() - interval '1 second'"
            " WHERE id = %s",
            [run_id],
        )

    finished = asyncio.run(two_replicas_at_once(rules_shop))

    assert sum(finished) == 1
    run = rules_shop.run(run_id)
    assert (run["status"], run["attempts"]) == ("succeeded", 2)
    assert run["summary"]["statements"] == 2


def test_a_run_still_leased_to_a_live_worker_is_left_alone(rules_shop: Shop) -> None:
    rules_shop.send_snapshot(make_snapshot())
    run_id = rules_shop.analyze()
    with psycopg.connect(rules_shop.settings.metadata_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE analysis_runs SET status = 'running', attempts = 1, lease_expires_at = now() + interval '1 hour'"
            " WHERE id = %s",
            [run_id],
        )

    assert sum(asyncio.run(two_replicas_at_once(rules_shop))) == 0
    assert rules_shop.run(run_id)["status"] == "running"


def test_a_databases_workload_is_read_for_changes_at_most_once_per_check_interval(metadata_url: str) -> None:
    # No debounce: only the check interval stands between the changed plan and a second run.
    settings = analysis_settings(metadata_url, analysis_check_interval_s=3600)
    for shop in open_shop(metadata_url, settings):
        shop.send_snapshot(make_snapshot())
        run_worker(settings)  # never checked: an automatic run
        shop.send_snapshot(make_snapshot(lookup_cost=9000.0))
        run_worker(settings)  # changed, but checked less than the interval ago: not read again
        admin = shop.admin()
        runs = shop.client.get(f"/api/v1/databases/{shop.database_id}/analyses", headers=admin).json()
        assert [(r["trigger"], r["status"]) for r in runs] == [("auto", "succeeded")]
        with psycopg.connect(metadata_url, autocommit=True) as conn:  # the interval has passed
            conn.execute("UPDATE analysis_watches SET checked_at = checked_at - interval '2 hours'")
        run_worker(settings)
        runs = shop.client.get(f"/api/v1/databases/{shop.database_id}/analyses", headers=admin).json()
        assert [r["trigger"] for r in runs] == ["auto", "auto"]


def test_a_changed_plan_queues_an_automatic_run_once_per_debounce(metadata_url: str) -> None:
    settings = analysis_settings(metadata_url, analysis_debounce_s=3600)
    for shop in open_shop(metadata_url, settings):
        shop.send_snapshot(make_snapshot())
        run_worker(settings)  # never analysed: an automatic run, analysed in the same turn
        shop.send_snapshot(make_snapshot(lookup_cost=9000.0))
        run_worker(settings)  # changed, but within the debounce: nothing new
        response = shop.client.get(f"/api/v1/databases/{shop.database_id}/analyses", headers=shop.admin())
        runs = response.json()
        assert [(r["trigger"], r["status"]) for r in runs] == [("auto", "succeeded")]
