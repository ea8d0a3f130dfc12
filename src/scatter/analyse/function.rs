//! What a function call is, judged by its name alone: one of the aggregates the proxy can
//! merge, an aggregate it cannot, a built-in that is certainly a plain scalar, or unknown.
//!
//! Unknown matters: the planner has no catalog, and a user-defined aggregate looks exactly
//! like a scalar call. In the places where an aggregate changes the meaning of the query
//! (select list, HAVING, ORDER BY, subqueries) an unknown function is therefore refused
//! rather than guessed at.

use sqlparser::ast::{Function, Ident, ObjectNamePart};

/// An aggregate whose per-shard partial results combine exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mergeable {
    Count,
    Sum,
    Min,
    Max,
    Avg,
    BoolAnd,
    BoolOr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Aggregate(Mergeable),
    /// A built-in aggregate whose partials do not combine (string_agg, stddev, …).
    OtherAggregate,
    /// A built-in that computes one value per row.
    Scalar,
    /// A built-in that returns a set of rows per row (unnest, generate_series, …).
    SetReturning,
    /// A built-in scalar that returns a new value at every call (random, clock_timestamp, …).
    Volatile,
    /// Not known to shardgate: maybe a user-defined aggregate.
    Unknown,
}

/// Built-in aggregates shardgate does not merge; named so the refusal can say so plainly.
#[rustfmt::skip] // a catalog: one line per family reads better than one line per name
const OTHER_AGGREGATES: &[&str] = &[
    "any_value", "array_agg", "bit_and", "bit_or", "bit_xor", "corr", "covar_pop", "covar_samp",
    "cume_dist", "dense_rank", "grouping", "json_agg", "json_agg_strict", "json_object_agg",
    "json_objectagg", "json_arrayagg", "jsonb_agg", "jsonb_agg_strict", "jsonb_object_agg",
    "mode", "percent_rank", "percentile_cont", "percentile_disc", "range_agg",
    "range_intersect_agg", "rank", "regr_avgx", "regr_avgy", "regr_count", "regr_intercept",
    "regr_r2", "regr_slope", "regr_sxx", "regr_sxy", "regr_syy", "stddev", "stddev_pop",
    "stddev_samp", "string_agg", "variance", "var_pop", "var_samp", "xmlagg",
];

/// Built-in functions that return one value per input row. A list, not a guess: anything
/// missing here is treated as possibly an aggregate where that would matter.
#[rustfmt::skip] // a catalog: one line per family reads better than one line per name
const SCALARS: &[&str] = &[
    // conditional and comparison
    "coalesce", "nullif", "greatest", "least", "num_nonnulls", "num_nulls",
    // strings
    "ascii", "btrim", "char_length", "character_length", "chr", "concat", "concat_ws", "format",
    "initcap", "left", "length", "lower", "lpad", "ltrim", "md5", "octet_length", "position",
    "regexp_replace", "regexp_match", "regexp_like", "regexp_substr", "repeat", "replace",
    "reverse", "right", "rpad", "rtrim", "split_part", "starts_with", "strpos", "substr",
    "substring", "to_hex", "translate", "trim", "upper", "quote_ident", "quote_literal",
    "encode", "decode", "sha256", "unaccent",
    // numbers
    "abs", "cbrt", "ceil", "ceiling", "div", "exp", "floor", "ln", "log", "log10", "mod",
    "power", "pow", "round", "scale", "sign", "sqrt", "trunc", "width_bucket",
    // dates and times
    "age", "current_date", "current_time", "current_timestamp",
    "date_bin", "date_part", "date_trunc", "extract", "isfinite", "justify_days",
    "justify_hours", "justify_interval", "localtime", "localtimestamp", "make_date",
    "make_interval", "make_time", "make_timestamp", "make_timestamptz", "now",
    "statement_timestamp", "timezone", "to_char", "to_date", "to_number", "to_timestamp",
    "transaction_timestamp",
    // json and arrays
    "array_length", "array_position", "array_to_string", "cardinality", "json_build_array",
    "json_build_object", "json_extract_path", "json_extract_path_text", "json_typeof",
    "jsonb_array_length", "jsonb_build_array", "jsonb_build_object", "jsonb_extract_path",
    "jsonb_extract_path_text", "jsonb_typeof", "to_json", "to_jsonb", "array_lower",
    "array_upper",
    // function-style casts, arrays, json
    "date", "int4", "int8", "numeric", "text", "float8", "timestamp", "timestamptz",
    "string_to_array", "array_append", "array_cat", "array_remove", "jsonb_set",
    "jsonb_strip_nulls", "jsonb_path_query_first",
    // identifiers and misc
    "current_user", "session_user", "current_schema",
];

