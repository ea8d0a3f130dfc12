#!/usr/bin/env bash
# Runs every test. The integration tests start their own PostgreSQL clusters (initdb into a
# temp dir, free port), so the machine only needs the PostgreSQL server binaries, which this
# script installs from the system packages when they are missing.
#
#   scripts/test.sh                          # cargo test --all-targets
#   scripts/test.sh --test harness_smoke     # cargo test --test harness_smoke
#
# Environment: SHARDGATE_PG_BIN=/path/to/bin overrides the /usr/lib/postgresql/*/bin search.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

pg_bin_dir() {
    if [ -n "${SHARDGATE_PG_BIN:-}" ]; then
        echo "$SHARDGATE_PG_BIN"
        return 0
    fi
    # The newest major version wins, as in tests/support/pg.rs.
    local initdb
    initdb=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
    [ -x "$initdb" ] || return 1
    dirname "$initdb"
}

if ! pg_bin_dir >/dev/null; then
    if ! command -v apt-get >/dev/null; then
        echo "PostgreSQL server binaries not found and apt-get is unavailable." >&2
        echo "Install PostgreSQL (13 or newer) and set SHARDGATE_PG_BIN to its bin directory." >&2
        exit 1
    fi
    say "installing PostgreSQL from the system packages"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql
fi
PG_BIN=$(pg_bin_dir) || { echo "no PostgreSQL server binaries after installing" >&2; exit 1; }

# PostgreSQL refuses to run as root; the harness then runs it as the `postgres` OS user.
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    say "creating the postgres OS user"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

if ! command -v cargo >/dev/null && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
if ! command -v cargo >/dev/null; then
    echo "cargo not found: install Rust from https://rustup.rs" >&2
    exit 1
fi

if [ "${CI:-}" = "true" ]; then
    # A clean build gains nothing from incremental artifacts.
    export CARGO_INCREMENTAL=0
fi

say "PostgreSQL: $("$PG_BIN/postgres" --version) ($PG_BIN)"
say "$(cargo --version), $(nproc) cores"
args=("$@")
if [ "${#args[@]}" -eq 0 ]; then
    args=(--all-targets)
    # The whole suite also checks formatting (seconds; rustfmt comes with the toolchain).
    if cargo fmt --version >/dev/null 2>&1; then
        say "cargo fmt --check"
        cargo fmt --check || { say "code is not formatted: run cargo fmt"; exit 1; }
    else
        say "rustfmt not installed: formatting not checked"
    fi
fi
say "cargo test ${args[*]}"
start=$SECONDS
status=0
cargo test "${args[@]}" || status=$?
elapsed=$((SECONDS - start))

if [ "$status" -eq 0 ]; then
    say "all tests passed (${elapsed}s)"
else
    say "TESTS FAILED (cargo exited with $status after ${elapsed}s); see the failures above"
fi
exit "$status"
