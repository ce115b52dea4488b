#!/usr/bin/env bash
# Brings up the real infrastructure examday's "distributed" mode talks to —
# PostgreSQL 15, Redis 7 and an S3-compatible server, plus PgBouncer in
# transaction mode in front of that PostgreSQL — on loopback, for the test
# suites and for CI (see ../shared/DESIGN.md, "Tests on real infra").
#
#   bash scripts/services.sh          install what is missing, start, print env
#   bash scripts/services.sh stop     stop what this services dir started
#   bash scripts/services.sh status   say what answers
#
# Everything lives under one throwaway directory so a run never touches the
# machine's own clusters or data, and `rm -rf` of that directory is a full reset:
#   EXAMDAY_SERVICES_DIR   default /tmp/examday-services (pg/, pgbouncer/, redis/, s3/, env)
#   EXAMDAY_PG_PORT        default 54329
#   EXAMDAY_PGBOUNCER_PORT default 64329
#   EXAMDAY_REDIS_PORT     default 63790
#   EXAMDAY_S3_PORT        default 45690
#   EXAMDAY_SERVICES_TIMEOUT  seconds to wait for each service, default 60
#
# Progress goes to stderr and the `export` lines to stdout, so both
# `source "$EXAMDAY_SERVICES_DIR/env"` and `eval "$(bash scripts/services.sh)"` work.
# Running it again while the services answer reuses them; a leftover pid file or
# a half-made cluster from a killed run is cleaned up rather than trusted.
set -euo pipefail

DIR="$(realpath -m "${EXAMDAY_SERVICES_DIR:-/tmp/examday-services}")"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_PORT="${EXAMDAY_PG_PORT:-54329}"
REDIS_PORT="${EXAMDAY_REDIS_PORT:-63790}"
S3_PORT="${EXAMDAY_S3_PORT:-45690}"
TIMEOUT="${EXAMDAY_SERVICES_TIMEOUT:-60}"

# Debian's versioned path, not the /usr/bin wrappers: the wrappers pick a
# cluster from /etc/postgresql, which we deliberately don't use.
PG_BIN="${EXAMDAY_PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_DIR="$DIR/pg"
PGDATA="$PG_DIR/data"
PG_LOG="$PG_DIR/postgres.log"

PGB_PORT="${EXAMDAY_PGBOUNCER_PORT:-64329}"
PGB_DIR="$DIR/pgbouncer"
PGB_LOG="$PGB_DIR/pgbouncer.log"
PGB_PID="$PGB_DIR/pgbouncer.pid"

REDIS_DIR="$DIR/redis"
REDIS_LOG="$REDIS_DIR/redis.log"
REDIS_PID="$REDIS_DIR/redis.pid"

# s3rver 3.7.1 is the last release (2021); its engines say node>=8.3 and it runs
# on Node 20. Pinned so a CI run never picks up a surprise.
S3RVER_VERSION=3.7.1
S3_DIR="$DIR/s3"
S3_DATA="$S3_DIR/data"
S3_LOG="$S3_DIR/s3rver.log"
S3_PID="$S3_DIR/s3rver.pid"
S3_BUCKET=examday

log() { printf 'services: %s\n' "$*" >&2; }

# die MESSAGE [LOGFILE]: a service that won't come up is only debuggable from
# its own log, which CI would otherwise throw away with the machine.
die() {
  log "ERROR: $1"
  if [[ -n "${2:-}" && -f "$2" ]]; then
    log "---- last 40 lines of $2 ----"
    tail -n 40 "$2" >&2 || true
    log "---- end of $2 ----"
  fi
  exit 1
}

