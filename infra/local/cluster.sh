#!/usr/bin/env bash
# A local multi-process Flowyard cluster: the production layout on one machine, for trying scale-out changes.
#
#   infra/local/cluster.sh up | down | status | env
#
# up: Postgres (database flowyard_cluster, created if missing) and Redis (its own database number) on 127.0.0.1
# via scripts/ensure-services.sh, a moto S3 server (bucket created with manage.py ensure_bucket), migrations,
# the frontend build, then as separate processes: web (uvicorn), worker-a (flowyard.cpu + flowyard.gpu),
# worker-b (flowyard.cpu) and beat. PIDs in var/cluster/*.pid, logs in var/cluster/*.log, the environment every
# process got in var/cluster/env (source it to run manage.py or a worker by hand against the cluster).
# down: stops what up started, by the PIDs in var/cluster/*.pid (TERM, then KILL of that process group).
#
# Settings (environment): PORT (web, 8000), S3_PORT (moto, 9000), CLUSTER_REDIS_DB (5), CLUSTER_DB
# (flowyard_cluster), PG_URL (postgres://postgres@127.0.0.1:5432), WORKER_CONCURRENCY (1 per worker),
# CLUSTER_EXTRA_PACKS (extra node packs for FLOWYARD_NODE_PACKS, comma-separated).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
DIR="$ROOT/var/cluster"
PY="$ROOT/.venv/bin/python"
HOST=127.0.0.1
PORT="${PORT:-8000}"
S3_PORT="${S3_PORT:-9000}"
REDIS_DB="${CLUSTER_REDIS_DB:-5}"
DB_NAME="${CLUSTER_DB:-flowyard_cluster}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
CONCURRENCY="${WORKER_CONCURRENCY:-1}"
SERVICES=(moto web worker-a worker-b beat)

