"""`pip install .` ships the dashboard: setuptools' build_py (what goes into the wheel) copies every
static file of control_plane/dashboard."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from control_plane.dashboard.routes import ASSETS, STATIC_DIR

REPO = Path(__file__).resolve().parents[3]
PACKAGED = ["agent", "shared", "control_plane", "migrations"]


def test_build_py_copies_the_dashboard_assets(tmp_path: Path) -> None:
    # A copy of the sources: building in the checkout would leave build/ and *.egg-info behind.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for package in PACKAGED:
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))

    built = subprocess.run(
        [
            sys.executable,
            "-c",
            "from setuptools import setup; setup()",
            "-q",
            "build_py",
            "-d",
            str(tmp_path / "lib"),
        ],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
    )

    assert built.returncode == 0, built.stderr
    shipped = {path.name for path in (tmp_path / "lib" / "control_plane" / "dashboard" / "static").iterdir()}
    assert shipped == {path.name for path in STATIC_DIR.iterdir()}
    assert set(ASSETS) <= shipped
