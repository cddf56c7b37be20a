# The agent, beside the monitored database: outbound HTTPS only, no listening port. Only agent/ and
# shared/ with the base dependencies: nothing of the control plane is installed.
#   docker build -f deploy/docker/agent.Dockerfile -t optischema-agent .
#   docker run --read-only -e OPTISCHEMA_DATABASE_URL=... -e OPTISCHEMA_API_URL=... \
#     -e OPTISCHEMA_AGENT_TOKEN=... -v optischema-agent-spool:/var/lib/optischema-agent optischema-agent
# BASE_IMAGE lets a locally made Debian + Python base stand in where no registry is reachable
# (deploy/images/build.sh); it needs python3 with venv.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml deploy/docker/install_dependencies.py ./
# A virtualenv copied whole into the final stage: no pip, no build cache, no compiler there. The
# dependencies come first, in a layer of their own that a change to the sources alone reuses;
# pip's cache goes to a cache mount, never into a layer.
RUN --mount=type=cache,target=/root/.cache/pip \
    python3 -m venv /opt/optischema \
 && /opt/optischema/bin/python install_dependencies.py
COPY README.md ./
COPY agent ./agent
COPY shared ./shared
# Byte code is compiled here because a read-only root file system cannot write __pycache__ later.
RUN /opt/optischema/bin/pip install --no-cache-dir --no-compile --no-deps --no-build-isolation . \
 && /opt/optischema/bin/pip uninstall --yes pip setuptools wheel \
 && /opt/optischema/bin/python -m compileall -q -j 0 /opt/optischema/lib

FROM ${BASE_IMAGE}
# The spool volume is the only path the agent writes: snapshots, counters' baseline, pinned keys.
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /var/lib/optischema-agent \
      --shell /usr/sbin/nologin optischema \
 && mkdir -p /var/lib/optischema-agent/spool \
 && chown -R optischema:optischema /var/lib/optischema-agent
COPY --from=build /opt/optischema /opt/optischema
USER optischema
ENV PATH=/opt/optischema/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OPTISCHEMA_SPOOL_DIR=/var/lib/optischema-agent/spool
VOLUME ["/var/lib/optischema-agent"]
# `check` is the agent's own word on its prerequisites and its token; every 5 minutes is cheap.
HEALTHCHECK --interval=5m --timeout=60s --start-period=30s --retries=2 CMD ["optischema-agent", "check"]
ENTRYPOINT ["optischema-agent"]
CMD ["run"]
