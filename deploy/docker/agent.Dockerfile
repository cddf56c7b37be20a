# The agent, beside the monitored database: outbound HTTPS only, no listening port.
#   docker build -f deploy/docker/agent.Dockerfile -t optischema-agent .
#   docker run -e OPTISCHEMA_DATABASE_URL=... -e OPTISCHEMA_API_URL=... -e OPTISCHEMA_AGENT_TOKEN=... \
#     -v optischema-agent-spool:/var/lib/optischema-agent optischema-agent run
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY agent ./agent
COPY shared ./shared
COPY control_plane ./control_plane
COPY migrations ./migrations
# The package and every dependency as wheels: the final image needs no compiler and no cache.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/optischema-agent optischema
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels optischema && rm -rf /wheels
USER optischema
ENV PYTHONUNBUFFERED=1 \
    OPTISCHEMA_SPOOL_DIR=/var/lib/optischema-agent/spool
# The write-ahead spool: snapshots survive a restart or a control-plane outage.
VOLUME ["/var/lib/optischema-agent"]
ENTRYPOINT ["optischema-agent"]
CMD ["run"]
