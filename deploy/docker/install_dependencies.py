"""Installs the build requirements and the runtime dependencies named in pyproject.toml (plus the
given extras) into the running interpreter: the images' first layer, which a change to the sources
alone leaves cached where the builder caches layers (pip's cache is a cache mount). The package
itself follows with `pip install --no-deps`."""

import subprocess
import sys
import tomllib

with open("pyproject.toml", "rb") as file:
    project = tomllib.load(file)
requirements = [*project["build-system"]["requires"], *project["project"]["dependencies"]]
for extra in sys.argv[1:]:
    requirements += project["project"]["optional-dependencies"][extra]
subprocess.run([sys.executable, "-m", "pip", "install", "--no-compile", *requirements], check=True)
