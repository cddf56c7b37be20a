# A PostgreSQL to monitor: pg_stat_statements preloaded and HypoPG installed from the PGDG apt
# repository the official image already trusts. Its first start creates both extensions and the
# agent's login role (see monitored-init.sh).
FROM postgres:16-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends "postgresql-${PG_MAJOR}-hypopg" \
 && rm -rf /var/lib/apt/lists/*
COPY deploy/docker/monitored-init.sh /docker-entrypoint-initdb.d/10-optischema.sh
CMD ["postgres", \
     "-c", "shared_preload_libraries=pg_stat_statements", \
     "-c", "pg_stat_statements.track=all", \
     "-c", "track_io_timing=on"]
