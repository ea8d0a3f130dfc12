#!/usr/bin/env bash
# Four shards against one, each at the pool size that suits it: a sweep of server
# connections per shard for the tenant workload, in one run. Not run in CI.
#
#   benches/pool-sweep.sh
#
# Why: on a small machine shared by PostgreSQL, pgbench and the proxy, throughput is highest
# with few busy backends (docs/performance.md, "Pool size"), so one fixed pool size favours
# whichever layout it happens to suit. This starts the tenant environment of pgbench.sh once
# (HOLD=1, one PostgreSQL with the whole table in `bench` and the same rows split over
# bench_0 … bench_3), with a shardgate user `pool<n>` per size n, then for each cell runs
# benches/paired.py over every target in rotation: `one<n>` (database `bench`, one shard, n
# servers) and `four<n>` (database `bench4`, four shards, n servers each). It reports each
# target's median TPS and the best four-shard target over the best one-shard target.
#
# Environment (defaults in brackets):
#   ONE_SIZES       pool sizes for the single shard [3 5 20]
#   FOUR_SIZES      pool sizes per shard for the four shards [2 3 5]
#   CLIENTS         client counts [16 64]
#   MODES           pgbench query modes [simple extended]
#   ROUNDS          rounds per cell [5]
#   SECONDS_PER_RUN seconds per pgbench run [5]
#   OUT             the report [/tmp/shardgate-pool-sweep.md]
#   SKIP_BUILD=1, TENANTS, …  passed on to benches/pgbench.sh
set -euo pipefail

cd "$(dirname "$0")/.."
ONE_SIZES=${ONE_SIZES:-3 5 20}
FOUR_SIZES=${FOUR_SIZES:-2 3 5}
CLIENTS=${CLIENTS:-16 64}
MODES=${MODES:-simple extended}
ROUNDS=${ROUNDS:-5}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
OUT=${OUT:-/tmp/shardgate-pool-sweep.md}
HOLD_OUT=${OUT%.md}-hold.md
ENV_FILE=${HOLD_OUT%.md}.env

rm -f "$ENV_FILE"
sizes=$(printf '%s\n' $ONE_SIZES $FOUR_SIZES | sort -nu | tr '\n' ' ')
HOLD=1 WORKLOAD=tenant OUT="$HOLD_OUT" SWEEP_POOL_SIZES="$sizes" benches/pgbench.sh &
HOLD_PID=$!
trap 'kill "$HOLD_PID" 2>/dev/null || true; wait "$HOLD_PID" 2>/dev/null || true' EXIT

# A clean build takes minutes; the environment is ready when the env file appears.
while [ ! -s "$ENV_FILE" ]; do
    kill -0 "$HOLD_PID" 2>/dev/null || { echo "pgbench.sh stopped before holding" >&2; exit 1; }
    sleep 2
done
# shellcheck disable=SC1090 # written by pgbench.sh
. "$ENV_FILE"

targets=() extras=()
for n in $ONE_SIZES; do targets+=("one$n"); extras+=(--extra "one$n=$SG_PORT:$SG_PID/bench@pool$n"); done
for n in $FOUR_SIZES; do targets+=("four$n"); extras+=(--extra "four$n=$SG_PORT:$SG_PID/bench4@pool$n"); done

{
    echo "# Pool-size sweep, tenant workload, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "shardgate $(git rev-parse --short HEAD), $ROUNDS rounds × $SECONDS_PER_RUN s per target and cell,"
    echo "targets in rotation; one<n>: one shard with n servers, four<n>: four shards with n each."
    echo "Load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)."
} >"$OUT"
for mode in $MODES; do
    for c in $CLIENTS; do
        echo "==> $mode, $c clients" >&2
        log=${OUT%.md}-$mode-$c.txt
        python3 benches/paired.py "$ENV_FILE" --script "$WORK/tenant.sql" --mode "$mode" --clients "$c" \
            --rounds "$ROUNDS" --seconds "$SECONDS_PER_RUN" --rotate --groups one,four \
            "${extras[@]}" --targets "$(IFS=,; echo "${targets[*]}")" >"$log"
        {
            echo
            echo "## $mode, $c clients"
            echo
            grep -E '^(median TPS|best )' "$log" | sed 's/^/    /'
        } >>"$OUT"
    done
done
cat "$OUT"
