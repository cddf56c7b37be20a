"""A small shop schema with a realistic, slightly neglected workload.

It has what a first look with OptiSchema should find: lookups on unindexed foreign keys, a
filter-and-sort that wants a composite index, an index nothing uses, and two indexes on the same
column (someone added the second without looking).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import psycopg

SCHEMA = """
CREATE TABLE customers (
    id bigserial PRIMARY KEY,
    email text NOT NULL,
    country text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE products (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    category text NOT NULL,
    price numeric(10, 2) NOT NULL
);
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id),
    status text NOT NULL,
    total numeric(12, 2) NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE order_items (
    order_id bigint NOT NULL REFERENCES orders (id),
    product_id bigint NOT NULL REFERENCES products (id),
    quantity int NOT NULL,
    PRIMARY KEY (order_id, product_id)
);
CREATE INDEX products_name_unused ON products (name);
CREATE INDEX customers_country_idx ON customers (country);
CREATE INDEX customers_by_country ON customers (country);
"""

DATA = """
INSERT INTO customers (email, country, created_at)
SELECT 'customer' || g || '@shop.test', (ARRAY['DE','FR','US','JP','BR'])[1 + g % 5], now() - g * interval '1 hour'
  FROM generate_series(1, {customers}) g;
INSERT INTO products (name, category, price)
SELECT 'product ' || g, (ARRAY['books','games','garden','kitchen'])[1 + g % 4], 1 + (g % 200)
  FROM generate_series(1, 2000) g;
INSERT INTO orders (customer_id, status, total, created_at)
SELECT 1 + (g * 7919) % {customers}, (ARRAY['pending','paid','shipped','shipped','shipped'])[1 + g % 5],
       (g % 900) + 0.99, now() - (g % 50000) * interval '1 minute'
  FROM generate_series(1, {orders}) g;
INSERT INTO order_items (order_id, product_id, quantity)
SELECT o.id, 1 + (o.id * 31 + k) % 2000, 1 + k FROM orders o, generate_series(0, 2) k;
ANALYZE;
"""

# (statement, how to draw its parameters, weight): the weights make the missing indexes matter.
WORKLOAD: list[tuple[str, str, int]] = [
    ("SELECT id, status, total FROM orders WHERE customer_id = %s ORDER BY created_at DESC LIMIT 20", "customer", 40),
    ("SELECT count(*) FROM orders WHERE status = %s AND created_at > now() - interval '1 day'", "status", 10),
    ("SELECT * FROM order_items WHERE product_id = %s", "product", 20),
    ("SELECT * FROM customers WHERE id = %s", "customer", 30),
    ("SELECT p.category, sum(i.quantity) FROM order_items i JOIN products p ON p.id = i.product_id "
     "WHERE i.order_id = %s GROUP BY p.category", "order", 15),
    ("UPDATE orders SET status = 'shipped' WHERE id = %s AND status = 'paid'", "order", 5),
]  # fmt: skip


def create_shop(conn: psycopg.Connection, customers: int = 20_000, orders: int = 100_000) -> None:
    conn.execute(SCHEMA)
    # Sizes are our own integers, formatted in: several statements cannot carry bind parameters.
    conn.execute(DATA.format(customers=int(customers), orders=int(orders)))


def run_workload(conn: psycopg.Connection, statements: int, seed: int = 7, customers: int = 20_000) -> None:
    rng = random.Random(seed)
    draws: dict[str, Callable[[], int | str]] = {
        "customer": lambda: rng.randint(1, customers),
        "status": lambda: rng.choice(["pending", "paid", "shipped"]),
        "product": lambda: rng.randint(1, 2000),
        "order": lambda: rng.randint(1, 100_000),
    }
    weights = [weight for _, _, weight in WORKLOAD]
    for statement, draw, _ in rng.choices(WORKLOAD, weights=weights, k=statements):
        conn.execute(statement, [draws[draw]()])
