#!/usr/bin/env bash
# Installs the Debian packages the tests, the demo and the benchmarks need: a PostgreSQL
# server with pg_stat_statements (contrib), HypoPG and pg_qualstats for the same major version.
# Idempotent: does nothing when everything is present, so `make test` stays fast on a warm machine.
set -euo pipefail

pg_major() {
  # The newest server major installed under /usr/lib/postgresql, if any.
  ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1
}

missing_packages() {
  local major="$1"
  local pkgs=()
  [ -x "/usr/lib/postgresql/${major}/bin/initdb" ] || pkgs+=("postgresql-${major}")
  [ -f "/usr/share/postgresql/${major}/extension/hypopg.control" ] || pkgs+=("postgresql-${major}-hypopg")
  [ -f "/usr/share/postgresql/${major}/extension/pg_qualstats.control" ] || pkgs+=("postgresql-${major}-pg-qualstats")
  command -v pgbench >/dev/null 2>&1 || pkgs+=("postgresql-client-${major}")
  echo "${pkgs[@]:-}"
}

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "Missing system packages: $*" >&2
    echo "Install them with: sudo apt-get update && sudo apt-get install -y $*" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "$@" >&2
}

major="$(pg_major)"
if [ -z "${major}" ]; then
  # No server yet: Debian's default major is whatever `postgresql` depends on.
  apt_install postgresql postgresql-contrib
  major="$(pg_major)"
fi

todo="$(missing_packages "${major}")"
if [ -n "${todo// /}" ]; then
  # shellcheck disable=SC2086
  apt_install ${todo}
fi

# The dashboard's browser test (tests/integration/dashboard/test_in_a_browser.py) drives a headless
# Chromium through chromedriver, both from Debian: no browser download at test time.
browser=()
command -v chromium >/dev/null 2>&1 || browser+=("chromium")
command -v chromedriver >/dev/null 2>&1 || browser+=("chromium-driver")
if [ "${#browser[@]}" -gt 0 ]; then
  apt_install "${browser[@]}"
fi

# Real Redis and PgBouncer for the shared rate limits and the transaction-pooling tests
# (tests/integration/control_plane/test_redis_limits.py, test_pgbouncer.py): each test starts its
# own on a free loopback port, never the system services these packages set up.
servers=()
command -v redis-server >/dev/null 2>&1 || servers+=("redis-server")
[ -x /usr/sbin/pgbouncer ] || servers+=("pgbouncer")
if [ "${#servers[@]}" -gt 0 ]; then
  apt_install "${servers[@]}"
fi

# The image tests (tests/e2e/test_images.py) build with podman and run with buildah, on a Debian + Python base
# made by debootstrap: no registry is needed.
containers=()
command -v podman >/dev/null 2>&1 || containers+=("podman")
command -v buildah >/dev/null 2>&1 || containers+=("buildah")
command -v debootstrap >/dev/null 2>&1 || containers+=("debootstrap")
if [ "${#containers[@]}" -gt 0 ]; then
  apt_install "${containers[@]}"
fi

# The benchmarks count instructions with valgrind's callgrind (benchmarks/ingestion_instructions.py):
# a figure that does not move with whatever else the machine is doing.
command -v valgrind >/dev/null 2>&1 || apt_install valgrind

# A Debian install starts a system cluster; the suite never uses it, it starts its own.
command -v runuser >/dev/null 2>&1 || { echo "runuser (util-linux) is required" >&2; exit 1; }
echo "system dependencies ok (PostgreSQL ${major})" >&2
