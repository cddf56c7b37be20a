"""Verifying a job before anything runs it: pinned key, signature, freshness, database, no replay.

The order matters. The signature is checked over the exact bytes received before the body is even
parsed, so nothing an attacker wrote is interpreted; only then are the (now trusted) times, the
database and the id looked at. Times get a little leeway both ways for clock skew between the
control plane and this host.

A replay is the same signed lease seen twice: the store remembers `id:attempt` until the job's
expiry (plus leeway), after which the expiry check refuses it anyway, so the store stays small.
A job the control plane leases again after a lost lease is a new attempt, signed anew, and runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from pydantic import ValidationError

from agent.jobs.trust import PinnedKeys
from agent.state.atomic_file import write_json_atomically
from shared.job_signing import load_job, peek_job_id, verify_signature
from shared.wire.jobs import JobBody, SignedJob

REPLAY_FILE = "seen_jobs.json"
DEFAULT_LEEWAY = timedelta(seconds=30)


class JobRefused(Exception):
    """The job must not run. `job_id` is the id its body claims (unverified when the signature
    failed), so that the agent can still answer it with a `refused` result."""

    def __init__(self, reason: str, job_id: UUID | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.job_id = job_id


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class ReplayStore:
    """Signed leases already seen, each until it expires; kept in the spool dir across restarts."""

    def __init__(self, path: Path, seen: dict[str, datetime] | None = None) -> None:
        self._path = path
        self._seen = dict(seen or {})

    @classmethod
    def load(cls, spool_dir: Path) -> ReplayStore:
        path = spool_dir / REPLAY_FILE
        try:
            document = json.loads(path.read_text())
            seen = {str(key): _utc(datetime.fromisoformat(until)) for key, until in document["seen"].items()}
        except FileNotFoundError:
            seen = {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            # Losing the memory of seen jobs only reopens replays of jobs that have not expired
            # yet, minutes at most; refusing every job until a person intervenes would be worse.
            seen = {}
        return cls(path, seen)

    def __len__(self) -> int:
        return len(self._seen)

    def seen(self, key: str) -> bool:
        return key in self._seen

    def remember(self, key: str, until: datetime, now: datetime) -> None:
        """Records `key` until `until` and forgets entries past their time; persisted before returning."""
        self._seen = {k: t for k, t in self._seen.items() if t >= now}
        self._seen[key] = _utc(until)
        write_json_atomically(self._path, {"seen": {k: t.isoformat() for k, t in sorted(self._seen.items())}})


class JobVerifier:
    def __init__(
        self,
        pinned: PinnedKeys,
        replay_store: ReplayStore,
        *,
        database_id: UUID | None,
        leeway: timedelta = DEFAULT_LEEWAY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pinned = pinned
        self._replays = replay_store
        self._database_id = database_id  # None: not known yet, so not checked
        self._leeway = leeway
        self._clock = clock

    def verify(self, signed: SignedJob) -> JobBody:
        """The job's body, once it is proven to be ours, fresh, for this database and new."""
        claimed_id = peek_job_id(signed)
        public_key = self._pinned.public_key(signed.key_id)
        if public_key is None:
            raise JobRefused(f"signed with key {signed.key_id}, which this agent has not pinned", claimed_id)
        if not verify_signature(public_key, signed):
            raise JobRefused("the signature does not verify: the job is unsigned or was altered", claimed_id)
        try:
            body = load_job(signed)
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise JobRefused(f"the job does not parse ({where}: {problem['msg']})", claimed_id) from None
        now = _utc(self._clock())
        issued_at, expires_at = _utc(body.issued_at), _utc(body.expires_at)
        if expires_at + self._leeway < now:
            raise JobRefused(f"the job expired at {expires_at.isoformat()}", body.id)
        if issued_at - self._leeway > now:
            raise JobRefused(f"the job is issued in the future ({issued_at.isoformat()})", body.id)
        if expires_at < issued_at:
            raise JobRefused("the job expires before it was issued", body.id)
        if self._database_id is not None and body.database_id != self._database_id:
            raise JobRefused(f"the job is for database {body.database_id}, not this agent's", body.id)
        replay_key = f"{body.id}:{body.attempt}"
        if self._replays.seen(replay_key):
            raise JobRefused(
                f"job {body.id} (attempt {body.attempt}) was already received: a replay", body.id
            )
        self._replays.remember(replay_key, expires_at + self._leeway, now)
        return body