/// Built-in volatile functions: a new value at every call, so a copy of the expression in
/// another column does not hold the value the shard sorted by.
#[rustfmt::skip] // a catalog: one line per family reads better than one line per name
const VOLATILE: &[&str] =
    &["clock_timestamp", "gen_random_uuid", "nextval", "random", "random_normal", "timeofday", "uuidv4", "uuidv7"];

/// Built-in set-returning functions: fine row by row, but in an aggregating query they
/// expand each group into several rows, which a merge by group would fold back into one.
#[rustfmt::skip] // a catalog: one line per family reads better than one line per name
const SET_RETURNING: &[&str] = &[
    "generate_series", "json_array_elements", "json_array_elements_text", "json_each",
    "json_each_text", "json_object_keys", "jsonb_array_elements", "jsonb_array_elements_text",
    "jsonb_each", "jsonb_each_text", "jsonb_object_keys", "jsonb_path_query", "regexp_matches",
    "regexp_split_to_table", "unnest",
];

/// The function's name as PostgreSQL resolves it: unquoted parts fold to lower case, and
/// `pg_catalog.` is where built-ins live. Any other schema means a user function.
pub fn name(f: &Function) -> Option<String> {
    let mut parts = f.name.0.iter();
    let last = match (parts.next(), parts.next(), parts.next()) {
        (Some(ObjectNamePart::Identifier(only)), None, _) => only,
        (Some(ObjectNamePart::Identifier(schema)), Some(ObjectNamePart::Identifier(func)), None)
            if folded(schema) == "pg_catalog" =>
        {
            func
        }
        _ => return None,
    };
    Some(folded(last))
}

/// An identifier as PostgreSQL sees it: unquoted names fold to lower case.
pub fn folded(ident: &Ident) -> String {
    match ident.quote_style {
        None => ident.value.to_lowercase(),
        Some(_) => ident.value.clone(),
    }
}

pub fn classify(f: &Function) -> Kind {
    let Some(name) = name(f) else {
        return Kind::Unknown;
    };
    let mergeable = match name.as_str() {
        "count" => Some(Mergeable::Count),
        "sum" => Some(Mergeable::Sum),
        "min" => Some(Mergeable::Min),
        "max" => Some(Mergeable::Max),
        "avg" => Some(Mergeable::Avg),
        "bool_and" | "every" => Some(Mergeable::BoolAnd),
        "bool_or" => Some(Mergeable::BoolOr),
        _ => None,
    };
    match mergeable {
        Some(m) => Kind::Aggregate(m),
        None if OTHER_AGGREGATES.contains(&name.as_str()) => Kind::OtherAggregate,
        None if SCALARS.contains(&name.as_str()) => Kind::Scalar,
        None if SET_RETURNING.contains(&name.as_str()) => Kind::SetReturning,
        None if VOLATILE.contains(&name.as_str()) => Kind::Volatile,
        None => Kind::Unknown,
    }
}

/// True for anything that is, or may be, an aggregate.
pub fn may_aggregate(f: &Function) -> bool {
    !matches!(classify(f), Kind::Scalar | Kind::SetReturning | Kind::Volatile)
}
