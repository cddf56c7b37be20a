"""The request an LLM gets about one statement: anonymized context in, structured JSON out.

The context is the statement's structural document (text with $n placeholders, plan summary,
tables with row estimates, sizes, column types and n_distinct, existing indexes, relevant settings)
plus its workload figures. Every expression passed through `scrub_literals` on the way, so the
request carries no value from the customer's data even if something upstream let one through.
"""

from __future__ import annotations

import json

from control_plane.analysis.context import StatementContext
from control_plane.analysis.llm.provider import LLMRequest

SYSTEM_PROMPT = """You are a PostgreSQL performance expert. You receive one SQL statement (literals are \
replaced by $n placeholders), its workload figures, its estimated plan, the tables it touches (row \
estimates, sizes, columns with types and n_distinct, existing indexes) and the relevant server settings.

Reply with one JSON object only, no prose, in exactly this shape:
{"explanation": "two to four plain-English sentences on why the statement costs what it does",
 "suggestions": [{"kind": "create_index" | "rewrite" | "config" | "advisory",
                  "table": "schema.table or null",
                  "columns": ["column", ...],
                  "sql": "for rewrite: the full rewritten SELECT using the same $n placeholders; for config: a SET statement; else null",
                  "rationale": "one or two sentences a person can check",
                  "confidence": 0.0 to 1.0,
                  "risk": "low" | "medium" | "high"}]}

Rules: name only tables and columns given in the context. Indexes are create_index with table and \
columns (no other DDL). A rewrite must be a single read-only SELECT returning the same rows. Never \
suggest dropping, truncating or altering anything. An empty suggestions list is a fine answer."""

MAX_OUTPUT_TOKENS = 2048


def request_document(context: StatementContext) -> dict[str, object]:
    workload = context.workload
    return {
        **context.structural_document(),
        "workload": {
            "calls": workload.calls,
            "mean_ms": round(workload.mean_ms, 3),
            "total_ms": round(workload.total_ms, 1),
            "share_of_load_pct": round(workload.load_pct, 2),
            "rows": workload.rows,
            "temp_blocks_read": workload.temp_blks_read,
            "temp_blocks_written": workload.temp_blks_written,
            "shared_blocks_hit": workload.shared_blks_hit,
            "shared_blocks_read": workload.shared_blks_read,
        },
    }


def build_request(context: StatementContext) -> LLMRequest:
    document = json.dumps(request_document(context), indent=1, sort_keys=True)
    return LLMRequest(
        system=SYSTEM_PROMPT,
        user=f"Analyse this statement and answer in JSON.\n{document}",
        max_output_tokens=MAX_OUTPUT_TOKENS,
    )
