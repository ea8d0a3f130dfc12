//! Client-facing authentication: the secrets shardgate holds for each configured user (a SCRAM
//! verifier or an md5 hash, never the need to keep a plaintext password around) and the
//! server-side exchanges that check a client against them.
//!
//! Owns: the byte formats and the cryptography of SCRAM-SHA-256 (RFC 5802/7677, as PostgreSQL's
//! `src/backend/libpq/auth-scram.c` implements it) and of PostgreSQL's md5 scheme.
//! Must never: do I/O (the frontend frames AuthenticationSASL*/PasswordMessage and calls in
//! here), log or `Debug`-print key material, or panic on anything a client sends (indexing is
//! denied here; every read of peer bytes is checked).
#![deny(clippy::indexing_slicing)]

pub mod md5;
pub mod scram;

/// Why a client failed to authenticate, or why a configured secret is unusable.
///
/// `Display` is for logs. Clients should get PostgreSQL's generic wording (see
/// [`AuthError::sqlstate`]), not these reasons: telling a prober which step failed helps it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The client's SASLInitialResponse or SASLResponse does not follow the SCRAM grammar.
    #[error("malformed SASL message: {0}")]
    MalformedSasl(&'static str),
    /// The client picked a mechanism we did not offer (only `SCRAM-SHA-256` is offered). The
    /// name is truncated so a hostile client cannot flood the logs.
    #[error("unsupported SASL mechanism {0:?}")]
    UnsupportedMechanism(String),
    /// The gs2 header asked for channel binding (`p=...`). We never offer
    /// SCRAM-SHA-256-PLUS, so a client asking for it is confused or being downgraded.
    #[error("client requested SCRAM channel binding, which is not offered")]
    ChannelBindingRequested,
    /// The nonce in client-final-message is not the one this exchange issued: a replayed or
    /// spliced exchange.
    #[error("SCRAM nonce in client-final-message does not match the exchange")]
    NonceMismatch,
    /// The client's proof does not match the stored key: the password is wrong.
    #[error("password authentication failed: client proof does not match")]
    WrongPassword,
    /// A configured secret (SCRAM verifier or md5 hash) is not in pg_authid's format.
    #[error("invalid stored password secret: {0}")]
    BadVerifier(&'static str),
}

impl AuthError {
    /// The SQLSTATE for the client's ErrorResponse. Exhaustive on purpose: a new variant must
    /// decide its code here rather than inherit one.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            // invalid_password, as PostgreSQL reports any failed password check.
            Self::WrongPassword => "28P01",
            // protocol_violation: the client broke the SCRAM message rules.
            Self::MalformedSasl(_) | Self::NonceMismatch => "08P01",
            // invalid_authorization_specification: a well-formed request we will not honour,
            // or a secret on our side that cannot be used.
            Self::UnsupportedMechanism(_) | Self::ChannelBindingRequested | Self::BadVerifier(_) => "28000",
        }
    }
}
