"""The quality ceiling: the Extend algorithm (Schlosser, Kossmann, Boissier, ICDE 2019) as shipped by the
`index-eab` package on PyPI (0.1.0, pure Python, imports psycopg2 without declaring it).

index-eab's ExtendAlgorithm starts by dropping every non-primary-key index of the public schema
(SelectionAlgorithm.__init__ -> drop_indexes()), so it only ever runs on a scratch copy of the TPC-H
database (CREATE DATABASE ... TEMPLATE, made right after loading while nothing is connected). It runs in
a child process (`python -m benchmarks.tpch.extend`, JSON on stdin and stdout) so that its timeout can
be enforced and its global `logging.disable` calls stay out of the benchmark.

The thin adaptation: index-eab wants its own Column/Table/Query objects. The schema comes from the
catalog, the queries are the workload's literal texts with their call counts as frequencies, and the
indexable columns of each query are found by index-eab's own `read_row_query` (column and table names
occurring in the text: the heuristic of Kossmann et al.'s evaluation platform). Storage budget: index-eab
measures in MB of 10^6 bytes of HypoPG-estimated size (hypopg_relation_size), the same estimate the
benchmark uses for every method. Costs: EXPLAIN total cost with hypothetical indexes, as our yardstick.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict


@dataclass
class ExtendResult:
    indexes: list[str] | None  # None: Extend could not run, see `reason`
    reason: str = ""
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


def create_scratch_copy(admin_url: str, source: str, scratch: str) -> None:
    """CREATE DATABASE scratch TEMPLATE source; nobody else may be connected to `source`."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (source,),
        )
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(scratch), sql.Identifier(source))
        )


def drop_scratch_copy(admin_url: str, scratch: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))


def run_extend(
    scratch_url: str,
    queries: Mapping[int, str],
    weights: Mapping[int, int],
    budget_bytes: int,
    max_index_width: int,
    timeout_s: float,
) -> ExtendResult:
    request = {
        "url": scratch_url,
        "queries": [[nr, text, weights.get(nr, 0)] for nr, text in queries.items()],
        "budget_mb": (budget_bytes + 0.5) / 1e6,  # index-eab's MB is 10^6 bytes; +0.5 absorbs float rounding
        "max_index_width": max_index_width,
    }
    started = time.perf_counter()
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "benchmarks.tpch.extend"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return ExtendResult(
            None, f"Extend did not finish within {timeout_s:g} s (OPTISCHEMA_BENCH_EXTEND_TIMEOUT)"
        )
    seconds = time.perf_counter() - started
    lines = completed.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        answer = {}
    if "error" in answer or "indexes" not in answer:
        reason = answer.get("error") or f"exit {completed.returncode}: {completed.stderr.strip()[-1500:]}"
        return ExtendResult(None, reason, seconds)
    statements = [
        "CREATE INDEX ON {} ({})".format(index["table"], ", ".join(index["columns"]))
        for index in answer["indexes"]
    ]
    return ExtendResult(statements, "", seconds, answer)


def child(request: dict[str, Any]) -> dict[str, Any]:
    """Runs inside `python -m benchmarks.tpch.extend`."""
    try:  # imported here: only the child needs index-eab
        from index_eab.eab_utils.common_utils import (  # type: ignore[import-untyped]  # noqa: PLC0415
            get_columns_from_schema,
            read_row_query,
        )
        from index_eab.eab_utils.postgres_dbms import PostgresDatabaseConnector  # type: ignore[import-untyped]  # noqa: PLC0415
        from index_eab.eab_utils.workload import Workload  # type: ignore[import-untyped]  # noqa: PLC0415
        from index_eab.index_advisor.extend_algorithm import ExtendAlgorithm  # type: ignore[import-untyped]  # noqa: PLC0415
    except ImportError as error:
        return {
            "error": f"index-eab cannot be imported: {error!r} (pip install -r benchmarks/requirements.txt)"
        }

    params = conninfo_to_dict(request["url"])
    with psycopg.connect(request["url"]) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
        ).fetchall()
    schema: dict[str, list[dict[str, str]]] = {}
    for table, column in rows:
        schema.setdefault(table, []).append({"name": column})
    _, columns = get_columns_from_schema([{"table": t, "columns": c} for t, c in schema.items()])
    workload = Workload(read_row_query(request["queries"], columns, varying_frequencies=True))

    connector = PostgresDatabaseConnector(
        autocommit=True,
        host=params.get("host"),
        port=params.get("port"),
        db_name=params.get("dbname"),
        user=params.get("user"),
        password=params.get("password"),
    )
    parameters = {
        "budget_MB": request["budget_mb"],
        "max_index_width": request["max_index_width"],
        "max_indexes": 1000,  # unused with the storage constraint, but index-eab reads the key
        "constraint": "storage",
    }
    started = time.perf_counter()
    algorithm = ExtendAlgorithm(connector, parameters)
    indexes, overhead = algorithm.calculate_best_indexes(workload, overhead=True)
    seconds = time.perf_counter() - started
    connector.close()
    return {
        "indexes": [
            {
                "table": index.table().name,
                "columns": [column.name for column in index.columns],
                "estimated_size": index.estimated_size,
            }
            for index in indexes
        ],
        "seconds": seconds,
        "cost_requests": overhead.get("cost_requests"),
        "cache_hits": overhead.get("cache_hits"),
        "indexable_columns": len(workload.indexable_columns()),
    }


if __name__ == "__main__":
    try:
        answer = child(json.loads(sys.stdin.read()))
    except Exception as error:
        answer = {"error": f"Extend failed: {error!r}"}
    print(json.dumps(answer), flush=True)
