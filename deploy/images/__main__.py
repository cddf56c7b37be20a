"""`make images`: `python -m deploy.images [--local-base] [--base-image IMAGE]`; prints the sizes."""

from __future__ import annotations

import argparse
import os

from deploy.images.build import build_images
from deploy.images.container_tool import ContainerTool


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.images", description=__doc__)
    parser.add_argument("--base-image", default=os.environ.get("BASE_IMAGE") or None)
    parser.add_argument(
        "--local-base",
        action="store_true",
        default=os.environ.get("LOCAL_BASE") == "1",
        help="make a Debian + Python base here (debootstrap) instead of pulling python:3.11-slim",
    )
    arguments = parser.parse_args()
    built = build_images(
        ContainerTool.find(), local_base=arguments.local_base, base_image=arguments.base_image
    )
    print(built.report())


if __name__ == "__main__":
    main()
