#!/usr/bin/env bash
# examday as several processes on loopback, the way it runs on more than one
# machine: two `examday serve` processes on ports 3001 and 3002, one
# `examday worker`, and a load balancer on 127.0.0.1:8080 in front
# (deploy/haproxy.cfg, or deploy/nginx.conf), all on the same PostgreSQL and Redis.
#
#   bash scripts/cluster.sh start [haproxy|nginx]   start everything, wait until ready
#   bash scripts/cluster.sh stop                    SIGTERM everything it started (graceful drain)
#   bash scripts/cluster.sh status                  what answers
#
# Needs DATABASE_URL and REDIS_URL (for local ones: `eval "$(bash scripts/services.sh)"`).
# Other examday variables (JWT_SECRET, LOG_LEVEL, ...) are passed through.
#   EXAMDAY_CLUSTER_DIR   pid files and logs, default ./data/cluster
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="$(realpath -m "${EXAMDAY_CLUSTER_DIR:-$ROOT/data/cluster}")"
PORTS=(3001 3002)
LB_URL="http://127.0.0.1:8080"
TIMEOUT=60

say() { printf '%s\n' "$*" >&2; }

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_ready() { # url name pidfile
  local i
  for ((i = 0; i < TIMEOUT * 5; i++)); do
    if curl -fsS -o /dev/null "$1/readyz" 2>/dev/null; then return 0; fi
    if [[ -n "${3:-}" ]] && ! pid_alive "$3"; then say "$2 exited; see $DIR/$2.log"; tail -20 "$DIR/$2.log" >&2 || true; return 1; fi
    sleep 0.2
  done
  say "$2 not ready after ${TIMEOUT}s; see $DIR/$2.log"
  return 1
}

start_examday() { # name role [port]
  local name=$1 role=$2 port=${3:-0}
  if pid_alive "$DIR/$name.pid"; then say "$name already running (pid $(cat "$DIR/$name.pid"))"; return; fi
  PORT=$port HOST=127.0.0.1 nohup node "$ROOT/bin/examday.mjs" "$role" >"$DIR/$name.log" 2>&1 &
  echo $! >"$DIR/$name.pid"
}

start() {
  local lb=${1:-haproxy}
  : "${DATABASE_URL:?set DATABASE_URL (PostgreSQL); for local services: eval \"\$(bash scripts/services.sh)\"}"
  : "${REDIS_URL:?set REDIS_URL; for local services: eval \"\$(bash scripts/services.sh)\"}"
  mkdir -p "$DIR"
  # Migrations once, before several processes start at the same moment.
  node "$ROOT/bin/examday.mjs" migrate >"$DIR/migrate.log" 2>&1 || { cat "$DIR/migrate.log" >&2; exit 1; }
  local i
  for i in "${!PORTS[@]}"; do start_examday "api$((i + 1))" serve "${PORTS[$i]}"; done
  start_examday worker worker
  for i in "${!PORTS[@]}"; do wait_ready "http://127.0.0.1:${PORTS[$i]}" "api$((i + 1))" "$DIR/api$((i + 1)).pid"; done
  case "$lb" in
    haproxy)
      if ! pid_alive "$DIR/lb.pid"; then
        haproxy -f "$ROOT/deploy/haproxy.cfg" -p "$DIR/lb.pid" -D >"$DIR/lb.log" 2>&1 || { cat "$DIR/lb.log" >&2; exit 1; }
      fi ;;
    nginx)
      if ! pid_alive "$DIR/lb.pid"; then
        nginx -c "$ROOT/deploy/nginx.conf" -p "$DIR" -g "pid $DIR/lb.pid;" >"$DIR/lb.log" 2>&1 || { cat "$DIR/lb.log" >&2; exit 1; }
      fi ;;
    *) say "unknown load balancer $lb (haproxy or nginx)"; exit 2 ;;
  esac
  wait_ready "$LB_URL" lb
  say "examday: ${#PORTS[@]} API processes (ports ${PORTS[*]}) + 1 worker behind $lb on $LB_URL (logs in $DIR)"
}

stop() {
  local f name pids=()
  for f in "$DIR"/*.pid; do
    [[ -e "$f" ]] || continue
    if pid_alive "$f"; then kill -TERM "$(cat "$f")" 2>/dev/null || true; pids+=("$f"); fi
  done
  # examday drains in-flight requests and flushes autosaves for up to 20 s.
  local i
  for ((i = 0; i < 150; i++)); do
    local left=0
    for f in "${pids[@]}"; do pid_alive "$f" && left=1; done
    ((left)) || break
    sleep 0.2
  done
  for f in "${pids[@]}"; do
    name=$(basename "$f" .pid)
    if pid_alive "$f"; then say "$name did not stop in 30 s; killing it"; kill -KILL "$(cat "$f")" 2>/dev/null || true; fi
  done
  rm -f "$DIR"/*.pid
  say "stopped"
}

status() {
  local f name
  for f in "$DIR"/*.pid; do
    [[ -e "$f" ]] || continue
    name=$(basename "$f" .pid)
    if pid_alive "$f"; then say "$name: running (pid $(cat "$f"))"; else say "$name: not running"; fi
  done
  if curl -fsS "$LB_URL/readyz" 2>/dev/null; then echo; else say "load balancer: not answering on $LB_URL"; fi
}

case "${1:-}" in
  start) start "${2:-haproxy}" ;;
  stop) stop ;;
  status) status ;;
  *) say "usage: $0 start [haproxy|nginx] | stop | status"; exit 2 ;;
esac
