"""The job queue knows kinds only through the handlers domains register (issue 16, must-show 3).

Walks every module under control_plane/jobs/ and fails on an import of a control_plane package that
is not infrastructure the queue may stand on. A domain that queues jobs (analysis, changes, and
whatever comes next) registers a JobKindHandler at start-up instead (control_plane.job_kinds).
"""

from __future__ import annotations

import ast
import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

import control_plane.jobs
from control_plane.app import create_app
from control_plane.job_kinds import register_job_kinds
from control_plane.jobs.handlers import JobKinds, UnknownJobKind, job_kinds
from control_plane.jobs.outcomes import settle_job_outcome
from control_plane.jobs.service import InvalidJobResult, checked_result, enqueue_job
from control_plane.models import AgentJob
from control_plane.settings import Settings
from shared.wire.jobs import JOB_KINDS, ChangePayload, JobResult

# What the queue may import, and why each is infrastructure rather than a domain:
ALLOWED = {
    "jobs",  # itself
    "models",  # the agent_jobs table
    "db",  # sessions and engines
    "tenancy",  # TenantContext: every query is tenant-scoped
    "settings",  # lease, expiry and attempt limits
    "signing",  # jobs leave signed
    "api",  # HTTP errors and the app's services (the endpoints)
    "auth",  # who is calling: the agent's and people's sessions, permissions
    "edges",  # rate limits on the endpoints
    "databases",  # the monitored-database registry each job belongs to (another tenant's is a 404)
}
JOBS_DIR = Path(control_plane.jobs.__file__).parent


def control_plane_imports(source: str) -> list[tuple[int, str]]:
    """(line, first package under control_plane) of every import of control_plane.<package>."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "control_plane":  # from control_plane import analysis
                names = [f"control_plane.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "control_plane" and len(parts) > 1:
                found.append((node.lineno, parts[1]))
    return found


def test_the_walk_sees_a_domain_import() -> None:
    source = "from control_plane.changes.outcomes import x\nimport control_plane.analysis.proof\n"
    assert control_plane_imports(source) == [(1, "changes"), (2, "analysis")]


def test_no_module_under_jobs_imports_a_domain() -> None:
    modules = sorted(JOBS_DIR.rglob("*.py"))
    assert len(modules) >= 5  # endpoints, handlers, outcomes, repository, schemas, service
    offending = [
        f"{module.relative_to(JOBS_DIR.parent.parent)}:{line} imports control_plane.{package}"
        for module in modules
        for line, package in control_plane_imports(module.read_text())
        if package not in ALLOWED
    ]
    assert offending == []


def test_every_wire_job_kind_has_a_registered_handler() -> None:
    kinds = register_job_kinds(JobKinds())
    assert sorted(kinds.kinds()) == sorted(JOB_KINDS)
    assert sorted(kinds.held_by_maintenance_window()) == ["apply", "rollback"]
    # Registering again (API and workers in one process) changes nothing.
    register_job_kinds(kinds)
    assert sorted(kinds.kinds()) == sorted(JOB_KINDS)


def test_an_unregistered_kind_is_refused_by_name_before_anything_is_written() -> None:
    empty = JobKinds()
    payload = ChangePayload(recommendation_id=uuid.uuid4(), sql="DROP INDEX CONCURRENTLY public.i")
    with pytest.raises(UnknownJobKind, match="no handler is registered for job kind 'apply'"):
        asyncio.run(
            enqueue_job(
                None,  # type: ignore[arg-type]  # refused before the session is touched
                None,  # type: ignore[arg-type]
                uuid.uuid4(),
                "apply",
                payload,
                expires_in=timedelta(minutes=5),
                max_attempts=1,
                kinds=empty,
            )
        )


def test_an_answer_to_an_unregistered_kind_is_an_invalid_result_not_a_key_error() -> None:
    # InvalidJobResult is the endpoint's 422 with this message (control_plane.jobs.endpoints).
    answer = JobResult(status="succeeded", result={})
    with pytest.raises(InvalidJobResult, match="no handler is registered for job kind 'benchmark_index'"):
        checked_result("benchmark_index", answer, JobKinds())


def test_a_finished_job_of_an_unregistered_kind_settles_without_consequences() -> None:
    # Lease leaves such jobs queued (it asks only for registered kinds) until settle_stale expires
    # them; settling one then must not fail the agent's lease with a 500.
    job = AgentJob(
        id=uuid.uuid4(), kind="apply", status="expired", error="expired before the agent answered it"
    )
    asyncio.run(settle_job_outcome(None, None, job, JobKinds()))  # type: ignore[arg-type]


def test_the_process_registry_is_filled_by_the_app_factory() -> None:
    create_app(Settings(metadata_url="postgresql://localhost/x", env="development"))
    assert sorted(job_kinds.kinds()) == sorted(JOB_KINDS)