log() { printf 'cluster: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

pid_of() { [ -f "$DIR/$1.pid" ] && cat "$DIR/$1.pid" || true; }

alive() {
  local pid
  pid=$(pid_of "$1")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

wait_for() {  # wait_for SECONDS DESCRIPTION SERVICE COMMAND...: poll COMMAND while SERVICE lives
  local seconds=$1 what=$2 service=$3
  shift 3
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if ! alive "$service"; then
      tail -n 40 "$DIR/$service.log" >&2 || true
      die "$service exited while waiting for $what (log: $DIR/$service.log)"
    fi
    [ $SECONDS -lt $deadline ] || die "timed out after ${seconds}s waiting for $what (log: $DIR/$service.log)"
    sleep 0.3
  done
}

write_env() {
  mkdir -p "$DIR/var" "$DIR/modelscope"
  [ -s "$DIR/secret_key" ] || "$PY" -c 'import secrets; print(secrets.token_urlsafe(50))' > "$DIR/secret_key"
  local packs="nodepacks.core,nodepacks.modelscope"
  [ -z "${CLUSTER_EXTRA_PACKS:-}" ] || packs="$packs,$CLUSTER_EXTRA_PACKS"
  cat > "$DIR/env" <<EOF
DJANGO_SETTINGS_MODULE=backend.settings
PYTHONUNBUFFERED=1
SECRET_KEY=$(cat "$DIR/secret_key")
DATABASE_URL=$PG_URL/$DB_NAME
DB_CONN_MAX_AGE=60
REDIS_URL=redis://$HOST:6379/$REDIS_DB
FLOWYARD_DISPATCHER=celery
FLOWYARD_VAR_DIR=$DIR/var
FLOWYARD_NODE_PACKS=$packs
FLOWYARD_BLOB_BACKEND=s3
FLOWYARD_S3_BUCKET=flowyard-cluster
AWS_S3_ENDPOINT_URL=http://$HOST:$S3_PORT
AWS_DEFAULT_REGION=us-east-1
AWS_ACCESS_KEY_ID=cluster
AWS_SECRET_ACCESS_KEY=cluster-secret
MODELSCOPE_CACHE=$DIR/modelscope
ALLOWED_HOSTS=127.0.0.1,localhost
CSRF_TRUSTED_ORIGINS=http://127.0.0.1:$PORT,http://localhost:$PORT
EOF
}

load_env() {
  [ -f "$DIR/env" ] || write_env
  set -a
  # shellcheck disable=SC1091
  . "$DIR/env"
  set +a
}

start() {  # start NAME COMMAND...: in its own session (so down can stop its children), PID to NAME.pid
  local name=$1
  shift
  if alive "$name"; then
    log "$name already running (pid $(pid_of "$name"))"
    return 0
  fi
  (setsid "$@" > "$DIR/$name.log" 2>&1 < /dev/null & echo $! > "$DIR/$name.pid")
  log "started $name (pid $(pid_of "$name"))"
}

stop() {
  local name=$1 pid
  pid=$(pid_of "$name")
  if [ -z "$pid" ]; then return 0; fi
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) still running after 10 s: KILL to its process group"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    # Worker children (prefork pool) share the leader's process group; none may outlive it.
    kill -TERM -- "-$pid" 2>/dev/null || true
    log "stopped $name (pid $pid)"
  fi
  rm -f "$DIR/$name.pid"
}

ensure_database() {
  "$PY" - "$PG_URL" "$DB_NAME" <<'EOF'
import sys

import psycopg

url, name = sys.argv[1], sys.argv[2]
with psycopg.connect(f"{url}/postgres", autocommit=True) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        conn.execute(f'CREATE DATABASE "{name}"')
        print(f"cluster: created database {name}", file=sys.stderr)
EOF
}

worker() {  # worker NAME QUEUES
  start "$1" "$PY" -m celery -A backend worker -Q "$2" -c "$CONCURRENCY" -n "$1@%h" \
    --without-gossip --without-mingle --loglevel=INFO
}

up() {
  mkdir -p "$DIR"
  make --no-print-directory install >&2
  scripts/ensure-services.sh || die "Postgres or Redis is not available"
  write_env
  load_env
  ensure_database

  if ! alive moto; then
    port_open "$S3_PORT" && die "port $S3_PORT is taken by something else: set S3_PORT"
    start moto "$ROOT/.venv/bin/moto_server" -H "$HOST" -p "$S3_PORT"
  fi
  wait_for 30 "the S3 server on $S3_PORT" moto port_open "$S3_PORT"
  "$PY" manage.py ensure_bucket
  "$PY" manage.py migrate --noinput -v 0
  if ! make --no-print-directory frontend >&2; then
    [ -f frontend/dist/index.html ] || die "the frontend build failed and there is no earlier build"
    log "WARNING: the frontend build failed; serving the earlier build in frontend/dist"
  fi

  if ! alive web; then
    port_open "$PORT" && die "port $PORT is taken by something else: set PORT"
  fi
  start web "$ROOT/.venv/bin/uvicorn" --host "$HOST" --port "$PORT" --lifespan off backend.asgi:application
  worker worker-a flowyard.cpu,flowyard.gpu
  worker worker-b flowyard.cpu
  start beat "$PY" -m celery -A backend beat --loglevel=INFO -s "$DIR/celerybeat-schedule" \
    --pidfile="$DIR/celerybeat-internal.pid"

  wait_for 60 "web on $PORT" web port_open "$PORT"
  wait_for 90 "web to answer /api/health" web curl -fsS -o /dev/null --max-time 10 "http://$HOST:$PORT/api/health"
  wait_for 60 "worker-a to be ready" worker-a grep -q "ready\." "$DIR/worker-a.log"
  wait_for 60 "worker-b to be ready" worker-b grep -q "ready\." "$DIR/worker-b.log"
  wait_for 60 "beat to start" beat grep -q "beat: Starting" "$DIR/beat.log"
  status
  cat <<EOF

Flowyard cluster is up:
  web        http://$HOST:$PORT/            (API http://$HOST:$PORT/api/, docs http://$HOST:$PORT/api/docs/)
  health     http://$HOST:$PORT/api/health
  websocket  ws://$HOST:$PORT/ws/runs/<run id>/
  S3 (moto)  http://$HOST:$S3_PORT/          (bucket flowyard-cluster)
  Postgres   $PG_URL/$DB_NAME
  Redis      redis://$HOST:6379/$REDIS_DB
  logs       $DIR/*.log        environment  $DIR/env
Smoke test: make cluster-test        Stop: make cluster-down
EOF
}

down() {
  local name
  for name in beat worker-b worker-a web moto; do stop "$name"; done
  rm -f "$DIR/celerybeat-internal.pid"
}

status() {
  local name code=0
  for name in "${SERVICES[@]}"; do
    if alive "$name"; then
      printf '%-9s running  pid %s\n' "$name" "$(pid_of "$name")"
    else
      printf '%-9s stopped\n' "$name"
      code=1
    fi
  done
  if alive web; then
    printf 'health    %s\n' "$(curl -fsS --max-time 15 "http://$HOST:$PORT/api/health" 2>&1 || true)"
  fi
  return $code
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  env) load_env; cat "$DIR/env" ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
