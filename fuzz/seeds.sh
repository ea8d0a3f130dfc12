#!/usr/bin/env bash
# Writes a few valid inputs per fuzz target into fuzz/corpus/<target>/ (gitignored), so the
# fuzzer starts from real packets instead of having to discover the length prefixes.
#
#   fuzz/seeds.sh
#
# Each input is one cut byte (where the target splits the rest into two reads) followed by
# the wire bytes. Re-running overwrites the seeds and leaves what the fuzzer found.
set -euo pipefail
cd "$(dirname "$0")"

# be32 N: N as 4 big-endian bytes.
be32() {
    printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))"
    printf "\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"
}

# msg TAG BODY: one regular message; BODY is a printf format ('\0' for NUL).
msg() {
    local body
    body=$(mktemp)
    # shellcheck disable=SC2059 # BODY is a format on purpose, to spell NULs and binary.
    printf "$2" >"$body"
    printf '%s' "$1"
    be32 $(($(wc -c <"$body") + 4))
    cat "$body"
    rm -f "$body"
}

# startup CODE BODY: one untagged startup-phase packet.
startup() {
    local body
    body=$(mktemp)
    # shellcheck disable=SC2059
    printf "$2" >"$body"
    be32 $(($(wc -c <"$body") + 8))
    be32 "$1"
    cat "$body"
    rm -f "$body"
}

# seed TARGET NAME CUT: stdin, after the cut byte, becomes corpus/TARGET/NAME.
seed() {
    local dir=corpus/$1
    mkdir -p "$dir"
    { printf "\\x$(printf %02x "$3")"; cat; } >"$dir/seed-$2"
}

V3=196608 SSL=80877103 GSS=80877104 CANCEL=80877102

startup $V3 'user\0app\0database\0pms\0\0' | seed startup_packet v3 0
startup $V3 'user\0app\0options\0-c search_path=a\\ b --statement-timeout=5s -cwork_mem=4MB\0\0' |
    seed startup_packet options 17
startup $V3 'user\0app\0application_name\0psql\0client_encoding\0UTF8\0\0' | seed startup_packet v3-cut 3
startup $SSL '' | seed startup_packet ssl 4
startup $GSS '' | seed startup_packet gssenc 0
startup $CANCEL '\0\0\x30\x39\x12\x34\x56\x78' | seed startup_packet cancel 9
{ startup $SSL ''; startup $V3 'user\0app\0database\0pms\0\0'; } | seed startup_packet ssl-then-v3 8

Q="SET search_path TO a, b; select 'x;y', \$\$;\$\$, E'a\\\\';b' /* ; /* nested */ */ -- ;\\n; RESET ALL"
msg Q "$Q\\0" | seed regular_message query 0
msg Q 'set SESSION work_mem = \x2764MB\x27; SET TIME ZONE \x27UTC\x27; SET x.y TO DEFAULT\0' |
    seed regular_message query-set 2
msg Q 'DISCARD ALL; DEALLOCATE PREPARE "s""1"; deallocate all; LISTEN chan; SET LOCAL a = 1\0' |
    seed regular_message query-session 40
msg Q 'SELECT \xc3\xa9t\xc3\xa9 FROM "t" WHERE a = $1 AND b = $tag$ ; $tag$\0' | seed regular_message query-utf8 7
{
    msg P 's1\0select $1::int\0\0\x01\0\0\0\x17'
    msg B 'p1\0s1\0\0\x01\0\x01\0\x01\0\0\0\x04\0\0\0\x2a\0\x01\0\x01'
    msg D 'Pp1\0'
    msg E 'p1\0\0\0\0\0'
    msg C 'Ss1\0'
    msg S ''
} | seed regular_message extended 30
{
    msg P '\0SET search_path = x\0\0\0'
    msg B '\0\0\0\0\0\x02\xff\xff\xff\xff\0\0\0\x0242\0\0'
    msg D 'S\0'
    msg H ''
} | seed regular_message extended-unnamed 12
{
    msg Z 'I'
    msg C 'SELECT 3\0'
    msg E 'SERROR\0VERROR\0C42P01\0Mrelation "t" does not exist\0Ddetail\0Hhint\0\0'
    msg N 'SNOTICE\0C00000\0Mnotice\0\0'
    msg Z 'T'
    msg Z 'E'
} | seed regular_message backend 21
msg X '' | seed regular_message terminate 0

printf '%s\n' "seeds written: $(find corpus -name 'seed-*' | wc -l) under $PWD/corpus"
