"""Configuration advice, only where the evidence is in the collected data (tier `advisory`)."""

from __future__ import annotations

import hashlib
import re

from shared.wire.advice import QueryEvidence, Recommendation
from shared.wire.snapshot import ServerInfo, StatementStats

BLOCK_BYTES = 8192
MIN_SPILL_SHARE = 0.05  # spilling statements must take at least this share of the workload's time
_SIZE = re.compile(r"^(\d+)(kB|MB|GB)?$")
_UNIT_KB = {None: 1, "kB": 1, "MB": 1024, "GB": 1024 * 1024}


def _kilobytes(setting: str | None) -> int | None:
    match = _SIZE.match(setting or "")
    if not match:
        return None
    value, unit = int(match.group(1)), match.group(2)
    return value * _UNIT_KB[unit]


def _size_text(kilobytes: int) -> str:
    return f"{kilobytes // 1024}MB" if kilobytes % 1024 == 0 else f"{kilobytes}kB"


def work_mem_findings(statements: list[StatementStats], server: ServerInfo) -> list[Recommendation]:
    spilling = [s for s in statements if s.temp_blks_written > 0 and s.calls > 0]
    total_time = sum(s.total_exec_time_ms for s in statements)
    spill_time = sum(s.total_exec_time_ms for s in spilling)
    current = _kilobytes(server.settings.get("work_mem"))
    if not spilling or total_time <= 0 or spill_time / total_time < MIN_SPILL_SHARE or current is None:
        return []
    spilled_mb = sum(s.temp_blks_written for s in spilling) * BLOCK_BYTES / 1_048_576
    per_call_kb = max(s.temp_blks_written / s.calls for s in spilling) * BLOCK_BYTES / 1024
    # Enough for the largest per-call spill, at least double, and never past 256MB per sort node.
    proposed = min(max(current * 2, int(per_call_kb * 1.5)), 256 * 1024)
    if proposed <= current:
        return []
    return [
        Recommendation(
            id=f"config:{hashlib.sha256(b'work_mem').hexdigest()[:16]}",
            kind="config",
            tier="advisory",
            sql=f"ALTER SYSTEM SET work_mem = '{_size_text(proposed)}'; SELECT pg_reload_conf();",
            rollback_sql="ALTER SYSTEM RESET work_mem; SELECT pg_reload_conf();",
            queries=[
                QueryEvidence(fingerprint=s.fingerprint, query=s.query, calls=s.calls)
                for s in sorted(spilling, key=lambda s: -s.total_exec_time_ms)[:5]
            ],
            rationale=(
                f"{len(spilling)} statement(s) taking {100 * spill_time / total_time:.0f}% of the workload's "
                f"time wrote {spilled_mb:.1f} MB to temporary files (sorts or hashes spilling) with work_mem = "
                f"{_size_text(current)}. work_mem applies per sort or hash node and per connection: weigh it "
                f"against max_connections = {server.settings.get('max_connections', '?')}, or set it only for "
                "the sessions that run these statements."
            ),
        )
    ]
