"""What the shape of a snapshot's statements costs the control plane's Python, before PostgreSQL.

Issue 15's goal (15 snapshots/s of 5,000 statements on 2 cores, beside readers) is short by about
a sixth of the CPU a snapshot costs (accepting ~25 ms, storing ~67-98 ms, ~23-39 of it in the
worker: benchmarks/ingestion_store_cost.py, 2026-12-06). In the worker, decoding the body again
takes ~6 ms and making the COPY data of its 5,000 rows ~6.5; the check that accepts a body spends
most of its ~12 ms parsing the same JSON (once the body came to be read in one pass, 2026-12-06). In the JSON an agent sends today (schema version 2) each statement is
an object: half of the ~3.2 MB inflated text is the 16 counter names repeated 5,000 times. This
measures that shape against the alternative, the same statements as one object of columns
(`{"fingerprint": [...], "calls": [...], ...}`), with the same rules checked on decoding (bounds,
the fingerprints' length and hex digits, the statement types, columns of one length). Both are in
fingerprint order (an agent can send either so) and gzipped at level 9 as the agent gzips
(shared.wire.snapshot.gzipped_json). No budgets: design figures for the change of wire format they would
justify, which is a contract (SPEC.md's `snapshot` command prints exactly what the agent sends)
and is not made here.

For each shape, the median CPU time of REPEATS runs, in this process:
- **body**: its size, gzipped as the agent sends it and inflated;
- **inflate**: ISA-L's inflate (control_plane/ingestion/payload.py);
- **split**: the top level into its members, values kept as text (payload's first step);
- **check**: the statements decoded whole, every field (what accepting a body does);
- **worker**: the statements' fingerprints and counters alone (what a worker reads);
- **copy**: the worker's decoded statements made into the COPY data of their raw rows
  (control_plane/ingestion/batch_rows.py).
"""

from __future__ import annotations

import gzip
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import starmap
from typing import Any, Literal

import msgspec

from benchmarks.control_plane_ingestion import STATEMENTS, build_workload, snapshot_body
from control_plane.ingestion.batch_rows import COUNTER_ROW, COUNTER_TYPES, big_endian, copy_data, copy_rows
from control_plane.ingestion.payload import decompress
from control_plane.ingestion.statement_rows import (
    COUNTER_FIELDS,
    Count,
    FingerprintText,
    Milliseconds,
    all_lowercase_hex,
    decode_statement_counters,
    decode_statements,
)

REPEATS = 25
_MEMBERS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_LIMIT = 64 * 1024 * 1024
_AGENT_GZIP_LEVEL = 9  # shared.wire.snapshot.gzipped_json: gzip.compress's default


# The statements as columns: the fingerprints and counters alone (a worker's read), then every field
# (a check's read). The counters are the wire model's, as statement_rows' are.
CounterColumns = msgspec.defstruct(
    "CounterColumns",
    [
        ("fingerprint", list[FingerprintText]),
        *((name, list[Milliseconds] if name.endswith("_ms") else list[Count]) for name in COUNTER_FIELDS),
    ],
    gc=False,
)
StatementColumns = msgspec.defstruct(
    "StatementColumns",
    [
        ("query", list[str]),
        ("statement_type", list[Literal["select", "insert", "update", "delete", "merge"]]),
        ("relations", list[list[str]]),
        ("toplevel", list[bool]),
    ],
    bases=(CounterColumns,),
    forbid_unknown_fields=True,
    gc=False,
)


_COLUMNS_WHOLE = msgspec.json.Decoder(StatementColumns, strict=False)
_COLUMNS_COUNTERS = msgspec.json.Decoder(CounterColumns, strict=False)


def say(message: str) -> None:
    print(f"statement_encoding: {message}", file=sys.stderr, flush=True)


def median_cpu_ms(run: Callable[[], object]) -> float:
    spent = []
    for _ in range(REPEATS):
        started = time.process_time()
        run()
        spent.append(time.process_time() - started)
    return round(statistics.median(spent) * 1000, 2)


def in_fingerprint_order(row_text: bytes) -> dict[str, Any]:
    """The snapshot's document with its statements in fingerprint order, the raw rows' order."""
    document: dict[str, Any] = json.loads(row_text)
    document["statements"].sort(key=lambda statement: str(statement["fingerprint"]))
    return document


def columnar(document: dict[str, Any]) -> dict[str, Any]:
    """The same snapshot with its statements as one object of columns."""
    statements: list[dict[str, Any]] = document["statements"]
    names = [*StatementColumns.__struct_fields__]
    defaults = {"relations": [], "toplevel": True}
    columns = {
        name: [statement.get(name, defaults.get(name, 0)) for statement in statements] for name in names
    }
    return {**document, "statements": columns}


