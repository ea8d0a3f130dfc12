//! The grammar of the two SCRAM messages a client sends (RFC 5802 section 7), read the way
//! PostgreSQL's `read_client_first_message`/`read_client_final_message` read them. Pure syntax,
//! total on any bytes: the checks that need the exchange (nonce, `c=` echo, proof) are the
//! caller's.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::{decode_key, Key};
use crate::auth::AuthError;

/// What the exchange keeps from client-first-message.
pub(super) struct ClientFirst<'a> {
    /// The header to expect back in client-final's `c=`.
    pub(super) gs2_header: &'static str,
    /// client-first-message-bare, verbatim: it opens AuthMessage.
    pub(super) bare: &'a str,
    pub(super) client_nonce: &'a str,
}

impl<'a> ClientFirst<'a> {
    /// `gs2-cbind-flag "," [authzid] "," [reserved-mext ","] username "," nonce ["," extensions]`
    pub(super) fn parse(msg: &'a [u8]) -> Result<Self, AuthError> {
        let msg = std::str::from_utf8(msg).map_err(|_| malformed("client-first is not UTF-8"))?;
        let (flag, rest) = msg.split_once(',').ok_or(malformed("missing gs2 header"))?;
        let gs2_header = match flag {
            // "n": the client cannot bind. "y": it could, but believes we cannot. That is true,
            // since we never offer SCRAM-SHA-256-PLUS, so "y" is not a sign of a downgrade.
            "n" => "n,,",
            "y" => "y,,",
            _ if flag.starts_with("p=") => return Err(AuthError::ChannelBindingRequested),
            _ => return Err(malformed("unknown channel-binding flag in gs2 header")),
        };
        let (authzid, bare) = rest.split_once(',').ok_or(malformed("truncated gs2 header"))?;
        if !authzid.is_empty() {
            return Err(malformed("authorization identity (a=) is not supported"));
        }
        let mut attrs = bare.split(',');
        match attrs.next() {
            Some(a) if a.starts_with("m=") => return Err(malformed("mandatory extension (m=) is not supported")),
            // The name is not read: PostgreSQL authenticates the startup packet's user.
            Some(a) if a.starts_with("n=") => {}
            _ => return Err(malformed("missing username attribute (n=)")),
        }
        let client_nonce = attr(attrs.next(), "r=", "missing nonce attribute (r=)")?;
        if client_nonce.is_empty() || !client_nonce.bytes().all(is_printable) {
            return Err(malformed("client nonce is empty or not printable"));
        }
        check_extensions(attrs)?;
        Ok(Self { gs2_header, bare, client_nonce })
    }
}

/// client-final-message, split into what the exchange checks.
pub(super) struct ClientFinal<'a> {
    /// client-final-message-without-proof, verbatim: it closes AuthMessage.
    pub(super) without_proof: &'a str,
    /// `c=`, decoded: gs2 header plus channel-binding data (none, as we never offer it).
    pub(super) channel_binding: Vec<u8>,
    pub(super) nonce: &'a str,
    pub(super) proof: Key,
}

impl<'a> ClientFinal<'a> {
    /// `"c=" base64 "," "r=" nonce ["," extensions] "," "p=" base64`
    pub(super) fn parse(msg: &'a [u8]) -> Result<Self, AuthError> {
        let msg = std::str::from_utf8(msg).map_err(|_| malformed("client-final is not UTF-8"))?;
        // Attribute values never contain ',', so the first ",p=" starts the proof, which must
        // be the last attribute: anything after it fails the base64 decode of the proof.
        let (without_proof, proof) = msg.split_once(",p=").ok_or(malformed("missing proof attribute (p=)"))?;
        let mut attrs = without_proof.split(',');
        let binding = attr(attrs.next(), "c=", "missing channel-binding attribute (c=)")?;
        let channel_binding =
            STANDARD.decode(binding).map_err(|_| malformed("channel-binding attribute is not base64"))?;
        let nonce = attr(attrs.next(), "r=", "missing nonce attribute (r=)")?;
        check_extensions(attrs)?;
        Ok(Self {
            without_proof,
            channel_binding,
            nonce,
            proof: decode_key(proof).ok_or(malformed("proof is not 32 bytes of base64"))?,
        })
    }
}

fn malformed(reason: &'static str) -> AuthError {
    AuthError::MalformedSasl(reason)
}

/// The value of the next attribute, which must be `name` (e.g. `"r="`): SCRAM fixes the order.
fn attr<'a>(next: Option<&'a str>, name: &str, missing: &'static str) -> Result<&'a str, AuthError> {
    next.and_then(|a| a.strip_prefix(name)).ok_or(malformed(missing))
}

/// RFC 5802 `printable`: visible ASCII except ','.
fn is_printable(b: u8) -> bool {
    matches!(b, 0x21..=0x2b | 0x2d..=0x7e)
}

/// Optional attributes after the mandatory ones are ignored, as PostgreSQL ignores them, but
/// each must still have the `<letter>=<value>` shape.
fn check_extensions<'a>(attrs: impl Iterator<Item = &'a str>) -> Result<(), AuthError> {
    for attr in attrs {
        let mut bytes = attr.bytes();
        match (bytes.next(), bytes.next()) {
            (Some(name), Some(b'=')) if name.is_ascii_alphabetic() => {}
            _ => return Err(malformed("malformed extension attribute")),
        }
    }
    Ok(())
}
