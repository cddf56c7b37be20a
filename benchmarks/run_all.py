"""`make bench`: every benchmark, judged against its budget, written to benchmarks/results.json."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

BENCHMARKS = [
    "benchmarks.collector_cycle",
    "benchmarks.control_plane_ingestion",
    "benchmarks.ingestion_workers",
    "benchmarks.ingestion_store_cost",
    "benchmarks.statement_stats_layout",
    "benchmarks.statement_encoding",
    "benchmarks.ingestion_instructions",
    "benchmarks.advisor_tpch",
    "benchmarks.dashboard_pages",
]
RESULTS = Path(__file__).with_name("results.json")


def judged(figure: dict[str, object]) -> dict[str, object]:
    budget = figure.get("budget")
    value = figure["value"]
    if budget is None:
        return {**figure, "ok": None}
    number = isinstance(value, int | float)
    # A rate's budget is its floor ("at_least"); every other budget is a ceiling.
    ok = bool(number and (value >= budget if figure.get("at_least") else value <= budget))  # type: ignore[operator]
    return {**figure, "ok": ok}


def main() -> int:
    figures: list[dict[str, object]] = []
    for name in BENCHMARKS:
        print(f"running {name}...", file=sys.stderr)
        figures += [judged(figure) for figure in importlib.import_module(name).main()]
    document = {"benchmarks": figures}
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