def decode_columns(decoder: msgspec.json.Decoder[Any], text: msgspec.Raw) -> Any:
    """The columns, with the checks decode_statements makes beyond msgspec's own: every column as
    long as the fingerprints, every fingerprint lowercase hex."""
    columns = decoder.decode(text)
    count = len(columns.fingerprint)
    if any(len(getattr(columns, name)) != count for name in columns.__struct_fields__):
        raise ValueError("statements: columns of different lengths")
    if not all_lowercase_hex(columns.fingerprint):
        raise ValueError("statements: a fingerprint is not lowercase hex")
    return columns


def copy_from_columns(columns: Any) -> bytes:
    """COPY data straight from the columns, each row's counters packed at once: they come in
    fingerprint order (as `bodies` sends them), the rows' order."""
    fingerprints: list[str] = columns.fingerprint
    if fingerprints != sorted(fingerprints):
        raise ValueError("the columns are not in fingerprint order")
    counters = zip(*(getattr(columns, name) for name, _, _ in COUNTER_TYPES), strict=True)
    return copy_rows(
        big_endian("q", [1] * len(fingerprints)),
        "".join(fingerprints).encode("ascii"),
        b"".join(starmap(COUNTER_ROW.pack, counters)),
    )


def measure(shape: str, body: bytes) -> dict[str, float]:
    text = decompress(body, "gzip", _LIMIT)
    statements = _MEMBERS.decode(text)["statements"]
    if shape == "rows":
        whole: Callable[[], object] = lambda: decode_statements(statements)  # noqa: E731
        counters: Callable[[], object] = lambda: decode_statement_counters(statements)  # noqa: E731
        decoded_rows = decode_statement_counters(statements)
        copy: Callable[[], object] = lambda: copy_data([decoded_rows])  # noqa: E731
    else:
        whole = lambda: decode_columns(_COLUMNS_WHOLE, statements)  # noqa: E731
        counters = lambda: decode_columns(_COLUMNS_COUNTERS, statements)  # noqa: E731
        decoded_columns = decode_columns(_COLUMNS_COUNTERS, statements)
        copy = lambda: copy_from_columns(decoded_columns)  # noqa: E731
    return {
        "body_gzip_kb": round(len(body) / 1024, 1),
        "body_kb": round(len(text) / 1024, 1),
        "inflate_ms": median_cpu_ms(lambda: decompress(body, "gzip", _LIMIT)),
        "split_ms": median_cpu_ms(lambda: _MEMBERS.decode(text)),
        "check_ms": median_cpu_ms(whole),
        "worker_ms": median_cpu_ms(counters),
        "copy_ms": median_cpu_ms(copy),
    }


def bodies() -> dict[str, bytes]:
    """One 5,000-statement snapshot, its statements in fingerprint order, as objects and as
    columns, each gzipped as the agent gzips."""
    sent = snapshot_body(build_workload(seed=0), random.Random(0), datetime.now(UTC))
    document = in_fingerprint_order(gzip.decompress(sent))
    return {
        shape: gzip.compress(json.dumps(shaped, separators=(",", ":")).encode(), _AGENT_GZIP_LEVEL, mtime=0)
        for shape, shaped in (("rows", document), ("columns", columnar(document)))
    }


def same_copy_data(shapes: dict[str, bytes]) -> int:
    """The COPY data both shapes give, which must be the same bytes (or the comparison is not of
    like with like); its size."""
    texts = {
        shape: _MEMBERS.decode(decompress(body, "gzip", _LIMIT))["statements"]
        for shape, body in shapes.items()
    }
    from_rows = copy_data([decode_statement_counters(texts["rows"])])
    if copy_from_columns(decode_columns(_COLUMNS_COUNTERS, texts["columns"])) != from_rows:
        raise RuntimeError("the two shapes' COPY data differ")
    return len(from_rows)


def main() -> list[dict[str, object]]:
    shapes = bodies()
    copy_bytes = same_copy_data(shapes)
    results = {shape: measure(shape, body) for shape, body in shapes.items()}
    for shape, figures in results.items():
        say(f"{shape}: {figures}")
    say(f"{STATEMENTS} statements; their COPY data {copy_bytes} bytes either way")
    return [
        {
            "name": f"statement_encoding_{shape}_{figure}",
            "value": value,
            "unit": "kB" if figure.endswith("_kb") else "ms",
            "budget": None,
        }
        for shape, figures in results.items()
        for figure, value in figures.items()
    ]


if __name__ == "__main__":
    print(json.dumps({"benchmarks": main()}, indent=2))
