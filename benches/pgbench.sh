#!/usr/bin/env bash
# End-to-end benchmark: pgbench -S straight to PostgreSQL, through shardgate, and through
# PgBouncer, all in transaction pooling mode in front of one database. Not run in CI.
#
#   benches/pgbench.sh
#
# It starts a throw-away PostgreSQL cluster, loads `pgbench -i -s $SCALE`, starts shardgate
# and PgBouncer with the same pool size in front of it, runs every cell of the matrix against
# the three targets in turn (so that drift on the machine hits all three alike), and prints a
# markdown table of median TPS. Everything it started is stopped on exit.
#
# Environment (defaults in brackets):
#   DURATION        seconds per pgbench run [10]
#   ROUNDS          rounds of the whole matrix; the table shows the median [3]
#   POOL_SIZE       server connections per pool, shardgate pool.size = PgBouncer
#                   default_pool_size [20]
#   CLIENTS         client counts [1 16 64]
#   MODES           pgbench query modes [simple extended prepared]
#   JOBS            pgbench threads (-j), capped at the client count [2]
#   CONNECT_CLIENTS clients for the connect-per-transaction (-C, simple) row; empty skips it [16]
#   SCALE           pgbench scale factor [10]
#   WARMUP          seconds of unmeasured load per target before round 1 [3]
#   OUT             where the markdown report goes [/tmp/shardgate-pgbench.md];
#                   logs are copied next to it, into ${OUT%.md}-logs/
#   CARGO_TARGET_DIR  cargo's target directory [<repo>/target]
#   SKIP_BUILD=1    use the existing release binary instead of running cargo build --release
#   PGBOUNCER       the pgbouncer binary [found on PATH; installed with apt-get if missing]
#   WORKLOAD        select-only [pgbench -S] or tenant: a point select keyed by tenant_id on
#                   a table of $TENANTS tenants, run also through a fourth target, `sharded`:
#                   shardgate routing over 4 shards (4 databases of the same cluster, split by
#                   PostgreSQL's hash of tenant_id), compared with the single-shard pooler
#   TENANTS         rows of the tenant workload's table [100000]
#   SCATTER=1       tenant workload: also read every row across the 4 shards (and ORDER BY …
#                   LIMIT, aggregates), timed, with the proxy's peak RSS (use TENANTS=10000000
#                   for the 10-million-row figure)
#   SHARD_POOL_SIZE server connections per shard for `sharded` [POOL_SIZE/4: the four
#                   shards share one PostgreSQL, so equal totals compare the proxies fairly]
#   SWEEP_POOL_SIZES  also create a shardgate user `pool<n>` (password bench) whose pool has n
#                   server connections per shard, for each n listed (benches/pool-sweep.sh) []
#   PING_AFTER_IDLE_MS  shardgate's pool.ping_after_idle_ms [its default, 1000]
#   WORKERS         shardgate's runtime threads (`workers:`) [its default: 1 on ≤ 2 cores]
#   HOLD=1          start PostgreSQL, shardgate and PgBouncer, write their ports and PIDs to
#                   ${OUT%.md}.env and wait (for profiling by hand) instead of running pgbench
#   SYSCALLS=1      also count the pooler's system calls per transaction (perf stat on the
#                   raw_syscalls:sys_enter tracepoint; needs perf and root)
#
# Besides TPS, the report gives each pooler's CPU time per transaction (user + system, from
# /proc/<pid>/stat over the run). On a shared 2-core machine TPS moves by ±10 % between
# identical runs; CPU per transaction moves much less, so it is the figure to compare changes.
#
# Requirements: Linux, bash, cargo; PostgreSQL server binaries (13 or newer) and pgbouncer are
# installed with apt-get when missing. Run as root (server programs are then started as the
# postgres OS user, since PostgreSQL and PgBouncer refuse to run as root) or as a user that
# can run initdb itself.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$PWD

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
POOL_SIZE=${POOL_SIZE:-20}
CLIENTS=${CLIENTS:-1 16 64}
MODES=${MODES:-simple extended prepared}
JOBS=${JOBS:-2}
CONNECT_CLIENTS=${CONNECT_CLIENTS-16}
SCALE=${SCALE:-10}
WARMUP=${WARMUP:-3}
OUT=${OUT:-/tmp/shardgate-pgbench.md}
LOGS_OUT=${OUT%.md}-logs
BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/shardgate
WORKLOAD=${WORKLOAD:-select-only}
TENANTS=${TENANTS:-100000}
# The four shards share one PostgreSQL here, so by default they share the single shard's
# server connections too (POOL_SIZE/4 each): the comparison then measures the proxy, not 4×
# as many backends competing for the same cores.
SHARD_POOL_SIZE=${SHARD_POOL_SIZE:-$(( POOL_SIZE / 4 > 0 ? POOL_SIZE / 4 : 1 ))}
TARGETS=(direct shardgate pgbouncer)
if [ "$WORKLOAD" = tenant ]; then
    TARGETS=(direct shardgate sharded pgbouncer)
