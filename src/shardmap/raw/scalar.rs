//! Scalars and keys as the DBA writes them. Key values are kept as the text YAML gives, so a
//! function can canonicalise them by its declared key type: `42` and `"42"` are one bigint.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

/// One scalar (a key value or a range bound) as text: YAML integers in decimal, strings as
/// written. Floats, booleans and nulls are refused: no key type reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawScalar(pub String);

/// A scalar or a list of scalars: `key: bigint` or `key: [text, text]` for a function, `key: 42`
/// or `key: [marriott, us-northeast]` for a list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawKey {
    One(RawScalar),
    Many(Vec<Spanned<RawScalar>>),
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = RawScalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer or a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawScalar, E> {
        Ok(RawScalar(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<RawScalar, E> {
        Ok(RawScalar(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawScalar, E> {
        Ok(RawScalar(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawScalar, E> {
        Ok(RawScalar(v.to_string()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<RawScalar, E> {
        Ok(RawScalar(v.to_string()))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<RawScalar, E> {
        Ok(RawScalar(v.to_string()))
    }
}

impl<'de> Deserialize<'de> for RawScalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = RawKey;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scalar or a list of scalars")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawKey, E> {
        ScalarVisitor.visit_str(v).map(RawKey::One)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<RawKey, E> {
        ScalarVisitor.visit_string(v).map(RawKey::One)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawKey, E> {
        ScalarVisitor.visit_i64(v).map(RawKey::One)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawKey, E> {
        ScalarVisitor.visit_u64(v).map(RawKey::One)
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<RawKey, E> {
        ScalarVisitor.visit_i128(v).map(RawKey::One)
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<RawKey, E> {
        ScalarVisitor.visit_u128(v).map(RawKey::One)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawKey, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<RawScalar>>()? {
            items.push(item);
        }
        Ok(RawKey::Many(items))
    }
}

impl<'de> Deserialize<'de> for RawKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KeyVisitor)
    }
}
