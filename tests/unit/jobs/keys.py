"""Signing keys and signed jobs as the control plane makes them, for the agent-side tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.job_signing import b64url_encode, key_id_for, raw_public_key, sign_job, sign_key_set
from shared.wire.jobs import JobBody, KeyStatus, PublishedKey, SignedJob, SigningKeySet

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DATABASE = uuid.UUID("00000000-0000-4000-8000-00000000d0d0")


@dataclass(frozen=True)
class Key:
    private: Ed25519PrivateKey

    @classmethod
    def new(cls) -> Key:
        return cls(Ed25519PrivateKey.generate())

    @property
    def public(self) -> bytes:
        return raw_public_key(self.private)

    @property
    def id(self) -> str:
        return key_id_for(self.public)

    def published(self, status: KeyStatus) -> PublishedKey:
        return PublishedKey(key_id=self.id, public_key=b64url_encode(self.public), status=status)


def body(**changes: Any) -> JobBody:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "database_id": DATABASE,
        "kind": "simulate_indexes",
        "issued_at": NOW,
        "expires_at": NOW + timedelta(minutes=5),
        "payload": {
            "candidates": [{"table": "public.orders", "columns": ["customer_id"]}],
            "fingerprints": ["0" * 16],
        },
        **changes,
    }
    return JobBody(**values)


def signed(key: Key, job: JobBody | None = None) -> SignedJob:
    return sign_job(key.private, key.id, job or body())


def key_set(signer: Key, keys: list[tuple[Key, KeyStatus]], issued_at: datetime = NOW) -> SigningKeySet:
    return sign_key_set(signer.private, signer.id, [key.published(status) for key, status in keys], issued_at)
