//! TEMPORARY STUB (replaced by the real module): signatures only.
#![allow(unused_variables)]
use super::ScatterError;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format { Text, Binary }
impl Format { pub fn from_code(c: i16) -> Self { if c == 1 { Format::Binary } else { Format::Text } } }
#[derive(Debug, Clone, PartialEq)]
pub enum Value { Bool(bool), Int(i64), Text(Vec<u8>) }
pub fn is_supported(t: u32) -> bool { true }
pub fn decode(t: u32, f: Format, raw: &[u8]) -> Result<Value, ScatterError> { Ok(Value::Text(raw.to_vec())) }
pub fn compare(a: &Value, b: &Value) -> std::cmp::Ordering { std::cmp::Ordering::Equal }
pub fn group_key(v: &Value, out: &mut Vec<u8>) {}
pub fn encode(v: &Value, t: u32, f: Format, out: &mut Vec<u8>) -> Result<(), ScatterError> { Ok(()) }
pub fn add(a: &Value, b: &Value) -> Result<Value, ScatterError> { Ok(a.clone()) }
pub fn avg(s: &Value, n: i64, t: u32) -> Result<Value, ScatterError> { Ok(s.clone()) }
