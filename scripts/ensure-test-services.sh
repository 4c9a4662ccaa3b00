#!/usr/bin/env bash
# What the test suite needs from the machine: Debian's Chromium (never a downloaded browser),
# Debian's nginx and openssl (the TLS proxy test), a Redis server, and PostgreSQL on
# 127.0.0.1:5432 letting the postgres user in without a password (the suite runs a second
# time on it). Each is started when installed but stopped.
# Installs from Debian's packages only when missing and only as root.
set -euo pipefail

need_apt=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# The TLS proxy test (tests/e2e/test_behind_nginx.py) runs Debian's nginx, its own instance.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
installed_postgres=no
if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d /etc/postgresql ]; then
  need_apt+=(postgresql)
  installed_postgres=yes
fi

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing from Debian's packages: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "Missing ${need_apt[*]}: install them (apt-get install ${need_apt[*]}) or run as root." >&2
    exit 1
  fi
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "Starting Redis on 127.0.0.1:6379"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp --logfile /tmp/relais-redis.log
fi

version="$(ls /etc/postgresql | head -n1)"
if [ "$installed_postgres" = yes ]; then
  # A cluster installed just now: let the test suite in over TCP on loopback, as on the
  # development machines (trust for 127.0.0.1 only).
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
fi
if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
  echo "Starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
elif [ "$installed_postgres" = yes ]; then
  pg_ctlcluster --skip-systemctl-redirect "$version" main reload
fi
for _ in $(seq 1 50); do
  pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1 && break
  sleep 0.2  # wait-ok: PostgreSQL is starting; pg_isready is the only way to ask
done
if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
  echo "PostgreSQL does not answer on 127.0.0.1:5432: the PostgreSQL run of the suite needs it." >&2
  exit 1
fi
