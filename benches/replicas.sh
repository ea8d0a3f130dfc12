#!/usr/bin/env bash
# Read spreading benchmark: pgbench select-only through shardgate with one primary and two
# streaming replicas, against the same proxy in front of the primary alone, with the number
# of transactions each server ran. Not run in CI.
#
#   benches/replicas.sh
#
# The three servers are clusters on this machine, so they share its cores: on a machine with
# fewer cores than servers × pgbench clients the replicas cannot add throughput, only take
# reads off the primary. The figure to read is the per-server share and the TPS ratio.
#
# Environment (defaults in brackets):
#   SCALE         pgbench scale [10]
#   CLIENTS       pgbench clients [16]
#   DURATION      seconds per run [15]
#   POOL_SIZE     shardgate servers per server and user [16]
#   OUT           the markdown report [/tmp/shardgate-replicas.md]
#   SKIP_BUILD=1  use the existing release binary
#   CARGO_TARGET_DIR  cargo's target directory [<repo>/target]
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$PWD
# shellcheck source=benches/lib.sh
. "$REPO/benches/lib.sh"

SCALE=${SCALE:-10}
CLIENTS=${CLIENTS:-16}
DURATION=${DURATION:-15}
POOL_SIZE=${POOL_SIZE:-16}
OUT=${OUT:-/tmp/shardgate-replicas.md}
BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/shardgate

WORK=""
SG_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$SG_PID"
    stop_cluster
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

require_postgres
PGBENCH=$PG_BIN/pgbench
if [ "${SKIP_BUILD:-}" != 1 ]; then
    say "building shardgate (cargo build --release)"
    cargo build --release
fi
[ -x "$BIN" ] || die "$BIN not found (build it with cargo build --release)"
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)

WORK=$(mktemp -d /tmp/shardgate-replicas.XXXXXX)
chmod 755 "$WORK"
start_cluster
export PGSSLMODE=disable PGGSSENCMODE=disable PGPASSWORD=bench PGUSER=bench PGHOST=127.0.0.1
psql_su -d postgres -c "SET password_encryption = 'scram-sha-256'" \
    -c "CREATE ROLE bench LOGIN PASSWORD 'bench'" -c "CREATE DATABASE bench OWNER bench"
say "pgbench -i -s $SCALE"
"$PGBENCH" -i -q -s "$SCALE" -p "$PG_PORT" bench >/dev/null 2>&1 || die "pgbench -i failed"
psql_su -d postgres -c "CHECKPOINT"
start_replica r1
R1_PORT=$REPLICA_PORT
start_replica r2
R2_PORT=$REPLICA_PORT
PORTS=("$PG_PORT" "$R1_PORT" "$R2_PORT")
NAMES=(primary replica-1 replica-2)

endpoint() { echo "{ host: 127.0.0.1, port: $1, database: bench }"; }
cat >"$WORK/single.yaml" <<MAP
version: 1
shards:
  - name: main
    primary: $(endpoint "$PG_PORT")
MAP
cat >"$WORK/replicated.yaml" <<MAP
version: 1
shards:
  - name: main
    primary: $(endpoint "$PG_PORT")
    replicas: [ $(endpoint "$R1_PORT"), $(endpoint "$R2_PORT") ]
MAP
# The same servers with every read on the primary: what the routing itself costs.
sed 's/^shards:/read_from: primary\nshards:/' "$WORK/replicated.yaml" >"$WORK/on-primary.yaml"

# Transactions each server has committed in database bench. Statistics are flushed when a
# backend exits, so this is read after the proxy (and its server connections) stopped.
xacts() {
    local port=$1
    "$PG_BIN/psql" -X -At -h 127.0.0.1 -p "$port" -U bench -d bench \
        -c "SELECT xact_commit FROM pg_stat_database WHERE datname = 'bench'"
}