# wait_for NAME LOGFILE COMMAND...: polls instead of sleeping a fixed time, so a
# warm start costs milliseconds and a slow machine still gets the full timeout.
wait_for() {
  local name=$1 logfile=$2
  shift 2
  local deadline=$((SECONDS + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      die "$name did not answer within ${TIMEOUT}s" "$logfile"
    fi
    sleep 0.2
  done
}

# proc_matches PID PATTERN: a pid file can outlive its process and the pid be
# reused by something unrelated; only signal a process whose command line
# is really the one we started.
proc_matches() {
  local pid=$1 pattern=$2
  [[ "$pid" =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pattern"
}

# pid_from PIDFILE PATTERN: the pid in PIDFILE, when that process is still ours.
pid_from() {
  local pid
  [[ -f "$1" ]] || return 1
  pid="$(cat "$1")"
  proc_matches "$pid" "$2" && echo "$pid"
}

# stop_pid NAME PID: TERM is a clean shutdown for all three (Redis fsyncs its
# AOF on it); KILL only if that hangs, so `stop` always finishes.
stop_pid() {
  local name=$1 pid=$2 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || { log "$name stopped"; return 0; }
    sleep 0.2
  done
  log "$name (pid $pid) ignored TERM for 30s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------- packages --

# One `apt-get update` at most, and none at all when everything is present:
# the update alone costs CI several seconds on every warm run otherwise.
ensure_packages() {
  local missing=()
  [[ -x "$PG_BIN/postgres" && -x "$PG_BIN/initdb" && -x "$PG_BIN/psql" ]] || missing+=(postgresql-15)
  command -v pgbouncer >/dev/null || missing+=(pgbouncer)
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || missing+=(redis-server redis-tools)
  command -v pdftotext >/dev/null || missing+=(poppler-utils)
  command -v xmllint >/dev/null || missing+=(libxml2-utils)
  ((${#missing[@]} == 0)) && return 0

  if [[ $EUID -ne 0 ]]; then
    die "missing Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})"
  fi
  log "installing ${missing[*]}"
  # The lock timeout covers an apt run still finishing on a freshly booted machine.
  apt-get -o DPkg::Lock::Timeout=120 -qq update >&2
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -q \
    --no-install-recommends "${missing[@]}" >&2
}

# -------------------------------------------------------------- PostgreSQL --

# initdb and pg_ctl refuse to run as root. As root we run them as `postgres`
# (the Debian package creates that user); from the cluster's own directory,
# because postgres aborts when it cannot read the current directory (CI's
# checkout may sit under /root).
as_pg() {
  if [[ $EUID -eq 0 ]]; then
    (cd "$PG_DIR" && runuser -u postgres -- "$@")
  else
    (cd "$PG_DIR" && "$@")
  fi
}

pg_answers() { "$PG_BIN/pg_isready" -q -t 3 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres; }

pg_psql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }

# A postmaster.pid whose process is gone (or is now someone else) would make
# pg_ctl believe a server is running; postgres writes its data dir into its
# command line, so that is what we match on.
pg_clear_stale_pid() {
  local pidfile="$PGDATA/postmaster.pid" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(head -n 1 "$pidfile")"
  if ! proc_matches "$pid" "$PGDATA"; then
    log "removing stale $pidfile (pid $pid is not our postgres)"
    rm -f "$pidfile"
  fi
}

pg_prepare_dir() {
  if [[ $EUID -eq 0 ]]; then
    install -d -m 700 -o postgres -g postgres "$PG_DIR"
    # The log is appended to both by this (root) shell and by the postmaster,
    # so it must exist as postgres's before either writes. chown -R also fixes a
    # dir left by an earlier non-root run, which postgres could not read.
    touch "$PG_LOG"
    chown -R postgres:postgres "$PG_DIR"
    runuser -u postgres -- test -w "$PG_DIR" ||
      die "user postgres cannot reach $PG_DIR; put EXAMDAY_SERVICES_DIR somewhere world-traversable, e.g. under /tmp"
  else
    install -d -m 700 "$PG_DIR"
  fi
}

pg_init_if_needed() {
  # PG_VERSION is written first and pg_control near the end of initdb: both
  # present means initdb finished. Anything else is a killed initdb, and since
  # the cluster is throwaway we start over rather than try to repair it.
  if [[ -s "$PGDATA/PG_VERSION" && -f "$PGDATA/global/pg_control" ]]; then
    return 0
  fi
  log "initdb $PGDATA"
  rm -rf "$PGDATA"
  # --auth=trust: every client is a local test on loopback, and passwordless
  # URLs keep DATABASE_URL simple. C.UTF-8 is built into Debian 12's glibc
  # (no locales package), sorts by code point and still upper()s 'é'.
  # --data-checksums: the crash tests should hear about a torn page, not read
  # it. --no-sync only skips flushing initdb's own files; the server keeps fsync on.
  as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth=trust --data-checksums \
    --encoding=UTF8 --locale=C.UTF-8 --no-sync --no-instructions >>"$PG_LOG" 2>&1 ||
    die "initdb failed" "$PG_LOG"
  echo "include = 'examday.conf'" >>"$PGDATA/postgresql.conf"
}

# Rewritten on every start so a changed port or setting takes effect on an
# existing cluster; it is included last, so it wins over initdb's defaults.
pg_write_conf() {
  local conf="$PGDATA/examday.conf"
  cat >"$conf" <<EOF
# Written by scripts/services.sh on every start; edits here are lost.
listen_addresses = '127.0.0.1'
port = $PG_PORT
# TCP only: a socket path under a long EXAMDAY_SERVICES_DIR can exceed the
# 107-byte limit, and every client uses DATABASE_URL anyway.
unix_socket_directories = ''

# Sized for the 2-core CI machine: the API, workers and a parallel test suite
# each hold a pool, hence 200 connections.
max_connections = 200
shared_buffers = 256MB
effective_cache_size = 2GB
work_mem = 8MB
maintenance_work_mem = 128MB
max_worker_processes = 4
max_parallel_workers = 2
max_parallel_workers_per_gather = 1
max_parallel_maintenance_workers = 1
random_page_cost = 1.1

# Durability is under test (crash/restart tests), so these stay at their safe
# values even though turning them off would make CI faster.
fsync = on
synchronous_commit = on
full_page_writes = on

timezone = 'UTC'
log_timezone = 'UTC'
EOF
  if [[ $EUID -eq 0 ]]; then chown postgres:postgres "$conf"; fi
}

pg_start() {
  if pg_answers; then
    log "PostgreSQL already answers on 127.0.0.1:$PG_PORT; reusing it"
  else
    pg_prepare_dir
    pg_init_if_needed
    pg_clear_stale_pid
    pg_write_conf
    if as_pg "$PG_BIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1; then
      # Ours, but not answering on the port: still recovering, hung, or started
      # with another port. A restart covers all three.
      log "PostgreSQL from $PGDATA runs but does not answer on $PG_PORT; restarting it"
      as_pg "$PG_BIN/pg_ctl" restart -D "$PGDATA" -m fast -w -t "$TIMEOUT" -l "$PG_LOG" >&2 ||
        die "pg_ctl restart failed" "$PG_LOG"
    else
      log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
      as_pg "$PG_BIN/pg_ctl" start -D "$PGDATA" -w -t "$TIMEOUT" -l "$PG_LOG" >&2 ||
        die "pg_ctl start failed" "$PG_LOG"
    fi
  fi
  wait_for PostgreSQL "$PG_LOG" pg_answers

  if [[ "$(pg_psql -d postgres -tAc "select 1 from pg_database where datname = 'examday'")" != 1 ]]; then
    pg_psql -d postgres -c 'create database examday' ||
      die "could not create database examday" "$PG_LOG"
  fi
  log "PostgreSQL ready: $(pg_psql -d examday -tAc 'show server_version')"
}

pg_stop() {
  [[ -d "$PGDATA" ]] || return 0
  pg_clear_stale_pid
  if as_pg "$PG_BIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1; then
    # fast = roll back open transactions and checkpoint: clean, and quick even
    # when a test left connections open.
    as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA" -m fast -w -t "$TIMEOUT" >&2 ||
      die "pg_ctl stop failed" "$PG_LOG"
  else
    log "PostgreSQL (from $PGDATA) not running"
  fi
}

# --------------------------------------------------------------- PgBouncer --

# The pooler README.md recommends for many processes, in the mode that breaks
# session state (transaction pooling): a suite runs examday through it.
# Debian 12 ships 1.18, which cannot carry named statements between
# transactions — the case DATABASE_PREPARED_STATEMENTS=false is for.
pgb_answers() { "$PG_BIN/pg_isready" -q -t 3 -h 127.0.0.1 -p "$PGB_PORT" -U postgres -d examday; }

pgb_pid() { pid_from "$PGB_PID" "$PGB_DIR"; }

# PgBouncer refuses to run as root, so as root it runs as postgres.
as_pgb() {
  if [[ $EUID -eq 0 ]]; then
    (cd "$PGB_DIR" && runuser -u postgres -- "$@")
  else
    (cd "$PGB_DIR" && "$@")
  fi
}

# The shipped deploy/pgbouncer.ini, so the tests run the configuration operators
# get, with what differs on loopback: any database name (each test makes its own)
# to this cluster, trust authentication, 8 server connections per database (few,
# so examday's pools really share them), admin console for postgres, our files.
pgb_write_conf() {
  local src="$ROOT/deploy/pgbouncer.ini" conf="$PGB_DIR/pgbouncer.ini"
  [[ -f "$src" ]] || die "$src is missing"
  {
    echo "; Written by scripts/services.sh from deploy/pgbouncer.ini on every start; edits here are lost."
    sed -E \
      -e "s|^examday = .*|* = host=127.0.0.1 port=$PG_PORT|" \
      -e "s|^listen_port = .*|listen_port = $PGB_PORT|" \
      -e "s|^auth_type = .*|auth_type = trust|" \
      -e "s|^auth_file = .*|auth_file = $PGB_DIR/userlist.txt|" \
      -e "s|^default_pool_size = .*|default_pool_size = 8|" \
      "$src"
    echo "unix_socket_dir ="
    echo "admin_users = postgres"
    echo "logfile = $PGB_LOG"
    echo "pidfile = $PGB_PID"
  } >"$conf"
  local want
  for want in "* = host=127.0.0.1 port=$PG_PORT" "listen_port = $PGB_PORT" "auth_type = trust" "pool_mode = transaction" "default_pool_size = 8"; do
    grep -qxF "$want" "$conf" || die "deploy/pgbouncer.ini changed shape: no '$want' after rewriting it ($conf)"
  done
}

pgb_start() {
  if pgb_answers; then
    log "PgBouncer already answers on 127.0.0.1:$PGB_PORT; reusing it"
    return 0
  fi
  install -d -m 700 "$PGB_DIR"
  local pid
  if pid="$(pgb_pid)"; then
    log "PgBouncer from $PGB_DIR (pid $pid) does not answer on $PGB_PORT; restarting it"
    stop_pid PgBouncer "$pid"
  fi
  rm -f "$PGB_PID"
  # trust, like the cluster behind it; the user must still be listed.
  echo '"postgres" ""' >"$PGB_DIR/userlist.txt"
  pgb_write_conf
  # The log is written both by pgbouncer and by this shell: postgres's first.
  touch "$PGB_LOG"
  if [[ $EUID -eq 0 ]]; then chown -R postgres:postgres "$PGB_DIR"; fi
  log "starting PgBouncer on 127.0.0.1:$PGB_PORT (transaction mode)"
  as_pgb pgbouncer -d -q "$PGB_DIR/pgbouncer.ini" >>"$PGB_LOG" 2>&1 ||
    die "pgbouncer failed to start" "$PGB_LOG"
  wait_for PgBouncer "$PGB_LOG" pgb_answers
  log "PgBouncer ready: $(pgbouncer --version | head -n 1)"
}

pgb_stop() {
  local pid
  if pid="$(pgb_pid)"; then
    stop_pid PgBouncer "$pid"
  else
    log "PgBouncer (from $PGB_DIR) not running"
  fi
  rm -f "$PGB_PID"
}

# ------------------------------------------------------------------- Redis --

# `timeout`: redis-cli waits forever on a port that accepts but never answers.
redis_answers() { [[ "$(timeout 3 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }

# Redis rewrites its process title to "redis-server 127.0.0.1:PORT".
redis_pid() { pid_from "$REDIS_PID" redis-server; }

redis_start() {
  if redis_answers; then
    log "Redis already answers on 127.0.0.1:$REDIS_PORT; reusing it"
    return 0
  fi
  mkdir -p "$REDIS_DIR"
  local pid
  if pid="$(redis_pid)"; then
    log "Redis from $REDIS_DIR (pid $pid) does not answer on $REDIS_PORT; restarting it"
    stop_pid Redis "$pid"
  fi
  rm -f "$REDIS_PID"

  cat >"$REDIS_DIR/redis.conf" <<EOF
# Written by scripts/services.sh on every start; edits here are lost.
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
daemonize yes
pidfile "$REDIS_PID"
logfile "$REDIS_LOG"
dir "$REDIS_DIR"

# BullMQ keeps its queues only in Redis: AOF fsynced every second is what a
# production deployment should run, so the restart tests run with it too.
appendonly yes
appendfsync everysec
# AOF alone is the persistence story; RDB snapshots would only add disk churn.
save ""
# BullMQ requires that Redis never evicts its keys (it warns otherwise).
maxmemory-policy noeviction
EOF
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  redis-server "$REDIS_DIR/redis.conf" >>"$REDIS_LOG" 2>&1 || die "redis-server failed to start" "$REDIS_LOG"
  wait_for Redis "$REDIS_LOG" redis_answers
  log "Redis ready: $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" info server | tr -d '\r' | sed -n 's/^redis_version://p')"
}

redis_stop() {
  local pid
  if pid="$(redis_pid)"; then
    stop_pid Redis "$pid"
  else
    log "Redis (from $REDIS_DIR) not running"
  fi
  rm -f "$REDIS_PID"
}

# ---------------------------------------------------------------------- S3 --

# A plain GET of the bucket (a ListObjects): 200 means the server is up *and*
# the bucket exists. s3rver answers unsigned requests; node is used rather
# than curl because node is the one tool CI is guaranteed to have.
s3_answers() {
  node -e '
    fetch(process.argv[1], { signal: AbortSignal.timeout(2000) })
      .then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1));
  ' "http://127.0.0.1:$S3_PORT/$S3_BUCKET"
}

s3_pid() { pid_from "$S3_PID" "$S3_DATA"; }

# Installed beside its data rather than in package.json: it is a test fixture
# for CI, not something the app or its users ever load.
s3_install() {
  # Loading the module (not just finding its package.json) also catches a
  # half-finished install whose dependencies never arrived.
  if node -e '
    const [dir, want] = process.argv.slice(1);
    require(dir + "/node_modules/s3rver");
    process.exit(require(dir + "/node_modules/s3rver/package.json").version === want ? 0 : 1);
  ' "$S3_DIR" "$S3RVER_VERSION" >/dev/null 2>&1; then
    return 0
  fi
  log "installing s3rver@$S3RVER_VERSION into $S3_DIR"
  mkdir -p "$S3_DIR"
  # --ignore-scripts: nothing in its tree needs an install script, and none
  # should run as root on CI.
  npm install --prefix "$S3_DIR" --no-audit --no-fund --no-update-notifier --ignore-scripts --loglevel=error \
    "s3rver@$S3RVER_VERSION" >&2 || die "npm install s3rver@$S3RVER_VERSION failed"
}

s3_start() {
  if s3_answers; then
    log "S3 already answers on 127.0.0.1:$S3_PORT with bucket $S3_BUCKET; reusing it"
    return 0
  fi
  s3_install
  mkdir -p "$S3_DATA"
  local pid
  if pid="$(s3_pid)"; then
    log "s3rver from $S3_DIR (pid $pid) does not answer on $S3_PORT; restarting it"
    stop_pid s3rver "$pid"
  fi
  rm -f "$S3_PID"

  log "starting s3rver on 127.0.0.1:$S3_PORT"
  # setsid: its own session, so a Ctrl-C in the terminal that ran this script
  # doesn't take it down; all three fds go to the log so it never holds CI's
  # output pipe open after the job is done. --configure-bucket is idempotent
  # (it only warns when the bucket already exists).
  setsid node "$S3_DIR/node_modules/s3rver/bin/s3rver.js" \
    --directory "$S3_DATA" --address 127.0.0.1 --port "$S3_PORT" \
    --configure-bucket "$S3_BUCKET" </dev/null >>"$S3_LOG" 2>&1 &
  echo $! >"$S3_PID"
  wait_for s3rver "$S3_LOG" s3_answers
  log "S3 ready: s3rver $S3RVER_VERSION, bucket $S3_BUCKET"
}

s3_stop() {
  local pid
  if pid="$(s3_pid)"; then
    stop_pid s3rver "$pid"
  else
    log "s3rver (from $S3_DIR) not running"
  fi
  rm -f "$S3_PID"
}

# --------------------------------------------------------------------- env --

write_env() {
  local env
  env="$(
    cat <<EOF
export DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/examday
export PGBOUNCER_URL=postgres://postgres@127.0.0.1:$PGB_PORT/examday
export REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export S3_BUCKET=$S3_BUCKET
export S3_REGION=us-east-1
export S3_ACCESS_KEY_ID=S3RVER
export S3_SECRET_ACCESS_KEY=S3RVER
export S3_FORCE_PATH_STYLE=true
EOF
  )"
  # Write-then-rename so a reader never sources half a file.
  printf '%s\n' "$env" >"$DIR/env.tmp"
  mv "$DIR/env.tmp" "$DIR/env"
  log "environment written to $DIR/env"
  printf '%s\n' "$env"
}

# -------------------------------------------------------------------- main --

# timed NAME COMMAND...: CI has a time budget, so say where start-up time goes.
timed() {
  local t0
  t0=$(date +%s%3N)
  "$@"
  local ms=$(($(date +%s%3N) - t0))
  log "$1 took $((ms / 1000)).$((ms % 1000 / 100))s"
}

cmd_start() {
  local started=$SECONDS
  install -d -m 755 "$DIR"
  timed ensure_packages
  timed pg_start
  timed pgb_start
  timed redis_start
  timed s3_start
  write_env
  log "all services up in $((SECONDS - started))s"
}

cmd_stop() {
  # Each stop is independent: one that is already down must not keep the
  # others running.
  s3_stop
  redis_stop
  pgb_stop
  pg_stop
}

cmd_status() {
  local rc=0
  if [[ -x "$PG_BIN/pg_isready" ]] && pg_answers; then log "PostgreSQL up on $PG_PORT"; else log "PostgreSQL down"; rc=1; fi
  if [[ -x "$PG_BIN/pg_isready" ]] && pgb_answers; then log "PgBouncer up on $PGB_PORT"; else log "PgBouncer down"; rc=1; fi
  if command -v redis-cli >/dev/null && redis_answers; then log "Redis up on $REDIS_PORT"; else log "Redis down"; rc=1; fi
  if s3_answers; then log "S3 up on $S3_PORT"; else log "S3 down"; rc=1; fi
  return "$rc"
}

case "${1:-start}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 [start|stop|status]" >&2
    exit 2
    ;;
esac
