use super::*;
use crate::scatter::ScatterError;

fn text(type_oid: u32, s: &str) -> Value {
    decode(type_oid, Format::Text, s.as_bytes()).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn encoded(v: &Value, type_oid: u32, format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    encode(v, type_oid, format, &mut out).unwrap_or_else(|e| panic!("{v:?}: {e}"));
    out
}

fn shown(v: &Value, type_oid: u32) -> String {
    String::from_utf8(encoded(v, type_oid, Format::Text)).unwrap()
}

fn key(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    group_key(v, &mut out);
    out
}

/// Every pair of `ordered` compares (and groups) by position; equal neighbours share one.
fn assert_order(type_oid: u32, ordered: &[&[&str]]) {
    for (i, same_a) in ordered.iter().enumerate() {
        for (j, same_b) in ordered.iter().enumerate() {
            for a in same_a.iter() {
                for b in same_b.iter() {
                    let (va, vb) = (text(type_oid, a), text(type_oid, b));
                    assert_eq!(compare(&va, &vb), i.cmp(&j), "{a:?} vs {b:?}");
                    assert_eq!(key(&va) == key(&vb), i == j, "keys of {a:?} and {b:?}");
                }
            }
        }
    }
}

#[test]
fn floats_order_nan_last_and_zero_once() {
    assert_order(
        oid::FLOAT8,
        &[&["-Infinity"], &["-1e+300"], &["-1.5"], &["0", "-0"], &["1.5e-05"], &["1"], &["Infinity"], &["NaN"]],
    );
    assert_order(oid::FLOAT4, &[&["-inf"], &["-3.4028235e+38"], &["0", "-0"], &["1e+06"], &["inf"], &["NaN", "nan"]]);
}

// The float4 literals are exact float4 values (ties and halfway points); clippy would have
// them shortened, which is what is being tested.
#[allow(clippy::excessive_precision)]
#[test]
fn floats_print_like_postgresql() {
    for (v, s) in [
        (1e20, "1e+20"),
        (1.5e-5, "1.5e-05"),
        (0.0001, "0.0001"),
        (123456789012345.0, "123456789012345"),
        (1e15, "1e+15"),
        (-0.0, "-0"),
        (0.0, "0"),
        (0.1, "0.1"),
        (-2.5, "-2.5"),
        (100.0, "100"),
        (f64::MAX, "1.7976931348623157e+308"),
        (5e-324, "5e-324"),
        (f64::NAN, "NaN"),
        (f64::NEG_INFINITY, "-Infinity"),
    ] {
        assert_eq!(shown(&Value::Float8(v), oid::FLOAT8), s);
    }
    for (v, s) in [
        (1e6f32, "1e+06"),
        (100000.0, "100000"),
        (0.1, "0.1"),
        (1.0 / 3.0, "0.33333334"),
        (1e-5, "1e-05"),
        (102642304.0, "1.02642304e+08"),
        (2533424.25, "2.5334242e+06"),
        (429271.125, "429271.12"),
    ] {
        assert_eq!(shown(&Value::Float4(v), oid::FLOAT4), s);
    }
    assert!(decode(oid::FLOAT8, Format::Text, b"1e400").is_err());
    assert!(decode(oid::FLOAT8, Format::Text, b"1e-400").is_err());
    assert!(decode(oid::FLOAT8, Format::Text, b"-nan").is_err());
    assert!(decode(oid::FLOAT4, Format::Text, b"1e39").is_err());
}

#[test]
fn integers_check_their_type_range() {
    assert_eq!(text(oid::INT2, " -32768 "), Value::Int(-32768));
    assert!(decode(oid::INT2, Format::Text, b"32768").is_err());
    assert!(decode(oid::INT4, Format::Text, b"2147483648").is_err());
    assert!(decode(oid::INT8, Format::Text, b"9223372036854775808").is_err());
    assert_eq!(text(oid::OID, "4294967295"), Value::Int(4_294_967_295));
    assert_eq!(decode(oid::INT2, Format::Binary, &[0xff, 0xfe]).unwrap(), Value::Int(-2));
    assert_eq!(decode(oid::OID, Format::Binary, &[0xff; 4]).unwrap(), Value::Int(4_294_967_295));
    assert!(decode(oid::INT4, Format::Binary, &[0, 0, 1]).is_err());
    assert!(encode(&Value::Int(40_000), oid::INT2, Format::Binary, &mut Vec::new()).is_err());
    assert_eq!(encoded(&Value::Int(-2), oid::INT4, Format::Binary), [0xff, 0xff, 0xff, 0xfe]);
}

#[test]
fn intervals_compare_by_span_and_print_in_postgres_style() {
    assert_order(
        oid::INTERVAL,
        &[
            &["-1 years"],
            &["-1 days +02:00:00"],
            &["-00:00:01"],
            &["00:00:00"],
            &["1 day", "24:00:00"],
            &["1 mon", "30 days", "720:00:00"],
            &["1 year 2 mons 3 days 04:05:06.5"],
        ],
    );
    for s in [
        "1 year 2 mons 3 days 04:05:06.5",
        "-00:00:01",
        "-1 days +02:00:00",
        "00:00:00",
        "-1 years -2 mons",
        "1 mon -1 days",
        "-1 mons +1 day",
        "3 days -00:00:00.000001",
        "100:00:00",
        "-178956970 years -8 mons -2147483648 days -2562047788:00:54.775808",
    ] {
        assert_eq!(shown(&text(oid::INTERVAL, s), oid::INTERVAL), s);
    }
    for bad in ["@ 1 day", "P1D", "1-2", "1 day 1 year", "1 hour", "", "1 day 10:00"] {
        assert!(decode(oid::INTERVAL, Format::Text, bad.as_bytes()).is_err(), "{bad:?}");
    }
    let i = Value::Interval(Interval { months: 14, days: -3, micros: 14_706_500_000 });
    assert_eq!(decode(oid::INTERVAL, Format::Binary, &encoded(&i, oid::INTERVAL, Format::Binary)).unwrap(), i);
}

#[test]
fn dates_and_timestamps_read_iso_text() {
    assert_eq!(text(oid::DATE, "2000-01-01"), Value::Date(0));
    assert_eq!(text(oid::DATE, "2024-01-31"), Value::Date(8796));
    assert_eq!(text(oid::DATE, "infinity"), Value::Date(i32::MAX));
    assert_order(
        oid::DATE,
        &[
            &["-infinity"],
            &["4714-11-24 BC"],
            &["0044-03-15 BC"],
            &["0001-12-31 BC"],
            &["0001-01-01"],
            &["2024-02-29"],
            &["10000-01-01"],
            &["infinity"],
        ],
    );
    assert_order(
        oid::TIMESTAMP,
        &[&["0044-03-15 12:00:00 BC"], &["2024-01-31 12:00:00"], &["2024-01-31 12:00:00.5"], &["infinity"]],
    );
    assert_order(
        oid::TIMESTAMPTZ,
        &[
            &["2024-03-31 01:59:59+01"],
            &["2024-03-31 03:00:00+02", "2024-03-31 01:00:00+00", "2024-03-31 06:30:00+05:30"],
            &["2024-03-30 22:29:45-03:30:15"],
        ],
    );
    for s in ["2024-01-31", "0044-03-15 BC", "-infinity", "0001-01-01"] {
        assert_eq!(shown(&text(oid::DATE, s), oid::DATE), s);
    }
    for s in ["2024-01-31 12:00:00.5", "0044-03-15 00:00:00 BC", "1999-12-31 23:59:59.999999", "infinity"] {
        assert_eq!(shown(&text(oid::TIMESTAMP, s), oid::TIMESTAMP), s);
    }
    assert_eq!(shown(&text(oid::TIME, "24:00:00"), oid::TIME), "24:00:00");
    for bad in ["01/31/2024", "31.01.2024", "2024-02-30", "0000-01-01", "Wed Jan 31 12:00:00 2024", "2024-1-31"] {
        assert!(decode(oid::DATE, Format::Text, bad.as_bytes()).is_err(), "{bad:?}");
    }
    assert!(decode(oid::TIMESTAMPTZ, Format::Text, b"2024-01-31 12:00:00").is_err());
    assert!(decode(oid::TIMESTAMPTZ, Format::Text, b"2024-01-31 12:00:00 CET").is_err());
}

#[test]
fn fractions_and_two_digit_fields_read_exactly() {
    use super::interval::{fraction_micros, two_digits};
    assert_eq!(fraction_micros(""), Some(0));
    assert_eq!(fraction_micros("5"), Some(500_000));
    assert_eq!(fraction_micros("000001"), Some(1));
    assert_eq!(fraction_micros("123456"), Some(123_456));
    assert_eq!(fraction_micros("1234567"), None);
    assert_eq!(fraction_micros("12a"), None);
    assert_eq!(fraction_micros("-1"), None);
    assert_eq!(two_digits("07"), Some(7));
    assert_eq!(two_digits("59"), Some(59));
    for bad in ["7", "007", "+1", "a1", ""] {
        assert_eq!(two_digits(bad), None, "{bad:?}");
    }
}

#[test]
fn text_bpchar_uuid_and_bool() {
    assert_order(oid::BPCHAR, &[&["", "  "], &["a", "a  "], &["a\tb"], &["ab", "ab "]]);
    assert_order(oid::TEXT, &[&[""], &[" "], &["a"], &["a "], &["b"]]);
    assert_eq!(shown(&text(oid::BPCHAR, "a  "), oid::BPCHAR), "a  ");
    let u = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    assert_eq!(shown(&text(oid::UUID, u), oid::UUID), u);
    assert_eq!(text(oid::UUID, "{A0EEBC999C0B4EF8BB6D6BB9BD380A11}"), text(oid::UUID, u));
    assert!(decode(oid::UUID, Format::Text, b"a0ee-bc99").is_err());
    assert_order(oid::BOOL, &[&["f", "false"], &["t", "on"]]);
    assert_eq!(decode(oid::BOOL, Format::Binary, &[2]).unwrap(), Value::Bool(true));
    // Two text keys concatenated stay distinct: ("ab","c") vs ("a","bc").
    let pair = |a: &str, b: &str| [key(&text(oid::TEXT, a)), key(&text(oid::TEXT, b))].concat();
    assert_ne!(pair("ab", "c"), pair("a", "bc"));
}

#[test]
fn sums_add_in_the_partial_type_and_overflow_like_postgresql() {
    assert_eq!(add(&Value::Int(2), &Value::Int(3)).unwrap(), Value::Int(5));
    match add(&Value::Int(i64::MAX), &Value::Int(1)) {
        Err(ScatterError::Value { code, message }) => {
            assert_eq!((code, message.as_str()), ("22003", "bigint out of range"))
        }
        other => panic!("{other:?}"),
    }
    assert!(add(&Value::Float8(f64::MAX), &Value::Float8(f64::MAX)).is_err());
    assert!(add(&Value::Float8(f64::INFINITY), &Value::Float8(1.0)).is_ok());
    assert!(add(&Value::Float4(f32::MAX), &Value::Float4(f32::MAX)).is_err());
    let sum = add(&text(oid::NUMERIC, "1.5"), &text(oid::NUMERIC, "2.25")).unwrap();
    assert_eq!(shown(&sum, oid::NUMERIC), "3.75");
    let sum = add(&text(oid::INTERVAL, "1 mon 10:00:00"), &text(oid::INTERVAL, "-1 days 20:00:00")).unwrap();
    assert_eq!(shown(&sum, oid::INTERVAL), "1 mon -1 days +30:00:00");
    assert!(add(&Value::Int(1), &Value::Float8(1.0)).is_err());
}

#[test]
fn averages_divide_like_postgresql() {
    assert_eq!(shown(&avg(&Value::Int(3), 2, oid::NUMERIC).unwrap(), oid::NUMERIC), "1.5000000000000000");
    assert_eq!(
        shown(&avg(&text(oid::NUMERIC, "2.50"), 4, oid::NUMERIC).unwrap(), oid::NUMERIC),
        "0.62500000000000000000"
    );
    assert_eq!(avg(&Value::Float8(3.0), 2, oid::FLOAT8).unwrap(), Value::Float8(1.5));
    assert!(matches!(avg(&text(oid::INTERVAL, "1 day"), 2, oid::INTERVAL), Err(ScatterError::Unsupported { .. })));
    assert!(avg(&Value::Int(3), 0, oid::NUMERIC).is_err());
}

#[test]
fn unsupported_types_are_refused_not_guessed() {
    assert!(!is_supported(114)); // json
    assert!(is_supported(oid::NUMERIC));
    assert!(matches!(decode(114, Format::Text, b"{}"), Err(ScatterError::Unsupported { .. })));
    assert_eq!(Format::from_code(1), Format::Binary);
    assert_eq!(Format::from_code(0), Format::Text);
}
