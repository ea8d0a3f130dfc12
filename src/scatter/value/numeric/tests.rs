use std::cmp::Ordering;

use super::Numeric;

fn num(s: &str) -> Numeric {
    Numeric::parse_text(s.as_bytes()).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn text(n: &Numeric) -> String {
    let mut out = Vec::new();
    n.write_text(&mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn text_reads_and_prints_with_the_display_scale() {
    for (input, printed) in [
        ("0", "0"),
        ("1.0", "1.0"),
        ("1.00", "1.00"),
        ("-0", "0"),
        ("-0.000", "0.000"),
        ("  42  ", "42"),
        ("+7", "7"),
        ("-0.001", "-0.001"),
        ("12345678.9012", "12345678.9012"),
        ("0.00010000", "0.00010000"),
        ("10000", "10000"),
        ("99999999", "99999999"),
        ("1e5", "100000"),
        ("1.5e-3", "0.0015"),
        ("1.23e1", "12.3"),
        ("5.", "5"),
        (".5", "0.5"),
        ("NaN", "NaN"),
        ("nan", "NaN"),
        ("Infinity", "Infinity"),
        ("-inf", "-Infinity"),
        ("123456789012345678901234567890.123456789", "123456789012345678901234567890.123456789"),
    ] {
        assert_eq!(text(&num(input)), printed, "{input:?}");
    }
}

#[test]
fn text_that_is_not_a_number_is_refused() {
    for bad in ["", " ", "abc", "1e", "1.2.3", "--1", "1e1001", "1 2", ".", "+", "e5", "1e+", "+nan", "0x10", "1_000"] {
        assert!(Numeric::parse_text(bad.as_bytes()).is_err(), "{bad:?}");
    }
}

#[test]
fn order_ignores_scale_and_puts_nan_last() {
    let ordered = [
        "-Infinity",
        "-10000.5",
        "-1",
        "-0.0001",
        "0",
        "0.00001",
        "0.5",
        "1",
        "9999.9999",
        "10000",
        "1e20",
        "Infinity",
        "NaN",
    ];
    for (i, a) in ordered.iter().enumerate() {
        for (j, b) in ordered.iter().enumerate() {
            assert_eq!(num(a).cmp_sql(&num(b)), i.cmp(&j), "{a} vs {b}");
        }
    }
    assert_eq!(num("1.0").cmp_sql(&num("1.00")), Ordering::Equal);
    assert_eq!(num("NaN").cmp_sql(&num("nan")), Ordering::Equal);
    let key = |s| {
        let mut k = Vec::new();
        num(s).group_key(&mut k);
        k
    };
    assert_eq!(key("1.0"), key("1.000"));
    assert_eq!(key("-0.00"), key("0"));
    assert_ne!(key("1"), key("10000"));
    assert_ne!(key("Infinity"), key("NaN"));
}

#[test]
fn sums_are_exact_with_the_larger_scale() {
    for (a, b, sum) in [
        ("1.5", "2.25", "3.75"),
        ("9999.9999", "0.0001", "10000.0000"),
        ("1", "-1.00", "0.00"),
        ("-5", "3", "-2"),
        ("3", "-5", "-2"),
        ("100000000", "-0.00000001", "99999999.99999999"),
        ("-0.5", "-0.5", "-1.0"),
        ("0", "0.000", "0.000"),
        ("NaN", "1", "NaN"),
        ("Infinity", "-Infinity", "NaN"),
        ("Infinity", "5", "Infinity"),
        ("-Infinity", "5", "-Infinity"),
    ] {
        assert_eq!(text(&num(a).add(&num(b)).unwrap()), sum, "{a} + {b}");
    }
}

#[test]
fn division_by_a_count_uses_numeric_division_scale() {
    for (sum, count, avg) in [
        ("3", 2, "1.5000000000000000"),
        ("10", 3, "3.3333333333333333"),
        ("2", 3, "0.66666666666666666667"),
        ("-2", 3, "-0.66666666666666666667"),
        ("1", 3, "0.33333333333333333333"),
        ("3", 3, "1.00000000000000000000"),
        ("3.0000000000000001", 2, "1.5000000000000001"),
        ("-3.0000000000000001", 2, "-1.5000000000000001"),
        ("3.0000000000000003", 2, "1.5000000000000002"),
        ("0", 2, "0.00000000000000000000"),
        ("1.000000000000000000000000", 2, "0.500000000000000000000000"),
        ("123456789", 1, "123456789.000000000000"),
        ("100000", 7, "14285.714285714286"),
        ("0.0001", 3, "0.000033333333333333333333"),
        ("NaN", 3, "NaN"),
        ("-Infinity", 3, "-Infinity"),
    ] {
        assert_eq!(text(&num(sum).div_by_count(count).unwrap()), avg, "{sum} / {count}");
    }
    assert!(num("1").div_by_count(0).is_err());
}

#[test]
fn binary_round_trips_and_matches_the_wire_layout() {
    let mut out = Vec::new();
    num("1.5").write_binary(&mut out);
    assert_eq!(out, [0, 2, 0, 0, 0, 0, 0, 1, 0, 1, 0x13, 0x88]);
    for s in ["0", "0.00", "-12345.6789", "1e-20", "NaN", "Infinity", "-Infinity", "99999999999999999999.5"] {
        let mut out = Vec::new();
        num(s).write_binary(&mut out);
        assert_eq!(Numeric::parse_binary(&out).unwrap(), num(s), "{s}");
    }
    // As numeric_send writes the specials (the infinities' "scale" of 32 included).
    let special = |s: &str| {
        let mut out = Vec::new();
        num(s).write_binary(&mut out);
        out
    };
    assert_eq!(special("Infinity"), [0, 0, 0, 0, 0xD0, 0, 0, 32]);
    assert_eq!(special("-Infinity"), [0, 0, 0, 0, 0xF0, 0, 0, 32]);
    assert_eq!(special("NaN"), [0, 0, 0, 0, 0xC0, 0, 0, 0]);
    // Digits hidden by the display scale are dropped on receipt; bad fields are refused.
    let hidden = [0, 2, 0, 0, 0, 0, 0, 1, 0, 1, 0x13, 0x89];
    assert_eq!(text(&Numeric::parse_binary(&hidden).unwrap()), "1.5");
    assert!(Numeric::parse_binary(&[0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10]).is_err()); // digit 10000
    assert!(Numeric::parse_binary(&[0, 0, 0, 0, 0x12, 0x34, 0, 0]).is_err()); // sign
    assert!(Numeric::parse_binary(&[0, 1, 0, 0, 0, 0, 0, 0]).is_err()); // short
}
