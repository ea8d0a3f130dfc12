#!/usr/bin/env bash
# Builds shardgate with profile-guided optimisation (PGO): an instrumented release build
# serves a short pgbench training run, and a second release build uses the profile it wrote.
# The binary ends up in target/pgo/build/release/shardgate (the plain `cargo build --release`
# in target/release is left alone).
#
#   scripts/build-pgo.sh
#   CARGO_TARGET_DIR=target/pgo/build SKIP_BUILD=1 benches/pgbench.sh    # benchmark it
#
# Why: the proxy's hot path (framing, relay, plan-cache lookup, pool checkout) is a few
# thousand instructions spread over tokio, the router and the pool, and the compiler cannot
# tell the hot branches from the cold ones. With the profile it lays hot code together and
# inlines by measured counts. On the 2-core bench host that cut shardgate's user CPU per
# transaction by a fifth to two fifths (docs/performance.md, "Profile-guided build").
#
# Training: benches/pgbench.sh, short, through the instrumented binary: pgbench -S in all
# three query modes (simple, extended, prepared), then the tenant workload over one and four
# shards with the cross-shard reads (SCATTER=1). Code that training does not run (statement
# shapes it never sees, TLS, the admin console) is treated as cold: it is still correct, but
# optimised for size. Add your own workload to the training run if it differs much.
#
# Needs: what benches/pgbench.sh needs (PostgreSQL and pgbouncer, installed with apt-get when
# missing; root or a user that can run initdb), and llvm-profdata matching rustc's LLVM, which
# comes with `rustup component add llvm-tools` (done here when missing).
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$PWD
PGO=$REPO/target/pgo
say() { printf '==> %s\n' "$*"; }
die() { printf 'build-pgo: %s\n' "$*" >&2; exit 1; }

command -v cargo >/dev/null || die "cargo not found: install Rust from https://rustup.rs"

# llvm-profdata must read the raw profiles of rustc's own LLVM version: take the one in
# rustc's sysroot (the llvm-tools component), not whatever llvm-profdata is on PATH.
HOST=$(rustc -vV | sed -n 's/^host: //p')
PROFDATA=$(rustc --print sysroot)/lib/rustlib/$HOST/bin/llvm-profdata
if [ ! -x "$PROFDATA" ]; then
    say "adding the llvm-tools component (rustup component add llvm-tools)"
    rustup component add llvm-tools >/dev/null || die "cannot add llvm-tools; install it with rustup"
fi
[ -x "$PROFDATA" ] || die "$PROFDATA not found after adding llvm-tools"

rm -rf "$PGO/profiles"
mkdir -p "$PGO/profiles/run"

say "instrumented build (target/pgo/train)"
# Build scripts and proc macros run during this build and write profiles too: they go to
# profiles/build and are not merged.
CARGO_TARGET_DIR=$PGO/train RUSTFLAGS="-Cprofile-generate=$PGO/profiles/build" \
    cargo build --release --bin shardgate

# The instrumented shardgate writes its profile when it exits (pgbench.sh stops it with
# SIGTERM, a graceful shutdown). LLVM_PROFILE_FILE names one file per process (%p).
train() {
    local name=${1#WORKLOAD=}
    say "training run: $*"
    env "$@" LLVM_PROFILE_FILE="$PGO/profiles/run/shardgate-%p.profraw" \
        CARGO_TARGET_DIR="$PGO/train" SKIP_BUILD=1 DURATION=3 ROUNDS=1 WARMUP=1 \
        CLIENTS="1 16 64" MODES="simple extended prepared" CONNECT_CLIENTS=4 \
        OUT="$PGO/train-$name.md" "$REPO/benches/pgbench.sh" >"$PGO/train-$name.log" 2>&1 \
        || { tail -n 20 "$PGO/train-$name.log" >&2; die "training run failed (log: $PGO/train-$name.log)"; }
}
train WORKLOAD=select-only
train WORKLOAD=tenant TENANTS=20000 SCATTER=1

ls "$PGO"/profiles/run/*.profraw >/dev/null 2>&1 || die "the training run wrote no profile"
"$PROFDATA" merge -o "$PGO/shardgate.profdata" "$PGO"/profiles/run/*.profraw

say "optimised build (target/pgo/build)"
CARGO_TARGET_DIR=$PGO/build RUSTFLAGS="-Cprofile-use=$PGO/shardgate.profdata" \
    cargo build --release --bin shardgate
say "done: $PGO/build/release/shardgate"
