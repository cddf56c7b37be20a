# The control plane: API, dashboard and background workers on port 8000.
#   docker build -f deploy/docker/control-plane.Dockerfile -t optischema-control-plane .
# Before the first start and after every upgrade, migrate the metadata database (a one-off):
#   docker run --rm -e OPTISCHEMA_METADATA_URL=... --entrypoint optischema-admin optischema-control-plane migrate
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY agent ./agent
COPY shared ./shared
COPY control_plane ./control_plane
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --user-group --no-create-home optischema
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels optischema && rm -rf /wheels
USER optischema
ENV PYTHONUNBUFFERED=1 \
    OPTISCHEMA_HOST=0.0.0.0 \
    OPTISCHEMA_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=5 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["optischema-control-plane"]
