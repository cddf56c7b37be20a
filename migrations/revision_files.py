"""An earlier revision's module, for a later one that builds on its code (a revision never changes
once released, so its functions still write the text they wrote then)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

VERSIONS = Path(__file__).with_name("versions")


def load_revision(filename: str) -> ModuleType:
    """The revision in `versions/<filename>`, loaded afresh (revision files are not importable by
    name: they start with a digit)."""
    spec = importlib.util.spec_from_file_location(f"optischema_revision_{filename[:4]}", VERSIONS / filename)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
