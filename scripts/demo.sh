#!/usr/bin/env bash
# One-command demo: a PostgreSQL cluster holding the sample hotel database split over four
# shards (databases pms_0 … pms_3, by PostgreSQL's hash of tenant_id), and shardgate in front
# of them on 127.0.0.1:6432, routing each statement to the shard of its tenant.
#
#   scripts/demo.sh          start, or restart from scratch (the demo database is reloaded)
#   scripts/demo.sh stop     stop shardgate and the demo cluster
#
# Everything lives in .demo/ (git-ignored): the cluster, shardgate.yaml, pms-4.yaml, logs.
# SHARDGATE_DEMO_PORT changes the proxy's port (default 6432), SHARDGATE_METRICS_PORT the port of
# its /metrics endpoint (default 9930).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
DEMO=$REPO/.demo
PROXY_PORT=${SHARDGATE_DEMO_PORT:-6432}
METRICS_PORT=${SHARDGATE_METRICS_PORT:-9930}
BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/shardgate

say() { printf '==> %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

as_root() {
    if is_root; then "$@"; else sudo "$@"; fi
}

# PostgreSQL refuses to run as root: server programs then run as the postgres OS user.
as_pg_owner() {
    if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_bin_dir() {
    local initdb
    initdb=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
    [ -x "$initdb" ] || return 1
    dirname "$initdb"
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The directory owned by the server: .demo/pg when the postgres user can reach it, else a
# fixed place in /tmp (a checkout under /root is closed to other users).
# The choice is written to .demo/pg-root for `stop`.
pg_root() {
    if ! is_root || runuser -u postgres -- test -x "$DEMO"; then
        echo "$DEMO/pg"
    else
        echo "/tmp/shardgate-demo-pg"
    fi
}

stop_demo() {
    if [ -f "$DEMO/shardgate.pid" ]; then
        local pid
        pid=$(cat "$DEMO/shardgate.pid")
        # Only signal the process if it is still our shardgate (PIDs get reused).
        if grep -qa shardgate "/proc/$pid/cmdline" 2>/dev/null; then
            say "stopping shardgate (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 1 100); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            if kill -0 "$pid" 2>/dev/null; then
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
        rm -f "$DEMO/shardgate.pid"
    fi
    if [ -f "$DEMO/pg-root" ]; then
        local root bin
        root=$(cat "$DEMO/pg-root")
        if [ -f "$root/replica/postmaster.pid" ] && bin=$(pg_bin_dir); then
            say "stopping the demo replica"
            (cd "$root" && as_pg_owner "$bin/pg_ctl" stop -D "$root/replica" -m fast -w >/dev/null) || true
        fi
        if [ -f "$root/data/postmaster.pid" ] && bin=$(pg_bin_dir); then
            say "stopping the demo cluster"
            (cd "$root" && as_pg_owner "$bin/pg_ctl" stop -D "$root/data" -m fast -w >/dev/null) || true
        fi
    fi
}

if [ "${1:-start}" = "stop" ]; then
    stop_demo
    exit 0
elif [ "${1:-start}" != "start" ]; then
    die "usage: scripts/demo.sh [start|stop]"
fi

# --- prerequisites -------------------------------------------------------------------------
if ! pg_bin_dir >/dev/null; then
    command -v apt-get >/dev/null || die "install the PostgreSQL server (13 or newer) first"
    say "installing PostgreSQL from the system packages"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql
fi
PG_BIN=$(pg_bin_dir) || die "no PostgreSQL server binaries found"
if is_root && ! id postgres >/dev/null 2>&1; then
    say "creating the postgres OS user"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi
command -v cargo >/dev/null || die "cargo not found: install Rust from https://rustup.rs"

say "building shardgate (cargo build --release)"
cargo build --release

# --- a fresh cluster -----------------------------------------------------------------------
mkdir -p "$DEMO"
stop_demo
PG_ROOT=$(pg_root)
rm -rf "$PG_ROOT"
mkdir -p "$PG_ROOT"
echo "$PG_ROOT" >"$DEMO/pg-root"
if is_root; then
    chown postgres: "$PG_ROOT"
fi
PGDATA_DIR=$PG_ROOT/data

PG_PORT=54320
while port_in_use "$PG_PORT"; do
    PG_PORT=$((PG_PORT + 1))
    [ "$PG_PORT" -lt 54400 ] || die "no free port in 54320-54399 for the demo cluster"
done
if port_in_use "$PROXY_PORT"; then
    die "port $PROXY_PORT is taken by another program; set SHARDGATE_DEMO_PORT to use another"
fi

say "initialising a PostgreSQL cluster in $PGDATA_DIR (port $PG_PORT)"
printf 'postgres\n' >"$PG_ROOT/pwfile"
if is_root; then
    chown postgres: "$PG_ROOT/pwfile"
fi
(cd "$PG_ROOT" && as_pg_owner "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres \
    --pwfile="$PG_ROOT/pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C --no-sync >/dev/null)
rm -f "$PG_ROOT/pwfile"
(cd "$PG_ROOT" && as_pg_owner "$PG_BIN/pg_ctl" start -w -D "$PGDATA_DIR" -l "$PG_ROOT/postgres.log" \
    -o "-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1" >/dev/null) \
    || die "the demo cluster did not start; see $PG_ROOT/postgres.log"

psql_local() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h /tmp -p "$PG_PORT" "$@"; }
psql_local -U postgres -d postgres -c "CREATE ROLE app LOGIN PASSWORD 'app'"

# The four quarters of the signed 64-bit hash space, as in shard-maps/pms-4.yaml.
BOUNDS=("" -4611686018427387904 0 4611686018427387904 "")
for i in 0 1 2 3; do
    say "loading scripts/pms-sample.sql into shard pms_$i and keeping the tenants hashed there"
    psql_local -U postgres -d postgres -c "CREATE DATABASE pms_$i OWNER app"
    psql_local -U app -d "pms_$i" -f scripts/pms-sample.sql
    lo=${BOUNDS[$i]}
    hi=${BOUNDS[$((i + 1))]}
    cond="true"
    [ -n "$lo" ] && cond="$cond AND hashint8extended(tenant_id, 0) >= $lo"
    [ -n "$hi" ] && cond="$cond AND hashint8extended(tenant_id, 0) < $hi"
    # Children first: the foreign keys point from payments up to tenants.
    for t in payments folios reservations guests rooms properties tenants; do
        psql_local -U app -d "pms_$i" -c "DELETE FROM $t WHERE NOT ($cond)"
    done
done

# --- a streaming replica: every shard gets one (the shards are databases of one cluster) ---
REPLICA_PORT=$((PG_PORT + 1))
while port_in_use "$REPLICA_PORT"; do
    REPLICA_PORT=$((REPLICA_PORT + 1))
    [ "$REPLICA_PORT" -lt 54500 ] || die "no free port for the demo replica"
done
say "starting a streaming replica of the demo cluster (pg_basebackup -R, port $REPLICA_PORT)"
(cd "$PG_ROOT" && as_pg_owner env PGPASSWORD=postgres "$PG_BIN/pg_basebackup" -D "$PG_ROOT/replica" \
    -h 127.0.0.1 -p "$PG_PORT" -U postgres -R -X stream -c fast >/dev/null) \
    || die "pg_basebackup of the demo cluster failed"
(cd "$PG_ROOT" && as_pg_owner "$PG_BIN/pg_ctl" start -w -D "$PG_ROOT/replica" -l "$PG_ROOT/replica.log" \
    -o "-p $REPLICA_PORT -k /tmp -c listen_addresses=127.0.0.1" >/dev/null) \
    || die "the demo replica did not start; see $PG_ROOT/replica.log"

# --- shardgate -----------------------------------------------------------------------------
{
    echo "# Written by scripts/demo.sh: shard-maps/pms-4.yaml pointed at the demo cluster."
    echo "version: 1"
    echo "shards:"
    for i in 0 1 2 3; do
        echo "  - name: shard-$i"
        echo "    primary: { host: 127.0.0.1, port: $PG_PORT, database: pms_$i }"
        echo "    replicas: [ { host: 127.0.0.1, port: $REPLICA_PORT, database: pms_$i } ]"
    done
    cat <<'EOF'
functions:
  - name: tenant_hash
    kind: hash
    key: bigint
    ranges:
      - { to: -4611686018427387904, shard: shard-0 }
      - { from: -4611686018427387904, to: 0, shard: shard-1 }
      - { from: 0, to: 4611686018427387904, shard: shard-2 }
      - { from: 4611686018427387904, shard: shard-3 }
default_rule: { columns: [tenant_id], function: tenant_hash }
unknown_tables: refuse
EOF
} >"$DEMO/pms-4.yaml"

cat >"$DEMO/shardgate.yaml" <<EOF
# Written by scripts/demo.sh; see config/shardgate.yaml and docs/configuration.md.
listen: 127.0.0.1:$PROXY_PORT

tls:
  mode: disable

databases:
  pms:
    shard_map: pms-4.yaml

users:
  - name: app
    password: app
    auth: scram-sha-256
  - name: admin                   # the admin console only; it has no role on the servers
    password: admin
    auth: scram-sha-256
admin_users: [admin]

pool:
  mode: transaction
  size: 20
  min_idle: 0
  max_client_conn: 1000
  checkout_timeout_ms: 5000
  idle_timeout_s: 600
  lifetime_s: 3600
  query_timeout_ms: 0
  reset_query: DISCARD ALL
  max_prepared_per_server: 200

limits:
  max_message_size: 67108864
shutdown_timeout_ms: 10000

metrics:
  listen: 127.0.0.1:$METRICS_PORT
slow_statement_ms: 500
EOF

say "starting shardgate on 127.0.0.1:$PROXY_PORT (log: .demo/shardgate.log)"
# setsid: the proxy outlives this script and the terminal it ran in.
nohup setsid "$BIN" run --config "$DEMO/shardgate.yaml" >"$DEMO/shardgate.log" 2>&1 </dev/null &
echo $! >"$DEMO/shardgate.pid"

ready=""
for _ in $(seq 1 100); do
    if ! kill -0 "$(cat "$DEMO/shardgate.pid")" 2>/dev/null; then
        tail -n 20 "$DEMO/shardgate.log" >&2 || true
        die "shardgate exited during startup; its log is above"
    fi
    if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PROXY_PORT" -d pms -U app -t 1; then
        ready=yes
        break
    fi
    sleep 0.2
done
[ -n "$ready" ] || die "shardgate did not answer on port $PROXY_PORT within 20 s; see .demo/shardgate.log"

cat <<EOF

shardgate is running, routing over four shards (pms_0 … pms_3), each with a streaming
replica that takes the reads. Connect through it:

    psql "postgres://app:app@127.0.0.1:$PROXY_PORT/pms"

  then try:
    SELECT name, city FROM properties WHERE tenant_id = 3;            -- one shard
    BEGIN; UPDATE rooms SET floor = floor WHERE tenant_id = 3; COMMIT; -- a transaction on it
    SELECT count(*) FROM reservations;                                 -- every shard, counts added
    SELECT p.brand_id, count(*), sum(r.total), avg(r.total)
      FROM reservations r JOIN properties p USING (tenant_id, property_id)
      GROUP BY p.brand_id ORDER BY 3 DESC;                             -- revenue by brand, merged
    SELECT tenant_id, reservation_id, created_at FROM reservations
      ORDER BY created_at DESC LIMIT 5;                                -- newest across all tenants
    SELECT status, row_number() OVER () FROM reservations;             -- refused (0A000): not exact
    /* shardgate: shard=shard-0 */ SELECT count(*) FROM reservations;   -- pinned by a hint
    SELECT inet_server_port();                    -- a read: the replica answers ($REPLICA_PORT)
    /* shardgate: role=primary */ SELECT inet_server_port();  -- the primary ($PG_PORT)

Ask where a statement goes without running it:

    $BIN route --map .demo/pms-4.yaml "SELECT * FROM reservations WHERE tenant_id = 3"

The admin console (SHOW POOLS, SHOW SHARDS, SHOW ROUTE …, PAUSE/RESUME; docs/operations.md):

    psql "postgres://admin:admin@127.0.0.1:$PROXY_PORT/shardgate"

Prometheus metrics (docs/metrics.md):

    curl -s http://127.0.0.1:$METRICS_PORT/metrics | grep '^shardgate_'

Edit .demo/pms-4.yaml and shardgate reloads it within a second (an invalid map is refused,
logged, and the old one keeps serving).
The cluster behind it is on port $PG_PORT, its replica on $REPLICA_PORT (user postgres,
password postgres).
Stop everything with:  scripts/demo.sh stop
EOF
