//! Strict JSON: a document with the same key twice in one object is refused, with the
//! JSON pointer (RFC 6901) of the second occurrence.
//!
//! `serde_json` keeps the last of duplicate keys, and other parsers keep the first, so
//! two readers of the same bytes could disagree about what was signed, validated or
//! authorised. Every body a gateway reads (court, federation and admin APIs) and every
//! agreement file goes through [`parse`]. Written here rather than taken from a crate
//! because the refusal must name the pointer (cedar's `JsonValueWithNoDuplicateKeys`
//! only says that a key repeats).
//!
//! A number written with a fraction or an exponent that is a whole number (`12.0`, `1e3`)
//! is read as that integer, as JSON Schema and RFC 8785 read it (`number`).

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Value};

/// Why a text is not strict JSON.
#[derive(Debug, thiserror::Error)]
pub enum StrictJsonError {
    /// Not JSON at all (or not the expected form), as serde_json says.
    #[error("{0}")]
    Syntax(serde_json::Error),
    /// An object has the same key twice; `pointer` names the second occurrence.
    #[error("the key {key:?} appears twice in one object, at {pointer}")]
    DuplicateKey {
        /// RFC 6901 pointer of the repeated member.
        pointer: String,
        /// The repeated key.
        key: String,
    },
}

/// Parses `bytes` as one JSON value, refusing duplicate keys anywhere in it.
pub fn parse(bytes: &[u8]) -> Result<Value, StrictJsonError> {
    let trail = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict { trail: &trail }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    match (value, trail.into_inner()) {
        (Err(_), Some(Trail { key, mut segments })) => {
            segments.reverse();
            let pointer = segments.iter().fold(String::new(), |mut p, s| {
                p.push('/');
                p.push_str(&escape(s));
                p
            });
            Err(StrictJsonError::DuplicateKey { pointer, key })
        }
        (Err(e), None) => Err(StrictJsonError::Syntax(e)),
        (Ok(v), _) => Ok(v),
    }
}

/// Parses `bytes` strictly, then into `T`.
pub fn from_slice<T: de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StrictJsonError> {
    serde_json::from_value(parse(bytes)?).map_err(StrictJsonError::Syntax)
}

/// A number read as a float: an integral one (`12.0`, `1e3`) as the integer it is, which
/// is how JSON Schema (its `integer` type) and RFC 8785 (its canonical form, which signatures
/// cover) read it; so a typed integer field takes it, and a payload's integer reads as one.
/// Anything else stays a float.
fn number(v: f64) -> Value {
    // 2^63 and 2^64, exactly representable as floats.
    const I64_END: f64 = 9_223_372_036_854_775_808.0;
    const U64_END: f64 = 18_446_744_073_709_551_616.0;
    if v.fract() == 0.0 {
        if (-I64_END..I64_END).contains(&v) {
            return Value::from(v as i64);
        }
        if (0.0..U64_END).contains(&v) {
            return Value::from(v as u64);
        }
    }
    // serde_json never yields a non-finite float; `Null` would be its own reading.
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// Escapes one reference token of a JSON pointer (RFC 6901: `~` as `~0`, `/` as `~1`).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The path to a duplicate, gathered innermost first as the error travels out, so the
/// happy path allocates nothing for it.
struct Trail {
    key: String,
    segments: Vec<String>,
}

#[derive(Clone, Copy)]
struct Strict<'t> {
    trail: &'t RefCell<Option<Trail>>,
}

impl Strict<'_> {
    /// On the way out of a failed child: add its key or index to the duplicate's path.
    fn mark(&self, segment: impl fmt::Display) {
        if let Some(t) = self.trail.borrow_mut().as_mut() {
            t.segments.push(segment.to_string());
        }
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(number(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        loop {
            match seq.next_element_seed(self) {
                Ok(Some(v)) => out.push(v),
                Ok(None) => return Ok(Value::Array(out)),
                Err(e) => {
                    self.mark(out.len());
                    return Err(e);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            // One lookup a key: the slot found free is the one the value goes in.
            let slot = match out.entry(key) {
                Entry::Vacant(slot) => slot,
                Entry::Occupied(taken) => {
                    let key = taken.key().clone();
                    *self.trail.borrow_mut() = Some(Trail {
                        segments: vec![key.clone()],
                        key,
                    });
                    return Err(de::Error::custom("duplicate key"));
                }
            };
            match map.next_value_seed(self) {
                Ok(v) => {
                    slot.insert(v);
                }
                Err(e) => {
                    self.mark(slot.key());
                    return Err(e);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn duplicate(text: &str) -> (String, String) {
        match parse(text.as_bytes()) {
            Err(StrictJsonError::DuplicateKey { pointer, key }) => (pointer, key),
            other => panic!("expected a duplicate key in {text}, got {other:?}"),
        }
    }

    #[test]
    fn a_document_without_duplicates_parses_as_serde_json_reads_it() {
        let text = r#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": {"d": []}}"#;
        assert_eq!(
            parse(text.as_bytes()).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[test]
    fn a_repeated_key_is_refused_with_the_pointer_of_its_second_occurrence() {
        assert_eq!(duplicate(r#"{"a": 1, "a": 2}"#), ("/a".into(), "a".into()));
        assert_eq!(
            duplicate(r#"{"payload": {"parties": [{"name": "x"}, {"name": "y", "name": "z"}]}}"#),
            ("/payload/parties/1/name".into(), "name".into())
        );
        assert_eq!(
            duplicate(r#"{"a/b": {"c~d": 1, "c~d": 2}}"#),
            ("/a~1b/c~0d".into(), "c~d".into())
        );
    }

    #[test]
    fn integral_numbers_written_with_a_fraction_or_exponent_read_as_integers() {
        let v = parse(br#"[12.0, -3.0, 1e3, -0.0, 1.8e19, 2.5, 1e300, 12]"#).unwrap();
        assert_eq!(
            v,
            json!([
                12,
                -3,
                1000,
                0,
                18_000_000_000_000_000_000u64,
                2.5,
                1e300,
                12
            ])
        );
        assert_eq!(v[0].as_u64(), Some(12));
        #[derive(serde::Deserialize)]
        struct Typed {
            n: u32,
        }
        let typed: Typed = from_slice(br#"{"n": 3004.0}"#).unwrap();
        assert_eq!(typed.n, 3004);
        assert!(from_slice::<Typed>(br#"{"n": 3004.5}"#).is_err());
    }

    #[test]
    fn the_same_key_in_different_objects_is_fine() {
        let v = parse(br#"[{"a": 1}, {"a": 2}, {"b": {"a": 3}}]"#).unwrap();
        assert_eq!(v, json!([{"a": 1}, {"a": 2}, {"b": {"a": 3}}]));
    }

    #[test]
    fn syntax_errors_and_trailing_text_are_not_duplicates() {
        assert!(matches!(
            parse(b"{\"a\": 1,}"),
            Err(StrictJsonError::Syntax(_))
        ));
        assert!(matches!(
            parse(b"{\"a\": 1} {\"a\": 1}"),
            Err(StrictJsonError::Syntax(_))
        ));
    }
}
