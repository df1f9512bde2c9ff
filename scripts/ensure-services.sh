#!/usr/bin/env bash
# Make sure the services the test suite talks to are up: PostgreSQL and Redis on 127.0.0.1.
# Starts (and if needed installs) what is missing. Exits non-zero when a service cannot be had:
# the tests never skip silently.
set -u

log() { printf 'ensure-services: %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  return 1
}

ensure_postgres() {
  port_open 5432 && return 0
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log "PostgreSQL missing: installing"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2 || return 1
  fi
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  [ -n "$version" ] || { log "no PostgreSQL cluster found"; return 1; }
  log "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || return 1
  wait_port 5432
}

ensure_redis() {
  port_open 6379 && return 0
  if ! command -v redis-server >/dev/null 2>&1; then
    log "Redis missing: installing"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >&2 || return 1
  fi
  log "starting Redis"
  mkdir -p /tmp/flowyard-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no \
    --dir /tmp/flowyard-redis --pidfile /tmp/flowyard-redis/redis.pid >&2 || return 1
  wait_port 6379
}

status=0
ensure_postgres || { log "PostgreSQL is not available on 127.0.0.1:5432"; status=1; }
ensure_redis || { log "Redis is not available on 127.0.0.1:6379"; status=1; }
exit $status
