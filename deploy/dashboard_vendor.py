"""Copies the dashboard's third-party files from the npm registry into its static folder.

control_plane/dashboard/vendor.json pins each package (version, tarball, the registry's sha512
`integrity`) and names the files to take. The tarball is refused unless its digest matches, so a
changed or substituted upload never reaches the dashboard; the copies' sha256 are written back into
vendor.json, which the unit tests check against the committed files. The files are committed: the
control plane serves them itself and needs no network, npm or build step at run time.

Run after changing a pin: python -m deploy.dashboard_vendor
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

from pydantic import BaseModel

from control_plane.dashboard.routes import STATIC_DIR

MANIFEST = STATIC_DIR.parent / "vendor.json"
DOWNLOAD_TIMEOUT_S = 60


class VendoredPackage(BaseModel):
    name: str
    version: str
    license: str
    why: str
    tarball: str
    integrity: str
    files: dict[str, str]
    sha256: dict[str, str]


class VendorManifest(BaseModel):
    comment: str
    packages: list[VendoredPackage]


def read_manifest(path: Path = MANIFEST) -> VendorManifest:
    return VendorManifest.model_validate_json(path.read_text())


def check_integrity(tarball: bytes, integrity: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, tarball).digest()).decode()
    if digest != expected:
        raise SystemExit(f"tarball digest {algorithm}-{digest} is not the pinned {integrity}")


def vendor(package: VendoredPackage, static_dir: Path = STATIC_DIR) -> VendoredPackage:
    with urllib.request.urlopen(package.tarball, timeout=DOWNLOAD_TIMEOUT_S) as response:  # noqa: S310
        tarball = response.read()
    check_integrity(tarball, package.integrity)
    digests: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member_name, target in package.files.items():
            member = archive.extractfile(member_name)
            if member is None:
                raise SystemExit(f"{package.name}@{package.version} has no file {member_name}")
            body = member.read()
            (static_dir / target).write_bytes(body)
            digests[target] = hashlib.sha256(body).hexdigest()
    return package.model_copy(update={"sha256": digests})


def main() -> None:
    manifest = read_manifest()
    updated = manifest.model_copy(update={"packages": [vendor(package) for package in manifest.packages]})
    MANIFEST.write_text(json.dumps(updated.model_dump(), indent=2) + "\n")
    for package in updated.packages:
        print(f"{package.name}@{package.version}: {', '.join(package.sha256)}", file=sys.stderr)


if __name__ == "__main__":
    main()
