//! SCRAM-SHA-256 with the proxy in the server's seat (RFC 5802, RFC 7677), behaving as
//! PostgreSQL's `src/backend/libpq/auth-scram.c` does, so that libpq, JDBC and rust-postgres
//! clients see no difference between shardgate and a real server.
//!
//! The proxy holds only verifiers (StoredKey/ServerKey), the same secret pg_authid holds, so
//! a client's password never needs to be known or stored.
//! Channel binding (SCRAM-SHA-256-PLUS) is never offered; see
//! [`AuthError::ChannelBindingRequested`]. The message grammar lives in `scram/message.rs`;
//! this file holds the keys and the checks that need them.

use std::fmt;

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::digest::{CtOutput, KeyInit};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::AuthError;
use message::{ClientFinal, ClientFirst};

mod message;

/// The one mechanism shardgate lists in AuthenticationSASL.
pub const MECHANISM: &str = "SCRAM-SHA-256";

/// Prefix of the pg_authid `rolpassword` format.
const VERIFIER_PREFIX: &str = "SCRAM-SHA-256$";

/// PostgreSQL's `SCRAM_RAW_NONCE_LEN`: 18 random bytes, 24 characters once base64-encoded.
const SERVER_NONCE_LEN: usize = 18;

/// A hostile client may name any mechanism; only this much of it reaches the logs.
const MAX_MECHANISM_NAME_LEN: usize = 64;

/// SHA-256 output: StoredKey, ServerKey, ClientKey, proofs and signatures.
type Key = [u8; 32];

/// What PostgreSQL stores for a SCRAM-SHA-256 password: enough to check a client's proof and
/// to prove to the client that we hold it. Still a secret: it permits offline password
/// guessing, and together with one sniffed exchange it permits logging in as the client.
#[derive(Clone)]
pub struct ScramVerifier {
    iterations: u32,
    salt: Vec<u8>,
    stored_key: Key,
    server_key: Key,
}

impl ScramVerifier {
    /// Derives a verifier from a plaintext password from the config: a fresh 16-byte salt and
    /// 4096 iterations, PostgreSQL's defaults.
    ///
    /// The derivation is delegated to postgres-protocol (the code tokio-postgres clients use)
    /// because it applies SASLprep and falls back to the raw bytes when SASLprep rejects the
    /// password, exactly as PostgreSQL does; a different normalisation would lock out users
    /// whose passwords contain non-ASCII characters. It returns the pg_authid text, which is
    /// parsed here, hence the `Result`; an `Err` would mean that crate changed its format.
    pub fn from_password(password: &str) -> Result<Self, AuthError> {
        Self::parse(&postgres_protocol::password::scram_sha_256(password.as_bytes()))
    }

    /// Parses the pg_authid format
    /// `SCRAM-SHA-256$<iterations>:<salt base64>$<StoredKey base64>:<ServerKey base64>`,
    /// so operators can paste `rolpassword` from an existing server into the config.
    pub fn parse(s: &str) -> Result<Self, AuthError> {
        let bad = AuthError::BadVerifier;
        let rest = s.strip_prefix(VERIFIER_PREFIX).ok_or(bad("missing SCRAM-SHA-256$ prefix"))?;
        let (params, keys) = rest.split_once('$').ok_or(bad("missing '$' before the keys"))?;
        let (iterations, salt) = params.split_once(':').ok_or(bad("missing ':' in parameters"))?;
        let (stored_key, server_key) = keys.split_once(':').ok_or(bad("missing ':' in keys"))?;
        // `u32::from_str` would also take a leading '+'; PostgreSQL wants plain digits.
        if iterations.is_empty() || !iterations.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("iteration count is not a number"));
        }
        let iterations = match iterations.parse::<u32>() {
            Ok(0) | Err(_) => return Err(bad("iteration count is out of range")),
            Ok(n) => n,
        };
        Ok(Self {
            iterations,
            salt: STANDARD.decode(salt).map_err(|_| bad("salt is not base64"))?,
            stored_key: decode_key(stored_key).ok_or(bad("StoredKey is not 32 bytes of base64"))?,
            server_key: decode_key(server_key).ok_or(bad("ServerKey is not 32 bytes of base64"))?,
        })
    }
}

/// The pg_authid format, the inverse of [`ScramVerifier::parse`]. It contains the keys: write
/// it to config files, not to logs.
impl fmt::Display for ScramVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{VERIFIER_PREFIX}{}:{}${}:{}",
            self.iterations,
            Base64Display::new(&self.salt, &STANDARD),
            Base64Display::new(&self.stored_key, &STANDARD),
            Base64Display::new(&self.server_key, &STANDARD),
        )
    }
}

/// Keys stay out of `Debug`, so a verifier inside a logged config or session is harmless.
impl fmt::Debug for ScramVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramVerifier")
            .field("iterations", &self.iterations)
            .field("salt_len", &self.salt.len())
            .finish_non_exhaustive()
    }
}

