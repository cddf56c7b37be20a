"""The monitored shop of the dashboard flows (tests.e2e.dashboard_flows): order_items, its busy
lookup, the indexes index health should find, and what the mocked model answers about it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import psycopg

from tests.integration.advise.conftest import fresh_statistics, run
from tests.integration.control_plane.analysis.conftest import chat_completion

BUSY_LOOKUP = "SELECT product_id, quantity, order_id FROM order_items WHERE product_id = $1"
NARROW_KEYS = ["product_id"]
COVERING_KEYS = ["product_id", "quantity", "order_id"]
UNUSED_INDEX = "order_items_note_idx"
DUPLICATED_INDEX = "order_items_order_id_idx"  # kept: the alphabetically first of the two
DUPLICATE_INDEX = "order_items_order_id_twin_idx"
# Index statistics must have been counted this long before the agent calls an index unused (7 days in
# production, OPTISCHEMA_MIN_STATS_AGE_H); the test cluster is minutes old, so zero, instead of a wait.
NO_MIN_STATS_AGE = {"OPTISCHEMA_MIN_STATS_AGE_H": "0"}


def plant_order_items(db: psycopg.Connection) -> None:
    """`order_items`, 200,000 rows; each product_id on 200 rows scattered over as many pages: a lookup
    by product_id scans the whole table, an index on it visits 200 pages, a covering one fewer."""
    db.execute(
        """
        CREATE TABLE order_items (
            id bigserial PRIMARY KEY,
            order_id int NOT NULL,
            product_id int NOT NULL,
            quantity int NOT NULL,
            note text NOT NULL
        );
        INSERT INTO order_items (order_id, product_id, quantity, note)
        SELECT g / 3, g % 1000, 1 + g % 7, repeat('n', 40) FROM generate_series(1, 200000) g;
        """
    )
    fresh_statistics(db)


def play_busy_lookup(db: psycopg.Connection, calls: int = 60) -> None:
    run(db, BUSY_LOOKUP.replace("$1", "%s"), [[n * 7 % 1000] for n in range(calls)])


def plant_index_health(db: psycopg.Connection) -> None:
    """order_items with an index nothing reads (note) and two identical ones on order_id."""
    plant_order_items(db)
    db.execute(f"CREATE INDEX {UNUSED_INDEX} ON order_items (note)")
    db.execute(f"CREATE INDEX {DUPLICATED_INDEX} ON order_items (order_id)")
    db.execute(f"CREATE INDEX {DUPLICATE_INDEX} ON order_items (order_id)")
    db.execute("ANALYZE order_items")


def model_answering(index_ideas: list[list[str]]) -> Callable[[httpx.Request], httpx.Response]:
    """The model: for a statement on order_items, an index on each key list in `index_ideas` (read
    when the analysis asks, so a flow can choose them after seeing the agent's findings)."""

    def answer(request: httpx.Request) -> httpx.Response:
        suggestions = []
        if "order_items" in request.content.decode():
            suggestions = [
                {
                    "kind": "create_index",
                    "table": "public.order_items",
                    "columns": columns,
                    "rationale": "The lookup filters on product_id and reads quantity and order_id.",
                    "confidence": 0.8,
                    "risk": "low",
                }
                for columns in index_ideas
            ]
        document: dict[str, Any] = {
            "explanation": "Every call reads all of order_items.",
            "suggestions": suggestions,
        }
        return httpx.Response(200, json=chat_completion(document))

    return answer
