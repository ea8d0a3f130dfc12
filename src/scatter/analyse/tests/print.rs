//! The shards' statement is the parsed statement printed back by sqlparser: it must mean
//! what the client's text meant (parameters, casts, operators, escaped strings).

use super::*;

#[test]
fn printing_keeps_parameters_casts_operators_and_strings() {
    for (sql, printed) in [
        (
            "SELECT amount::numeric(10,2), $1::int[], ids[1:2] FROM r WHERE id = ANY($2) AND x <> ALL($3::int[])",
            "SELECT amount::NUMERIC(10,2), $1::INT[], ids[1:2] FROM r WHERE id = ANY($2) AND x <> ALL($3::INT[])",
        ),
        (
            "SELECT id FROM r WHERE tags @> ARRAY['vip'] AND data ->> 'k' = $1 AND data #>> '{a,b}' = 'x'",
            "SELECT id FROM r WHERE tags @> ARRAY['vip'] AND data ->> 'k' = $1 AND data #>> '{a,b}' = 'x'",
        ),
        (
            "SELECT id FROM r WHERE created_at AT TIME ZONE 'UTC' > now() - INTERVAL '1 day' AND x = -$1",
            "SELECT id FROM r WHERE created_at AT TIME ZONE 'UTC' > now() - INTERVAL '1 day' AND x = -$1",
        ),
        (
            r"SELECT E'\\', E'\'', E'\x41', 'it''s', 'a\', $tag$ it's $tag$, U&'a\005Cb' FROM r",
            r"SELECT E'\\', E'\'', E'A', 'it''s', 'a\', $tag$ it's $tag$, U&'a\\b' FROM r",
        ),
        (
            "SELECT x::double precision, ts::date FROM r WHERE t = TIMESTAMP '2026-11-01 10:00' AND name LIKE 'x\\_%' ESCAPE '\\'",
            "SELECT x::DOUBLE PRECISION, ts::DATE FROM r WHERE t = TIMESTAMP '2026-11-01 10:00' AND name LIKE 'x\\_%' ESCAPE '\\'",
        ),
        ("SELECT $1, $2::text, $10 FROM r", "SELECT $1, $2::TEXT, $10 FROM r"),
    ] {
        assert_eq!(ok(sql).shard_sql, printed, "{sql}");
        assert_eq!(ok(printed).shard_sql, printed, "printing is stable: {printed}");
    }
}

#[test]
fn a_string_continued_over_a_line_break_is_refused_not_misprinted() {
    let (message, _) = refused("SELECT 'a'\n'b' FROM r");
    assert!(message.contains("string constants"), "{message}");
}
