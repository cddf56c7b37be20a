"""Which job-signing keys this agent trusts: pinned once, then followed through signed key sets.

Trust starts in one of two ways:

* a public key from the agent's configuration (`--control-plane-public-key`): the root of trust is
  what the operator said, and nothing is ever trusted on first use;
* otherwise, trust on first use: the first key set fetched from the control plane is pinned as it
  is (self-signed by its active key). Someone able to impersonate the control plane at that very
  moment could pin their own key; configuring the key closes that window.

After that, a key set is adopted only when a key already pinned as `active` or `next` signed it and
it is no older than the one held, so a rotation (the control plane publishes its `next` key, signed
by the active one, before using it) is followed without a gap, while an old set cannot be replayed
to bring back a retired key. Jobs verify against any key in the held set, retired ones included:
a job signed just before a rotation is still good until it expires.

The pinned set lives in the spool directory as `control_plane_keys.json`, written atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

from agent.state.atomic_file import write_json_atomically
from shared.job_signing import b64url_decode, b64url_encode, key_id_for, verify_key_set
from shared.wire.jobs import KeyStatus, SigningKeySet

KEYS_FILE = "control_plane_keys.json"
KEYS_FORMAT = 1
_STATUSES = frozenset(get_args(KeyStatus))


class UntrustedKeySet(Exception):
    """A key set this agent will not adopt; the keys it holds stay as they were."""


@dataclass(frozen=True)
class PinnedKey:
    key_id: str
    public_key: bytes
    status: KeyStatus


def parse_public_key(text: str) -> bytes:
    """`--control-plane-public-key`: the raw 32-byte Ed25519 key in base64url, as
    `optischema-admin signing-keys` and /agent/signing-keys print it (standard base64 works too)."""
    cleaned = text.strip().replace("+", "-").replace("/", "_")
    raw = b64url_decode(cleaned)
    if len(raw) != 32:
        raise ValueError(f"the control plane's public key must be 32 bytes, not {len(raw)}")
    return raw


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _keys_of(key_set: SigningKeySet) -> dict[str, PinnedKey]:
    keys: dict[str, PinnedKey] = {}
    for published in key_set.keys:
        try:
            public = b64url_decode(published.public_key)
        except ValueError:
            raise UntrustedKeySet(f"key {published.key_id} is not base64url") from None
        # Key ids are computed, never chosen: a set cannot give a known id to an unknown key.
        if key_id_for(public) != published.key_id:
            raise UntrustedKeySet(f"key {published.key_id} does not match its public key")
        keys[published.key_id] = PinnedKey(published.key_id, public, published.status)
    if [key.status for key in keys.values()].count("active") != 1:
        raise UntrustedKeySet("a key set must have exactly one active key")
    signer = keys.get(key_set.signed_by)
    if signer is None or signer.status != "active":
        raise UntrustedKeySet("a key set must be signed by its own active key")
    return keys


class PinnedKeys:
    def __init__(
        self,
        path: Path,
        keys: dict[str, PinnedKey],
        *,
        issued_at: datetime | None = None,
        root_key_id: str | None = None,
        damaged: bool = False,
    ) -> None:
        self._path = path
        self._keys = dict(keys)
        self._issued_at = issued_at
        self._root_key_id = root_key_id  # the configured key this trust descends from, if any
        self._damaged = damaged

    @classmethod
    def load(cls, spool_dir: Path, configured_public_key: bytes | None = None) -> PinnedKeys:
        """The held keys; with a configured key, trust restarts from it unless the file descends from it."""
        path = spool_dir / KEYS_FILE
        try:
            stored = _read(path)
        except _Damaged:
            if configured_public_key is None:
                # Never fall back to trusting on first use because a file went bad.
                return cls(path, {}, damaged=True)
            stored = None
        if configured_public_key is None:
            return stored or cls(path, {})
        if len(configured_public_key) != 32:
            raise ValueError("the control plane's public key must be a raw 32-byte Ed25519 key")
        root = key_id_for(configured_public_key)
        if stored is not None and stored._root_key_id == root:
            return stored
        pinned = cls(path, {root: PinnedKey(root, configured_public_key, "active")}, root_key_id=root)
        pinned.save()
        return pinned

    @property
    def trusts_first_use(self) -> bool:
        """True until a key is pinned, and never when a key was configured."""
        return not self._keys and self._root_key_id is None and not self._damaged

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def public_key(self, key_id: str) -> bytes | None:
        key = self._keys.get(key_id)
        return None if key is None else key.public_key

    def update_from(self, key_set: SigningKeySet) -> bool:
        """Adopts `key_set` if it can be trusted; True when the held keys changed.

        Raises UntrustedKeySet when it cannot: signed by no pinned key, older than the held set, or
        malformed. First use (nothing pinned, nothing configured) pins a self-consistent set as is.
        """
        if self._damaged:
            raise UntrustedKeySet(
                f"{self._path} cannot be read; remove it to pin the control plane's keys again"
            )
        keys = _keys_of(key_set)
        issued_at = _utc(key_set.issued_at)
        if self.trusts_first_use:
            verifying_key = keys[key_set.signed_by].public_key
        else:
            signer = self._keys.get(key_set.signed_by)
            if signer is None or signer.status == "retired":
                raise UntrustedKeySet(
                    f"the key set is signed by {key_set.signed_by}, which this agent has not pinned "
                    "(it was offline for a whole rotation, or this is not our control plane); "
                    "configure --control-plane-public-key or remove the pinned keys file to re-pin"
                )
            if self._issued_at is not None and issued_at < self._issued_at:
                raise UntrustedKeySet("the key set is older than the one this agent holds")
            verifying_key = signer.public_key  # the pinned bytes, not whatever the set claims
        if not verify_key_set(verifying_key, key_set):
            raise UntrustedKeySet("the key set's signature does not verify")
        changed = keys != self._keys
        self._keys, self._issued_at = keys, issued_at
        self.save()
        return changed

    def save(self) -> None:
        document: dict[str, Any] = {
            "format": KEYS_FORMAT,
            "root_key_id": self._root_key_id,
            "issued_at": self._issued_at.isoformat() if self._issued_at else None,
            "keys": [
                {"key_id": k.key_id, "public_key": b64url_encode(k.public_key), "status": k.status}
                for k in self._keys.values()
            ],
        }
        write_json_atomically(self._path, document)


class _Damaged(Exception):
    pass


def _read(path: Path) -> PinnedKeys | None:
    """The stored keys, None when there is no file; _Damaged when there is one we cannot trust."""
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        raise _Damaged() from None
    try:
        if document["format"] != KEYS_FORMAT:
            raise _Damaged()
        keys = {}
        for entry in document["keys"]:
            public = b64url_decode(entry["public_key"])
            if entry["status"] not in _STATUSES or key_id_for(public) != entry["key_id"]:
                raise _Damaged()
            keys[entry["key_id"]] = PinnedKey(entry["key_id"], public, entry["status"])
        issued_at = _utc(datetime.fromisoformat(document["issued_at"])) if document["issued_at"] else None
        root = document["root_key_id"]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise _Damaged() from None
    return PinnedKeys(path, keys, issued_at=issued_at, root_key_id=str(root) if root else None)
