//! Reading key values at route time: literals from the plan, Bind parameters (text or binary
//! by their format code), literals extracted by normalisation, and arrays for `= ANY(…)` in
//! PostgreSQL's text (`{1,2,3}`) and binary array formats. Everything is canonicalised by the
//! key type the sharding function declares, so `42`, `'42'` and a binary int2/int4/int8 `42`
//! are one key.

use std::borrow::Cow;

use super::plan::{Src, Val};
use super::Params;
use crate::shardmap::{KeyError, KeyType, KeyValue};

/// The canonical keys one value stands for: inline for the one value of the common case, so
/// routing a point statement allocates nothing for its key (the key then travels in
/// [`super::Route::tenant`] as it is).
pub type Keys = smallvec::SmallVec<[KeyValue; 1]>;

/// Where `Src::Param(i)` values come from.
#[derive(Clone, Copy)]
pub enum Values<'a> {
    /// Simple protocol, no values (a `$n` then constrains nothing).
    None,
    Bind(&'a Params<'a>),
    /// Literals extracted by normalisation, in `$n` order.
    Literals(&'a [Cow<'a, str>]),
}

/// A raw value before canonicalisation.
enum Raw<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
    Null,
}

impl<'a> Values<'a> {
    fn raw(&self, i: usize) -> Option<Raw<'a>> {
        match *self {
            Values::None => None,
            Values::Literals(l) => l.get(i).map(|s| Raw::Text(s)),
            Values::Bind(p) => {
                let v = p.values.get(i)?;
                let Some(bytes) = v else { return Some(Raw::Null) };
                let format = match p.formats {
                    [] => 0,
                    [one] => *one,
                    many => many.get(i).copied().unwrap_or(0),
                };
                if format == 1 {
                    Some(Raw::Binary(bytes))
                } else {
                    std::str::from_utf8(bytes).ok().map(Raw::Text)
                }
            }
        }
    }

    fn src(&self, src: &'a Src) -> Option<Raw<'a>> {
        match src {
            Src::Text(t) => Some(Raw::Text(t)),
            Src::Param(i) => self.raw(*i),
        }
    }

    /// The canonical keys `val` stands for: one value, several (an array), none (NULL, which
    /// equals nothing). `Ok(None)`: the value is not known here (a `$n` without Bind values).
    pub fn keys(&self, val: &'a Val, ty: KeyType) -> Result<Option<Keys>, KeyError> {
        match val {
            Val::Null => Ok(Some(Keys::new())),
            Val::One { src, negate } => {
                let Some(raw) = self.src(src) else { return Ok(None) };
                let v = match raw {
                    Raw::Null => return Ok(Some(Keys::new())),
                    Raw::Text(t) => KeyValue::from_text(ty, t)?,
                    Raw::Binary(b) => KeyValue::from_binary(ty, b)?,
                };
                Ok(Some(smallvec::smallvec![if *negate { negated(v, ty)? } else { v }]))
            }
            Val::Array(src) => match self.src(src) {
                None => Ok(None),
                Some(Raw::Null) => Ok(Some(Keys::new())),
                Some(Raw::Text(t)) => text_array(t, ty).map(|v| Some(Keys::from_vec(v))),
                Some(Raw::Binary(b)) => binary_array(b, ty).map(|v| Some(Keys::from_vec(v))),
            },
        }
    }
}

fn negated(v: KeyValue, ty: KeyType) -> Result<KeyValue, KeyError> {
    match v {
        KeyValue::Int(i) => {
            i.checked_neg().map(KeyValue::Int).ok_or_else(|| KeyError { ty: ty.as_str(), value: format!("-{i}") })
        }
        other => Err(KeyError { ty: ty.as_str(), value: format!("-{other}") }),
    }
}

