use super::*;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};

/// RFC 7677 section 3: user "user", password "pencil".
const RFC_CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const RFC_SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const RFC_SERVER_FIRST: &str = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const RFC_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const RFC_SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

/// Verifiers from PostgreSQL 15 (`SET password_encryption = 'scram-sha-256'; CREATE ROLE ...`)
/// for 'pencil', U+2168 ROMAN NUMERAL NINE, and "I", U+00AD SOFT HYPHEN, "X". SASLprep turns
/// both of the last two into "IX".
const PG_PENCIL: &str = "SCRAM-SHA-256$4096:VI413n5V9ZzwNLLccFwEIw==$nFQvjRRB3dS0lE2fqCZuagYJ/j1SzeA/ezTzQbz4iCA=:sS0MvvGOf7C+ChRwsViROjgiAPF91p5eoG12U4Yqi+Y=";
const PG_ROMAN_NINE: &str = "SCRAM-SHA-256$4096:mppw8QeW3RywBCwONiG+Rw==$xe0gN7+UizhRcGASDcnc7nZvDl+9F1a5Itl1dRXBWRc=:yMHgV+0gpn6YcWQd96D1BwihCVfUfodvmD9yfnqfp64=";
const PG_SOFT_HYPHEN: &str = "SCRAM-SHA-256$4096:U5W5ik8zNF1Eb5xUyMe7DA==$mh7T0BV4QNq26QkO6R6umjq6eld/XHy8al8u+8wlaJU=:elBbBJh+gDbrOQFTpLCbq2wxUh0qEXkjP0YHi0kNibs=";

/// Runs a whole exchange with the client tokio-postgres uses; `Ok` only if both sides accept.
fn log_in(verifier: &ScramVerifier, password: &str, binding: ChannelBinding) -> anyhow::Result<()> {
    let mut client = ScramSha256::new(password.as_bytes(), binding);
    let (exchange, server_first) = ScramExchange::start(verifier, MECHANISM, client.message())?;
    client.update(&server_first)?;
    let server_final = exchange.finish(client.message())?;
    client.finish(&server_final)?;
    Ok(())
}

fn rfc_verifier() -> anyhow::Result<ScramVerifier> {
    let salt = STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==")?;
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(b"pencil", &salt, 4096, &mut salted);
    let mac = |msg: &[u8]| {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&salted).expect("any key length");
        m.update(msg);
        m.finalize().into_bytes()
    };
    let stored_key = Sha256::digest(mac(b"Client Key"));
    let text = format!(
        "SCRAM-SHA-256$4096:{}${}:{}",
        STANDARD.encode(&salt),
        STANDARD.encode(stored_key),
        STANDARD.encode(mac(b"Server Key"))
    );
    Ok(ScramVerifier::parse(&text)?)
}

/// The RFC exchange after server-first-message. Takes the verifier so PBKDF2 runs once per test.
fn rfc_exchange(verifier: &ScramVerifier) -> anyhow::Result<ScramExchange> {
    let client_first = RFC_CLIENT_FIRST.as_bytes();
    Ok(ScramExchange::start_with_server_nonce(verifier, MECHANISM, client_first, RFC_SERVER_NONCE)?.0)
}

#[test]
fn rust_postgres_client_logs_in_with_the_right_password() -> anyhow::Result<()> {
    let verifier = ScramVerifier::from_password("correct horse")?;
    log_in(&verifier, "correct horse", ChannelBinding::unrequested())?; // gs2 "y,,"
    log_in(&verifier, "correct horse", ChannelBinding::unsupported())?; // gs2 "n,,"
    Ok(())
}

#[test]
fn wrong_password_is_refused_as_28p01() -> anyhow::Result<()> {
    let verifier = ScramVerifier::from_password("correct horse")?;
    let mut client = ScramSha256::new(b"correct hose", ChannelBinding::unsupported());
    let (exchange, server_first) = ScramExchange::start(&verifier, MECHANISM, client.message())?;
    client.update(&server_first)?;
    let err = exchange.finish(client.message()).err();
    assert_eq!(err, Some(AuthError::WrongPassword));
    assert_eq!(err.map(|e| e.sqlstate()), Some("28P01"));
    Ok(())
}

#[test]
fn rfc7677_example_is_reproduced_byte_for_byte() -> anyhow::Result<()> {
    let verifier = rfc_verifier()?;
    let (exchange, server_first) =
        ScramExchange::start_with_server_nonce(&verifier, MECHANISM, RFC_CLIENT_FIRST.as_bytes(), RFC_SERVER_NONCE)?;
    assert_eq!(server_first, RFC_SERVER_FIRST.as_bytes());
    assert_eq!(exchange.finish(RFC_CLIENT_FINAL.as_bytes())?, RFC_SERVER_FINAL.as_bytes());
    Ok(())
}

