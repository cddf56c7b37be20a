"""What the fault suite promises, judged on its accounting: one list, for the test and `make soak`."""

from __future__ import annotations

from tests.soak.harness import SoakAccounting, SoakPlan


def broken_promises(accounting: SoakAccounting, plan: SoakPlan) -> list[str]:
    broken: list[str] = []
    if accounting.executions == 0:
        broken.append("the workload never ran")
    if accounting.counted != accounting.executions:
        broken.append(
            f"{accounting.executions} executions, {accounting.counted} counted by the control plane"
        )
    if accounting.server_errors:
        broken.append(f"{accounting.server_errors} answers were 5xx other than 503 with Retry-After")
    if accounting.statuses.get("hang"):
        broken.append(f"{accounting.statuses['hang']} requests hung")
    if accounting.statuses.get("503", 0) == 0:
        broken.append("no 503 was seen while the metadata database was away")
    if accounting.readyz_lies:
        broken.append(f"/readyz contradicted the truth {len(accounting.readyz_lies)} times")
    if accounting.agent_exits_on_its_own:
        broken.append(f"the agent exited on its own with {accounting.agent_exits_on_its_own}")
    if accounting.rss_growth_mb > plan.max_agent_rss_growth_mb:
        broken.append(f"the agent's memory grew by {accounting.rss_growth_mb:.0f} MB")
    return broken
