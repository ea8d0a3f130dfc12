#!/bin/bash
# A streaming replica for the official postgres image: on first start, copy the primary with
# pg_basebackup -R (which writes primary_conninfo and standby.signal), then run postgres as
# the image normally would. Later starts find the data directory and just run.
set -euo pipefail

: "${PRIMARY_HOST:?set PRIMARY_HOST to the primary's service name}"
: "${REPLICATION_PASSWORD:?set REPLICATION_PASSWORD}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    until pg_isready -h "$PRIMARY_HOST" -p 5432 -q; do
        echo "waiting for $PRIMARY_HOST"
        sleep 1
    done
    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA"
    PGPASSWORD="$REPLICATION_PASSWORD" pg_basebackup \
        -h "$PRIMARY_HOST" -p 5432 -U replicator \
        -D "$PGDATA" -R -X stream --checkpoint=fast --progress
fi

# The WAL receiver connects with libpq, which also reads PGPASSWORD: the password reaches it
# even if primary_conninfo (written by -R) does not carry it.
export PGPASSWORD="$REPLICATION_PASSWORD"
exec postgres -c hot_standby=on