#[test]
fn verifiers_written_by_postgresql_parse_print_and_authenticate() -> anyhow::Result<()> {
    for (text, passwords) in [
        (PG_PENCIL, &["pencil"][..]),
        (PG_ROMAN_NINE, &["\u{2168}", "IX"][..]),
        (PG_SOFT_HYPHEN, &["I\u{00AD}X", "IX"][..]),
    ] {
        let verifier = ScramVerifier::parse(text)?;
        assert_eq!(verifier.to_string(), text);
        for password in passwords {
            log_in(&verifier, password, ChannelBinding::unsupported())?;
        }
        assert!(log_in(&verifier, "ix", ChannelBinding::unsupported()).is_err());
    }
    Ok(())
}

#[test]
fn verifier_from_postgres_protocol_parses_and_authenticates() -> anyhow::Result<()> {
    let text = postgres_protocol::password::scram_sha_256(b"secret");
    let verifier = ScramVerifier::parse(&text)?;
    assert_eq!(verifier.to_string(), text);
    log_in(&verifier, "secret", ChannelBinding::unrequested())
}

#[test]
fn from_password_round_trips_through_text_and_salts_freshly() -> anyhow::Result<()> {
    let a = ScramVerifier::from_password("pw")?;
    let text = a.to_string();
    assert_eq!(ScramVerifier::parse(&text)?.to_string(), text);
    assert!(text.starts_with("SCRAM-SHA-256$4096:"));
    assert_eq!(a.salt.len(), 16);
    assert_ne!(ScramVerifier::from_password("pw")?.to_string(), text);
    Ok(())
}

#[test]
fn debug_output_hides_keys() -> anyhow::Result<()> {
    let verifier = ScramVerifier::parse(PG_PENCIL)?;
    let shown = format!("{verifier:?}");
    assert!(!shown.contains("nFQvjRRB") && !shown.contains("sS0Mvv"), "{shown}");
    let (exchange, _) = ScramExchange::start(&verifier, MECHANISM, RFC_CLIENT_FIRST.as_bytes())?;
    assert!(!format!("{exchange:?}").contains("rOprNG"));
    Ok(())
}

#[test]
fn malformed_verifier_strings_are_refused() {
    let keys = "$nFQvjRRB3dS0lE2fqCZuagYJ/j1SzeA/ezTzQbz4iCA=:sS0MvvGOf7C+ChRwsViROjgiAPF91p5eoG12U4Yqi+Y=";
    for bad in [
        String::new(),
        "md5b52328d7451bfeace80c4b8c338106f9".into(),
        "SCRAM-SHA-256$".into(),
        format!("SCRAM-SHA-256$4096{keys}"),
        format!("SCRAM-SHA-256$0:VI413n5V9ZzwNLLccFwEIw=={keys}"),
        format!("SCRAM-SHA-256$+4096:VI413n5V9ZzwNLLccFwEIw=={keys}"),
        format!("SCRAM-SHA-256$99999999999:VI413n5V9ZzwNLLccFwEIw=={keys}"),
        format!("SCRAM-SHA-256$4096:VI413n5V9Zzw!!LccFwEIw=={keys}"),
        "SCRAM-SHA-256$4096:VI413n5V9ZzwNLLccFwEIw==$nFQvjRRB:sS0MvvGOf7C+ChRwsViROjgiAPF91p5eoG12U4Yqi+Y=".into(),
        "SCRAM-SHA-256$4096:VI413n5V9ZzwNLLccFwEIw==$nFQvjRRB3dS0lE2fqCZuagYJ/j1SzeA/ezTzQbz4iCA=".into(),
        PG_PENCIL[..PG_PENCIL.len() - 2].into(),
    ] {
        assert!(matches!(ScramVerifier::parse(&bad), Err(AuthError::BadVerifier(_))), "{bad:?}");
    }
}

#[test]
fn channel_binding_requests_are_refused() -> anyhow::Result<()> {
    let verifier = ScramVerifier::parse(PG_PENCIL)?;
    let client = ScramSha256::new(b"pencil", ChannelBinding::tls_server_end_point(vec![1; 32]));
    for first in [client.message(), b"p=tls-server-end-point,,", b"p=tls-server-end-point,,n=,r=abc"] {
        let err = ScramExchange::start(&verifier, MECHANISM, first).err();
        assert_eq!(err, Some(AuthError::ChannelBindingRequested));
    }
    Ok(())
}

#[test]
fn only_scram_sha_256_is_accepted_as_mechanism() -> anyhow::Result<()> {
    let verifier = ScramVerifier::parse(PG_PENCIL)?;
    let first = RFC_CLIENT_FIRST.as_bytes();
    let plus = ScramExchange::start(&verifier, "SCRAM-SHA-256-PLUS", first).err();
    assert_eq!(plus, Some(AuthError::UnsupportedMechanism("SCRAM-SHA-256-PLUS".into())));
    match ScramExchange::start(&verifier, &"X".repeat(10_000), first) {
        Err(AuthError::UnsupportedMechanism(name)) => {
            assert_eq!(name.len(), MAX_MECHANISM_NAME_LEN)
        }
        other => panic!("expected UnsupportedMechanism, got {other:?}"),
    }
    Ok(())
}

