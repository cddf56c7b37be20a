"""Jobs the control plane hands to an agent, the answers it gets back, and the keys that sign them.

A job travels as a `SignedJob`: the exact JSON text of its `JobBody` and an Ed25519 signature over
those bytes. Signing the text the agent receives, rather than a re-serialization of a parsed model,
leaves nothing to canonicalize: the agent verifies the bytes first and only then parses them.

The public keys are published as a `SigningKeySet` signed by the active key, so an agent that has
pinned one key can adopt the next one before it is used (see `shared.job_signing`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field

from shared.wire.advice import BenchmarkEvidence
from shared.wire.base import Fingerprint, NonNegativeInt, WireModel

JobKind = Literal["simulate_indexes", "judge_rewrite", "apply", "rollback", "benchmark_index"]
JOB_KINDS: tuple[JobKind, ...] = ("simulate_indexes", "judge_rewrite", "apply", "rollback", "benchmark_index")
JobOutcome = Literal["succeeded", "failed", "refused"]
KeyStatus = Literal["active", "next", "retired"]

MAX_CANDIDATES = 50
MAX_FINGERPRINTS = 200
MAX_ERROR_LENGTH = 4000

Base64Url = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]*$", max_length=512)]
KeyId = Annotated[str, Field(min_length=1, max_length=64)]
ColumnKey = Annotated[str, Field(min_length=1, max_length=500)]
ErrorText = Annotated[str, Field(max_length=MAX_ERROR_LENGTH)]


class SignedJob(WireModel):
    key_id: KeyId
    body: str = Field(max_length=1_000_000, description="The exact JSON text of a JobBody that was signed")
    signature: Base64Url = Field(description="base64url (unpadded) Ed25519 signature over body.encode()")


class JobBody(WireModel):
    id: UUID
    database_id: UUID = Field(
        description="The monitored database the job is for; the agent checks it is its own"
    )
    kind: JobKind
    attempt: int = Field(
        default=1,
        ge=1,
        description="Which lease of the job this is: a job re-leased after a lost lease is signed anew",
    )
    issued_at: datetime
    expires_at: datetime
    payload: dict[str, Any] = Field(description="One of the *Payload models below, by kind")


class CandidateIndexSpec(WireModel):
    table: str = Field(pattern=r"^[^.]+\..+$", max_length=300, description="schema.table")
    columns: list[ColumnKey] = Field(
        min_length=1,
        max_length=32,
        description="Key columns in order, or expression keys such as lower(email)",
    )
    where: str | None = Field(default=None, max_length=2000, description="Predicate of a partial index")
    using: str = Field(default="btree", pattern=r"^[a-z][a-z0-9_]*$", max_length=63)


class SimulateIndexesPayload(WireModel):
    candidates: list[CandidateIndexSpec] = Field(min_length=1, max_length=MAX_CANDIDATES)
    fingerprints: list[Fingerprint] = Field(min_length=1, max_length=MAX_FINGERPRINTS)


class JudgeRewritePayload(WireModel):
    fingerprint: Fingerprint
    rewritten_sql: str = Field(min_length=1, max_length=100_000)


class BenchmarkIndexPayload(WireModel):
    """A verified candidate index to build on the agent's sandbox and time (issue 16).

    `sql` must be exactly the CREATE INDEX the agent's own advisor writes for `table` and `columns`
    (shared.sql.index_ddl); the agent rebuilds it from them and refuses any other text.
    """

    recommendation_id: UUID
    sql: str = Field(min_length=1, max_length=20_000)
    table: str = Field(pattern=r"^[^.]+\..+$", max_length=300, description="schema.table")
    columns: list[ColumnKey] = Field(min_length=1, max_length=32)
    fingerprints: list[Fingerprint] = Field(min_length=1, max_length=MAX_FINGERPRINTS)


class NotTimed(WireModel):
    fingerprint: Fingerprint
    reason: ErrorText = Field(description="Why it was not timed; never a sampled value")


class BenchmarkIndexResult(WireModel):
    """What the sandbox measured: sizes, build time and latencies only, never a value bound to a run."""

    benchmark: BenchmarkEvidence
    not_timed: list[NotTimed] = Field(default_factory=list, max_length=MAX_FINGERPRINTS)


class JobResult(WireModel):
    """What the agent posts to /agent/jobs/{id}/result: exactly one answer per job."""

    status: JobOutcome = Field(
        description="'refused': the agent would not run it (bad signature, expired, unknown kind, not allowed)"
    )
    error: ErrorText | None = None
    result: dict[str, Any] | None = Field(default=None, description="A *Result model below, by kind")


class StatementCost(WireModel):
    fingerprint: Fingerprint
    cost_before: float | None = None
    cost_after: float | None = None
    error: ErrorText | None = Field(default=None, description="Why this statement could not be costed")


class IndexEstimate(CandidateIndexSpec):
    size_bytes: NonNegativeInt | None = Field(default=None, description="HypoPG's size estimate")
    error: ErrorText | None = Field(default=None, description="Why HypoPG could not create it")


class SimulateIndexesResult(WireModel):
    statements: list[StatementCost]
    improvement_pct: float | None = Field(
        default=None, description="Cut of the statements' summed cost with every candidate in place"
    )
    indexes: list[IndexEstimate] = Field(default_factory=list)


class JudgeRewriteResult(WireModel):
    fingerprint: Fingerprint
    accepted: bool = False
    cost_before: float | None = None
    cost_after: float | None = None
    improvement_pct: float | None = None
    reason: str | None = Field(default=None, max_length=MAX_ERROR_LENGTH, description="The judge's verdict")
    error: ErrorText | None = None


class ChangePayload(WireModel):
    """An approved change for the agent to make (`apply`) or undo (`rollback`).

    `sql` is exactly one statement. The signature proves who sent it, not that it is safe: the agent
    parses it and runs it only when its own allow-list (`shared.sql.ddl_allow_list`) admits it.
    """

    recommendation_id: UUID
    sql: str = Field(min_length=1, max_length=20_000)
    table: str | None = Field(default=None, pattern=r"^[^.]+\..+$", max_length=300)
    index_name: str | None = Field(default=None, max_length=63)
    estimated_size_bytes: NonNegativeInt | None = Field(
        default=None, description="HypoPG's estimate, for the free-disk preflight"
    )


ChangeOutcome = Literal["applied", "already_applied", "rolled_back", "already_absent"]


class ChangeResult(WireModel):
    """A change the agent made, or found already made in the catalog (idempotent re-runs)."""

    outcome: ChangeOutcome
    index_name: str | None = None
    index_valid: bool | None = None
    index_size_bytes: NonNegativeInt | None = None
    duration_s: float = Field(ge=0)
    lock_retries: NonNegativeInt = 0
    warnings: list[Annotated[str, Field(max_length=1000)]] = Field(default_factory=list, max_length=20)
    finished_at: datetime


class LeaseRenewal(WireModel):
    """The control plane's answer to `POST /agent/jobs/{id}/lease`: a long apply keeps its job."""

    job_id: UUID
    lease_expires_at: datetime


class JobsResponse(WireModel):
    jobs: list[SignedJob]


class PublishedKey(WireModel):
    key_id: KeyId
    public_key: Base64Url = Field(description="base64url (unpadded) of the raw 32-byte Ed25519 public key")
    status: KeyStatus


class SigningKeySet(WireModel):
    """The control plane's job-signing keys, signed by its active key over `key_set_message`.

    `issued_at` is signed too: an agent adopts a set only when it is newer than the one it holds,
    so an old set (still listing a key since retired) cannot be replayed to it.
    """

    keys: list[PublishedKey] = Field(min_length=1, max_length=16)
    issued_at: datetime
    signed_by: KeyId
    signature: Base64Url
