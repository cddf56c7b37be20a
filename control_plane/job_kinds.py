"""Every job kind the control plane queues, registered with the job queue once at start-up.

The one place that knows which domains queue jobs: create_app (the API) and the workers-only process
(control_plane.server) both call `register_job_kinds`, so control_plane.jobs itself imports none of
them (tests/unit/control_plane/test_jobs_imports_no_domain.py).
"""

from __future__ import annotations

from control_plane.analysis.proof import register_simulation_jobs
from control_plane.benchmarks.service import register_benchmark_jobs
from control_plane.changes.job_handlers import register_change_jobs
from control_plane.jobs.handlers import JobKinds, job_kinds


def register_job_kinds(kinds: JobKinds = job_kinds) -> JobKinds:
    """Idempotent: registering the same handlers again changes nothing."""
    register_simulation_jobs(kinds)
    register_change_jobs(kinds)
    register_benchmark_jobs(kinds)
    return kinds
