#!/usr/bin/env bash
# Fuzzes the code that reads untrusted peer bytes (startup packets, regular messages, the SQL
# lexer) with cargo fuzz / libFuzzer. A benchmark-style run, not part of CI.
#
#   benches/fuzz.sh
#   FUZZ_SECONDS=600 benches/fuzz.sh regular_message
#
# It installs cargo-fuzz when missing, writes seed inputs (fuzz/seeds.sh), builds every
# target, runs each for FUZZ_SECONDS, and prints executions, exec/s, coverage and any crash
# artifact with its path, input in hex and panic message. Exits 1 when a run found a crash,
# leak, timeout or out-of-memory, or when the fuzzer itself failed.
#
# Arguments: target names [every target in fuzz/fuzz_targets].
# Environment (defaults in brackets):
#   FUZZ_SECONDS    seconds per target (-max_total_time) [60]
#   FUZZ_SANITIZER  address | none (cargo fuzz -s) [address]
#   FUZZ_TIMEOUT    seconds one input may run before it counts as a hang [10]
#   FUZZ_ARGS       extra libFuzzer flags, e.g. "-max_len=65536 -jobs=2" []
#
# Works on a stable toolchain: cargo fuzz passes -Z flags (sanitizer, coverage) to rustc,
# which stable accepts when RUSTC_BOOTSTRAP=1. See fuzz/README.md.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$PWD
FUZZ_DIR=$REPO/fuzz

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_SANITIZER=${FUZZ_SANITIZER:-address}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}
FUZZ_ARGS=${FUZZ_ARGS:-}
export RUSTC_BOOTSTRAP=1

say() { printf '==> %s\n' "$*"; }

if ! cargo fuzz --version >/dev/null 2>&1; then
    say "installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list --fuzz-dir "$FUZZ_DIR")
fi

say "writing seeds"
bash "$FUZZ_DIR/seeds.sh"

build_flags=(--fuzz-dir "$FUZZ_DIR" -O -a -s "$FUZZ_SANITIZER")
# Each sanitizer gets its own target dir: switching would otherwise rebuild every dependency.
[ "$FUZZ_SANITIZER" = address ] || build_flags+=(--target-dir "$FUZZ_DIR/target/sanitizer-$FUZZ_SANITIZER")
say "building ${targets[*]} (sanitizer: $FUZZ_SANITIZER)"
for t in "${targets[@]}"; do
    cargo fuzz build "${build_flags[@]}" "$t"
done

LOG_DIR=$FUZZ_DIR/target/logs
mkdir -p "$LOG_DIR"
marker=$(mktemp)
trap 'rm -f "$marker"' EXIT

failed=0
summary=()
for t in "${targets[@]}"; do
    log=$LOG_DIR/$t.log
    artifacts=$FUZZ_DIR/artifacts/$t
    mkdir -p "$FUZZ_DIR/corpus/$t" "$artifacts"
    dict=()
    [ -f "$FUZZ_DIR/dict/$t.dict" ] && dict=("-dict=$FUZZ_DIR/dict/$t.dict")
    say "fuzzing $t for ${FUZZ_SECONDS}s (log: $log)"
    rc=0
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags.
    cargo fuzz run "${build_flags[@]}" "$t" "$FUZZ_DIR/corpus/$t" -- \
        -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" -print_final_stats=1 \
        "${dict[@]}" $FUZZ_ARGS >"$log" 2>&1 || rc=$?

    # The last status line: "#N <event> cov: C ft: F corp: K/S ... exec/s: E ...".
    status=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    [ -n "$runs" ] || runs=$(sed -E -n 's/^#([0-9]+).*/\1/p' <<<"$status")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    [ -n "$rate" ] || rate=$(sed -E -n 's/.*exec\/s: ([0-9]+).*/\1/p' <<<"$status")
    cov=$(sed -E -n 's/.*cov: ([0-9]+).*/\1/p' <<<"$status")
    corp=$(sed -E -n 's/.*corp: ([0-9]+\/[0-9A-Za-z]+).*/\1/p' <<<"$status")
    line="$t: ${runs:-?} execs, ${rate:-?} exec/s, cov ${cov:-?}, corpus ${corp:-?}"

    mapfile -t found < <(find "$artifacts" -type f \
        \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) \
        -newer "$marker" | sort)
    if [ "${#found[@]}" -gt 0 ]; then
        failed=1
        line+=", ${#found[@]} new artifact(s)"
        for a in "${found[@]}"; do
            line+=$'\n'"    $a"
            line+=$'\n'"      input: $(od -An -v -tx1 "$a" | tr -d ' \n')"
            line+=$'\n'"      repro: RUSTC_BOOTSTRAP=1 cargo fuzz run ${build_flags[*]} $t $a"
        done
        panic_msg=$(grep -m 1 -A 1 'panicked at' "$log" || grep -m 1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)' "$log" || true)
        [ -n "$panic_msg" ] && line+=$'\n'"      $(sed ':a;N;$!ba;s/\n/\n      /g' <<<"$panic_msg")"
    elif [ "$rc" -ne 0 ]; then
        failed=1
        line+=", fuzzer exited with $rc and left no artifact: see $log"
    fi
    summary+=("$line")
done

printf '\n## fuzz summary (%ss per target, sanitizer %s)\n' "$FUZZ_SECONDS" "$FUZZ_SANITIZER"
printf '%s\n' "${summary[@]}"
older=$(find "$FUZZ_DIR/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) \
    ! -newer "$marker" 2>/dev/null | wc -l)
[ "$older" -eq 0 ] || printf 'note: %s artifact(s) from earlier runs remain under %s\n' "$older" "$FUZZ_DIR/artifacts"
exit "$failed"
