"""A partition-heavy workload of our own: range, list, hash and expression partitioning, joined
partition-wise, with placeholder columns, full and lateral joins, semi and anti joins, and DML.

pg_stat_statements turns every constant here into a `$n`, so the agent later plans each of these
shapes generically with NULL or unknown parameters: the shapes that once crashed a backend inside
pg_qualstats (a partitionwise join explained with EXECUTE of NULLs).
"""

from __future__ import annotations

import psycopg

SCHEMA = """
CREATE TABLE shipments (id int, region int, label text) PARTITION BY RANGE (id);
CREATE TABLE shipments_a PARTITION OF shipments FOR VALUES FROM (0) TO (300);
CREATE TABLE shipments_c PARTITION OF shipments FOR VALUES FROM (600) TO (900);
CREATE TABLE shipments_b PARTITION OF shipments FOR VALUES FROM (300) TO (600);
INSERT INTO shipments SELECT g, g % 17, 'L' || g FROM generate_series(0, 899) g WHERE g % 2 = 0;
CREATE INDEX shipments_a_id ON shipments_a (id);

CREATE TABLE parcels (id int, shipment int, note text) PARTITION BY RANGE (shipment);
CREATE TABLE parcels_a PARTITION OF parcels FOR VALUES FROM (0) TO (300);
CREATE TABLE parcels_b PARTITION OF parcels FOR VALUES FROM (300) TO (600);
CREATE TABLE parcels_c PARTITION OF parcels FOR VALUES FROM (600) TO (900);
INSERT INTO parcels SELECT g % 17, g, 'N' || g FROM generate_series(0, 899) g WHERE g % 3 = 0;

CREATE TABLE depots (a int, b int, zone text) PARTITION BY LIST (zone);
CREATE TABLE depots_1 PARTITION OF depots FOR VALUES IN ('n', 's');
CREATE TABLE depots_2 PARTITION OF depots FOR VALUES IN ('e', 'w');
INSERT INTO depots SELECT g, g % 9, (ARRAY['n','s','e','w'])[1 + g % 4] FROM generate_series(0, 399) g;

CREATE TABLE routes (a int, b int, zone text) PARTITION BY LIST (zone);
CREATE TABLE routes_1 PARTITION OF routes FOR VALUES IN ('n', 's');
CREATE TABLE routes_2 PARTITION OF routes FOR VALUES IN ('e', 'w');
INSERT INTO routes SELECT g, g % 7, (ARRAY['n','s','e','w'])[1 + g % 4] FROM generate_series(0, 399) g;

CREATE TABLE tags (a int, b int, c text) PARTITION BY HASH (c);
CREATE TABLE tags_0 PARTITION OF tags FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE tags_1 PARTITION OF tags FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO tags SELECT g, g % 5, (g % 11)::text FROM generate_series(0, 299) g;

CREATE TABLE folds (a int, b int, c int) PARTITION BY RANGE (((a + b) / 2));
CREATE TABLE folds_1 PARTITION OF folds FOR VALUES FROM (0) TO (450);
CREATE TABLE folds_2 PARTITION OF folds FOR VALUES FROM (450) TO (900);
INSERT INTO folds SELECT g, g, g % 13 FROM generate_series(0, 899, 2) g;
ANALYZE;
"""

STATEMENTS = [
    "SELECT s.id, p.note FROM shipments s JOIN parcels p ON s.id = p.shipment WHERE s.region = 3 ORDER BY s.id",
    "SELECT s.id, p.note FROM shipments s JOIN parcels p ON s.id = p.shipment WHERE s.id < 450 AND p.shipment > 250",
    "SELECT x.id, y.shipment FROM (SELECT 40 AS tag, * FROM shipments WHERE region = 0) x "
    "FULL JOIN (SELECT 70 AS tag, * FROM parcels WHERE id = 0) y ON x.id = y.shipment "
    "WHERE x.tag = x.id OR y.tag = y.shipment",
    "SELECT * FROM shipments s LEFT JOIN LATERAL (SELECT p.id AS pid, least(s.id, p.shipment, 5) AS l "
    "FROM parcels p WHERE p.shipment = s.id) q ON true WHERE s.region = 1",
    "SELECT s.* FROM shipments s WHERE s.id IN (SELECT p.shipment FROM parcels p WHERE p.id = 2) AND s.region = 2",
    "SELECT sum(s.id) FROM shipments s WHERE NOT EXISTS (SELECT 1 FROM parcels p WHERE p.shipment = s.id)",
    "SELECT d.zone, count(*), avg(r.b) FROM depots d JOIN routes r ON d.a = r.a AND d.zone = r.zone "
    "WHERE d.b = 4 GROUP BY d.zone",
    "SELECT * FROM tags t1 JOIN tags t2 ON t1.c = t2.c AND t1.a = t2.a WHERE t1.b = 3",
    "SELECT f.a, s.id FROM folds f JOIN shipments s ON (f.a + f.b) / 2 = s.id WHERE f.c = 6",
    "SELECT * FROM shipments s JOIN parcels p ON s.id = p.shipment WHERE s.id = 1 AND s.id = 2",
    "SELECT * FROM shipments WHERE id = ANY (ARRAY[10, 20, 30])",
    "UPDATE shipments SET label = 'x' FROM parcels WHERE shipments.id = parcels.shipment AND parcels.id = 99",
    "DELETE FROM parcels USING shipments WHERE parcels.shipment = shipments.id AND shipments.region = 99",
    "INSERT INTO tags VALUES (1000, 1, 'zz') ON CONFLICT DO NOTHING",
    # The shape that crashed pg_qualstats 2.0.4 here (reproduced on Debian's 15 with the agent's
    # hooks left on): a join over a partitioned table whose partitions are all pruned at executor
    # start-up (EXECUTE with NULL), so its Append has no subplans and pg_qualstats reads the first.
    "SELECT * FROM shipments s JOIN depots d ON s.region = d.b WHERE s.id = 5",
    "SELECT count(*) FROM shipments s JOIN parcels p ON s.id = p.shipment JOIN routes r ON p.id = r.b "
    "WHERE s.id < 100 AND r.zone = 'n'",
    "WITH recent AS (SELECT shipment, count(*) AS n FROM parcels WHERE shipment > 120 GROUP BY shipment) "
    "SELECT s.label, recent.n FROM shipments s JOIN recent ON recent.shipment = s.id WHERE s.region = 4",
]


def load_partitioned_workload(db: psycopg.Connection) -> None:
    """Schema and data, then each statement twice with partitionwise joins and aggregates on."""
    db.execute(SCHEMA)
    db.execute("SET enable_partitionwise_join = on")
    db.execute("SET enable_partitionwise_aggregate = on")
    for _ in range(2):
        for statement in STATEMENTS:
            db.execute(statement)
