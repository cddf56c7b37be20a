"""Recommendation ids: stable across runs for the same change, so the control plane can track it."""

from __future__ import annotations

import hashlib


def recommendation_id(kind: str, key: str) -> str:
    return f"{kind}:{hashlib.sha256(key.encode()).hexdigest()[:16]}"