fi

# shellcheck source=benches/lib.sh
. "$REPO/benches/lib.sh"

# --- state for cleanup ---------------------------------------------------------------------
WORK=""
PG_BIN=""
PG_STARTED=""
SG_PID=""
PB_PID=""          # pgbouncer itself (from its pidfile)
PB_WRAPPER_PID=""  # the runuser process that started it
RUN_PID=""         # the pgbench run in progress

copy_logs() {
    [ -n "$WORK" ] && [ -d "$WORK" ] || return 0
    mkdir -p "$LOGS_OUT"
    cp -f "$WORK"/shardgate.log "$WORK"/shardgate.yaml "$WORK"/pg/postgres.log \
        "$WORK"/pgb/pgbouncer.log "$WORK"/pgb/pgbouncer.ini "$LOGS_OUT"/ 2>/dev/null || true
    if [ -d "$WORK/runs" ]; then
        rm -rf "$LOGS_OUT/runs"
        cp -r "$WORK/runs" "$LOGS_OUT/runs"
    fi
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$RUN_PID" ]; then
        stop_pid "$RUN_PID"
        wait "$RUN_PID" 2>/dev/null || true
    fi
    copy_logs
    if [ -n "$SG_PID" ]; then
        stop_pid "$SG_PID"
        wait "$SG_PID" 2>/dev/null || true
    fi
    # PgBouncer may have written its pidfile before the script read it (a failed start of
    # something else in between): stopping only the runuser wrapper would leave it running.
    if [ -z "$PB_PID" ] && [ -n "$WORK" ] && [ -s "$WORK/pgb/pgbouncer.pid" ]; then
        PB_PID=$(cat "$WORK/pgb/pgbouncer.pid" 2>/dev/null || true)
    fi
    if [ -n "$PB_PID" ]; then
        stop_pid "$PB_PID"
    fi
    if [ -n "$PB_WRAPPER_PID" ]; then
        stop_pid "$PB_WRAPPER_PID"
        wait "$PB_WRAPPER_PID" 2>/dev/null || true
    fi
    stop_cluster
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- prerequisites -------------------------------------------------------------------------
if ! pg_bin_dir >/dev/null; then
    say "installing PostgreSQL"
    apt_install postgresql
fi
PG_BIN=$(pg_bin_dir) || die "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
PGBENCH=$PG_BIN/pgbench
[ -x "$PGBENCH" ] || PGBENCH=$(command -v pgbench) || die "pgbench not found"

PGBOUNCER=${PGBOUNCER:-$(command -v pgbouncer || true)}
if [ -z "$PGBOUNCER" ]; then
    say "installing pgbouncer"
    apt_install pgbouncer
    PGBOUNCER=$(command -v pgbouncer) || die "pgbouncer not found after installing it"
fi
if is_root && ! id postgres >/dev/null 2>&1; then
    say "creating the postgres OS user"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

PG_VERSION=$("$PG_BIN/postgres" --version | sed 's/^postgres (PostgreSQL) //')
PB_VERSION=$("$PGBOUNCER" --version | head -n 1 | awk '{print $2}')
# max_prepared_statements (protocol-level prepared statements in transaction mode) arrived
# in PgBouncer 1.21. Older versions cannot run -M prepared in transaction mode at all.
PB_PREPARED=""
if [ "$(printf '%s\n1.21.0\n' "$PB_VERSION" | sort -V | head -n 1)" = "1.21.0" ]; then
    PB_PREPARED=yes
fi

if [ "${SKIP_BUILD:-}" != 1 ]; then
    command -v cargo >/dev/null || die "cargo not found: install Rust from https://rustup.rs"
    say "building shardgate (cargo build --release)"
    cargo build --release
fi
[ -x "$BIN" ] || die "$BIN not found (build it with cargo build --release)"
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    COMMIT="$COMMIT (with uncommitted changes)"
fi
if [ "${SKIP_BUILD:-}" = 1 ]; then
    COMMIT="$COMMIT (checkout; the binary was not rebuilt: SKIP_BUILD=1)"
fi

# --- a throw-away PostgreSQL cluster -------------------------------------------------------
WORK=$(mktemp -d /tmp/shardgate-pgbench.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK/pgb" "$WORK/runs"
if is_root; then
    chown postgres: "$WORK/pgb"
fi
start_cluster

export PGSSLMODE=disable PGGSSENCMODE=disable PGPASSWORD=bench PGUSER=bench PGDATABASE=bench \
    PGHOST=127.0.0.1
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$WORK/pg" -p "$PG_PORT" -U postgres -d postgres \
    -c "SET password_encryption = 'scram-sha-256'" \
    -c "CREATE ROLE bench LOGIN PASSWORD 'bench'" \
    -c "CREATE DATABASE bench OWNER bench"
say "loading pgbench -i -s $SCALE"
"$PGBENCH" -i -q -s "$SCALE" -p "$PG_PORT" >"$WORK/runs/init.log" 2>&1 \
    || { cat "$WORK/runs/init.log" >&2; die "pgbench -i failed"; }

# The tenant workload (benches/lib.sh): one table keyed by tenant_id, whole in `bench`, split
# by hash range over bench_0 … bench_3.
if [ "$WORKLOAD" = tenant ]; then
    load_tenants "$TENANTS"
fi

# --- shardgate -----------------------------------------------------------------------------
SG_PORT=$(free_port)
write_map4 "$WORK/map4.yaml"

cat >"$WORK/map.yaml" <<EOF
# One shard: shardgate as a pure pooler in front of the benchmark cluster.
version: 1
shards:
  - name: main
    primary:
      host: 127.0.0.1
      port: $PG_PORT
      database: bench
EOF
cat >"$WORK/shardgate.yaml" <<EOF
listen: 127.0.0.1:$SG_PORT
$(if [ -n "${WORKERS:-}" ]; then printf 'workers: %s\n' "$WORKERS"; fi)
tls:
  mode: disable
databases:
  bench:
    shard_map: map.yaml
$(if [ "$WORKLOAD" = tenant ]; then printf '  bench4:\n    shard_map: map4.yaml\n'; fi)
users:
  - name: bench
    password: bench
    auth: scram-sha-256
  - name: bench4
    password: bench
    auth: scram-sha-256
    server_user: bench
    server_password: bench
    pool_size: $SHARD_POOL_SIZE
$(for n in ${SWEEP_POOL_SIZES:-}; do
    printf '  - name: pool%s\n    password: bench\n    auth: scram-sha-256\n' "$n"
    printf '    server_user: bench\n    server_password: bench\n    pool_size: %s\n' "$n"
done)
pool:
  mode: transaction
  size: $POOL_SIZE
  min_idle: 0
  max_client_conn: 1000
  checkout_timeout_ms: 5000
  idle_timeout_s: 600
  lifetime_s: 3600
  query_timeout_ms: 0
  max_prepared_per_server: 200
$(if [ -n "${PING_AFTER_IDLE_MS:-}" ]; then printf '  ping_after_idle_ms: %s\n' "$PING_AFTER_IDLE_MS"; fi)
# Metrics on, as in production, on a port the OS picks (a fixed one may be taken).
metrics:
  listen: 127.0.0.1:0
EOF
say "starting shardgate on port $SG_PORT (pool.size $POOL_SIZE)"
NO_COLOR=1 "$BIN" run --config "$WORK/shardgate.yaml" >"$WORK/shardgate.log" 2>&1 </dev/null &
SG_PID=$!

# --- PgBouncer -----------------------------------------------------------------------------
PB_PORT=$(free_port)
printf '"bench" "bench"\n' >"$WORK/pgb/userlist.txt"
{
    echo "[databases]"
    echo "bench = host=127.0.0.1 port=$PG_PORT dbname=bench"
    echo
    echo "[pgbouncer]"
    echo "listen_addr = 127.0.0.1"
    echo "listen_port = $PB_PORT"
    echo "unix_socket_dir = $WORK/pgb"
    echo "auth_type = scram-sha-256"
    echo "auth_file = $WORK/pgb/userlist.txt"
    echo "pool_mode = transaction"
    echo "default_pool_size = $POOL_SIZE"
    echo "max_client_conn = 1000"
    echo "logfile = $WORK/pgb/pgbouncer.log"
    echo "pidfile = $WORK/pgb/pgbouncer.pid"
    if [ -n "$PB_PREPARED" ]; then
        echo "max_prepared_statements = 200"
    fi
} >"$WORK/pgb/pgbouncer.ini"
if is_root; then chown postgres: "$WORK/pgb/userlist.txt" "$WORK/pgb/pgbouncer.ini"; fi
chmod 600 "$WORK/pgb/userlist.txt"
say "starting PgBouncer $PB_VERSION on port $PB_PORT (default_pool_size $POOL_SIZE)"
as_pg_owner "$PGBOUNCER" "$WORK/pgb/pgbouncer.ini" >"$WORK/pgb/stdout.log" 2>&1 </dev/null &
PB_WRAPPER_PID=$!

wait_ready() {
    local name=$1 port=$2 pid=$3
    for _ in $(seq 1 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -d bench -U bench -t 1; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}
wait_ready shardgate "$SG_PORT" "$SG_PID" \
    || { tail -n 20 "$WORK/shardgate.log" >&2 || true; die "shardgate did not start"; }
wait_ready pgbouncer "$PB_PORT" "$PB_WRAPPER_PID" \
    || { tail -n 20 "$WORK/pgb/pgbouncer.log" "$WORK/pgb/stdout.log" >&2 || true; die "PgBouncer did not start"; }
PB_PID=$(cat "$WORK/pgb/pgbouncer.pid" 2>/dev/null || true)
if [ "${HOLD:-}" = 1 ]; then
    echo "PG_PORT=$PG_PORT SG_PORT=$SG_PORT PB_PORT=$PB_PORT SG_PID=$SG_PID PB_PID=$PB_PID WORK=$WORK" >"${OUT%.md}.env"
    say "holding: ports and PIDs in ${OUT%.md}.env; Ctrl-C stops everything"
    sleep infinity & RUN_PID=$!; wait "$RUN_PID"
fi

target_port() {
    case $1 in
        direct) echo "$PG_PORT" ;;
        shardgate | sharded) echo "$SG_PORT" ;;
        pgbouncer) echo "$PB_PORT" ;;
    esac
}

