#!/bin/sh
# First start of the monitored database: the extensions the agent reads, and its own role with
# pg_monitor and nothing else (it never needs to own or write the application's tables).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v agent_password="${OPTISCHEMA_AGENT_DB_PASSWORD:?set OPTISCHEMA_AGENT_DB_PASSWORD}" <<'SQL'
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE EXTENSION IF NOT EXISTS hypopg;
CREATE ROLE optischema LOGIN PASSWORD :'agent_password';
GRANT pg_monitor TO optischema;
SQL
