//! PostgreSQL's md5 password scheme with the proxy in the server's seat.
//!
//! md5 is weak (the stored hash is password-equivalent and the salt is 4 bytes), but older
//! drivers speak nothing else, so it is offered per user when the config asks. The client sends
//! `"md5" + hex(md5(hex(md5(password || user)) || salt))`; the server knows only the inner hash.
//! See `src/backend/libpq/crypt.c` (`md5_crypt_verify`) in PostgreSQL.

use std::fmt;
use std::fmt::Write as _;

use ::md5::{Digest, Md5};
use hmac::digest::CtOutput;

use super::AuthError;

/// Prefix of an md5 hash in pg_authid and of the client's response.
const PREFIX: &str = "md5";

/// `md5(password || user)`, as pg_authid stores it (`md5` + 32 lowercase hex digits).
/// No `PartialEq`: a derived comparison is not constant-time; [`Md5Secret::verify`] is.
#[derive(Clone)]
pub struct Md5Secret([u8; 16]);

impl Md5Secret {
    /// The user name salts the hash, so the same password gives each user a different secret
    /// and a secret cannot be moved to another user.
    pub fn from_password(user: &str, password: &str) -> Self {
        let mut md5 = Md5::new();
        md5.update(password);
        md5.update(user);
        Self(md5.finalize().into())
    }

    /// Parses `rolpassword` as PostgreSQL writes it. Uppercase hex is refused because
    /// PostgreSQL hashes the hex text itself during login: it would never match.
    pub fn parse(s: &str) -> Result<Self, AuthError> {
        let hex = s.strip_prefix(PREFIX).ok_or(AuthError::BadVerifier("md5 secret lacks the md5 prefix"))?;
        decode_lower_hex(hex.as_bytes())
            .map(Self)
            .ok_or(AuthError::BadVerifier("md5 secret is not 32 lowercase hex digits"))
    }

    /// Checks the body of the client's PasswordMessage against this secret and the salt sent in
    /// AuthenticationMD5Password. A trailing NUL is accepted so the caller may pass the body as
    /// framed. Compared in constant time, so timing reveals nothing about the expected hash.
    #[must_use = "ignoring the result lets any password in"]
    pub fn verify(&self, salt: [u8; 4], client_response: &[u8]) -> bool {
        let response = client_response.strip_suffix(b"\0").unwrap_or(client_response);
        let Some(got) = response.strip_prefix(PREFIX.as_bytes()).and_then(decode_lower_hex) else {
            return false;
        };
        let mut md5 = Md5::new();
        md5.update(lower_hex(&self.0));
        md5.update(salt);
        CtOutput::<Md5>::new(md5.finalize()) == CtOutput::new(got.into())
    }
}

/// The secret is password-equivalent for md5 logins: keep it out of `Debug`.
impl fmt::Debug for Md5Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Md5Secret").finish_non_exhaustive()
    }
}

/// The salt for AuthenticationMD5Password. Fresh per attempt, so a captured response cannot be
/// replayed (4 bytes is what the protocol allows).
pub fn random_salt() -> [u8; 4] {
    rand::random()
}

fn lower_hex(bytes: &[u8; 16]) -> String {
    let mut out = String::with_capacity(32);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Exactly 32 lowercase hex digits, else `None`.
fn decode_lower_hex(hex: &[u8]) -> Option<[u8; 16]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        *o = (nibble(*hi)? << 4) | nibble(*lo)?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use postgres_protocol::authentication::md5_hash;

    #[test]
    fn client_response_from_rust_postgres_verifies_with_and_without_nul() {
        let secret = Md5Secret::from_password("md5_user", "password");
        let salt = [0x2a, 0x3d, 0x8f, 0xe0];
        let response = md5_hash(b"md5_user", b"password", salt);
        assert!(secret.verify(salt, response.as_bytes()));
        assert!(secret.verify(salt, format!("{response}\0").as_bytes()));
    }

    #[test]
    fn wrong_password_salt_or_user_fails() {
        let secret = Md5Secret::from_password("alice", "s3cret");
        let salt = random_salt();
        assert!(!secret.verify(salt, md5_hash(b"alice", b"S3cret", salt).as_bytes()));
        assert!(!secret.verify(salt, md5_hash(b"bob", b"s3cret", salt).as_bytes()));
        let other_salt = [salt[0] ^ 1, salt[1], salt[2], salt[3]];
        assert!(!secret.verify(other_salt, md5_hash(b"alice", b"s3cret", salt).as_bytes()));
    }

    #[test]
    fn hash_written_by_postgresql_parses_and_verifies() -> anyhow::Result<()> {
        // PostgreSQL 15: SET password_encryption = 'md5'; CREATE ROLE m PASSWORD 'secret';
        let secret = Md5Secret::parse("md5b52328d7451bfeace80c4b8c338106f9")?;
        let salt = [1, 2, 3, 4];
        let response = md5_hash(b"m", b"secret", salt);
        assert!(secret.verify(salt, response.as_bytes()));
        assert!(Md5Secret::from_password("m", "secret").verify(salt, response.as_bytes()));
        Ok(())
    }

    #[test]
    fn malformed_secrets_are_refused() {
        for bad in [
            "",
            "md5",
            "b52328d7451bfeace80c4b8c338106f9",
            "md5B52328D7451BFEACE80C4B8C338106F9",
            "md5b52328d7451bfeace80c4b8c338106f",
            "md5b52328d7451bfeace80c4b8c338106f9a",
            "md5é2328d7451bfeace80c4b8c338106f",
        ] {
            assert!(matches!(Md5Secret::parse(bad), Err(AuthError::BadVerifier(_))), "{bad:?}");
        }
    }

    #[test]
    fn garbage_responses_are_rejected_without_panicking() {
        let secret = Md5Secret::from_password("u", "p");
        let salt = [9, 9, 9, 9];
        let good = md5_hash(b"u", b"p", salt);
        for bad in [
            &b""[..],
            b"\0",
            b"md5",
            b"md5\0",
            &good.as_bytes()[..34],
            good.to_uppercase().as_bytes(),
            &[good.as_bytes(), b"\0\0"].concat(),
            &[0xff; 35],
        ] {
            assert!(!secret.verify(salt, bad), "{bad:?}");
        }
        for _ in 0..2000 {
            let len = rand::random::<usize>() % 40;
            let bytes: Vec<u8> = (0..len).map(|_| rand::random()).collect();
            assert!(!secret.verify(salt, &bytes));
        }
    }
}