target_user() {
    if [ "$1" = sharded ]; then echo bench4; else echo bench; fi
}

target_db() {
    if [ "$1" = sharded ]; then echo bench4; else echo bench; fi
}

# What pgbench runs: -S, or the tenant script.
workload_args() {
    if [ "$WORKLOAD" = tenant ]; then echo "-f $WORK/tenant.sql"; else echo "-S"; fi
}

# Whether a target takes part in a mode at all.
target_supports() {
    local target=$1 mode=$2
    if [ "$target" = pgbouncer ] && [ "$mode" = prepared ] && [ -z "$PB_PREPARED" ]; then
        return 1
    fi
    return 0
}

# --- the runs ------------------------------------------------------------------------------
RESULTS=$WORK/results.tsv   # round, mode label, clients, target, tps or FAIL, pooler µs CPU/txn, syscalls/txn
: >"$RESULTS"
FAILURES=$WORK/failures.txt
: >"$FAILURES"

# pooler_pid TARGET: the process whose CPU a run charges to the pooler (none for direct).
pooler_pid() {
    case $1 in
        shardgate | sharded) echo "$SG_PID" ;;
        pgbouncer) echo "$PB_PID" ;;
    esac
}

# cpu_ticks PID: user + system time of a process so far, in clock ticks.
cpu_ticks() {
    # Fields 14 and 15 of /proc/<pid>/stat, counted after the ")" that ends the command name.
    sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# run_one ROUND TARGET MODE CLIENTS [extra pgbench args...]
run_one() {
    local round=$1 target=$2 mode=$3 clients=$4
    shift 4
    local port jobs label log tps status
    port=$(target_port "$target")
    jobs=$((JOBS < clients ? JOBS : clients))
    label=$mode
    if [ "$#" -gt 0 ]; then label="$mode $*"; fi
    log="$WORK/runs/r${round}-${target}-${mode}$(printf '%s' "$*" | tr -d ' ')-c${clients}.log"
    # shellcheck disable=SC2046 # workload_args is two words on purpose
    local cmd=("$PGBENCH" -n $(workload_args) -T "$DURATION" -c "$clients" -j "$jobs" -M "$mode" "$@" -h 127.0.0.1 -p "$port" -U "$(target_user "$target")" "$(target_db "$target")")
    status=0
    local pid ticks_before="" perf_pid="" perf_out="$log.perf"
    pid=$(pooler_pid "$target")
    if [ -n "$pid" ]; then
        ticks_before=$(cpu_ticks "$pid")
        if [ "${SYSCALLS:-}" = 1 ]; then
            perf stat -x, -e raw_syscalls:sys_enter -p "$pid" -o "$perf_out" &
            perf_pid=$!
        fi
    fi
    # A generous limit: a run that hangs must not hang the whole benchmark.
    # Run in the background and wait, so that a TERM to this script is acted on at once.
    timeout --kill-after=10 $((DURATION * 3 + 30)) "${cmd[@]}" >"$log" 2>&1 &
    RUN_PID=$!
    wait "$RUN_PID" || status=$?
    RUN_PID=""
    local cpu_us="" syscalls="" txns
    txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$log" | head -n 1)
    if [ -n "$perf_pid" ]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
        syscalls=$(awk -F, -v n="${txns:-0}" '/raw_syscalls/ && n > 0 { printf "%.1f", $1 / n }' "$perf_out" 2>/dev/null)
    fi
    if [ -n "$ticks_before" ] && [ "${txns:-0}" -gt 0 ]; then
        cpu_us=$(awk -v a="$ticks_before" -v b="$(cpu_ticks "$pid")" -v hz="$(getconf CLK_TCK)" -v n="$txns" \
            'BEGIN { printf "%.1f", (b - a) * 1000000 / hz / n }')
    fi
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$log" | head -n 1)
    local failed
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$log" | head -n 1)
    if [ "$status" -ne 0 ] || [ -z "$tps" ] || [ "${failed:-0}" != 0 ]; then
        {
            printf -- '- round %s, %s, %s, %s clients: ' "$round" "$target" "$label" "$clients"
            if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
                printf 'pgbench did not finish within %s s (hang)' $((DURATION * 3 + 30))
            else
                printf 'pgbench exit status %s, failed transactions %s' "$status" "${failed:-?}"
            fi
            printf '; command: `%s`\n' "${cmd[*]#"$PG_BIN/"}"
            grep -E 'error|ERROR|FATAL|aborted' "$log" | sort | uniq -c | sort -rn | head -n 5 | sed 's/^/      /' || true
        } >>"$FAILURES"
        printf '%s\t%s\t%s\t%s\tFAIL\n' "$round" "$label" "$clients" "$target" >>"$RESULTS"
        say "  $target $label c=$clients: FAILED (status $status; see $log)"
    else
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$label" "$clients" "$target" "$tps" "$cpu_us" "$syscalls" >>"$RESULTS"
        say "  $target $label c=$clients: $tps tps${cpu_us:+, pooler ${cpu_us} µs CPU/txn}${syscalls:+, $syscalls syscalls/txn}"
    fi
    if { [ "$target" = shardgate ] || [ "$target" = sharded ]; } && ! kill -0 "$SG_PID" 2>/dev/null; then
        tail -n 40 "$WORK/shardgate.log" >&2 || true
        echo "- shardgate exited during the run above; the rest was skipped" >>"$FAILURES"
        die "shardgate exited; its log is above"
    fi
}

# The order of the three targets rotates from round to round, so that none always runs first.
ordered_targets() {
    local round=$1 i n=${#TARGETS[@]}
    for i in $(seq 0 $((n - 1))); do
        echo "${TARGETS[$(((i + round - 1) % n))]}"
    done
}

LOADAVG_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED_AT=$(date -u '+%Y-%m-%d %H:%M UTC')

if [ "$WARMUP" -gt 0 ]; then
    say "warm-up: $WARMUP s per target"
    for target in "${TARGETS[@]}"; do
        # shellcheck disable=SC2046
        timeout 60 "$PGBENCH" -n $(workload_args) -T "$WARMUP" -c 16 -j "$JOBS" -h 127.0.0.1 -p "$(target_port "$target")" \
            -U "$(target_user "$target")" "$(target_db "$target")" >"$WORK/runs/warmup-$target.log" 2>&1 \
            || say "  warm-up against $target failed; see the logs"
    done
fi

for round in $(seq 1 "$ROUNDS"); do
    say "round $round of $ROUNDS"
    for mode in $MODES; do
        for clients in $CLIENTS; do
            for target in $(ordered_targets "$round"); do
                target_supports "$target" "$mode" || continue
                run_one "$round" "$target" "$mode" "$clients"
            done
        done
    done
    if [ -n "$CONNECT_CLIENTS" ]; then
        for target in $(ordered_targets "$round"); do
            run_one "$round" "$target" simple "$CONNECT_CLIENTS" -C
        done
    fi
done
LOADAVG_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- cross-shard reads: streaming at constant proxy memory ------------------------------------
# SCATTER=1 (tenant workload): every row of tenant_accounts read through the 4-shard target
# (a scatter: no key) and straight from the whole table, timed, while the proxy's resident
# memory is sampled; then the same for an ORDER BY … LIMIT merge.
SCATTER_REPORT=""
# scatter_run LABEL PORT USER DB SQL: seconds and peak proxy RSS while psql reads everything.
scatter_run() {
    local label=$1 port=$2 user=$3 db=$4 sql=$5 start end peak=0 now pid
    start=$(date +%s.%N)
    "$PG_BIN/psql" -X -q -At -h 127.0.0.1 -p "$port" -U "$user" -d "$db" -c "$sql" >/dev/null &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        now=$(rss_kb "$SG_PID")
        [ "$now" -gt "$peak" ] && peak=$now
        sleep 0.05
    done
    wait "$pid" || die "scatter run failed: $label"
    end=$(date +%s.%N)
    SCATTER_REPORT+="| $label | $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }') | $((peak / 1024)) |"$'\n'
}
if [ "$WORKLOAD" = tenant ] && [ "${SCATTER:-}" = 1 ]; then
    say "scatter: $TENANTS rows across 4 shards, proxy RSS sampled"
    idle_rss=$(rss_kb "$SG_PID")
    SCATTER_REPORT+="| proxy idle | – | $((idle_rss / 1024)) |"$'\n'
    scatter_run "direct, one table: SELECT *" "$PG_PORT" bench bench "SELECT * FROM tenant_accounts"
    scatter_run "shardgate, 4 shards: SELECT * (scatter)" "$SG_PORT" bench4 bench4 "SELECT * FROM tenant_accounts"
    scatter_run "direct: ORDER BY tenant_id DESC LIMIT 20" "$PG_PORT" bench bench \
        "SELECT * FROM tenant_accounts ORDER BY tenant_id DESC LIMIT 20"
    scatter_run "shardgate, 4 shards: ORDER BY tenant_id DESC LIMIT 20" "$SG_PORT" bench4 bench4 \
        "SELECT * FROM tenant_accounts ORDER BY tenant_id DESC LIMIT 20"
    scatter_run "direct: count(*), sum, avg" "$PG_PORT" bench bench \
        "SELECT count(*), sum(balance), avg(tenant_id) FROM tenant_accounts"
    scatter_run "shardgate, 4 shards: count(*), sum, avg" "$SG_PORT" bench4 bench4 \
        "SELECT count(*), sum(balance), avg(tenant_id) FROM tenant_accounts"
fi

# --- the report ----------------------------------------------------------------------------
# median LABEL CLIENTS TARGET [COLUMN FORMAT]: the median over the rounds of TPS (column 5) or
# another column of $RESULTS, "fail" if any run failed, "n/a" if the target did not take part
# or the column was not measured.
median() {
    awk -F'\t' -v l="$1" -v c="$2" -v t="$3" -v col="${4:-5}" -v fmt="${5:-%.0f}" '
        $2 == l && $3 == c && $4 == t { if ($5 == "FAIL") bad = 1; else if ($col != "") v[n++] = $col + 0 }
        END {
            if (bad) { print "fail"; exit }
            if (n == 0) { print "n/a"; exit }
            for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
            m = (n % 2) ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
            printf fmt "\n", m
        }' "$RESULTS"
}
ratio() {
    if [[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ && $2 -gt 0 ]]; then
        awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", a / b }'
    else
        echo "–"
    fi
}

ROW_LABELS=()
for mode in $MODES; do
    for clients in $CLIENTS; do
        ROW_LABELS+=("$mode|$clients")
    done
done
if [ -n "$CONNECT_CLIENTS" ]; then
    ROW_LABELS+=("simple -C|$CONNECT_CLIENTS")
fi

table_tenant() {
    echo "| mode | clients | direct TPS | shardgate 1 shard TPS | shardgate 4 shards TPS | PgBouncer TPS | 4 shards / 1 shard | 1 shard / PgBouncer |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    local row label clients d s q p
    for row in "${ROW_LABELS[@]}"; do
        label=${row%|*}
        clients=${row#*|}
        d=$(median "$label" "$clients" direct)
        s=$(median "$label" "$clients" shardgate)
        q=$(median "$label" "$clients" sharded)
        p=$(median "$label" "$clients" pgbouncer)
        echo "| $label | $clients | $d | $s | $q | $p | $(ratio "$q" "$s") | $(ratio "$s" "$p") |"
    done
}

table() {
    if [ "$WORKLOAD" = tenant ]; then
        table_tenant
        return
    fi
    echo "| mode | clients | direct TPS | shardgate TPS | PgBouncer TPS | shardgate / direct | shardgate / PgBouncer |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    local row label clients d s p
    for row in "${ROW_LABELS[@]}"; do
        label=${row%|*}
        clients=${row#*|}
        d=$(median "$label" "$clients" direct)
        s=$(median "$label" "$clients" shardgate)
        p=$(median "$label" "$clients" pgbouncer)
        echo "| $label | $clients | $d | $s | $p | $(ratio "$s" "$d") | $(ratio "$s" "$p") |"
    done
}

# The poolers' own cost per transaction: CPU time and (SYSCALLS=1) system calls.
table_cost() {
    local targets=(shardgate pgbouncer) header="| mode | clients | shardgate µs CPU/txn | PgBouncer µs CPU/txn |"
    if [ "$WORKLOAD" = tenant ]; then
        targets=(shardgate sharded pgbouncer)
        header="| mode | clients | shardgate 1 shard µs CPU/txn | shardgate 4 shards µs CPU/txn | PgBouncer µs CPU/txn |"
    fi
    if [ "${SYSCALLS:-}" = 1 ]; then
        header+=" shardgate syscalls/txn | PgBouncer syscalls/txn |"
    fi
    echo "$header"
    local cols sep="|---|"
    cols=$(($(tr -cd '|' <<<"$header" | wc -c) - 2))
    for _ in $(seq 1 "$cols"); do sep+="---:|"; done
    echo "$sep"
    local row label clients target line
    for row in "${ROW_LABELS[@]}"; do
        label=${row%|*}
        clients=${row#*|}
        line="| $label | $clients |"
        for target in "${targets[@]}"; do
            line+=" $(median "$label" "$clients" "$target" 6 %.1f) |"
        done
        if [ "${SYSCALLS:-}" = 1 ]; then
            for target in shardgate pgbouncer; do
                line+=" $(median "$label" "$clients" "$target" 7 %.1f) |"
            done
        fi
        echo "$line"
    done
}

per_round() {
    local row label clients target
    for row in "${ROW_LABELS[@]}"; do
        label=${row%|*}
        clients=${row#*|}
        for target in "${TARGETS[@]}"; do
            printf '%-22s %-10s %s\n' "$label c=$clients" "$target" \
                "$(awk -F'\t' -v l="$label" -v c="$clients" -v t="$target" \
                    '$2 == l && $3 == c && $4 == t { printf "%s ", $5 }' "$RESULTS")"
        done
    done
}

CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
REPORT=$(
    if [ "$WORKLOAD" = tenant ]; then
        echo "## pgbench, point select by tenant_id ($TENANTS tenants): one shard vs four shards"
    else
        echo "## pgbench -S, transaction pooling, one database"
    fi
    echo
    echo "- date: $STARTED_AT"
    echo "- machine: $(nproc) CPUs ($CPU_MODEL), $(uname -sr); load average before/after: $LOADAVG_BEFORE / $LOADAVG_AFTER"
    echo "- PostgreSQL $PG_VERSION (fsync=off, shared_buffers=128MB, max_connections=300), pgbench scale $SCALE"
    echo "- PgBouncer $PB_VERSION; shardgate $COMMIT"
    echo "- pool size $POOL_SIZE server connections (shardgate pool.size, PgBouncer default_pool_size), transaction mode, SCRAM-SHA-256 everywhere, loopback TCP, sslmode=disable"
    if [ "$WORKLOAD" = tenant ]; then
        if [ $(( SHARD_POOL_SIZE * 4 )) -le "$POOL_SIZE" ]; then
            echo "- 4 shards: $SHARD_POOL_SIZE server connections per shard (user bench4), so all targets use at most $POOL_SIZE backends of the one PostgreSQL"
        else
            echo "- 4 shards: $SHARD_POOL_SIZE server connections per shard (user bench4; SHARD_POOL_SIZE=$SHARD_POOL_SIZE), up to $(( SHARD_POOL_SIZE * 4 )) backends of the one PostgreSQL against $POOL_SIZE for the other targets"
        fi
    fi
    echo "- each cell: \`pgbench -n -S -T $DURATION -c <clients> -j min($JOBS,<clients>) -M <mode>\`, median of $ROUNDS round(s); targets interleaved per cell"
    echo "- command: \`WORKLOAD=$WORKLOAD DURATION=$DURATION ROUNDS=$ROUNDS POOL_SIZE=$POOL_SIZE SHARD_POOL_SIZE=$SHARD_POOL_SIZE benches/pgbench.sh\`"
    echo
    table
    echo
    echo "Pooler cost per transaction (median over rounds; CPU is user + system time of the pooler process):"
    echo
    table_cost
    echo
    if [ -z "$PB_PREPARED" ]; then
        echo "PgBouncer $PB_VERSION has no max_prepared_statements (added in 1.21), so it cannot serve"
        echo "\`-M prepared\` in transaction mode: those cells are n/a."
        echo
    fi
    if [ -s "$FAILURES" ]; then
        echo "Failed runs (\"fail\" in the table):"
        echo
        cat "$FAILURES"
        echo
    fi
    echo "Per-round TPS:"
    echo
    echo '```'
    per_round
    echo '```'
    if [ -n "$SCATTER_REPORT" ]; then
        echo
        echo "## cross-shard reads of $TENANTS rows (psql, output discarded)"
        echo
        echo "| read | seconds | proxy peak RSS MiB |"
        echo "|---|---:|---:|"
        printf '%s' "$SCATTER_REPORT"
    fi
)
mkdir -p "$(dirname "$OUT")"
printf '%s\n' "$REPORT" >"$OUT"
printf '\n%s\n\n' "$REPORT"
say "report written to $OUT; logs in $LOGS_OUT/"
