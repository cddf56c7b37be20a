"""The default, human-readable form of an advice report."""

from __future__ import annotations

import textwrap

from shared.wire.advice import AdviceReport, Recommendation

WIDTH = 100


def _wrap(text: str, indent: str = "    ", first: str | None = None) -> str:
    return textwrap.fill(text, width=WIDTH, initial_indent=first or indent, subsequent_indent=indent)


def _recommendation(number: int, item: Recommendation) -> list[str]:
    gain = f"  -{item.improvement_pct:g}% cost" if item.improvement_pct is not None else ""
    lines = [f"{number}. [{item.tier}] {item.kind}{' on ' + item.table if item.table else ''}{gain}"]
    lines.append(f"    {item.sql}")
    if item.rollback_sql:
        lines.append(f"    rollback: {item.rollback_sql}")
    lines.append(_wrap(item.rationale))
    for query in item.queries[:5]:
        cost = ""
        if query.cost_before is not None and query.cost_after is not None:
            cost = f"cost {query.cost_before:g} -> {query.cost_after:g}, "
        lines.append(
            # Continuation lines under the text, not as bullets of their own.
            _wrap(f"{cost}{query.calls} calls: {query.query}", indent="      ", first="    - ")
        )
    return lines


def render_text(report: AdviceReport) -> str:
    lines = [
        f"PostgreSQL {report.server_version}; HypoPG {'available' if report.hypopg else 'NOT installed'}; "
        f"{report.statements_analyzed} statements analyzed.",
        "",
    ]
    if not report.hypopg:
        lines += [
            "Index ideas below are advisory only: install HypoPG to have them verified.",
            "",
        ]
    if report.recommendations:
        lines.append(f"Recommendations ({len(report.recommendations)}):")
        for number, item in enumerate(report.recommendations, start=1):
            lines += _recommendation(number, item)
            lines.append("")
    else:
        lines += ["No recommendations: nothing passed the bar of evidence.", ""]
    if report.skipped:
        lines.append(f"Not recommended ({len(report.skipped)}):")
        for skipped in report.skipped:
            lines.append(
                _wrap(
                    f"{skipped.query or skipped.fingerprint or '(statements the agent does not keep)'}",
                    indent="    ",
                    first="  - ",
                )
            )
            lines.append(_wrap(f"why: {skipped.reason}", indent="      "))
    for bound in report.bounds_hit:
        lines.append(f"Search bound hit: {bound}")
    return "\n".join(lines).rstrip() + "\n"
