"""A Debian bookworm + Python 3.11 base image made on this machine, for where no registry is reachable.

`debootstrap --variant=minbase` with Debian's python3 and python3-venv, imported with `podman import`
and tagged by a content key (this recipe, the suite, the host's extra CA certificates), so a second
run on the same machine finds it and skips the few minutes debootstrap takes.

A test base only: it trusts the host's extra certificate authorities (a TLS-intercepting proxy in
front of PyPI needs that for `pip` inside a build) and carries the host's pip proxy settings. The
shipped images never see either: they build FROM python:3.11-slim.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from deploy.images.container_tool import ContainerTool

SUITE = "bookworm"
MIRROR = os.environ.get("OPTISCHEMA_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = ["python3", "python3-venv", "ca-certificates"]
EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")
TAG = "localhost/optischema-test-base"
RECIPE_VERSION = 1  # part of the content key: raise it when the way the base is made changes
DEBOOTSTRAP_TIMEOUT_S = 1200.0
# Dropped from the root file system: documentation, manuals, locales and apt's lists (about 40 MB).
PRUNED = [
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "var/lib/apt/lists",
    "var/cache/apt",
]


def extra_certificates() -> list[Path]:
    return sorted(EXTRA_CA_DIR.rglob("*.crt")) if EXTRA_CA_DIR.is_dir() else []


def pip_config() -> str:
    """/etc/pip.conf of the base: Debian's trust store (which holds the extra CAs), and the host's
    proxy if it has one; pip's local indexes of the host (file:// paths) mean nothing inside."""
    lines = ["[global]", "cert = /etc/ssl/certs/ca-certificates.crt"]
    proxy = os.environ.get("PIP_PROXY") or os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    if proxy:
        lines.append(f"proxy = {proxy}")
    index = os.environ.get("PIP_INDEX_URL", "")
    if index.startswith(("http://", "https://")):
        lines.append(f"index-url = {index}")
    return "\n".join(lines) + "\n"


def content_key() -> str:
    digest = hashlib.sha256()
    digest.update(f"recipe {RECIPE_VERSION}\n{PRUNED}\n".encode())
    digest.update(f"{SUITE} {MIRROR} {' '.join(PACKAGES)}\n{pip_config()}".encode())
    for certificate in extra_certificates():
        digest.update(certificate.read_bytes())
    return digest.hexdigest()[:16]


def debootstrap(rootfs: Path) -> None:
    if shutil.which("debootstrap") is None:
        raise RuntimeError("debootstrap is not installed (Debian: apt-get install debootstrap)")
    subprocess.run(
        ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(rootfs), MIRROR],
        check=True,
        capture_output=True,
        timeout=DEBOOTSTRAP_TIMEOUT_S,
    )


def trust_host_certificates(rootfs: Path) -> None:
    target = rootfs / EXTRA_CA_DIR.relative_to("/")
    target.mkdir(parents=True, exist_ok=True)
    for certificate in extra_certificates():
        shutil.copy(certificate, target / certificate.name)
    subprocess.run(["chroot", str(rootfs), "update-ca-certificates"], check=True, capture_output=True)
    (rootfs / "etc" / "pip.conf").write_text(pip_config())


def ensure_local_base(tool: ContainerTool) -> str:
    """The tag of the local base, made now unless an image with the same content key exists."""
    image = f"{TAG}:{content_key()}"
    if tool.exists(image):
        return image
    with tempfile.TemporaryDirectory(prefix="optischema-base-") as work:
        rootfs = Path(work) / "rootfs"
        debootstrap(rootfs)
        trust_host_certificates(rootfs)
        for pruned in PRUNED:
            shutil.rmtree(rootfs / pruned, ignore_errors=True)
            (rootfs / pruned).mkdir(parents=True)
        tarball = Path(work) / "rootfs.tar"
        subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(tarball), "."], check=True)
        tool.import_rootfs(
            tarball,
            image,
            [
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "ENV LANG=C.UTF-8",
                'CMD ["python3"]',
            ],
        )
    return image
