"""The privacy key: the HMAC key behind every pseudonym. It never leaves the agent.

Given as OPTISCHEMA_PRIVACY_KEY, or generated once and kept in the agent's state dir (0600, like the
spool). Losing the stored key changes every pseudonym: the control plane then sees new names, and
recommendations made under the old ones can no longer be mapped back (the agent refuses their jobs).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_FILE = Path("privacy") / "key"
# 32 random bytes: the HMAC-SHA256 block of security, as hex so that the file is printable.
_KEY_BYTES = 32
_MIN_CONFIGURED_CHARS = 16


class PrivacyKeyError(Exception):
    """The configured or stored key cannot be used."""


def load_or_create_key(state_dir: Path, configured: str | None) -> bytes:
    if configured is not None:
        if len(configured) < _MIN_CONFIGURED_CHARS:
            raise PrivacyKeyError(
                f"OPTISCHEMA_PRIVACY_KEY must have at least {_MIN_CONFIGURED_CHARS} characters"
            )
        return configured.encode()
    path = state_dir / KEY_FILE
    if path.exists():
        stored = path.read_text().strip()
        if len(stored) < _MIN_CONFIGURED_CHARS:
            raise PrivacyKeyError(f"the stored privacy key {path} is damaged")
        return stored.encode()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    generated = secrets.token_hex(_KEY_BYTES)
    # O_EXCL: two agents starting at once on one state dir keep the first key, never a mix.
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_or_create_key(state_dir, None)
    with os.fdopen(descriptor, "w") as file:
        file.write(generated + "\n")
    return generated.encode()
