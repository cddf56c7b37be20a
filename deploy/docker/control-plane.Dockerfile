# The control plane: API, dashboard and background workers on port 8000.
#   docker build -f deploy/docker/control-plane.Dockerfile -t optischema-control-plane .
# Before the first start and after every upgrade, migrate the metadata database (a one-off):
#   docker run --rm -e OPTISCHEMA_METADATA_URL=... --entrypoint optischema-admin optischema-control-plane migrate
# BASE_IMAGE lets a locally made Debian + Python base stand in (deploy/images/build.sh).
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml deploy/docker/install_dependencies.py ./
# A virtualenv copied whole into the final stage: no pip, no build cache, no compiler there. The
# dependencies come first, in a layer of their own that a change to the sources alone reuses;
# pip's cache goes to a cache mount, never into a layer.
RUN --mount=type=cache,target=/root/.cache/pip \
    python3 -m venv /opt/optischema \
 && /opt/optischema/bin/python install_dependencies.py control-plane
COPY README.md ./
COPY agent ./agent
COPY shared ./shared
COPY control_plane ./control_plane
COPY migrations ./migrations
# Byte code is compiled here because a read-only root file system cannot write __pycache__ later.
RUN /opt/optischema/bin/pip install --no-cache-dir --no-compile --no-deps --no-build-isolation . \
 && /opt/optischema/bin/pip uninstall --yes pip setuptools wheel \
 && /opt/optischema/bin/python -m compileall -q -j 0 /opt/optischema/lib

FROM ${BASE_IMAGE}
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin optischema
COPY --from=build /opt/optischema /opt/optischema
USER optischema
ENV PATH=/opt/optischema/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OPTISCHEMA_HOST=0.0.0.0 \
    OPTISCHEMA_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=5 \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["optischema-control-plane"]
