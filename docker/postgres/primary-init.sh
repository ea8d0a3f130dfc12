#!/bin/bash
# Runs once, when the official postgres image initialises a primary's empty data directory
# (/docker-entrypoint-initdb.d). Creates the application role, the role replicas copy the
# primary with, and lets that role connect for replication from the compose network.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE app LOGIN PASSWORD 'app';
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '${REPLICATION_PASSWORD}';
GRANT ALL ON SCHEMA public TO app;
ALTER DATABASE "$POSTGRES_DB" OWNER TO app;
SQL

echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
