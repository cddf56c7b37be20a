"""Pull the jobs for this database, verify each signature, run it, and answer every one of them.

A job that fails verification is never run, but it is answered with a `refused` result and the
reason (when its id can be read at all), so the control plane shows why instead of leasing it
forever. Verification happens before parsing: the body is trusted only once its bytes check out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

from pydantic import ValidationError

from agent.apply.lease_keeper import LeaseKeeper
from agent.config import ApplySettings
from agent.jobs.executor import JobExecutor
from agent.jobs.verification import JobRefused, JobVerifier
from agent.runner.signing_keys import SigningKeys
from agent.ship.errors import AuthenticationRejected, ControlPlaneUnavailable, ShipError
from agent.ship.transport import ControlPlaneClient
from shared.job_signing import peek_job_id
from shared.wire.jobs import JobBody, JobResult, JobsResponse, SignedJob

log = logging.getLogger("optischema.agent.jobs")

JOBS_PATH = "/agent/jobs"
# Jobs that change the database: they may run for hours, past the cycle's deadline, so they keep
# their lease alive while they run and answer with a fresh budget of their own.
CHANGE_KINDS = frozenset({"apply", "rollback"})
# Benchmarks on the sandbox run long too: an index build and, per statement served, warm-ups and
# 7 runs a side, up to OPTISCHEMA_BENCHMARK_TOTAL_BUDGET_S (300 s), longer than one 300 s lease.
LONG_RUNNING_KINDS = CHANGE_KINDS | {"benchmark_index"}


@dataclass
class JobRoundResult:
    done: int = 0
    refused: int = 0


class JobRound:
    def __init__(
        self,
        client: ControlPlaneClient,
        executor: JobExecutor,
        *,
        verifier: JobVerifier,
        keys: SigningKeys,
        max_jobs: int,
        lease_renew_interval_s: float = ApplySettings.lease_renew_interval_s,
    ) -> None:
        self._client = client
        self._lease_renew_interval_s = lease_renew_interval_s
        self._executor = executor
        self._verifier = verifier
        self._keys = keys
        self._max_jobs = max_jobs
        # Results whose delivery failed: resent first, and answered again if the job is re-leased
        # (running it twice is what the replay check exists to prevent).
        self._unsent: dict[UUID, JobResult] = {}

    def run(self, deadline: float | None) -> JobRoundResult:
        self._refresh_keys(deadline, force=False)  # pins at first contact, then follows rotations
        try:
            response = JobsResponse.model_validate(self._client.get_json(JOBS_PATH, deadline=deadline))
        except ValidationError as error:
            raise ShipError(f"the jobs response is malformed: {error.errors()[0]['msg']}") from None
        outcome = JobRoundResult()
        for unsent_id, result in list(self._unsent.items()):
            self._answer(unsent_id, result, deadline)
        for signed in response.jobs[: self._max_jobs]:
            job_id = peek_job_id(signed)
            if job_id is not None and job_id in self._unsent:
                self._answer(job_id, self._unsent[job_id], deadline)
                continue
            job = self._verified(signed, deadline)
            if isinstance(job, JobRefused):
                outcome.refused += 1
                self._answer_refusal(signed, job.reason, deadline)
                continue
            log.info("running job %s (%s)", job.id, job.kind)
            if job.kind in LONG_RUNNING_KINDS:
                self._answer(job.id, self._run_change(job), None)
            else:
                self._answer(job.id, self._executor.execute(job), deadline)
            outcome.done += 1
        return outcome

    def _run_change(self, job: JobBody) -> JobResult:
        """An apply, rollback or benchmark, outside the cycle's deadline, its lease renewed while it runs."""

        def renew(job_id: UUID, deadline: float | None) -> None:
            self._client.renew_lease(job_id, deadline=deadline)

        with LeaseKeeper(renew, job.id, self._lease_renew_interval_s):
            return self._executor.execute(job)

    def _refresh_keys(self, deadline: float | None, *, force: bool) -> None:
        try:
            self._keys.refresh(deadline, force=force)
        except (AuthenticationRejected, ControlPlaneUnavailable):
            raise
        except ShipError as error:
            # Jobs signed by keys already pinned still verify; the others are refused with a reason.
            log.warning("could not refresh the control plane's signing keys: %s", error)

    def _verified(self, signed: SignedJob, deadline: float | None) -> JobBody | JobRefused:
        if not self._keys.knows(signed.key_id):
            # Maybe the control plane rotated its key: adopt the new one if a pinned key vouches for it.
            self._refresh_keys(deadline, force=True)
        try:
            return self._verifier.verify(signed)
        except JobRefused as refusal:
            return refusal

    def _answer_refusal(self, signed: SignedJob, reason: str, deadline: float | None) -> None:
        job_id = peek_job_id(signed)  # the id the body claims: a refusal is safe to send to any id
        log.warning("refused job %s: %s", job_id or "<unreadable id>", reason)
        if job_id is not None:
            self._answer(
                job_id, JobResult(status="refused", error=f"refused by the agent: {reason}"), deadline
            )

    def _answer(self, job_id: UUID, result: JobResult, deadline: float | None) -> None:
        try:
            self._client.post_json(f"{JOBS_PATH}/{job_id}/result", result, deadline=deadline)
            self._unsent.pop(job_id, None)
        except AuthenticationRejected:
            raise
        except ControlPlaneUnavailable:
            self._unsent[job_id] = result
            raise
        except ShipError as error:
            self._unsent.pop(job_id, None)
            # A replayed or tampered id may not be ours to answer (404/409): said, not fatal.
            log.warning("the result of job %s was not accepted: %s", job_id, error)
