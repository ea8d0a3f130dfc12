#!/usr/bin/env bash
# Cross-shard read benchmark: COUNT(*), GROUP BY and ORDER BY … LIMIT 10 through shardgate
# over 4 and 16 shards, against the same query on one database holding all the rows and on
# each shard directly (the slowest shard is the floor a scatter cannot beat), plus the
# proxy's resident memory while it streams every row across 16 shards. Not run in CI.
#
#   benches/scatter.sh
#
# All shards are databases of one throw-away PostgreSQL cluster on this machine, so the
# shards compete for the same cores: the ratio to the slowest shard is what the proxy adds.
#
# Environment (defaults in brackets):
#   ROWS          rows of the reservations table [2000000]
#   SHARD_COUNTS  shard counts to compare [4 16]
#   DURATION      seconds per latency measurement (pgbench -T, one client) [3]
#   OUT           the markdown report [/tmp/shardgate-scatter.md]
#   SKIP_BUILD=1  use the existing release binary
#   CARGO_TARGET_DIR  cargo's target directory [<repo>/target]
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$PWD
# shellcheck source=benches/lib.sh
. "$REPO/benches/lib.sh"

ROWS=${ROWS:-2000000}
SHARD_COUNTS=${SHARD_COUNTS:-4 16}
DURATION=${DURATION:-3}
OUT=${OUT:-/tmp/shardgate-scatter.md}
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

WORK=$(mktemp -d /tmp/shardgate-scatter.XXXXXX)
chmod 755 "$WORK"
start_cluster
export PGSSLMODE=disable PGGSSENCMODE=disable PGPASSWORD=bench PGUSER=bench PGHOST=127.0.0.1
psql_su -d postgres -c "SET password_encryption = 'scram-sha-256'" \
    -c "CREATE ROLE bench LOGIN PASSWORD 'bench'" -c "CREATE DATABASE whole OWNER bench"

TABLE="CREATE TABLE reservations (tenant_id bigint NOT NULL, reservation_id bigint NOT NULL,
    brand text NOT NULL, amount numeric(12,2) NOT NULL, created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, reservation_id));
CREATE INDEX ON reservations (created_at);"
say "loading $ROWS reservations into one database"
psql_su -d whole -c "SET ROLE bench" -c "$TABLE" -c "
    INSERT INTO reservations
    SELECT g % 100000 + 1, g, (ARRAY['marriott','hilton','accor','hyatt','ihg','wyndham','choice','best'])[g % 8 + 1],
           (g * 37 % 100000) / 100.0, timestamptz '2026-01-01 00:00:00+00' + g * interval '7 seconds'
    FROM generate_series(1, $ROWS) g" -c "ANALYZE reservations"

# Shard i of n holds the keys whose hashint8extended falls in the i-th n-th of the 64-bit
# space (the map's explicit ranges).
bound() { psql_su -d postgres -Atc "SELECT (-9223372036854775808::numeric + $1 * 18446744073709551616 / $2)::bigint"; }
for n in $SHARD_COUNTS; do
    say "splitting into $n shards"
    {
        echo "version: 1"
        echo "shards:"
        for ((i = 0; i < n; i++)); do
            echo "  - { name: s$i, primary: { host: 127.0.0.1, port: $PG_PORT, database: s${n}_$i } }"
        done
        echo "functions:"
        echo "  - name: tenant_hash"
        echo "    kind: hash"
        echo "    key: bigint"
        echo "    ranges:"
        for ((i = 0; i < n; i++)); do
            from=""
            to=""
            [ "$i" -gt 0 ] && from="from: $(bound "$i" "$n"), "
            [ "$i" -lt $((n - 1)) ] && to="to: $(bound $((i + 1)) "$n"), "
            echo "      - { $from${to}shard: s$i }"
        done
        echo "tables:"
        echo "  - { name: reservations, columns: [tenant_id], function: tenant_hash }"
    } >"$WORK/map$n.yaml"
    for ((i = 0; i < n; i++)); do
        db=s${n}_$i
        cond="hashint8extended(tenant_id, 0) >= $(bound "$i" "$n")"
        if [ "$i" -lt $((n - 1)) ]; then
            cond="$cond AND hashint8extended(tenant_id, 0) < $(bound $((i + 1)) "$n")"
        fi
        psql_su -d postgres -c "CREATE DATABASE $db OWNER bench"
        psql_su -d "$db" -c "SET ROLE bench" -c "$TABLE"
        psql_su -d whole -c "COPY (SELECT * FROM reservations WHERE $cond) TO STDOUT" \
            | psql_su -d "$db" -c "COPY reservations FROM STDIN"
        psql_su -d "$db" -c "ANALYZE reservations"
    done
done