#[test]
fn malformed_client_first_messages_are_protocol_violations() -> anyhow::Result<()> {
    let verifier = ScramVerifier::parse(PG_PENCIL)?;
    for bad in [
        &b""[..],
        b"\xff\xfe,,n=,r=abc",
        b"n",
        b"n,",
        b"n,,",
        b"n,,n=",
        b"n,,n=,",
        b"n,,n=,r=",
        b"n,,r=abc",
        b"q,,n=,r=abc",
        b"n,a=admin,n=,r=abc",
        b"n,,m=ext,n=,r=abc",
        b"n,,n=,r=ab,c",
        b"n,,n=,r=a\x7fb",
        b"n,,n=,r=a b",
        b"n,,n=,r=abc,=x",
    ] {
        let err = ScramExchange::start(&verifier, MECHANISM, bad).err();
        assert!(matches!(err, Some(AuthError::MalformedSasl(_))), "{bad:?}: {err:?}");
        assert_eq!(err.map(|e| e.sqlstate()), Some("08P01"));
    }
    // Extensions after the nonce are ignored, as PostgreSQL does.
    ScramExchange::start(&verifier, MECHANISM, b"y,,n=someone,r=abc,x=ext")?;
    Ok(())
}

#[test]
fn malformed_or_spliced_client_final_messages_are_refused() -> anyhow::Result<()> {
    let verifier = rfc_verifier()?;
    let proof = "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    let nonce = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    let cases: Vec<(Vec<u8>, AuthError)> = vec![
        (b"\xff".to_vec(), AuthError::MalformedSasl("")),
        (format!("c=biws,{nonce}").into(), AuthError::MalformedSasl("")),
        (format!("c=eSws,{nonce},{proof}").into(), AuthError::MalformedSasl("")), // "y,," but client sent "n,,"
        (format!("c=biws,{nonce}x,{proof}").into(), AuthError::NonceMismatch),
        (format!("c=biws,{},{proof}", &nonce[..nonce.len() - 1]).into(), AuthError::NonceMismatch),
        (format!("c=biws,{nonce},{proof},x=1").into(), AuthError::MalformedSasl("")),
        (format!("c=biws,{nonce},p=AAAA").into(), AuthError::MalformedSasl("")),
        (format!("c=biws,{nonce},1,{proof}").into(), AuthError::MalformedSasl("")),
        (format!("{nonce},c=biws,{proof}").into(), AuthError::MalformedSasl("")),
        (format!("c=biws,{nonce},p={}", STANDARD.encode([0u8; 32])).into(), AuthError::WrongPassword),
    ];
    for (bad, expected) in cases {
        let err = rfc_exchange(&verifier)?.finish(&bad).err();
        let same_kind = matches!((&err, &expected), (Some(AuthError::MalformedSasl(_)), AuthError::MalformedSasl(_)))
            || err.as_ref() == Some(&expected);
        assert!(same_kind, "{:?}: {err:?}", String::from_utf8_lossy(&bad));
    }
    // Every truncation of the genuine message fails.
    for end in 0..RFC_CLIENT_FINAL.len() {
        assert!(rfc_exchange(&verifier)?.finish(&RFC_CLIENT_FINAL.as_bytes()[..end]).is_err(), "{end}");
    }
    Ok(())
}

#[test]
fn random_and_mutated_input_never_panics_and_never_authenticates() -> anyhow::Result<()> {
    let verifier = rfc_verifier()?;
    let random_bytes = || {
        let len = rand::random::<usize>() % 120;
        (0..len).map(|_| rand::random::<u8>()).collect::<Vec<u8>>()
    };
    let mutate = |msg: &str| {
        let mut bytes = msg.as_bytes().to_vec();
        let at = rand::random::<usize>() % bytes.len();
        bytes[at] = rand::random();
        bytes
    };
    for _ in 0..3000 {
        let _ = ScramExchange::start(&verifier, MECHANISM, &random_bytes());
        let _ = ScramExchange::start(&verifier, MECHANISM, &mutate(RFC_CLIENT_FIRST));
        assert!(rfc_exchange(&verifier)?.finish(&random_bytes()).is_err());
        let mutated = mutate(RFC_CLIENT_FINAL);
        if mutated != RFC_CLIENT_FINAL.as_bytes() {
            assert!(rfc_exchange(&verifier)?.finish(&mutated).is_err(), "{:?}", String::from_utf8_lossy(&mutated));
        }
    }
    Ok(())
}

#[test]
fn hmac_helper_matches_new_from_slice() {
    let key = [7u8; 32];
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("any key length");
    m.update(b"message");
    assert_eq!(hmac_sha256(&key, b"message"), <[u8; 32]>::from(m.finalize().into_bytes()));
}
