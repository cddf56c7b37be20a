"""Writing a file so that a crash leaves the old version or the new one, never half of one.

Temp file in the same directory, fsync, rename, then fsync the directory so the rename itself
survives a power loss. Every file the agent keeps across restarts (collector baseline, spool,
pinned keys, replay store) is written through here.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def fsync_directory(directory: Path) -> None:
    # Some filesystems cannot open a directory; then the rename is as durable as it gets.
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def write_bytes_atomically(path: Path, data: bytes, *, temp_prefix: str | None = None) -> None:
    """`temp_prefix` names the temp file, so a directory's owner can sweep leftovers of a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=temp_prefix or f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def write_json_atomically(path: Path, document: object) -> None:
    write_bytes_atomically(path, json.dumps(document, separators=(",", ":")).encode())
