#!/usr/bin/env bash
# CPU instructions per transaction of shardgate and of PgBouncer, counted by valgrind's
# callgrind under `pgbench -S` (simple and extended protocol). Not run in CI.
#
#   benches/instructions.sh
#
# Why: on a shared 2-core machine TPS and CPU time move by 10-20 % from run to run, more than
# most changes to the proxy's own code. Instruction counts are exact and repeatable (the same
# shardgate build gives the same count within ~0.5 %; PgBouncer's once-a-second maintenance
# adds up to ~10 % to its own), so they show what a change to the hot path saves, and how far
# the proxy is from PgBouncer, where TPS cannot. They do not count the kernel's socket work
# (the same for both proxies) or cache misses.
#
# Method: each proxy runs under callgrind (which runs threads one at a time; on two cores
# shardgate has one runtime thread anyway); pgbench runs N1 and then N2 transactions per
# client (fresh connections each time, so logins are counted in both) and the counters are
# dumped after each; instructions per transaction = (I(N2) - I(N1)) / (clients * (N2 - N1)),
# which cancels logins, pool fill and start-up.
#
# Environment (defaults in brackets):
#   CLIENTS      pgbench clients [4]
#   POOL_SIZE    servers per pool, shardgate pool.size = min_idle = PgBouncer default_pool_size
#                [CLIENTS]; above CLIENTS, shardgate's clients keep their servers between
#                transactions (the pool has room), as under benches/pgbench.sh (20 for 16)
#   N1, N2       transactions per client of the two runs [300 1500]
#   MODES        pgbench query modes [simple extended]; prepared is counted for shardgate
#                (PgBouncer before 1.22 cannot serve it in transaction mode: "–")
#   WORKLOAD     select-only [pgbench -S], or tenant: a point select by tenant_id (the
#                tenant script of pgbench.sh, TENANTS rows [100000]) through shardgate in
#                front of one database and through shardgate routing over four shards
#                (`shardgate-4`, the same process), beside PgBouncer — what routing costs
#   OUT          the markdown report [/tmp/shardgate-instructions.md]
#   SKIP_BUILD=1 use the existing release binary
#   FLOOR=1      also count examples/relay_floor (select-only workload): a bare tokio relay
#                with a server connection per client, the floor of a proxy on tokio's futures
#   KEEP         a directory to copy the callgrind dumps to (compare two dumps of one target
#                with callgrind_annotate to see where the instructions per transaction go)
#   PGBOUNCER    the pgbouncer binary [found on PATH; installed with apt-get if missing]
#   CARGO_TARGET_DIR  cargo's target directory [<repo>/target]
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$PWD
# shellcheck source=benches/lib.sh
. "$REPO/benches/lib.sh"

CLIENTS=${CLIENTS:-4}
POOL_SIZE=${POOL_SIZE:-$CLIENTS}
N1=${N1:-300}
N2=${N2:-1500}
MODES=${MODES:-simple extended}
WORKLOAD=${WORKLOAD:-select-only}
TENANTS=${TENANTS:-100000}
case "$WORKLOAD" in
    select-only | tenant) ;;
    *) die "WORKLOAD must be select-only or tenant, not $WORKLOAD" ;;
esac
OUT=${OUT:-/tmp/shardgate-instructions.md}
BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/shardgate