/// PostgreSQL's text array form, one dimension: `{1,2}`, `{"a b","c\"d",NULL}`.
pub fn text_array(s: &str, ty: KeyType) -> Result<Vec<KeyValue>, KeyError> {
    let bad = || KeyError { ty: ty.as_str(), value: s.to_string() };
    let inner = s.trim().strip_prefix('{').and_then(|x| x.strip_suffix('}')).ok_or_else(bad)?;
    let mut out = Vec::new();
    if inner.trim().is_empty() {
        return Ok(out);
    }
    let mut chars = inner.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut item = String::new();
        let quoted = chars.next_if_eq(&'"').is_some();
        if quoted {
            loop {
                match chars.next().ok_or_else(bad)? {
                    '\\' => item.push(chars.next().ok_or_else(bad)?),
                    '"' => break,
                    c => item.push(c),
                }
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
        } else {
            while let Some(c) = chars.next_if(|&c| c != ',') {
                if c == '{' || c == '"' {
                    return Err(bad()); // nested arrays are not keys
                }
                item.push(c);
            }
            let t = item.trim_end().len();
            item.truncate(t);
        }
        if quoted || !item.eq_ignore_ascii_case("null") {
            out.push(KeyValue::from_text(ty, &item)?);
        }
        match chars.next() {
            Some(',') => continue,
            None => break,
            Some(_) => return Err(bad()),
        }
    }
    Ok(out)
}

/// PostgreSQL's binary array form (`array_send`): ndim, has-null flag, element type, the
/// dimensions, then each element as a length-prefixed binary value (-1 = NULL).
pub fn binary_array(b: &[u8], ty: KeyType) -> Result<Vec<KeyValue>, KeyError> {
    let bad = || KeyError { ty: ty.as_str(), value: format!("binary array of {} bytes", b.len()) };
    let mut at = 0usize;
    let int = |at: &mut usize| -> Result<i32, KeyError> {
        let v = b.get(*at..*at + 4).and_then(|s| <[u8; 4]>::try_from(s).ok()).ok_or_else(bad)?;
        *at += 4;
        Ok(i32::from_be_bytes(v))
    };
    let ndim = int(&mut at)?;
    let _has_null = int(&mut at)?;
    let _elem_oid = int(&mut at)?;
    if ndim == 0 {
        return Ok(Vec::new());
    }
    if ndim != 1 {
        return Err(bad());
    }
    let len = usize::try_from(int(&mut at)?).map_err(|_| bad())?;
    let _lbound = int(&mut at)?;
    let mut out = Vec::with_capacity(len.min(1024));
    for _ in 0..len {
        let n = int(&mut at)?;
        if n < 0 {
            continue;
        }
        let n = usize::try_from(n).map_err(|_| bad())?;
        let elem = b.get(at..at + n).ok_or_else(bad)?;
        at += n;
        out.push(KeyValue::from_binary(ty, elem)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_arrays() {
        assert_eq!(
            text_array("{1, 2,NULL,3}", KeyType::Int).unwrap(),
            vec![KeyValue::Int(1), KeyValue::Int(2), KeyValue::Int(3)]
        );
        assert_eq!(
            text_array(r#"{"a b","c\"d",e}"#, KeyType::Text).unwrap(),
            vec![KeyValue::Text("a b".into()), KeyValue::Text("c\"d".into()), KeyValue::Text("e".into())]
        );
        assert_eq!(text_array("{}", KeyType::Int).unwrap(), vec![]);
        assert!(text_array("{x}", KeyType::Int).is_err());
        assert!(text_array("1,2", KeyType::Int).is_err());
    }

    #[test]
    fn binary_arrays_of_int4_and_int8() {
        let mut b = Vec::new();
        for v in [1i32, 0, 23, 2, 1] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&4i32.to_be_bytes());
        b.extend_from_slice(&42i32.to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(binary_array(&b, KeyType::Int).unwrap(), vec![KeyValue::Int(42)]);
        let mut b = Vec::new();
        for v in [1i32, 0, 20, 1, 1, 8] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&7i64.to_be_bytes());
        assert_eq!(binary_array(&b, KeyType::Int).unwrap(), vec![KeyValue::Int(7)]);
        assert!(binary_array(&b[..10], KeyType::Int).is_err());
    }
}
