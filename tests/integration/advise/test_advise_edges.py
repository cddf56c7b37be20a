"""The advisor's edges: no HypoPG, statements the planner cannot explain, bounds, config advice."""

from __future__ import annotations

import psycopg

from deploy.local.throwaway_cluster import ThrowawayCluster
from tests.integration.advise.conftest import advise, fresh_statistics, run
from tests.integration.agent.conftest import run_agent


def plant_orders(db: psycopg.Connection) -> None:
    db.execute(
        """
        CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, region int NOT NULL, note text);
        INSERT INTO orders SELECT g, g % 5000, g % 7, repeat('x', 40) FROM generate_series(1, 150000) g;
        """
    )


def test_without_hypopg_index_ideas_are_advisory_and_the_output_says_how_to_install_it(
    db: psycopg.Connection, db_url: str
) -> None:
    plant_orders(db)
    db.execute("DROP EXTENSION hypopg")
    fresh_statistics(db)
    run(db, "SELECT id FROM orders WHERE customer_id = %s", [[n] for n in range(20)])

    report = advise(db_url)
    table = run_agent("advise", "--database-url", db_url)

    assert report["hypopg"] is False
    (idea,) = [r for r in report["recommendations"] if r["kind"] == "create_index"]
    assert idea["tier"] == "advisory" and idea["columns"] == ["customer_id"]
    assert "hypopg" in idea["rationale"].lower() and "CREATE EXTENSION hypopg" in idea["rationale"]
    assert "HypoPG NOT installed" in table.stdout and "install HypoPG" in table.stdout


def test_a_statement_the_planner_cannot_explain_is_listed_under_skipped(
    db: psycopg.Connection, pg_cluster: ThrowawayCluster, db_url: str
) -> None:
    plant_orders(db)
    fresh_statistics(db)
    with pg_cluster.connect(db.info.dbname) as session:  # a temporary table is gone with its session
        session.execute("CREATE TEMPORARY TABLE scratch (a int)")
        session.execute("SELECT a FROM scratch WHERE a = %s", [1])

    report = advise(db_url)

    (skipped,) = [s for s in report["skipped"] if "scratch" in (s["query"] or "")]
    assert skipped["reason"].startswith("the planner cannot explain it")
    assert 'relation "scratch" does not exist' in skipped["reason"]


def test_a_search_bound_that_was_hit_is_said_in_the_output(db: psycopg.Connection, db_url: str) -> None:
    plant_orders(db)
    fresh_statistics(db)
    run(db, "SELECT id FROM orders WHERE customer_id = %s AND region = %s", [[n, n % 7] for n in range(20)])

    report = advise(db_url, "--max-candidates", "1")

    # 3 key lists and their 3 covering widenings (the statement reads id too).
    assert report["bounds_hit"] == ["6 candidates; only the first 1 were evaluated"]


def test_sorts_spilling_to_disk_suggest_work_mem_as_advisory_config(
    db: psycopg.Connection, db_url: str
) -> None:
    plant_orders(db)
    fresh_statistics(db)
    db.execute("SET work_mem = '64kB'")
    run(
        db,
        "SELECT note, customer_id FROM orders ORDER BY note DESC, customer_id LIMIT %s OFFSET %s",
        [[5, 1000]] * 5,
    )

    report = advise(db_url)

    (config,) = [r for r in report["recommendations"] if r["kind"] == "config"]
    assert config["tier"] == "advisory"
    assert config["sql"].startswith("ALTER SYSTEM SET work_mem = ")
    assert "temporary files" in config["rationale"]
    assert config["columns"] == []
