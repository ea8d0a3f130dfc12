//! Shard keys: their declared types and canonical values. A key is canonicalised by the type
//! its sharding function declares, not by how the client spelled it, so `42`, `'42'`,
//! `42::bigint`, a text `$1` and a binary int2/int4/int8 `$1` are one value and one shard.

use super::hash;

/// The type a sharding function declares for one key column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// smallint, integer, bigint: hashed as int8 (`hashint8extended`).
    Int,
    /// text, varchar, char: `hashtextextended` (deterministic collations only).
    Text,
    /// uuid: `uuid_hash_extended`.
    Uuid,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Int => "bigint",
            Self::Text => "text",
            Self::Uuid => "uuid",
        }
    }

    /// The key type a SQL type name hashes as, or `None` if shardgate cannot hash it (numeric,
    /// floats, dates …: their PostgreSQL hashes are not ported). Accepts the names a DBA
    /// writes (`bigint`, `varchar(64)`, `character varying`) and the ones `information_schema`
    /// and `pg_type` report (`int8`, `bpchar`), in any case.
    pub fn from_sql_name(name: &str) -> Option<KeyType> {
        let lower = name.trim().to_ascii_lowercase();
        let base = match lower.split_once('(') {
            Some((base, _)) => base.trim_end(),
            None => lower.as_str(),
        };
        let words: Vec<&str> = base.split_whitespace().collect();
        match words.join(" ").as_str() {
            "smallint" | "int2" | "integer" | "int" | "int4" | "bigint" | "int8" | "smallserial" | "serial"
            | "bigserial" | "serial2" | "serial4" | "serial8" => Some(KeyType::Int),
            "text" | "varchar" | "character varying" | "char" | "character" | "bpchar" => Some(KeyType::Text),
            "uuid" => Some(KeyType::Uuid),
            _ => None,
        }
    }
}

/// One canonical key value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyValue {
    Int(i64),
    Text(String),
    Uuid([u8; 16]),
}

/// A value that cannot be a key of the declared type (e.g. `'abc'` for a bigint key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {ty} key")]
pub struct KeyError {
    pub ty: &'static str,
    pub value: String,
}

impl KeyValue {
    /// From the text form (a SQL literal's content or a text-format Bind value).
    pub fn from_text(ty: KeyType, s: &str) -> Result<Self, KeyError> {
        let bad = || KeyError { ty: ty.as_str(), value: s.to_string() };
        match ty {
            KeyType::Int => parse_int(s).map(KeyValue::Int).ok_or_else(bad),
            KeyType::Text => Ok(KeyValue::Text(s.to_string())),
            KeyType::Uuid => parse_uuid(s).map(KeyValue::Uuid).ok_or_else(bad),
        }
    }

    /// From a binary-format Bind value: big-endian int2/int4/int8 by length, UTF-8 text,
    /// 16-byte uuid.
    pub fn from_binary(ty: KeyType, b: &[u8]) -> Result<Self, KeyError> {
        let bad = || KeyError { ty: ty.as_str(), value: format!("binary value of {} bytes", b.len()) };
        match ty {
            KeyType::Int => match b.len() {
                2 => Ok(KeyValue::Int(i64::from(i16::from_be_bytes([b[0], b[1]])))),
                4 => Ok(KeyValue::Int(i64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]])))),
                8 => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    Ok(KeyValue::Int(i64::from_be_bytes(a)))
                }
                _ => Err(bad()),
            },
            KeyType::Text => std::str::from_utf8(b).map(|s| KeyValue::Text(s.to_string())).map_err(|_| bad()),
            KeyType::Uuid => <[u8; 16]>::try_from(b).map(KeyValue::Uuid).map_err(|_| bad()),
        }
    }

    /// Whether this value is canonical for `ty` (an `Int` for `KeyType::Int` …).
    pub fn is_of(&self, ty: KeyType) -> bool {
        matches!(
            (self, ty),
            (KeyValue::Int(_), KeyType::Int) | (KeyValue::Text(_), KeyType::Text) | (KeyValue::Uuid(_), KeyType::Uuid)
        )
    }

    /// PostgreSQL's extended hash of this value with seed 0, as `hashint8extended(v, 0)`,
    /// `hashtextextended(v, 0)` or `uuid_hash_extended(v, 0)` return it.
    pub fn hash(&self) -> i64 {
        match self {
            KeyValue::Int(v) => hash::hashint8extended(*v, 0),
            KeyValue::Text(s) => hash::hashtextextended(s, 0),
            KeyValue::Uuid(u) => hash::uuid_hash_extended(u, 0),
        }
    }
}

impl std::fmt::Display for KeyValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyValue::Int(v) => write!(f, "{v}"),
            KeyValue::Text(s) => write!(f, "'{}'", s.replace('\'', "''")),
            KeyValue::Uuid(u) => {
                for (i, b) in u.iter().enumerate() {
                    if matches!(i, 4 | 6 | 8 | 10) {
                        f.write_str("-")?;
                    }
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    }
}

/// PostgreSQL's uuid input: 32 hex digits, optionally in braces, hyphens after any group of
/// four digits.
fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let s = s.trim();
    let s = s.strip_prefix('{').and_then(|x| x.strip_suffix('}')).unwrap_or(s);
    let hex: Vec<u8> = s.bytes().filter(|&c| c != b'-').collect();
    if hex.len() != 32 || s.starts_with('-') || s.ends_with('-') || s.contains("--") {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// An integer key as text, as `str::parse` reads it after trimming. Most keys are plain digits:
/// up to 18 of them cannot overflow an `i64` and are summed directly (the trim and the general
/// parser were ~200 instructions of every routed statement).
fn parse_int(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if !b.is_empty() && b.len() <= 18 && b.iter().all(u8::is_ascii_digit) {
        return Some(b.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')));
    }
    s.trim().parse::<i64>().ok()
}

#[cfg(test)]
mod tests {
    use super::parse_int;

    #[test]
    fn integer_keys_read_as_the_general_parser_reads_them() {
        let cases = [
            "0",
            "42",
            "007",
            "-42",
            "+42",
            " 42 ",
            "\t42\n",
            "",
            " ",
            "-",
            "4 2",
            "42a",
            "4.2",
            "١٢",
            "999999999999999999",
            "1000000000000000000",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "000000000000000000000000042",
        ];
        for s in cases {
            assert_eq!(parse_int(s), s.trim().parse::<i64>().ok(), "{s:?}");
        }
        for n in (0..200u32).map(|i| 10i64.pow(i % 19) - 1 + i64::from(i)) {
            assert_eq!(parse_int(&n.to_string()), Some(n));
        }
    }
}
