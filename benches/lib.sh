# Shared by the end-to-end benchmark scripts (sourced, not run): logging, privilege helpers,
# PostgreSQL discovery, free ports, stopping what the script started, apt installs, and a
# throw-away PostgreSQL cluster. Callers set WORK (a temp dir) before start_cluster.

say() { printf '==> %s\n' "$*" >&2; }
die() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }
as_root() { if is_root; then "$@"; else sudo "$@"; fi; }
# PostgreSQL and PgBouncer refuse to run as root: as root, run them as the postgres OS user.
as_pg_owner() { if is_root; then runuser -u postgres -- "$@"; else "$@"; fi; }

# The newest installed PostgreSQL server (Debian layout: /usr/lib/postgresql/<major>/bin).
pg_bin_dir() {
    local initdb
    initdb=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
    [ -x "$initdb" ] || return 1
    dirname "$initdb"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A free TCP port on 127.0.0.1, starting from a random point so that concurrent runs (and
# test suites) rarely collide; ports already handed out by this script are skipped.
TAKEN_PORTS=" "
free_port() {
    local port tries=0
    port=$((20000 + RANDOM % 20000))
    while port_in_use "$port" || [[ $TAKEN_PORTS == *" $port "* ]]; do
        port=$((port + 1))
        tries=$((tries + 1))
        [ "$tries" -lt 2000 ] || die "no free TCP port found"
        [ "$port" -lt 60000 ] || port=20000
    done
    TAKEN_PORTS="$TAKEN_PORTS$port "
    echo "$port"
}

# Wait until a PID exits, up to $2 tenths of a second; 0 if it exited.
wait_gone() {
    local pid=$1 n=${2:-100}
    for _ in $(seq 1 "$n"); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

stop_pid() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 100; then
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 20 || true
    fi
}

APT_UPDATED=""
apt_install() {
    command -v apt-get >/dev/null || die "$1 is missing and there is no apt-get: install it first"
    if [ -z "$APT_UPDATED" ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        APT_UPDATED=yes
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

# PostgreSQL binaries (installed when missing) and the postgres OS user when root.
# Sets PG_BIN and PG_VERSION.
require_postgres() {
    if ! pg_bin_dir >/dev/null; then
        say "installing PostgreSQL"
        apt_install postgresql
    fi
    PG_BIN=$(pg_bin_dir) || die "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
    if is_root && ! id postgres >/dev/null 2>&1; then
        say "creating the postgres OS user"
        useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    PG_VERSION=$("$PG_BIN/postgres" --version | sed 's/^postgres (PostgreSQL) //')
}

# A throw-away cluster in $WORK/pg on a free port (PG_PORT), C locale, fsync off; the
# superuser is postgres (password postgres, trust on the socket). Sets PG_STARTED.
start_cluster() {
    mkdir -p "$WORK/pg"
    if is_root; then chown postgres: "$WORK/pg"; fi
    PG_PORT=$(free_port)
    say "initialising PostgreSQL $PG_VERSION in $WORK/pg (port $PG_PORT)"
    printf 'postgres\n' >"$WORK/pg/pwfile"
    if is_root; then chown postgres: "$WORK/pg/pwfile"; fi
    (cd "$WORK/pg" && as_pg_owner "$PG_BIN/initdb" -D "$WORK/pg/data" -U postgres \
        --pwfile="$WORK/pg/pwfile" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C --no-sync >"$WORK/pg/initdb.log" 2>&1) \
        || { cat "$WORK/pg/initdb.log" >&2; die "initdb failed"; }
    rm -f "$WORK/pg/pwfile"
    PG_STARTED=yes
    (cd "$WORK/pg" && as_pg_owner "$PG_BIN/pg_ctl" start -w -D "$WORK/pg/data" -l "$WORK/pg/postgres.log" \
        -o "-c port=$PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$WORK/pg \
            -c max_connections=300 -c fsync=off -c shared_buffers=128MB" >/dev/null) \
        || { tail -n 20 "$WORK/pg/postgres.log" >&2 || true; die "PostgreSQL did not start"; }
}

# A streaming replica of that cluster (pg_basebackup -R) in $WORK/pg/$1 on a free port.
# Sets REPLICA_PORT.
REPLICAS_STARTED=""
start_replica() {
    local name=$1
    REPLICA_PORT=$(free_port)
    TAKEN_PORTS="$TAKEN_PORTS$REPLICA_PORT "
    say "starting replica $name (pg_basebackup -R, port $REPLICA_PORT)"
    (cd "$WORK/pg" && as_pg_owner env PGPASSWORD=postgres "$PG_BIN/pg_basebackup" -D "$WORK/pg/$name" \
        -h 127.0.0.1 -p "$PG_PORT" -U postgres -R -X stream -c fast >/dev/null) || die "pg_basebackup failed"
    REPLICAS_STARTED="$REPLICAS_STARTED $name"
    (cd "$WORK/pg" && as_pg_owner "$PG_BIN/pg_ctl" start -w -D "$WORK/pg/$name" -l "$WORK/pg/$name.log" \
        -o "-c port=$REPLICA_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$WORK/pg \
            -c max_connections=300 -c shared_buffers=128MB" >/dev/null) \
        || { tail -n 20 "$WORK/pg/$name.log" >&2 || true; die "replica $name did not start"; }
}

stop_cluster() {
    local name
    for name in $REPLICAS_STARTED; do
        as_pg_owner "$PG_BIN/pg_ctl" stop -D "$WORK/pg/$name" -m fast -w >/dev/null 2>&1 || true
    done
    if [ -n "${PG_STARTED:-}" ]; then
        as_pg_owner "$PG_BIN/pg_ctl" stop -D "$WORK/pg/data" -m fast -w >/dev/null 2>&1 || true
    fi
}

# psql as the superuser over the socket, stopping at the first error.
psql_su() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$WORK/pg" -p "$PG_PORT" -U postgres "$@"; }

# Peak resident memory (KiB) of process $1.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# The tenant workload: table tenant_accounts keyed by tenant_id, whole in database `bench`
# and split by hash range over bench_0 … bench_3 (the ranges of shard-maps/pms-4.yaml, the
# map that write_map4 writes). $1: tenants. Writes the pgbench script $WORK/tenant.sql. The
# role bench must own database bench already.
TENANT_BOUNDS=("" -4611686018427387904 0 4611686018427387904 "")
load_tenants() {
    local tenants=$1 db cond i lo hi
    say "loading $tenants tenants, whole into bench and split over bench_0..bench_3"
    printf '\\set t random(1, %s)\nSELECT balance FROM tenant_accounts WHERE tenant_id = :t;\n' "$tenants" \
        >"$WORK/tenant.sql"
    for db in bench bench_0 bench_1 bench_2 bench_3; do
        if [ "$db" != bench ]; then
            psql_su -d postgres -c "CREATE DATABASE $db OWNER bench"
        fi
        cond="true"
        if [ "$db" != bench ]; then
            i=${db#bench_}
            lo=${TENANT_BOUNDS[$i]}
            hi=${TENANT_BOUNDS[$((i + 1))]}
            [ -n "$lo" ] && cond="$cond AND hashint8extended(t, 0) >= $lo"
            [ -n "$hi" ] && cond="$cond AND hashint8extended(t, 0) < $hi"
        fi
        PGPASSWORD=bench "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U bench -d "$db" \
            -c "CREATE TABLE tenant_accounts (tenant_id bigint PRIMARY KEY, balance int NOT NULL)" \
            -c "INSERT INTO tenant_accounts SELECT t, 0 FROM generate_series(1, $tenants) t WHERE $cond" \
            -c "VACUUM ANALYZE tenant_accounts"
    done
}

# The shard map of those four databases to file $1: a hash function on tenant_id, four ranges.
write_map4() {
    local i
    {
        echo "version: 1"
        echo "shards:"
        for i in 0 1 2 3; do
            echo "  - name: shard-$i"
            echo "    primary: { host: 127.0.0.1, port: $PG_PORT, database: bench_$i }"
        done
        echo "functions:"
        echo "  - { name: tenant_hash, kind: hash, key: bigint, ranges: ["
        echo "      { to: -4611686018427387904, shard: shard-0 },"
        echo "      { from: -4611686018427387904, to: 0, shard: shard-1 },"
        echo "      { from: 0, to: 4611686018427387904, shard: shard-2 },"
        echo "      { from: 4611686018427387904, shard: shard-3 } ] }"
        echo "default_rule: { columns: [tenant_id], function: tenant_hash }"
    } >"$1"
}
