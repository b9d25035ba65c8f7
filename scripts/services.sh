#!/usr/bin/env bash
# Make sure what `make test` and `make bench` need is there: PostgreSQL and Redis answering on
# 127.0.0.1 (started if they are down); with `--browser`, Debian's Chromium; with
# `--database NAME`, that PostgreSQL database (created if missing).
set -euo pipefail

fail() {
  echo >&2
  echo "make: $*" >&2
  exit 1
}

postgres_up() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h 127.0.0.1 -p 5432
  else
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
  fi
}

redis_up() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]
  else
    (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null
  fi
}

# Wait up to 30 seconds for a check to pass.
wait_until() {
  for _ in $(seq 1 60); do
    "$1" && return 0
    sleep 0.5
  done
  return 1
}

start_postgres() {
  echo "PostgreSQL is not answering on 127.0.0.1:5432: starting it."
  command -v pg_ctlcluster >/dev/null 2>&1 && [ -n "$(ls /etc/postgresql 2>/dev/null)" ] ||
    fail "PostgreSQL is not installed here (no pg_ctlcluster, nothing in /etc/postgresql)." \
      "Install it, or start a server on 127.0.0.1:5432 that user postgres can reach without a password."
  # shellcheck disable=SC2046  # one cluster version, as the machine sets it up
  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start ||
    echo "pg_ctlcluster could not start the cluster; waiting in case it is coming up anyway."
  wait_until postgres_up ||
    fail "PostgreSQL could not be started on 127.0.0.1:5432. Its log is in /var/log/postgresql/."
  echo "PostgreSQL is up."
}

start_redis() {
  echo "Redis is not answering on 127.0.0.1:6379: starting it."
  command -v redis-server >/dev/null 2>&1 ||
    fail "Redis is not installed here (no redis-server). Install it, or start one on 127.0.0.1:6379."
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log ||
    echo "redis-server did not start cleanly; waiting in case it is coming up anyway."
  wait_until redis_up ||
    fail "Redis could not be started on 127.0.0.1:6379. Its log is /var/log/redis/ci.log."
  echo "Redis is up."
}

install_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  echo "Installing Debian's chromium for the browser tests (apt-get)."
  local sudo=""
  if [ "$(id -u)" != "0" ]; then
    command -v sudo >/dev/null 2>&1 ||
      fail "The browser tests need /usr/bin/chromium: run 'apt-get install chromium' as root."
    sudo="sudo -n"
  fi
  export DEBIAN_FRONTEND=noninteractive
  { $sudo apt-get update -q && $sudo apt-get install -y -q chromium; } ||
    fail "Debian's chromium could not be installed (apt-get failed above); the browser tests" \
      "need /usr/bin/chromium."
  [ -x /usr/bin/chromium ] || fail "apt-get finished but /usr/bin/chromium is still missing."
}

ensure_database() {
  local exists
  exists=$(psql -h 127.0.0.1 -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$1'") ||
    fail "Could not ask PostgreSQL on 127.0.0.1:5432 (as user postgres) about database $1."
  if [ "$exists" != "1" ]; then
    createdb -h 127.0.0.1 -U postgres "$1" || fail "Could not create the PostgreSQL database $1."
    echo "Created the PostgreSQL database $1."
  fi
}

postgres_up || start_postgres
redis_up || start_redis
while [ $# -gt 0 ]; do
  case "$1" in
    --browser) install_chromium ;;
    --database) ensure_database "$2"; shift ;;
    *) fail "scripts/services.sh: unknown option $1" ;;
  esac
  shift
done