WORK=""
SG_PID=""
PB_PID=""
FL_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$SG_PID"
    stop_pid "$PB_PID"
    stop_pid "$FL_PID"
    stop_cluster
    if [ -n "${KEEP:-}" ] && [ -d "$WORK/cg" ]; then mkdir -p "$KEEP" && cp "$WORK"/cg/* "$WORK"/*.log "$KEEP"/; fi
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

require_postgres
PGBENCH=$PG_BIN/pgbench
command -v valgrind >/dev/null || apt_install valgrind
command -v callgrind_control >/dev/null || die "callgrind_control not found (part of valgrind)"
PGBOUNCER=${PGBOUNCER:-$(command -v pgbouncer || true)}
if [ -z "$PGBOUNCER" ]; then
    say "installing pgbouncer"
    apt_install pgbouncer
    PGBOUNCER=$(command -v pgbouncer) || die "pgbouncer not found after installing it"
fi
PB_VERSION=$("$PGBOUNCER" --version | head -n 1 | awk '{print $2}')
if [ "${SKIP_BUILD:-}" != 1 ]; then
    say "building shardgate (cargo build --release)"
    cargo build --release
    if [ "${FLOOR:-}" = 1 ]; then cargo build --release --example relay_floor; fi
fi
[ -x "$BIN" ] || die "$BIN not found (build it with cargo build --release)"
FLOOR_BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/examples/relay_floor
if [ "${FLOOR:-}" = 1 ]; then
    [ "$WORKLOAD" = select-only ] || die "FLOOR=1 needs WORKLOAD=select-only"
    [ -x "$FLOOR_BIN" ] || die "$FLOOR_BIN not found (cargo build --release --example relay_floor)"
fi
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)

WORK=$(mktemp -d /tmp/shardgate-instructions.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK/pgb" "$WORK/cg"
if is_root; then chown postgres: "$WORK/pgb" "$WORK/cg"; fi
start_cluster
export PGSSLMODE=disable PGGSSENCMODE=disable PGPASSWORD=bench PGUSER=bench PGHOST=127.0.0.1
psql_su -d postgres -c "SET password_encryption = 'scram-sha-256'" \
    -c "CREATE ROLE bench LOGIN PASSWORD 'bench'" -c "CREATE DATABASE bench OWNER bench"
"$PGBENCH" -i -q -s 1 -p "$PG_PORT" bench >"$WORK/init.log" 2>&1 || { cat "$WORK/init.log" >&2; die "pgbench -i failed"; }
if [ "$WORKLOAD" = tenant ]; then
    load_tenants "$TENANTS"
    write_map4 "$WORK/map4.yaml"
    SCRIPT=(-f "$WORK/tenant.sql")
else
    SCRIPT=(-S)
fi

SG_PORT=$(free_port)
cat >"$WORK/map.yaml" <<EOF
version: 1
shards:
  - name: main
    primary: { host: 127.0.0.1, port: $PG_PORT, database: bench }
EOF
cat >"$WORK/shardgate.yaml" <<EOF
listen: 127.0.0.1:$SG_PORT
tls: { mode: disable }
databases:
  bench: { shard_map: map.yaml }
$(if [ "$WORKLOAD" = tenant ]; then echo "  bench4: { shard_map: map4.yaml }"; fi)
users:
  - { name: bench, password: bench, auth: scram-sha-256 }
pool: { mode: transaction, size: $POOL_SIZE, min_idle: $POOL_SIZE }
metrics: { listen: 127.0.0.1:0 }
EOF
PB_PORT=$(free_port)
printf '"bench" "bench"\n' >"$WORK/pgb/userlist.txt"
cat >"$WORK/pgb/pgbouncer.ini" <<EOF
[databases]
bench = host=127.0.0.1 port=$PG_PORT dbname=bench
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PB_PORT
unix_socket_dir = $WORK/pgb
auth_type = scram-sha-256
auth_file = $WORK/pgb/userlist.txt
pool_mode = transaction
default_pool_size = $POOL_SIZE
max_client_conn = 100
logfile = $WORK/pgb/pgbouncer.log
EOF
if is_root; then chown postgres: "$WORK/pgb/userlist.txt" "$WORK/pgb/pgbouncer.ini"; fi
chmod 600 "$WORK/pgb/userlist.txt"

wait_port() {
    local port=$1 pid=$2
    for _ in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || return 1
        "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -d bench -U bench -t 1 && return 0
        sleep 0.2
    done
    return 1
}

# Whether this PgBouncer keeps prepared statements in transaction mode
# (max_prepared_statements, on by default from 1.22).
pgbouncer_prepares() {
    local major minor
    IFS=. read -r major minor _ <<<"$PB_VERSION"
    [ "${major:-0}" -gt 1 ] || { [ "${major:-0}" -eq 1 ] && [ "${minor:-0}" -ge 22 ]; }
}

# measure NAME PREFIX PORT PID DB CONTROL...: instructions per transaction for each mode,
# as "NAME MODE COUNT" lines. PREFIX names the process's callgrind dumps; CONTROL is the
# command prefix that may talk to the callgrind.
measure() {
    local name=$1 prefix=$2 port=$3 pid=$4 db=$5 mode n dump i1 i2
    shift 5
    for mode in $MODES; do
        if [ "$name" = pgbouncer ] && [ "$mode" = prepared ] && ! pgbouncer_prepares; then
            continue # no prepared statements in transaction mode before 1.22: "–"
        fi
        "$PGBENCH" -n "${SCRIPT[@]}" -t 50 -c "$CLIENTS" -j 1 -M "$mode" -h 127.0.0.1 -p "$port" "$db" >/dev/null 2>&1 \
            || die "$name: warm-up failed"
        # Every pool holds exactly one server per client before counting starts (pool size =
        # min_idle = clients; the pools' upkeep opens them, one at a time, once a second): a
        # server login (SCRAM, ~11 M instructions) inside a counted run would swamp it. Larger
        # four-shard pools would keep growing run after run, whenever several clients happen
        # to want one shard at once.
        sleep "${SETTLE:-15}"
        for n in "$N1" "$N2"; do
            "$@" callgrind_control -z "$pid" >/dev/null
            "$PGBENCH" -n "${SCRIPT[@]}" -t "$n" -c "$CLIENTS" -j 1 -M "$mode" -h 127.0.0.1 -p "$port" "$db" \
                >"$WORK/run-$name-$mode-$n.log" 2>&1 || { cat "$WORK/run-$name-$mode-$n.log" >&2; die "$name: pgbench failed"; }
            "$@" callgrind_control -d "$name-$mode-$n" "$pid" >/dev/null
        done
        sleep 1
        i1="" i2=""
        for dump in "$WORK"/cg/"$prefix".out.*; do
            case "$(sed -n 's/^desc: Trigger: dump //p' "$dump")" in
                "$name-$mode-$N1") i1=$(sed -n 's/^summary: //p' "$dump") ;;
                "$name-$mode-$N2") i2=$(sed -n 's/^summary: //p' "$dump") ;;
            esac
        done
        [ -n "$i1" ] && [ -n "$i2" ] || die "$name $mode: callgrind dumps not found"
        echo "$name $mode $(((i2 - i1) / (CLIENTS * (N2 - N1))))"
    done
}

say "shardgate under callgrind"
NO_COLOR=1 valgrind --tool=callgrind --dump-instr=no --callgrind-out-file="$WORK/cg/shardgate.out.%p" \
    "$BIN" run --config "$WORK/shardgate.yaml" >"$WORK/shardgate.log" 2>&1 </dev/null &
SG_PID=$!
wait_port "$SG_PORT" "$SG_PID" || { tail -n 20 "$WORK/shardgate.log" >&2; die "shardgate did not start"; }
RESULTS=$(measure shardgate shardgate "$SG_PORT" "$SG_PID" bench env)
if [ "$WORKLOAD" = tenant ]; then
    RESULTS+=$'\n'$(measure shardgate-4 shardgate "$SG_PORT" "$SG_PID" bench4 env)
fi
stop_pid "$SG_PID"
SG_PID=""

if [ "${FLOOR:-}" = 1 ]; then
    say "relay_floor under callgrind"
    FL_PORT=$(free_port)
    valgrind --tool=callgrind --dump-instr=no --callgrind-out-file="$WORK/cg/floor.out.%p" \
        "$FLOOR_BIN" "127.0.0.1:$FL_PORT" "127.0.0.1:$PG_PORT" >"$WORK/floor.log" 2>&1 </dev/null &
    FL_PID=$!
    wait_port "$FL_PORT" "$FL_PID" || { tail -n 20 "$WORK/floor.log" >&2; die "relay_floor did not start"; }
    RESULTS+=$'\n'$(measure floor floor "$FL_PORT" "$FL_PID" bench env)
    stop_pid "$FL_PID"
    FL_PID=""
fi

say "PgBouncer $PB_VERSION under callgrind"
# callgrind_control must run as the user that owns the profiled process.
as_pg_owner valgrind --tool=callgrind --dump-instr=no --callgrind-out-file="$WORK/cg/pgbouncer.out.%p" \
    "$PGBOUNCER" "$WORK/pgb/pgbouncer.ini" >"$WORK/pgb/stdout.log" 2>&1 </dev/null &
wrapper=$!
wait_port "$PB_PORT" "$wrapper" || { tail -n 20 "$WORK/pgb/stdout.log" >&2; die "PgBouncer did not start"; }
PB_PID=$(pgrep -u "$(if is_root; then echo postgres; else id -un; fi)" -f "callgrind.*$WORK/pgb/pgbouncer.ini" | head -n 1)
[ -n "$PB_PID" ] || die "PgBouncer's pid not found"
if is_root; then
    RESULTS+=$'\n'$(measure pgbouncer pgbouncer "$PB_PORT" "$PB_PID" bench runuser -u postgres --)
else
    RESULTS+=$'\n'$(measure pgbouncer pgbouncer "$PB_PORT" "$PB_PID" bench env)
fi
stop_pid "$PB_PID"
PB_PID=""

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "–" }'; }
count() { awk -v n="$1" -v m="$2" '$1 == n && $2 == m { print $3; f = 1 } END { if (!f) print "–" }' <<<"$RESULTS"; }
REPORT=$(
    echo "## Instructions per transaction (callgrind)"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs; PostgreSQL $PG_VERSION; PgBouncer $PB_VERSION; shardgate $COMMIT"
    if [ "$WORKLOAD" = tenant ]; then
        echo "- \`pgbench -f tenant.sql -c $CLIENTS\` (point select by tenant_id, $TENANTS tenants), ($N2 − $N1) transactions per client counted, pool size $POOL_SIZE; user-space instructions of the proxy process only"
        echo
        echo "| mode | shardgate, 1 shard | shardgate, 4 shards | PgBouncer | 4 shards / 1 shard | 1 shard / PgBouncer |"
        echo "|---|---:|---:|---:|---:|---:|"
        for mode in $MODES; do
            sg=$(count shardgate "$mode") sg4=$(count shardgate-4 "$mode") pb=$(count pgbouncer "$mode")
            echo "| $mode | $sg | $sg4 | $pb | $(ratio "$sg4" "$sg") | $(ratio "$sg" "$pb") |"
        done
    else
        echo "- \`pgbench -S -c $CLIENTS\`, ($N2 − $N1) transactions per client counted, pool size $POOL_SIZE; user-space instructions of the proxy process only"
        echo
        if [ "${FLOOR:-}" = 1 ]; then
            echo "| mode | shardgate | bare tokio relay (relay_floor) | PgBouncer | shardgate / PgBouncer | relay_floor / PgBouncer |"
            echo "|---|---:|---:|---:|---:|---:|"
        else
            echo "| mode | shardgate | PgBouncer | shardgate / PgBouncer |"
            echo "|---|---:|---:|---:|"
        fi
        for mode in $MODES; do
            sg=$(count shardgate "$mode") pb=$(count pgbouncer "$mode")
            if [ "${FLOOR:-}" = 1 ]; then
                fl=$(count floor "$mode")
                echo "| $mode | $sg | $fl | $pb | $(ratio "$sg" "$pb") | $(ratio "$fl" "$pb") |"
            else
                echo "| $mode | $sg | $pb | $(ratio "$sg" "$pb") |"
            fi
        done
    fi
)
mkdir -p "$(dirname "$OUT")"
printf '%s\n' "$REPORT" >"$OUT"
printf '\n%s\n\n' "$REPORT"
say "report written to $OUT"