# run <label> <map>: starts shardgate on <map>, runs pgbench -S, stops it; prints TPS and
# per-server transaction counts.
run() {
    local label=$1 map=$2 port before after tps i
    port=$(free_port)
    cat >"$WORK/shardgate.yaml" <<CFG
listen: 127.0.0.1:$port
tls: { mode: disable }
databases:
  bench: { shard_map: $map }
users:
  - { name: bench, password: bench, auth: scram-sha-256 }
pool: { mode: transaction, size: $POOL_SIZE, min_idle: 0 }
metrics: { listen: 127.0.0.1:0 }
CFG
    NO_COLOR=1 "$BIN" run --config "$WORK/shardgate.yaml" >"$WORK/shardgate-$label.log" 2>&1 </dev/null &
    SG_PID=$!
    for _ in $(seq 1 100); do
        "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1 && break
        kill -0 "$SG_PID" 2>/dev/null || { cat "$WORK/shardgate-$label.log" >&2; die "shardgate did not start"; }
        sleep 0.2
    done
    sleep 1 # the first health round
    before=()
    for p in "${PORTS[@]}"; do before+=("$(xacts "$p")"); done
    say "$label: pgbench -S -M extended -c $CLIENTS -j 2 -T $DURATION"
    tps=$("$PGBENCH" -n -S -M extended -c "$CLIENTS" -j 2 -T "$DURATION" -h 127.0.0.1 -p "$port" bench 2>&1 \
        | awk '/^tps = / { print $3; exit }')
    stop_pid "$SG_PID"
    SG_PID=""
    sleep 1
    after=()
    for p in "${PORTS[@]}"; do after+=("$(xacts "$p")"); done
    RESULT_TPS=$tps
    RESULT_COUNTS=()
    for i in 0 1 2; do RESULT_COUNTS+=($((after[i] - before[i]))); done
}

run single single.yaml
SINGLE_TPS=$RESULT_TPS
SINGLE_COUNTS=("${RESULT_COUNTS[@]}")
run on-primary on-primary.yaml
ONP_TPS=$RESULT_TPS
ONP_COUNTS=("${RESULT_COUNTS[@]}")
run replicated replicated.yaml
REPL_TPS=$RESULT_TPS
REPL_COUNTS=("${RESULT_COUNTS[@]}")

used=0
for c in "${REPL_COUNTS[@]}"; do [ "$c" -gt $((CLIENTS * 10)) ] && used=$((used + 1)); done
[ "$used" -gt 0 ] || used=1
{
    echo "## Read spreading over replicas (commit $COMMIT, $(date -u +%Y-%m-%d), $(nproc) cores)"
    echo
    echo "pgbench -S -M extended, scale $SCALE, $CLIENTS clients, ${DURATION}s; shardgate pool size $POOL_SIZE per server;"
    echo "PostgreSQL $PG_VERSION; the primary and both replicas on this machine."
    echo
    echo "| setup | TPS | primary | replica-1 | replica-2 |"
    echo "|---|---:|---:|---:|---:|"
    echo "| shardgate → primary alone | $SINGLE_TPS | ${SINGLE_COUNTS[0]} | ${SINGLE_COUNTS[1]} | ${SINGLE_COUNTS[2]} |"
    echo "| shardgate → primary + 2 replicas, read_from: primary | $ONP_TPS | ${ONP_COUNTS[0]} | ${ONP_COUNTS[1]} | ${ONP_COUNTS[2]} |"
    echo "| shardgate → primary + 2 replicas | $REPL_TPS | ${REPL_COUNTS[0]} | ${REPL_COUNTS[1]} | ${REPL_COUNTS[2]} |"
    echo
    awk -v r="$REPL_TPS" -v s="$SINGLE_TPS" -v u="$used" 'BEGIN {
        printf "Replicated / single: %.2f×; per server used (%d): %.2f× the single-server TPS.\n", r / s, u, r / s / u
    }'
    awk -v o="$ONP_TPS" -v s="$SINGLE_TPS" 'BEGIN { printf "Routing cost (replicated map, reads kept on the primary / single): %.2f×.\n", o / s }'
    echo "(Counts are committed transactions per server from pg_stat_database, health checks included.)"
} | tee "$OUT"
