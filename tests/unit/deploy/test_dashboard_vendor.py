"""The dashboard's third-party files are the pinned npm releases, shipped with their licenses."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile

import pytest

from control_plane.dashboard.routes import ASSETS, STATIC_DIR
from deploy.dashboard_vendor import check_integrity, read_manifest


def test_every_vendored_file_is_the_copy_the_manifest_pinned() -> None:
    for package in read_manifest().packages:
        assert set(package.sha256) == set(package.files.values())
        for name, digest in package.sha256.items():
            assert hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest() == digest, name


def test_every_vendored_package_ships_its_license_and_is_served() -> None:
    for package in read_manifest().packages:
        licenses = [name for name in package.files.values() if "LICENSE" in name]
        assert licenses, f"{package.name} ships no license"
        for name in package.files.values():
            assert name in ASSETS, f"{name} is not served"
        assert package.license in ASSETS[licenses[0]].body.decode()


def _tarball() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("package/LICENSE")
        info.size = 3
        archive.addfile(info, io.BytesIO(b"MIT"))
    return buffer.getvalue()


def test_a_tarball_that_is_not_the_pinned_one_is_refused() -> None:
    tarball = _tarball()
    pinned = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    check_integrity(tarball, pinned)
    with pytest.raises(SystemExit, match="is not the pinned"):
        check_integrity(tarball + b"x", pinned)