/// A SCRAM exchange that has sent server-first-message and awaits client-final-message.
///
/// Only [`ScramExchange::start`] makes one and [`ScramExchange::finish`] consumes it, so the
/// compiler forbids checking a proof before issuing a nonce, or checking two proofs against
/// one nonce.
pub struct ScramExchange {
    stored_key: Key,
    server_key: Key,
    /// The gs2 header the client sent; client-final's `c=` must repeat it.
    gs2_header: &'static str,
    /// Client nonce followed by ours; client-final's `r=` must repeat it.
    nonce: String,
    /// `client-first-message-bare "," server-first-message ","`: the part of AuthMessage that
    /// is known before client-final-message arrives.
    auth_message_prefix: String,
}

impl ScramExchange {
    /// Reads the client's SASLInitialResponse (`mechanism` and its data) and returns the
    /// exchange with the server-first-message to send in AuthenticationSASLContinue.
    ///
    /// The username in `n=` is ignored, as PostgreSQL ignores it: the user is the one named in
    /// the startup packet, for which the caller looked up `verifier`.
    pub fn start(verifier: &ScramVerifier, mechanism: &str, client_first: &[u8]) -> Result<(Self, Vec<u8>), AuthError> {
        let raw_nonce: [u8; SERVER_NONCE_LEN] = rand::random();
        Self::start_with_server_nonce(verifier, mechanism, client_first, &STANDARD.encode(raw_nonce))
    }

    /// [`ScramExchange::start`] with the server nonce given, so tests can replay RFC 7677.
    fn start_with_server_nonce(
        verifier: &ScramVerifier,
        mechanism: &str,
        client_first: &[u8],
        server_nonce: &str,
    ) -> Result<(Self, Vec<u8>), AuthError> {
        if mechanism != MECHANISM {
            let name = mechanism.chars().take(MAX_MECHANISM_NAME_LEN).collect();
            return Err(AuthError::UnsupportedMechanism(name));
        }
        let ClientFirst { gs2_header, bare, client_nonce } = ClientFirst::parse(client_first)?;
        let nonce = format!("{client_nonce}{server_nonce}");
        let server_first =
            format!("r={nonce},s={},i={}", Base64Display::new(&verifier.salt, &STANDARD), verifier.iterations);
        let exchange = Self {
            stored_key: verifier.stored_key,
            server_key: verifier.server_key,
            gs2_header,
            auth_message_prefix: format!("{bare},{server_first},"),
            nonce,
        };
        Ok((exchange, server_first.into_bytes()))
    }

    /// Checks the client's SASLResponse and returns the server-final-message (`v=...`) to send
    /// in AuthenticationSASLFinal, which lets the client check that we hold its verifier.
    /// Only `Ok` means the client knows the password.
    pub fn finish(self, client_final: &[u8]) -> Result<Vec<u8>, AuthError> {
        let ClientFinal { without_proof, channel_binding, nonce, proof } = ClientFinal::parse(client_final)?;
        // Without channel binding, `c=` is the base64 of the gs2 header and nothing else.
        if channel_binding != self.gs2_header.as_bytes() {
            return Err(AuthError::MalformedSasl("channel-binding attribute does not repeat the gs2 header"));
        }
        if nonce != self.nonce {
            return Err(AuthError::NonceMismatch);
        }

        let auth_message = [self.auth_message_prefix.as_bytes(), without_proof.as_bytes()].concat();
        // ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); the client knows the
        // password iff SHA-256(ClientKey) is StoredKey.
        let mut client_key = proof;
        let client_signature = hmac_sha256(&self.stored_key, &auth_message);
        for (k, s) in client_key.iter_mut().zip(client_signature) {
            *k ^= s;
        }
        // Constant-time, so response timing says nothing about how close a guess came.
        let stored_key = CtOutput::<Sha256>::new(self.stored_key.into());
        if CtOutput::<Sha256>::new(Sha256::digest(client_key)) != stored_key {
            return Err(AuthError::WrongPassword);
        }
        let server_signature = hmac_sha256(&self.server_key, &auth_message);
        Ok(format!("v={}", Base64Display::new(&server_signature, &STANDARD)).into_bytes())
    }
}

/// Nonces and keys stay out of `Debug`, so a session state holding an exchange can be logged.
impl fmt::Debug for ScramExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramExchange").field("gs2_header", &self.gs2_header).finish_non_exhaustive()
    }
}

/// Keys and proofs are SHA-256 sized; anything else is malformed.
fn decode_key(b64: &str) -> Option<Key> {
    STANDARD.decode(b64).ok()?.try_into().ok()
}

/// HMAC-SHA-256 keyed by a 32-byte key. RFC 2104 zero-pads a key shorter than the 64-byte block,
/// so padding it here and using the infallible constructor gives the same MAC as
/// `new_from_slice`, without a `Result` whose error cannot happen.
fn hmac_sha256(key: &Key, msg: &[u8]) -> Key {
    let mut block = hmac::digest::Key::<Hmac<Sha256>>::default();
    for (b, k) in block.iter_mut().zip(key) {
        *b = *k;
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block);
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests;
