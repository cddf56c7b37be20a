"""TPC-H data and queries, generated offline by DuckDB's tpch extension and loaded into PostgreSQL.

DuckDB 1.4.4 and the `duckdb-ext-tpch` wheel of the same version (benchmarks/requirements.txt): the
extension is LOADed from its file inside the wheel with auto-install and auto-load off, so nothing is
downloaded. `CALL dbgen(sf=...)` writes the tables, exported once as CSV to a cache folder under /tmp
(reused by later runs, never in the repository) together with `tpch_queries()`.

Schema: the standard TPC-H column types (dbgen's dss.ddl) with the primary keys only, as in the usual
benchmark setup; no foreign-key constraints and no secondary indexes, so that every join or filter
index has to come from an advisor (Kossmann et al., VLDB 2020, also start without secondary indexes).
After loading: VACUUM (ANALYZE), so that statistics and the visibility map are those of a settled table.
The loading session commits synchronously (the throwaway cluster runs with synchronous_commit = off):
VACUUM marks a page all-visible only once its rows' commit hint bits are set, and a hint bit waits
until the commit's WAL is flushed, so right after asynchronous commits the visibility map would stay
empty and every index-only scan would be costed as if it visited the table.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psycopg

CACHE_ROOT = Path(os.environ.get("OPTISCHEMA_BENCH_TPCH_CACHE", "/tmp/optischema-bench-tpch"))
DUCKDB_VERSION = "1.4.4"
COMPLETE_MARKER = "COMPLETE"
QUERIES_FILE = "queries.json"

# dbgen's dss.ddl column types; primary keys are added after loading (faster than maintaining them).
TABLES: dict[str, str] = {
    "region": "r_regionkey integer NOT NULL, r_name char(25) NOT NULL, r_comment varchar(152)",
    "nation": "n_nationkey integer NOT NULL, n_name char(25) NOT NULL, n_regionkey integer NOT NULL, "
    "n_comment varchar(152)",
    "part": "p_partkey integer NOT NULL, p_name varchar(55) NOT NULL, p_mfgr char(25) NOT NULL, "
    "p_brand char(10) NOT NULL, p_type varchar(25) NOT NULL, p_size integer NOT NULL, "
    "p_container char(10) NOT NULL, p_retailprice decimal(15,2) NOT NULL, p_comment varchar(23) NOT NULL",
    "supplier": "s_suppkey integer NOT NULL, s_name char(25) NOT NULL, s_address varchar(40) NOT NULL, "
    "s_nationkey integer NOT NULL, s_phone char(15) NOT NULL, s_acctbal decimal(15,2) NOT NULL, "
    "s_comment varchar(101) NOT NULL",
    "partsupp": "ps_partkey integer NOT NULL, ps_suppkey integer NOT NULL, ps_availqty integer NOT NULL, "
    "ps_supplycost decimal(15,2) NOT NULL, ps_comment varchar(199) NOT NULL",
    "customer": "c_custkey integer NOT NULL, c_name varchar(25) NOT NULL, c_address varchar(40) NOT NULL, "
    "c_nationkey integer NOT NULL, c_phone char(15) NOT NULL, c_acctbal decimal(15,2) NOT NULL, "
    "c_mktsegment char(10) NOT NULL, c_comment varchar(117) NOT NULL",
    "orders": "o_orderkey integer NOT NULL, o_custkey integer NOT NULL, o_orderstatus char(1) NOT NULL, "
    "o_totalprice decimal(15,2) NOT NULL, o_orderdate date NOT NULL, o_orderpriority char(15) NOT NULL, "
    "o_clerk char(15) NOT NULL, o_shippriority integer NOT NULL, o_comment varchar(79) NOT NULL",
    "lineitem": "l_orderkey integer NOT NULL, l_partkey integer NOT NULL, l_suppkey integer NOT NULL, "
    "l_linenumber integer NOT NULL, l_quantity decimal(15,2) NOT NULL, "
    "l_extendedprice decimal(15,2) NOT NULL, l_discount decimal(15,2) NOT NULL, "
    "l_tax decimal(15,2) NOT NULL, l_returnflag char(1) NOT NULL, l_linestatus char(1) NOT NULL, "
    "l_shipdate date NOT NULL, l_commitdate date NOT NULL, l_receiptdate date NOT NULL, "
    "l_shipinstruct char(25) NOT NULL, l_shipmode char(10) NOT NULL, l_comment varchar(44) NOT NULL",
}
PRIMARY_KEYS: dict[str, str] = {
    "region": "r_regionkey",
    "nation": "n_nationkey",
    "part": "p_partkey",
    "supplier": "s_suppkey",
    "partsupp": "ps_partkey, ps_suppkey",
    "customer": "c_custkey",
    "orders": "o_orderkey",
    "lineitem": "l_orderkey, l_linenumber",
}
COPY_CHUNK = 1 << 20


def log(message: str) -> None:
    print(f"[advisor_tpch] {message}", file=sys.stderr, flush=True)


def scale_label(scale_factor: float) -> str:
    return f"sf-{scale_factor:g}"


def tpch_extension_path() -> Path:
    """The tpch.duckdb_extension file shipped inside the installed duckdb-ext-tpch wheel."""
    import duckdb_ext  # type: ignore[import-untyped]  # noqa: PLC0415  # the duckdb-ext-* wheels' namespace

    for root in duckdb_ext.__path__:
        found = sorted(Path(root).rglob(f"v{DUCKDB_VERSION}/*/tpch.duckdb_extension"))
        if found:
            return found[0]
    raise RuntimeError(f"duckdb-ext-tpch=={DUCKDB_VERSION}.* is not installed (benchmarks/requirements.txt)")


def generate(scale_factor: float) -> Path:
    """The cached CSV files and queries for this scale factor, generated first if missing."""
    target = CACHE_ROOT / scale_label(scale_factor)
    if (target / COMPLETE_MARKER).exists():
        log(f"TPC-H {scale_label(scale_factor)}: cached in {target}")
        return target
    import duckdb  # noqa: PLC0415  # only needed to generate

    if duckdb.__version__ != DUCKDB_VERSION:
        raise RuntimeError(f"duckdb {duckdb.__version__} installed; the benchmark pins {DUCKDB_VERSION}")
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{scale_label(scale_factor)}-", dir=CACHE_ROOT))
    started = time.perf_counter()
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }
    with duckdb.connect(":memory:", config=config) as duck:
        duck.execute(f"LOAD '{tpch_extension_path()}'")
        duck.execute(f"CALL dbgen(sf={scale_factor})")
        for table in TABLES:
            duck.execute(
                f"COPY {table} TO '{work / (table + '.csv')}' (FORMAT csv, DELIMITER '|', HEADER false)"
            )
        queries = {
            int(nr): text
            for nr, text in duck.execute("SELECT query_nr, query FROM tpch_queries()").fetchall()
        }
    (work / QUERIES_FILE).write_text(json.dumps(queries, indent=1))
    (work / COMPLETE_MARKER).write_text(f"duckdb {DUCKDB_VERSION} dbgen(sf={scale_factor})\n")
    shutil.rmtree(target, ignore_errors=True)
    work.rename(target)
    log(
        f"TPC-H {scale_label(scale_factor)}: generated in {time.perf_counter() - started:.1f} s into {target}"
    )
    return target


def queries(data_dir: Path) -> dict[int, str]:
    """tpch_queries() as DuckDB prints them: the 22 queries with their literal validation values."""
    return {int(nr): text for nr, text in json.loads((data_dir / QUERIES_FILE).read_text()).items()}


def load(url: str, data_dir: Path) -> None:
    """Tables, COPY from the cached CSV through the client connection, primary keys, VACUUM ANALYZE."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = on")
        for table, columns in TABLES.items():
            conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
            conn.execute(f"CREATE TABLE {table} ({columns})")
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY {table} FROM STDIN (FORMAT csv, DELIMITER '|')") as copy,
                (data_dir / f"{table}.csv").open("rb") as source,
            ):
                while chunk := source.read(COPY_CHUNK):
                    copy.write(chunk)
        for table, key in PRIMARY_KEYS.items():
            conn.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({key})")
        conn.execute("VACUUM (ANALYZE)")
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()
        visible = conn.execute(
            "SELECT sum(relallvisible)::float / greatest(sum(relpages), 1) FROM pg_class "
            "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
        ).fetchone()
    log(
        f"loaded into PostgreSQL in {time.perf_counter() - started:.1f} s ({size[0] if size else '?'}, "
        f"{100 * (visible[0] if visible else 0):.0f}% of pages all-visible)"
    )