SG_PORT=$(free_port)
{
    echo "listen: 127.0.0.1:$SG_PORT"
    echo "tls: { mode: disable }"
    echo "databases:"
    for n in $SHARD_COUNTS; do echo "  sc$n: { shard_map: map$n.yaml }"; done
    echo "users:"
    echo "  - { name: bench, password: bench, auth: scram-sha-256 }"
    echo "pool: { mode: transaction, size: 2, min_idle: 0 }"
    echo "metrics: { listen: 127.0.0.1:0 }"
} >"$WORK/shardgate.yaml"
say "starting shardgate on port $SG_PORT"
NO_COLOR=1 "$BIN" run --config "$WORK/shardgate.yaml" >"$WORK/shardgate.log" 2>&1 </dev/null &
SG_PID=$!
for _ in $(seq 1 100); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$SG_PORT" -t 1 && break
    kill -0 "$SG_PID" 2>/dev/null || { cat "$WORK/shardgate.log" >&2; die "shardgate did not start"; }
    sleep 0.2
done

QUERIES=(
    "SELECT count(*) FROM reservations"
    "SELECT brand, count(*), sum(amount), avg(amount) FROM reservations GROUP BY brand ORDER BY brand"
    "SELECT * FROM reservations ORDER BY created_at DESC LIMIT 10"
)
# latency PORT DB SQL: pgbench's average latency in ms, one client, simple protocol.
latency() {
    printf '%s;\n' "$3" >"$WORK/q.sql"
    "$PGBENCH" -n -f "$WORK/q.sql" -T "$DURATION" -c 1 -j 1 -h 127.0.0.1 -p "$1" -U bench "$2" 2>&1 \
        | awk '/^latency average/ { print $4 }'
}
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 > b + 0) ? a : b }'; }
# together N SQL: every shard of N queried directly at the same time (one pgbench each);
# the slowest one's average latency. All shards share this machine's cores, so this is the
# floor for a scatter here; on separate machines it would be the slowest single shard.
together() {
    local n=$1 i worst=0
    printf '%s;\n' "$2" >"$WORK/q.sql"
    for ((i = 0; i < n; i++)); do
        "$PGBENCH" -n -f "$WORK/q.sql" -T "$DURATION" -c 1 -j 1 -h 127.0.0.1 -p "$PG_PORT" -U bench "s${n}_$i" \
            >"$WORK/together-$i.log" 2>&1 &
    done
    wait
    for ((i = 0; i < n; i++)); do
        worst=$(max "$worst" "$(awk '/^latency average/ { print $4 }' "$WORK/together-$i.log")")
    done
    echo "$worst"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "–" }'; }

TABLE_ROWS=""
for q in "${QUERIES[@]}"; do
    whole=$(latency "$PG_PORT" whole "$q")
    for n in $SHARD_COUNTS; do
        slowest=0
        for ((i = 0; i < n; i++)); do
            slowest=$(max "$slowest" "$(latency "$PG_PORT" "s${n}_$i" "$q")")
        done
        all=$(together "$n" "$q")
        sg=$(latency "$SG_PORT" "sc$n" "$q")
        say "$n shards: $q — one database $whole ms, slowest shard $slowest ms, all at once $all ms, shardgate $sg ms"
        TABLE_ROWS+="| \`$q\` | $n | $whole | $slowest | $all | $sg | $(ratio "$sg" "$slowest") | $(ratio "$sg" "$all") | $(ratio "$sg" "$whole") |"$'\n'
    done
done

# Every row across the most shards, streamed through the proxy; its RSS sampled meanwhile.
n_max=$(printf '%s\n' $SHARD_COUNTS | sort -n | tail -n 1)
idle=$(rss_kb "$SG_PID")
peak=$idle
start=$(date +%s.%N)
"$PG_BIN/psql" -X -q -At -h 127.0.0.1 -p "$SG_PORT" -U bench -d "sc$n_max" -c "SELECT * FROM reservations" >/dev/null &
reader=$!
while kill -0 "$reader" 2>/dev/null; do
    now=$(rss_kb "$SG_PID")
    [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.05
done
wait "$reader" || die "streaming read failed"
stream_s=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
start=$(date +%s.%N)
"$PG_BIN/psql" -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U bench -d whole -c "SELECT * FROM reservations" >/dev/null
direct_s=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')

REPORT=$(
    echo "## Cross-shard reads: $ROWS reservations"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs, $(uname -sr); PostgreSQL $PG_VERSION; shardgate $COMMIT"
    echo "- every shard is a database of one local cluster; latency = pgbench average, 1 client, simple protocol, ${DURATION}s per cell"
    echo "- command: \`ROWS=$ROWS SHARD_COUNTS=\"$SHARD_COUNTS\" DURATION=$DURATION benches/scatter.sh\`"
    echo
    echo "| query | shards | one database ms | slowest shard alone ms | slowest shard, all at once ms | shardgate ms | shardgate / slowest alone | shardgate / all at once | shardgate / one database |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s' "$TABLE_ROWS"
    echo
    echo "Streaming every row (\`SELECT * FROM reservations\`, psql, output discarded): through shardgate over $n_max shards ${stream_s} s, straight from the one database ${direct_s} s; proxy RSS idle $((idle / 1024)) MiB, peak $((peak / 1024)) MiB."
)
mkdir -p "$(dirname "$OUT")"
printf '%s\n' "$REPORT" >"$OUT"
printf '\n%s\n\n' "$REPORT"
say "report written to $OUT"
